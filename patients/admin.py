"""Admin of identities: investigators of the person's studies only (patients/rules.py).

Names appear on the patient's own page, never in a list: a changelist is what
gets screen-shared and printed. The blind-index digests (email_digest, phone_digest)
are never shown: they are not editable, so no form or list includes them.
Investigators limited to one site see only that site's rows (surveys/rules.py).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from patients.identity.contacts import birth_date_clean, email_clean, patient_contact_set, phone_clean
from patients.identity.reidentify import investigator_may_act
from patients.messaging.texts import shipped_sms_template, sms_template_check
from patients.models import ConsentRecord, Enrollment, Message, Patient, ReidentificationEvent, SmsTemplate
from surveys.admin.base import ReadOnlyAdmin, StudyScopedAdmin, StudyScopedInline
from surveys.admin.history import AuditedHistoryAdmin

# Identity rows are kept for the study's audit trail; withdrawal is recorded, not deleted.
NO_DELETE = frozenset({"delete"})

ENROLLMENT_FIELDS = (
    "participant",
    "consent_method",
    "consent_document_version",
    "consent_recorded_at",
    "consent_recorded_by",
    "enrolled_at",
    "withdrawn_at",
)


class EnrollmentInline(StudyScopedInline, admin.StackedInline):
    model = Enrollment
    denied_actions = NO_DELETE
    fields = ENROLLMENT_FIELDS
    readonly_fields = ("consent_recorded_by",)
    # A patient without an enrolment belongs to no study and would vanish from
    # the investigator's view: the first enrolment is entered with the patient.
    min_num = 1
    extra = 0


_viewer = threading.local()  # the user of the change page being rendered (thread-safe)
IDENTITY_LINK = _("See who this is (reason asked, recorded)")


class PatientAddForm(forms.ModelForm):
    """A new patient: what is typed is cleaned (E.164, lower-cased email) and indexed on save."""

    class Meta:
        model = Patient
        fields = ("name", "email", "phone", "birth_date", "time_zone", "language", "preferred_channel")

    def clean(self) -> dict:
        data = super().clean()
        for name, clean in (("email", email_clean), ("phone", phone_clean), ("birth_date", birth_date_clean)):
            if name in data:
                try:
                    data[name] = clean(data[name] or "")
                except ValidationError as exc:
                    self.add_error(name, exc.messages[0])
        return data


def replacement_field(label: str, max_length: int, help_text: str) -> forms.CharField:
    """A blank input that replaces a stored identity value when filled (never pre-filled)."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class PatientChangeForm(forms.ModelForm):
    """An existing patient: the stored name and contact data are never shown, not even in an
    input; blank replacement fields, blank = keep. Seeing who this is goes through the audited
    page (patients/identity/reidentify.py)."""

    new_name = replacement_field(_("New name"), 200, _("Leave blank to keep the current one."))
    new_email = replacement_field(_("New e-mail"), 254, _("Leave blank to keep the current one."))
    new_phone = replacement_field(_("New phone"), 40, _("Leave blank to keep the current one (e.g. 06 12 34 56 78)."))
    new_birth_date = replacement_field(
        _("New date of birth"), 10, _("Leave blank to keep the current one (DD/MM/YYYY).")
    )

    class Meta:
        model = Patient
        fields = ("time_zone", "language", "preferred_channel")

    def clean(self) -> dict:
        data = super().clean()
        for name, clean in (
            ("new_email", email_clean),
            ("new_phone", phone_clean),
            ("new_birth_date", birth_date_clean),
        ):
            if data.get(name, "").strip():
                try:
                    data[name] = clean(data[name])
                except ValidationError as exc:
                    self.add_error(name, exc.messages[0])
        data["new_name"] = " ".join(data.get("new_name", "").split())
        return data

    def _post_clean(self) -> None:
        # Apply the replacements before the model's own checks (a channel needs its contact).
        if not self.errors:
            patient = self.instance
            if self.cleaned_data.get("new_name"):
                patient.name = self.cleaned_data["new_name"]
            if self.cleaned_data.get("new_birth_date"):
                patient.birth_date = self.cleaned_data["new_birth_date"]
            patient_contact_set(
                patient,
                email=self.cleaned_data.get("new_email") or None,
                phone=self.cleaned_data.get("new_phone") or None,
            )
        super()._post_clean()


@admin.register(Patient)
class PatientAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "enrollments__participant__study"
    study_path_many = True
    denied_actions = NO_DELETE
    history_shows_values = False
    list_display = ("__str__", "language", "preferred_channel", "time_zone", "created_at")
    list_filter = ("language", "preferred_channel")
    fields = ("name", "email", "phone", "birth_date", "time_zone", "language", "preferred_channel")
    change_fields = (
        "identity",
        "new_name",
        "new_email",
        "new_phone",
        "new_birth_date",
        "time_zone",
        "language",
        "preferred_channel",
    )
    inlines = [EnrollmentInline]

    def get_form(self, request: HttpRequest, obj: Patient | None = None, change: bool = False, **kwargs: Any):
        kwargs["form"] = PatientChangeForm if obj is not None else PatientAddForm
        if obj is not None:
            kwargs["fields"] = [f for f in self.change_fields if f != "identity"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Patient | None = None):
        return self.change_fields if obj is not None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Patient | None = None):
        return ("identity",) if obj is not None else ()

    @admin.display(description=_("who this is"))
    def identity(self, obj: Patient) -> str:
        # Only the enrolments this user may look into: another study's pseudonym is not theirs to see.
        return identity_links(getattr(_viewer, "user", None) or False, obj.enrollments.select_related("participant"))

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any):
        # Set for each page of this thread (the response renders after this returns).
        _viewer.user = request.user
        return super().changeform_view(request, *args, **kwargs)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Who recorded the consent is whoever entered it here.
        for inline_form in formset.forms:
            instance = inline_form.instance
            if formset.model is Enrollment and instance.pk is None and instance.consent_recorded_by_id is None:
                instance.consent_recorded_by = request.user
        super().save_formset(request, form, formset, change)


