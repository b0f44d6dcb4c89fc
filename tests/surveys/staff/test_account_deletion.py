"""Accounts that acted are deactivated, never deleted; audit rows are refused deletion in code."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from surveys.models import ItemFeedback, ResponseCorrection
from surveys.models.audit import AuditDeletionRefused, AuditRecord
from surveys.participants.withdrawal import participant_withdraw
from surveys.staff.accounts import UserDeletionRefused

User = get_user_model()


@pytest.fixture
def answered(make):
    version = make.published_version()
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study)
    assignment = make.assignment(participant=participant, timepoint=tp, status="completed")
    response = make.response(assignment=assignment, status="completed", answers={"mood": "a1"})
    return response


def test_a_staff_account_cannot_be_deleted_and_keeps_its_history(make, answered):
    designer = make.user()
    study = answered.assignment.participant.study
    study.title = "Renamed"
    study._history_user = designer
    study.save()
    # Each attempt in a savepoint of its own: Django's deletion runs in a transaction the refusal spoils.
    with pytest.raises(UserDeletionRefused, match="cannot be deleted"), transaction.atomic():
        designer.delete()
    with pytest.raises(UserDeletionRefused), transaction.atomic():
        User.objects.filter(pk=designer.pk).delete()
    assert User.objects.filter(pk=designer.pk).exists()
    assert study.history.filter(history_user=designer).exists()


def test_a_reviewer_who_gave_feedback_keeps_it(make, answered):
    designer = make.user()
    reviewer = make.user(staff=False)
    q = answered.version.questionnaire
    panel = make.panel(study=q.study, code="panel", title="Panel")
    review_round = make.review_round(
        questionnaire=q,
        panel=panel,
        definition={},
        content_hash="0" * 64,
        opened_by=designer,
        deadline=timezone.now(),
    )
    make.item_feedback(round=review_round, reviewer=reviewer, link_id="mood", comment="Clear")
    with pytest.raises(UserDeletionRefused, match="surveys.ItemFeedback"), transaction.atomic():
        reviewer.delete()
    assert ItemFeedback.objects.filter(reviewer=reviewer).count() == 1


def test_an_account_only_named_in_history_is_kept(make, answered):
    outsider = make.user(staff=False)
    study = answered.assignment.participant.study
    study._history_user = outsider
    study.save()
    with pytest.raises(UserDeletionRefused, match="Historical"), transaction.atomic():
        outsider.delete()


def test_an_account_that_never_acted_can_be_deleted(make):
    mistyped = make.user(staff=False)
    mistyped.delete()
    assert not User.objects.filter(pk=mistyped.pk).exists()


def test_the_admin_offers_deactivation_not_deletion(client, make):
    root = make.user(superuser=True)
    designer = make.user()
    client.force_login(root)
    changelist = client.get(reverse("admin:auth_user_changelist"))
    assert changelist.status_code == 200
    actions = [choice[0] for choice in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and "deactivate" in actions
    delete_url = reverse("admin:auth_user_delete", args=[designer.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    posted = client.post(
        reverse("admin:auth_user_changelist"), {"action": "deactivate", "_selected_action": [designer.pk, root.pk]}
    )
    assert posted.status_code == 302
    designer.refresh_from_db()
    root.refresh_from_db()
    assert designer.is_active is False and root.is_active is True  # nobody locks themselves out


def audit_models() -> list[type]:
    return [model for model in apps.get_models() if issubclass(model, AuditRecord)]


def test_the_audit_models_are_the_expected_ones():
    labels = {model._meta.label for model in audit_models()}
    assert {
        "surveys.ResponseCorrection",
        "surveys.ItemFeedback",
        "surveys.ReviewSubmission",
        "surveys.ReviewRound",
        "surveys.PublishOverride",
        "surveys.ScoreRecomputation",
        "patients.ReidentificationEvent",
        "patients.ConsentRecord",
        "patients.MessageResend",
    } <= labels


@pytest.mark.django_db
@pytest.mark.parametrize("model", audit_models(), ids=lambda m: m._meta.label)
def test_code_cannot_delete_an_audit_row(model):
    with pytest.raises(AuditDeletionRefused, match="cannot be deleted"):
        model.objects.all().delete()
    with pytest.raises(AuditDeletionRefused):
        model().delete()


def test_a_correction_row_stays_but_goes_with_its_response_on_erasure(make, answered):
    investigator = make.user()
    correction = make.response_correction(
        response=answered,
        link_id="mood",
        old_value="a1",
        new_value="a2",
        reason="Patient called",
        by=investigator,
    )
    with pytest.raises(AuditDeletionRefused):
        correction.delete()
    with pytest.raises(AuditDeletionRefused):
        answered.corrections.all().delete()
    assert ResponseCorrection.objects.filter(pk=correction.pk).exists()
    participant_withdraw(participant=answered.assignment.participant, delete_data=True, now=timezone.now())
    assert not ResponseCorrection.objects.filter(pk=correction.pk).exists()
