"""Staff accounts in the admin: deactivated, never deleted (surveys/accounts.py refuses it in code too)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

User = get_user_model()


class AccountAdmin(UserAdmin):
    actions = ["deactivate"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description=_("Deactivate the selected accounts (they can no longer sign in)"),
                  permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(is_active=True).exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(request, ngettext("%(count)d account deactivated.", "%(count)d accounts deactivated.", count)
                          % {"count": count}, messages.SUCCESS)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
