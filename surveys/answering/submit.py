"""Answering: saving a page of answers and submitting them, once, with the answers the patient reviewed."""

from __future__ import annotations

import hashlib
import hmac
import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys import signals
from surveys.answering.access import response_of
from surveys.models import (
    Assignment,
    Response,
)
from surveys.questionnaires import conditions
from surveys.questionnaires.published import published_definition
from surveys.scheduling import triggers
from surveys.scoring import alerts, compute


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


def _definition(response: Response) -> dict:
    return published_definition(response.version_id)


def _locked_response(assignment: Assignment) -> Response | None:
    response = Response.objects.select_for_update().filter(assignment_id=assignment.pk).first()
    if response is not None:
        response.assignment = assignment  # with what the caller already loaded (participant, timepoint)
    return response


def response_save_page(*, assignment: Assignment, answers: dict, page_index: int, advance: bool) -> Response:
    """Merge one page's answers into the response and drop answers that became hidden.

    `advance` moves the resume point past this page (only when the page was complete). One transaction,
    one history row: the first save inserts the response with its answers; a later one updates it under
    its row lock. Two tabs racing to create the row end with one: the loser's INSERT fails on the
    one-to-one unique constraint and its save is done again as an update of the winner's row.
    """
    try:
        with transaction.atomic():
            return _save_page(assignment, answers, page_index, advance, create=response_of(assignment) is None)
    except IntegrityError:
        with transaction.atomic():
            return _save_page(assignment, answers, page_index, advance, create=False)


def _save_page(assignment: Assignment, answers: dict, page_index: int, advance: bool, *, create: bool) -> Response:
    response = None if create else _locked_response(assignment)
    if response is None:
        response = Response(assignment=assignment, version_id=assignment.timepoint.version_id)
    elif response.status == Response.Status.COMPLETED:
        raise ResponseClosed()
    response.answers = conditions.prune_answers(_definition(response), {**response.answers, **answers})
    if advance:
        response.next_page = max(response.next_page, page_index + 1)
    response._change_reason = "patient saved a page"
    response.save(force_insert=response._state.adding)
    if assignment.status == Assignment.Status.PLANNED:
        Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.PLANNED).update(
            status=Assignment.Status.OPEN
        )
        assignment.status = Assignment.Status.OPEN
    Assignment._meta.get_field("response").set_cached_value(assignment, response)
    return response


def response_missing(*, response: Response) -> list[str]:
    """linkIds of required questions that are shown and unanswered."""
    return conditions.missing_required(_definition(response), response.answers)


@transaction.atomic
def response_submit(*, assignment: Assignment, answers_digest: str | None = None) -> Response:
    """Complete the response. Idempotent: a second submit returns the completed response unchanged.

    `answers_digest` (response_answers_digest of the answers the review page showed) must match the
    stored answers, read under the row lock: otherwise ResponseChanged and nothing is written."""
    response = _locked_response(assignment)
    if response is None:
        # Sent without any page saved (a questionnaire with nothing required): an empty response. The
        # get_or_create relies on the one-to-one constraint if another tab creates it at the same moment.
        created, _new = Response.objects.get_or_create(
            assignment=assignment, defaults={"version_id": assignment.timepoint.version_id}
        )
        response = Response.objects.select_for_update().get(pk=created.pk)
        response.assignment = assignment
    if response.status == Response.Status.COMPLETED:
        return response
    if answers_digest is not None and not hmac.compare_digest(
        answers_digest, response_answers_digest(response.answers)
    ):
        raise ResponseChanged()
    missing = response_missing(response=response)
    if missing:
        raise ResponseIncomplete(missing)
    # Calculated items (FHIRPath calculatedExpression) are kept with the answers, computed again here
    # from the answers submitted: exports, the codebook and the FHIR response read them like answers.
    response.answers = conditions.prune_answers(_definition(response), response.answers)
    response.status = Response.Status.COMPLETED
    response.submitted_at = timezone.now()
    response.scores = compute.scores_compute(_definition(response), response.answers)
    response._change_reason = "patient submitted"
    response.save()
    response_completion_apply(response=response, assignment=assignment)
    return response


def response_completion_apply(*, response: Response, assignment: Assignment) -> None:
    """What a completed response sets off, submitted by the patient or imported: its alert rules are
    checked, the assignment is completed and the completion announced. Inside the caller's transaction:
    the pending reminders are cancelled with the completion, or neither happens."""
    alerts.alerts_raise(response=response)
    Assignment.objects.filter(pk=assignment.pk).exclude(status=Assignment.Status.COMPLETED).update(
        status=Assignment.Status.COMPLETED
    )
    assignment.status = Assignment.Status.COMPLETED
    triggers.assignments_plan_after_response(response=response)
    signals.response_completed.send(sender=Assignment, assignment_id=assignment.pk)
