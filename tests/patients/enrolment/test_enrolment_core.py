"""Enrolment core: pseudonyms, contact normalisation, duplicates, planning."""

import datetime as dt

import pytest
from django.utils import timezone

from patients.enrolment.enrol import EnrolmentData, EnrolmentInvalid, enrollment_create, enrolment_problems
from patients.models import Enrollment
from surveys.participants import pseudonyms


def test_random_pseudonym_format_and_check_symbol(make):
    study = make.study(pseudonym_prefix="ST01")
    value = pseudonyms.pseudonym_new(study=study)
    assert value.startswith("ST01-") and len(value) == len("ST01-XXXXX-XXXXX")
    assert pseudonyms.pseudonym_is_valid(value)
    # Any single wrong symbol, and any swap of two different neighbours, is caught.
    body = value[5:].replace("-", "")
    for i in range(len(body) - 1):
        for wrong in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":
            if wrong != body[i]:
                typo = body[:i] + wrong + body[i + 1 :]
                assert not pseudonyms.pseudonym_is_valid(f"ST01-{typo[:5]}-{typo[5:]}")
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            assert not pseudonyms.pseudonym_is_valid(f"ST01-{swapped[:5]}-{swapped[5:]}")
    # Read aloud and typed back in lower case with O for 0: still recognised.
    assert pseudonyms.pseudonym_is_valid(value.lower().replace("0", "o"))


def test_derived_pseudonyms_are_stable_in_a_study_and_unlinkable_across_studies(make, settings):
    a, b = make.study(code="alpha", pseudonym_prefix="AL"), make.study(code="beta", pseudonym_prefix="AL")
    settings.PSEUDONYM_KEYS = {"alpha": "key-of-alpha-0123456789", "beta": "key-of-beta-9876543210"}
    nir = "1 85 05 78 006 084 36"
    first = pseudonyms.pseudonym_from_external_id(study=a, external_id=nir)
    assert first == pseudonyms.pseudonym_from_external_id(study=a, external_id="185057800608436")
    assert pseudonyms.pseudonym_is_valid(first)
    assert first != pseudonyms.pseudonym_from_external_id(study=b, external_id=nir)
    assert first != pseudonyms.pseudonym_from_external_id(study=a, external_id="285057800608436")


def test_derived_pseudonym_needs_the_study_key(make, settings):
    settings.PSEUDONYM_KEYS = {}
    with pytest.raises(pseudonyms.PseudonymKeyMissing):
        pseudonyms.pseudonym_from_external_id(study=make.study(), external_id="x")


def enrol(make, study=None, **kw):
    study = study or make.study(consent_required=False)
    data = EnrolmentData(**{"name": "Jeanne Martin", "phone": "06 12 34 56 78", "consent_method": "written", **kw})
    return enrollment_create(study=study, data=data, by=None, now=timezone.now())


def test_enrolment_normalises_contact_data_and_plans_the_schedule(make):
    version = make.published_version()
    study = version.questionnaire.study
    study.consent_required = False
    study.save()
    make.timepoint(version=version, code="t0", offset=0, window=7)
    make.timepoint(version=version, code="t30", offset=30, window=7)
    enrollment = enrol(make, study=study, email=" Jeanne.Martin@Example.FR ", birth_date="03/02/1951")
    patient = enrollment.patient
    assert patient.phone == "+33612345678" and patient.email == "jeanne.martin@example.fr"
    assert patient.birth_date == "1951-02-03"
    assert pseudonyms.pseudonym_is_valid(enrollment.participant.pseudonym)
    due = list(enrollment.participant.assignments.order_by("due_at").values_list("due_at", flat=True))
    assert len(due) == 2 and due[1] - due[0] == dt.timedelta(days=30)


def test_same_phone_or_email_in_the_same_study_is_a_duplicate(make):
    study = make.study(consent_required=False)
    enrol(make, study=study, email="a@example.org")
    with pytest.raises(EnrolmentInvalid) as caught:
        enrol(make, study=study, name="Other Person", phone="+33 6 12 34 56 78", email="A@example.org")
    # Without a study-wide investigator asking, the message says no more than "cannot be enrolled".
    assert caught.value.problems == {
        "phone": "This phone number cannot be enrolled.",
        "email": "This email address cannot be enrolled.",
    }
    # Another study may enrol the same person.
    assert enrol(make, study=make.study(consent_required=False)).pk


def test_bad_data_is_reported_per_field_and_nothing_is_written(make):
    study = make.study(consent_required=False)
    data = EnrolmentData(
        name=" ",
        phone="12",
        email="nope",
        language="de",
        time_zone="Mars/Base",
        preferred_channel="pigeon",
        site="nowhere",
        consent_method="maybe",
        birth_date="31/02/1950",
    )
    problems = enrolment_problems(study=study, data=data)
    assert set(problems) == {
        "name",
        "phone",
        "email",
        "language",
        "time_zone",
        "preferred_channel",
        "site",
        "consent_method",
        "birth_date",
    }
    assert problems["phone"] == "12 is not a valid phone number."
    with pytest.raises(EnrolmentInvalid):
        enrollment_create(study=study, data=data, by=None, now=timezone.now())
    assert not Enrollment.objects.exists()
