"""Review panels in the admin: designers manage their studies' panels, superusers also site-wide ones.

Members are never added by hand: "Invite a reviewer" (on the panel page) creates the account if
needed and e-mails a one-time link; "Send a new invitation" (members list) replaces the link.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from surveys.admin.base import StudyScopedAdmin, StudyScopedInline
from surveys.admin.history import AuditedHistoryAdmin
from surveys.models import Panel, PanelMember
from surveys.review.panels import reviewer_invite


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address of the reviewer"))
    kind = forms.ChoiceField(label=_("kind"), choices=PanelMember.Kind.choices)
    language = forms.ChoiceField(
        label=_("language"),
        choices=settings.LANGUAGES,
        help_text=_("Language of the invitation, the reminders and the reviewer's pages."),
    )


class PanelMemberInline(StudyScopedInline, admin.TabularInline):
    model = PanelMember
    extra = 0
    fields = ("user", "kind", "language", "invited_at", "accepted_at", "active")
    readonly_fields = ("user", "invited_at", "accepted_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # members come in through an invitation


@admin.register(Panel)
class PanelAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    list_display = ("code", "title", "scope", "member_count")
    search_fields = ("code", "title")
    inlines = [PanelMemberInline]
    readonly_fields = ("invite_link",)

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("study")

    def get_fields(self, request: HttpRequest, obj: Panel | None = None):
        return ["study", "code", "title"] + (["invite_link"] if obj is not None else [])

    def get_form(self, request: HttpRequest, obj: Panel | None = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        study = form.base_fields.get("study")
        if study is not None:
            # A site-wide panel (no study) reaches every study's drafts: superusers only.
            study.required = not request.user.is_superuser
            study.help_text = _("Empty: a site-wide panel (superusers only).")
        return form

    @admin.display(description=_("scope"))
    def scope(self, obj: Panel) -> str:
        return str(obj.study) if obj.study_id else _("site-wide")

    @admin.display(description=_("members"))
    def member_count(self, obj: Panel) -> int:
        return obj.members.filter(active=True).count()

    @admin.display(description=_("invite"))
    def invite_link(self, obj: Panel) -> str:
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:surveys_panel_invite", args=[obj.pk]),
            _("Invite a reviewer"),
        )

    def get_urls(self) -> list:
        return [
            path("<int:pk>/invite/", self.admin_site.admin_view(self.invite_view), name="surveys_panel_invite"),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        panel = self.get_object(request, str(pk))
        if not self.has_change_permission(request, panel):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        form = InviteForm(request.POST or None, initial={"language": settings.LANGUAGE_CODE})
        if request.method == "POST" and form.is_valid():
            try:
                reviewer_invite(
                    panel=panel,
                    email=form.cleaned_data["email"],
                    kind=form.cleaned_data["kind"],
                    language=form.cleaned_data["language"],
                    by=request.user,
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                self.message_user(
                    request,
                    _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:surveys_panel_change", args=[panel.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": panel,
            "form": form,
            "title": _("Invite a reviewer to %(panel)s") % {"panel": panel},
        }
        return render(request, "admin/surveys/panel/invite.html", context)


@admin.register(PanelMember)
class PanelMemberAdmin(StudyScopedAdmin, AuditedHistoryAdmin):
    study_path = "panel__study"
    list_display = ("user", "panel", "kind", "language", "invited_at", "accepted_at", "active")
    list_filter = ("kind", "active", "language")
    list_select_related = ("user", "panel")
    search_fields = ("user__email", "panel__code")
    fields = ("panel", "user", "kind", "language", "invited_at", "invited_by", "accepted_at", "active")
    readonly_fields = ("panel", "user", "invited_at", "invited_by", "accepted_at")
    actions = ["reinvite"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # members come in through "Invite a reviewer" on the panel page

    @admin.action(description=_("Send a new invitation (the previous link stops working)"))
    def reinvite(self, request: HttpRequest, queryset) -> None:
        done = 0
        for member in queryset.select_related("panel", "user"):
            if not self.has_change_permission(request, member):
                continue
            reviewer_invite(
                panel=member.panel, email=member.user.email, kind=member.kind, language=member.language, by=request.user
            )
            done += 1
        self.message_user(
            request,
            ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", done) % {"count": done},
            messages.SUCCESS,
        )
