"""Questionnaire draft form: checks the scoring and alert rules as they are typed.

The rules are checked against the draft as it is saved (its current items, or its imported
definition), by the same functions publishing uses, so a designer hears about every problem
here, each named by score or alert and item, rather than at publish time.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from surveys.interop import library
from surveys.models import EnableCondition, Item, Questionnaire, Study, Timepoint
from surveys.models.schedule import CHANNELS, default_channels
from surveys.questionnaires import fhir, values
from surveys.scoring import alerts, compute, formats

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

    # Set by the admin from the request: the designer asked for the JSON box (?rules=json).
    rules_as_json = False

    class Meta:
        model = Questionnaire
        fields = ("study", *DRAFT_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rules_editor: RulesEditor | None = None
        if "rules" in self.fields and not self.fields["rules"].disabled:
            self._choose_rules_field()

    def _choose_rules_field(self) -> None:
        """The structured editor when it can write the rules back unchanged, else the JSON box.

        A posted form is read the way it was shown: a "rules" text is the JSON box."""
        if self.is_bound and "rules" in self.data:
            return
        if self.instance.pk is None:
            if not self.is_bound or "rules" not in self.data:
                self.fields["rules"] = StructuredRulesField(None, label=self.fields["rules"].label)
            return
        study = self.instance.study
        context = RulesContext.of(fhir.definition_from_draft(self.instance), list(study.languages))
        rules = self.instance.rules or {}
        if self.rules_as_json or not rules_fit_editor(rules, context):
            return
        self.rules_editor = RulesEditor(self.data if self.is_bound else None, rules=rules, context=context)
        self.fields["rules"] = StructuredRulesField(
            self.rules_editor,
            label=self.fields["rules"].label,
            help_text=_(
                "Scores add up the ticked items; bands name ranges of the final value; an alert fires when "
                "its test is met. The rules are saved in the format of docs/scoring.md."
            ),
        )

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


# --- scores, bands and alerts as forms (the same rule format as the JSON box) --------------------
#
# The editor reads a questionnaire's rules into formsets and writes them back in the format declared
# in surveys/scoring/formats.py. It takes only rules it can give back unchanged (`rules_fit_editor`):
# every other rule set (input scores, lookups, transforms, groups of tests, labels in other
# languages...) stays in the JSON box. Each form carries the rule it was read from (`original`), so
# keys given with their default value, the order of lists and the spelling of numbers (4 or 4.0)
# come back as they were.

SCORE_KEYS = frozenset({"name", "label", "items", "method", "reverse", "missing", "min_answered", "round", "bands"})
BAND_KEYS = frozenset({"code", "min", "max", "label"})
ALERT_KEYS = frozenset({"code", "label", "when", "safety_message"})
TEST_KEYS = frozenset({"answer", "score", "operator", "value"})
# What a new score row offers, so that filling its bands is enough for a first score.
DEFAULT_SCORE_NAME = "total"
DEFAULT_SCORE_LABEL = {"fr": "Score total", "en": "Total score"}
WHOLE = re.compile(r"^-?\d+$")


@dataclass(frozen=True)
class RulesContext:
    """What the rules are written against: the study's languages and the draft's items."""

    languages: tuple[str, ...]
    # (linkId, label, item type, option codes) of every question, in questionnaire order.
    items: tuple[tuple[str, str, str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, definition: dict, languages: list[str]) -> RulesContext:
        base = definition.get("language", languages[0] if languages else "fr")
        rows = []
        for node in fhir.iter_items(definition.get("item", [])):
            kind = fhir.item_type(node)
            if node.get("type") == "group" or kind == Item.Type.DISPLAY:
                continue
            text = fhir.localized(node, "text", base, base)
            rows.append((str(node.get("linkId")), text, kind, tuple(values.option_codes(node))))
        return cls(tuple(languages), tuple(rows))

    def item_choices(self, *, scorable: bool) -> list[tuple[str, str]]:
        return [
            (link, f"{link} — {text}"[:80] if text else link)
            for link, text, kind, _codes in self.items
            if not scorable or kind in values.SCORABLE_TYPES
        ]

    def item(self, link_id: str) -> tuple[str, str, str, tuple[str, ...]] | None:
        return next((row for row in self.items if row[0] == link_id), None)


def rule_number_text(value: Any) -> str:
    """A rule's number (a band bound, an alert threshold) as the designer reads it: 4, 4.5, -1e+20."""
    return "" if value is None else json.dumps(value)


