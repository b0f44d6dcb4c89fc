"""The study-scoped base of every admin: lists, pages and choices only show the user's studies.

Every permission question goes to surveys/rules.py through `user.has_perm(perm, obj)`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from surveys.models import (
    Study,
)
from surveys.rules import roles_for
from surveys.staff.selectors import rows_for_user, studies_for_user

READ_ONLY = frozenset({"add", "change", "delete"})


# --- the study-scoped base -------------------------------------------------------------------


class StudyScopedMixin:
    """Shared by model admins and inlines: permission names and foreign-key choices."""

    model: type[models.Model]
    admin_site: admin.AdminSite
    # Actions refused to everyone, superusers included: they would break an
    # invariant (a published version is frozen, a response is the patient's).
    denied_actions: frozenset[str] = frozenset()

    def perm_name(self, action: str) -> str:
        return f"{self.model._meta.app_label}.{action}_{self.model._meta.model_name}"

    def allows(self, request: HttpRequest, action: str, obj: Any = None) -> bool:
        if action in self.denied_actions:
            return False
        return request.user.has_perm(self.perm_name(action), obj)

    def roles_granting(self, *actions: str) -> set[str]:
        return {role for action in actions for role in roles_for(self.perm_name(action))}

    def get_field_queryset(self, db: str | None, db_field: models.Field, request: HttpRequest) -> QuerySet | None:
        # Choices only offer rows of the studies where the user may edit this model.
        queryset = super().get_field_queryset(db, db_field, request)  # type: ignore[misc]
        related = db_field.remote_field.model
        if queryset is None:
            queryset = related._default_manager.using(db).all()
        if request.user.is_superuser:
            return queryset
        roles = self.roles_granting("add", "change")
        related_admin = self.admin_site._registry.get(related)
        if isinstance(related_admin, StudyScopedAdmin):
            return related_admin.scope_for_user(queryset, user=request.user, roles=roles)
        studies = studies_for_user(user=request.user, roles=roles)
        if related is get_user_model():
            return queryset.filter(study_memberships__study__in=studies).distinct()
        return queryset


class StudyScopedAdmin(StudyScopedMixin):
    """Base of every model admin: querysets, object pages and permissions follow study roles."""

    # Lookup from this model to its Study ("pk" for Study itself).
    study_path: str = "study"
    # True when study_path crosses a to-many relation (a patient has several enrolments).
    study_path_many: bool = False

    def scope(self, queryset: QuerySet, studies: QuerySet[Study]) -> QuerySet:
        lookup = {f"{self.study_path}__in": studies}
        if self.study_path_many:
            return queryset.filter(pk__in=queryset.model._default_manager.filter(**lookup).values("pk"))
        return queryset.filter(**lookup)

    def scope_for_user(self, queryset: QuerySet, *, user: Any, roles: set[str]) -> QuerySet:
        """Rows of the user's studies for `roles`, and of their site only if their membership
        is limited to one (surveys/staff/selectors.py, for models bound to sites in surveys/rules.py)."""
        return rows_for_user(queryset, user=user, roles=roles, study_path=self.study_path, many=self.study_path_many)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return self.scope_for_user(queryset, user=request.user, roles=self.roles_granting("view", "change"))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        # An object of another study is "not found", never "exists but forbidden".
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is None:
            raise Http404(_("No such object in your studies."))
        return obj

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "view", obj) or self.allows(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.allows(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "delete", obj)


class StudyScopedInline(StudyScopedMixin):
    """Inline rows are judged against the parent object's study (the same study)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "view", obj) or self.allows(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "add", obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allows(request, "delete", obj)


class ReadOnlyAdmin(StudyScopedAdmin):
    """For rows written only by services: every field shown, none editable."""

    denied_actions = READ_ONLY
    hidden_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        own = [
            f.name for f in self.model._meta.concrete_fields if not f.primary_key and f.name not in self.hidden_fields
        ]
        return own + [name for name in super().get_readonly_fields(request, obj) if name not in own]  # type: ignore[misc]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.get_readonly_fields(request, obj)


def pretty_json(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False, default=str))
