"""Contact data is cleaned and indexed wherever it comes in: a STOP and the duplicate check find it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.enrolment.enrol import EnrolmentData, enrollment_create, enrolment_problems
from patients.enrolment.importing import import_read, import_run
from patients.identity.contacts import blind_index
from patients.messaging.sms_webhooks import sms_opt_out
from patients.models import Patient

TYPED, E164 = "06 12 34 56 78", "+33612345678"


def via_admin_edit(make, study, client):
    user = make.user()
    make.member(user=user, study=study, role="investigator")
    patient = make.patient(phone="+33698765432")
    make.enrollment(patient=patient, participant=make.participant(study=study))
    client.force_login(user)
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    data = {
        "new_name": "",
        "new_email": " Jo@Example.ORG ",
        "new_phone": TYPED,
        "new_birth_date": "",
        "time_zone": "Europe/Paris",
        "language": "fr",
        "preferred_channel": "sms",
        "enrollments-TOTAL_FORMS": "1",
        "enrollments-INITIAL_FORMS": "1",
        "enrollments-MIN_NUM_FORMS": "1",
        "enrollments-MAX_NUM_FORMS": "1000",
    }
    enrollment = patient.enrollments.get()
    data |= {
        "enrollments-0-id": str(enrollment.pk),
        "enrollments-0-patient": str(patient.pk),
        "enrollments-0-participant": str(enrollment.participant_id),
        "enrollments-0-consent_method": "written",
        "enrollments-0-consent_document_version": "",
        "enrollments-0-consent_recorded_at_0": "2026-01-05",
        "enrollments-0-consent_recorded_at_1": "10:00:00",
        "enrollments-0-enrolled_at_0": "2026-01-05",
        "enrollments-0-enrolled_at_1": "10:05:00",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    return Patient.objects.get(pk=patient.pk)


def via_enrolment_service(make, study, client):
    return enrollment_create(
        study=study, by=None, now=timezone.now(), data=EnrolmentData(name="Jo", phone=TYPED, email=" Jo@Example.ORG ")
    ).patient


def via_import(make, study, client):
    rows = import_read(
        filename="p.csv", content=f"name,phone,email,consent_method\nJo,{TYPED},Jo@Example.ORG,\n".encode()
    )
    import_run(study=study, rows=rows, by=None, now=timezone.now())
    return Patient.objects.get()


def via_model_save(make, study, client):
    patient = make.patient(phone="+33698765432")
    make.enrollment(patient=patient, participant=make.participant(study=study))
    patient.phone, patient.email = TYPED, " Jo@Example.ORG "
    patient.save()
    return Patient.objects.get(pk=patient.pk)


@pytest.mark.parametrize("path", [via_admin_edit, via_enrolment_service, via_import, via_model_save])
def test_every_path_stores_e164_with_a_fresh_blind_index(make, client, path):
    study = make.study(consent_required=False)
    patient = path(make, study, client)
    assert patient.phone == E164 and patient.phone_digest == blind_index(E164)
    assert patient.email == "jo@example.org" and patient.email_digest == blind_index("jo@example.org")
    # A STOP from the number finds the patient; a second enrolment with it is seen as a duplicate.
    assert sms_opt_out(phone=E164, now=timezone.now()) == [patient.pk]
    problems = enrolment_problems(study=study, data=EnrolmentData(name="Other", phone="+33 6 12 34 56 78"))
    assert "phone" in problems and "email" not in problems


def test_the_admin_names_the_field_of_a_bad_value_and_changes_nothing(make, client):
    study = make.study()
    user = make.user()
    make.member(user=user, study=study, role="investigator")
    patient = make.patient(phone=E164)
    make.enrollment(patient=patient, participant=make.participant(study=study))
    client.force_login(user)
    response = client.post(
        reverse("admin:patients_patient_change", args=[patient.pk]),
        {
            "new_phone": "12",
            "new_email": "not-an-address",
            "time_zone": "Europe/Paris",
            "language": "fr",
            "preferred_channel": "sms",
            "enrollments-TOTAL_FORMS": "0",
            "enrollments-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "12" in errors["new_phone"][0] and "not-an-address is not an email address." in errors["new_email"]
    patient.refresh_from_db()
    assert patient.phone == E164


def test_blank_replacement_fields_keep_the_stored_values(make):
    patient = make.patient(phone=E164, email="a@example.org")
    from patients.identity.contacts import patient_contact_set

    patient_contact_set(patient, email=None, phone=None)
    assert (patient.phone, patient.email) == (E164, "a@example.org")
