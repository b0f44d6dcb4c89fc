"""Email delivery status from the provider, through django-anymail's tracking webhooks.

Anymail receives each provider's webhook under /hooks/anymail/<esp>/tracking/ (config/urls.py),
checks its basic-auth secret (settings.ANYMAIL["WEBHOOK_SECRET"]) and sends the normalised
`anymail.signals.tracking` signal with an AnymailTrackingEvent; `email_tracking_received` is
the receiver. The event's message_id is the provider id the dispatcher stored on the Message
(Message.provider_id, from `anymail_status.message_id`).

What an event does:
- sent, delivered: the message moves forward (sent_at, delivered_at); a status never moves
  back, since events arrive out of order and repeat.
- bounced, rejected: the message failed, and the address is closed for good
  (contact_mark_undeliverable: pending emails cancelled and re-routed by SMS where allowed).
  A bounce after "delivered" still counts: some providers report the hand-over to the
  receiving server, which may bounce later.
- failed (the provider could not send it at all): the message failed; the address is not blamed.
- complained (marked as spam), unsubscribed: the patient does not want these emails; the
  address is closed like a bounce (the project has one email flag, email_undeliverable_at).
- opened, clicked, deferred, queued and the rest: nothing is written. An email "open" is a
  tracking pixel that many clients block or pre-fetch; the outbox counts a questionnaire as
  opened when its link was opened (a Response exists), for SMS and email alike (outbox.py).

Nothing from the event that could name the patient is stored: not the recipient, not the
provider's description or MTA response (they often quote the address), only the event type
and anymail's normalised reject reason, e.g. "email bounced (invalid)".
"""

from __future__ import annotations

import logging
from datetime import datetime

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.db import transaction
from django.utils import timezone

from patients.messaging.planning import contact_mark_undeliverable
from patients.models import Message

logger = logging.getLogger(__name__)

S = Message.Status
# How far along an email is; an event only moves it forward. Failed ranks above delivered (see
# the module docstring); "sending" is the dispatcher's in-flight state.
RANK = {
    S.PLANNED: 0,
    S.QUEUED: 1,
    "sending": 1,
    S.UNCONFIRMED: 1,
    S.CANCELLED: 1,
    S.SENT: 2,
    S.DELIVERED: 3,
    S.FAILED: 4,
}
TARGET = {
    EventType.SENT: S.SENT,
    EventType.DELIVERED: S.DELIVERED,
    EventType.BOUNCED: S.FAILED,
    EventType.REJECTED: S.FAILED,
    EventType.FAILED: S.FAILED,
}
# Events that close the address, and the few words kept in the patient's history.
CLOSES_ADDRESS = {
    EventType.BOUNCED: "bounced",
    EventType.REJECTED: "rejected by the provider",
    EventType.COMPLAINED: "marked as spam",
    EventType.UNSUBSCRIBED: "unsubscribed",
}


def email_event_apply(*, event: AnymailTrackingEvent, now: datetime | None = None) -> Message | None:
    """Apply one tracking event to its message; None when it names no email message of ours."""
    now = now or timezone.now()
    event_type = event.event_type
    if event_type not in TARGET and event_type not in CLOSES_ADDRESS:
        return None
    if not event.message_id:
        return None
    at = event.timestamp or now
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("enrollment__patient")
            .filter(provider_id=str(event.message_id), channel=Message.Channel.EMAIL)
            .first()
        )
        if message is None:
            logger.info("Email tracking event %s for an unknown message id: ignored", event_type)
            return None
        target = TARGET.get(event_type)
        if target is not None and RANK[target] > RANK.get(message.status, 0):
            message.status = target
            fields = ["status", "updated_at"]
            if message.sent_at is None and target != S.FAILED:
                message.sent_at = at
                fields.append("sent_at")
            if target == S.DELIVERED:
                message.delivered_at = at
                fields.append("delivered_at")
            if target == S.FAILED:
                message.last_error = f"email {event_type}" + (
                    f" ({event.reject_reason})" if event.reject_reason else ""
                )
                fields.append("last_error")
            message.save(update_fields=fields)
        if event_type in CLOSES_ADDRESS:
            note = CLOSES_ADDRESS[event_type] + (f" ({event.reject_reason})" if event.reject_reason else "")
            contact_mark_undeliverable(
                patient=message.enrollment.patient, channel=Message.Channel.EMAIL, reason=note, now=now
            )
    logger.info("Message %s: email %s", message.pk, event_type)
    return message


def email_tracking_received(sender, event: AnymailTrackingEvent, esp_name: str = "", **kwargs) -> None:
    email_event_apply(event=event)


# Connected on import; PatientsConfig.ready() imports this module so the webhook works from startup.
tracking.connect(email_tracking_received, dispatch_uid="patients_email_tracking")
