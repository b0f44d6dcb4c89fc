"""Permissions on identities: investigators of the person's studies only.

Predicates come from surveys.rules (the one permission layer); this module only
declares which roles apply to the identity models, and how a Patient, which has
no study of its own, maps to studies: through its enrolments.
"""

from __future__ import annotations

from collections.abc import Iterable

import rules

from surveys.rules import INVESTIGATOR, NOBODY, has_role, register_model_permissions, register_study_resolver

from .models import Patient

_IDENTITY = {"view": (INVESTIGATOR,), "add": (INVESTIGATOR,), "change": (INVESTIGATOR,), "delete": NOBODY}


def patient_study_ids(patient: Patient) -> Iterable[int]:
    # An unsaved patient or one never enrolled belongs to no study: superusers only.
    if patient.pk is None:
        return []
    return patient.enrollments.values_list("participant__study_id", flat=True)


register_study_resolver(Patient, patient_study_ids)
register_model_permissions("patients", {"patient": _IDENTITY, "enrollment": _IDENTITY, "message": _IDENTITY})
rules.set_perm("patients", rules.is_superuser | has_role(INVESTIGATOR))
