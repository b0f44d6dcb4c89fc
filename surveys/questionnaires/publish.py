"""Publishing a draft questionnaire into a frozen version, and copying a version back into a draft."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from surveys.interop import library
from surveys.models import (
    AnswerOption,
    EnableCondition,
    Item,
    Questionnaire,
    QuestionnaireVersion,
    Section,
)
from surveys.questionnaires import fhir, values
from surveys.questionnaires.validation import Problem, definition_problems
from surveys.review import rounds
from surveys.scoring import alerts, compute


class PublishError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


@transaction.atomic
def questionnaire_publish(
    *, questionnaire: Questionnaire, by: AbstractBaseUser | None, override_reason: str = ""
) -> QuestionnaireVersion:
    """Validate the draft and freeze it into a new version (or return the latest if identical).

    Raises PublishError listing every problem; nothing is written then. When the study requires review
    sign-off, a closed round must have approved this very content; `override_reason` (by a user with
    surveys.override_publish) publishes without it and is recorded as a PublishOverride.
    """
    # Lock the questionnaire so two simultaneous publishes cannot both decide
    # they are new and take the same number.
    questionnaire = Questionnaire.objects.select_for_update().select_related("study").get(pk=questionnaire.pk)
    definition = fhir.definition_from_draft(questionnaire)
    problems = content_problems(definition, languages=list(questionnaire.study.languages))
    if problems:
        raise PublishError(problems)
    digest = fhir.content_hash(definition)
    latest = questionnaire.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == digest:
        return latest
    approved_round, override, problems = rounds.signoff_of(
        questionnaire=questionnaire, content_hash=digest, by=by, override_reason=override_reason
    )
    if problems:
        raise PublishError(problems)
    number = (latest.number + 1) if latest else 1
    definition["version"] = str(number)
    return QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=number,
        definition=definition,
        content_hash=digest,
        published_by=by,
        approved_round=approved_round,
        override=override,
    )


def content_problems(definition: dict, *, languages: list[str]) -> list[Problem]:
    """What stops this content from being published in `languages`: the definition, its scores, its
    alerts, its licence (the publish confirmation lists them before anyone confirms)."""
    return (
        definition_problems(definition, languages=languages)
        + compute.scoring_problems(definition, languages=languages)
        + alerts.alert_problems(definition, languages=languages)
        + library.licence_problems(definition)
    )


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _condition_answer_text(cond: dict) -> str:
    for key, value in cond.items():
        if key.startswith("answer"):
            if isinstance(value, dict):
                return str(value.get("code", ""))
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)
    return ""


@transaction.atomic
def questionnaire_draft_from_version(*, version: QuestionnaireVersion, by: AbstractBaseUser | None) -> Questionnaire:
    """Replace the questionnaire's draft rows with the content of a published version.

    Codes come back unchanged, so a version published from this draft keeps
    every export column where it was.
    """
    questionnaire = Questionnaire.objects.select_for_update().select_related("study").get(pk=version.questionnaire_id)
    languages = [code for code, _name in settings.LANGUAGES]
    definition = version.definition
    base = definition.get("language", questionnaire.study.fallback_language)

    def texts(node: dict, key: str, prefix: str) -> dict[str, str]:
        return {f"{prefix}_{lang}": fhir.text_in(node, key, lang, base) for lang in languages}

    for field, value in texts(definition, "title", "title").items():
        setattr(questionnaire, field, value)
    questionnaire.one_item_per_page = bool(fhir.ext_value(definition, fhir.EXT_ONE_PER_PAGE, False))
    questionnaire.kind = fhir.ext_value(definition, fhir.EXT_KIND, questionnaire.kind)
    questionnaire.save()
    # Rows are replaced, not diffed: the version is the whole truth, and
    # codes are re-created identical, so nothing downstream shifts.
    questionnaire.items.all().delete()
    questionnaire.sections.all().delete()

    order = 0

    def add_item(node: dict, section: Section | None) -> None:
        nonlocal order
        order += 1
        kind = fhir.item_type(node)
        low, high = fhir.ext_value(node, fhir.EXT_MIN), fhir.ext_value(node, fhir.EXT_MAX)
        help_node = next((c for c in node.get("item", []) if fhir.item_control(c) == "help"), None)
        help_texts = texts(help_node, "text", "help") if help_node else {}
        item = Item.objects.create(
            questionnaire=questionnaire,
            section=section,
            order=order,
            link_id=node["linkId"],
            type=kind,
            required=bool(node.get("required")),
            min_value=_decimal(low),
            max_value=_decimal(high),
            max_length=node.get("maxLength"),
            enable_behavior=node.get("enableBehavior", "all"),
            **texts(node, "text", "text"),
            **help_texts,
        )
        for i, option in enumerate(node.get("answerOption", [])):
            coding = option.get("valueCoding", {})
            AnswerOption.objects.create(
                item=item,
                order=i,
                code=fhir.option_code(option),
                score=values.option_score(option),
                **texts(coding, "display", "label"),
            )
        for cond in node.get("enableWhen", []):
            EnableCondition.objects.create(
                item=item, question=cond["question"], operator=cond["operator"], answer=_condition_answer_text(cond)
            )

    for section_order, node in enumerate(definition.get("item", []), start=1):
        if node.get("type") == "group":
            section = Section.objects.create(
                questionnaire=questionnaire, order=section_order, link_id=node["linkId"], **texts(node, "text", "title")
            )
            for child in node.get("item", []):
                add_item(child, section)
        else:
            add_item(node, None)
    return questionnaire
