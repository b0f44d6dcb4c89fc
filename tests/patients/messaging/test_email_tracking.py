"""Email delivery status from the provider (django-anymail tracking events) updates the message.

The library boundary is anymail's `tracking` signal with a real AnymailTrackingEvent, as every
provider's webhook view sends it; one test goes through a real provider webhook URL (Postmark's
JSON format) to check the URL, the basic-auth secret and the parsing end to end.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.utils import timezone

import patients.messaging.email_tracking  # noqa: F401  (connects the receiver, as PatientsConfig.ready() does)
from patients.messaging.outbox import message_error_text
from patients.messaging.planning import CancelReason, messages_plan
from patients.models import Message, Patient

S = Message.Status
SECRET = "ressenti:hook-secret-for-tests"
ADDRESS = "jeanne.martin@example.org"


@pytest.fixture
def sent(make):
    """An email invitation handed to the provider (provider id "pm-1") and an email reminder to come,
    for a patient who also has a phone: a closed address re-routes the reminder by SMS."""
    now = timezone.now()
    version = make.published_version()
    timepoint = make.timepoint(version=version, offset=0, window=7, reminders=[2])
    participant = make.participant(study=version.questionnaire.study)
    patient = make.patient(email=ADDRESS, preferred_channel="email")
    enrollment = make.enrollment(patient=patient, participant=participant, enrolled_at=now - timedelta(hours=1))
    assignment = make.assignment(
        participant=participant, timepoint=timepoint, due_at=now - timedelta(hours=1), status="open"
    )
    messages_plan(enrollment=enrollment, assignments=[assignment], now=now - timedelta(hours=1))
    Message.objects.filter(assignment=assignment, sequence=0).update(
        status=S.SENT, provider_id="pm-1", sent_at=now - timedelta(minutes=50)
    )
    return Message.objects.get(assignment=assignment, sequence=0)


def event(event_type: str, message_id: str = "pm-1", **kw) -> AnymailTrackingEvent:
    return AnymailTrackingEvent(
        event_type=event_type,
        message_id=message_id,
        recipient=ADDRESS,
        timestamp=kw.pop("timestamp", datetime(2026, 6, 1, 10, 5, tzinfo=UTC)),
        **kw,
    )


def send(ev: AnymailTrackingEvent) -> None:
    tracking.send(sender=object, event=ev, esp_name="Postmark")


def reload(message: Message) -> Message:
    message.refresh_from_db()
    return message


def reminder(message: Message, channel: str = "email") -> Message | None:
    return Message.objects.filter(assignment_id=message.assignment_id, sequence=1, channel=channel).first()


def test_delivered_moves_the_message_forward_with_the_provider_time(sent):
    send(event("delivered"))

    message = reload(sent)
    assert message.status == S.DELIVERED
    assert message.delivered_at == datetime(2026, 6, 1, 10, 5, tzinfo=UTC)


def test_a_bounce_fails_the_message_and_closes_the_address(sent):
    send(
        event(
            "bounced",
            reject_reason="bounced",
            description=f"550 5.1.1 <{ADDRESS}> unknown user",
            mta_response=f"smtp; 550 <{ADDRESS}>",
        )
    )

    message = reload(sent)
    assert message.status == S.FAILED
    # Only the event type and anymail's normalised reason: the description quotes the address.
    assert message.last_error == "email bounced (bounced)"
    assert message_error_text(message) == "Email bounced: address bounced before"
    patient = Patient.objects.get(pk=message.enrollment.patient_id)
    assert patient.email_undeliverable_at is not None
    assert ADDRESS not in (patient.history.first().history_change_reason or "")
    # The reminder still to come is cancelled by email and re-routed by SMS.
    assert reminder(sent).status == S.CANCELLED and reminder(sent).last_error == CancelReason.EMAIL_UNDELIVERABLE
    assert reminder(sent, "sms").status == S.PLANNED


def test_a_rejected_address_is_closed_too(sent):
    send(event("rejected", reject_reason="invalid"))

    assert reload(sent).status == S.FAILED
    assert message_error_text(sent) == "Email refused by the provider: invalid address"
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is not None


@pytest.mark.parametrize("event_type", ["complained", "unsubscribed"])
def test_a_complaint_or_unsubscribe_closes_the_address_but_the_message_was_delivered(sent, event_type):
    send(event("delivered"))
    send(event(event_type))

    assert reload(sent).status == S.DELIVERED
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is not None
    assert reminder(sent).status == S.CANCELLED


def test_a_provider_failure_fails_the_message_without_blaming_the_address(sent):
    send(event("failed"))

    assert reload(sent).status == S.FAILED
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is None
    assert reminder(sent).status == S.PLANNED


def test_events_out_of_order_or_repeated_never_move_a_message_back(sent):
    send(event("delivered"))
    send(event("sent"))
    send(event("delivered", timestamp=datetime(2026, 6, 1, 11, 0, tzinfo=UTC)))
    message = reload(sent)
    assert message.status == S.DELIVERED and message.delivered_at == datetime(2026, 6, 1, 10, 5, tzinfo=UTC)

    # A bounce after "delivered" is real (the receiving server bounced later); nothing undoes it.
    send(event("bounced"))
    send(event("delivered"))
    assert reload(sent).status == S.FAILED
    first_closed = Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at
    send(event("bounced"))
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at == first_closed


@pytest.mark.parametrize("event_type", ["opened", "clicked", "deferred", "queued", "unknown"])
def test_opens_clicks_and_delays_write_nothing(sent, event_type):
    before = list(Message.objects.order_by("pk").values_list("pk", "status", "last_error", "updated_at"))

    send(event(event_type))

    assert list(Message.objects.order_by("pk").values_list("pk", "status", "last_error", "updated_at")) == before
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is None


def test_an_event_for_an_unknown_or_sms_message_changes_nothing(sent):
    Message.objects.filter(assignment_id=sent.assignment_id, sequence=1).update(channel="sms", provider_id="SM1")
    send(event("bounced", message_id="someone-else"))
    send(event("bounced", message_id="SM1"))
    send(event("bounced", message_id=None))

    assert reload(sent).status == S.SENT
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is None


# --- through a provider's webhook URL -------------------------------------------------------------


def post_postmark(client, payload: dict, auth: str | None = SECRET):
    headers = {}
    if auth is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return client.post(
        "/hooks/anymail/postmark/tracking/", data=json.dumps(payload), content_type="application/json", **headers
    )


def test_the_postmark_webhook_url_applies_a_bounce(sent, client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}

    response = post_postmark(
        client,
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "MessageID": "pm-1",
            "Email": ADDRESS,
            "BouncedAt": "2026-06-01T10:05:00Z",
            "ID": 42,
            "Description": "The server was unable to deliver your message",
        },
    )

    assert response.status_code == 200
    assert reload(sent).status == S.FAILED
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is not None


def test_the_webhook_refuses_a_request_without_the_secret(sent, client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    payload = {
        "RecordType": "Bounce",
        "Type": "HardBounce",
        "MessageID": "pm-1",
        "Email": ADDRESS,
        "BouncedAt": "2026-06-01T10:05:00Z",
    }

    assert post_postmark(client, payload, auth=None).status_code == 400
    assert post_postmark(client, payload, auth="ressenti:wrong").status_code == 400

    assert reload(sent).status == S.SENT
    assert Patient.objects.get(pk=sent.enrollment.patient_id).email_undeliverable_at is None
