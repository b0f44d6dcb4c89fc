"""Sends whose outcome is uncertain are settled with the provider, never sent twice.

Each fault is real at the edge we do not own: the fake Twilio (real HTTP, real SDK) hangs after
accepting, answers 502, refuses connections or fails its lookups; a fake SMTP server (real
socket, Django's real SMTP backend) stops answering; PostgreSQL drops our connection between the
claim and the send.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from patients.messaging.dispatch import OUTCOME_UNKNOWN, message_send, messages_claim_due, messages_recover_stale
from patients.messaging.sms import locmem
from patients.models import Message
from tests.conftest import need_service
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio
from tests.patients.messaging.test_dispatch import claimed, due_message, empty_outboxes  # noqa: F401 - autouse fixture

S = Message.Status


@pytest.fixture
def fake(settings):
    with FakeTwilio() as server:
        use_fake_twilio(settings, server, timeout=0.5)
        settings.MESSAGES_RETRY_BASE_SECONDS = 1.0
        settings.MESSAGES_RETRY_MAX_SECONDS = 8.0
        yield server


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_an_sms_the_provider_took_but_answered_too_late_is_recorded_once_as_sent(make, fake):
    message = claimed(make)
    fake.hang_next(1, seconds=1.5, accept=True)

    first = message_send(message_id=message.pk)
    message.refresh_from_db()
    assert first.status == S.UNCONFIRMED and message.status == S.UNCONFIRMED
    assert "checking with the provider" in message.last_error

    settled = message_send(message_id=message.pk, now=later(21))
    message.refresh_from_db()
    assert settled.status == S.SENT and message.provider_id == fake.messages[0].sid
    assert message.attempts == 1 and message.sent_at is not None
    assert message_send(message_id=message.pk, now=later(60)).status == S.SENT  # a late task changes nothing
    assert len(fake.messages) == 1 and fake.duplicates == 0 and fake.duplicates_by_content == 0


def test_a_gateway_timeout_is_uncertain_not_temporary(make, fake):
    message = claimed(make)
    fake.fail_next(1, status=504)

    assert message_send(message_id=message.pk).status == S.UNCONFIRMED
    assert fake.messages == []


def test_a_provider_that_cannot_be_reached_is_a_plain_retry_with_its_time_recorded(make, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeTwilio() as server:
        use_fake_twilio(settings, server)
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{port}"  # nothing listens: connection refused
    message = claimed(make)

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == S.QUEUED and "could not be reached" in message.last_error
    assert message.retry_at is not None and message.retry_at > timezone.now()


def test_lookups_that_keep_failing_end_as_outcome_unknown_without_a_second_sms(make, fake, settings):
    settings.MESSAGES_RECONCILE_MAX_SECONDS = 120
    message = claimed(make)
    fake.hang_next(1, seconds=1.5, accept=True)
    message_send(message_id=message.pk)
    fake.fail_lookups(10)

    assert message_send(message_id=message.pk, now=later(30)).status == S.UNCONFIRMED
    final = message_send(message_id=message.pk, now=later(130))

    message.refresh_from_db()
    assert final.status == S.FAILED and message.last_error == OUTCOME_UNKNOWN
    assert len(fake.messages) == 1 and fake.lookups == 2


def test_a_long_retry_after_is_not_cut_short_by_the_lost_task_sweep(make, fake, settings):
    settings.MESSAGES_QUEUED_TIMEOUT = 300
    message = claimed(make)
    fake.rate_limit_next(1, retry_after=400)

    outcome = message_send(message_id=message.pk)
    message.refresh_from_db()
    assert outcome.retry_in >= 400 and message.retry_at >= timezone.now() + timedelta(seconds=399)

    messages_recover_stale(now=later(350), enqueue=lambda pk: None)  # past the queued timeout, not the retry
    assert Message.objects.get(pk=message.pk).status == S.QUEUED
    messages_recover_stale(now=later(400 + 301), enqueue=lambda pk: None)  # its task is lost after all
    assert Message.objects.get(pk=message.pk).status == S.PLANNED


@pytest.fixture
def smtp(settings):
    with FakeSmtp(hang_seconds=2.0) as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 0.5
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


def test_an_email_server_that_never_greets_has_nothing_and_is_retried(make, smtp):
    smtp.hang_after = "greeting"
    message = claimed(make, channel="email")

    outcome = message_send(message_id=message.pk)

    assert outcome.status == S.QUEUED and smtp.received == []


def test_an_email_taken_but_not_acknowledged_is_failed_at_most_once(make, smtp):
    smtp.hang_after = "data"
    message = claimed(make, channel="email")

    outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert outcome.status == S.FAILED and message.last_error == OUTCOME_UNKNOWN
    assert len(smtp.received) == 1
    assert not Message.objects.filter(assignment=message.assignment, channel="sms").exists()  # no second copy


def test_an_email_acknowledged_is_sent(make, smtp):
    message = claimed(make, channel="email")
    assert message_send(message_id=message.pk).status == S.SENT
    assert len(smtp.received) == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_dropping_us_while_the_text_is_prepared_is_retried_not_failed(make):
    need_service("PostgreSQL", connection.vendor == "postgresql", "a dropped connection needs a server")
    message = due_message(make)
    assert messages_claim_due(now=timezone.now(), limit=10) == [message.pk]
    params = connection.get_connection_params()
    dropped = []

    def drop_before_the_template_query(execute, sql, params_, many, context):
        if "patients_smstemplate" in sql and not dropped:
            pid = connection.connection.info.backend_pid
            with psycopg.connect(
                host=params.get("host") or "127.0.0.1",
                port=params.get("port") or 5432,
                user=params.get("user"),
                dbname=params["dbname"],
                autocommit=True,
            ) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            dropped.append(pid)
        return execute(sql, params_, many, context)

    with connection.execute_wrapper(drop_before_the_template_query):
        outcome = message_send(message_id=message.pk)

    message.refresh_from_db()
    assert dropped and outcome.status == S.QUEUED and outcome.retry_in
    assert "Database unavailable" in message.last_error and message.status == S.QUEUED
    assert message_send(message_id=message.pk).status == S.SENT
    assert len(locmem.outbox) == 1
