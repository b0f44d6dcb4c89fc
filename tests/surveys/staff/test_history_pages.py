"""History pages of the admin only read, only within the user's studies, and show no identity.

Every model admin with a history is tried: the list of versions and the page of one version, for an
object of the user's study (read, never saved) and of another study (404), by every study role and
by a superuser.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.forms.models import model_to_dict
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin

from surveys.admin.history import AuditedHistoryAdmin
from surveys.models import StudyMembership
from surveys.questionnaires.publish import questionnaire_publish

ROLES = ["designer", "investigator", "data_manager", "reviewer"]
PATIENT_NAME = "Jeanne Martin"
PATIENT_EMAIL = "jeanne.martin@example.org"
PATIENT_PHONE = "+33612345678"


def history_admins() -> list[tuple[type, SimpleHistoryAdmin]]:
    return [(model, ma) for model, ma in admin.site._registry.items() if isinstance(ma, SimpleHistoryAdmin)]


def label(model) -> str:
    return model._meta.label_lower


def objects_of(make, code: str) -> dict[str, object]:
    """One object of each history-tracked model, in a study of its own."""
    study = make.study(code=f"{code}-study", title=f"{code} study", consent_required=True)
    q = make.valid_questionnaire(study=study, code=f"{code}-form")
    item = q.items.first()
    version = questionnaire_publish(questionnaire=q, by=None)
    tp = make.timepoint(version=version, code=f"{code}-t0")
    participant = make.participant(study=study, pseudonym=f"{code.upper()}-PSEUDO")
    assignment = make.assignment(participant=participant, timepoint=tp, status="completed")
    response = make.response(assignment=assignment, status="completed", answers={"mood": "a1"})
    patient = make.patient(name=f"{PATIENT_NAME} {code}", email=PATIENT_EMAIL, phone=PATIENT_PHONE)
    enrollment = make.enrollment(patient=patient, participant=participant)
    designer = make.user()
    membership = make.member(user=designer, study=study, role="designer")
    panel = make.panel(study=study, code=f"{code}-panel", title="Panel")
    reviewer = make.user(staff=False)
    found = {
        "surveys.study": study,
        "surveys.questionnaire": q,
        "surveys.item": item,
        "surveys.section": q.sections.first(),
        "surveys.answeroption": item.options.first(),
        "surveys.timepoint": tp,
        "surveys.participant": participant,
        "surveys.assignment": assignment,
        "surveys.response": response,
        "surveys.studymembership": membership,
        "surveys.panel": panel,
        "surveys.panelmember": make.panel_member(panel=panel, user=reviewer),
        "surveys.reviewround": make.review_round(
            questionnaire=q,
            panel=panel,
            definition={},
            content_hash="0" * 64,
            opened_by=designer,
            deadline=version.published_at,
        ),
        "patients.patient": patient,
        "patients.enrollment": enrollment,
        "patients.smstemplate": make.sms_template(study=study, kind="invitation", language="en", text="Hi {link}"),
    }
    return {key: obj for key, obj in found.items() if obj is not None}


@pytest.fixture
def world(make):
    return SimpleNamespace(a=objects_of(make, "alpha"), b=objects_of(make, "bravo"))


def list_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])


def version_url(obj) -> str:
    record = obj.history.order_by("history_id").first()
    return reverse(
        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_simple_history", args=[obj.pk, record.history_id]
    )


def snapshot(obj) -> dict:
    return model_to_dict(type(obj)._default_manager.get(pk=obj.pk))


def test_every_history_admin_only_reads():
    admins = history_admins()
    assert len(admins) >= 19
    plain = [label(model) for model, ma in admins if not isinstance(ma, AuditedHistoryAdmin)]
    assert plain == []


def test_the_world_has_an_object_of_most_history_models(world):
    tracked = {label(model) for model, _ in history_admins()}
    # Review feedback and submissions are written by reviewers' pages; their admins share the same base.
    assert tracked - set(world.a) <= {"surveys.itemfeedback", "surveys.reviewsubmission", "surveys.enablecondition"}


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_no_role_saves_an_old_version(client, make, world, role):
    user = make.user(superuser=role == "superuser")
    if role != "superuser":
        make.member(user=user, study=world.a["surveys.study"], role=role)
    client.force_login(user)
    for key, obj in world.a.items():
        before = snapshot(obj)
        ma = admin.site._registry[type(obj)]
        for url in (list_url(obj), version_url(obj)):
            # The attack: the version's form posted back, as simple-history's own view accepts.
            posted = client.post(url, {**{k: v for k, v in before.items() if v is not None}, "_save": "Save"})
            assert posted.status_code == 405, (key, url, posted.status_code)
        assert snapshot(obj) == before, key
        seen = client.get(version_url(obj))
        if not ma.history_shows_values:
            assert seen.status_code == 404, key
        elif ma.has_view_permission(seen.wsgi_request, obj):
            assert seen.status_code == 200, key
            page = seen.content.decode()
            assert 'name="_save"' not in page and "Revert" not in page, key
            assert "<textarea" not in page and 'type="checkbox"' not in page, key
        else:
            assert seen.status_code == 404, key


@pytest.mark.parametrize("role", ROLES)
def test_history_of_another_study_is_not_found(client, make, world, role):
    user = make.user()
    make.member(user=user, study=world.a["surveys.study"], role=role)
    client.force_login(user)
    for key, obj in world.b.items():
        assert client.get(list_url(obj)).status_code == 404, key
        assert client.get(version_url(obj)).status_code == 404, key


@pytest.mark.parametrize("role", ROLES)
def test_history_list_follows_the_view_permission(client, make, world, role):
    user = make.user()
    make.member(user=user, study=world.a["surveys.study"], role=role)
    client.force_login(user)
    for key, obj in world.a.items():
        ma = admin.site._registry[type(obj)]
        shown = client.get(list_url(obj))
        expected = 200 if ma.has_view_permission(shown.wsgi_request, obj) else 404
        assert shown.status_code == expected, (key, shown.status_code)


def test_identity_history_names_the_changed_fields_without_their_values(client, make, world):
    patient = world.a["patients.patient"]
    patient.phone = "+33698765432"
    patient.email = "j.martin@example.org"
    patient.save()
    enrollment = world.a["patients.enrollment"]
    investigator = make.user()
    make.member(user=investigator, study=world.a["surveys.study"], role="investigator")
    client.force_login(investigator)
    page = client.get(list_url(patient))
    assert page.status_code == 200
    text = page.content.decode()
    for secret in (PATIENT_NAME, PATIENT_EMAIL, "j.martin@example.org", "612345678", "698765432"):
        assert secret not in text, secret
    changed = [str(type(patient)._meta.get_field(name).verbose_name) for name in ("phone", "email")]
    assert all(name in text for name in changed), changed
    assert client.get(version_url(patient)).status_code == 404
    assert client.get(list_url(enrollment)).status_code == 200
    assert client.get(version_url(enrollment)).status_code == 404


def test_consent_switch_survives_a_reviewer_posting_an_old_version(client, make, world):
    study = world.a["surveys.study"]
    reviewer = make.user()
    make.member(user=reviewer, study=study, role="reviewer")
    client.force_login(reviewer)
    posted = client.post(version_url(study), {"code": study.code, "title": study.title, "consent_required": ""})
    assert posted.status_code == 405
    study.refresh_from_db()
    assert study.consent_required is True
    assert StudyMembership.objects.filter(study=study).count() == 2
