"""Faults while sending, each on a real Redis with real Celery worker processes and the fake Twilio.

Redis down when beat fires, a worker killed mid-send, provider errors (500, 429, timeout) and a
database restart: every message ends sent exactly once (the fake counts the duplicates by our
idempotency key) or failed with its reason, never twice.

The workers run `celery worker --pool=solo` against the test database (PostgreSQL: a worker
process cannot share an in-memory SQLite) on a queue of their own, so concurrent runs on the
same Redis never take each other's tasks.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from config.celery import app
from patients.messaging.dispatch import messages_dispatch
from patients.models import Message
from patients.tasks import message_send
from surveys.models import Assignment
from tests.fakes.twilio_server import FakeTwilio, fake_twilio_env
from tests.workers import Worker, new_queue, wait_for, worker_pool

pytestmark = pytest.mark.services

S = Message.Status
FINAL = {S.SENT, S.DELIVERED, S.FAILED, S.CANCELLED}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def workers(redis_url, transactional_db, fake, settings) -> Iterator[Callable[..., Worker]]:
    """start(**env) → a worker process on this test's own queue, with the fake Twilio."""
    queue = new_queue("faults")
    settings.MESSAGES_SEND_QUEUE = queue  # where messages_dispatch in this process enqueues
    env = {
        "MESSAGES_SEND_QUEUE": queue,
        **fake_twilio_env(fake, timeout=10.0),
        # Fast retries and a short visibility timeout: a task of a killed worker comes back in seconds.
        "MESSAGES_RETRY_BASE_SECONDS": "0.3",
        "MESSAGES_RETRY_MAX_SECONDS": "1",
        "MESSAGES_SEND_MAX_ATTEMPTS": "4",
        "MESSAGES_SEND_TIMEOUT": "3",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "MESSAGES_RECONCILE_DELAY": "0.5",
    }
    with worker_pool(redis_url=redis_url, queue=queue, env=env) as start:
        yield start


def due_messages(make, n: int = 1) -> list[Message]:
    now = timezone.now()
    version = make.published_version()
    timepoint = make.timepoint(version=version, channels=["sms"])
    messages = []
    for i in range(n):
        participant = make.participant(study=version.questionnaire.study, language="en")
        enrollment = make.enrollment(
            patient=make.patient(phone=f"+336123400{i:02d}", language="en"), participant=participant
        )
        assignment = make.assignment(
            participant=participant, timepoint=timepoint, due_at=now - timedelta(hours=1), status=Assignment.Status.OPEN
        )
        messages.append(
            make.message(
                enrollment=enrollment,
                assignment=assignment,
                channel="sms",
                sequence=0,
                kind=Message.Kind.INVITATION,
                scheduled_at=now - timedelta(minutes=1),
            )
        )
    return messages


def status(message: Message) -> str:
    return Message.objects.values_list("status", flat=True).get(pk=message.pk)


