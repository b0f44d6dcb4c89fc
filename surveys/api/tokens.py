"""Personal API tokens: made, checked and revoked here only.

A token is "rst_" + 43 random URL-safe characters (256 bits). Only its SHA-256 is stored, so
a copy of the database gives no working token, and the token can be shown only once, when it
is made. It acts as its owner: the owner's study roles and site scopes decide every request,
at the time of the request; `studies`, when set, narrows that to some of the owner's studies.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from surveys.models import ApiToken, Study
from surveys.staff.selectors import studies_for_user

TOKEN_PREFIX = "rst_"
# Characters of the token kept in clear to recognise it in a list ("rst_" + 8).
SHOWN_CHARS = 12
LABEL_MAX = 100
# last_used_at is written at most this often per token: not one write per API call.
TOUCH_EVERY = timedelta(minutes=1)
MAX_TOKEN_LENGTH = 100


class TokenRefused(ValueError):
    """A token could not be made as asked; nothing was written. The message says why."""


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(
    *,
    user: AbstractBaseUser,
    label: str,
    expires_at: datetime | None = None,
    studies: Iterable[Study] = (),
    now: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the token itself, which is never stored."""
    now = now or timezone.now()
    label = (label or "").strip()
    if not label:
        raise TokenRefused(_('Give the token a label, e.g. "R analysis".'))
    if len(label) > LABEL_MAX:
        raise TokenRefused(_("The label is too long (%(max)s characters at most).") % {"max": LABEL_MAX})
    if expires_at is not None and expires_at <= now:
        raise TokenRefused(_("The expiry date must be in the future."))
    studies = list(studies)
    reachable = set(studies_for_user(user=user).values_list("pk", flat=True))
    outside = sorted(s.code for s in studies if s.pk not in reachable)
    if outside:
        raise TokenRefused(_("You have no role in: %(codes)s.") % {"codes": ", ".join(outside)})
    if not reachable:
        raise TokenRefused(_("You have no role in any study: a token would reach nothing."))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, label=label, prefix=raw[:SHOWN_CHARS], key_hash=token_digest(raw), expires_at=expires_at
        )
        if studies:
            token.studies.set(studies)
    return token, raw


def api_token_revoke(*, token: ApiToken, now: datetime | None = None) -> bool:
    """Revoke `token` for good; False when it was already revoked (nothing changes)."""
    now = now or timezone.now()
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
    if changed:
        token.revoked_at = now
    return bool(changed)


def api_token_for(raw: str, *, now: datetime | None = None) -> ApiToken | None:
    """The usable token whose text is `raw` (with its user), or None: unknown, revoked, expired,
    or its owner's account is disabled. Records when it was last used."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH:
        return None
    now = now or timezone.now()
    token = ApiToken.objects.select_related("user").filter(key_hash=token_digest(raw)).first()
    if token is None or not token.is_usable(now=now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        # Conditional: concurrent requests write it once.
        ApiToken.objects.filter(pk=token.pk).exclude(last_used_at__gt=now - TOUCH_EVERY).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_study_ids(token: ApiToken) -> frozenset[int] | None:
    """The studies a token is narrowed to, or None when it reaches all of its owner's."""
    cached = getattr(token, "_study_ids", None)
    if cached is None:
        cached = frozenset(token.studies.values_list("pk", flat=True))
        token._study_ids = cached
    return cached or None


def api_tokens_of(*, user: AbstractBaseUser):
    return ApiToken.objects.filter(user=user).prefetch_related("studies").order_by("-created_at", "-id")
