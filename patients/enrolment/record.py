"""The enrolment record, declared once: what one person's data must be, whatever the study.

A Django form rather than a pydantic model: the values are strings as typed on the enrolment
page or read from an import row, the cleaning functions of patients/identity/contacts.py raise
Django's ValidationError with our translated messages, and a form's `clean()` runs even when a
field is refused, so every problem is listed at once (a pydantic model skips its final
validator as soon as one field fails). Each field is a plain `forms.Field`: the value is cleaned
by our own functions only (no stripping or null-character check of Django's CharField).

What depends on the study's records (its sites, its information notice, its legal basis, the
year of birth its links ask, who is already enrolled) is checked in enrol.enrolment_problems.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from patients.identity.contacts import birth_date_clean, email_clean, phone_clean
from patients.models import Enrollment, Patient
from surveys.models.study import known_time_zones

LANGUAGES = {code for code, _name in settings.LANGUAGES}
# The error code of a contact detail that the preferred channel needs (listed after the channel).
CONTACT_NEEDED = "contact_needed"


class EnrolmentRecord(forms.Form):
    """One person's data. `languages` and `time_zone` are the study's: the languages the person may
    use and the time zone when none is given."""

    name = forms.Field(required=False)
    email = forms.Field(required=False)
    phone = forms.Field(required=False)
    birth_date = forms.Field(required=False)
    language = forms.Field(required=False)
    time_zone = forms.Field(required=False)
    preferred_channel = forms.Field(required=False)
    site = forms.Field(required=False)  # a site code: which sites exist is the study's
    consent_method = forms.Field(required=False)
    notice_version = forms.Field(required=False)
    external_id = forms.Field(required=False)  # only for studies deriving pseudonyms from it; never stored

    def __init__(self, data: dict, *, languages: list[str], time_zone: str) -> None:
        super().__init__(data)
        self.languages = list(languages)
        self.default_time_zone = time_zone

    def _raw(self, name: str) -> str:
        return self.data.get(name) or ""

    def clean_name(self) -> str:
        name = " ".join(self._raw("name").split())
        if not name:
            raise ValidationError(_("The name is missing."))
        return name

    def clean_email(self) -> str:
        return email_clean(self._raw("email"))

    def clean_phone(self) -> str:
        return phone_clean(self._raw("phone"))

    def clean_birth_date(self) -> str:
        return birth_date_clean(self._raw("birth_date"))

    def clean_language(self) -> str:
        language = self._raw("language").strip().lower() or "fr"
        if language not in LANGUAGES or language not in self.languages:
            raise ValidationError(
                _("Unknown language %(value)s (this study uses %(known)s).")
                % {"value": self._raw("language"), "known": ", ".join(self.languages)}
            )
        return language

    def clean_time_zone(self) -> str:
        time_zone = self._raw("time_zone").strip() or self.default_time_zone
        if time_zone not in known_time_zones():
            raise ValidationError(
                _("Unknown time zone %(value)s (e.g. Europe/Paris).") % {"value": self._raw("time_zone")}
            )
        return time_zone

    def clean_preferred_channel(self) -> str:
        channel = self._raw("preferred_channel").strip().lower() or Patient.Channel.SMS
        if channel not in Patient.Channel.values:
            raise ValidationError(
                _("Unknown channel %(value)s (sms or email).") % {"value": self._raw("preferred_channel")}
            )
        return channel

    def clean_site(self) -> str:
        return self._raw("site").strip()

    def clean_consent_method(self) -> str:
        method = self._raw("consent_method").strip() or Enrollment.ConsentMethod.PENDING
        if method not in Enrollment.ConsentMethod.values:
            raise ValidationError(_("Unknown consent %(value)s.") % {"value": self._raw("consent_method")})
        return method

    def clean_notice_version(self) -> str:
        return self._raw("notice_version").strip()

    def clean_external_id(self) -> str:
        return self._raw("external_id")

    def clean(self) -> dict:
        """The contact detail the preferred channel needs (unless it is already refused)."""
        super().clean()
        cleaned = self.cleaned_data
        channel = cleaned.get("preferred_channel")
        for needs, field, message in (
            (Patient.Channel.SMS, "phone", _("A phone number is needed to reach this patient by SMS.")),
            (Patient.Channel.EMAIL, "email", _("An email address is needed to reach this patient by email.")),
        ):
            if channel == needs and field not in self.errors and not cleaned.get(field):
                self.add_error(field, ValidationError(message, code=CONTACT_NEEDED))
        return cleaned

    def problems(self) -> dict[str, ValidationError]:
        """The first refusal of each field, by field."""
        return {name: errors[0] for name, errors in self.errors.as_data().items()}
