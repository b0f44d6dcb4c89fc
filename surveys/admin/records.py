"""Admin of the schedule and of what it produced: timepoints, participants, assignments, responses, link locks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from surveys.admin.base import ReadOnlyAdmin, StudyScopedAdmin, pretty_json
from surveys.admin.forms import TimepointForm
from surveys.admin.history import AuditedHistoryAdmin
from surveys.models import (
    Assignment,
    LinkCheckLock,
    Participant,
    Response,
    Timepoint,
)
from surveys.scoring import compute

# --- schedule, participants, responses --------------------------------------------------------------


@admin.register(Timepoint)
class TimepointAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    # Channels as checkboxes, reminders as "2, 5": the same JSON lists as before (surveys/admin/forms.py).
    form = TimepointForm
    list_display = (
        "code",
        "label",
        "study",
        "version",
        "offset",
        "unit",
        "window",
        "repeat_count",
        "anchor",
        "trigger_item",
    )
    fieldsets = (
        (None, {"fields": ("study", "code", "label", "order", "version")}),
        (_("When"), {"fields": ("anchor", "anchor_item", "unit", "offset", "window", "repeat_every", "repeat_count")}),
        (
            _("Only after an answer (logic trigger)"),
            {"fields": ("trigger_item", "trigger_operator", "trigger_value"), "classes": ("collapse",)},
        ),
        (_("Messages"), {"fields": ("reminders", "send_time", "channels")}),
    )
    list_filter = (("study", RelatedOnlyFieldListFilter),)
    search_fields = ("code", "label")

    def save_model(self, request: HttpRequest, obj: Timepoint, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Enrolled patients keep their dates until a designer has seen and applied the change.
        messages.info(
            request,
            format_html(
                _(
                    'Enrolled patients keep their dates until the change is applied: <a href="{}">review and apply it</a>.'
                ),
                reverse("surveys:schedule_replan", args=[obj.study.code]),
            ),
        )


@admin.register(Participant)
class ParticipantAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    # Research data outlives a withdrawal: participants are withdrawn, never deleted.
    denied_actions = frozenset({"delete"})
    list_display = ("pseudonym", "study", "site", "status", "created_at")
    list_filter = (("study", RelatedOnlyFieldListFilter), "status")
    search_fields = ("pseudonym",)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin, AuditedHistoryAdmin):
    study_path = "participant__study"
    hidden_fields = ("token_hash",)
    list_display = ("participant", "timepoint", "occurrence", "due_at", "expires_at", "status")
    list_filter = ("status", ("participant__study", RelatedOnlyFieldListFilter))
    list_select_related = ("participant", "timepoint")
    search_fields = ("participant__pseudonym",)


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin, AuditedHistoryAdmin):
    study_path = "assignment__participant__study"
    list_display = ("assignment", "version", "status", "started_at", "submitted_at", "scores_short")
    list_filter = ("status", ("assignment__participant__study", RelatedOnlyFieldListFilter))
    list_select_related = ("assignment__participant", "assignment__timepoint", "version__questionnaire__study")
    search_fields = ("assignment__participant__pseudonym",)
    hidden_fields = ("answers", "scores")
    readonly_fields = ("answers_json", "scores_table", "correction_link")

    @admin.display(description=_("corrections"))
    def correction_link(self, obj: Response) -> str:
        # The only way a submitted answer changes: an audited correction (surveys/answering/corrections.py).
        if obj.status != Response.Status.COMPLETED:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("surveys:correct_response", args=[obj.pk]),
            _("Correct an answer at the patient's request"),
        )

    @admin.display(description=_("answers by linkId"))
    def answers_json(self, obj: Response) -> str:
        return pretty_json(obj.answers)

    @admin.display(description=_("scores"))
    def scores_short(self, obj: Response) -> str:
        rows = compute.score_rows(obj.version.definition, obj.scores or {}, language=get_language() or "en")
        return (
            "; ".join(
                f"{r['name']} {'—' if r['value'] is None else r['value']}" + (f" ({r['band']})" if r["band"] else "")
                for r in rows
            )
            or "—"
        )

    @admin.display(description=_("scores"))
    def scores_table(self, obj: Response) -> str:
        rows = compute.score_rows(obj.version.definition, obj.scores or {}, language=get_language() or "en")
        if not rows:
            return "—"
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("score"),
            _("value"),
            _("raw"),
            _("band"),
            _("answered"),
            _("note"),
        )
        body = format_html_join(
            "",
            "<tr><td>{} <code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r["label"],
                    r["name"],
                    "—" if r["value"] is None else r["value"],
                    "—" if r["raw"] is None else r["raw"],
                    r["band"] or "—",
                    r["answered"],
                    r["note"],
                )
                for r in rows
            ),
        )
        return format_html("<table>{}{}</table>", head, body)


@admin.register(LinkCheckLock)
class LinkCheckLockAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Links locked after too many wrong years of birth: which link, when, until when (no address, no answer)."""

    study_path = "assignment__participant__study"
    list_display = ("pseudonym", "timepoint", "locked_at", "locked_until", "level")
    list_filter = (("assignment__participant__study", RelatedOnlyFieldListFilter),)
    list_select_related = ("assignment__participant", "assignment__timepoint")
    search_fields = ("assignment__participant__pseudonym",)

    @admin.display(description=_("pseudonym"), ordering="assignment__participant__pseudonym")
    def pseudonym(self, obj: LinkCheckLock) -> str:
        return obj.assignment.participant.pseudonym

    @admin.display(description=_("timepoint"), ordering="assignment__timepoint__code")
    def timepoint(self, obj: LinkCheckLock) -> str:
        return str(obj.assignment.timepoint)
