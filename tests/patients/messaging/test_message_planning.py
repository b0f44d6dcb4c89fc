"""Planning invitations and reminders for assignments (patients/messaging/planning.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.messaging.planning import CancelReason, channel_choose, messages_cancel_pending, messages_plan
from patients.models import Message
from surveys.models import Assignment
from surveys.scheduling.planning import assignments_plan

MONDAY_NOON = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 CEST, Monday 1 June 2026


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def enrolled(make, *, timepoints: list[dict], at: datetime = MONDAY_NOON, study_kw: dict | None = None, **patient_kw):
    """An enrolled patient whose assignments are planned from `at`, with no messages yet."""
    version = make.published_version(study=make.study(**(study_kw or {})))
    for spec in timepoints:
        make.timepoint(version=version, **spec)
    participant = make.participant(study=version.questionnaire.study)
    patient = make.patient(**patient_kw)
    enrollment = make.enrollment(patient=patient, participant=participant, enrolled_at=at)
    return enrollment, assignments_plan(participant=participant, anchor=at)


def plan(enrollment, assignments, now: datetime = MONDAY_NOON) -> list[tuple]:
    messages = messages_plan(enrollment=enrollment, assignments=assignments, now=now)
    return [(m.kind, m.sequence, m.channel, m.scheduled_at) for m in messages]


def test_invitation_and_reminders_go_at_the_send_time_inside_the_window(make):
    enrollment, assignments = enrolled(
        make,
        timepoints=[
            {"offset": 1, "window": 7, "reminders": [2, 5], "send_time": time(18, 0)},
        ],
    )
    assert plan(enrollment, assignments) == [
        ("invitation", 0, "sms", utc(2026, 6, 2, 16, 0)),  # Tuesday 18:00 CEST
        ("reminder", 1, "sms", utc(2026, 6, 4, 16, 0)),  # Thursday 18:00 CEST
        # Due on Sunday 7 June, no Sundays: Monday's start, 09:00 CEST.
        ("reminder", 2, "sms", utc(2026, 6, 8, 7, 0)),
    ]
    assert {m.status for m in Message.objects.all()} == {Message.Status.PLANNED}
    assert {m.enrollment_id for m in Message.objects.all()} == {enrollment.pk}


def test_planning_twice_plans_nothing_more(make):
    enrollment, assignments = enrolled(make, timepoints=[{"offset": 0, "reminders": [1, 3]}, {"offset": 30}])
    first = plan(enrollment, assignments)
    second = plan(enrollment, assignments)
    assert first == second and len(first) == 4
    assert Message.objects.count() == 4


def test_each_patient_gets_their_own_local_time(make):
    spec = [{"offset": 1, "send_time": time(18, 0)}]
    paris = plan(*enrolled(make, timepoints=spec, time_zone="Europe/Paris"))
    new_york = plan(*enrolled(make, timepoints=spec, phone="+12125550123", time_zone="America/New_York"))
    noumea = plan(*enrolled(make, timepoints=spec, phone="+687751234", time_zone="Pacific/Noumea"))
    assert paris[0][3] == utc(2026, 6, 2, 16, 0)
    assert new_york[0][3] == utc(2026, 6, 2, 22, 0)  # 18:00 EDT
    # Due at 21:00 local on Tuesday in Noumea (UTC+11): Wednesday 18:00 is the first 18:00 after.
    assert noumea[0][3] == utc(2026, 6, 3, 7, 0)


def test_the_study_window_and_sundays_setting_apply(make):
    enrollment, assignments = enrolled(
        make,
        timepoints=[{"offset": 6}],  # due Sunday 7 June 12:00 CEST
        study_kw={"send_window_start": time(8, 0), "send_window_end": time(12, 0), "send_on_sundays": True},
    )
    # Sundays allowed, but 12:00 is the end of this study's window: Monday 08:00 CEST.
    assert plan(enrollment, assignments)[0][3] == utc(2026, 6, 8, 6, 0)


def test_messages_at_or_after_the_window_closes_are_dropped(make):
    # Saturday 17:00 CEST, open 12 hours: reminders fall at night, then on Sunday, then Monday —
    # all after the window has closed, so only the invitation remains.
    enrollment, assignments = enrolled(
        make,
        at=utc(2026, 6, 6, 15, 0),
        timepoints=[{"unit": "hours", "offset": 0, "window": 12, "reminders": [6, 11]}],
    )
    assert plan(enrollment, assignments, now=utc(2026, 6, 6, 15, 0)) == [
        ("invitation", 0, "sms", utc(2026, 6, 6, 15, 0)),
    ]


def test_reminders_pushed_onto_the_same_morning_are_sent_once(make):
    # Tuesday 18:30 CEST; reminders 2 h and 3 h later are both after 19:00 → Wednesday 09:00.
    enrollment, assignments = enrolled(
        make,
        at=utc(2026, 6, 2, 16, 30),
        timepoints=[{"unit": "hours", "offset": 0, "window": 48, "reminders": [2, 3]}],
    )
    assert plan(enrollment, assignments, now=utc(2026, 6, 2, 16, 30)) == [
        ("invitation", 0, "sms", utc(2026, 6, 2, 16, 30)),
        ("reminder", 1, "sms", utc(2026, 6, 3, 7, 0)),
    ]


def test_reminders_already_past_when_planning_are_not_sent_in_a_burst(make):
    enrollment, assignments = enrolled(make, timepoints=[{"offset": 0, "window": 10, "reminders": [1, 2, 5]}])
    late = MONDAY_NOON + timedelta(days=3)
    planned = plan(enrollment, assignments, now=late)
    # The invitation still goes (it carries the link), reminders 1 and 2 are dropped, 3 is kept.
    assert [(kind, sequence) for kind, sequence, _channel, _at in planned] == [("invitation", 0), ("reminder", 3)]


@pytest.mark.parametrize(
    ("patient_kw", "channels", "expected"),
    [
        ({"preferred_channel": "sms"}, ["sms", "email"], "sms"),
        ({"preferred_channel": "email", "email": "j@example.org"}, ["sms", "email"], "email"),
        ({"preferred_channel": "sms", "email": "j@example.org"}, ["email"], "email"),  # timepoint forbids SMS
        ({"preferred_channel": "email"}, ["sms", "email"], "sms"),  # no address
        (
            {"preferred_channel": "sms", "email": "j@example.org", "sms_opted_out_at": MONDAY_NOON},
            ["sms", "email"],
            "email",
        ),
        (
            {"preferred_channel": "email", "email": "j@example.org", "email_undeliverable_at": MONDAY_NOON},
            ["sms", "email"],
            "sms",
        ),
        ({"preferred_channel": "sms"}, ["email"], None),  # neither: nothing planned
        ({"preferred_channel": "sms", "sms_opted_out_at": MONDAY_NOON}, ["sms", "email"], None),
    ],
)
def test_channel_is_the_preferred_one_when_allowed_and_reachable_else_the_other(make, patient_kw, channels, expected):
    enrollment, assignments = enrolled(make, timepoints=[{"offset": 1, "channels": channels}], **patient_kw)
    assert channel_choose(patient=enrollment.patient, allowed=channels) == expected
    planned = plan(enrollment, assignments)
    assert [channel for _kind, _seq, channel, _at in planned] == ([expected] if expected else [])


def test_nothing_is_planned_for_a_withdrawn_enrolment_or_a_finished_assignment(make):
    enrollment, assignments = enrolled(make, timepoints=[{"offset": 1}, {"offset": 2}, {"offset": 3}])
    assignments[0].status = Assignment.Status.COMPLETED
    assignments[0].save()
    assignments[1].status = Assignment.Status.CANCELLED
    assignments[1].save()
    assert [m[3] for m in plan(enrollment, assignments)] == [utc(2026, 6, 4, 10, 0)]
    other, other_assignments = enrolled(make, timepoints=[{"offset": 1}])
    other.withdrawn_at = MONDAY_NOON
    other.save()
    assert plan(other, other_assignments) == []


def test_assignments_of_another_participant_are_refused(make):
    enrollment, _mine = enrolled(make, timepoints=[{"offset": 1}])
    _other, theirs = enrolled(make, timepoints=[{"offset": 1}])
    with pytest.raises(ValueError, match="another participant"):
        messages_plan(enrollment=enrollment, assignments=theirs)
    assert not Message.objects.exists()


def test_enrolment_plans_the_messages_with_the_assignments(make):
    version = make.published_version(study=make.study(consent_required=False))
    make.timepoint(version=version, code="t0", offset=0, reminders=[2])
    make.timepoint(version=version, code="t30", offset=30, send_time=time(18, 0))
    data = EnrolmentData(name="Jeanne Martin", phone="06 12 34 56 78", consent_method="written")
    enrollment = enrollment_create(study=version.questionnaire.study, data=data, by=None, now=timezone.now())
    messages = list(Message.objects.filter(enrollment=enrollment))
    assert [(m.kind, m.sequence, m.assignment.timepoint.code) for m in messages] == [
        ("invitation", 0, "t0"),
        ("reminder", 1, "t0"),
        ("invitation", 0, "t30"),
    ]
    assert {m.channel for m in messages} == {"sms"}


def test_cancel_pending_cancels_planned_and_queued_and_never_touches_sent(make):
    enrollment, assignments = enrolled(make, timepoints=[{"offset": 1, "reminders": [1, 2, 3]}])
    plan(enrollment, assignments)
    sent, queued, planned, failed = Message.objects.order_by("sequence")
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.SENT)
    Message.objects.filter(pk=queued.pk).update(status=Message.Status.QUEUED)
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED, last_error="provider said no")

    assert messages_cancel_pending(assignment=assignments[0], reason=CancelReason.COMPLETED) == 2

    statuses = dict(Message.objects.values_list("sequence", "status"))
    assert statuses == {0: "sent", 1: "cancelled", 2: "cancelled", 3: "failed"}
    assert Message.objects.get(sequence=1).last_error == "completed"
    assert Message.objects.get(sequence=3).last_error == "provider said no"
    assert messages_cancel_pending(assignment=assignments[0], reason=CancelReason.COMPLETED) == 0
    with pytest.raises(ValueError, match="Say which messages"):
        messages_cancel_pending(reason=CancelReason.COMPLETED)


@pytest.mark.django_db
def test_the_demo_has_messages_and_a_second_load_adds_none():
    call_command("load_demo", "--force", "--no-link", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = list(Message.objects.values_list("assignment_id", "sequence", "channel", "status"))
    assert first, "make run should show messages flowing"
    assert {channel for _a, _s, channel, _st in first} >= {"sms", "email"}
    call_command("load_demo", "--force", "--no-link", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(Message.objects.values_list("assignment_id", "sequence", "channel", "status")) == first
