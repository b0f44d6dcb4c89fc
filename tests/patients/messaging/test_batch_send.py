"""Batch sending: claimed, prepared and recorded in bulk, sent concurrently within the sender's rate,
and still exactly once: two dispatchers on the same rows, a task delivered twice, a worker killed
with a full pool of calls in flight."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.messaging import dispatch
from patients.messaging.dispatch import messages_claim_due, messages_dispatch, messages_send
from patients.messaging.ratelimit import SendRate, SendRateLimiter
from patients.messaging.sms import locmem
from patients.messaging.sms.twilio import TwilioBackend
from patients.models import Message
from patients.tasks import messages_send as messages_send_task
from surveys.models import Assignment
from tests.conftest import need_service
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio
from tests.patients.messaging.test_dispatch import due_message, empty_outboxes  # noqa: F401 - autouse fixture

# The real-worker fixtures: `workers` starts worker processes wired to `fake`, a fake Twilio.
from tests.patients.messaging.test_faults import FINAL, due_messages, fake, status, workers  # noqa: F401

S = Message.Status


def claimed_batch(make, n: int) -> list[int]:
    ids = [due_message(make, phone=f"+336{i:08d}").pk for i in range(n)]
    assert sorted(messages_claim_due(now=timezone.now(), limit=n)) == sorted(ids)
    return ids


# --- one batch ------------------------------------------------------------------------------------


def test_a_batch_is_sent_once_each_with_a_bounded_number_of_queries(make):
    ids = claimed_batch(make, 40)

    with CaptureQueriesContext(connection) as queries:
        outcomes = messages_send(message_ids=ids)

    assert {o.status for o in outcomes.values()} == {S.SENT} and set(outcomes) == set(ids)
    assert sorted(sms.idempotency_key for sms in locmem.outbox) == sorted(f"message-{pk}" for pk in ids)
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.SENT}
    assignments = Message.objects.filter(pk__in=ids).values("assignment_id")
    assert not Assignment.objects.filter(pk__in=assignments, invitation_channel="").exists()
    # Claims, wordings and results a wave at a time: one message's worth of queries costs about 8.
    assert len(queries) < 40, [q["sql"][:80] for q in queries]


def test_a_batch_settles_each_row_by_its_state(make, settings):
    settings.MESSAGES_SEND_TIMEOUT = 30
    wanted, done, completed, in_flight = claimed_batch(make, 4)
    Message.objects.filter(pk=done).update(status=S.SENT)
    Assignment.objects.filter(pk=Message.objects.get(pk=completed).assignment_id).update(
        status=Assignment.Status.COMPLETED
    )
    Message.objects.filter(pk=in_flight).update(status=S.SENDING, updated_at=timezone.now())

    outcomes = messages_send(message_ids=[wanted, done, completed, in_flight, wanted])

    assert outcomes[wanted].status == S.SENT
    assert (outcomes[done].status, outcomes[done].detail) == (S.SENT, "not queued")
    assert outcomes[completed].status == S.CANCELLED
    assert outcomes[in_flight].status == S.SENDING and outcomes[in_flight].retry_in  # looked at again later
    assert [sms.idempotency_key for sms in locmem.outbox] == [f"message-{wanted}"]


def test_provider_answers_of_a_batch_are_recorded_each_as_it_came(make, settings):
    settings.MESSAGES_RETRY_BASE_SECONDS = 1.0
    with FakeTwilio() as twilio:
        use_fake_twilio(settings, twilio)
        ids = claimed_batch(make, 12)
        twilio.fail_next(1, status=503)
        twilio.reject_next(1, code=21211)

        outcomes = messages_send(message_ids=ids)

    by_status = sorted(o.status for o in outcomes.values())
    assert by_status == sorted([S.QUEUED, S.FAILED] + [S.SENT] * 10)
    retry = next(pk for pk, o in outcomes.items() if o.status == S.QUEUED)
    assert outcomes[retry].retry_in and Message.objects.get(pk=retry).retry_at is not None
    assert len(twilio.messages) == 10 and twilio.duplicates == 0


def test_the_beat_tick_hands_over_batches(make, settings, monkeypatch):
    settings.MESSAGES_SEND_BATCH = 4
    ids = {due_message(make).pk for _ in range(10)}
    batches: list[list[int]] = []

    monkeypatch.setattr(dispatch, "messages_send_enqueue", batches.append)  # where the broker would take them

    report = messages_dispatch(now=timezone.now())

    assert [len(b) for b in batches] == [4, 4, 2] and {pk for b in batches for pk in b} == ids
    assert report.enqueued == 10


# --- send rates -----------------------------------------------------------------------------------


def test_twilio_senders_are_paced_by_their_kind_unless_set(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC" + "1" * 32, "token"
    settings.TWILIO_SENDER_MPS, settings.TWILIO_ACCOUNT_MPS = 0, 0
    for sender, mps in [("+33700000001", 1), ("36111", 100), ("Cabinet", 10), ("MG" + "a" * 32, 10)]:
        settings.TWILIO_FROM = sender
        (rate,) = TwilioBackend().send_rates()
        assert rate.per_second == mps and sender in rate.key
    settings.TWILIO_SENDER_MPS, settings.TWILIO_ACCOUNT_MPS = 30, 50
    sender_rate, account_rate = TwilioBackend().send_rates()
    assert (sender_rate.per_second, account_rate.per_second) == (30, 50)


def test_the_tick_claims_a_minute_of_the_senders_rate(settings):
    settings.MESSAGES_DISPATCH_BATCH = 0
    settings.SMS_BACKEND = "patients.messaging.sms.twilio.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM = "AC" + "2" * 32, "t", "36111"
    settings.TWILIO_SENDER_MPS = 0
    assert dispatch.dispatch_limit() == 6000
    settings.MESSAGES_DISPATCH_BATCH = 250
    assert dispatch.dispatch_limit() == 250


def test_a_limiter_lets_a_burst_go_then_the_rate():
    limiter = SendRateLimiter((SendRate(f"test:{uuid.uuid4().hex}", 100),))
    started = time.monotonic()
    for _ in range(150):
        limiter.wait_for(1)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed <= 1.0  # 100 at once, then 50 at 100/s


def test_a_batch_is_shaped_by_the_senders_rate(make, settings):
    with FakeTwilio() as twilio:
        use_fake_twilio(settings, twilio)
        settings.TWILIO_SENDER_MPS = 20
        settings.TWILIO_FROM = f"+3370{uuid.uuid4().int % 10**7:07d}"  # a bucket of its own, full
        ids = claimed_batch(make, 40)
        started = time.monotonic()
        outcomes = messages_send(message_ids=ids)
        elapsed = time.monotonic() - started
    assert {o.status for o in outcomes.values()} == {S.SENT}
    assert 0.9 <= elapsed <= 3.0  # 20 at once, then 20 more at 20/s


RATE_TAKER = """
import sys, time
from patients.messaging.ratelimit import SendRate, SendRateLimiter
limiter = SendRateLimiter((SendRate(sys.argv[1], 40),), redis_url=sys.argv[2])
start = float(sys.argv[3])
while time.time() < start:
    time.sleep(0.005)
