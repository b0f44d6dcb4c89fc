"""Re-identification: who is behind a pseudonym. Only for investigators, and always audited.

Every lookup writes a ReidentificationEvent (user, participant, reason, time) in the same
transaction that reads the identity: there is no way to see the person without leaving a trace.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from patients.models import Patient, ReidentificationEvent
from surveys.models import Participant, StudyMembership

REASON_MAX = ReidentificationEvent._meta.get_field("reason").max_length


def investigator_may_act(user: AbstractBaseUser | AnonymousUser, participant: Participant) -> bool:
    """The user is an investigator of the participant's study, and of its site when their
    membership is limited to one site (sites are data access groups); superusers always are."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    memberships = StudyMembership.objects.filter(
        user=user, study_id=participant.study_id, role=StudyMembership.Role.INVESTIGATOR
    )
    return memberships.filter(Q(site__isnull=True) | Q(site_id=participant.site_id)).exists()


@transaction.atomic
def participant_reidentify(*, user: AbstractBaseUser, participant: Participant, reason: str) -> Patient:
    """The patient behind `participant`, after recording who asked and why.

    Raises PermissionDenied for anyone but an investigator of the study (and site), and
    ValidationError({"reason": ...}) when no reason is given; neither writes anything.
    """
    if not investigator_may_act(user, participant):
        raise PermissionDenied("Only investigators of this study and site may see who is behind a pseudonym.")
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": _("Say why you need to see who this is.")})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("Keep the reason under %(max)s characters.") % {"max": REASON_MAX}})
    patient = Patient.objects.get(enrollments__participant=participant)
    ReidentificationEvent.objects.create(user=user, participant=participant, reason=reason)
    return patient
