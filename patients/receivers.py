"""The identity side's answers to research-side events (surveys/signals.py).

Connected in PatientsConfig.ready(). Each runs inside the transaction of the event that
sent it, so a completion that rolls back also leaves its reminders pending, and a
completion that commits leaves none.
"""

from __future__ import annotations

from datetime import datetime

from patients.messaging.planning import CancelReason, messages_cancel_pending, messages_replan
from surveys.models import Assignment


def on_response_completed(sender, *, assignment_id: int, **kwargs) -> None:
    # Invitation included: a patient who answered through another link needs no invitation.
    messages_cancel_pending(assignment_id=assignment_id, reason=CancelReason.COMPLETED)


def on_assignments_expired(sender, *, assignment_ids: list[int], **kwargs) -> None:
    if assignment_ids:
        # The status check leaves out one that a patient completed in the same instant.
        messages_cancel_pending(
            assignment_id__in=assignment_ids, assignment__status=Assignment.Status.EXPIRED, reason=CancelReason.EXPIRED
        )


def on_assignments_replanned(sender, *, assignment_ids: list[int], now: datetime | None = None, **kwargs) -> None:
    if assignment_ids:
        messages_replan(assignment_ids=assignment_ids, now=now)
