"""Admin of studies, their sites and their members."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from surveys.admin.base import StudyScopedAdmin
from surveys.admin.consent import screening_link_close, screening_link_open
from surveys.admin.history import AuditedHistoryAdmin
from surveys.models import (
    Site,
    Study,
    StudyMembership,
)
from surveys.models.study import GOVERNANCE_FIELDS
from surveys.rules import GOVERN_STUDY
from surveys.staff.pages import study_pages

# --- study, sites, memberships --------------------------------------------------------------------


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "pk"
    # The pre-screening link of a study is opened and closed from the list (surveys/admin/consent.py).
    actions = [screening_link_open, screening_link_close]
    list_display = ("code", "title", "status", "fallback_language", "time_zone")
    list_filter = ("status",)
    search_fields = ("code", "title")

    # Each role's way to the study's staff pages (enrolment, outbox, alerts, exports, schedule, review).
    def _pages_link(self, request: HttpRequest):
        @admin.display(description=_("pages"))
        def pages(obj: Study) -> str:
            found = study_pages(request.user, obj) if obj.pk is not None else []
            if not found:
                return "—"
            return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in found))

        return pages

    def _links(self, request: HttpRequest, obj: Study | None = None) -> list:
        # The same function objects for the whole request: the admin compares the read-only fields of
        # one call with the fields of another, so a new function per call is "an unknown field" (500).
        cache = request.__dict__.setdefault("_study_admin_links", {})
        key = None if obj is None else obj.pk
        if key not in cache:
            from surveys.admin.alerts import open_alerts_link  # that module imports this one

            links = [self._pages_link(request)]
            if request.user.has_perm("surveys.view_alert", obj):
                links.append(open_alerts_link(request))
            cache[key] = links
        return cache[key]

    def get_list_display(self, request: HttpRequest):
        return list(super().get_list_display(request)) + self._links(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Investigators change the governance fields only (get_readonly_fields).
        return super().has_change_permission(request, obj) or request.user.has_perm(GOVERN_STUDY, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Study | None = None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            if not request.user.has_perm(GOVERN_STUDY, obj):
                fields += [name for name in GOVERNANCE_FIELDS if name not in fields]
            if not self.allows(request, "change", obj):
                design = [
                    f.name
                    for f in Study._meta.concrete_fields
                    if f.editable and not f.primary_key and f.name not in GOVERNANCE_FIELDS
                ]
                fields += [name for name in design if name not in fields]
            fields += self._links(request, obj)
        return fields


@admin.register(Site)
class SiteAdmin(StudyScopedAdmin, admin.ModelAdmin):
    list_display = ("code", "name", "study")
    list_filter = (("study", RelatedOnlyFieldListFilter),)
    search_fields = ("code", "name")


@admin.register(StudyMembership)
class StudyMembershipAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    list_display = ("user", "study", "role", "created_at")
    list_filter = (("study", RelatedOnlyFieldListFilter), "role")
    search_fields = ("user__username", "user__email")
