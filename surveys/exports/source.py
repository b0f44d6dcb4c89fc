"""The responses of an export, read from the database a chunk at a time.

`.values_list(...).iterator(chunk_size=...)`: plain tuples, no model instances, and on PostgreSQL a
server-side cursor, so memory holds one chunk whatever the size of the study. Only research-side
columns are read: pseudonym, site code, timepoint, answers, scores. Dates leave through DateMode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet

from surveys.exports.spec import ExportSpec
from surveys.models import Response

CHUNK = 2000
MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
HUNDREDTH = Decimal("0.01")

FIELDS = (
    "pk",
    "version_id",
    "status",
    "answers",
    "scores",
    "submitted_at",
    "started_at",
    "assignment_id",
    "assignment__due_at",
    "assignment__occurrence",
    "assignment__invitation_channel",
    "assignment__timepoint__code",
    "assignment__participant_id",
    "assignment__participant__pseudonym",
    "assignment__participant__created_at",
    "assignment__participant__site__code",
    "version__questionnaire__code",
    "version__number",
    "source",
)
ORDER = (
    "assignment__participant__pseudonym",
    "assignment__due_at",
    "assignment__timepoint__order",
    "assignment__occurrence",
    "pk",
)


@dataclass(frozen=True, slots=True)
class ResponseRow:
    response_id: int
    version_id: int
    status: str
    answers: dict[str, Any]
    scores: dict[str, Any]
    submitted_at: dt.datetime | None
    started_at: dt.datetime
    assignment_id: int
    due_at: dt.datetime
    occurrence: int
    channel: str
    timepoint: str
    participant_id: int
    pseudonym: str
    enrolled_at: dt.datetime
    site: str
    questionnaire: str
    version: int
    # Where the answers come from (Response.Source): patient, imported, corrected.
    source: str = "patient"

    @property
    def delay_hours(self) -> float | None:
        """Hours from opening to submission; the same in every date mode (a shift moves both).

        Empty when the answers are dated before the assignment opened: legacy answers imported into
        an expired assignment were given elsewhere, on their own date, so there is no delay to count.
        """
        if self.submitted_at is None or self.submitted_at < self.due_at:
            return None
        # Exact decimal arithmetic, rounded half up: 54 s is 0.015 h, shown 0.02 (the double 0.015 is
        # just below it and round() would give 0.01). The SQL wide table rounds the same way (wide_sql.py).
        hours = Decimal((self.submitted_at - self.due_at) // dt.timedelta(microseconds=1)) / MICROSECONDS_PER_HOUR
        return float(hours.quantize(HUNDREDTH, rounding=ROUND_HALF_UP))


def responses_queryset(spec: ExportSpec, *, questionnaires: list[str] | None = None) -> QuerySet[Response]:
    rows = Response.objects.filter(assignment__participant__study_id=spec.study_id)
    codes = questionnaires if questionnaires is not None else list(spec.questionnaires)
    if codes:
        rows = rows.filter(version__questionnaire__code__in=codes)
    if spec.sites is not None:
        rows = rows.filter(assignment__participant__site_id__in=spec.sites)
    if spec.completed_only:
        rows = rows.filter(status=Response.Status.COMPLETED)
    return rows


def responses_stream(
    spec: ExportSpec, *, questionnaires: list[str] | None = None, chunk_size: int = CHUNK
) -> Iterator[ResponseRow]:
    """Every response of the export, by pseudonym then due time; one chunk in memory at a time."""
    rows = responses_queryset(spec, questionnaires=questionnaires).order_by(*ORDER).values_list(*FIELDS)
    for values in rows.iterator(chunk_size=chunk_size):
        yield _response_row(values)


def responses_by_id(ids: list[int]) -> dict[int, ResponseRow]:
    """Some responses, by id, as responses_stream reads them (the few rows a faster path left out)."""
    return {
        row.response_id: row for row in map(_response_row, Response.objects.filter(pk__in=ids).values_list(*FIELDS))
    }


def _response_row(values: tuple) -> ResponseRow:
    (
        pk,
        version_id,
        status,
        answers,
        scores,
        submitted_at,
        started_at,
        assignment_id,
        due_at,
        occurrence,
        channel,
        timepoint,
        participant_id,
        pseudonym,
        enrolled_at,
        site,
        questionnaire,
        version,
        source,
    ) = values
    return ResponseRow(
        pk,
        version_id,
        status,
        answers or {},
        scores or {},
        submitted_at,
        started_at,
        assignment_id,
        due_at,
        occurrence,
        channel or "",
        timepoint,
        participant_id,
        pseudonym,
        enrolled_at,
        site or "",
        questionnaire,
        version,
        source,
    )
