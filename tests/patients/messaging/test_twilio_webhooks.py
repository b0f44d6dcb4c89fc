"""Twilio webhooks (patients/messaging/sms_webhooks.py): signatures, inbound STOP, delivery status callbacks."""

import logging

import pytest
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from patients.identity.contacts import blind_index
from patients.messaging.sms import get_backend, sms_failed_permanently
from patients.messaging.sms_webhooks import is_opt_out
from patients.models import Message, Patient
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio

TOKEN = "webhook-test-auth-token"
PHONE = "+33612345678"


@pytest.fixture
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = "https://ressenti.example.org"
    return settings


def signed_post(client, name, params, *, token=TOKEN, site_url="https://ressenti.example.org"):
    path = reverse(name)
    signature = RequestValidator(token).compute_signature(site_url + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def enrolled(make, *, phone=PHONE, study=None):
    """A patient with an enrolment, an assignment and its planned SMS invitation and reminder."""
    version = make.published_version(study=study)
    study = version.questionnaire.study
    patient = make.patient(phone=phone, phone_digest=blind_index(phone), email="p@example.org")
    participant = make.participant(study=study)
    enrollment = make.enrollment(patient=patient, participant=participant)
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    now = timezone.now()
    messages = [
        make.message(
            enrollment=enrollment,
            assignment=assignment,
            channel=channel,
            kind=kind,
            sequence=seq,
            scheduled_at=now,
            status=status,
        )
        for channel, kind, seq, status in [
            ("sms", "invitation", 0, "queued"),
            ("sms", "reminder", 1, "planned"),
            ("email", "reminder", 1, "planned"),
            ("sms", "reminder", 2, "sent"),
        ]
    ]
    return patient, messages


# --- inbound --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["STOP", " stop ", "Stop.", "ARRET", "Arrêt", "arrêter", "STOPALL", "unsubscribe", "Désabonner", "quit"]
)
def test_opt_out_keywords(body):
    assert is_opt_out(body)


@pytest.mark.parametrize("body", ["", "Bonjour", "stop please call me", "STOPPER", "merci"])
def test_other_replies_are_not_opt_outs(body):
    assert not is_opt_out(body)


def test_advanced_opt_out_type_counts_whatever_the_word():
    assert is_opt_out("FIN", "STOP") and not is_opt_out("START", "START")


def test_inbound_stop_opts_out_cancels_pending_sms_and_logs_no_number(make, client, twilio_settings, caplog):
    patient, (invitation, reminder, email, sent) = enrolled(make)
    other, (other_sms, *_rest) = enrolled(make, phone="+33698765432")
    with caplog.at_level(logging.INFO, logger="patients.messaging.sms_webhooks"):
        response = signed_post(
            client,
            "patients:twilio_inbound",
            {
                "From": "+33 6 12 34 56 78",
                "To": "+33700000000",
                "Body": " Stop ",
                "MessageSid": "SM" + "1" * 32,
                "AccountSid": "AC" + "0" * 32,
            },
        )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response></Response>")
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    statuses = {m.pk: m.status for m in Message.objects.all()}
    assert statuses[invitation.pk] == statuses[reminder.pk] == "cancelled"
    assert statuses[email.pk] == "planned" and statuses[sent.pk] == "sent"  # email and past SMS untouched
    assert statuses[other_sms.pk] == "queued"
    assert Patient.objects.get(pk=other.pk).sms_opted_out_at is None
    # Logged with the patient id, never the number.
    assert f"[{patient.pk}]" in caplog.text and "2 pending SMS cancelled" in caplog.text
    assert "612345678" not in caplog.text and "6 12 34" not in caplog.text
    # The history says when and why.
    assert patient.history.first().history_change_reason == "sms opted out"


def test_inbound_stop_opts_out_every_patient_with_that_number(make, client, twilio_settings):
    first, _ = enrolled(make)
    second, _ = enrolled(make)  # the same person in another study
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "ARRET"})
    assert Patient.objects.filter(pk__in=[first.pk, second.pk], sms_opted_out_at__isnull=False).count() == 2


