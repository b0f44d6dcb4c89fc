"""Time-driven status changes of assignments, run by Celery beat every minute."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from .models import Assignment


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
        expired = Assignment.objects.filter(
            status__in=[Status.PLANNED, Status.OPEN], expires_at__lte=now
        ).update(status=Status.EXPIRED)
        # expires_at > now: a planned assignment whose whole window passed (the
        # worker was down) goes straight to expired above, never briefly open.
        opened = Assignment.objects.filter(status=Status.PLANNED, due_at__lte=now, expires_at__gt=now).update(
            status=Status.OPEN
        )
    return {"opened": opened, "expired": expired}
