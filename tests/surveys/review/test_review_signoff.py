"""Sign-off: a study that requires N approvals publishes only content a closed round approved, or with an override."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import PublishOverride
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import PublishError, questionnaire_publish
from surveys.review.rounds import round_close, round_open


def _round(make, q, *, approvals: int, reviewers: int = 3, close: bool = True):
    designer = make.user(staff=True)
    panel = make.panel(study=q.study, code=f"p{q.pk}x{approvals}{reviewers}", title="Panel")
    round_ = round_open(questionnaire=q, panel=panel, deadline=timezone.now() + timedelta(days=7), by=designer)
    for n in range(reviewers):
        user = make.user()
        make.panel_member(panel=panel, user=user)
        make.review_submission(
            round=round_,
            reviewer=user,
            burden=2,
            approved=n < approvals,
            approved_hash=round_.content_hash if n < approvals else "",
            submitted_at=timezone.now(),
        )
    if close:
        round_close(round_=round_, by=designer)
    return round_


@pytest.fixture
def draft(make):
    study = make.study(review_approvals_required=2)
    return make.valid_questionnaire(study=study)


def _problems(q, **kw):
    with pytest.raises(PublishError) as caught:
        questionnaire_publish(questionnaire=q, by=None, **kw)
    return [str(p) for p in caught.value.problems]


def test_no_signoff_needed_by_default(make):
    version = questionnaire_publish(questionnaire=make.valid_questionnaire(), by=None)
    assert version.approved_round is None and version.override is None


def test_refused_without_a_round(draft):
    assert any("no round has been closed" in p for p in _problems(draft))
    assert not draft.versions.exists()


def test_refused_while_the_round_is_open(make, draft):
    _round(make, draft, approvals=3, close=False)
    assert any("no round has been closed" in p for p in _problems(draft))


def test_refused_with_fewer_approvals(make, draft):
    _round(make, draft, approvals=1)
    assert any("fewer than the 2 approvals" in p for p in _problems(draft))


def test_approval_of_another_hash_does_not_count(make, draft):
    round_ = _round(make, draft, approvals=1)
    other = round_.submissions.filter(approved=False).first()
    other.approved, other.approved_hash = True, "0" * 64  # approved something else
    other.save()
    assert any("fewer than" in p for p in _problems(draft))


def test_refused_when_content_changed_after_approval(make, draft):
    _round(make, draft, approvals=2)
    item = draft.items.get(link_id="mood")
    item.text_en = "How is your mood today?"
    item.save()
    assert any("has changed since the last closed review round" in p for p in _problems(draft))


def test_accepted_with_n_approvals_of_the_same_hash(make, draft):
    round_ = _round(make, draft, approvals=2)
    version = questionnaire_publish(questionnaire=draft, by=None)
    assert version.content_hash == round_.content_hash == fhir.content_hash(fhir.definition_from_draft(draft))
    assert version.approved_round == round_
    assert version.override is None


def test_override_needs_the_permission_and_is_audited(make, draft):
    designer = make.user(staff=True)
    make.member(user=designer, study=draft.study, role="designer")
    assert any("may not publish without" in p for p in _problems(draft, override_reason="urgent"))
    with pytest.raises(PublishError):
        questionnaire_publish(questionnaire=draft, by=designer, override_reason="urgent")
    assert not PublishOverride.objects.exists()

    investigator = make.user(staff=True)
    make.member(user=investigator, study=draft.study, role="investigator")
    version = questionnaire_publish(questionnaire=draft, by=investigator, override_reason="  Ethics deadline  ")
    override = version.override
    assert override.by == investigator and override.reason == "Ethics deadline"
    assert override.content_hash == version.content_hash and override.questionnaire == draft
    assert version.approved_round is None


def test_publish_view_refuses_then_override_view_publishes(client, make, draft):
    designer = make.user(staff=True)
    make.member(user=designer, study=draft.study, role="designer")
    client.force_login(designer)
    # Confirmed as the publish page does, with the hash of the content it showed.
    confirmed = {"content_hash": fhir.content_hash(fhir.definition_from_draft(draft))}
    response = client.post(reverse("admin:surveys_questionnaire_publish", args=[draft.pk]), confirmed, follow=True)
    assert "no round has been closed" in response.content.decode()
    assert not draft.versions.exists()
    url = reverse("admin:surveys_questionnaire_publish_override", args=[draft.pk])
    assert client.get(url).status_code == 403  # designers may not override

    investigator = make.user(staff=True)
    make.member(user=investigator, study=draft.study, role="investigator")
    client.force_login(investigator)
    page = client.get(url)
    assert page.status_code == 200 and "reason" in page.content.decode()
    response = client.post(url, {"reason": ""})
    assert response.status_code == 200 and not draft.versions.exists()  # the reason is mandatory
    response = client.post(url, {"reason": "Approved by the ethics committee on paper"})
    assert response.status_code == 302
    version = draft.versions.get()
    assert version.override.reason == "Approved by the ethics committee on paper"
    assert version.published_by == investigator