def row(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Redis down when beat fires -----------------------------------------------------------------


def test_redis_down_when_beat_fires_loses_nothing_and_sends_once_it_is_back(make, workers, fake):
    messages = due_messages(make, 3)
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: connection refused

    with app.connection_for_write(dead_broker) as down:
        report = messages_dispatch(
            now=timezone.now(),
            enqueue=lambda pk: message_send.apply_async(
                args=[pk],
                queue=settings.MESSAGES_SEND_QUEUE,
                connection=down,
                retry_policy={"max_retries": 1, "interval_start": 0.1},
            ),
        )

    assert report.enqueued == 0 and report.released == 3 and report.error
    assert {status(m) for m in messages} == {S.PLANNED}  # not stranded as queued
    worker = workers()
    assert fake.messages == []

    back = messages_dispatch(now=timezone.now())  # the next tick, Redis back: the real broker
    assert back.enqueued == 3
    wait_for(lambda: {status(m) for m in messages} == {S.SENT}, "the three messages to be sent", worker)
    again = messages_dispatch(now=timezone.now())  # and a later tick finds nothing left to send
    assert again.claimed == []
    time.sleep(1)
    assert len(fake.messages) == 3 and fake.duplicates == 0 and fake.duplicates_by_content == 0


# --- worker killed mid-send -------------------------------------------------------------------------


def test_a_worker_killed_mid_send_is_settled_with_the_provider_and_sends_nothing_twice(make, workers, fake):
    first, second = due_messages(make, 2)
    fake.hang_next(1, seconds=20, accept=True)  # the provider takes the SMS, then answers late
    # One provider call at a time, so that the second SMS is still queued when the worker dies
    # (test_a_worker_killed_with_sends_in_flight_... covers a full pool of them).
    doomed = workers(MESSAGES_SEND_CONCURRENCY="1")

    messages_dispatch(now=timezone.now())
    wait_for(lambda: len(fake.messages) == 1, "the provider to receive the first SMS", doomed)
    assert status(first) == S.SENDING
    doomed.kill()  # SIGKILL in the middle of the provider call: no chance to record anything

    time.sleep(3.5)  # past the visibility timeout: the unacknowledged task goes back to the queue
    heir = workers()
    wait_for(lambda: status(first) in FINAL and status(second) in FINAL, "both messages to settle", heir)

    assert status(second) == S.SENT
    settled = row(first)
    # The provider was asked: it has the SMS, so the row says sent, with the provider's id.
    assert settled.status == S.SENT and settled.provider_id == fake.messages[0].sid, settled.last_error
    assert fake.lookups >= 1 and "message_send" in heir.tail()
    assert len(fake.messages) == 2 and fake.duplicates == 0 and fake.duplicates_by_content == 0


# --- provider faults -------------------------------------------------------------------------------------


def test_provider_500_rate_limit_and_timeout_back_off_then_succeed_or_fail_at_the_cap(make, workers, fake):
    lucky, unlucky = due_messages(make, 2)
    worker = workers(TWILIO_TIMEOUT="1")
    fake.fail_next(1, status=500)
    fake.rate_limit_next(1, retry_after=2)
    fake.hang_next(1, seconds=2)  # no answer within TWILIO_TIMEOUT, and nothing recorded: looked up, sent again
    Message.objects.filter(pk=unlucky.pk).update(scheduled_at=timezone.now() + timedelta(days=1))

    started = time.monotonic()
    messages_dispatch(now=timezone.now())
    wait_for(lambda: status(lucky) in FINAL, "the first message to settle", worker)
    settled = row(lucky)
    assert settled.status == S.SENT and settled.attempts == 4, settled.last_error
    assert time.monotonic() - started >= 2  # Retry-After was waited
    assert fake.requests == 4 and len(fake.messages) == 1 and fake.duplicates == 0

    fake.fail_next(10, status=503)
    messages_dispatch(now=timezone.now() + timedelta(days=1, minutes=1))
    wait_for(lambda: status(unlucky) in FINAL, "the second message to settle", worker)
    failed = row(unlucky)
    assert failed.status == S.FAILED and failed.attempts == 4
    assert "HTTP 503" in failed.last_error and "gave up after 4 attempts" in failed.last_error
    assert len(fake.messages) == 1


# --- the database restarts -------------------------------------------------------------------------------


def _terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_the_database_restarting_mid_run_loses_nothing_and_sends_once(make, workers, fake):
    before, during, after = due_messages(make, 3)
    for late in (during, after):
        Message.objects.filter(pk=late.pk).update(scheduled_at=timezone.now() + timedelta(days=1))
    worker = workers()

    messages_dispatch(now=timezone.now())
    wait_for(lambda: status(before) == S.SENT, "the first message", worker)
    # Between tasks: Celery's Django fixup closes connections after each task, so usually nothing
    # is open; whatever is, is cut.
    _terminate_other_backends()

    fake.hang_next(1, seconds=2, accept=True)
    messages_dispatch(now=timezone.now() + timedelta(days=1, minutes=1))
    wait_for(lambda: len(fake.messages) >= 2, "the provider to receive the next SMS", worker)
    # While the provider holds its answer, the worker's connection (opened for the claim) is cut:
    # recording "sent" must reconnect rather than lose the fact.
    assert _terminate_other_backends() >= 1
    wait_for(lambda: {status(during), status(after)} <= FINAL, "the other two messages to settle", worker)

    assert [status(m) for m in (before, during, after)] == [S.SENT, S.SENT, S.SENT]
    assert len(fake.messages) == 3 and fake.duplicates == 0 and fake.duplicates_by_content == 0
    assert "database unavailable while recording a send" in worker.tail()  # the reconnect did happen
    assert worker.proc.poll() is None, worker.tail()
