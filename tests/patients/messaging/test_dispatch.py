"""Sending without a worker: the claim, the state machine, races with cancellation, retries, fallback."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from patients.messaging import dispatch
from patients.messaging.dispatch import message_send, messages_claim_due, messages_dispatch, retry_delay
from patients.messaging.planning import CancelReason
from patients.messaging.sms import locmem
from patients.models import Message
from surveys.answering.links import token_hash
from surveys.answering.submit import response_submit
from surveys.models import Assignment, Participant
from tests.conftest import need_service
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio

S = Message.Status


@pytest.fixture(autouse=True)
def empty_outboxes():
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def fake(settings):
    with FakeTwilio() as server:
        use_fake_twilio(settings, server)
        yield server


@pytest.fixture
def fast_retries(settings):
    settings.MESSAGES_RETRY_BASE_SECONDS = 1.0
    settings.MESSAGES_RETRY_MAX_SECONDS = 8.0
    settings.MESSAGES_SEND_MAX_ATTEMPTS = 3


def due_message(
    make,
    *,
    channel: str = "sms",
    channels: tuple[str, ...] = ("sms", "email"),
    ago: int = 60,
    sequence: int = 0,
    **patient_kw,
) -> Message:
    """An open assignment and one of its messages, due `ago` seconds ago."""
    now = timezone.now()
    version = make.published_version()
    timepoint = make.timepoint(version=version, channels=list(channels), reminders=[1] if sequence else [])
    participant = make.participant(study=version.questionnaire.study, language="en")
    patient_kw.setdefault("email", "jeanne@example.org")
    patient_kw.setdefault("language", "en")
    enrollment = make.enrollment(patient=make.patient(**patient_kw), participant=participant)
    assignment = make.assignment(
        participant=participant, timepoint=timepoint, due_at=now - timedelta(hours=1), status=Assignment.Status.OPEN
    )
    return make.message(
        enrollment=enrollment,
        assignment=assignment,
        channel=channel,
        sequence=sequence,
        kind=Message.Kind.REMINDER if sequence else Message.Kind.INVITATION,
        scheduled_at=now - timedelta(seconds=ago),
    )


def claimed(make, **kw) -> Message:
    message = due_message(make, **kw)
    assert messages_claim_due(now=timezone.now(), limit=10) == [message.pk]
    message.refresh_from_db()
    return message


# --- claiming -------------------------------------------------------------------------------------


def test_a_due_message_is_claimed_once(make):
    message = due_message(make)

    assert messages_claim_due(now=timezone.now(), limit=10) == [message.pk]
    assert messages_claim_due(now=timezone.now(), limit=10) == []
    message.refresh_from_db()
    assert message.status == S.QUEUED


def test_claim_leaves_what_is_not_due_or_no_longer_wanted(make):
    later = due_message(make, ago=-600)
    completed = due_message(make)
    Assignment.objects.filter(pk=completed.assignment_id).update(status=Assignment.Status.COMPLETED)
    withdrawn = due_message(make)
    withdrawn.enrollment.withdrawn_at = timezone.now()
    withdrawn.enrollment.save()
    inactive = due_message(make)
    Participant.objects.filter(pk=inactive.assignment.participant_id).update(status=Participant.Status.WITHDRAWN)
    closed = due_message(make)
    Assignment.objects.filter(pk=closed.assignment_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    cancelled = due_message(make)
    Message.objects.filter(pk=cancelled.pk).update(status=S.CANCELLED)
    wanted = due_message(make)

    assert messages_claim_due(now=timezone.now(), limit=100) == [wanted.pk]
    assert Message.objects.filter(status=S.QUEUED).count() == 1
    assert {m.status for m in Message.objects.exclude(pk__in=[wanted.pk, cancelled.pk])} == {S.PLANNED}
    assert later.pk != wanted.pk


def test_claim_takes_the_oldest_first_up_to_the_limit(make):
    messages = [due_message(make, ago=ago) for ago in (60, 600, 300)]

    assert messages_claim_due(now=timezone.now(), limit=2) == [messages[1].pk, messages[2].pk]
    assert messages_claim_due(now=timezone.now(), limit=2) == [messages[0].pk]


@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_claiming_at_once_split_the_messages(make):
    need_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "SKIP LOCKED and concurrent claims need DATABASE_URL=postgres://...",
    )
    ids = {due_message(make).pk for _ in range(40)}
    barrier = threading.Barrier(2)
    results: list[list[int]] = []

    def claimer() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(messages_claim_due(now=timezone.now(), limit=30))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    first, second = results
    assert not set(first) & set(second)
    assert set(first) | set(second) == ids
    assert Message.objects.filter(status=S.QUEUED).count() == 40


def test_dispatch_enqueues_one_send_per_claimed_message(make):
    messages = [due_message(make) for _ in range(3)]
    enqueued: list[int] = []

    report = messages_dispatch(now=timezone.now(), enqueue=enqueued.append)

    assert sorted(enqueued) == sorted(m.pk for m in messages)
    assert report.enqueued == 3 and report.released == 0


def test_broker_refusing_the_tasks_puts_the_claims_back_for_the_next_tick(make):
    messages = [due_message(make) for _ in range(3)]
    enqueued: list[int] = []

    def broker_down_after_one(pk: int) -> None:
        if enqueued:
            raise BrokerError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
        enqueued.append(pk)

    report = messages_dispatch(now=timezone.now(), enqueue=broker_down_after_one)

    assert report.enqueued == 1 and report.released == 2 and "Connection refused" in report.error
    assert Message.objects.filter(status=S.PLANNED).count() == 2
    again: list[int] = []
    messages_dispatch(now=timezone.now(), enqueue=again.append)
    assert sorted(enqueued + again) == sorted(m.pk for m in messages)


def test_a_queued_message_that_lost_its_task_is_claimed_again_later(make, settings):
    settings.MESSAGES_QUEUED_TIMEOUT = 600
    message = claimed(make)  # queued, but no task was ever enqueued (the beat process died)
    enqueued: list[int] = []

    messages_dispatch(now=timezone.now() + timedelta(seconds=60), enqueue=enqueued.append)
    assert enqueued == []
    messages_dispatch(now=timezone.now() + timedelta(seconds=601), enqueue=enqueued.append)
    assert enqueued == [message.pk]


# --- sending --------------------------------------------------------------------------------------


def test_sending_an_sms_records_the_provider_answer_and_carries_a_working_link(make):
    message = claimed(make)

    outcome = message_send(message_id=message.pk)

    assert outcome.status == S.SENT and outcome.retry_in is None
    message.refresh_from_db()
    assert message.status == S.SENT and message.attempts == 1 and message.sent_at is not None
    assert message.provider_id.startswith("locmem-")
    (sms,) = locmem.outbox
    assert sms.to == "+33612345678" and sms.idempotency_key == f"message-{message.pk}"
    token = sms.body.split("/s/")[1].split()[0].split("/")[0]
    assert Assignment.objects.get(pk=message.assignment_id).token_hash == token_hash(token)


def test_a_second_delivery_of_the_same_task_sends_nothing(make):
    message = claimed(make)

    message_send(message_id=message.pk)
    outcome = message_send(message_id=message.pk)

    assert outcome.status == S.SENT and outcome.detail == "not queued"
    assert len(locmem.outbox) == 1


def test_a_message_not_claimed_is_not_sent(make):
    message = due_message(make)  # planned: a task must never send past the claim

    assert message_send(message_id=message.pk).status == S.PLANNED
    assert locmem.outbox == []


def test_sending_an_email_uses_the_django_backend_with_text_and_html(make):
    message = claimed(make, channel="email")

    assert message_send(message_id=message.pk).status == S.SENT

    (email,) = mail.outbox
    assert email.to == ["jeanne@example.org"]
    assert "/s/" in email.body
    assert email.alternatives[0].mimetype == "text/html"
    assert email.extra_headers["X-Ressenti-Message"] == f"message-{message.pk}"


def test_completion_before_the_send_cancels_it(make):
    message = claimed(make)
    make.response(assignment=message.assignment, answers={"mood": "a0"})

    response_submit(assignment=message.assignment)  # cancels pending reminders, the queued one too

    assert message_send(message_id=message.pk).status == S.CANCELLED
    assert locmem.outbox == []


@pytest.mark.parametrize(
    "change, reason",
    [
        ("completed", CancelReason.COMPLETED),
        ("expired", CancelReason.EXPIRED),
        ("withdrawn", "withdrawn"),
        ("opted_out", CancelReason.SMS_OPTED_OUT),
    ],
)
def test_a_queued_message_no_longer_wanted_is_cancelled_at_send_time(make, change, reason):
    message = claimed(make)
    # Changed behind the cancellation services' back, as a direct write would: the send re-checks.
    if change == "completed":
        Assignment.objects.filter(pk=message.assignment_id).update(status=Assignment.Status.COMPLETED)
    elif change == "expired":
        Assignment.objects.filter(pk=message.assignment_id).update(expires_at=timezone.now())
    elif change == "withdrawn":
        Participant.objects.filter(pk=message.assignment.participant_id).update(status=Participant.Status.WITHDRAWN)
    else:
        type(message.enrollment.patient).objects.filter(pk=message.enrollment.patient_id).update(
            sms_opted_out_at=timezone.now()
        )

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert (outcome.status, message.status, message.last_error) == (S.CANCELLED, S.CANCELLED, str(reason))
    assert locmem.outbox == []


# --- provider errors ------------------------------------------------------------------------------


def test_a_provider_error_backs_off_then_succeeds(make, fake, fast_retries):
    message = claimed(make)
    fake.fail_next(1, status=500)

    first = message_send(message_id=message.pk)
    message.refresh_from_db()
    assert first.status == S.QUEUED and 0.5 <= first.retry_in <= 1.0
    assert message.attempts == 1 and "HTTP 500" in message.last_error

    second = message_send(message_id=message.pk)
    message.refresh_from_db()
    assert second.status == S.SENT and message.attempts == 2 and message.provider_id.startswith("SM")
    assert len(fake.messages) == 1 and fake.duplicates == 0


def test_a_rate_limit_waits_at_least_retry_after(make, fake, fast_retries):
    message = claimed(make)
    fake.rate_limit_next(1, retry_after=7)

    outcome = message_send(message_id=message.pk)

    assert outcome.status == S.QUEUED and outcome.retry_in >= 7


def test_a_timeout_the_provider_never_saw_is_looked_up_twice_then_sent_once(make, settings, fake, fast_retries):
    settings.TWILIO_TIMEOUT = 0.5
    message = claimed(make)
    fake.hang_next(1, seconds=1.5)  # the request is lost: nothing recorded by the provider
    start = timezone.now()

    first = message_send(message_id=message.pk, now=start)
    assert (first.status, first.retry_in) == (S.UNCONFIRMED, dispatch.reconcile_delay())
    # Not at the provider yet: its list may lag, so one more look before sending again.
    assert message_send(message_id=message.pk, now=start + timedelta(seconds=21)).status == S.UNCONFIRMED
    assert message_send(message_id=message.pk, now=start + timedelta(seconds=41)).status == S.QUEUED
    assert message_send(message_id=message.pk).status == S.SENT
    assert len(fake.messages) == 1 and fake.lookups == 2


def test_after_the_cap_the_message_is_failed_with_its_last_error(make, fake, fast_retries):
    message = claimed(make)
    fake.fail_next(5, status=503)

    outcomes = [message_send(message_id=message.pk) for _ in range(3)]

    assert [o.status for o in outcomes] == [S.QUEUED, S.QUEUED, S.FAILED]
    assert outcomes[-1].retry_in is None
    message.refresh_from_db()
    assert message.status == S.FAILED and message.attempts == 3
    assert "HTTP 503" in message.last_error and "gave up after 3 attempts" in message.last_error
    assert fake.messages == []


def test_a_refused_number_fails_the_sms_and_plans_the_same_message_by_email(make, fake):
    message = claimed(make)
    fake.reject_next(1, code=21211)

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == S.FAILED and "21211" in message.last_error
    fallback = Message.objects.get(assignment=message.assignment, channel="email")
    assert (fallback.sequence, fallback.status, fallback.kind) == (message.sequence, S.PLANNED, message.kind)


def test_no_fallback_when_the_timepoint_allows_sms_only(make, fake):
    message = claimed(make, channels=("sms",))
    fake.reject_next(1, code=21614)

    assert message_send(message_id=message.pk).status == S.FAILED
    assert not Message.objects.filter(channel="email").exists()


def test_a_provider_side_opt_out_opts_the_patient_out_and_falls_back(make, fake):
    message = claimed(make)
    fake.reject_next(1, code=21610)

    message_send(message_id=message.pk)

    patient = message.enrollment.patient
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    assert Message.objects.filter(assignment=message.assignment, channel="email", status=S.PLANNED).exists()


# --- a send interrupted by a crash ------------------------------------------------------------------


def test_a_message_left_sending_by_a_dead_worker_is_checked_with_the_provider_then_sent_once(make, settings):
    settings.MESSAGES_SEND_TIMEOUT = 30
    message = claimed(make)
    started = timezone.now() - timedelta(seconds=5)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, sending_since=started, updated_at=started)

    young = message_send(message_id=message.pk, now=started + timedelta(seconds=5))
    assert young.status == S.SENDING and 25 <= young.retry_in <= 27  # maybe still in flight: look again later

    old = message_send(message_id=message.pk, now=started + timedelta(seconds=31))
    assert old.status == S.UNCONFIRMED and locmem.outbox == []  # not at the provider: look once more
    again = message_send(message_id=message.pk, now=started + timedelta(seconds=61))
    assert again.status == S.QUEUED and locmem.outbox == []
    assert message_send(message_id=message.pk).status == S.SENT
    assert len(locmem.outbox) == 1


def test_a_dead_workers_message_that_reached_the_provider_is_recorded_as_sent(make, settings):
    settings.MESSAGES_SEND_TIMEOUT = 30
    message = claimed(make)
    started = timezone.now() - timedelta(seconds=40)
    # The worker sent it, then died before writing the answer down.
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, sending_since=started, updated_at=started)
    link = dispatch.message_links(token=dispatch.assignment_link_token(assignment=message.assignment)).link
    locmem.LocmemBackend().send_sms(to=message.enrollment.patient.phone, body=f"Hello {link}", idempotency_key="x")

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == S.SENT and message.provider_id == locmem.outbox[0].provider_id
    assert len(locmem.outbox) == 1


def test_a_sending_row_with_no_task_left_is_checked_within_minutes(make, settings):
    settings.MESSAGES_SEND_TIMEOUT = 30
    message = claimed(make)
    Message.objects.filter(pk=message.pk).update(status=S.SENDING, updated_at=timezone.now())
    enqueued = []

    messages_dispatch(now=timezone.now() + timedelta(seconds=31), enqueue=enqueued.append)

    message.refresh_from_db()
    assert message.status == S.UNCONFIRMED and enqueued == [message.pk] and message.attempts == 1
    # The next sweep leaves it to the task it enqueued.
    messages_dispatch(now=timezone.now() + timedelta(seconds=32), enqueue=enqueued.append)
    assert enqueued == [message.pk]


# --- backoff ----------------------------------------------------------------------------------------


def test_retry_delays_grow_exponentially_with_jitter_and_a_ceiling(settings):
    settings.MESSAGES_RETRY_BASE_SECONDS = 30
    settings.MESSAGES_RETRY_MAX_SECONDS = 600
    rng = random.Random(5)
    for attempts, ceiling in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (12, 600)]:
        delays = [retry_delay(attempts=attempts, rng=rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len({round(d, 3) for d in delays}) > 40  # jittered: not all at the same instant
    assert retry_delay(attempts=1, retry_after=90) >= 90


def test_send_settings_have_sane_defaults():
    from django.conf import settings as live

    assert live.TWILIO_TIMEOUT < live.MESSAGES_SEND_TIMEOUT < live.MESSAGES_QUEUED_TIMEOUT
    assert 2 * live.MESSAGES_RECONCILE_DELAY < live.MESSAGES_RECONCILE_MAX_SECONDS
    assert dispatch.max_attempts() >= 2


# --- the tasks --------------------------------------------------------------------------------------


def test_beat_runs_the_dispatch_every_minute():
    from config.celery import app
    from patients import tasks

    entry = app.conf.beat_schedule["messages-dispatch-due"]
    assert entry["task"] == tasks.messages_dispatch_due.name and entry["schedule"] == 60.0
    assert tasks.message_send.acks_late and tasks.message_send.reject_on_worker_lost


def test_the_send_task_sends_through_the_service(make):
    from patients.tasks import message_send as task

    message = claimed(make)

    assert task.apply(args=[message.pk]).get() == S.SENT
    assert len(locmem.outbox) == 1


def test_a_study_wording_of_the_sms_is_used_when_it_has_one(make):

    message = claimed(make)
    patient = message.enrollment.patient
    make.sms_template(
        study=message.assignment.participant.study,
        kind=message.kind,
        language=patient.language,
        text="Cabinet Rose {{ link }} stop: {{ withdraw_link }}",
    )
    message_send(message_id=message.pk)
    (sms,) = locmem.outbox
    assert sms.body.startswith("Cabinet Rose http") and "/withdraw" in sms.body
