"""Re-identification (pseudonym → person): investigators of the study and site only, always audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.identity.reidentify import participant_reidentify
from patients.models import ReidentificationEvent

NAME, EMAIL, PHONE, BORN = "Philomène Kerdraon", "philomene.kerdraon@example.fr", "+33698765432", "1948-07-14"


@pytest.fixture
def enrolled(make):
    study = make.study(consent_required=False)
    site = make.site(study=study, code="nord")
    enrollment = enrollment_create(
        study=study,
        by=None,
        now=timezone.now(),
        data=EnrolmentData(name=NAME, email=EMAIL, phone="06 98 76 54 32", birth_date="14/07/1948", site="nord"),
    )
    return enrollment.participant, site


def member(make, participant, role: str, **kw):
    user = make.user()
    make.member(user=user, study=participant.study, role=role, **kw)
    return user


def url(participant) -> str:
    return reverse("patients:staff_reidentify", args=[participant.pk])


def test_investigator_sees_the_identity_and_exactly_one_event_is_written(enrolled, make, client):
    participant, _site = enrolled
    investigator = member(make, participant, "investigator")
    client.force_login(investigator)

    form = client.get(url(participant))
    assert form.status_code == 200
    assert NAME not in form.content.decode() and not ReidentificationEvent.objects.exists()

    shown = client.post(url(participant), {"reason": "call back about a missed visit"})
    html = shown.content.decode()
    assert shown.status_code == 200
    for value in (NAME, EMAIL, PHONE, BORN):
        assert value in html
    assert "no-store" in shown["Cache-Control"]
    event = ReidentificationEvent.objects.get()
    assert (event.user, event.participant, event.reason) == (
        investigator,
        participant,
        "call back about a missed visit",
    )
    assert abs((timezone.now() - event.at).total_seconds()) < 60


def test_each_lookup_is_its_own_event(enrolled, make):
    participant, _site = enrolled
    investigator = member(make, participant, "investigator")
    for reason in ("first call", "second call"):
        assert participant_reidentify(user=investigator, participant=participant, reason=reason).name == NAME
    assert list(ReidentificationEvent.objects.order_by("at", "pk").values_list("reason", flat=True)) == [
        "first call",
        "second call",
    ]


def test_a_reason_is_required_and_nothing_is_shown_or_written_without_one(enrolled, make, client):
    participant, _site = enrolled
    investigator = member(make, participant, "investigator")
    client.force_login(investigator)
    refused = client.post(url(participant), {"reason": "   "})
    html = refused.content.decode()
    assert refused.status_code == 422
    assert "Say why you need to see who this is." in html and NAME not in html
    assert 'aria-describedby="reason-help reason-err"' in html
    with pytest.raises(ValidationError):
        participant_reidentify(user=investigator, participant=participant, reason="")
    assert not ReidentificationEvent.objects.exists()


@pytest.mark.parametrize("role, status", [("data_manager", 403), ("designer", 404), ("reviewer", 404)])
def test_other_roles_get_no_identity_and_leave_no_event(enrolled, make, client, role, status):
    participant, _site = enrolled
    user = member(make, participant, role)
    client.force_login(user)
    for response in (client.get(url(participant)), client.post(url(participant), {"reason": "curious"})):
        assert response.status_code == status
        assert NAME not in response.content.decode()
    with pytest.raises(PermissionDenied):
        participant_reidentify(user=user, participant=participant, reason="curious")
    assert not ReidentificationEvent.objects.exists()


def test_investigator_of_another_study_gets_nothing(enrolled, make, client):
    participant, _site = enrolled
    elsewhere = make.user()
    make.member(user=elsewhere, study=make.study(), role="investigator")
    client.force_login(elsewhere)
    assert client.post(url(participant), {"reason": "curious"}).status_code == 404
    with pytest.raises(PermissionDenied):
        participant_reidentify(user=elsewhere, participant=participant, reason="curious")
    assert not ReidentificationEvent.objects.exists()


def test_site_limited_investigators_see_their_own_site_only(enrolled, make, client):
    participant, site = enrolled
    other_site = make.site(study=participant.study, code="sud")
    outsider = member(make, participant, "investigator", site=other_site)
    client.force_login(outsider)
    assert client.post(url(participant), {"reason": "curious"}).status_code == 404
    assert not ReidentificationEvent.objects.exists()

    insider = member(make, participant, "investigator", site=site)
    assert participant_reidentify(user=insider, participant=participant, reason="follow-up call").name == NAME
    assert ReidentificationEvent.objects.get().user == insider


def test_signed_out_visitors_are_sent_to_sign_in(enrolled, client):
    participant, _site = enrolled
    response = client.post(url(participant), {"reason": "curious"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert not ReidentificationEvent.objects.exists()
