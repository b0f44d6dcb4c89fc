"""SMS backends: one interface, chosen by settings.SMS_BACKEND (a dotted path), like Django's email backends.

    from patients.messaging.sms import get_backend, SmsTemporaryError, SmsPermanentError
    result = get_backend().send_sms(to="+33612345678", body=text, idempotency_key=f"message-{message.pk}")

A backend raises SmsTemporaryError when trying again later may work and the provider surely
did not take the message (5xx, 429, connection refused), SmsUncertainError when it may have
(no answer in time, connection dropped mid-answer), and SmsPermanentError when it never will (the number is invalid,
unreachable or opted out, or the provider refuses the request as it is): the caller
then stops retrying and falls back to email.

The idempotency key names one logical send (the Message row, not the attempt): every
retry of the same message carries the same key, so a provider or a fake that knows it
can drop the repeat. Real protection against double sends is the Message row's unique
constraint plus its status claim; the key is defence in depth and a way to count.

Shipped backends: console (development), file (JSON lines, for the demo and tests
with a real worker), locmem (in-process outbox, for tests) and twilio.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import Signal, receiver
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class SmsResult:
    provider_id: str
    # In Message.Status words: "sent" once the provider has accepted the message. Delivery
    # comes later, from a status callback (patients/messaging/sms_webhooks.py).
    status: str
    # The provider's own word ("queued", "accepted"...), for the outbox and logs.
    provider_status: str = ""


class SmsError(Exception):
    def __init__(self, message: str, *, code: int | None = None):
        super().__init__(message)
        self.code = code


class SmsTemporaryError(SmsError):
    """Try again later; `retry_after` (seconds) when the provider said how long to wait (429)."""

    def __init__(self, message: str, *, code: int | None = None, retry_after: float | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class SmsUncertainError(SmsError):
    """The request may have reached the provider, but we do not know: no answer in time, or the
    connection dropped while we waited. Sending again could send twice; the dispatcher asks the
    provider first (`find_sent`) and sends again only if the provider has no such message."""


# Twilio error codes that are about the recipient's number, not about our request
# (https://www.twilio.com/docs/api/errors): the number will not work tomorrow either.
INVALID_NUMBER_CODES = frozenset({21211, 21217, 21614, 21635})  # not a (mobile) number
UNREACHABLE_CODES = frozenset({21214, 21408, 21612, 30003, 30005, 30006})  # no route / unknown handset / landline
OPTED_OUT_CODES = frozenset({21610})  # the recipient answered STOP to our sender
RECIPIENT_CODES = INVALID_NUMBER_CODES | UNREACHABLE_CODES | OPTED_OUT_CODES


class SmsPermanentError(SmsError):
    """Do not retry this message; send it by email instead where possible."""

    @property
    def recipient_problem(self) -> bool:
        """The number itself is the problem (invalid, unreachable, opted out), not our request."""
        return self.code in RECIPIENT_CODES

    @property
    def opted_out(self) -> bool:
        return self.code in OPTED_OUT_CODES


class SmsBackend(Protocol):
    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> SmsResult: ...


class SmsLookupBackend(SmsBackend, Protocol):
    """A backend that can tell whether a message reached the provider, for sends whose outcome
    is unknown. `reference` is a text unique to that send (its link), `since` when the attempt
    began; None: the provider has no such message. Raises SmsError when it cannot tell now."""

    def find_sent(self, *, to: str, reference: str, since: datetime) -> SmsResult | None: ...


def can_look_up(backend: SmsBackend) -> bool:
    return callable(getattr(backend, "find_sent", None))


def backend_send_rates(backend: SmsBackend) -> tuple:
    """The backend's send rates (patients.messaging.ratelimit.SendRate: its sender's, its account's),
    for a backend that has a provider's limits to respect (`send_rates()`); () otherwise."""
    rates = getattr(backend, "send_rates", None)
    return tuple(rates()) if callable(rates) else ()


# Sent by the Twilio status webhook when a message that had been accepted fails later
# with a recipient error code (undelivered/failed 30003...): the dispatcher connects a
# receiver to plan the email fallback, as it does for an SmsPermanentError at send time.
# Arguments: message (patients.models.Message), code (int | None).
sms_failed_permanently = Signal()


_backends: dict[str, SmsBackend] = {}
_lock = threading.Lock()


def get_backend() -> SmsBackend:
    """The configured backend, built once per process: the Twilio one keeps its HTTP
    connections open between messages instead of a TLS handshake per SMS."""
    path = settings.SMS_BACKEND
    backend = _backends.get(path)
    if backend is None:
        with _lock:
            backend = _backends.get(path)
            if backend is None:
                backend = import_string(path)()
                _backends[path] = backend
    return backend


@receiver(setting_changed)
def _forget_backends(*, setting: str, **kwargs) -> None:
    # Tests change SMS_BACKEND, SMS_FILE_PATH or TWILIO_*: the next call builds afresh.
    if setting.startswith(("SMS_", "TWILIO_", "RESSENTI_SMS")) or setting == "SITE_URL":
        _backends.clear()
