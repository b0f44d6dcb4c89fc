"""One-time code that confirms the phone or e-mail given on the public pre-screening link.

Without it anyone holding a study's /e/ link could enrol strangers' numbers and have each one
texted. So the self-enrolment form stores nothing: `pending_enrolment_start` checks the form,
counts the send against the link's rate limits (surveys/participants/screening.py), keeps what was typed in
the cache only (encrypted with the field keys, expiring with the code) and sends a 6-digit code
to the contact the patient chose to be reached by. `pending_enrolment_confirm` creates the
patient, the enrolment and the planned messages (consent.enrollment_self_create) only for the
right code, once, before it expires and within a few attempts.

The code itself is never kept: only an HMAC of it (keyed by SECRET_KEY and bound to the pending
entry), compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import enum
import hmac
import json
import logging
import secrets
import smtplib
from dataclasses import dataclass, field

from anymail.exceptions import AnymailError
from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from patients.consent.records import enrollment_self_create
from patients.enrolment.enrol import EnrolmentData, EnrolmentInvalid, enrolment_problems
from patients.identity import crypto
from patients.identity.contacts import blind_index
from patients.messaging.sms import SmsError, SmsPermanentError, get_backend
from patients.messaging.texts import message_language
from patients.models import Enrollment, Patient
from surveys.models import ConsentNotice, Study
from surveys.participants import screening

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
_HMAC_SALT = "ressenti.screening.one-time-code"


def code_setting(name: str) -> int:
    """SCREENING_CODE_TTL or SCREENING_CODE_MAX_ATTEMPTS (config/settings/base.py)."""
    return int(getattr(settings, name))


def code_minutes() -> int:
    """How long a code lasts, in whole minutes, as the SMS and the code page say it."""
    return max(1, code_setting("SCREENING_CODE_TTL") // 60)


class CodeSendRefused(Exception):
    """Over one of the link's rate limits: nothing was stored or sent."""


class CodeNotSent(Exception):
    """The provider did not take the code; by field, what to tell the patient. Nothing kept."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(problems.values()))


class Outcome(enum.Enum):
    CONFIRMED = "confirmed"
    WRONG = "wrong"  # attempts left
    TOO_MANY = "too_many"  # the entry is gone: enter the details again
    EXPIRED = "expired"  # or never existed, or already used
    INVALID = "invalid"  # the details stopped being acceptable meanwhile (the same number enrolled)


@dataclass(frozen=True)
class ConfirmResult:
    outcome: Outcome
    enrollment: Enrollment | None = None
    attempts_left: int = 0
    problems: dict[str, str] = field(default_factory=dict)


def _key(pending_id: str) -> str:
    return f"screening:pending:{pending_id}"


def _tries_key(pending_id: str) -> str:
    return f"screening:pending:{pending_id}:tries"


def _code_digest(pending_id: str, code: str) -> str:
    return salted_hmac(_HMAC_SALT, f"{pending_id}:{code}", algorithm="sha256").hexdigest()


def _valid_id(pending_id: str) -> bool:
    return bool(pending_id) and len(pending_id) <= 64 and pending_id.replace("-", "").replace("_", "").isalnum()


def _load(pending_id: str) -> dict | None:
    if not _valid_id(pending_id):
        return None
    stored = cache.get(_key(pending_id))
    if not stored:
        return None
    return json.loads(crypto.decrypt(stored))


def contact_hint(contact: str) -> str:
    """Enough of the number or address for the patient to recognise it, not enough to read it."""
    if "@" in contact:
        local, _sep, domain = contact.partition("@")
        return f"{local[:1]}•••@{domain}"
    return f"•••{contact[-2:]}"


def _code_texts(*, language: str, code: str, minutes: int) -> tuple[str, str]:
    """(SMS or e-mail body, e-mail subject), in the patient's language; nothing about the study,
    as for every message (a locked screen shows it)."""
    with translation.override(message_language(language)):
        body = ngettext(
            "%(sender)s: your code is %(code)s. It expires in %(minutes)s minute. "
            "If you did not ask for it, ignore this message.",
            "%(sender)s: your code is %(code)s. It expires in %(minutes)s minutes. "
            "If you did not ask for it, ignore this message.",
            minutes,
        ) % {"sender": settings.RESSENTI_SMS_SENDER_NAME, "code": code, "minutes": minutes}
        subject = _("Your confirmation code")
    return body, subject


def _send_code(*, channel: str, contact: str, language: str, code: str, pending_id: str) -> None:
    """Through the same providers as the study's messages (patients/sms, Django's e-mail backend),
    but at once: there is no Message row to queue, since nothing about the person is stored yet."""
    body, subject = _code_texts(language=language, code=code, minutes=code_minutes())
    if channel == Patient.Channel.SMS:
        try:
            get_backend().send_sms(to=contact, body=body, idempotency_key=f"screening-code-{pending_id}")
        except SmsPermanentError as exc:
            raise CodeNotSent(
                {
                    "phone": _(
                        "We could not send a text message to this number. Check it, or choose to be reached by email."
                    )
                }
            ) from exc
        except SmsError as exc:
            logger.warning("screening code: SMS provider error %s", exc.__class__.__name__)
            raise CodeNotSent(
                {"phone": _("We could not send the code just now. Please try again in a few minutes.")}
            ) from exc
        return
    try:
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [contact]).send(fail_silently=False)
    except (AnymailError, smtplib.SMTPException, OSError) as exc:
        logger.warning("screening code: e-mail error %s", exc.__class__.__name__)
        raise CodeNotSent({"email": _("We could not send the code to this address. Check it and try again.")}) from exc


def pending_enrolment_start(
    *, study: Study, data: EnrolmentData, notice: ConsentNotice, method: str, typed_name: str, ip: str
) -> str:
    """Check the self-enrolment form, keep it in the cache and send a code; returns the entry's id.

    Raises EnrolmentInvalid (what the form says is wrong), CodeSendRefused (over a rate limit)
    or CodeNotSent (the provider refused). Writes nothing to the database in any case."""
    if notice.study_id != study.pk:
        raise EnrolmentInvalid({"notice": _("This notice belongs to another study.")})
    data.consent_method = Enrollment.ConsentMethod.PENDING  # as enrollment_self_create checks it
    problems = enrolment_problems(study=study, data=data)
    if problems:
        raise EnrolmentInvalid(problems)
    cleaned = data.cleaned
    channel = cleaned["preferred_channel"]
    contact = cleaned["phone"] if channel == Patient.Channel.SMS else cleaned["email"]
    if not screening.screening_code_send_allowed(study=study, ip=ip, contact_digest=blind_index(contact)):
        raise CodeSendRefused()
    pending_id = secrets.token_urlsafe(18)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    ttl = code_setting("SCREENING_CODE_TTL")
    entry = {
        "study": study.pk,
        "notice": notice.pk,
        "method": method,
        "typed_name": typed_name,
        "data": {
            "name": data.name,
            "phone": data.phone,
            "email": data.email,
            "birth_date": data.birth_date,
            "language": data.language,
            "time_zone": data.time_zone,
            "preferred_channel": data.preferred_channel,
        },
        "hint": contact_hint(contact),
        "digest": _code_digest(pending_id, code),
        "expires": (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)).timestamp(),
    }
    cache.set(_key(pending_id), crypto.encrypt(json.dumps(entry)), timeout=ttl)
    try:
        _send_code(channel=channel, contact=contact, language=cleaned["language"], code=code, pending_id=pending_id)
    except CodeNotSent:
        cache.delete(_key(pending_id))
        raise
    return pending_id


def pending_enrolment_hint(*, study: Study, pending_id: str) -> str | None:
    """The masked contact the code went to, or None when the entry expired or is not this study's."""
    entry = _load(pending_id)
    if entry is None or entry["study"] != study.pk:
        return None
    return entry["hint"]


