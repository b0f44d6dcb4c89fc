"""Alerts in the admin: a read-only list scoped like the rest (study role, and site), and the
open-alert count with a link to the study's alert page, shown on the study admin.

Acknowledging happens on the staff page (/staff/studies/<code>/alerts/), which records who and when.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.admin.base import ReadOnlyAdmin
from surveys.models import Alert, Study
from surveys.scoring.alerts import alerts_for_user


class OpenFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", _("Open")), ("no", _("Acknowledged"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(acknowledged_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(acknowledged_at__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ("rule", "pseudonym", "study", "created_at", "notified_at", "acknowledged_at", "acknowledged_by")
    list_filter = (OpenFilter, ("study", RelatedOnlyFieldListFilter), "rule")
    list_select_related = ("study", "acknowledged_by", "participant")
    search_fields = ("participant__pseudonym", "rule")
    date_hierarchy = "created_at"
    readonly_fields = ("pseudonym",)

    @admin.display(description=_("pseudonym"), ordering="participant__pseudonym")
    def pseudonym(self, obj: Alert) -> str:
        # The participant, not the response: an open alert outlives an erased response.
        return obj.participant.pseudonym if obj.participant_id else "—"


def open_alerts_link(request: HttpRequest):
    """A column / read-only field of the study admin: open alerts the user may see, linked to the alert page."""

    @admin.display(description=_("open alerts"))
    def open_alerts(obj: Study) -> str:
        if obj.pk is None or not request.user.has_perm("surveys.view_alert", obj):
            return "—"
        count = alerts_for_user(user=request.user, study_id=obj.pk).filter(acknowledged_at__isnull=True).count()
        text = ngettext("%(count)s open alert", "%(count)s open alerts", count) % {"count": count}
        url = reverse("surveys:alerts", args=[obj.code])
        if count:
            return format_html('<a href="{}"><strong>{}</strong></a>', url, text)
        return format_html('<a href="{}">{}</a>', url, text)

    return open_alerts
