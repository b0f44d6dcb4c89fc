"""Writes of the research domain. Views, admin actions and tasks call these."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone

from . import alerts, fhir, library, review_rounds, scoring, signals
from .models import (
    AnswerOption,
    Assignment,
    EnableCondition,
    Item,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    Section,
)
from .questionnaires import conditions, values
from .validation import Problem, definition_problems

__all__ = [
    "Problem",
    "PublishError",
    "ResponseChanged",
    "ResponseClosed",
    "ResponseIncomplete",
    "assignment_link_revoke",
    "assignment_link_token",
    "questionnaire_draft_from_version",
    "questionnaire_publish",
    "response_answers_digest",
    "response_missing",
    "response_save_page",
    "response_submit",
    "token_hash",
]


class PublishError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


@transaction.atomic
def questionnaire_publish(*, questionnaire: Questionnaire, by: AbstractBaseUser | None,
                          override_reason: str = "") -> QuestionnaireVersion:
    """Validate the draft and freeze it into a new version (or return the latest if identical).

    Raises PublishError listing every problem; nothing is written then. When the study requires review
    sign-off, a closed round must have approved this very content; `override_reason` (by a user with
    surveys.override_publish) publishes without it and is recorded as a PublishOverride.
    """
    # Lock the questionnaire so two simultaneous publishes cannot both decide
    # they are new and take the same number.
    questionnaire = Questionnaire.objects.select_for_update().select_related("study").get(pk=questionnaire.pk)
    definition = fhir.definition_from_draft(questionnaire)
    languages = list(questionnaire.study.languages)
    problems = (
        definition_problems(definition, languages=languages)
        + scoring.scoring_problems(definition, languages=languages)
        + alerts.alert_problems(definition, languages=languages)
        + library.licence_problems(definition)
    )
    if problems:
        raise PublishError(problems)
    digest = fhir.content_hash(definition)
    latest = questionnaire.versions.order_by("-number").first()
    if latest is not None and latest.content_hash == digest:
        return latest
    approved_round, override, problems = review_rounds.signoff_of(
        questionnaire=questionnaire, content_hash=digest, by=by, override_reason=override_reason
    )
    if problems:
        raise PublishError(problems)
    number = (latest.number + 1) if latest else 1
    definition["version"] = str(number)
    return QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=number, definition=definition, content_hash=digest, published_by=by,
        approved_round=approved_round, override=override,
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
            questionnaire=questionnaire, section=section, order=order, link_id=node["linkId"], type=kind,
            required=bool(node.get("required")), min_value=_decimal(low), max_value=_decimal(high),
            max_length=node.get("maxLength"), enable_behavior=node.get("enableBehavior", "all"),
            **texts(node, "text", "text"), **help_texts,
        )
        for i, option in enumerate(node.get("answerOption", [])):
            coding = option.get("valueCoding", {})
            AnswerOption.objects.create(
                item=item, order=i, code=fhir.option_code(option),
                score=values.option_score(option), **texts(coding, "display", "label"),
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


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def assignment_link_token(*, assignment: Assignment) -> str:
    """The assignment's link token, the same in every message: an invitation's link keeps working
    after a reminder. Derived with HMAC-SHA-256 from LINK_TOKEN_KEY (outside the database), so the
    database, which holds only the token's SHA-256, cannot give it back.

    16 bytes = 128 bits, 22 URL-safe characters: `https://host/s/` plus the token stays far
    inside one 160-character SMS segment.
    """
    message = f"{assignment.pk}:{assignment.token_version}".encode()
    raw = hmac.new(settings.LINK_TOKEN_KEY.encode(), message, hashlib.sha256).digest()[:16]
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    digest = token_hash(token)
    if assignment.token_hash != digest:
        Assignment.objects.filter(pk=assignment.pk).update(token_hash=digest)
        assignment.token_hash = digest
    return token


def assignment_link_revoke(*, assignment: Assignment) -> str:
    """Give the assignment a new link (a message went to a wrong number): earlier links stop working."""
    Assignment.objects.filter(pk=assignment.pk).update(token_version=models.F("token_version") + 1)
    assignment.refresh_from_db(fields=["token_version"])
    return assignment_link_token(assignment=assignment)


# --- patient responses -----------------------------------------------------------------------

class ResponseClosed(Exception):
    """The response was already submitted: nothing more may change it."""


class ResponseChanged(Exception):
    """The answers changed (another window) since the review page the patient sent was shown."""


def response_answers_digest(answers: dict) -> str:
    """SHA-256 of the canonical JSON of the answers: what a review page showed, posted back with Send."""
    return hashlib.sha256(json.dumps(answers, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ResponseIncomplete(Exception):
    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(", ".join(missing))


def _locked_response(assignment: Assignment) -> Response:
    # get_or_create inside the transaction relies on the one-to-one unique
    # constraint: two tabs racing to create the row end with one row.
    response, _created = Response.objects.get_or_create(
        assignment=assignment, defaults={"version_id": assignment.timepoint.version_id}
    )
    return Response.objects.select_for_update().get(pk=response.pk)


@transaction.atomic
def response_save_page(*, assignment: Assignment, answers: dict, page_index: int, advance: bool) -> Response:
    """Merge one page's answers into the response and drop answers that became hidden.

    `advance` moves the resume point past this page (only when the page was complete).
    """
    response = _locked_response(assignment)
    if response.status == Response.Status.COMPLETED:
        raise ResponseClosed()
    response.answers = conditions.prune_answers(response.version.definition, {**response.answers, **answers})
    if advance:
        response.next_page = max(response.next_page, page_index + 1)
    response._change_reason = "patient saved a page"
    response.save()
    Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.PLANNED).update(status=Assignment.Status.OPEN)
    return response


def response_missing(*, response: Response) -> list[str]:
    """linkIds of required questions that are shown and unanswered."""
    return conditions.missing_required(response.version.definition, response.answers)


@transaction.atomic
def response_submit(*, assignment: Assignment, answers_digest: str | None = None) -> Response:
    """Complete the response. Idempotent: a second submit returns the completed response unchanged.

    `answers_digest` (response_answers_digest of the answers the review page showed) must match the
    stored answers, read under the row lock: otherwise ResponseChanged and nothing is written."""
    response = _locked_response(assignment)
    if response.status == Response.Status.COMPLETED:
        return response
    if answers_digest is not None and not hmac.compare_digest(
            answers_digest, response_answers_digest(response.answers)):
        raise ResponseChanged()
    missing = response_missing(response=response)
    if missing:
        raise ResponseIncomplete(missing)
    response.status = Response.Status.COMPLETED
    response.submitted_at = timezone.now()
    response.scores = scoring.scores_compute(response.version.definition, response.answers)
    response._change_reason = "patient submitted"
    response.save()
    alerts.alerts_raise(response=response)
    Assignment.objects.filter(pk=assignment.pk).exclude(status=Assignment.Status.COMPLETED).update(
        status=Assignment.Status.COMPLETED
    )
    # Inside this transaction: the pending reminders are cancelled with the completion, or neither happens.
    signals.response_completed.send(sender=Assignment, assignment_id=assignment.pk)
    return response
