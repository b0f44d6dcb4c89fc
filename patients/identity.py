"""Contact data in, normalised: phone numbers in E.164, email lower-cased, and their blind indexes."""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _


def phone_normalise(raw: str) -> str:
    """E.164 (+33612345678) from what a person typed (06 12 34 56 78, +33 6…); ValidationError if not a phone."""
    try:
        number = phonenumbers.parse(raw, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("%(value)s is not a phone number.") % {"value": raw}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("%(value)s is not a valid phone number.") % {"value": raw})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_normalise(raw: str) -> str:
    value = raw.strip()
    validate_email(value)
    local, _sep, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


def blind_index(value: str) -> str:
    """Keyed digest of a normalised value: equal values match, and nothing is learnt without the key."""
    if not value:
        return ""
    return hmac.new(settings.BLIND_INDEX_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()