@admin.register(Enrollment)
class EnrollmentAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "participant__study"
    denied_actions = NO_DELETE
    history_shows_values = False
    list_display = ("participant", "consent_method", "enrolled_at", "withdrawn_at")
    list_filter = ("consent_method",)
    list_select_related = ("participant",)
    search_fields = ("participant__pseudonym",)
    fields = ("patient", *ENROLLMENT_FIELDS)
    readonly_fields = ("consent_recorded_by",)

    def get_fields(self, request: HttpRequest, obj: Enrollment | None = None):
        return ("identity", *self.fields) if obj is not None else self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Enrollment | None = None) -> tuple[str, ...]:
        # The link person ↔ pseudonym is set once; a mistake is fixed by withdrawing.
        return (
            ("identity", "consent_recorded_by", "patient", "participant")
            if obj is not None
            else ("consent_recorded_by",)
        )

    @admin.display(description=_("who this is"))
    def identity(self, obj: Enrollment) -> str:
        return identity_links(None, [obj])

    def save_model(self, request: HttpRequest, obj: Enrollment, form: Any, change: bool) -> None:
        if obj.pk is None and obj.consent_recorded_by_id is None:
            obj.consent_recorded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Message)
class MessageAdmin(StudyScopedAdmin, admin.ModelAdmin):
    study_path = "enrollment__participant__study"
    denied_actions = NO_DELETE
    list_display = ("kind", "sequence", "channel", "status", "scheduled_at", "sent_at", "attempts")
    list_filter = ("status", "kind", "channel")
    list_select_related = ("enrollment__participant",)
    search_fields = ("enrollment__participant__pseudonym", "provider_id")
    # A provider's error text may quote the number or address it was sent to: shown redacted.
    exclude = ("last_error",)
    readonly_fields = ("error",)

    @admin.display(description=_("last error"))
    def error(self, obj: Message) -> str:
        return contact_redact(obj.last_error)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Signed notices: immutable (the model refuses changes too), read by investigators."""

    study_path = "enrollment__participant__study"
    list_display = ("enrollment", "notice", "method", "recorded_at", "recorded_by")
    list_filter = ("method",)
    list_select_related = ("enrollment__participant", "notice__study", "recorded_by")
    search_fields = ("enrollment__participant__pseudonym",)
    # The name the patient typed is an identity: seen through the audited page only.
    hidden_fields = ("typed_name",)


@admin.register(ReidentificationEvent)
class ReidentificationEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The audit of who looked up the person behind a pseudonym, when and why."""

    study_path = "participant__study"
    list_display = ("participant", "user", "reason", "at")
    list_select_related = ("participant", "user")
    search_fields = ("participant__pseudonym", "user__username")


class SmsTemplateForm(forms.ModelForm):
    class Meta:
        model = SmsTemplate
        fields = ("study", "kind", "language", "text")
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "cols": 60})}

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        # Plain text and the three variables only: a tag could pull in other templates or data.
        if re.search(r"{%|{#", text):
            raise forms.ValidationError(_("An SMS template holds text and {{ variables }} only, no {% tags %}."))
        check = sms_template_check(text)
        if check.problems:
            raise forms.ValidationError(list(check.problems))
        self.check = check
        return text


@admin.register(SmsTemplate)
class SmsTemplateAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    """The study's SMS wording, counted the way GSM-7 counts it, with the longest link a patient can get."""

    form = SmsTemplateForm
    list_display = ("study", "kind", "language", "length")
    list_filter = ("kind", "language")

    @admin.display(description=_("length with the longest link"))
    def length(self, obj: SmsTemplate) -> str:
        return segments_text(sms_template_check(obj.text))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault(
            "text", shipped_sms_template(kind=initial.get("kind", "invitation"), language=initial.get("language", "fr"))
        )
        return initial

    def save_model(self, request: HttpRequest, obj: SmsTemplate, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        check = getattr(form, "check", None)
        if check is None:
            return
        # Over one segment or outside GSM-7 costs more and may arrive in pieces: say so, do not refuse.
        level = messages.WARNING if check.warnings else messages.SUCCESS
        for text in (segments_text(check), *check.warnings):
            self.message_user(request, text, level)


def identity_links(user: Any, enrollments) -> str:
    """A link per enrolment to the audited page that asks a reason and records the look."""
    links = [
        format_html(
            '<a href="{}">{} ({})</a>',
            reverse("patients:staff_reidentify", args=[e.participant_id]),
            IDENTITY_LINK,
            e.participant.pseudonym,
        )
        for e in enrollments
        if user is None or (user and (user.is_superuser or investigator_may_act(user, e.participant)))
    ]
    return format_html_join(mark_safe("<br>"), "{}", ((link,) for link in links)) if links else "—"


CONTACT_LIKE = re.compile(r"\+?\d[\d .()-]{6,}\d|[^\s@<>'\"]+@[^\s@<>'\"]+")


def contact_redact(text: str) -> str:
    return CONTACT_LIKE.sub("[…]", text or "") or "—"


def segments_text(check) -> str:
    info = check.segments
    if info is None:
        return "—"
    return _("%(units)s characters (%(encoding)s), %(segments)s SMS") % {
        "units": info.units,
        "encoding": info.encoding,
        "segments": info.segments,
    }
