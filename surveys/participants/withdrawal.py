"""Withdrawal, research side: stop a participant's follow-up and, if asked, erase their answers.

The identity side (patients/consent/withdrawal.py) calls this and records who asked and what was chosen;
this module knows only the pseudonymous participant.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from surveys.models import Alert, Assignment, Participant, Response

# Statuses of assignments that still lie ahead: withdrawal closes them for good.
PENDING = (Assignment.Status.PLANNED, Assignment.Status.OPEN)


@transaction.atomic
def participant_withdraw(*, participant: Participant, delete_data: bool, now: datetime) -> int:
    """Cancel every planned or open assignment, mark the participant withdrawn and, with
    `delete_data`, delete their responses together with every history row of them, and their
    acknowledged alerts; open alerts stay as content-free traces (response NULL) until acknowledged.

    Idempotent: a second call cancels nothing more and keeps the first withdrawal time; it can
    still delete the data (a patient who first kept it may ask for erasure later). Returns the
    number of responses deleted by this call.
    """
    # Lock the participant: a patient tapping twice and an investigator acting at the same
    # moment then withdraw one after the other, and the second sees the first.
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    # One conditional UPDATE, like scheduling.assignments_refresh: a beat tick running at the
    # same time cannot reopen a row, and completed or expired ones stay as they are.
    Assignment.objects.filter(participant=locked, status__in=PENDING).update(status=Assignment.Status.CANCELLED)
    if locked.status != Participant.Status.WITHDRAWN:
        locked.status = Participant.Status.WITHDRAWN
        locked.withdrawn_at = now
        locked._change_reason = "withdrawn"
        locked.save(update_fields=["status", "withdrawn_at"])
    participant.status, participant.withdrawn_at = locked.status, locked.withdrawn_at
    if not delete_data:
        return 0
    responses = Response.objects.filter(assignment__participant=locked)
    ids = list(responses.values_list("pk", flat=True))
    if not ids:
        return 0
    # Safety alerts: an acknowledged one has reached an investigator and goes with the answers; an open one
    # must still reach one, so it stays as a trace without content (rule, participant, times; its response
    # becomes NULL with the delete below), still listed on the alert page and still e-mailed if not yet.
    Alert.objects.filter(response_id__in=ids, acknowledged_at__isnull=False).delete()
    Alert.objects.filter(response_id__in=ids, participant__isnull=True).update(participant=locked)
    # Deleting a row makes simple-history write one more history row holding its last
    # content, so the history goes after the rows: then nothing of the answers remains.
    deleted = responses.delete()[1].get(Response._meta.label, 0)
    Response.history.model.objects.filter(id__in=ids).delete()
    return deleted
