"""Rounds in the admin side: opening freezes the draft and its hash, feedback is consolidated and answered."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import ReviewRound
from surveys.questionnaires import fhir
from surveys.review.rounds import ReviewError, feedback_handle, round_close, round_open, round_summary


@pytest.fixture
def setup(make):
    q = make.valid_questionnaire()
    designer = make.user(staff=True)
    make.member(user=designer, study=q.study, role="designer")
    panel = make.panel(study=q.study, code=f"panel{q.pk}", title="Panel")
    return q, designer, panel


def soon():
    return timezone.now() + timedelta(days=10)


def test_opening_freezes_the_draft_and_its_hash(make, setup):
    q, designer, panel = setup
    expected = fhir.definition_from_draft(q)
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer, title="R1", includes_notice=True)
    assert round_.definition == expected
    assert round_.content_hash == fhir.content_hash(expected)
    item = q.items.get(link_id="mood")
    item.text_en = "Changed after opening"
    item.save()
    round_.refresh_from_db()
    assert round_.content_hash == fhir.content_hash(expected)
    assert "Changed after opening" not in str(round_.definition)
    assert round_.opened_by == designer and round_.includes_notice and round_.closed_at is None
    round_close(round_=round_, by=designer)
    assert ReviewRound.objects.get(pk=round_.pk).closed_at is not None


def test_opening_refuses_another_studys_panel_and_past_deadline(make, setup):
    q, designer, _panel = setup
    foreign = make.panel(study=make.study(), code="foreign", title="Foreign")
    with pytest.raises(ReviewError) as caught:
        round_open(questionnaire=q, panel=foreign, deadline=soon(), by=designer)
    assert caught.value.field == "panel"
    with pytest.raises(ReviewError) as caught:
        round_open(questionnaire=q, panel=_panel, deadline=timezone.now() - timedelta(hours=1), by=designer)
    assert caught.value.field == "deadline"
    site_wide = make.panel(study=None, code="site", title="Site")
    assert round_open(questionnaire=q, panel=site_wide, deadline=soon(), by=designer).panel == site_wide
    assert ReviewRound.objects.count() == 1


def _reviewers(make, panel, kinds):
    users = []
    for kind in kinds:
        user = make.user()
        make.panel_member(panel=panel, user=user, kind=kind)
        users.append(user)
    return users


def test_consolidated_averages_counts_and_overall(make, setup):
    q, designer, panel = setup
    q.study.review_approvals_required = 2
    q.study.save()
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    a, b, c = _reviewers(make, panel, ["expert_patient", "practitioner", "expert_patient"])
    make.item_feedback(
        round=round_,
        reviewer=a,
        link_id="mood",
        clarity=4,
        relevance=5,
        acceptability=3,
        comment="Too vague",
        suggestion="How was your mood this week?",
    )
    make.item_feedback(round=round_, reviewer=b, link_id="mood", clarity=2, relevance=None, acceptability=5)
    make.item_feedback(round=round_, reviewer=c, link_id="pain", clarity=5)
    now = timezone.now()
    make.review_submission(
        round=round_,
        reviewer=a,
        burden=2,
        timing="right",
        comments="Fine",
        approved=True,
        approved_hash=round_.content_hash,
        submitted_at=now,
    )
    make.review_submission(
        round=round_, reviewer=b, burden=5, timing="too_often", approved=True, approved_hash="f" * 64, submitted_at=now
    )
    make.review_submission(
        round=round_, reviewer=c, burden=1, approved=True, approved_hash=round_.content_hash
    )  # not submitted: does not count

    summary = round_summary(round_)
    mood = next(i for i in summary.items if i.link_id == "mood")
    assert mood.averages == {"clarity": 3.0, "relevance": 5.0, "acceptability": 4.0}
    assert mood.counts == {"clarity": 2, "relevance": 1, "acceptability": 2}
    assert mood.texts["en"] == "Question mood"
    assert mood.facts is not None and set(mood.facts.ease) == {"fr", "en"}
    assert [who for who, _row in mood.feedback] == ["Expert patient 1", "Practitioner 1"]
    assert [who for who, _row in mood.comments] == ["Expert patient 1"]
    pain = next(i for i in summary.items if i.link_id == "pain")
    assert pain.feedback[0][0] == "Expert patient 2"
    assert summary.burden_average == 3.5 and summary.burden_count == 2
    assert summary.timing_counts == {"right": 1, "too_often": 1}
    assert summary.approvals == 1 and summary.required == 2


def test_reply_resolve_decline_are_recorded_with_history(make, setup):
    q, designer, panel = setup
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    (reviewer,) = _reviewers(make, panel, ["expert_patient"])
    row = make.item_feedback(round=round_, reviewer=reviewer, link_id="mood", comment="Unclear")

    feedback_handle(feedback=row, by=designer, reply="Thanks, we will reword it.")
    row.refresh_from_db()
    assert row.reply == "Thanks, we will reword it." and row.status == "open"
    assert row.handled_by == designer and row.handled_at is not None

    with pytest.raises(ReviewError) as caught:
        feedback_handle(feedback=row, by=designer, status="declined", reason="  ")
    assert caught.value.field == "reason"
    row.refresh_from_db()
    assert row.status == "open"

    feedback_handle(feedback=row, by=designer, status="declined", reason="The validated wording must stay.")
    row.refresh_from_db()
    assert (row.status, row.reason) == ("declined", "The validated wording must stay.")
    feedback_handle(feedback=row, by=designer, status="resolved")
    assert [h.status for h in row.history.order_by("history_date")] == ["open", "open", "declined", "resolved"]


# --- in the admin ------------------------------------------------------------------------------


def _login(client, make, study, role):
    user = make.user(staff=True)
    make.member(user=user, study=study, role=role)
    client.force_login(user)
    return user


def test_designer_opens_a_round_from_the_admin(client, make, setup):
    q, designer, panel = setup
    client.force_login(designer)
    page = client.get(reverse("admin:surveys_questionnaire_change", args=[q.pk]))
    body = page.content.decode()
    assert "Open a review round" in body and "1 screen," in body
    add = reverse("admin:surveys_reviewround_add")
    form = client.get(add, {"questionnaire": q.pk})
    assert form.status_code == 200
    site_wide = make.panel(study=None, code="site-wide", title="Site-wide")
    foreign = make.panel(study=make.study(), code="other", title="Other study")
    choices = list(form.context["adminform"].form.fields["panel"].queryset)
    assert panel in choices and site_wide in choices and foreign not in choices
    deadline = timezone.localtime(soon())
    response = client.post(
        add,
        {
            "questionnaire": q.pk,
            "panel": site_wide.pk,
            "title": "First look",
            "instructions": "Be frank",
            "deadline_0": deadline.strftime("%Y-%m-%d"),
            "deadline_1": deadline.strftime("%H:%M:%S"),
            "includes_notice": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    round_ = ReviewRound.objects.get()
    assert round_.opened_by == designer and round_.includes_notice and round_.panel == site_wide
    assert round_.content_hash == fhir.content_hash(fhir.definition_from_draft(q))


@pytest.mark.parametrize("role", ["reviewer", "investigator", "data_manager"])
def test_other_staff_roles_read_rounds_but_cannot_open_or_answer(client, make, setup, role):
    q, designer, panel = setup
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    (reviewer,) = _reviewers(make, panel, ["expert_patient"])
    row = make.item_feedback(round=round_, reviewer=reviewer, link_id="mood", comment="Unclear")
    _login(client, make, q.study, role)
    assert client.get(reverse("admin:surveys_reviewround_add")).status_code == 403
    page = client.get(reverse("admin:surveys_reviewround_change", args=[round_.pk]))
    assert page.status_code == 200 and "Unclear" in page.content.decode()
    response = client.post(
        reverse("admin:surveys_reviewround_feedback", args=[round_.pk, row.pk]), {"reply": "x", "status": "resolved"}
    )
    assert response.status_code == 403
    assert client.post(reverse("admin:surveys_reviewround_close", args=[round_.pk])).status_code == 403
    row.refresh_from_db()
    assert row.status == "open" and ReviewRound.objects.get().closed_at is None


def test_round_of_another_study_is_not_found(client, make, setup):
    q, designer, panel = setup
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    _login(client, make, make.study(), "designer")
    assert client.get(reverse("admin:surveys_reviewround_change", args=[round_.pk])).status_code == 404
    assert client.post(reverse("admin:surveys_reviewround_close", args=[round_.pk])).status_code == 404


def test_consolidated_page_and_answering_in_the_admin(client, make, setup):
    q, designer, panel = setup
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    a, b = _reviewers(make, panel, ["expert_patient", "practitioner"])
    row = make.item_feedback(
        round=round_,
        reviewer=a,
        link_id="mood",
        clarity=2,
        comment="Too vague",
        suggestion="How was your mood this week?",
    )
    make.item_feedback(round=round_, reviewer=b, link_id="mood", clarity=5)
    make.review_submission(
        round=round_,
        reviewer=a,
        burden=4,
        timing="too_often",
        comments="Long",
        approved=True,
        approved_hash=round_.content_hash,
        submitted_at=timezone.now(),
    )
    client.force_login(designer)
    url = reverse("admin:surveys_reviewround_change", args=[round_.pk])
    body = client.get(url).content.decode()
    for expected in (
        "Too vague",
        "How was your mood this week?",
        "Expert patient 1",
        "3.5",
        "Too often",
        "Question mood",
    ):
        assert expected in body
    assert a.email not in body and a.username not in body  # reviewers are shown by kind and number

    answer = reverse("admin:surveys_reviewround_feedback", args=[round_.pk, row.pk])
    client.post(answer, {"reply": "Reworded", "status": "declined", "reason": ""})
    row.refresh_from_db()
    assert row.status == "open" and row.reply == ""  # declining without a reason changes nothing
    client.post(answer, {"reply": "Kept as validated", "status": "declined", "reason": "Validated wording"})
    row.refresh_from_db()
    assert (row.status, row.reason, row.handled_by) == ("declined", "Validated wording", designer)

    client.post(reverse("admin:surveys_reviewround_close", args=[round_.pk]))
    assert ReviewRound.objects.get().closed_at is not None


def test_item_feedback_admin_answers_through_the_service(client, make, setup):
    q, designer, panel = setup
    round_ = round_open(questionnaire=q, panel=panel, deadline=soon(), by=designer)
    (reviewer,) = _reviewers(make, panel, ["practitioner"])
    row = make.item_feedback(round=round_, reviewer=reviewer, link_id="pain", comment="Which pain?")
    client.force_login(designer)
    url = reverse("admin:surveys_itemfeedback_change", args=[row.pk])
    page = client.get(url)
    assert page.status_code == 200 and reviewer.username not in page.content.decode()
    response = client.post(url, {"reply": "", "status": "declined", "reason": ""})
    assert response.status_code == 200  # the form says the reason is missing
    row.refresh_from_db()
    assert row.status == "open"
    client.post(url, {"reply": "Any pain today", "status": "resolved", "reason": "Reworded in v2"})
    row.refresh_from_db()
    assert (row.status, row.reply, row.handled_by) == ("resolved", "Any pain today", designer)
    assert client.post(reverse("admin:surveys_itemfeedback_delete", args=[row.pk])).status_code == 403
