"""Who may export: data managers, investigators when the study allows it, never designers or
reviewers; a member limited to a site exports that site's participants only. And the channel of
the invitation, recorded on the research side when the first message goes out."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied

from patients.messaging.dispatch import message_send
from patients.messaging.sms import locmem
from patients.models import Message
from surveys.exports.access import access_export, export_sites, export_spec_for_user
from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_count, export_write
from surveys.models import Assignment, StudyMembership
from surveys.rules import EXPORT_STUDY
from tests import factories
from tests.patients.messaging.test_dispatch import claimed
from tests.surveys.exports.test_exports_formats import build_study, read_csv

Role = StudyMembership.Role


def member(make, study, role, site=None):
    user = make.user()
    factories.member(user=user, study=study, role=role, site=site)
    return user


def test_data_managers_export_designers_and_reviewers_do_not(make):
    study, *_ = build_study(make)
    other = make.study(code="elsewhere")
    manager = member(make, study, Role.DATA_MANAGER)
    assert manager.has_perm(EXPORT_STUDY, study) and manager.has_perm(EXPORT_STUDY)
    assert not manager.has_perm(EXPORT_STUDY, other)
    for role in (Role.DESIGNER, Role.REVIEWER):
        user = member(make, study, role)
        assert not user.has_perm(EXPORT_STUDY, study) and not user.has_perm(EXPORT_STUDY)
        with pytest.raises(PermissionDenied):
            access_export(user=user, study_id=study.pk)
    assert make.user(superuser=True).has_perm(EXPORT_STUDY, other)


def test_investigators_export_only_when_the_study_allows_it(make):
    study, *_ = build_study(make)
    investigator = member(make, study, Role.INVESTIGATOR)
    assert not investigator.has_perm(EXPORT_STUDY, study) and not investigator.has_perm(EXPORT_STUDY)
    study.investigators_can_export = True
    study.save()
    investigator = type(investigator).objects.get(pk=investigator.pk)  # a fresh user: roles are cached per object
    assert investigator.has_perm(EXPORT_STUDY, study) and investigator.has_perm(EXPORT_STUDY)
    assert access_export(user=investigator, study_id=study.pk) == study


def test_a_member_limited_to_a_site_exports_that_sites_participants_only(make):
    study, *_ = build_study(make, participants=2)  # both at site "nord"
    south = make.site(study=study, code="sud")
    tp = study.timepoints.get(code="t0")
    p = make.participant(study=study, pseudonym="EXP-SUD", site=south)
    make.response(assignment=make.assignment(participant=p, timepoint=tp), status="completed", answers={"mood": "a0"})
    make.participant(study=study, pseudonym="EXP-NOSITE")

    limited = member(make, study, Role.DATA_MANAGER, site=south)
    assert export_sites(user=limited, study=study) == (south.pk,)
    spec = export_spec_for_user(user=limited, study_id=study.pk, format="long_csv", sites=None)
    assert spec.sites == (south.pk,)  # asking for every site does not widen the export
    assert export_count(spec) == 1
    out = io.BytesIO()
    export_write(spec=spec, out=out)
    assert {r["pseudonym"] for r in read_csv(out.getvalue())} == {"EXP-SUD"}

    everywhere = member(make, study, Role.DATA_MANAGER)
    spec = export_spec_for_user(user=everywhere, study_id=study.pk, format="wide_csv")
    assert spec.sites is None and export_count(spec) == 3
    # An investigator limited to a site, when investigators may export, gets their site too.
    study.investigators_can_export = True
    study.save()
    investigator = member(make, study, Role.INVESTIGATOR, site=south)
    assert export_sites(user=investigator, study=study) == (south.pk,)


def test_without_the_permission_no_spec_is_made(make):
    study, *_ = build_study(make)
    with pytest.raises(PermissionDenied):
        export_spec_for_user(user=member(make, study, Role.DESIGNER), study_id=study.pk, format="sav")


def test_the_first_message_sent_records_its_channel_on_the_assignment(make):
    locmem.outbox.clear()
    message = claimed(make, channel="sms")
    assert Assignment.objects.get(pk=message.assignment_id).invitation_channel == ""
    assert message_send(message_id=message.pk).status == Message.Status.SENT
    assignment = Assignment.objects.get(pk=message.assignment_id)
    assert assignment.invitation_channel == "sms"
    # A later message by another channel does not change what the invitation was.
    reminder = factories.message(
        enrollment=message.enrollment,
        assignment=assignment,
        channel="email",
        sequence=1,
        kind=Message.Kind.REMINDER,
        scheduled_at=message.scheduled_at,
        status=Message.Status.QUEUED,
    )
    assert message_send(message_id=reminder.pk).status == Message.Status.SENT
    assert Assignment.objects.get(pk=assignment.pk).invitation_channel == "sms"
    locmem.outbox.clear()

    make.response(assignment=assignment, status="completed", answers={"mood": "a1"})
    out = io.BytesIO()
    export_write(spec=ExportSpec(study_id=assignment.participant.study_id), out=out)
    assert {r["channel"] for r in read_csv(out.getvalue())} == {"sms"}


@pytest.mark.parametrize(("language", "title"), [("fr", "Humeur"), ("en", "Mood")])
def test_the_export_page_names_questionnaires_in_the_pages_language(make, client, language, title):
    study = make.study(code="titles")
    questionnaire = make.published_version(study=study).questionnaire
    questionnaire.title_en, questionnaire.title_fr = "Mood", "Humeur"
    questionnaire.save()
    client.force_login(member(make, study, Role.DATA_MANAGER))
    page = client.get("/staff/studies/titles/exports/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f"{questionnaire.code} — {title}" in page
