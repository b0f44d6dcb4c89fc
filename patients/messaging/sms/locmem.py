"""In-process backend for tests, like Django's locmem email backend: `patients.messaging.sms.locmem.outbox`."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from patients.messaging.sms import SmsResult


@dataclass(frozen=True)
class SentSms:
    to: str
    body: str
    idempotency_key: str
    provider_id: str
    at: datetime = field(default_factory=timezone.now)


outbox: list[SentSms] = []
_lock = threading.Lock()


class LocmemBackend:
    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> SmsResult:
        provider_id = f"locmem-{uuid.uuid4().hex}"
        with _lock:
            outbox.append(SentSms(to=to, body=body, idempotency_key=idempotency_key, provider_id=provider_id))
        return SmsResult(provider_id=provider_id, status="sent", provider_status="stored")

    def find_sent(self, *, to: str, reference: str, since: datetime) -> SmsResult | None:
        with _lock:
            found = next(
                (sms for sms in reversed(outbox) if sms.to == to and reference in sms.body and sms.at >= since), None
            )
        return SmsResult(provider_id=found.provider_id, status="sent", provider_status="stored") if found else None
