"""Permissions on identities: investigators of the person's studies only.

Predicates come from surveys.rules (the one permission layer); this module only
declares which roles apply to the identity models, how a Patient, which has
no study of its own, maps to studies (through its enrolments), and where each
identity row finds its site, so that an investigator limited to one site
reaches only that site's people.
"""

from __future__ import annotations

from collections.abc import Iterable

import rules

from patients.models import ConsentRecord, Enrollment, Message, Patient, ReidentificationEvent
from surveys.rules import (
    ANY_ROLE,
    DESIGNER,
    INVESTIGATOR,
    NOBODY,
    has_role,
    register_model_permissions,
    register_site_scope,
    register_study_resolver,
)

_IDENTITY = {"view": (INVESTIGATOR,), "add": (INVESTIGATOR,), "change": (INVESTIGATOR,), "delete": NOBODY}
# Written by services only (e-consent, re-identification); investigators read them.
_AUDIT = {"view": (INVESTIGATOR,), "add": NOBODY, "change": NOBODY, "delete": NOBODY}


def patient_study_ids(patient: Patient) -> Iterable[int]:
    # An unsaved patient or one never enrolled belongs to no study: superusers only.
    if patient.pk is None:
        return []
    return patient.enrollments.values_list("participant__study_id", flat=True)


register_study_resolver(Patient, patient_study_ids)
register_site_scope(
    Patient, study_path="enrollments__participant__study", site_path="enrollments__participant__site", many=True
)
register_site_scope(Enrollment, study_path="participant__study", site_path="participant__site")
register_site_scope(Message, study_path="enrollment__participant__study", site_path="enrollment__participant__site")
register_site_scope(
    ConsentRecord, study_path="enrollment__participant__study", site_path="enrollment__participant__site"
)
register_site_scope(ReidentificationEvent, study_path="participant__study", site_path="participant__site")

register_model_permissions(
    "patients",
    {
        "patient": _IDENTITY,
        "enrollment": _IDENTITY,
        "message": _IDENTITY,
        "consentrecord": _AUDIT,
        "reidentificationevent": _AUDIT,
        # Study design: wording of SMS, edited by designers, read by the whole study team.
        "smstemplate": {"view": ANY_ROLE, "add": (DESIGNER,), "change": (DESIGNER,), "delete": (DESIGNER,)},
    },
)
rules.set_perm("patients", rules.is_superuser | has_role(INVESTIGATOR, DESIGNER))
