"""The identity half of the demo: three fictional patients, their consent and enrolment.

The research half (study, questionnaires, schedule, staff) is surveys/demo.py;
this module may import it, never the other way round. Patients are found
again through their enrolment (participant pseudonym), since their encrypted
names cannot be looked up in SQL; enrolled_at is set once, at first load, and
kept, so the schedule of a demo patient does not slide on every load.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.identity.contacts import patient_contact_set
from patients.messaging.planning import messages_plan
from patients.models import Enrollment, Patient
from surveys import demo as research_demo


@dataclass(frozen=True)
class PatientSpec:
    pseudonym: str
    name: str
    email: str
    phone: str
    language: str
    time_zone: str
    preferred_channel: str
    consent_method: str


# Fictional people. Phone numbers are in the range ARCEP keeps for fiction
# (06 39 98 xx xx); addresses are under example.org, which nobody receives.
PATIENTS = (
    PatientSpec(
        "DEMO-0001",
        "Camille Durand",
        "camille.durand@example.org",
        "+33639980001",
        "fr",
        "Europe/Paris",
        Patient.Channel.SMS,
        Enrollment.ConsentMethod.ELECTRONIC,
    ),
    PatientSpec(
        "DEMO-0002",
        "Mathieu Lefèvre",
        "mathieu.lefevre@example.org",
        "+33639980002",
        "fr",
        "Indian/Reunion",
        Patient.Channel.EMAIL,
        Enrollment.ConsentMethod.WRITTEN,
    ),
    PatientSpec(
        "DEMO-0003",
        "Emma Clarke",
        "emma.clarke@example.org",
        "+33639980003",
        "en",
        "Europe/London",
        Patient.Channel.SMS,
        Enrollment.ConsentMethod.NON_OPPOSITION,
    ),
)
CONSENT_NOTICE_VERSION = research_demo.NOTICE_VERSION


@dataclass
class DemoLoaded:
    research: research_demo.DemoResearch
    enrollments: list[Enrollment]


def demo_load(*, now: datetime | None = None) -> DemoLoaded:
    """Load (or bring back) the whole demo: research part, patients, enrolments, assignments."""
    now = now or timezone.now()
    enrollments = []
    # All or nothing: a failure half-way leaves the database as it was.
    with transaction.atomic():
        research = research_demo.demo_research_load()
        investigator = research.users["investigator"]
        for spec in PATIENTS:
            participant = research_demo.demo_participant_load(
                research=research, pseudonym=spec.pseudonym, language=spec.language
            )
            enrollment = Enrollment.objects.filter(participant=participant).select_related("patient").first()
            values = {
                "name": spec.name,
                "email": spec.email,
                "phone": spec.phone,
                "language": spec.language,
                "time_zone": spec.time_zone,
                "preferred_channel": spec.preferred_channel,
            }
            if enrollment is None:
                patient = Patient(**values)
                # Cleaned and indexed like every other way in (save() keeps the digests in step).
                contact = {"email": spec.email, "phone": spec.phone}
                for name, value in contact.items():
                    try:
                        patient_contact_set(patient, **{name: value})
                    except ValidationError:
                        pass  # fiction-range numbers are not "valid" to phonenumbers: kept as written, E.164
                patient.full_clean()
                patient.save()
                enrollment = Enrollment(
                    patient=patient,
                    participant=participant,
                    consent_method=spec.consent_method,
                    consent_document_version=CONSENT_NOTICE_VERSION,
                    consent_recorded_at=now,
                    consent_recorded_by=investigator,
                    enrolled_at=now,
                )
                enrollment.full_clean()
                enrollment.save()
            else:
                patient = enrollment.patient
                # Compare decrypted values: saving re-encrypts (a new token
                # every time), which would add a history row for nothing.
                changed = [name for name, value in values.items() if getattr(patient, name) != value]
                if changed:
                    for name in changed:
                        setattr(patient, name, values[name])
                    patient.full_clean()
                    patient.save()
            if participant.consented_at is None:
                # The research-side fact that patient pages and beat check before opening anything.
                participant.consented_at = enrollment.consent_recorded_at
                participant.save(update_fields=["consented_at"])
            research_demo.demo_assignments_plan(participant=participant, enrolled_at=enrollment.enrolled_at, now=now)
            messages_plan(enrollment=enrollment, assignments=participant.assignments.all(), now=now)
            enrollments.append(enrollment)
    return DemoLoaded(research=research, enrollments=enrollments)
