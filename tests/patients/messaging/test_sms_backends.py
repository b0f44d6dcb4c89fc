"""SMS backends (patients/messaging/sms/): console, file, locmem, and Twilio over real HTTP against the fake provider."""

import io
import socket
import threading
import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from patients.messaging.sms import SmsPermanentError, SmsTemporaryError, SmsUncertainError, get_backend
from patients.messaging.sms.console import ConsoleBackend, mask_number
from patients.messaging.sms.file import FileBackend, sms_file_read
from patients.messaging.sms.twilio import IDEMPOTENCY_HEADER, TwilioBackend, retry_after_seconds
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio

TO = "+33612345678"


@pytest.fixture
def fake(settings):
    with FakeTwilio() as server:
        use_fake_twilio(settings, server, timeout=1.0)
        yield server


# --- console, file, locmem ------------------------------------------------------------------------


def test_console_backend_prints_the_body_but_not_the_full_number():
    out = io.StringIO()
    result = ConsoleBackend(stream=out).send_sms(to=TO, body="Cabinet\nhttp://x/s/abc", idempotency_key="message-7")
    printed = out.getvalue()
    assert "http://x/s/abc" in printed and "message-7" in printed
    assert TO not in printed and mask_number(TO) in printed
    assert result.status == "sent" and result.provider_id.startswith("console-")


def test_file_backend_appends_one_json_line_per_sms_even_from_many_threads(tmp_path, settings):
    settings.SMS_FILE_PATH = str(tmp_path / "var" / "sms.log")
    settings.SMS_BACKEND = "patients.messaging.sms.file.FileBackend"
    backend = get_backend()
    assert isinstance(backend, FileBackend)

    def send(i):
        backend.send_sms(to=TO, body=f"n°{i} é € " + "x" * 500, idempotency_key=f"message-{i}")

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = sms_file_read()
    assert sorted(line["idempotency_key"] for line in lines) == sorted(f"message-{i}" for i in range(40))
    assert all(line["to"] == TO and line["body"].endswith("x" * 500) for line in lines)
    assert len({line["provider_id"] for line in lines}) == 40


def test_sms_file_read_of_a_missing_file_is_empty(tmp_path):
    assert sms_file_read(tmp_path / "none.log") == []


def test_locmem_backend_keeps_an_outbox(settings):
    from patients.messaging.sms import locmem

    settings.SMS_BACKEND = "patients.messaging.sms.locmem.LocmemBackend"
    locmem.outbox.clear()
    get_backend().send_sms(to=TO, body="hello", idempotency_key="k1")
    assert [(m.to, m.body, m.idempotency_key) for m in locmem.outbox] == [(TO, "hello", "k1")]


def test_get_backend_builds_once_and_again_after_a_settings_change(settings, tmp_path):
    settings.SMS_BACKEND = "patients.messaging.sms.file.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "a.log")
    first = get_backend()
    assert get_backend() is first
    settings.SMS_FILE_PATH = str(tmp_path / "b.log")
    assert get_backend() is not first and get_backend().path == tmp_path / "b.log"


# --- Twilio, against the fake over HTTP ------------------------------------------------------------


def test_twilio_sends_through_the_api_with_auth_callback_and_idempotency_key(fake, settings):
    settings.SITE_URL = "https://ressenti.example.org"
    result = get_backend().send_sms(
        to=TO, body="Cabinet médical\nQuestionnaire http://x/s/a", idempotency_key="message-1"
    )
    assert result.status == "sent" and result.provider_status == "queued"
    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    [message] = fake.messages
    assert (message.sid, message.to, message.from_, message.body) == (
        result.provider_id,
        TO,
        "+33700000000",
        "Cabinet médical\nQuestionnaire http://x/s/a",
    )
    assert message.status_callback == "https://ressenti.example.org/hooks/twilio/status"
    assert message.idempotency_key == "message-1"
    assert fake.duplicates == 0


def test_twilio_messaging_service_sid_and_explicit_callback_url(fake, settings):
    settings.TWILIO_FROM = "MG" + "a" * 32
    settings.TWILIO_STATUS_CALLBACK_URL = "https://hooks.example.org/status"
    get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    [message] = fake.messages
    assert message.messaging_service_sid == "MG" + "a" * 32 and message.from_ == ""
    assert message.status_callback == "https://hooks.example.org/status"