def read_rule_number(text: str) -> int | float | None:
    """A rule's number as the designer typed it, as JSON keeps it: whole numbers as integers, others as finite
    decimals (patients' answers are read by values.read_number)."""
    text = text.strip().replace(",", ".")
    if WHOLE.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return rule_number_text(value)
    return "" if value is None else str(value)


def slug_code(text: str, taken: set[str]) -> str:
    """A code of letters, digits and _ made from a label, unique among `taken`."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", slugify(text)).strip("_")[:32] or "code"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}_{n}", n + 1
    return code


def _labels_fit(label: Any, languages: tuple[str, ...]) -> bool:
    return isinstance(label, dict) and all(
        isinstance(k, str) and k in languages and isinstance(v, str) for k, v in label.items()
    )


def _distinct_strings(value: Any, allowed: set[str]) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) and v in allowed for v in value)
        and len(set(value)) == len(value)
    )


def rules_fit_editor(rules: Any, context: RulesContext) -> bool:
    """Whether the editor can show these rules and write them back unchanged (else: the JSON box)."""
    if rules in (None, {}):
        return True
    if not isinstance(rules, dict) or set(rules) - {"scores", "alerts"}:
        return False
    if formats.refusals(formats.Rules, rules):
        return False
    scorable = {link for link, _label in context.item_choices(scorable=True)}
    questions = {row[0] for row in context.items}
    names = set()
    for score in rules.get("scores", []):
        if set(score) - SCORE_KEYS or ("label" in score and not _labels_fit(score["label"], context.languages)):
            return False
        if "items" not in score or not _distinct_strings(score["items"], scorable):
            return False
        if "reverse" in score and not _distinct_strings(score["reverse"], set(score["items"])):
            return False
        for band in score.get("bands") if "bands" in score else []:
            if "label" in band and not _labels_fit(band["label"], context.languages):
                return False
        if "bands" in score and score["bands"] is None:
            return False
        names.add(score["name"])
    for alert in rules.get("alerts", []):
        if set(alert) - ALERT_KEYS or not _labels_fit(alert["label"], context.languages):
            return False
        test = alert["when"]
        if not isinstance(test, dict) or set(test) - TEST_KEYS or "operator" not in test:
            return False
        if "answer" in test and (not isinstance(test["answer"], str) or test["answer"] not in questions):
            return False
        if "score" in test and (not isinstance(test["score"], str) or test["score"] not in names):
            return False
        if "value" in test and not isinstance(test["value"], bool | int | float | str):
            return False
    return True


def _deleted(form: forms.Form) -> bool:
    """Whether a formset row was ticked for deletion."""
    return bool(getattr(form, "cleaned_data", {}).get("DELETE"))


class OriginalField(forms.CharField):
    """The rule a row was read from (JSON), kept in the page so it is written back as it was."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, **kwargs)

    def clean(self, value: Any) -> dict:
        try:
            parsed = json.loads(value or "{}")
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}


def _label_fields(form: forms.Form, languages: tuple[str, ...], what: str) -> None:
    for lang in languages:
        # Not stripped: a label read from the rules is written back exactly as it was.
        form.fields[f"label_{lang}"] = forms.CharField(
            label=_("label (%(lang)s)") % {"lang": lang}, required=False, max_length=300, strip=False
        )
        form.fields[f"label_{lang}"].widget.attrs["size"] = 18


def _label_initial(rule: dict, languages: tuple[str, ...]) -> dict[str, str]:
    label: dict = rule["label"] if isinstance(rule.get("label"), dict) else {}
    return {f"label_{lang}": label.get(lang, "") for lang in languages}


