"""Appends each SMS as one JSON line to settings.SMS_FILE_PATH (default var/sms.log).

For the `make run` demo and for tests that run a real worker process: the file is the
outbox both sides can read. Several workers may append at once: each line is written
under an exclusive lock, so lines never interleave.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from patients.messaging.sms import SmsResult


class FileBackend:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send_sms(self, *, to: str, body: str, idempotency_key: str) -> SmsResult:
        provider_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps(
            {
                "at": timezone.now().isoformat(),
                "to": to,
                "body": body,
                "idempotency_key": idempotency_key,
                "provider_id": provider_id,
            },
            ensure_ascii=False,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(line + "\n")
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return SmsResult(provider_id=provider_id, status="sent", provider_status="written")

    def find_sent(self, *, to: str, reference: str, since: datetime) -> SmsResult | None:
        for sms in reversed(sms_file_read(self.path)):
            if sms["to"] == to and reference in sms["body"] and datetime.fromisoformat(sms["at"]) >= since:
                return SmsResult(provider_id=sms["provider_id"], status="sent", provider_status="written")
        return None


def sms_file_read(path: str | Path | None = None) -> list[dict]:
    """Every SMS written so far, oldest first (empty when nothing was sent)."""
    target = Path(path or settings.SMS_FILE_PATH)
    if not target.exists():
        return []
    with target.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
