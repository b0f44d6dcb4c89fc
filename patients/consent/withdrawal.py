"""Withdrawal, identity side: who withdrew, whether the data is kept, and no more messages.

The research side (surveys.participants.withdrawal.participant_withdraw) cancels the assignments and deletes
the answers; this records the decision on the enrolment, where the audit trail shows that a
deletion happened and how many responses it took, never what they said.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from patients.models import Enrollment, Message
from surveys.participants.withdrawal import participant_withdraw

PENDING_MESSAGES = (Message.Status.PLANNED, Message.Status.QUEUED)


@transaction.atomic
def enrollment_withdraw(
    *,
    enrollment: Enrollment,
    by_user: AbstractBaseUser | None = None,
    by_patient: bool = False,
    delete_data: bool,
    now: datetime,
    reason: str = "",
) -> Enrollment:
    """Withdraw a patient from the study at once: future assignments and unsent messages are
    cancelled in this transaction, and with `delete_data` their responses are erased.

    Either `by_patient` (from a link) or `by_user` (an investigator; the view checks the right).
    Repeating it is harmless: nothing changes unless data kept so far is now to be deleted.
    """
    if by_patient == (by_user is not None):
        raise ValueError("Say who withdraws: by_patient=True or by_user=<investigator>, not both.")
    locked = Enrollment.objects.select_for_update().select_related("participant").get(pk=enrollment.pk)
    deleted = participant_withdraw(participant=locked.participant, delete_data=delete_data, now=now)
    # A message already handed to the provider (sent, delivered) cannot be called back; those
    # still waiting never leave. Conditional UPDATE: a sender claiming one at the same moment
    # either got it first (it is no longer planned/queued) or finds it cancelled.
    Message.objects.filter(enrollment=locked, status__in=PENDING_MESSAGES).update(status=Message.Status.CANCELLED)

    first_time = locked.withdrawn_at is None
    newly_deleted = delete_data and locked.withdrawal_data != Enrollment.WithdrawalData.DELETE
    if not first_time and not newly_deleted and not deleted:
        enrollment.refresh_from_db()
        return enrollment
    who = "patient" if by_patient else "investigator"
    if first_time:
        locked.withdrawn_at = now
        locked.withdrawn_by = Enrollment.WithdrawnBy.PATIENT if by_patient else Enrollment.WithdrawnBy.INVESTIGATOR
    if delete_data:
        locked.withdrawal_data = Enrollment.WithdrawalData.DELETE
    elif first_time:
        locked.withdrawal_data = Enrollment.WithdrawalData.KEEP
    locked.responses_deleted += deleted
    # The change reason is the audit of the deletion: a count, never the content.
    outcome = f"{deleted} response{'s' if deleted != 1 else ''} deleted" if delete_data else "data kept"
    action = f"withdrawn by {who}" if first_time else f"data deletion asked by {who} after withdrawal"
    note = " ".join(reason.split())
    locked._change_reason = f"{action}; {outcome}" + (f"; reason: {note}" if note else "")
    if by_user is not None:
        # Outside a request (a command, a test) the history would otherwise have no user.
        locked._history_user = by_user
    locked.save()
    enrollment.refresh_from_db()
    return enrollment
