"""The admin never shows a stored identity: it links to the audited page (reason asked, recorded)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.enrolment.enrol import (
    DUPLICATE_PHONE,
    DUPLICATE_PHONE_DETAIL,
    EnrolmentData,
    EnrolmentInvalid,
    enrollment_create,
)
from patients.models import ConsentRecord, ReidentificationEvent

NAME, EMAIL, PHONE, BORN = "Philomène Kerdraon", "philomene.kerdraon@example.fr", "+33698765432", "1948-07-14"
SHOWN = (NAME, EMAIL, PHONE, "06 98 76 54 32", BORN, "14/07/1948")


@pytest.fixture
def enrolled(make):
    study = make.study(consent_required=False)
    make.site(study=study, code="nord")
    make.site(study=study, code="sud")
    return enrollment_create(
        study=study,
        by=None,
        now=timezone.now(),
        data=EnrolmentData(name=NAME, email=EMAIL, phone="06 98 76 54 32", birth_date="14/07/1948", site="nord"),
    )


def investigator(make, study, site=None):
    user = make.user()
    make.member(user=user, study=study, role="investigator", site=site)
    return user


def test_patient_pages_show_no_identity_and_link_to_the_audited_page(enrolled, make, client):
    client.force_login(investigator(make, enrolled.participant.study))
    patient = enrolled.patient
    for url in (
        reverse("admin:patients_patient_change", args=[patient.pk]),
        reverse("admin:patients_patient_changelist"),
        reverse("admin:patients_patient_changelist") + "?q=Kerdraon",
        reverse("admin:patients_enrollment_change", args=[enrolled.pk]),
        reverse("admin:patients_enrollment_changelist"),
        reverse("admin:patients_consentrecord_changelist"),
        reverse("admin:patients_message_changelist"),
    ):
        html = client.get(url).content.decode()
        for value in SHOWN:
            assert value not in html, (url, value)
    page = client.get(reverse("admin:patients_patient_change", args=[patient.pk])).content.decode()
    assert "See who this is (reason asked, recorded)" in page
    assert reverse("patients:staff_reidentify", args=[enrolled.participant_id]) in page
    form = client.get(reverse("admin:patients_patient_change", args=[patient.pk])).context["adminform"].form
    assert not any(form[name].value() for name in ("new_name", "new_email", "new_phone", "new_birth_date"))
    assert not {"name", "email", "phone", "birth_date"} & set(form.fields)
    assert not ReidentificationEvent.objects.exists()


def test_a_consent_record_page_hides_the_typed_name(make, enrolled, client):
    from django.contrib import admin

    from patients.admin import ConsentRecordAdmin

    client.force_login(investigator(make, enrolled.participant.study))
    model_admin = ConsentRecordAdmin(ConsentRecord, admin.site)
    assert "typed_name" not in model_admin.get_readonly_fields(None)


def test_a_message_error_quoting_the_number_is_shown_redacted():
    from patients.admin import contact_redact

    assert PHONE not in contact_redact(f"The 'To' number {PHONE} is not a valid phone number")
    assert EMAIL not in contact_redact(f"bounced: {EMAIL}")


def test_duplicate_message_says_nothing_to_a_site_limited_investigator(enrolled, make):
    study = enrolled.participant.study
    limited = investigator(make, study, site=study.sites.get(code="sud"))
    wide = investigator(make, study)
    data = lambda site: EnrolmentData(name="Autre", phone=PHONE, site=site)  # noqa: E731
    with pytest.raises(EnrolmentInvalid) as refused:
        enrollment_create(study=study, data=data("sud"), by=limited, now=timezone.now())
    assert refused.value.problems["phone"] == str(DUPLICATE_PHONE) == "This phone number cannot be enrolled."
    with pytest.raises(EnrolmentInvalid) as told:
        enrollment_create(study=study, data=data("sud"), by=wide, now=timezone.now())
    assert told.value.problems["phone"] == str(DUPLICATE_PHONE_DETAIL)
