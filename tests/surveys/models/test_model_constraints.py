"""Database constraints hold whatever the caller: the last line of defence behind services and forms."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys.models import Site, Timepoint


def refused(create) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_codes_are_unique_where_exports_need_them(make):
    q = make.valid_questionnaire()
    refused(lambda: make.item(questionnaire=q, link_id="mood", type="yes_no"))
    refused(lambda: make.section(questionnaire=q, link_id="p1"))
    refused(lambda: make.answer_option(item=q.items.get(link_id="mood"), code="a1"))
    refused(lambda: make.questionnaire(study=q.study, code=q.code))
    refused(
        lambda: Site.objects.bulk_create(
            [Site(study=q.study, code="s", name="A"), Site(study=q.study, code="s", name="B")]
        )
    )


def test_item_minimum_must_be_below_maximum(make):
    q = make.questionnaire()
    refused(lambda: make.item(questionnaire=q, link_id="x", type="integer", min_value=5, max_value=5))


def test_codes_are_frozen_once_created(make):
    item = make.valid_questionnaire().items.get(link_id="mood")
    item.link_id = "humeur"
    with pytest.raises(ValidationError):
        item.save()
    option = item.options.first()
    option.code = "zz"
    with pytest.raises(ValidationError):
        option.save()


def test_version_numbers_are_unique_per_questionnaire(make):
    version = make.published_version()
    refused(
        lambda: make.questionnaire_version(
            questionnaire=version.questionnaire, number=1, definition={}, content_hash="0" * 64
        )
    )


def test_one_pseudonym_one_assignment_per_timepoint_one_response(make):
    version = make.published_version()
    study = version.questionnaire.study
    p = make.participant(study=study, pseudonym="ST01-AAAAA-AAAAA")
    refused(lambda: make.participant(study=study, pseudonym="ST01-AAAAA-AAAAA"))
    tp = make.timepoint(version=version)
    a = make.assignment(participant=p, timepoint=tp)
    refused(lambda: make.assignment(participant=p, timepoint=tp))
    now = timezone.now()
    refused(lambda: make.assignment(participant=p, timepoint=tp, occurrence=2, due_at=now, expires_at=now))
    make.response(assignment=a, version=version)
    refused(lambda: make.response(assignment=a, version=version))


def test_a_response_is_submitted_exactly_when_completed(make):
    version = make.published_version()
    a = make.assignment(
        participant=make.participant(study=version.questionnaire.study), timepoint=make.timepoint(version=version)
    )
    refused(lambda: make.response(assignment=a, version=version, status="completed", submitted_at=None))
    refused(lambda: make.response(assignment=a, version=version, submitted_at=timezone.now()))


def test_schedule_rules(make):
    version = make.published_version()
    refused(lambda: make.timepoint(version=version, code="w", label="w", window=0))
    tp = Timepoint(study=version.questionnaire.study, version=version, code="r", label="r", window=7, reminders=[3, 7])
    with pytest.raises(ValidationError):
        tp.full_clean()


def test_a_role_is_held_once_per_study(make):
    user, study = make.user(), make.study()
    make.member(user=user, study=study, role="designer")
    refused(lambda: make.member(user=user, study=study, role="designer"))


def test_enrolment_and_message_rules(make):
    version = make.published_version()
    p = make.participant(study=version.questionnaire.study)
    a = make.assignment(participant=p, timepoint=make.timepoint(version=version))
    patient = make.patient(name="X", phone="+33612345678")
    now = timezone.now()
    refused(
        lambda: make.enrollment(patient=patient, participant=p, enrolled_at=now, withdrawn_at=now - timedelta(days=1))
    )
    enrollment = make.enrollment(patient=patient, participant=p, enrolled_at=now)
    make_message = lambda **kw: make.message(  # noqa: E731
        enrollment=enrollment, assignment=a, channel="sms", scheduled_at=now, **kw
    )
    make_message(kind="invitation", sequence=0)
    # A second invitation on the same channel: the guard against double sends.
    refused(lambda: make_message(kind="invitation", sequence=0))
    refused(lambda: make_message(kind="reminder", sequence=0))
    refused(lambda: make_message(kind="invitation", sequence=1))
    # A resend or the email fallback are distinct sends.
    make_message(kind="invitation", sequence=0, resend=1)
    make.message(enrollment=enrollment, assignment=a, channel="email", scheduled_at=now, kind="invitation", sequence=0)
