"""Time-driven status changes of assignments, run by Celery beat every minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from . import signals
from .models import Assignment, Participant, Timepoint

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
            Assignment.objects.filter(status__in=[Status.PLANNED, Status.OPEN], expires_at__lte=now)
            .values_list("pk", flat=True)
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


def timepoint_window(timepoint: Timepoint, anchor: datetime) -> tuple[datetime, datetime]:
    unit = timedelta(days=1) if timepoint.unit == Timepoint.Unit.DAYS else timedelta(hours=1)
    due = anchor + timepoint.offset * unit
    return due, due + timepoint.window * unit


@transaction.atomic
def assignments_plan(*, participant: Participant, anchor: datetime) -> list[Assignment]:
    """One assignment per timepoint of the study, counted from `anchor` (the enrolment).

    Idempotent: planning twice keeps the existing rows (unique participant × timepoint ×
    occurrence)."""
    planned = []
    for timepoint in Timepoint.objects.filter(study_id=participant.study_id).order_by("order", "offset"):
        due, expires = timepoint_window(timepoint, anchor)
        assignment, _created = Assignment.objects.get_or_create(
            participant=participant, timepoint=timepoint, occurrence=1,
            defaults={"due_at": due, "expires_at": expires},
        )
        planned.append(assignment)
    return planned
