"""Time-driven status changes of assignments, run by Celery beat every minute."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.bulk_rows import HistoryStamp, rows_insert
from surveys import signals
from surveys.models import Assignment, Participant, Timepoint

logger = logging.getLogger(__name__)

# An assignment may open only for a participant who is active and, where the study
# requires it, has consented: the one place that says so, used by beat and by patient links.
MAY_OPEN = Q(participant__status=Participant.Status.ACTIVE) & (
    Q(participant__study__consent_required=False) | Q(participant__consented_at__isnull=False)
)


def assignments_refresh(*, now: datetime) -> dict[str, int]:
    """Expire assignments whose window has closed, then open the planned ones now due.

    Each change is one conditional UPDATE whose WHERE holds the expected status,
    so a second worker, a retry or a late beat tick cannot move a row twice and
    never touches completed or cancelled ones. Returns the counts changed.
    QuerySet.update writes no history row: the status follows from due_at /
    expires_at, which the history already records.
    """
    Status = Assignment.Status
    with transaction.atomic():
        closing = list(
            Assignment.objects.filter(status__in=[Status.PLANNED, Status.OPEN], expires_at__lte=now).values_list(
                "pk", flat=True
            )
        )
        expired = Assignment.objects.filter(pk__in=closing, status__in=[Status.PLANNED, Status.OPEN]).update(
            status=Status.EXPIRED
        )
        if closing:
            # Same transaction: the messages of a closed window are cancelled with it (patients).
            signals.assignments_expired.send(sender=Assignment, assignment_ids=closing)
        # expires_at > now: a planned assignment whose whole window passed (the
        # worker was down) goes straight to expired above, never briefly open.
        due = Assignment.objects.filter(MAY_OPEN, status=Status.PLANNED, due_at__lte=now, expires_at__gt=now)
        # UPDATE cannot join; select the ids, then update them under the same status guard.
        opened = Assignment.objects.filter(pk__in=list(due.values_list("pk", flat=True)), status=Status.PLANNED).update(
            status=Status.OPEN
        )
    return {"opened": opened, "expired": expired}


def _unit(timepoint: Timepoint) -> timedelta:
    return timedelta(days=1) if timepoint.unit == Timepoint.Unit.DAYS else timedelta(hours=1)


def occurrence_window(
    timepoint: Timepoint,
    anchor: datetime,
    occurrence: int = 1,
    *,
    local_days: ZoneInfo | None = None,
) -> tuple[datetime, datetime]:
    """(opens, closes) of occurrence `occurrence` (1-based) of a timepoint counted from `anchor`.

    Occurrence k opens `offset + (k - 1) × repeat_every` units after the anchor and stays open
    `window` units. Counted in elapsed time (a day is 24 h) — except with `local_days`, used
    for a date answer: then days are calendar days in that zone, so "30 days after the date
    of surgery" opens at 00:00 local time on the 30th day, on either side of a DST change.
    """
    start = timepoint.offset + (occurrence - 1) * (timepoint.repeat_every or 0)
    if local_days is not None and timepoint.unit == Timepoint.Unit.DAYS:
        wall = anchor.astimezone(local_days).replace(tzinfo=None)
        due = (wall + timedelta(days=start)).replace(tzinfo=local_days).astimezone(UTC)
        closes = (wall + timedelta(days=start + timepoint.window)).replace(tzinfo=local_days).astimezone(UTC)
        return due, closes
    due = anchor + start * _unit(timepoint)
    return due, due + timepoint.window * _unit(timepoint)


def timepoint_windows(
    timepoint: Timepoint, anchor: datetime, *, local_days: ZoneInfo | None = None
) -> list[tuple[int, datetime, datetime]]:
    """(occurrence, opens, closes) for every occurrence, 1..repeat_count, that the calendar holds
    (an occurrence past year 9999 is not planned: planning never fails a submission)."""
    windows = []
    for k in range(1, (timepoint.repeat_count or 1) + 1):
        try:
            windows.append((k, *occurrence_window(timepoint, anchor, k, local_days=local_days)))
        except (OverflowError, ValueError):
            logger.warning(
                "timepoint %s: occurrence %d from %s is beyond the calendar; not planned",
                timepoint.pk,
                k,
                anchor.date(),
            )
            break
    return windows


Wanted = tuple[Timepoint, int, datetime, datetime]  # timepoint, occurrence, opens, closes


def assignments_ensure(
    *,
    wanted: dict[int, list[Wanted]],
    by: AbstractBaseUser | None = None,
    reason: str = "planned",
) -> tuple[dict[int, list[Assignment]], list[Assignment]]:
    """Create the wanted assignments (by participant id) that do not exist yet.

    Returns (every wanted assignment by participant, existing or new, in the order wanted;
    the new ones). Idempotent on the unique participant × timepoint × occurrence: an existing
    row is kept as it is. The participants are locked first, so two planners of the same
    participant (enrolment and a trigger, two submissions) take turns and never both insert:
    that lock is what lets the new rows and their history rows go in by COPY.
    Must run inside a transaction.
    """
    ids = sorted(wanted)
    if not ids:
        return {}, []
    list(Participant.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    timepoint_ids = {tp.pk for rows in wanted.values() for tp, *_rest in rows}
    existing = {
        (a.participant_id, a.timepoint_id, a.occurrence): a
        for a in Assignment.objects.filter(participant_id__in=ids, timepoint_id__in=timepoint_ids)
    }
    missing = [
        (pid, tp, k, due, closes)
        for pid in ids
        for tp, k, due, closes in wanted[pid]
        if (pid, tp.pk, k) not in existing
    ]
    new = _assignments_insert(missing, by=by, reason=reason) if missing else []
    for assignment in new:
        existing[(assignment.participant_id, assignment.timepoint_id, assignment.occurrence)] = assignment
    planned = {pid: [existing[(pid, tp.pk, k)] for tp, k, _due, _closes in wanted[pid]] for pid in ids}
    return planned, new


# The columns of an assignment row as the database returns them, for Model.from_db.
_ASSIGNMENT_FIELDS = [field.attname for field in Assignment._meta.concrete_fields]


def _assignments_insert(
    missing: list[tuple[int, Timepoint, int, datetime, datetime]], *, by: AbstractBaseUser | None, reason: str
) -> list[Assignment]:
    """Insert the assignments and their history rows ("+", by, reason) as the service always has;
    returns them as saved model instances, their timepoint loaded."""
    now = timezone.now()
    user = by or Assignment.history.model.get_default_history_user(None)
    pks = rows_insert(
        Assignment,
        [
            {"participant_id": pid, "timepoint_id": tp.pk, "occurrence": k, "due_at": due, "expires_at": closes}
            for pid, tp, k, due, closes in missing
        ],
        now=now,
        history=HistoryStamp(user_id=user.pk if user else None, date=now, change_reason=reason),
    )
    defaults = Assignment()
    new = []
    for pk, (pid, tp, k, due, closes) in zip(pks, missing, strict=True):
        values = {"id": pk, "participant_id": pid, "timepoint_id": tp.pk, "occurrence": k, "due_at": due}
        values |= {"expires_at": closes, "created_at": now}
        assignment = Assignment.from_db(
            None, _ASSIGNMENT_FIELDS, [values.get(name, getattr(defaults, name)) for name in _ASSIGNMENT_FIELDS]
        )
        assignment._state.fields_cache = {"timepoint": tp}
        new.append(assignment)
    return new


def enrolment_timepoints(study_id: int) -> list[Timepoint]:
    """The timepoints planned at enrolment: counted from it, not waiting for an answer or a trigger."""
    return [
        tp
        for tp in Timepoint.objects.filter(study_id=study_id).order_by("order", "offset", "pk")
        if tp.planned_at_enrolment
    ]


@transaction.atomic
def assignments_plan_many(
    *,
    anchors: list[tuple[Participant, datetime]],
    by: AbstractBaseUser | None = None,
    reason: str = "planned at enrolment",
) -> tuple[dict[int, list[Assignment]], list[Assignment]]:
    """assignments_plan for many participants of one study at once (import, benchmark): a few
    queries in all instead of a few per participant, each timepoint's windows computed once per
    anchor (an import enrols everyone at the same instant). Returns (the assignments by
    participant id, the new ones), as assignments_ensure."""
    if not anchors:
        return {}, []
    studies = {p.study_id for p, _anchor in anchors}
    if len(studies) != 1:
        raise ValueError(f"Plan one study at a time (got studies {sorted(studies)}).")
    timepoints = enrolment_timepoints(studies.pop())
    windows: dict[datetime, list[Wanted]] = {}
    wanted = {}
    for participant, anchor in anchors:
        if anchor not in windows:
            windows[anchor] = [
                (tp, k, due, closes) for tp in timepoints for k, due, closes in timepoint_windows(tp, anchor)
            ]
        wanted[participant.pk] = windows[anchor]
    return assignments_ensure(wanted=wanted, by=by, reason=reason)


@transaction.atomic
def assignments_plan(*, participant: Participant, anchor: datetime) -> list[Assignment]:
    """The assignments of every timepoint counted from `anchor` (the enrolment), each occurrence
    of a repeating one included (weekly × 12 = 12 assignments, each with its window).

    Timepoints counted from a date answer or waiting for a trigger are not planned here: the
    submission that brings the answer plans them (surveys/scheduling/triggers.py).
    Idempotent: planning twice keeps the existing rows (unique participant × timepoint ×
    occurrence)."""
    planned, _new = assignments_plan_many(anchors=[(participant, anchor)])
    return planned.get(participant.pk, [])
