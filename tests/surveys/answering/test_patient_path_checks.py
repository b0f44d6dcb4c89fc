"""The year-of-birth check comes first on every patient path /s/<token>/…: nothing shown, nothing written."""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from patients.consent.records import consent_record
from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.models import ConsentRecord, Enrollment
from surveys.answering.links import assignment_link_token
from surveys.models import Participant, Response


def _routes(patterns=None, prefix=""):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


# Every patient path reached by a link token, read from the URL resolver: a new one is covered by itself.
LINK_ROUTES = sorted({r for r in _routes() if r == "s/<str:token>" or r.startswith("s/<str:token>/")})


def test_the_known_patient_paths_are_found():
    assert {"s/<str:token>", "s/<str:token>/consent", "s/<str:token>/withdraw"} <= set(LINK_ROUTES)


def _link(make, *, consented: bool):
    version = make.published_version(study=make.study(legal_basis="consent", link_check="birth_year"))
    study = version.questionnaire.study
    notice = make.consent_notice(study=study, version="1.0", language="en", title="About the study", text="Why.")
    make.timepoint(version=version, code="t0", offset=0, window=7)
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(name="Jeanne Martin", phone="06 12 34 56 78", birth_date="03/02/1951", language="en"),
        by=None,
        now=timezone.now() - timedelta(minutes=1),
    )
    if consented:
        consent_record(
            enrollment=enrollment,
            notice=notice,
            method="electronic",
            typed_name="Jeanne Martin",
            by=None,
            now=timezone.now(),
        )
    assignment = enrollment.participant.assignments.get()
    return assignment_link_token(assignment=assignment), notice, enrollment


def _written(enrollment) -> tuple:
    enrollment.refresh_from_db()
    return (
        ConsentRecord.objects.count(),
        Response.objects.count(),
        enrollment.withdrawn_at,
        Participant.objects.get(pk=enrollment.participant_id).status,
    )


@pytest.mark.parametrize("consented", [False, True], ids=["needs-consent", "open"])
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("route", LINK_ROUTES)
def test_every_link_path_asks_the_year_of_birth_first(client, make, route, method, consented):
    token, notice, enrollment = _link(make, consented=consented)
    before = _written(enrollment)
    path = "/" + route.replace("<str:token>", token)
    # Everything any of these forms could take: a consent, answers, a submit, a withdrawal with deletion.
    data = {
        "notice": notice.pk,
        "agree": "yes",
        "typed_name": "Someone Else",
        "action": "submit",
        "page": "1",
        "shown": "mood pain",
        "mood": "a1",
        "pain": "2",
        "data": "delete",
    }
    response = client.get(path) if method == "get" else client.post(path, data)
    html = response.content.decode()
    assert response.status_code == 200 and 'name="birth_year"' in html, (path, response.status_code)
    assert "About the study" not in html and "Question mood" not in html
    assert _written(enrollment) == before
    assert not ConsentRecord.objects.filter(typed_name="Someone Else").exists()
    assert Enrollment.objects.get(pk=enrollment.pk).withdrawn_at is None


def test_after_the_check_the_consent_page_opens(client, make):
    token, notice, enrollment = _link(make, consented=False)
    path = f"/s/{token}/consent"
    passed = client.post(path, {"action": "check", "birth_year": "1951"})
    assert passed.status_code == 302 and passed.url == path
    page = client.get(path)
    assert page.status_code == 200 and "About the study" in page.content.decode()
    client.post(path, {"notice": notice.pk, "agree": "yes", "typed_name": "Jeanne Martin"})
    assert ConsentRecord.objects.filter(enrollment=enrollment).count() == 1
