"""Admin of information notices and eligibility rules (see surveys/admin/), and the study
actions that open or close its public pre-screening link.

Designers write notices and rules; every study role may read them (surveys/rules.py).
A notice is immutable once saved: a new text is a new version.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from surveys.admin.base import StudyScopedAdmin
from surveys.models import ConsentNotice, EligibilityRule, Study
from surveys.participants import screening
from surveys.questionnaires import values


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(StudyScopedAdmin, admin.ModelAdmin):
    list_display = ("study", "version", "language", "title", "created_at")
    list_filter = (("study", RelatedOnlyFieldListFilter), "language")
    search_fields = ("version", "title")
    fields = ("study", "version", "language", "title", "text", "content_hash", "created_at")
    # Consent records point to notices: never changed, never deleted, whoever asks.
    denied_actions = frozenset({"change", "delete"})

    def get_readonly_fields(self, request: HttpRequest, obj: ConsentNotice | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("content_hash", "created_at")
        return self.fields

    def get_fields(self, request: HttpRequest, obj: ConsentNotice | None = None) -> tuple[str, ...]:
        return self.fields if obj is not None else ("study", "version", "language", "title", "text")


class EligibilityRuleForm(forms.ModelForm):
    operator = forms.ChoiceField(
        label=_("operator"),
        choices=[(op, op) for op in values.OPERATORS],
        help_text=_("As for display conditions. exists: answer true (answered) or false (not answered)."),
    )

    class Meta:
        model = EligibilityRule
        fields = ("study", "kind", "question", "operator", "answer")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        study = cleaned.get("study")
        problems = screening.rule_problems(
            study=study,
            question=cleaned.get("question") or "",
            operator=cleaned.get("operator") or "",
            answer=cleaned.get("answer") or "",
        )
        for field_name, message in problems.items():
            self.add_error(field_name, message)
        return cleaned


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(StudyScopedAdmin, admin.ModelAdmin):
    form = EligibilityRuleForm
    list_display = ("study", "kind", "question", "operator", "answer")
    list_filter = (("study", RelatedOnlyFieldListFilter), "kind")
    search_fields = ("question",)


# --- the public pre-screening link, as actions on the study list ------------------------------------


def _screening_url(study: Study) -> str:
    return settings.SITE_URL + reverse("surveys:screening", args=[study.screening_token])


@admin.action(description=_("Open (or show) the public pre-screening link"), permissions=["change"])
def screening_link_open(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Study]) -> None:
    for study in queryset:
        if not request.user.has_perm("surveys.change_study", study):
            messages.error(request, _("%(study)s: only its designers may do this.") % {"study": study.code})
            continue
        try:
            screening.screening_link_open(study=study)
        except screening.ScreeningUnavailable as exc:
            messages.error(request, str(exc))
            continue
        messages.success(
            request, _("%(study)s: pre-screening link %(url)s") % {"study": study.code, "url": _screening_url(study)}
        )


@admin.action(description=_("Close the public pre-screening link"), permissions=["change"])
def screening_link_close(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Study]) -> None:
    for study in queryset:
        if not request.user.has_perm("surveys.change_study", study):
            messages.error(request, _("%(study)s: only its designers may do this.") % {"study": study.code})
            continue
        screening.screening_link_close(study=study)
        messages.success(request, _("%(study)s: the pre-screening link no longer works.") % {"study": study.code})
