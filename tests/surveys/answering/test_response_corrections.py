"""Corrections of submitted answers: validated as on the patient pages, audited, idempotent, in scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from surveys.answering.corrections import CorrectionRefused, response_correct
from surveys.models import Response, ResponseCorrection
from surveys.questionnaires.publish import questionnaire_publish


@pytest.fixture
def world(make):
    study = make.study(code="corr-study")
    version = questionnaire_publish(questionnaire=make.valid_questionnaire(study=study), by=None)
    tp = make.timepoint(version=version)
    participant = make.participant(study=study)
    assignment = make.assignment(participant=participant, timepoint=tp)
    response = make.response(assignment=assignment, status="completed", answers={"mood": "a1", "pain": 3})
    return study, response


def member(make, study, role):
    user = make.user()
    make.member(user=user, study=study, role=role)
    return user


def test_investigator_corrects_an_answer_with_one_row_per_change(make, world):
    study, response = world
    user = member(make, study, "investigator")
    outcome = response_correct(response=response, posted={"pain": ["7"]}, reason="patient called", by=user)
    response.refresh_from_db()
    assert response.answers == {"mood": "a1", "pain": 7}
    assert response.source == Response.Source.CORRECTED
    [row] = outcome.corrections
    assert (row.link_id, row.old_value, row.new_value, row.by, row.reason) == ("pain", 3, 7, user, "patient called")
    # The same form posted again changes nothing and writes no second row.
    again = response_correct(response=response, posted={"pain": ["7"]}, reason="patient called", by=user)
    assert again.corrections == []
    assert ResponseCorrection.objects.filter(response=response).count() == 1


def test_value_refused_by_the_patient_pages_is_refused_naming_the_item(make, world):
    study, response = world
    user = member(make, study, "data_manager")
    with pytest.raises(CorrectionRefused) as refused:
        response_correct(response=response, posted={"pain": ["12"]}, reason="call", by=user)
    assert set(refused.value.errors) == {"pain"}
    with pytest.raises(CorrectionRefused) as refused:
        response_correct(response=response, posted={"pain": ["5"]}, reason="  ", by=user)
    assert set(refused.value.errors) == {"reason"}
    response.refresh_from_db()
    assert response.answers["pain"] == 3 and response.source == Response.Source.PATIENT
    assert not ResponseCorrection.objects.exists()


def test_page_other_study_404_designer_refused(client, make, world):
    study, response = world
    url = reverse("surveys:correct_response", args=[response.pk])
    client.force_login(member(make, make.study(), "investigator"))
    assert client.get(url).status_code == 404
    client.force_login(member(make, study, "designer"))
    assert client.post(url, {"shown": "pain", "pain": "9", "reason": "x"}).status_code in (403, 404)
    client.force_login(member(make, study, "investigator"))
    assert client.get(url).status_code == 200
    page = client.post(url, {"shown": "pain mood", "pain": "12", "mood": "a1", "reason": "call"})
    assert page.status_code == 422 and "pain" in page.content.decode()
    assert client.post(url, {"shown": "pain mood", "pain": "9", "mood": "a1", "reason": "call"}).status_code == 302
    assert client.post(url, {"shown": "pain mood", "pain": "9", "mood": "a1", "reason": "call"}).status_code == 302
    response.refresh_from_db()
    assert response.answers["pain"] == 9
    assert ResponseCorrection.objects.filter(response=response).count() == 1


def test_correction_recomputes_the_score_and_raises_a_new_alert_once(make):
    from surveys.models import Alert
    from surveys.scoring.alerts import alerts_raise
    from tests.surveys.scoring.test_alerts import build

    study = make.study(code="corr-alerts")
    version = questionnaire_publish(questionnaire=build(make, study=study), by=None)
    assignment = make.assignment(participant=make.participant(study=study), timepoint=make.timepoint(version=version))
    response = make.response(assignment=assignment, status="completed", answers={"q1": "a1", "q9": "a1"})
    from surveys.scoring import compute

    response.scores = compute.scores_compute(version.definition, response.answers)
    response.save()
    alerts_raise(response=response)
    assert set(Alert.objects.values_list("rule", flat=True)) == {"item9"}
    user = member(make, study, "investigator")
    outcome = response_correct(response=response, posted={"q1": ["a3"], "q9": ["a2"]}, reason="call", by=user)
    response.refresh_from_db()
    assert response.scores["total"]["value"] > 2
    assert [a.rule for a in outcome.alerts] == ["severe"]
    assert sorted(Alert.objects.filter(response=response).values_list("rule", flat=True)) == ["item9", "severe"]


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(st.integers(-5, 20).map(str), st.text(alphabet="0123456789,.- abc", max_size=6)))
def test_correction_accepts_exactly_what_the_patient_page_accepts(make, world, raw):
    from django.utils.datastructures import MultiValueDict

    from surveys.answering import rendering

    study, response = world
    Response.objects.filter(pk=response.pk).update(answers={"mood": "a1", "pain": 3})
    user = member(make, study, "investigator")
    definition = response.version.definition
    [page] = rendering.build_pages(definition, "en")
    patient = rendering.page_submission(
        definition=definition,
        page=page,
        language="en",
        answers={"mood": "a1"},
        post=MultiValueDict({"pain": [raw], "mood": ["a1"]}),
        check_required=True,
    )
    try:
        response_correct(response=response, posted={"pain": [raw]}, reason="call", by=user)
        accepted = True
    except CorrectionRefused as refused:
        accepted = "pain" not in refused.errors
    assert accepted == ("pain" not in patient.errors)


def test_member_of_another_site_gets_404(client, make, world):

    study, response = world
    north, south = make.site(study=study, code="north"), make.site(study=study, code="south")
    response.assignment.participant.site = north
    response.assignment.participant.save()
    user = make.user()
    make.member(user=user, study=study, role="investigator", site=south)
    client.force_login(user)
    url = reverse("surveys:correct_response", args=[response.pk])
    assert client.post(url, {"shown": "pain", "pain": "9", "reason": "x"}).status_code == 404
    assert not ResponseCorrection.objects.exists()


@pytest.mark.parametrize(
    "role, may", [("investigator", True), ("data_manager", True), ("designer", False), ("reviewer", False)]
)
def test_the_permission_matrix_gives_corrections_to_investigators_and_data_managers(make, world, role, may):
    from surveys.rules import CORRECT_RESPONSE

    study, response = world
    user = member(make, study, role)
    assert user.has_perm(CORRECT_RESPONSE, response) is may
    assert user.has_perm("surveys.view_responsecorrection", response) is may
    for action in ("add", "change", "delete"):
        assert not user.has_perm(f"surveys.{action}_responsecorrection")


def test_the_response_admin_page_leads_to_the_correction_page(client, make, world):
    study, response = world
    client.force_login(member(make, study, "data_manager"))
    page = client.get(reverse("admin:surveys_response_change", args=[response.pk])).content.decode()
    assert reverse("surveys:correct_response", args=[response.pk]) in page