def _label_out(cleaned: dict, original: dict, languages: tuple[str, ...]) -> dict[str, str] | None:
    before: dict = original["label"] if isinstance(original.get("label"), dict) else {}
    label = {
        lang: cleaned.get(f"label_{lang}", "") for lang in languages if cleaned.get(f"label_{lang}") or lang in before
    }
    return label if label or "label" in original else None


def _ordered(chosen: list[str], before: Any, choices: list[str]) -> list[str]:
    """Chosen values in their earlier order, new ones after in the order offered."""
    before = before if isinstance(before, list) else []

    def rank(value: str) -> tuple[int, int]:
        return (
            (before.index(value), 0)
            if value in before
            else (len(before), choices.index(value) if value in choices else 0)
        )

    return sorted(chosen, key=rank)


class NumberText(forms.CharField):
    """A number typed as text; the form keeps the original spelling when it is unchanged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=40, **kwargs)
        self.widget.attrs.update({"size": 6, "inputmode": "decimal"})

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if text and read_rule_number(text) is None:
            raise ValidationError(_("Enter a number, e.g. 4 or 4.5."), code="number")
        return text


def _number_out(text: str, original: dict, key: str) -> int | float | None:
    if key in original and rule_number_text(original[key]) == text.strip():
        return original[key]
    return read_rule_number(text)


class LabelledRowsFormSet(forms.BaseFormSet):
    """A formset shown as a table, its labels in the column headers: each field of each row (the formset's
    own, such as delete, included) also names itself (aria-label), so a screen reader says what a cell is
    (WCAG 1.3.1, 4.1.2). add_fields runs once per row, after the row's own fields are made."""

    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)
        for field in form.fields.values():
            if field.label and "aria-label" not in field.widget.attrs:
                field.widget.attrs["aria-label"] = str(field.label)


