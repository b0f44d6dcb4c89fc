"""Development backend: the SMS is printed, nothing leaves the machine."""

from __future__ import annotations

import sys
import threading
import uuid
from typing import TextIO

from patients.messaging.sms import SmsResult


def mask_number(number: str) -> str:
    """+33612345678 -> +336••••••78: the console ends up in terminal scrollback and worker
    logs, where a full phone number has no place; the body is shown whole, since the demo
    needs its link."""
    if len(number) <= 6:
        return "•" * len(number)
    return number[:4] + "•" * (len(number) - 6) + number[-2:]


class ConsoleBackend:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self._lock = threading.Lock()

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> SmsResult:
        provider_id = f"console-{uuid.uuid4().hex}"
        stream = self.stream or sys.stdout  # looked up per call: test runners swap sys.stdout
        with self._lock:
            stream.write(f"--- SMS to {mask_number(to)} ({idempotency_key}, {provider_id})\n{body}\n---\n")
            stream.flush()
        return SmsResult(provider_id=provider_id, status="sent", provider_status="printed")
