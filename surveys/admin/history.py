"""History pages of the admin: they only read, and only what the user may see.

django-simple-history's own views save the form of an old version for anyone who may view the
object, and look objects up without the admin's queryset. Here:

* nobody reverts, superusers included: a submitted answer changes only through an audited
  correction (surveys/answering/corrections.py), a design through a new version;
* both history views find the object through `get_object` (the study-scoped queryset), so a
  record of another study or site is "not found", like its change page;
* the page of one old version answers GET only, with every field read-only;
* models that hold identities (`history_shows_values = False`) list who changed which field
  and when, never the values, and have no page per version.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.translation import gettext as _
from simple_history.admin import SimpleHistoryAdmin

READ_METHODS = ("GET", "HEAD")


class AuditedHistoryAdmin(SimpleHistoryAdmin):
    # False for identity models: their history lists changed field names only.
    history_shows_values: bool = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.history_shows_values:
            self.object_history_list_template = "admin/history_without_values.html"

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _object_in_scope(self, request: HttpRequest, object_id: str) -> Any:
        # StudyScopedAdmin.get_object raises Http404 itself; plain admins return None.
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("No such object in your studies."))
        return obj

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        self._object_in_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def set_history_delta_changes(
        self, request: HttpRequest, historical_records: Any, foreign_keys_are_objs: bool = True
    ) -> None:
        if self.history_shows_values:
            super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
            return
        # Names of the changed fields only: a diff would print the identity it protects.
        previous = None
        for current in historical_records:
            if previous is not None:
                delta = previous.diff_against(current, foreign_keys_are_objs=False)
                previous.history_changed_fields = [
                    str(self.model._meta.get_field(change.field).verbose_name) for change in delta.changes
                ]
            previous = current

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        if request.method not in READ_METHODS:
            return HttpResponseNotAllowed(READ_METHODS)
        if not self.history_shows_values:
            raise Http404(_("Old versions of this record are not shown."))
        self._object_in_scope(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request: HttpRequest, template: str, context: dict, **kwargs: Any) -> HttpResponse:
        adminform = context.get("adminform")
        if adminform is not None:
            # The old version is shown, never offered for editing: every field read-only.
            fieldsets = list(adminform.fieldsets)
            context["adminform"] = helpers.AdminForm(
                adminform.form, fieldsets, {}, readonly_fields=flatten_fieldsets(fieldsets), model_admin=self
            )
            context["change_history"] = False
            context["has_change_permission"] = False
            context["has_delete_permission"] = False
            context["has_add_permission"] = False
        return super().render_history_view(request, template, context, **kwargs)
