"""Staff accounts in the admin: deactivated, never deleted (surveys/staff/accounts.py refuses it in code too)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

User = get_user_model()


class AccountAdmin(UserAdmin):
    actions = ["deactivate", "send_staff_invitation"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(
        description=_("Deactivate the selected accounts (they can no longer sign in)"), permissions=["change"]
    )
    def deactivate(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(is_active=True).exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(
            request,
            ngettext("%(count)d account deactivated.", "%(count)d accounts deactivated.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(
        description=_("E-mail a staff invitation link (password, then authenticator app)"), permissions=["change"]
    )
    def send_staff_invitation(self, request: HttpRequest, queryset) -> None:
        from config.staff_invites import staff_invitations_send

        sent, skipped = staff_invitations_send(queryset)
        self.message_user(
            request,
            ngettext("%(count)d invitation sent.", "%(count)d invitations sent.", sent) % {"count": sent},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d account skipped (inactive, not staff or no e-mail).",
                    "%(count)d accounts skipped (inactive, not staff or no e-mail).",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
