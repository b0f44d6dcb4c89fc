"""Patient link tokens: derived, never stored in clear, revocable."""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings
from django.db import models

from surveys.models import (
    Assignment,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def assignment_link_token(*, assignment: Assignment) -> str:
    """The assignment's link token, the same in every message: an invitation's link keeps working
    after a reminder. Derived with HMAC-SHA-256 from LINK_TOKEN_KEY (outside the database), so the
    database, which holds only the token's SHA-256, cannot give it back.

    16 bytes = 128 bits, 22 URL-safe characters: `https://host/s/` plus the token stays far
    inside one 160-character SMS segment.
    """
    return assignment_link_tokens(assignments=[assignment])[assignment.pk]


def assignment_link_tokens(*, assignments: list[Assignment]) -> dict[int, str]:
    """The link tokens of many assignments (a batch of messages), by assignment id; the hashes not
    stored yet are written in one UPDATE."""
    tokens: dict[int, str] = {}
    stale: list[Assignment] = []
    for assignment in assignments:
        message = f"{assignment.pk}:{assignment.token_version}".encode()
        raw = hmac.new(settings.LINK_TOKEN_KEY.encode(), message, hashlib.sha256).digest()[:16]
        token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        digest = token_hash(token)
        if assignment.token_hash != digest:
            assignment.token_hash = digest
            stale.append(assignment)
        tokens[assignment.pk] = token
    if stale:
        Assignment.objects.bulk_update(stale, ["token_hash"])
    return tokens


def assignment_link_revoke(*, assignment: Assignment) -> str:
    """Give the assignment a new link (a message went to a wrong number): earlier links stop working."""
    Assignment.objects.filter(pk=assignment.pk).update(token_version=models.F("token_version") + 1)
    assignment.refresh_from_db(fields=["token_version"])
    return assignment_link_token(assignment=assignment)


# --- patient responses -----------------------------------------------------------------------
