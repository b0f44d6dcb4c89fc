"""Contact data in, normalised: phone numbers in E.164, email lower-cased, and their blind indexes."""

from __future__ import annotations

import datetime as dt
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


# --- one way in for contact data --------------------------------------------------------------
# Every path that writes a patient's email or phone (the admin, the enrolment page, the import,
# self-enrolment, the demo) cleans it here, and Patient.save() recomputes the blind indexes from
# what is stored, so a STOP from the number or a duplicate check always finds the person.


def email_clean(raw: str) -> str:
    """The normalised address, "" for a blank one; ValidationError naming the value otherwise."""
    if not raw.strip():
        return ""
    try:
        return email_normalise(raw)
    except ValidationError:
        raise ValidationError(_("%(value)s is not an email address.") % {"value": raw.strip()}) from None


def phone_clean(raw: str) -> str:
    """E.164, "" for a blank number; ValidationError naming the value otherwise."""
    return phone_normalise(raw) if raw.strip() else ""


def contact_clean(*, email: str | None = None, phone: str | None = None) -> dict[str, str]:
    """The cleaned values of the fields given (None = not given); every problem at once,
    as ValidationError({"email": ..., "phone": ...})."""
    cleaned, problems = {}, {}
    for name, raw, clean in (("email", email, email_clean), ("phone", phone, phone_clean)):
        if raw is None:
            continue
        try:
            cleaned[name] = clean(raw)
        except ValidationError as exc:
            problems[name] = exc.messages[0]
    if problems:
        raise ValidationError(problems)
    return cleaned


def patient_contact_set(patient, *, email: str | None = None, phone: str | None = None) -> None:
    """Replace a patient's email and/or phone (None = keep, "" = remove), cleaned, with their
    blind indexes. Raises ValidationError by field and changes nothing if a value is wrong.
    The caller saves."""
    for name, value in contact_clean(email=email, phone=phone).items():
        setattr(patient, name, value)
    contact_digests_refresh(patient)


def _canonical(value: str, normalise) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return normalise(value)
    except ValidationError:
        # Checked where it is typed; a stored value that does not parse stays as it is.
        return value


def contact_digests_refresh(patient) -> None:
    """Normalise the patient's stored email and phone where they parse, and recompute their blind
    indexes from the stored values (Patient.save calls this: no path can leave a stale digest)."""
    patient.email = _canonical(patient.email, email_normalise)
    patient.phone = _canonical(patient.phone, phone_normalise)
    patient.email_digest = blind_index(patient.email)
    patient.phone_digest = blind_index(patient.phone)


def birth_date_clean(raw: str, *, today: dt.date | None = None) -> str:
    """YYYY-MM-DD from DD/MM/YYYY, YYYY-MM-DD, DD-MM-YYYY or DD.MM.YYYY; "" for a blank one."""
    text = raw.strip()
    if not text:
        return ""
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            born = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if dt.date(1900, 1, 1) <= born <= (today or dt.date.today()):
            return born.isoformat()
        break
    raise ValidationError(_("%(value)s is not a date of birth (use DD/MM/YYYY).") % {"value": text})