granted = 0
while time.time() < start + 1.5:
    if limiter.take(1) == 0:
        granted += 1
    else:
        time.sleep(0.005)
print(granted)
"""


def test_the_rate_is_shared_by_worker_processes_through_redis(redis_url):
    key = f"test:{uuid.uuid4().hex}"
    start = time.time() + 1.0
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", RATE_TAKER, key, redis_url, str(start)],
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    granted = [int(taker.communicate(timeout=30)[0]) for taker in takers]
    # One bucket for the three: a burst of 40, then 40/s for 1.5 s, about 100 in all (3 × that if
    # each process had its own bucket).
    assert 80 <= sum(granted) <= 115, granted
    assert all(g > 0 for g in granted), granted


# --- two dispatchers ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_on_the_same_batch_send_each_message_once(make, settings):
    need_service("PostgreSQL", connection.vendor == "postgresql", "concurrent claims need row locks")
    with FakeTwilio() as twilio:
        use_fake_twilio(settings, twilio)
        ids = claimed_batch(make, 60)
        barrier = threading.Barrier(2)
        results: list[dict] = []

        def dispatcher() -> None:
            try:
                barrier.wait(timeout=10)
                results.append(messages_send(message_ids=ids))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=dispatcher) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert len(results) == 2
        assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.SENT}
        assert len(twilio.messages) == 60 and twilio.duplicates == 0 and twilio.duplicates_by_content == 0
        sent_by = [sum(o.status == S.SENT and o.detail != "not queued" for o in r.values()) for r in results]
        assert sum(sent_by) == 60


# --- real workers ----------------------------------------------------------------------------------------


@pytest.mark.services
def test_a_batch_task_delivered_twice_to_two_workers_sends_each_message_once(make, workers, fake):  # noqa: F811
    messages = due_messages(make, 30)
    ids = messages_claim_due(now=timezone.now(), limit=30)
    first = workers()
    workers()

    for _ in range(2):  # the same batch twice, as a redelivery while the first still runs would
        messages_send_task.apply_async(args=[ids], queue=first.queue)

    wait = time.monotonic() + 60
    while time.monotonic() < wait and {status(m) for m in messages} != {S.SENT}:
        time.sleep(0.1)
    assert {status(m) for m in messages} == {S.SENT}
    time.sleep(1)
    assert len(fake.messages) == 30 and fake.duplicates == 0
    assert fake.duplicates_by_content == 0


@pytest.mark.services
def test_a_worker_killed_with_sends_in_flight_settles_each_with_the_provider_once(make, workers, fake):  # noqa: F811
    messages = due_messages(make, 12)
    fake.hang_next(8, seconds=20, accept=True)  # taken, then answered too late
    doomed = workers()

    messages_dispatch(now=timezone.now())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(fake.messages) < 12:
        time.sleep(0.05)
    assert len(fake.messages) == 12  # all calls made, 8 of them still waiting for their answer
    doomed.kill()

    time.sleep(3.5)  # past the visibility timeout: the batch task comes back
    heir = workers()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not {status(m) for m in messages} <= FINAL:
        time.sleep(0.1)

    assert {status(m) for m in messages} == {S.SENT}, heir.tail()
    by_sid = {m.sid for m in fake.messages}
    assert set(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("provider_id", flat=True)) == by_sid
    assert fake.lookups >= 1
    assert len(fake.messages) == 12 and fake.duplicates == 0 and fake.duplicates_by_content == 0


def test_retries_of_a_batch_go_to_their_own_tasks_after_their_delay(monkeypatch):
    enqueued: list[tuple[int, float | None]] = []
    monkeypatch.setattr(
        dispatch, "message_send_enqueue", lambda pk, *, countdown=None: enqueued.append((pk, countdown))
    )
    outcomes = {
        1: dispatch.SendOutcome(S.SENT),
        2: dispatch.SendOutcome(S.QUEUED, retry_in=7.5),
        3: dispatch.SendOutcome(S.UNCONFIRMED, retry_in=20.0),
    }

    assert dispatch.message_retries_enqueue(outcomes) == 2
    assert enqueued == [(2, 7.5), (3, 20.0)]


def test_with_the_rate_limiter_unreachable_nothing_is_claimed_or_sent(make, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"  # nothing listens: connection refused
    with FakeTwilio() as twilio:
        use_fake_twilio(settings, twilio)
        settings.REDIS_URL = dead
        ids = claimed_batch(make, 3)

        outcomes = messages_send(message_ids=ids)

        assert {o.status for o in outcomes.values()} == {S.QUEUED} and all(o.retry_in for o in outcomes.values())
        assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.QUEUED}
        assert twilio.requests == 0