def pending_enrolment_drop(pending_id: str) -> None:
    if _valid_id(pending_id):
        cache.delete_many([_key(pending_id), _tries_key(pending_id)])


def _count_try(pending_id: str) -> int:
    if cache.add(_tries_key(pending_id), 1, timeout=code_setting("SCREENING_CODE_TTL")):
        return 1
    try:
        return cache.incr(_tries_key(pending_id))
    except ValueError:
        cache.add(_tries_key(pending_id), 1, timeout=code_setting("SCREENING_CODE_TTL"))
        return 1


def pending_enrolment_confirm(*, study: Study, pending_id: str, code: str, now: dt.datetime) -> ConfirmResult:
    """Enrol the person of this pending entry if `code` is its code; the entry is used up by success,
    by the last wrong attempt and by its expiry."""
    entry = _load(pending_id)
    if entry is None or entry["study"] != study.pk or now.timestamp() >= entry["expires"]:
        pending_enrolment_drop(pending_id)
        return ConfirmResult(Outcome.EXPIRED)
    # Counted before comparing, atomically: parallel guesses cannot share one attempt.
    tries = _count_try(pending_id)
    limit = code_setting("SCREENING_CODE_MAX_ATTEMPTS")
    if tries > limit:
        pending_enrolment_drop(pending_id)
        return ConfirmResult(Outcome.TOO_MANY)
    typed = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(entry["digest"], _code_digest(pending_id, typed)):
        if tries >= limit:
            pending_enrolment_drop(pending_id)
            return ConfirmResult(Outcome.TOO_MANY)
        return ConfirmResult(Outcome.WRONG, attempts_left=limit - tries)
    # Whoever deletes the entry first enrols; a second post of the same code finds nothing.
    if not cache.delete(_key(pending_id)):
        return ConfirmResult(Outcome.EXPIRED)
    cache.delete(_tries_key(pending_id))
    notice = ConsentNotice.objects.filter(study=study, pk=entry["notice"]).first()
    if notice is None:
        return ConfirmResult(Outcome.EXPIRED)
    try:
        enrollment = enrollment_self_create(
            study=study,
            data=EnrolmentData(**entry["data"]),
            notice=notice,
            method=entry["method"],
            typed_name=entry["typed_name"],
            now=now,
        )
    except EnrolmentInvalid as invalid:
        return ConfirmResult(Outcome.INVALID, problems=invalid.problems)
    return ConfirmResult(Outcome.CONFIRMED, enrollment=enrollment)
