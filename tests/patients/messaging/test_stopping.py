"""Messages stop the moment they are no longer needed: completion, expiry, bounce, opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from patients.messaging.planning import (
    CancelReason,
    contact_mark_opted_out,
    contact_mark_undeliverable,
    message_fallback,
    messages_plan,
)
from patients.models import Message, Patient
from surveys.answering.submit import response_submit
from surveys.models import Assignment, Response
from surveys.scheduling.planning import assignments_refresh

MONDAY_NOON = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 CEST
S = Message.Status


def enrolled(make, *, timepoints: list[dict], at: datetime = MONDAY_NOON, **patient_kw):
    """An enrolled patient with assignments planned from `at` and their messages planned as of `at`."""
    version = make.published_version()
    for spec in timepoints:
        make.timepoint(version=version, **spec)
    participant = make.participant(study=version.questionnaire.study)
    enrollment = make.enrollment(patient=make.patient(**patient_kw), participant=participant, enrolled_at=at)
    assignments = [
        make.assignment(
            participant=participant,
            timepoint=tp,
            due_at=at + timedelta(days=tp.offset),
            expires_at=at + timedelta(days=tp.offset + tp.window),
        )
        for tp in version.questionnaire.study.timepoints.order_by("offset")
    ]
    messages_plan(enrollment=enrollment, assignments=assignments, now=at)
    return enrollment, assignments


def statuses(**lookups) -> list[tuple[int, int, str, str]]:
    return list(
        Message.objects.filter(**lookups)
        .order_by("assignment_id", "sequence", "channel")
        .values_list("assignment_id", "sequence", "channel", "status")
    )


def answered(make, assignment: Assignment) -> Assignment:
    make.response(assignment=assignment, answers={"mood": "a0"})
    return assignment


# --- completion ---------------------------------------------------------------------------


def test_completing_cancels_the_pending_reminders_of_that_questionnaire_only(make):
    _enrollment, (first, second) = enrolled(make, timepoints=[{"offset": 0, "reminders": [2, 4]}, {"offset": 30}])
    Message.objects.filter(assignment=first, sequence=0).update(status=S.SENT)

    response_submit(assignment=answered(make, first))

    assert statuses(assignment=first) == [
        (first.pk, 0, "sms", "sent"),
        (first.pk, 1, "sms", "cancelled"),
        (first.pk, 2, "sms", "cancelled"),
    ]
    assert set(Message.objects.filter(assignment=first, status=S.CANCELLED).values_list("last_error", flat=True)) == {
        CancelReason.COMPLETED
    }
    assert statuses(assignment=second) == [(second.pk, 0, "sms", "planned")]


def test_completion_and_cancellation_commit_or_roll_back_together(make):
    _enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0, "reminders": [2]}])

    class AfterSubmit(Exception):
        pass

    answered(make, assignment)
    with pytest.raises(AfterSubmit), transaction.atomic():
        response_submit(assignment=assignment)
        # The receiver has run by now, in this very transaction...
        assert Message.objects.filter(assignment=assignment, status=S.CANCELLED).count() == 2
        raise AfterSubmit
    # ...so the failure that follows takes the cancellation back with the completion.
    assert Response.objects.get(assignment=assignment).status == Response.Status.IN_PROGRESS
    assert statuses(assignment=assignment) == [
        (assignment.pk, 0, "sms", "planned"),
        (assignment.pk, 1, "sms", "planned"),
    ]


def test_a_second_submit_changes_nothing(make):
    _enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0, "reminders": [2]}])
    response_submit(assignment=answered(make, assignment))
    before = list(Message.objects.values_list("pk", "status", "updated_at"))
    response_submit(assignment=assignment)
    assert list(Message.objects.values_list("pk", "status", "updated_at")) == before


# --- expiry -------------------------------------------------------------------------------


def test_expiry_cancels_what_is_still_pending_for_the_closed_window(make):
    _enrollment, (short, long) = enrolled(
        make, timepoints=[{"offset": 0, "window": 3, "reminders": [1, 2]}, {"offset": 0, "window": 30}]
    )
    # The worker was down: nothing left; the beat that comes back closes the first window.
    counts = assignments_refresh(now=MONDAY_NOON + timedelta(days=3))
    assert counts["expired"] == 1
    assert {status for _a, _s, _c, status in statuses(assignment=short)} == {"cancelled"}
    assert set(Message.objects.filter(assignment=short).values_list("last_error", flat=True)) == {CancelReason.EXPIRED}
    assert statuses(assignment=long) == [(long.pk, 0, "sms", "planned")]
    # Beat again: nothing more to do.
    assert assignments_refresh(now=MONDAY_NOON + timedelta(days=3))["expired"] == 0


def test_expiry_leaves_a_completed_questionnaire_and_sent_messages_alone(make):
    _enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0, "window": 3, "reminders": [1]}])
    Message.objects.filter(sequence=0).update(status=S.SENT)
    assignments_refresh(now=MONDAY_NOON + timedelta(days=4))
    assert statuses() == [(assignment.pk, 0, "sms", "sent"), (assignment.pk, 1, "sms", "cancelled")]


# --- bounce and opt-out -------------------------------------------------------------------


def test_a_bounced_email_cancels_pending_email_and_reroutes_it_by_sms(make):
    enrollment, (first, second) = enrolled(
        make,
        timepoints=[{"offset": 0, "reminders": [2]}, {"offset": 30, "channels": ["email"]}],
        preferred_channel="email",
        email="jeanne@example.org",
    )
    Message.objects.filter(assignment=first, sequence=0).update(status=S.SENT)
    planned_at = Message.objects.get(assignment=first, sequence=1).scheduled_at

    cancelled = contact_mark_undeliverable(
        patient=enrollment.patient, channel="email", reason="hard bounce", now=MONDAY_NOON + timedelta(hours=1)
    )

    assert cancelled == 2
    assert statuses() == [
        (first.pk, 0, "email", "sent"),
        (first.pk, 1, "email", "cancelled"),
        (first.pk, 1, "sms", "planned"),
        # This timepoint allows email only: nothing to re-route to.
        (second.pk, 0, "email", "cancelled"),
    ]
    assert Message.objects.get(assignment=first, sequence=1, channel="sms").scheduled_at == planned_at
    assert Message.objects.get(assignment=first, sequence=1, channel="email").last_error == "email_undeliverable"
    patient = Patient.objects.get(pk=enrollment.patient.pk)
    assert patient.email_undeliverable_at == MONDAY_NOON + timedelta(hours=1)
    record = patient.history.first()
    assert record.history_change_reason == "email undeliverable: hard bounce"
    assert "jeanne" not in record.history_change_reason


def test_a_closed_channel_stays_closed_and_future_planning_avoids_it(make):
    enrollment, (assignment,) = enrolled(
        make, timepoints=[{"offset": 0}], preferred_channel="email", email="jeanne@example.org"
    )
    contact_mark_undeliverable(patient=enrollment.patient, channel="email", now=MONDAY_NOON)
    # A second bounce keeps the first date and finds nothing more to cancel.
    assert (
        contact_mark_undeliverable(patient=enrollment.patient, channel="email", now=MONDAY_NOON + timedelta(days=1))
        == 0
    )
    assert Patient.objects.get(pk=enrollment.patient.pk).email_undeliverable_at == MONDAY_NOON
    # Planning again (a schedule edit, say) uses SMS.
    later = make.assignment(
        participant=assignment.participant,
        timepoint=assignment.timepoint,
        occurrence=2,
        due_at=MONDAY_NOON + timedelta(days=7),
    )
    messages_plan(enrollment=enrollment, assignments=[later], now=MONDAY_NOON)
    assert statuses(assignment=later) == [(later.pk, 0, "sms", "planned")]


def test_sms_opt_out_cancels_pending_sms_and_reroutes_by_email_where_allowed(make):
    enrollment, (both, sms_only) = enrolled(
        make,
        timepoints=[{"offset": 0, "reminders": [1]}, {"offset": 10, "channels": ["sms"]}],
        email="jeanne@example.org",
    )
    assert contact_mark_opted_out(patient=enrollment.patient, channel="sms", now=MONDAY_NOON) == 3
    assert statuses() == [
        (both.pk, 0, "email", "planned"),
        (both.pk, 0, "sms", "cancelled"),
        (both.pk, 1, "email", "planned"),
        (both.pk, 1, "sms", "cancelled"),
        (sms_only.pk, 0, "sms", "cancelled"),
    ]
    assert Patient.objects.get(pk=enrollment.patient.pk).sms_opted_out_at == MONDAY_NOON
    assert Patient.objects.get(pk=enrollment.patient.pk).history.first().history_change_reason == "sms opted out"


def test_a_rerouted_message_already_due_goes_at_the_next_allowed_instant(make):
    # Queued on Saturday 18:45 CEST, the patient says STOP at 19:30: the email waits for Monday 09:00.
    enrollment, (assignment,) = enrolled(
        make,
        timepoints=[{"offset": 0, "reminders": [1]}],
        email="j@example.org",
        at=datetime(2026, 6, 5, 16, 45, tzinfo=UTC),
    )
    Message.objects.filter(sequence=1).update(status=S.QUEUED)
    contact_mark_opted_out(patient=enrollment.patient, channel="sms", now=datetime(2026, 6, 6, 17, 30, tzinfo=UTC))
    rerouted = Message.objects.get(sequence=1, channel="email")
    assert rerouted.status == S.PLANNED
    assert rerouted.scheduled_at == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)
    assert Message.objects.get(sequence=1, channel="sms").status == S.CANCELLED


def test_nothing_is_rerouted_for_a_finished_questionnaire_or_a_patient_without_the_other_address(make):
    enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0, "reminders": [1]}])  # no email
    assert contact_mark_opted_out(patient=enrollment.patient, channel="sms", now=MONDAY_NOON) == 2
    assert {channel for _a, _s, channel, _st in statuses()} == {"sms"}


def test_unknown_channel_events_are_refused_and_change_nothing(make):
    enrollment, _assignments = enrolled(make, timepoints=[{"offset": 0}], email="j@example.org")
    with pytest.raises(ValueError, match="cannot be marked email opted out"):
        contact_mark_opted_out(patient=enrollment.patient, channel="email")
    with pytest.raises(ValueError, match="cannot be marked sms undeliverable"):
        contact_mark_undeliverable(patient=enrollment.patient, channel="sms")
    assert statuses()[0][3] == "planned"
    patient = Patient.objects.get(pk=enrollment.patient.pk)
    assert patient.sms_opted_out_at is None and patient.email_undeliverable_at is None


def test_a_permanent_sms_failure_falls_back_to_email_once(make):
    enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0, "reminders": [1]}], email="j@example.org")
    failed = Message.objects.get(sequence=0)
    Message.objects.filter(pk=failed.pk).update(status=S.FAILED, last_error="21610: unreachable")
    fallback = message_fallback(message=failed, now=MONDAY_NOON + timedelta(minutes=5))
    assert (fallback.channel, fallback.sequence, fallback.kind, fallback.status) == (
        "email",
        0,
        "invitation",
        "planned",
    )
    assert fallback.scheduled_at == MONDAY_NOON + timedelta(minutes=5)  # inside the window: at once
    assert message_fallback(message=failed, now=MONDAY_NOON + timedelta(minutes=6)) == fallback
    # The SMS channel itself stays open for the reminder.
    assert Message.objects.get(sequence=1).channel == "sms"


def test_no_fallback_without_the_other_address_or_once_the_questionnaire_is_done(make):
    enrollment, (assignment,) = enrolled(make, timepoints=[{"offset": 0}])  # no email address
    assert message_fallback(message=Message.objects.get(), now=MONDAY_NOON) is None
    other, (done,) = enrolled(make, timepoints=[{"offset": 0}], phone="+33611111111", email="k@example.org")
    Assignment.objects.filter(pk=done.pk).update(status=Assignment.Status.COMPLETED)
    assert message_fallback(message=Message.objects.get(assignment=done), now=MONDAY_NOON) is None
    assert Message.objects.count() == 2
