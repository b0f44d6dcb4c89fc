"""Twilio webhooks: inbound SMS (STOP opts out) and delivery status callbacks.

Both check X-Twilio-Signature (HMAC of the full URL and the POST fields, keyed with the
auth token) before reading anything: a forged request gets 403 and changes nothing. The
URL signed by Twilio is the public one, so it is rebuilt from settings.SITE_URL rather than
from the Host header, which a reverse proxy may have rewritten.

Views stay thin: the decisions are in sms_opt_out() and message_status_update().
"""

from __future__ import annotations

import logging
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from patients.identity.contacts import blind_index, phone_normalise
from patients.messaging.planning import contact_mark_opted_out, contact_sms_opt_in
from patients.messaging.sms import OPTED_OUT_CODES, RECIPIENT_CODES, sms_failed_permanently
from patients.models import Message, Patient

logger = logging.getLogger(__name__)

# Twilio's default opt-out keywords (Advanced Opt-Out) and their French counterparts, compared
# after trimming, upper-casing and dropping accents and final punctuation ("Arrêt." -> ARRET).
OPT_OUT_KEYWORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT OUT",
        "ARRET",
        "ARRETER",
        "DESABONNER",
        "DESINSCRIRE",
        "DESINSCRIPTION",
        "STOP SMS",
    }
)
# Twilio's default opt-in keywords: a patient who sent STOP can take SMS back.
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

PENDING = (Message.Status.PLANNED, Message.Status.QUEUED)
# Twilio's message statuses in our words. Statuses we do not track (receiving, read is
# delivered, canceled is Twilio's scheduling API) map to None and are ignored.
TWILIO_STATUS = {
    "accepted": Message.Status.QUEUED,
    "scheduled": Message.Status.QUEUED,
    "queued": Message.Status.QUEUED,
    "sending": Message.Status.SENT,
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.DELIVERED,
    "undelivered": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}
# How far along a message is: a callback only ever moves it forward. Callbacks arrive out of
# order ("sent" after "delivered" is common) and may repeat. A cancelled message that has a
# provider id did reach Twilio (cancelled while in flight), so Twilio's word on it counts.
RANK = {
    Message.Status.PLANNED: 0,
    Message.Status.QUEUED: 1,
    Message.Status.SENDING: 1,
    Message.Status.UNCONFIRMED: 1,
    Message.Status.CANCELLED: 1,
    Message.Status.SENT: 2,
    Message.Status.DELIVERED: 3,
    Message.Status.FAILED: 3,
}


def normalise_keyword(body: str) -> str:
    text = unicodedata.normalize("NFKD", body).encode("ascii", "ignore").decode()
    return " ".join(text.strip().strip(".!").upper().split())


def is_opt_out(body: str, opt_out_type: str = "") -> bool:
    # With Advanced Opt-Out, Twilio has already recognised the keyword and says so.
    return opt_out_type.upper() == "STOP" or normalise_keyword(body) in OPT_OUT_KEYWORDS


def signature_valid(request: HttpRequest) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not token or not signature:
        return False
    url = settings.SITE_URL + request.get_full_path()
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    return RequestValidator(token).validate(url, request.POST, signature, algorithm)


# --- services -------------------------------------------------------------------------------------


def sms_opt_out(*, phone: str, now) -> list[int]:
    """Opt every patient with this number out of SMS and cancel their pending SMS, together.
    Returns the patient ids (for the log: never the number)."""
    try:
        digest = blind_index(phone_normalise(phone))
    except ValidationError:  # a short code or an unparsable sender: nobody of ours has it
        return []
    with transaction.atomic():
        patients = list(Patient.objects.filter(phone_digest=digest).order_by("pk"))
        # One rule for every opt-out: flag, cancel pending SMS, re-route by email where allowed.
        cancelled = sum(contact_mark_opted_out(patient=patient, channel="sms", now=now) for patient in patients)
    if patients:
        logger.info("SMS opt-out: patient(s) %s, %d pending SMS cancelled", [p.pk for p in patients], cancelled)
    else:
        logger.info("SMS opt-out keyword from a number that belongs to no patient")
    return [p.pk for p in patients]


def sms_opt_in(*, phone: str) -> list[int]:
    """Every patient with this number takes SMS back (START). Returns their ids (for the log)."""
    try:
        digest = blind_index(phone_normalise(phone))
    except ValidationError:
        return []
    with transaction.atomic():
        changed = [
            p.pk for p in Patient.objects.filter(phone_digest=digest).order_by("pk") if contact_sms_opt_in(patient=p)
        ]
    logger.info("SMS opt-in: patient(s) %s", changed)
    return changed


def message_status_update(*, provider_id: str, twilio_status: str, error_code: int | None, now) -> Message | None:
    """Apply a Twilio status callback; a status behind the one recorded is ignored."""
    target = TWILIO_STATUS.get(twilio_status.lower())
    if target is None or not provider_id:
        return None
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("enrollment")
            .filter(provider_id=provider_id, channel=Message.Channel.SMS)
            .first()
        )
        if message is None or RANK[target] <= RANK[message.status]:
            return None
        message.status = target
        fields = ["status", "updated_at"]
        if target in (Message.Status.SENT, Message.Status.DELIVERED) and message.sent_at is None:
            message.sent_at = now
            fields.append("sent_at")
        if target == Message.Status.DELIVERED:
            message.delivered_at = now
            fields.append("delivered_at")
        if target == Message.Status.FAILED:
            message.last_error = f"Twilio {twilio_status} {error_code or ''}".strip()
            fields.append("last_error")
        message.save(update_fields=fields)
        if target == Message.Status.FAILED and error_code in RECIPIENT_CODES:
            # Inside the transaction: the fallback the receiver plans commits with the failure.
            sms_failed_permanently.send(sender=Message, message=message, code=error_code)
    if target == Message.Status.FAILED and error_code in OPTED_OUT_CODES:
        # Twilio itself holds an opt-out for this number (21610): record it as ours.
        patient = Patient.objects.get(pk=message.enrollment.patient_id)
        if patient.phone:
            sms_opt_out(phone=patient.phone, now=now)
    logger.info(
        "Message %s: Twilio status %s%s", message.pk, twilio_status, f" (error {error_code})" if error_code else ""
    )
    return message


# --- views ----------------------------------------------------------------------------------------


@csrf_exempt  # Twilio cannot hold a CSRF token; the signature is the proof of origin.
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        logger.warning("Twilio inbound webhook with a missing or bad signature refused")
        return HttpResponseForbidden("Bad signature")
    body, opt_out_type = request.POST.get("Body", ""), request.POST.get("OptOutType", "")
    if is_opt_out(body, opt_out_type):
        sms_opt_out(phone=request.POST.get("From", ""), now=timezone.now())
    elif opt_out_type.upper() == "START" or normalise_keyword(body) in OPT_IN_KEYWORDS:
        sms_opt_in(phone=request.POST.get("From", ""))
    # Any other reply is not read by anyone: patients reach the team by the study's contacts.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not signature_valid(request):
        logger.warning("Twilio status webhook with a missing or bad signature refused")
        return HttpResponseForbidden("Bad signature")
    raw_code = request.POST.get("ErrorCode", "")
    message_status_update(
        provider_id=request.POST.get("MessageSid", ""),
        twilio_status=request.POST.get("MessageStatus", ""),
        error_code=int(raw_code) if raw_code.isdigit() else None,
        now=timezone.now(),
    )
    # 204 whatever happened: an unknown or stale callback is not an error Twilio can fix.
    return HttpResponse(status=204)
