"""Admin of identities: investigators of the person's studies only (patients/rules.py).

Names appear on the patient's own page, never in a list: a changelist is what
gets screen-shared and printed. The blind-index digests (email_digest, phone_digest)
are never shown: they are not editable, so no form or list includes them.
Investigators limited to one site see only that site's rows (surveys/rules.py).
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from surveys.admin import ReadOnlyAdmin, StudyScopedAdmin, StudyScopedInline

from .messaging_text import shipped_sms_template, sms_template_check
from .models import ConsentRecord, Enrollment, Message, Patient, ReidentificationEvent, SmsTemplate

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


@admin.register(Patient)
class PatientAdmin(StudyScopedAdmin, SimpleHistoryAdmin):
    study_path = "enrollments__participant__study"
    study_path_many = True
    denied_actions = NO_DELETE
    list_display = ("__str__", "language", "preferred_channel", "time_zone", "created_at")
    list_filter = ("language", "preferred_channel")
    fields = ("name", "email", "phone", "birth_date", "time_zone", "language", "preferred_channel")
    inlines = [EnrollmentInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Who recorded the consent is whoever entered it here.
        for inline_form in formset.forms:
            instance = inline_form.instance
            if formset.model is Enrollment and instance.pk is None and instance.consent_recorded_by_id is None:
                instance.consent_recorded_by = request.user
        super().save_formset(request, form, formset, change)


@admin.register(Enrollment)
class EnrollmentAdmin(StudyScopedAdmin, SimpleHistoryAdmin):
    study_path = "participant__study"
    denied_actions = NO_DELETE
    list_display = ("participant", "consent_method", "enrolled_at", "withdrawn_at")
    list_filter = ("consent_method",)
    list_select_related = ("participant",)
    search_fields = ("participant__pseudonym",)
    fields = ("patient", *ENROLLMENT_FIELDS)
    readonly_fields = ("consent_recorded_by",)

    def get_readonly_fields(self, request: HttpRequest, obj: Enrollment | None = None) -> tuple[str, ...]:
        # The link person ↔ pseudonym is set once; a mistake is fixed by withdrawing.
        return ("consent_recorded_by", "patient", "participant") if obj is not None else ("consent_recorded_by",)

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


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Signed notices: immutable (the model refuses changes too), read by investigators."""

    study_path = "enrollment__participant__study"
    list_display = ("enrollment", "notice", "method", "recorded_at", "recorded_by")
    list_filter = ("method",)
    list_select_related = ("enrollment__participant", "notice__study", "recorded_by")
    search_fields = ("enrollment__participant__pseudonym",)


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
class SmsTemplateAdmin(StudyScopedAdmin, SimpleHistoryAdmin):
    """The study's SMS wording, counted the way GSM-7 counts it, with the longest link a patient can get."""

    form = SmsTemplateForm
    list_display = ("study", "kind", "language", "length")
    list_filter = ("kind", "language")

    @admin.display(description=_("length with the longest link"))
    def length(self, obj: SmsTemplate) -> str:
        return segments_text(sms_template_check(obj.text))

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("text", shipped_sms_template(kind=initial.get("kind", "invitation"),
                                                        language=initial.get("language", "fr")))
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


def segments_text(check) -> str:
    info = check.segments
    if info is None:
        return "—"
    return _("%(units)s characters (%(encoding)s), %(segments)s SMS") % {
        "units": info.units, "encoding": info.encoding, "segments": info.segments}
