"""One permission layer: each study role sees and edits only what surveys/rules.py grants, in its studies."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse

from patients.models import Enrollment
from surveys.models import Questionnaire, QuestionnaireVersion
from surveys.questionnaires.publish import questionnaire_publish
from surveys.staff.selectors import studies_for_user

ROLES = ["designer", "investigator", "data_manager", "reviewer"]
PATIENT_NAME = "Jeanne Martin"


@pytest.fixture
def world(make):
    """Two studies, each with a published questionnaire, a participant who answered, and a patient."""
    w = SimpleNamespace()
    for key, code in (("a", "alpha"), ("b", "bravo")):
        study = make.study(code=f"{code}-study", title=f"{code.title()} study")
        q = make.valid_questionnaire(study=study, code=f"{code}-form")
        version = questionnaire_publish(questionnaire=q, by=None)
        tp = make.timepoint(version=version, code=f"{code}-t0")
        participant = make.participant(study=study, pseudonym=f"{code.upper()}-PSEUDO")
        assignment = make.assignment(participant=participant, timepoint=tp)
        response = make.response(assignment=assignment, answers={"mood": "a1"})
        patient = make.patient(name=f"{PATIENT_NAME} {code}")
        make.enrollment(patient=patient, participant=participant)
        setattr(
            w,
            key,
            SimpleNamespace(
                study=study,
                questionnaire=q,
                version=version,
                participant=participant,
                response=response,
                patient=patient,
            ),
        )
    return w


def login_as(client, make, role: str | None, study=None, *, superuser: bool = False):
    user = make.user(superuser=superuser)
    if role is not None:
        make.member(user=user, study=study, role=role)
    client.force_login(user)
    return user


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def changelist_url(model_label: str) -> str:
    app, model = model_label.split(".")
    return reverse(f"admin:{app}_{model}_changelist")


@pytest.mark.parametrize("role", ROLES)
def test_questionnaire_changelist_shows_only_the_questionnaires_of_the_users_studies(client, make, world, role):
    login_as(client, make, role, world.a.study)
    response = client.get(changelist_url("surveys.questionnaire"))
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [world.a.questionnaire]
    assert change_url(world.a.questionnaire) in response.content.decode()
    assert change_url(world.b.questionnaire) not in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_questionnaire_of_another_study_is_out_of_reach(client, make, world, role):
    login_as(client, make, role, world.a.study)
    assert client.get(change_url(world.b.questionnaire)).status_code in (403, 404)
    assert client.post(change_url(world.b.questionnaire), {"code": "stolen"}).status_code in (403, 404)
    assert (
        client.get(reverse("admin:surveys_questionnaire_preview", args=[world.b.questionnaire.pk])).status_code == 404
    )
    assert (
        client.post(reverse("admin:surveys_questionnaire_publish", args=[world.b.questionnaire.pk])).status_code == 404
    )


def bare_questionnaire_post(q: Questionnaire, **changes) -> dict:
    data = {
        "code": q.code,
        "kind": q.kind,
        "title_fr": q.title_fr,
        "title_en": q.title_en,
        "intro_fr": q.intro_fr,
        "intro_en": q.intro_en,
    }
    for prefix in ("sections", "items"):
        data |= {
            f"{prefix}-TOTAL_FORMS": "0",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data | changes


@pytest.mark.parametrize("role", ["reviewer", "data_manager", "investigator"])
def test_non_designers_cannot_change_a_questionnaire(client, make, role):
    q = make.questionnaire(title_fr="Avant")
    login_as(client, make, role, q.study)
    page = client.get(change_url(q))
    assert page.status_code == 200  # they may read it
    assert page.context["has_change_permission"] is False
    response = client.post(change_url(q), bare_questionnaire_post(q, title_fr="Après"))
    assert response.status_code == 403
    q.refresh_from_db()
    assert q.title_fr == "Avant"


def test_designer_can_change_a_questionnaire(client, make):
    q = make.questionnaire(title_fr="Avant")
    login_as(client, make, "designer", q.study)
    response = client.post(change_url(q), bare_questionnaire_post(q, title_fr="Après"))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    q.refresh_from_db()
    assert q.title_fr == "Après"


def test_study_choices_offer_only_studies_where_the_user_designs(client, make):
    mine, reviewed, foreign = make.study(code="mine"), make.study(code="reviewed"), make.study(code="foreign")
    user = login_as(client, make, "designer", mine)
    make.member(user=user, study=reviewed, role="reviewer")
    response = client.get(reverse("admin:surveys_questionnaire_add"))
    assert response.status_code == 200
    choices = set(response.context["adminform"].form.fields["study"].queryset)
    assert choices == {mine}
    assert foreign not in choices


def test_data_manager_views_responses_but_not_patients(client, make, world):
    login_as(client, make, "data_manager", world.a.study)
    responses = client.get(changelist_url("surveys.response"))
    assert responses.status_code == 200
    assert list(responses.context["cl"].result_list) == [world.a.response]
    assert client.get(change_url(world.a.response)).status_code == 200
    assert client.get(change_url(world.b.response)).status_code == 404
    assert client.get(changelist_url("patients.patient")).status_code == 403
    assert client.get(change_url(world.a.patient)).status_code in (403, 404)
    assert PATIENT_NAME not in client.get(reverse("admin:index")).content.decode()


def test_nobody_edits_a_response_in_the_admin(client, make, world):
    user = login_as(client, make, "data_manager", world.a.study)
    make.member(user=user, study=world.a.study, role="investigator")
    page = client.get(change_url(world.a.response))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert client.post(change_url(world.a.response), {"status": "completed"}).status_code == 403


def test_investigator_views_the_patients_of_their_study_only(client, make, world):
    login_as(client, make, "investigator", world.a.study)
    listing = client.get(changelist_url("patients.patient"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [world.a.patient]
    # Names stay off lists and off the patient's own page: only the audited identity page shows one.
    assert PATIENT_NAME not in listing.content.decode()
    page = client.get(change_url(world.a.patient))
    assert page.status_code == 200
    assert PATIENT_NAME not in page.content.decode()
    assert reverse("patients:staff_reidentify", args=[world.a.participant.pk]) in page.content.decode()
    assert client.get(change_url(world.b.patient)).status_code == 404


def test_a_patient_never_enrolled_is_visible_to_superusers_only(client, make, world):
    orphan = make.patient(name="Nobody Enrolled")
    login_as(client, make, "investigator", world.a.study)
    assert client.get(change_url(orphan)).status_code == 404
    client.force_login(make.user(superuser=True))
    assert client.get(change_url(orphan)).status_code == 200


def test_investigator_cannot_delete_a_patient_nor_a_participant(client, make, world):
    user = login_as(client, make, "investigator", world.a.study)
    assert not client.get(change_url(world.a.patient)).context["has_delete_permission"]
    assert user.has_perm("patients.change_patient", world.a.patient)
    for obj in (world.a.patient, world.a.participant):
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_delete", args=[obj.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403
    assert type(world.a.patient).objects.filter(pk=world.a.patient.pk).exists()


def test_staff_without_membership_sees_no_study(client, make, world):
    user = login_as(client, make, None)
    assert not studies_for_user(user=user).exists()
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert changelist_url("surveys.study") not in index.content.decode()
    assert changelist_url("surveys.questionnaire") not in index.content.decode()
    assert client.get(changelist_url("surveys.study")).status_code == 403
    assert client.get(changelist_url("surveys.questionnaire")).status_code == 403
    assert client.get(change_url(world.a.questionnaire)).status_code in (403, 404)


def test_superuser_sees_every_study(client, make, world):
    user = login_as(client, make, None, superuser=True)
    assert set(studies_for_user(user=user)) == {world.a.study, world.b.study}
    for label, expected in (
        ("surveys.study", {world.a.study, world.b.study}),
        ("surveys.questionnaire", {world.a.questionnaire, world.b.questionnaire}),
        ("surveys.response", {world.a.response, world.b.response}),
        ("patients.patient", {world.a.patient, world.b.patient}),
    ):
        response = client.get(changelist_url(label))
        assert response.status_code == 200, label
        assert set(response.context["cl"].result_list) == expected, label


@pytest.mark.parametrize("superuser", [False, True])
def test_published_version_is_read_only_for_everyone(client, make, world, superuser):
    login_as(client, make, None if superuser else "designer", world.a.study, superuser=superuser)
    page = client.get(change_url(world.a.version))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert page.context["has_add_permission"] is False
    assert "&quot;resourceType&quot;: &quot;Questionnaire&quot;" in page.content.decode()
    assert client.post(change_url(world.a.version), {}).status_code == 403
    assert client.get(reverse("admin:surveys_questionnaireversion_add")).status_code == 403
    assert QuestionnaireVersion.objects.filter(pk=world.a.version.pk).exists()


def test_studies_for_user_filters_by_role(make):
    a, b = make.study(), make.study()
    user = make.user()
    make.member(user=user, study=a, role="designer")
    make.member(user=user, study=b, role="reviewer")
    assert set(studies_for_user(user=user)) == {a, b}
    assert set(studies_for_user(user=user, roles=["designer"])) == {a}
    assert not studies_for_user(user=user, roles=[]).exists()


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        ("designer", "surveys.change_questionnaire", True),
        ("reviewer", "surveys.change_questionnaire", False),
        ("reviewer", "surveys.view_item", True),
        ("designer", "surveys.change_study", True),
        ("investigator", "surveys.change_study", False),
        ("designer", "surveys.delete_study", False),
        ("investigator", "surveys.add_site", True),
        ("designer", "surveys.change_site", True),
        ("data_manager", "surveys.change_site", False),
        ("designer", "surveys.change_timepoint", True),
        ("investigator", "surveys.change_timepoint", False),
        ("investigator", "surveys.change_participant", True),
        ("data_manager", "surveys.view_participant", True),
        ("data_manager", "surveys.change_participant", False),
        ("investigator", "surveys.delete_participant", False),
        ("designer", "surveys.view_response", False),
        ("data_manager", "surveys.view_response", True),
        ("investigator", "surveys.change_response", False),
        ("designer", "surveys.change_questionnaireversion", False),
        ("designer", "surveys.change_studymembership", False),
        ("investigator", "patients.view_patient", True),
        ("data_manager", "patients.view_patient", False),
        ("investigator", "patients.delete_patient", False),
    ],
)
def test_role_matrix(make, world, role, perm, allowed):
    user = make.user()
    make.member(user=user, study=world.a.study, role=role)
    model = perm.split(".")[1].split("_", 1)[1]
    objects = {
        "questionnaire": world.a.questionnaire,
        "item": world.a.questionnaire.items.first(),
        "study": world.a.study,
        "site": make.site(study=world.a.study),
        "timepoint": world.a.version.timepoints.first(),
        "participant": world.a.participant,
        "response": world.a.response,
        "questionnaireversion": world.a.version,
        "patient": world.a.patient,
        "studymembership": world.a.study.memberships.first(),
    }
    assert user.has_perm(perm, objects[model]) is allowed
    # The same permission never reaches into the other study.
    other = {
        "questionnaire": world.b.questionnaire,
        "participant": world.b.participant,
        "response": world.b.response,
        "patient": world.b.patient,
        "study": world.b.study,
    }.get(model)
    if other is not None:
        assert user.has_perm(perm, other) is False


def test_investigator_adds_a_patient_together_with_an_enrolment_in_their_study(client, make, world):
    user = login_as(client, make, "investigator", world.a.study)
    free = make.participant(study=world.a.study, pseudonym="A-FREE")
    foreign = make.participant(study=world.b.study, pseudonym="B-FREE")
    add_url = reverse("admin:patients_patient_add")
    page = client.get(add_url)
    assert page.status_code == 200
    enrollments = page.context["inline_admin_formsets"][0].formset
    assert free in enrollments.forms[0].fields["participant"].queryset
    assert foreign not in enrollments.forms[0].fields["participant"].queryset

    data = {
        "name": "Paul Durand",
        "email": "",
        "phone": "+33611223344",
        "time_zone": "Europe/Paris",
        "language": "fr",
        "preferred_channel": "sms",
        "enrollments-TOTAL_FORMS": "1",
        "enrollments-INITIAL_FORMS": "0",
        "enrollments-MIN_NUM_FORMS": "1",
        "enrollments-MAX_NUM_FORMS": "1000",
        "enrollments-0-participant": str(free.pk),
        "enrollments-0-consent_method": "written",
        "enrollments-0-consent_document_version": "v2",
        "enrollments-0-consent_recorded_at_0": "2026-01-05",
        "enrollments-0-consent_recorded_at_1": "10:00:00",
        "enrollments-0-enrolled_at_0": "2026-01-05",
        "enrollments-0-enrolled_at_1": "10:05:00",
    }
    response = client.post(add_url, data)
    assert response.status_code == 302, response.context and [
        response.context["adminform"].form.errors,
        [f.formset.errors for f in response.context["inline_admin_formsets"]],
    ]
    enrolment = Enrollment.objects.get(participant=free)
    assert enrolment.consent_recorded_by == user
    assert client.get(change_url(enrolment.patient)).status_code == 200

    # A participant of another study cannot be chosen, even by a forged POST.
    data["enrollments-0-participant"] = str(foreign.pk)
    assert client.post(add_url, data).status_code == 200  # form redisplayed with an error
    assert not Enrollment.objects.filter(participant=foreign).exists()
