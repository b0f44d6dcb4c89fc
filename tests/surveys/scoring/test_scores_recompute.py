"""Recomputing the stored scores of a version: service, management command and admin action, all audited."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse

from surveys.models import Response, ScoreRecomputation
from surveys.questionnaires import publish
from surveys.scoring.compute import scores_recompute

ITEMS = ["q1", "q2", "q3"]
OPTIONS = [("a0", "Jamais", "Never", 0), ("a1", "Parfois", "Sometimes", 1), ("a2", "Souvent", "Often", 2)]
RULES = {
    "scores": [
        {
            "name": "total",
            "label": {"fr": "Score total", "en": "Total score"},
            "items": ITEMS,
            "method": "sum",
            "bands": [
                {"code": "low", "min": 0, "max": 2, "label": {"fr": "Bas", "en": "Low"}},
                {"code": "high", "min": 3, "max": 6, "label": {"fr": "Haut", "en": "High"}},
            ],
        }
    ]
}


def scored_version(make, study=None):
    q = make.questionnaire(study=study, code="scored")
    for code in ITEMS:
        make.item(questionnaire=q, link_id=code, options=OPTIONS)
    q.rules = RULES
    q.save()
    return publish.questionnaire_publish(questionnaire=q, by=None)


def completed(make, version, answers: dict, scores: dict | None = None, status: str = "completed") -> Response:
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study)
    assignment = make.assignment(participant=participant, timepoint=tp)
    return make.response(assignment=assignment, status=status, answers=answers, scores=scores or {})


ALL_ONES = {"q1": "a1", "q2": "a1", "q3": "a1"}
RIGHT = {"total": {"value": 3, "raw": 3, "answered": 3, "of": 3, "prorated": False, "band": "high"}}


@pytest.fixture
def version(make):
    return scored_version(make)


def test_recompute_rewrites_only_changed_scores_of_completed_responses_with_history(make, version):
    stale = completed(make, version, ALL_ONES, scores={"total": {"value": 0}})
    empty = completed(make, version, {"q1": "a2", "q2": "a2"})  # q3 missing: no score, not 4
    right = completed(make, version, ALL_ONES, scores=RIGHT)
    ongoing = completed(make, version, ALL_ONES, status="in_progress")
    user = make.user()
    before = {r.pk: r.history.count() for r in (stale, empty, right, ongoing)}

    audit = scores_recompute(version=version, by=user, reason="engine fix")

    assert (audit.responses, audit.changed, audit.by, audit.reason) == (3, 2, user, "engine fix")
    stale.refresh_from_db()
    empty.refresh_from_db()
    ongoing.refresh_from_db()
    assert stale.scores == RIGHT
    assert empty.scores == {"total": {"value": None, "answered": 2, "of": 3, "reason": "too_few_answers"}}
    assert ongoing.scores == {}  # not submitted: nothing to score yet
    for response in (stale, empty):
        latest = response.history.first()
        assert response.history.count() == before[response.pk] + 1
        assert latest.history_change_reason == "scores recomputed: engine fix"
        assert latest.history_user == user and latest.scores == response.scores
    assert right.history.count() == before[right.pk] and ongoing.history.count() == before[ongoing.pk]

    again = scores_recompute(version=version, by=None, reason="check")
    assert (again.responses, again.changed) == (3, 0)
    assert ScoreRecomputation.objects.filter(version=version).count() == 2


def test_recompute_in_small_batches_counts_every_response(make, version):
    responses = [completed(make, version, ALL_ONES) for _ in range(5)]
    audit = scores_recompute(version=version, by=None, reason="", batch_size=2)
    assert (audit.responses, audit.changed) == (5, 5)
    assert all(Response.objects.get(pk=r.pk).scores == RIGHT for r in responses)
    assert responses[0].history.first().history_change_reason == "scores recomputed"


def test_recompute_leaves_other_versions_alone(make, version):
    q = version.questionnaire
    q.rules = {"scores": [{**RULES["scores"][0], "method": "mean", "bands": []}]}
    q.save()
    second = publish.questionnaire_publish(questionnaire=q, by=None)
    assert second.number == 2
    old = completed(make, version, ALL_ONES)
    new = completed(make, second, ALL_ONES)
    scores_recompute(version=second, by=None, reason="v2 only")
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.scores == {}
    assert new.scores["total"]["value"] == 1 and new.scores["total"]["band"] is None


# --- management command --------------------------------------------------------------------------


def test_command_recomputes_one_version_or_every_version(make, version, capsys):
    study, q = version.questionnaire.study, version.questionnaire
    stale = completed(make, version, ALL_ONES)
    user = make.user(username="dm-ops")
    call_command(
        "recompute_scores", study.code, q.code, "--version", "1", "--reason", "fixed bands", "--user", "dm-ops"
    )
    out = capsys.readouterr().out
    assert f"{study.code}/{q.code} v1: 1 completed response(s) recomputed, 1 changed" in out
    audit = ScoreRecomputation.objects.get()
    assert (audit.version, audit.by, audit.reason, audit.responses, audit.changed) == (
        version,
        user,
        "fixed bands",
        1,
        1,
    )
    stale.refresh_from_db()
    assert stale.scores == RIGHT

    q.rules = {}
    q.save()
    publish.questionnaire_publish(questionnaire=q, by=None)
    call_command("recompute_scores", study.code, q.code)
    out = capsys.readouterr().out
    assert "v1: 1 completed response(s) recomputed, 0 changed" in out and "v2: 0 completed" in out
    assert ScoreRecomputation.objects.count() == 3
    assert ScoreRecomputation.objects.filter(by__isnull=True, reason="recompute_scores command").count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "scored"], "No study with code 'nope'."),
        (["{study}", "other"], "Study {study} has no questionnaire 'other' (its questionnaires: scored)."),
        (["{study}", "scored", "--version", "7"], "Questionnaire {study}/scored has no version 7 (its versions: 1)."),
        (["{study}", "scored", "--user", "ghost"], "No user 'ghost'."),
    ],
)
def test_command_names_what_it_cannot_find_and_changes_nothing(make, version, args, message):
    study = version.questionnaire.study.code
    completed(make, version, ALL_ONES)
    with pytest.raises(CommandError) as error:
        call_command("recompute_scores", *[a.format(study=study) for a in args])
    assert str(error.value) == message.format(study=study)
    assert not ScoreRecomputation.objects.exists()


def test_command_refuses_a_questionnaire_never_published(make):
    q = make.questionnaire(code="draft")
    with pytest.raises(CommandError, match="has no published version"):
        call_command("recompute_scores", q.study.code, "draft")


# --- admin action and response page ----------------------------------------------------------------


def changelist() -> str:
    return reverse("admin:surveys_questionnaireversion_changelist")


def staff(client, make, study, role):
    user = make.user()
    make.member(user=user, study=study, role=role)
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_designer_recomputes_from_the_admin_and_sees_the_counts(client, make, version):
    designer = staff(client, make, version.questionnaire.study, "designer")
    stale = completed(make, version, ALL_ONES)
    completed(make, version, ALL_ONES, scores=RIGHT)
    page = client.get(changelist())
    assert "recompute_scores" in page.context["action_form"].fields["action"].choices.__repr__()
    done = client.post(changelist(), {"action": "recompute_scores", "_selected_action": [version.pk]}, follow=True)
    assert f"{version}: scores of 2 completed response(s) recomputed, 1 changed." in messages_of(done)
    audit = ScoreRecomputation.objects.get()
    assert (audit.by, audit.responses, audit.changed, audit.reason) == (designer, 2, 1, "admin action")
    assert stale.history.first().history_user == designer
    # The version page lists the audit.
    detail = client.get(reverse("admin:surveys_questionnaireversion_change", args=[version.pk])).content.decode()
    assert "admin action" in detail and "1 / 2" in detail


@pytest.mark.parametrize("role", ["data_manager", "reviewer", "investigator"])
def test_roles_that_may_not_change_questionnaires_get_no_recompute_action(client, make, version, role):
    staff(client, make, version.questionnaire.study, role)
    completed(make, version, ALL_ONES)
    page = client.get(changelist())
    assert page.status_code == 200
    action_form = page.context.get("action_form")
    assert action_form is None or "recompute_scores" not in repr(action_form.fields["action"].choices)
    client.post(changelist(), {"action": "recompute_scores", "_selected_action": [version.pk]})
    assert not ScoreRecomputation.objects.exists()


def test_a_designer_elsewhere_cannot_recompute_a_study_where_they_only_review(client, make, version):
    elsewhere = make.study()
    user = staff(client, make, elsewhere, "designer")
    make.member(user=user, study=version.questionnaire.study, role="reviewer")
    done = client.post(changelist(), {"action": "recompute_scores", "_selected_action": [version.pk]}, follow=True)
    assert f"{version}: you may not recompute its scores." in messages_of(done)
    assert not ScoreRecomputation.objects.exists()


def test_response_page_shows_scores_readably(client, make, version):
    response = completed(make, version, ALL_ONES, scores=RIGHT)
    staff(client, make, version.questionnaire.study, "data_manager")
    html = client.get(reverse("admin:surveys_response_change", args=[response.pk])).content.decode()
    assert "Total score" in html and "<code>total</code>" in html and "High" in html and "3/3" in html
    listing = client.get(reverse("admin:surveys_response_changelist")).content.decode()
    assert "total 3 (High)" in listing
    missing = completed(
        make,
        version,
        {"q1": "a1"},
        scores={"total": {"value": None, "answered": 1, "of": 3, "reason": "too_few_answers"}},
    )
    html = client.get(reverse("admin:surveys_response_change", args=[missing.pk])).content.decode()
    assert "too few answers" in html and "1/3" in html
