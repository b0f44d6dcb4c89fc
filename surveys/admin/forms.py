"""Questionnaire draft form: checks the scoring and alert rules as they are typed.

The rules are checked against the draft as it is saved (its current items, or its imported
definition), by the same functions publishing uses, so a designer hears about every problem
here, each named by score or alert and item, rather than at publish time.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from surveys.interop import library
from surveys.models import Questionnaire, Study
from surveys.questionnaires import fhir
from surveys.scoring import alerts, compute

# Draft fields written into the definition that the rules are checked against, in the form's order.
DRAFT_FIELDS = (
    "code",
    "kind",
    "title_fr",
    "title_en",
    "intro_fr",
    "intro_en",
    "one_item_per_page",
    "rules",
    "safety_message_fr",
    "safety_message_en",
    "instrument",
    "licence_reference",
)
DRAFT_VALUES = frozenset(DRAFT_FIELDS)


class RulesField(forms.JSONField):
    """JSON field whose parse error says where the text went wrong (line and column)."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or isinstance(value, list | dict | int | float):
            return super().to_python(value)
        try:
            json.loads(value, cls=self.decoder)
        except json.JSONDecodeError as error:
            raise ValidationError(
                _("The rules are not valid JSON: %(error)s at line %(line)s, column %(column)s."),
                code="invalid",
                params={"error": error.msg, "line": error.lineno, "column": error.colno},
            ) from error
        return super().to_python(value)


def definition_with_values(*, questionnaire: Questionnaire, study: Study, values: dict[str, Any]) -> dict:
    """The definition the draft would publish once these form values are saved (rules, safety message...).

    Built on an unsaved copy, so the checks see what the designer typed and the database is untouched.
    """
    draft = copy.copy(questionnaire)
    for name, value in values.items():
        setattr(draft, name, value)
    draft.study = study
    if draft.pk is None and not draft.source_definition:
        # A new draft has no items yet: every item a rule names is unknown.
        draft.source_definition = {"resourceType": "Questionnaire", "item": []}
    return fhir.definition_from_draft(draft)


class QuestionnaireForm(forms.ModelForm):
    rules = RulesField(
        label=_("scores and alerts"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 90, "spellcheck": "false", "style": "font-family: monospace"}),
        help_text=_(
            "Scoring and alert rules (JSON), checked against the draft's items as saved: save new items "
            "before naming them in a rule. See docs/scoring.md for the format."
        ),
    )

    class Meta:
        model = Questionnaire
        fields = ("study", *DRAFT_FIELDS)

    def clean_rules(self) -> Any:
        rules = self.cleaned_data.get("rules")
        # Empty means "no rules" (the model stores {}), never SQL NULL.
        return {} if rules in (None, "", [], {}) else rules

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "rules" in self.errors or "rules" not in cleaned:
            return cleaned
        # The study is read-only once the draft exists; a new draft takes it from the form.
        study = cleaned.get("study") if not self.instance.pk else self.instance.study
        if study is None:
            return cleaned
        languages = list(study.languages)
        values = {name: value for name, value in cleaned.items() if name in DRAFT_VALUES}
        definition = definition_with_values(questionnaire=self.instance, study=study, values=values)
        problems = compute.scoring_problems(definition, languages=languages)
        problems += alerts.alert_problems(definition, languages=languages)
        if problems:
            self.add_error("rules", [ValidationError(str(problem), code="rules") for problem in problems])
        # Said now rather than at publish: a licensed instrument needs its licence reference.
        for problem in library.licence_problems(definition):
            field = "licence_reference" if "licence_reference" in self.fields else None
            self.add_error(field, ValidationError(str(problem), code="licence"))
        return cleaned
