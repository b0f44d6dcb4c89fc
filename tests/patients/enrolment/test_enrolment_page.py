"""The investigators' enrolment page: one patient in under a minute, pseudonym and schedule shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from patients.models import ConsentRecord, Enrollment
from surveys.participants import pseudonyms
from tests import factories


def enrol_url(study) -> str:
    return reverse("patients:enrol", args=[study.code])


def investigator(client, make, study, *, site=None):
    user = make.user()
    membership = make.member(user=user, study=study, role="investigator")
    if site is not None:
        membership.site = site
        membership.save()
    client.force_login(user)
    return user


def scheduled_study(make, **kw):
    version = make.published_version(study=make.study(time_zone="Europe/Paris", **kw))
    make.timepoint(version=version, code="t0", label="Baseline", offset=0, window=7)
    make.timepoint(version=version, code="m3", label="Three months", offset=90, window=14)
    return version.questionnaire.study


FORM = {
    "name": "Jeanne Martin",
    "phone": "06 12 34 56 78",
    "email": "",
    "birth_date": "1951-02-03",
    "preferred_channel": "sms",
    "language": "fr",
    "time_zone": "",
    "consent_method": "written",
}


def test_investigator_enrols_a_patient_and_sees_pseudonym_and_schedule(client, make):
    study = scheduled_study(make, consent_required=False)
    user = investigator(client, make, study)
    page = client.get(enrol_url(study))
    assert page.status_code == 200
    html = page.content.decode()
    # Few fields, good defaults, nothing remembered by a shared browser.
    assert "autofocus" in html and 'autocomplete="off"' in html
    assert page.context["form"]["time_zone"].value() == "Europe/Paris"
    assert page.context["form"]["consent_method"].value() == "written"
    assert "external_id" not in page.context["form"].fields

    response = client.post(enrol_url(study), FORM)
    enrollment = Enrollment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:enrolled", args=[study.code, enrollment.pk])
    assert enrollment.consent_recorded_by == user and enrollment.patient.time_zone == "Europe/Paris"
    assert enrollment.patient.birth_date == "1951-02-03"

    done = client.get(response["Location"])
    html = done.content.decode()
    pseudonym = enrollment.participant.pseudonym
    assert pseudonyms.pseudonym_is_valid(pseudonym)
    assert 'class="staff-pseudonym"' in html and pseudonym in html
    assert [a.timepoint.label for a in done.context["schedule"]] == ["Baseline", "Three months"]
    # Times are shown in the study's time zone.
    first = done.context["schedule"][0]
    from zoneinfo import ZoneInfo

    from django.utils.formats import date_format

    local = first.due_at.astimezone(ZoneInfo("Europe/Paris"))
    assert date_format(local, "DATETIME_FORMAT") in html
    assert "Jeanne" not in html  # the result page is read aloud: the pseudonym, not the name


def test_problems_come_back_next_to_their_fields_and_nothing_is_saved(client, make):
    study = scheduled_study(make, consent_required=False)
    investigator(client, make, study)
    page = client.post(enrol_url(study), {**FORM, "name": " ", "phone": "12", "birth_date": "3000-01-01"})
    assert page.status_code == 200
    form = page.context["form"]
    assert form.errors == {
        "name": ["The name is missing."],
        "phone": ["12 is not a valid phone number."],
        "birth_date": ["3000-01-01 is not a date of birth (use DD/MM/YYYY)."],
    }
    html = page.content.decode()
    assert 'id="id_phone_error"' in html
    assert 'aria-describedby="id_phone_error id_phone_help"' in html and 'aria-invalid="true"' in html
    assert not Enrollment.objects.exists()


def test_same_phone_in_the_study_is_a_duplicate_with_a_clear_message(client, make):
    study = scheduled_study(make, consent_required=False)
    investigator(client, make, study)
    assert client.post(enrol_url(study), FORM).status_code == 302
    again = client.post(enrol_url(study), {**FORM, "name": "Someone Else", "phone": "+33 6 12 34 56 78"})
    assert again.context["form"].errors == {"phone": ["Another patient of this study has this phone number."]}
    assert Enrollment.objects.count() == 1


def test_consent_choices_follow_the_study_and_pending_needs_a_notice(client, make):
    study = scheduled_study(make, legal_basis="non_opposition")
    investigator(client, make, study)
    form = client.get(enrol_url(study)).context["form"]
    assert [c for c, _label in form.fields["consent_method"].choices] == ["written", "non_opposition"]
    assert "notice_version" not in form.fields

    factories.consent_notice(study=study, version="1.0", language="fr", title="Notice", text="v1")
    factories.consent_notice(study=study, version="2.0", language="fr", title="Notice", text="v2")
    factories.consent_notice(study=study, version="2.0", language="en", title="Notice", text="v2")
    form = client.get(enrol_url(study)).context["form"]
    assert [c for c, _label in form.fields["consent_method"].choices] == ["pending", "written", "non_opposition"]
    assert form.fields["notice_version"].choices == [("2.0", "2.0"), ("1.0", "1.0")]
    assert form["notice_version"].value() == "2.0"

    client.post(enrol_url(study), {**FORM, "consent_method": "non_opposition", "notice_version": "1.0"})
    enrollment = Enrollment.objects.get()
    assert (enrollment.consent_method, enrollment.consent_document_version) == ("non_opposition", "1.0")
    assert ConsentRecord.objects.get(enrollment=enrollment).notice.version == "1.0"

    client.post(enrol_url(study), {**FORM, "phone": "0781223344", "consent_method": "pending", "notice_version": "2.0"})
    pending = Enrollment.objects.get(consent_method="pending")
    assert pending.consent_recorded_at is None and pending.participant.consented_at is None


def test_external_identifier_is_asked_only_when_pseudonyms_derive_from_it_and_never_stored(client, make, settings):
    settings.PSEUDONYM_KEYS = {"ext": "key-of-ext-0123456789"}
    study = make.study(code="ext", consent_required=False, pseudonym_mode="external_id")
    investigator(client, make, study)
    page = client.get(enrol_url(study))
    assert "never stored" in page.content.decode()
    client.post(enrol_url(study), {**FORM, "external_id": "1 85 05 78 006 084 36"})
    enrollment = Enrollment.objects.get()
    expected = pseudonyms.pseudonym_from_external_id(study=study, external_id="185057800608436")
    assert enrollment.participant.pseudonym == expected
    again = client.post(enrol_url(study), {**FORM, "phone": "0781223344", "external_id": "185057800608436"})
    assert again.context["form"].errors == {"external_id": ["This person is already enrolled in this study."]}


@pytest.mark.parametrize("role", ["designer", "data_manager", "reviewer"])
def test_only_investigators_of_the_study_reach_the_page(client, make, role):
    study, other = make.study(), make.study()
    user = make.user()
    make.member(user=user, study=study, role=role)
    make.member(user=user, study=other, role="investigator")
    client.force_login(user)
    assert client.get(enrol_url(study)).status_code == 403
    assert client.post(enrol_url(study), FORM).status_code == 403
    assert client.get(enrol_url(other)).status_code == 200
    assert not Enrollment.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, make):
    study = make.study()
    response = client.get(enrol_url(study))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_result_page_of_another_study_is_not_found(client, make):
    study, other = scheduled_study(make, consent_required=False), make.study()
    investigator(client, make, study)
    client.post(enrol_url(study), FORM)
    enrollment = Enrollment.objects.get()
    user = make.user()
    make.member(user=user, study=other, role="investigator")
    client.force_login(user)
    assert client.get(reverse("patients:enrolled", args=[study.code, enrollment.pk])).status_code == 404
    assert client.get(reverse("patients:enrolled", args=[other.code, enrollment.pk])).status_code == 404


def test_study_admin_links_investigators_to_the_enrolment_page(client, make):
    study = make.study()
    investigator(client, make, study)
    listing = client.get(reverse("admin:surveys_study_changelist")).content.decode()
    assert enrol_url(study) in listing and reverse("patients:import", args=[study.code]) in listing
    page = client.get(reverse("admin:surveys_study_change", args=[study.pk])).content.decode()
    assert enrol_url(study) in page
    designer = make.user()
    make.member(user=designer, study=study, role="designer")
    client.force_login(designer)
    assert enrol_url(study) not in client.get(reverse("admin:surveys_study_changelist")).content.decode()