def test_twilio_server_error_is_temporary(fake):
    fake.fail_next(1, status=500)
    with pytest.raises(SmsTemporaryError) as caught:
        get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    assert "500" in str(caught.value) and fake.messages == []
    # The next attempt with the same key goes through, once.
    get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    assert len(fake.messages) == 1 and fake.duplicates == 0


def test_twilio_rate_limit_is_temporary_and_carries_retry_after(fake):
    fake.rate_limit_next(1, retry_after=7)
    with pytest.raises(SmsTemporaryError) as caught:
        get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    assert caught.value.retry_after == 7 and caught.value.code == 20429


def test_twilio_timeout_is_uncertain_and_the_lookup_finds_what_a_blind_retry_would_repeat(fake):
    fake.hang_next(1, seconds=2.5, accept=True)
    started = time.monotonic()
    since = timezone.now()
    with pytest.raises(SmsUncertainError, match="in time"):
        get_backend().send_sms(to=TO, body="hi https://x/s/tok", idempotency_key="message-9")
    assert time.monotonic() - started < 2.4  # TWILIO_TIMEOUT=1 s, not the fake's 2.5 s
    # The provider had accepted it: the lookup finds it, by the send's link.
    found = get_backend().find_sent(to=TO, reference="https://x/s/tok", since=since)
    assert found is not None and found.provider_id == fake.messages[0].sid
    assert get_backend().find_sent(to=TO, reference="https://x/s/other", since=since) is None
    # A blind retry would have sent it twice, and the fake sees that.
    get_backend().send_sms(to=TO, body="hi https://x/s/tok", idempotency_key="message-9")
    assert len(fake.messages) == 2 and fake.duplicates == 1 and fake.duplicates_by_content == 1


def test_twilio_invalid_number_is_permanent_and_about_the_recipient(fake):
    fake.reject_numbers["+33611111111"] = 21211
    with pytest.raises(SmsPermanentError) as caught:
        get_backend().send_sms(to="+33611111111", body="hi", idempotency_key="k")
    assert caught.value.code == 21211 and caught.value.recipient_problem and not caught.value.opted_out


def test_twilio_unsubscribed_recipient_is_permanent_and_an_opt_out(fake):
    fake.reject_next(1, code=21610)
    with pytest.raises(SmsPermanentError) as caught:
        get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    assert caught.value.opted_out and caught.value.recipient_problem


def test_twilio_wrong_credentials_are_permanent_but_not_the_recipients_fault(fake, settings):
    settings.TWILIO_AUTH_TOKEN = "wrong"
    with pytest.raises(SmsPermanentError) as caught:
        get_backend().send_sms(to=TO, body="hi", idempotency_key="k")
    assert caught.value.code == 20003 and not caught.value.recipient_problem
    assert fake.messages == []


def test_twilio_unreachable_host_is_temporary(settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.SMS_BACKEND = "patients.messaging.sms.twilio.TwilioBackend"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM = "AC" + "1" * 32, "t", "+33700000000"
    settings.TWILIO_API_BASE = f"http://127.0.0.1:{port}"
    with pytest.raises(SmsTemporaryError, match="could not be reached"):
        get_backend().send_sms(to=TO, body="hi", idempotency_key="k")


def test_twilio_backend_needs_its_settings(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM = "", "", ""
    with pytest.raises(ImproperlyConfigured, match="TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM"):
        TwilioBackend()


def test_twilio_reuses_its_connection_between_messages(fake):
    backend = get_backend()
    for i in range(20):
        backend.send_sms(to=TO, body=f"m{i}", idempotency_key=f"k{i}")
    assert len(fake.messages) == 20 and fake.duplicates == 0 and fake.duplicates_by_content == 0
    assert backend.http.idempotency_key == ""  # never left behind for the next call


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("12") == 12
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a date in the past: now
    assert IDEMPOTENCY_HEADER == "I-Twilio-Idempotency-Token"