def test_a_second_stop_keeps_the_first_opt_out_time(make, client, twilio_settings):
    patient, _ = enrolled(make)
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "STOP"})
    first = Patient.objects.get(pk=patient.pk).sms_opted_out_at
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "STOP"})
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at == first


def test_inbound_other_text_or_unknown_number_changes_nothing(make, client, twilio_settings):
    patient, messages = enrolled(make)
    assert signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "Merci docteur"}).status_code == 200
    assert signed_post(client, "patients:twilio_inbound", {"From": "+33600000001", "Body": "STOP"}).status_code == 200
    assert signed_post(client, "patients:twilio_inbound", {"From": "36180", "Body": "STOP"}).status_code == 200
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is None
    assert Message.objects.filter(status="cancelled").count() == 0


@pytest.mark.parametrize("how", ["no signature", "wrong token", "tampered", "other url"])
def test_inbound_with_a_bad_signature_is_refused_and_changes_nothing(make, client, twilio_settings, how):
    patient, _ = enrolled(make)
    params = {"From": PHONE, "Body": "STOP"}
    path = reverse("patients:twilio_inbound")
    if how == "no signature":
        response = client.post(path, params)
    elif how == "wrong token":
        response = signed_post(client, "patients:twilio_inbound", params, token="other-token")
    elif how == "tampered":
        good = RequestValidator(TOKEN).compute_signature(
            "https://ressenti.example.org" + path, {**params, "Body": "Hi"}
        )
        response = client.post(path, params, HTTP_X_TWILIO_SIGNATURE=good)
    else:
        response = signed_post(client, "patients:twilio_inbound", params, site_url="https://evil.example.org")
    assert response.status_code == 403
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is None
    assert Message.objects.filter(status="cancelled").count() == 0


def test_webhooks_refuse_everything_when_no_auth_token_is_configured(make, client, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    settings.SITE_URL = "https://ressenti.example.org"
    patient, _ = enrolled(make)
    assert signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "STOP"}, token="").status_code == 403
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is None


def test_webhooks_accept_post_only(client, twilio_settings):
    assert client.get(reverse("patients:twilio_inbound")).status_code == 405
    assert client.get(reverse("patients:twilio_status")).status_code == 405


# --- status callbacks -----------------------------------------------------------------------------


def status(client, sid, value, code=None):
    params = {"MessageSid": sid, "MessageStatus": value, "SmsSid": sid, "SmsStatus": value}
    if code:
        params["ErrorCode"] = str(code)
    return signed_post(client, "patients:twilio_status", params)


def with_provider_id(message, sid="SM" + "a" * 32, status_value="sent"):
    Message.objects.filter(pk=message.pk).update(provider_id=sid, status=status_value, sent_at=timezone.now())
    return sid


def test_status_callbacks_move_forward_and_never_back(make, client, twilio_settings):
    _, (invitation, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    assert status(client, sid, "delivered").status_code == 204
    invitation.refresh_from_db()
    assert invitation.status == "delivered" and invitation.delivered_at is not None
    delivered_at = invitation.delivered_at
    # Late and repeated callbacks: ignored.
    for late in ("sent", "queued", "delivered", "failed"):
        status(client, sid, late, code=30003 if late == "failed" else None)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.delivered_at, invitation.last_error) == ("delivered", delivered_at, "")


def test_sent_after_queued_records_the_sending_time(make, client, twilio_settings):
    _, (invitation, *_rest) = enrolled(make)
    Message.objects.filter(pk=invitation.pk).update(provider_id="SM1", status="queued")
    status(client, "SM1", "sent")
    invitation.refresh_from_db()
    assert invitation.status == "sent" and invitation.sent_at is not None


