"""Twilio backend, on the official `twilio` SDK.

Settings (config/settings/base.py, from the environment):
    TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
    TWILIO_FROM                 a number (+33...), an alphanumeric sender ID, or a Messaging
                                Service SID (MG + 32 hex), which is then sent as MessagingServiceSid
    TWILIO_STATUS_CALLBACK_URL  where Twilio posts delivery status; empty: SITE_URL + our webhook
    TWILIO_API_BASE             another host for the REST API (the fake provider in tests and the
                                benchmark); empty: https://api.twilio.com
    TWILIO_TIMEOUT              seconds to wait for Twilio's answer before calling it a timeout
    TWILIO_SENDER_MPS           message segments per second TWILIO_FROM may send (0: by its kind,
                                SENDER_MPS below); TWILIO_ACCOUNT_MPS the account's cap (0: none)
    MESSAGES_SEND_CONCURRENCY   requests in flight per worker: the connection pool is that large

Errors are sorted for the caller's retry policy: 500, 503, 429 (with Retry-After) and a
connection that could not be opened are temporary (Twilio did not take the message); no answer
in time, a connection dropped while waiting and a gateway's 502/504 are uncertain (it may have:
the dispatcher looks the message up with `find_sent` before any new attempt); a 4xx is
permanent (see SmsPermanentError.recipient_problem).
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NameResolutionError, NewConnectionError

from patients.messaging.ratelimit import SendRate
from patients.messaging.sms import SmsPermanentError, SmsResult, SmsTemporaryError, SmsUncertainError

MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
# Segments per second of a sender by its kind, when TWILIO_SENDER_MPS does not say (Twilio's
# defaults: a long code sends 1 a second, a short code 100; an alphanumeric ID or a Messaging
# Service gets what the account was granted: 10 is a cautious start).
SENDER_MPS = {"long_code": 1.0, "short_code": 100.0, "alphanumeric": 10.0, "messaging_service": 10.0}
# 21611: the sender's queue at Twilio holds more than it can send within the validity period.
# Nothing was created: a later attempt works once the queue has drained.
QUEUE_FULL_CODES = frozenset({21611})
# Twilio adds this header to its own webhook retries; sending it on our requests costs nothing,
# lets a provider that honours it drop a repeat, and lets the fake provider count duplicates.
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
# A proxy in front of the API gave up waiting: the API behind it may have created the message.
UNCERTAIN_STATUSES = frozenset({502, 504})
# How many of the number's latest messages a lookup reads, and the clock skew it allows.
LOOKUP_PAGE = 50
LOOKUP_SKEW = timedelta(minutes=2)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely did not reach Twilio: the connection was never opened."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        reason = getattr(cause, "reason", cause)
        return isinstance(reason, NewConnectionError | NameResolutionError)
    return False


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _HttpClient(TwilioHttpClient):
    """The SDK's HTTP client plus two things the SDK does not expose on `messages.create`:
    the idempotency header of the current send, and the Retry-After of a 429 (the SDK's
    exception drops the response headers)."""

    def __init__(self, *, timeout: float, connections: int):
        # max_retries=0: a retried POST could send the SMS twice; retries are the caller's
        # decision, with the same idempotency key.
        super().__init__(timeout=timeout, max_retries=0)
        # As many pooled connections as concurrent sends (requests keeps 10 by default and opens,
        # then drops, one per send beyond that).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, connections), max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # Per thread: a threaded worker pool may share this backend between concurrent sends.
        self._current = threading.local()

    @property
    def idempotency_key(self) -> str:
        return getattr(self._current, "key", "")

    @idempotency_key.setter
    def idempotency_key(self, value: str) -> None:
        self._current.key = value

    def request(
        self, method, url, params=None, data=None, headers=None, auth=None, timeout=None, allow_redirects=False
    ) -> Response:
        headers = dict(headers or {})
        if self.idempotency_key:
            headers[IDEMPOTENCY_HEADER] = self.idempotency_key
        response = super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code in UNCERTAIN_STATUSES:
            raise SmsUncertainError(f"Twilio's gateway answered HTTP {response.status_code}")
        if response.status_code == 429 or response.status_code >= 500:
            raise SmsTemporaryError(
                f"Twilio answered HTTP {response.status_code}",
                code=_error_code(response.text),
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        return response


def _error_code(text: str) -> int | None:
    try:
        code = json.loads(text).get("code")
    except (ValueError, AttributeError):
        return None
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else None


class TwilioBackend:
    def __init__(self) -> None:
        sid, token, sender = settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_FROM
        missing = [
            name
            for name, value in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token), ("TWILIO_FROM", sender))
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"The Twilio SMS backend needs {', '.join(missing)}.")
        self.sender = sender
        self.account_sid = sid
        self.http = _HttpClient(
            timeout=settings.TWILIO_TIMEOUT, connections=int(getattr(settings, "MESSAGES_SEND_CONCURRENCY", 16))
        )
        # environment={} : the SDK otherwise reads TWILIO_* variables behind our settings' back.
        self.client = Client(sid, token, http_client=self.http, environment={})
        if settings.TWILIO_API_BASE:
            # The SDK builds every Messages URL from this Domain's base_url
            # (twilio/base/domain.py: absolute_url), so this is the one place to point it elsewhere.
            self.client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
        self.status_callback = settings.TWILIO_STATUS_CALLBACK_URL or (
            settings.SITE_URL + reverse("patients:twilio_status")
        )

    def sender_kind(self) -> str:
        if MESSAGING_SERVICE_SID.match(self.sender):
            return "messaging_service"
        if SHORT_CODE.match(self.sender):
            return "short_code"
        if self.sender.startswith("+"):
            return "long_code"
        return "alphanumeric"

    def send_rates(self) -> tuple[SendRate, ...]:
        """The sender's rate, then the account's cap (patients/messaging/ratelimit.py)."""
        sender = float(getattr(settings, "TWILIO_SENDER_MPS", 0.0)) or SENDER_MPS[self.sender_kind()]
        account = float(getattr(settings, "TWILIO_ACCOUNT_MPS", 0.0))
        rates = [SendRate(f"twilio:{self.account_sid}:{self.sender}", sender)]
        if account:
            rates.append(SendRate(f"twilio:{self.account_sid}", account))
        return tuple(rates)

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> SmsResult:
        sender = (
            {"messaging_service_sid": self.sender}
            if MESSAGING_SERVICE_SID.match(self.sender)
            else {"from_": self.sender}
        )
        self.http.idempotency_key = idempotency_key
        try:
            message = self.client.messages.create(to=to, body=body, status_callback=self.status_callback, **sender)
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise SmsTemporaryError(f"Twilio could not be reached ({exc.__class__.__name__})") from exc
            if isinstance(exc, requests.Timeout):
                raise SmsUncertainError("Twilio did not answer in time") from exc
            raise SmsUncertainError(
                f"The connection to Twilio dropped before its answer ({exc.__class__.__name__})"
            ) from exc
        except TwilioException as exc:
            status, code = getattr(exc, "status", None), getattr(exc, "code", None)
            if code in QUEUE_FULL_CODES:
                raise SmsTemporaryError(f"Twilio's queue for the sender is full: error {code}", code=code) from exc
            if isinstance(status, int) and 400 <= status < 500:
                raise SmsPermanentError(f"Twilio refused the message: HTTP {status}, error {code}", code=code) from exc
            raise SmsTemporaryError(f"Twilio error: HTTP {status}, error {code}", code=code) from exc
        finally:
            self.http.idempotency_key = ""
        if message.status in ("failed", "undelivered"):
            raise SmsPermanentError(f"Twilio refused the message: error {message.error_code}", code=message.error_code)
        return SmsResult(provider_id=message.sid, status="sent", provider_status=str(message.status or ""))

    def find_sent(self, *, to: str, reference: str, since: datetime) -> SmsResult | None:
        """The message to `to` whose body holds `reference`, created since `since`, if Twilio has one.

        Twilio's Messages API has no idempotency key, so this is how an uncertain send is settled:
        the number's latest messages (newest first), matched on our link, which no other send of
        another questionnaire carries. Raises SmsTemporaryError when Twilio cannot be asked now."""
        try:
            recent = self.client.messages.list(to=to, limit=LOOKUP_PAGE, page_size=LOOKUP_PAGE)
        except (requests.RequestException, TwilioException, SmsUncertainError) as exc:
            raise SmsTemporaryError(f"Twilio could not be asked about the message ({exc.__class__.__name__})") from exc
        for message in recent:
            created = message.date_created
            if reference in (message.body or "") and (created is None or created >= since - LOOKUP_SKEW):
                return SmsResult(provider_id=message.sid, status="sent", provider_status=str(message.status or ""))
        return None
