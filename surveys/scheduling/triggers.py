"""Timepoints planned by a submitted response: counted from a date answer, or logic-triggered.

Called by `response_completion_apply` (surveys/answering/submit.py) inside the transaction of the
completion: the follow-up is planned with it, or neither.

* A timepoint with `anchor` = answer counts from the date answered to `anchor_item` (in any
  questionnaire of the study). The date is a local date: it counts from 00:00 of that date in
  the *study's* time zone (the research side knows no patient zone), stored in UTC, and its
  days are calendar days in that zone (scheduling.occurrence_window). The messages are then
  moved into each patient's own zone and sending window by the patients side.
* A timepoint with a `trigger_item` is planned when a submitted answer ("answer:<linkId>") or
  score ("score:<name>", Response.scores) meets `trigger_operator` `trigger_value`, the same
  comparison as the questionnaire's display conditions (questionnaires.values.compare); it counts
  from the instant of that submission.

Either is planned once per participant: when the timepoint already has an assignment, later
submissions change nothing (a second high pain score plans no second follow-up; a schedule
edit moves it through surveys/scheduling/replan.py). Occurrences whose window has already closed (a
surgery date long past) are not created. Nothing for a participant who is not active. The
patients side plans the messages of the new assignments through `assignments_replanned`.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from surveys import signals
from surveys.models import Assignment, Participant, Response, Timepoint
from surveys.models.schedule import trigger_source
from surveys.questionnaires import fhir, values
from surveys.questionnaires.published import published_definition
from surveys.scheduling.planning import assignments_ensure, timepoint_windows


def trigger_met(*, timepoint: Timepoint, response: Response) -> bool:
    """The response's answer or score meets the timepoint's trigger condition."""
    source, name = trigger_source(timepoint.trigger_item)
    if not source or not timepoint.trigger_operator:
        return False
    if source == "answer":
        kind = values.kind_of(fhir.items_by_link(published_definition(response.version_id)).get(name))
        value = response.answers.get(name)
    else:  # a score stored with its details, e.g. {"value": 12, ...}: its value is a number
        kind = values.T.DECIMAL
        entry = (response.scores or {}).get(name)
        value = entry.get("value") if isinstance(entry, dict) else entry
    return values.compare(kind, value, timepoint.trigger_operator, timepoint.trigger_value)


def answer_date_anchor(*, timepoint: Timepoint, response: Response, time_zone: str) -> datetime | None:
    """00:00 of the answered date in the study's zone, as a UTC instant; None if not answered here."""
    raw = response.answers.get(timepoint.anchor_item)
    try:
        day = dt.date.fromisoformat(str(raw)) if raw not in (None, "") else None
    except ValueError:
        return None
    if day is None or not values.DATE_RANGE[0] <= day <= values.DATE_RANGE[1]:
        # A date stored before the page bounded dates (or imported) anchors nothing rather than
        # planning beyond the calendar.
        return None
    return datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(time_zone)).astimezone(dt.UTC)


def response_anchor(*, timepoint: Timepoint, response: Response, time_zone: str) -> datetime | None:
    """The instant this response gives the timepoint to count from, or None if it gives none."""
    if timepoint.anchor == Timepoint.Anchor.ANSWER:
        return answer_date_anchor(timepoint=timepoint, response=response, time_zone=time_zone)
    if timepoint.is_triggered and response.submitted_at and trigger_met(timepoint=timepoint, response=response):
        return response.submitted_at
    return None


def assignments_plan_after_response(*, response: Response, now: datetime | None = None) -> list[Assignment]:
    """Plan the date-anchored and triggered timepoints this completed response starts.

    Returns the assignments created (none on a second call: idempotent). Sends
    `assignments_replanned` for them, so their invitations and reminders are planned.
    """
    if response.status != Response.Status.COMPLETED:
        return []
    # Most studies plan everything at enrolment: one read tells, and nothing is locked for them.
    waiting = [
        tp
        for tp in Timepoint.objects.filter(study_id=response.assignment.participant.study_id).order_by(
            "order", "offset", "pk"
        )
        if not tp.planned_at_enrolment
    ]
    if not waiting:
        return []
    return _plan_waiting(response=response, waiting=waiting, now=now or timezone.now())


@transaction.atomic
def _plan_waiting(*, response: Response, waiting: list[Timepoint], now: datetime) -> list[Assignment]:
    # Locked before deciding, so that two submissions at once cannot both plan the follow-up.
    participant = (
        Participant.objects.select_for_update(of=("self",))
        .select_related("study")
        .get(pk=response.assignment.participant_id)
    )
    if participant.status != Participant.Status.ACTIVE or participant.withdrawn_at is not None:
        return []
    planned_once = set(
        Assignment.objects.filter(participant=participant, timepoint__in=waiting).values_list("timepoint_id", flat=True)
    )
    time_zone = participant.study.time_zone
    wanted = []
    for timepoint in waiting:
        if timepoint.pk in planned_once:
            continue
        anchor = response_anchor(timepoint=timepoint, response=response, time_zone=time_zone)
        if anchor is None:
            continue
        local_days = ZoneInfo(time_zone) if timepoint.anchor == Timepoint.Anchor.ANSWER else None
        wanted += [
            (timepoint, k, due, closes)
            for k, due, closes in timepoint_windows(timepoint, anchor, local_days=local_days)
            if closes > now
        ]
    if not wanted:
        return []
    _planned, new = assignments_ensure(wanted={participant.pk: wanted}, reason="planned after a response")
    if new:
        signals.assignments_replanned.send(sender=Assignment, assignment_ids=[a.pk for a in new], now=now)
    return new