def test_undelivered_with_a_permanent_code_fails_the_message_and_signals_the_fallback(make, client, twilio_settings):
    patient, (invitation, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    received = []

    def receiver(sender, message, code, **kwargs):
        received.append((message.pk, code))

    sms_failed_permanently.connect(receiver)
    try:
        status(client, sid, "undelivered", code=30003)
    finally:
        sms_failed_permanently.disconnect(receiver)
    invitation.refresh_from_db()
    assert invitation.status == "failed" and invitation.last_error == "Twilio undelivered 30003"
    assert received == [(invitation.pk, 30003)]
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is None


def test_failed_with_a_passing_error_does_not_signal_a_fallback(make, client, twilio_settings):
    _, (invitation, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    received = []
    sms_failed_permanently.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        status(client, sid, "failed", code=30008)  # unknown error: not the number's fault
    finally:
        sms_failed_permanently.disconnect(dispatch_uid="t")
    invitation.refresh_from_db()
    assert invitation.status == "failed" and received == []


def test_failed_because_twilio_holds_an_opt_out_opts_the_patient_out(make, client, twilio_settings):
    patient, (invitation, reminder, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    status(client, sid, "failed", code=21610)
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is not None
    assert Message.objects.get(pk=reminder.pk).status == "cancelled"


def test_status_for_an_unknown_message_or_status_is_ignored(make, client, twilio_settings):
    _, messages = enrolled(make)
    assert status(client, "SM-unknown", "delivered").status_code == 204
    assert status(client, "", "delivered").status_code == 204
    with_provider_id(messages[0], sid="SM2")
    assert status(client, "SM2", "receiving").status_code == 204
    assert Message.objects.get(pk=messages[0].pk).status == "sent"


def test_status_with_a_bad_signature_is_refused(make, client, twilio_settings):
    _, (invitation, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    path = reverse("patients:twilio_status")
    response = client.post(path, {"MessageSid": sid, "MessageStatus": "delivered"}, HTTP_X_TWILIO_SIGNATURE="bad")
    assert response.status_code == 403 and Message.objects.get(pk=invitation.pk).status == "sent"


# --- end to end: our backend -> fake Twilio -> signed callbacks -> our webhook --------------------


@pytest.mark.django_db(transaction=True)
def test_end_to_end_send_then_signed_callbacks_mark_the_message_delivered(make, live_server, settings):
    with FakeTwilio(callbacks=("sent", "delivered"), callback_delay=0.2) as fake:
        use_fake_twilio(settings, fake)
        settings.SITE_URL = live_server.url
        _, (invitation, *_rest) = enrolled(make)
        result = get_backend().send_sms(to=PHONE, body="hello", idempotency_key=f"message-{invitation.pk}")
        Message.objects.filter(pk=invitation.pk).update(provider_id=result.provider_id, status="sent")
        assert fake.wait_for_callbacks(2, timeout=10)
        assert [code for _sid, _status, code in fake.callback_results] == [204, 204]
    invitation.refresh_from_db()
    assert invitation.status == "delivered" and invitation.delivered_at is not None


def test_a_late_undelivered_sms_is_sent_again_by_email(make, client, twilio_settings):
    # The receiver connected in patients/apps.py plans the same invitation on the other channel.
    _patient, (invitation, *_rest) = enrolled(make)
    sid = with_provider_id(invitation)
    status(client, sid, "undelivered", code=30003)
    fallback = Message.objects.filter(assignment=invitation.assignment, sequence=0, channel="email")
    assert fallback.count() == 1 and fallback.get().status == "planned"
    # A repeated callback plans nothing more.
    status(client, sid, "undelivered", code=30003)
    assert fallback.count() == 1


def test_start_after_stop_takes_sms_back_for_what_comes_next(make, client, twilio_settings):
    patient, (invitation, *_rest) = enrolled(make)
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "STOP"})
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is not None
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "start"})
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is None
    assert patient.history.first().history_change_reason == "sms opted in again"
    # What was cancelled by the STOP stays cancelled.
    assert Message.objects.get(pk=invitation.pk).status == "cancelled"
    # A START with a bad signature changes nothing.
    signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "STOP"})
    assert (
        signed_post(client, "patients:twilio_inbound", {"From": PHONE, "Body": "START"}, token="x").status_code == 403
    )
    assert Patient.objects.get(pk=patient.pk).sms_opted_out_at is not None