class BandForm(forms.Form):
    code = forms.CharField(label=_("code"), required=False, max_length=40)
    min = NumberText(label=_("from"), required=False)
    max = NumberText(label=_("to"), required=False)
    original = OriginalField()

    def __init__(self, *args: Any, languages: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.languages = languages
        self.fields["code"].widget.attrs["size"] = 10
        self.fields["code"].help_text = _("blank: made from the label")
        _label_fields(self, languages, "band")

    @classmethod
    def initial_of(cls, band: dict, languages: tuple[str, ...]) -> dict:
        return {
            "code": band.get("code", ""),
            "min": rule_number_text(band.get("min")),
            "max": rule_number_text(band.get("max")),
            "original": json.dumps(band),
            **_label_initial(band, languages),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for bound in ("min", "max"):
            if bound not in self.errors and not cleaned.get(bound):
                self.add_error(bound, _("Give the band's bounds (inclusive)."))
        if not cleaned.get("code") and not any(cleaned.get(f"label_{lang}") for lang in self.languages):
            self.add_error("code", _("Give the band a code or a label."))
        return cleaned

    def band(self, taken: set[str]) -> dict:
        cleaned, original = self.cleaned_data, self.cleaned_data["original"]
        label = _label_out(cleaned, original, self.languages)
        code = cleaned["code"] or slug_code(next((v for v in (label or {}).values() if v), "band"), taken)
        band: dict[str, Any] = {"code": code, "min": _number_out(cleaned["min"], original, "min")}
        band["max"] = _number_out(cleaned["max"], original, "max")
        if label is not None:
            band["label"] = label
        return band


class BandFormSet(LabelledRowsFormSet):
    def __init__(self, *args: Any, languages: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.languages = languages
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict:
        return {"languages": self.languages}

    def bands(self) -> list[dict]:
        taken: set[str] = {f.cleaned_data.get("code") for f in self.kept() if f.cleaned_data.get("code")}
        out = []
        for form in self.kept():
            band = form.band(taken)
            taken.add(band["code"])
            out.append(band)
        return out

    def kept(self) -> list[Any]:
        return [f for f in self.forms if (f.has_changed() or f in self.initial_forms) and not _deleted(f)]


BANDS = cast(type[BandFormSet], forms.formset_factory(BandForm, formset=BandFormSet, extra=0, can_delete=True))


class ScoreForm(forms.Form):
    name = forms.CharField(label=_("name"), required=False, max_length=34)
    method = forms.ChoiceField(label=_("method"), choices=(("sum", _("sum")), ("mean", _("mean"))), initial="sum")
    items = forms.MultipleChoiceField(label=_("items"), required=False, widget=forms.CheckboxSelectMultiple)
    reverse = forms.MultipleChoiceField(
        label=_("scored in reverse"), required=False, widget=forms.CheckboxSelectMultiple
    )
    min_answered = forms.IntegerField(
        label=_("minimum answered"), required=False, min_value=1, help_text=_("blank: all of its items")
    )
    missing = forms.ChoiceField(
        label=_("when some are missing"),
        choices=(("none", _("no score")), ("prorate", _("prorate"))),
        initial="none",
    )
    round = forms.IntegerField(
        label=_("decimal places"),
        required=False,
        min_value=0,
        max_value=formats.MAX_ROUND,
        help_text=_("blank: not rounded"),
    )
    original = OriginalField()

    def __init__(self, *args: Any, context: RulesContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context
        choices = context.item_choices(scorable=True)
        cast(forms.ChoiceField, self.fields["items"]).choices = choices
        cast(forms.ChoiceField, self.fields["reverse"]).choices = choices
        self.fields["name"].widget.attrs["size"] = 14
        self.fields["min_answered"].widget.attrs["class"] = "rules-small"
        self.fields["round"].widget.attrs["class"] = "rules-small"
        _label_fields(self, context.languages, "score")
        original = self.initial.get("original")
        bands = json.loads(original).get("bands", []) if original else []
        self.bands = BANDS(
            self.data if self.is_bound else None,
            prefix=f"{self.prefix}-bands",
            initial=[BandForm.initial_of(b, context.languages) for b in bands or []],
            languages=context.languages,
            form_kwargs=None,
        )
        self.bands.extra = 2 if not bands else 1

    @classmethod
    def initial_of(cls, score: dict, languages: tuple[str, ...]) -> dict:
        return {
            "name": score.get("name", ""),
            "method": score.get("method", "sum"),
            "items": list(score.get("items") or []),
            "reverse": list(score.get("reverse") or []),
            "min_answered": score.get("min_answered"),
            "missing": score.get("missing", "none"),
            "round": score.get("round"),
            "original": json.dumps(score),
            **_label_initial(score, languages),
        }

    def has_changed(self) -> bool:
        return super().has_changed() or self.bands.has_changed()

    def full_clean(self) -> None:
        super().full_clean()
        if self.is_bound and (self.has_changed() or not self.empty_permitted) and not self.bands.is_valid():
            self.add_error(None, _("Some bands need correcting."))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("name"):
            self.add_error("name", _("Give the score a name."))
        if not cleaned.get("items"):
            self.add_error("items", _("Tick the items this score adds up."))
        return cleaned

    def rule(self) -> dict:
        cleaned, original = self.cleaned_data, self.cleaned_data["original"]
        offered = [link for link, _label in self.context.item_choices(scorable=True)]
        rule: dict[str, Any] = {"name": cleaned["name"]}
        label = _label_out(cleaned, original, self.context.languages)
        if label is not None:
            rule["label"] = label
        rule["items"] = _ordered(cleaned["items"], original.get("items"), offered)
        rule["method"] = cleaned["method"]
        if cleaned["reverse"] or "reverse" in original:
            rule["reverse"] = _ordered(cleaned["reverse"], original.get("reverse"), offered)
        if cleaned["missing"] != "none" or "missing" in original:
            rule["missing"] = cleaned["missing"]
        for key in ("min_answered", "round"):
            if cleaned[key] is not None:
                rule[key] = cleaned[key]
        bands = self.bands.bands()
        if bands or "bands" in original:
            rule["bands"] = bands
        # The format's own field order, so the rule reads as docs/scoring.md shows it.
        return {key: rule[key] for key in formats.ScoreRule.model_fields if key in rule}


class ScoreFormSet(forms.BaseFormSet):
    def __init__(self, *args: Any, context: RulesContext, **kwargs: Any) -> None:
        self.context = context
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict:
        kwargs: dict[str, Any] = {"context": self.context}
        if index == 0 and not self.initial_form_count():
            # The first score of a questionnaire: a name and label offered, so its bands are enough.
            labels = {f"label_{lang}": DEFAULT_SCORE_LABEL.get(lang, "") for lang in self.context.languages}
            kwargs["initial"] = {"name": DEFAULT_SCORE_NAME, **labels}
        return kwargs

    def kept(self) -> list[Any]:
        return [f for f in self.forms if (f.has_changed() or f in self.initial_forms) and not _deleted(f)]


SCORES = cast(type[ScoreFormSet], forms.formset_factory(ScoreForm, formset=ScoreFormSet, extra=1, can_delete=True))


class AlertForm(forms.Form):
    code = forms.CharField(label=_("code"), required=False, max_length=40, help_text=_("blank: made from the label"))
    target = forms.ChoiceField(label=_("when"))
    operator = forms.ChoiceField(label=_("is"), choices=[(op, op) for op in values.OPERATORS], initial=">=")
    value = forms.CharField(label=_("value"), required=False, max_length=100, strip=False)
    safety_message = forms.BooleanField(label=_("show the safety message"), required=False)
    original = OriginalField()

    def __init__(self, *args: Any, context: RulesContext, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context
        cast(forms.ChoiceField, self.fields["target"]).choices = targets
        if targets and not self.initial.get("target"):
            self.fields["target"].initial = targets[0][0]
        self.fields["code"].widget.attrs["size"] = 12
        self.fields["value"].widget.attrs["size"] = 8
        _label_fields(self, context.languages, "alert")

    @classmethod
    def initial_of(cls, alert: dict, languages: tuple[str, ...]) -> dict:
        test = alert.get("when", {})
        target = f"score:{test['score']}" if "score" in test else f"answer:{test.get('answer', '')}"
        return {
            "code": alert.get("code", ""),
            "target": target,
            "operator": test.get("operator", "="),
            "value": value_text(test.get("value")),
            "safety_message": bool(alert.get("safety_message", False)),
            "original": json.dumps(alert),
            **_label_initial(alert, languages),
        }

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if not cleaned.get("code") and not any(cleaned.get(f"label_{lang}") for lang in self.context.languages):
            self.add_error("code", _("Give the alert a code or a label."))
        if cleaned.get("operator") not in (None, "exists") and not (cleaned.get("value") or "").strip():
            self.add_error("value", _("Give the value it is compared with."))
        return cleaned

    def _value(self, source: str, name: str, operator: str, text: str, before: dict) -> Any:
        if "value" in before and value_text(before["value"]) == text:
            return before["value"]
        text = text.strip()
        if operator == "exists":
            return values.to_bool(text) if values.to_bool(text) is not None else text
        row = self.context.item(name) if source == "answer" else None
        kind = row[2] if row else ""
        if kind == Item.Type.YES_NO and values.to_bool(text) is not None:
            return values.to_bool(text)
        if row and kind in values.CHOICE_TYPES and operator in ("=", "!=") and text in row[3]:
            return text
        if source == "score" or kind in values.NUMBER_TYPES or kind in values.CHOICE_TYPES:
            number = read_rule_number(text)
            return text if number is None else number
        return text

    def rule(self, taken: set[str]) -> dict:
        cleaned, original = self.cleaned_data, self.cleaned_data["original"]
        label = _label_out(cleaned, original, self.context.languages) or {}
        code = cleaned["code"] or slug_code(next((v for v in label.values() if v), "alert"), taken)
        source, _sep, name = cleaned["target"].partition(":")
        before = original.get("when") if isinstance(original.get("when"), dict) else {}
        test: dict[str, Any] = {source: name, "operator": cleaned["operator"]}
        if cleaned["value"] or "value" in before:
            test["value"] = self._value(source, name, cleaned["operator"], cleaned["value"], before)
        rule: dict[str, Any] = {"code": code, "label": label, "when": test}
        if cleaned["safety_message"] or "safety_message" in original:
            rule["safety_message"] = cleaned["safety_message"]
        return rule


class AlertFormSet(LabelledRowsFormSet):
    def __init__(self, *args: Any, context: RulesContext, targets: list[tuple[str, str]], **kwargs: Any) -> None:
        self.context, self.targets = context, targets
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict:
        return {"context": self.context, "targets": self.targets}

    def kept(self) -> list[Any]:
        return [f for f in self.forms if (f.has_changed() or f in self.initial_forms) and not _deleted(f)]


ALERTS = cast(type[AlertFormSet], forms.formset_factory(AlertForm, formset=AlertFormSet, extra=1, can_delete=True))


class RulesEditor:
    """Scores (with their bands) and alerts as formsets, read from and written to the rule format."""

    prefix = "rules"

    def __init__(self, data: Any, *, rules: dict, context: RulesContext) -> None:
        self.context = context
        self.rules = rules or {}
        bound = data if data is not None and f"{self.prefix}-scores-TOTAL_FORMS" in data else None
        self.is_bound = bound is not None
        scores = self.rules.get("scores", [])
        self.scores = SCORES(
            bound,
            prefix=f"{self.prefix}-scores",
            initial=[ScoreForm.initial_of(s, context.languages) for s in scores],
            context=context,
        )
        names = [s.get("name") for s in scores] or [DEFAULT_SCORE_NAME]
        if bound is not None:
            total = bound.get(f"{self.prefix}-scores-TOTAL_FORMS", "0")
            for i in range(int(total) if str(total).isdigit() else 0):
                names.append(bound.get(f"{self.prefix}-scores-{i}-name", ""))
        targets = [(f"score:{n}", _("score %(name)s") % {"name": n}) for n in dict.fromkeys(n for n in names if n)]
        targets += [
            (f"answer:{link}", _("answer to %(item)s") % {"item": label})
            for link, label in context.item_choices(scorable=False)
        ]
        self.alerts = ALERTS(
            bound,
            prefix=f"{self.prefix}-alerts",
            initial=[AlertForm.initial_of(a, context.languages) for a in self.rules.get("alerts", [])],
            context=context,
            targets=targets,
        )

    def is_valid(self) -> bool:
        return self.scores.is_valid() & self.alerts.is_valid()

    def cleaned_rules(self) -> dict:
        """The rules as the format keeps them; {} when there are none."""
        scores = [form.rule() for form in self.scores.kept()]
        taken = {f.cleaned_data.get("code") for f in self.alerts.kept() if f.cleaned_data.get("code")}
        alerts = []
        for form in self.alerts.kept():
            rule = form.rule(taken)
            taken.add(rule["code"])
            alerts.append(rule)
        rules: dict[str, Any] = {}
        if scores or "scores" in self.rules:
            rules["scores"] = scores
        if alerts or "alerts" in self.rules:
            rules["alerts"] = alerts
        return rules

    def render(self) -> str:
        return render_to_string("admin/surveys/questionnaire/rules_editor.html", {"editor": self})


class RulesEditorWidget(forms.Widget):
    """Renders the editor in the place of the JSON box; its value is the editor itself."""

    def __init__(self, editor: RulesEditor | None, note: Any = "") -> None:
        super().__init__()
        self.editor, self.note = editor, note

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        if self.editor is None:
            return format_html('<p class="help">{}</p>', self.note)
        return mark_safe(self.editor.render())  # noqa: S308 (a template rendering with autoescape)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        return self.editor

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return False


class StructuredRulesField(forms.Field):
    """The "scores and alerts" field when the editor shows them: cleans to the rule format."""

    def __init__(self, editor: RulesEditor | None, **kwargs: Any) -> None:
        note = _("Save the questionnaire with its items first: scores and alerts are then chosen among them.")
        super().__init__(required=False, widget=RulesEditorWidget(editor, note), **kwargs)
        self.editor = editor

    def clean(self, value: Any) -> dict:
        if self.editor is None:
            return {}
        if not self.editor.is_bound:
            return self.editor.rules
        if not self.editor.is_valid():
            raise ValidationError(_("Some scores or alerts need correcting (below)."), code="rules_form")
        return self.editor.cleaned_rules()

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.clean(data) != (initial or {})
        except ValidationError:
            return True


# --- display conditions chosen among the controlling item's answers ------------------------------


@dataclass(frozen=True)
class Question:
    """An item as conditions see it: its type, text and the answers it offers (code, label)."""

    link_id: str
    kind: str
    text: str
    answers: tuple[tuple[str, str], ...]


def questions_of(definition: dict) -> dict[str, Question]:
    """Every question of a definition by linkId, in order, with its offered answers in its base language."""
    base = definition.get("language", "fr")
    found: dict[str, Question] = {}
    for node in fhir.iter_items(definition.get("item", [])):
        kind = fhir.item_type(node)
        if node.get("type") == "group":
            continue
        if kind == Item.Type.YES_NO:
            answers: tuple[tuple[str, str], ...] = ((values.YES, str(_("Yes"))), (values.NO, str(_("No"))))
        else:
            answers = tuple(
                (
                    fhir.option_code(o),
                    fhir.localized(o.get("valueCoding", {}), "display", base, base) or fhir.option_code(o),
                )
                for o in node.get("answerOption", [])
                if kind in values.CHOICE_TYPES
            )
        found[str(node.get("linkId"))] = Question(
            str(node.get("linkId")), kind, fhir.localized(node, "text", base, base), answers
        )
    return found


def answer_choices(questions: dict[str, Question], *, exclude: str = "") -> list[tuple[str, str]]:
    """("linkId=code", "linkId — label") of every answer offered by the items before `exclude` (all of
    them for a new item), for a select: a condition tests an earlier item (publish refuses the others)."""
    choices = []
    for q in questions.values():
        if q.link_id == exclude:
            break
        choices += [(f"{q.link_id}={code}", f"{q.link_id} — {label}") for code, label in q.answers]
    return choices


def condition_answer_problem(question: Question | None, link_id: str, operator: str, answer: str) -> str | None:
    """Why a typed answer cannot be compared with the controlling item, naming it; None when it can."""
    if question is None:
        return str(_("There is no item %(item)s in this questionnaire.") % {"item": link_id})
    answer = answer.strip()
    name = question.link_id
    if operator == "exists":
        if answer and values.to_bool(answer) is None:
            return str(_("With 'is answered', answer true (answered) or false (not answered)."))
        return None
    if question.kind == Item.Type.DISPLAY:
        return str(_("%(item)s is a display text: it has no answer to test.") % {"item": name})
    if not answer:
        return str(_("Give the answer of %(item)s that shows this item.") % {"item": name})
    if question.kind in values.CHOICE_TYPES:
        if answer not in [code for code, _label in question.answers]:
            offered = ", ".join(f"{code} ({label})" for code, label in question.answers) or "—"
            return str(
                _("%(item)s is a choice: its answers are %(offered)s, not %(answer)s.")
                % {"item": name, "offered": offered, "answer": answer}
            )
        if operator not in ("=", "!="):
            return str(_("An option of %(item)s is compared with = or ≠ only.") % {"item": name})
    elif question.kind == Item.Type.YES_NO:
        if values.to_bool(answer) is None:
            return str(_("%(item)s is a yes/no question: answer yes or no.") % {"item": name})
    elif question.kind in values.NUMBER_TYPES:
        if values.read_number(answer) is None:
            return str(_("%(item)s takes a number: answer with a number, e.g. 3.") % {"item": name})
    elif question.kind == Item.Type.DATE:
        if values.read_date(answer) is None:
            return str(_("%(item)s takes a date: answer as YYYY-MM-DD.") % {"item": name})
    elif question.kind == Item.Type.TIME:
        if values.read_time(answer) is None:
            return str(_("%(item)s takes a time of day: answer as HH:MM.") % {"item": name})
    elif operator not in ("=", "!="):
        return str(_("%(item)s takes a text: compare it with = or ≠ only.") % {"item": name})
    return None


class ConditionForm(forms.ModelForm):
    """A display condition: an answer of another item chosen from a list, or typed and checked."""

    option = forms.ChoiceField(label=_("when the answer is"), required=False)
    # Set per request by the admin: the questions of the item's questionnaire, and the item's own code.
    questions: dict[str, Question] = {}
    own_link_id = ""

    class Meta:
        model = EnableCondition
        fields = ("option", "question", "operator", "answer")
        labels = {"answer": _("or the answer typed")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = answer_choices(self.questions, exclude=self.own_link_id)
        cast(forms.ChoiceField, self.fields["option"]).choices = [("", "—"), *offered]
        others = [q for q in self.questions.values() if q.link_id != self.own_link_id]
        self.fields["question"] = forms.ChoiceField(
            label=_("or the item"),
            required=False,
            choices=[("", "—")] + [(q.link_id, f"{q.link_id} — {q.text}"[:70]) for q in others],
        )
        self.fields["question"].help_text = ""
        self.fields["answer"].help_text = ""
        if self.instance.pk:
            chosen = f"{self.instance.question}={self.instance.answer}"
            if self.instance.operator in ("=", "!=") and chosen in {value for value, _label in offered}:
                self.initial["option"] = chosen

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        option = cleaned.get("option")
        operator = cleaned.get("operator") or "="
        typed = {"question", "answer"} & set(self.changed_data)
        if option and "option" in self.changed_data and typed and cleaned.get("question") != option.partition("=")[0]:
            self.add_error("option", _("Choose an answer from the list or type one, not both."))
            return cleaned
        # A choice left as it was gives way to an answer typed since.
        if option and ("option" in self.changed_data or not typed):
            link_id, _sep, code = option.partition("=")
            if operator not in ("=", "!="):
                self.add_error("operator", _("An option is compared with = or ≠ only."))
                return cleaned
            cleaned["question"], cleaned["answer"] = link_id, code
            self.instance.question, self.instance.answer = link_id, code
            return cleaned
        link_id = cleaned.get("question") or ""
        if not link_id:
            self.add_error("option", _("Choose the answer that shows this item."))
            return cleaned
        problem = condition_answer_problem(self.questions.get(link_id), link_id, operator, cleaned.get("answer") or "")
        if problem:
            self.add_error("answer", problem)
        return cleaned


# --- timepoint messages: channels and reminders as fields ----------------------------------------


class RemindersField(forms.Field):
    """Reminders after opening as a list typed "2, 5", stored as the model's JSON list [2, 5]."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, str) and value.startswith("["):
            try:
                return ", ".join(str(v) for v in json.loads(value))
            except (json.JSONDecodeError, TypeError):
                return value
        return value

    widget = forms.TextInput

    def to_python(self, value: Any) -> list[int]:
        if isinstance(value, list):
            return value
        text = (value or "").strip().strip("[]")
        parts = [p for p in re.split(r"[\s,;]+", text) if p]
        if not all(p.isdigit() for p in parts):
            raise ValidationError(_("Give whole numbers separated by commas, e.g. 2, 5."), code="reminders")
        return [int(p) for p in parts]


class TimepointForm(forms.ModelForm):
    reminders = RemindersField(
        label=_("reminders after opening"),
        required=False,
        help_text=_("After how many units (days or hours, as above) to remind, up to 5, e.g. 2, 5. Blank: none."),
    )
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=(("sms", _("SMS")), ("email", _("e-mail"))),
        widget=forms.CheckboxSelectMultiple,
        initial=default_channels,
        error_messages={"required": _("Tick at least one channel.")},
    )

    class Meta:
        model = Timepoint
        fields = (
            "study",
            "code",
            "label",
            "order",
            "version",
            "anchor",
            "anchor_item",
            "unit",
            "offset",
            "window",
            "repeat_every",
            "repeat_count",
            "trigger_item",
            "trigger_operator",
            "trigger_value",
            "reminders",
            "send_time",
            "channels",
        )

    def clean_channels(self) -> list[str]:
        chosen = self.cleaned_data["channels"]
        # Written in the order stored before, so an unchanged choice stores the same JSON.
        before = [c for c in (self.initial.get("channels") or []) if c in chosen]
        return before + [c for c in CHANNELS if c in chosen and c not in before]
