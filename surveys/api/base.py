"""What every API view shares: study access, URL converters, study filters, the schema.

* Access: `access_api_study` gives the study named in the URL only when the requester (the
  token's owner) has a role there that grants the view's permission (surveys/rules.py) and the
  token reaches that study; otherwise 404, or 403 for a member whose role lacks the permission.
  Rows are then narrowed by `rows_for_user` (site scopes), so another study's or another
  site's objects are "not found", never "forbidden".
* Errors, pagination, strict filters and throttling: surveys/api/policies.py.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from surveys.api.tokens import api_token_study_ids
from surveys.models import ApiToken, Study, Timepoint
from surveys.rules import roles_for
from surveys.staff.selectors import rows_for_user

MIN_INSTANT = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
MAX_INSTANT = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


# --- URL parameters ------------------------------------------------------------------------------


class IdConverter:
    """Database ids: 1 to 18 digits, so that no id overflows a 64-bit column."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class CodeConverter:
    """Study, questionnaire and timepoint codes (slugs)."""

    regex = "[-a-zA-Z0-9_]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class PseudonymConverter(CodeConverter):
    """Pseudonyms: ours (ST01-7F3K9-Q2M4X, check symbols *~$=U) and imported ones (letters, digits, -_.)."""

    regex = r"[-A-Za-z0-9_.*~$=]{1,40}"


# --- errors --------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    status = serializers.IntegerField(help_text="HTTP status code, repeated.")
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. not_found, invalid, throttled.")
    detail = serializers.CharField(help_text="What went wrong, in words.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For invalid input: messages per parameter or field.",
    )
    retry_after = serializers.IntegerField(required=False, help_text="For 429: seconds to wait (also in Retry-After).")


# --- filters -------------------------------------------------------------------------------------


# Request bodies whose serializer refuses any field it does not list (ExportSerializer.validate).
CLOSED_REQUEST_BODIES = ("ExportRequest",)


def schema_closed_bodies(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: those bodies say `additionalProperties: false`."""
    for name in CLOSED_REQUEST_BODIES:
        component = result.get("components", {}).get("schemas", {}).get(name)
        if component is not None:
            component["additionalProperties"] = False
    return result


class UnknownCode(exceptions.NotFound):
    """A code (of a questionnaire, a timepoint) that names nothing in the study: 404, like an unknown
    study in the path; the body still names the parameter."""


class StudyFilterSet(filters.FilterSet):
    """Filters of rows of one study; codes of timepoints and questionnaires are checked against it."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data=data, queryset=queryset, request=request, prefix=prefix)
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.study = getattr(view, "study", None)

    def filter_timepoint(self, queryset, name, value):
        if self.study is not None and not Timepoint.objects.filter(study=self.study, code=value).exists():
            raise UnknownCode({"timepoint": [_("No timepoint %(code)s in this study.") % {"code": value}]})
        return queryset.filter(**{name: value})

    def filter_questionnaire(self, queryset, name, value):
        if self.study is not None and not self.study.questionnaires.filter(code=value).exists():
            raise UnknownCode({"questionnaire": [_("No questionnaire %(code)s in this study.") % {"code": value}]})
        return queryset.filter(**{name: value})


class InstantField(IsoDateTimeField):
    """An ISO 8601 instant between years 1900 and 2200: wider ones overflow when converted to UTC."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None:
            try:
                in_range = MIN_INSTANT <= result <= MAX_INSTANT
            except (OverflowError, TypeError):
                in_range = False
            if not in_range:
                raise forms.ValidationError(_("Give an instant between the years 1900 and 2200."), code="invalid")
            # In UTC: ISO 8601 allows offsets (up to ±24 h) that PostgreSQL refuses (beyond ±15:59).
            result = result.astimezone(dt.UTC)
        return result


# What the schema says of an instant: ISO 8601, years 1900 to 2199 (InstantField).
INSTANT_SCHEMA = {"type": "string", "format": "date-time", "pattern": r"^(19|2[01])[0-9]{2}-"}


@extend_schema_field(INSTANT_SCHEMA)
class InstantFilter(filters.IsoDateTimeFilter):
    field_class = InstantField


class JsonBooleanField(serializers.BooleanField):
    """true or false as JSON says them: DRF's own also takes 0, 1, "yes", "on"..., which the schema
    (type boolean) does not."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


# The largest id a row can have (PostgreSQL bigint); the schema says so, so a larger one is a 400 by contract.
MAX_ROW_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID})
class IdFilter(filters.NumberFilter):
    """A row id: a whole number from 1, as the schema says (a NumberFilter alone is a decimal)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ROW_ID, **kwargs)


def date_range(field: str, what: str) -> tuple[InstantFilter, InstantFilter]:
    """`<x>_after` (inclusive) and `<x>_before` (exclusive) filters on a date-time field."""
    return (
        InstantFilter(
            field_name=field,
            lookup_expr="gte",
            label=f"{what} at or after this instant (ISO 8601, e.g. 2026-01-31 or 2026-01-31T08:00:00Z)",
        ),
        InstantFilter(field_name=field, lookup_expr="lt", label=f"{what} before this instant (ISO 8601)"),
    )


# --- access --------------------------------------------------------------------------------------


def token_reaches(request, study: Study) -> bool:
    token = request.auth if isinstance(request.auth, ApiToken) else None
    if token is None:
        return True
    narrowed = api_token_study_ids(token)
    return narrowed is None or study.pk in narrowed


def access_api_study(request, code: str, perm: str) -> Study:
    """The study `code` if the requester may `perm` in it: 404 if they have no role there (or the
    token does not reach it), 403 if their role does not grant `perm`."""
    study = Study.objects.filter(code=code).first()
    user = request.user
    if study is None or not token_reaches(request, study) or not user.has_perm("surveys.view_study", study):
        raise exceptions.NotFound(_("No study %(code)s among yours.") % {"code": code})
    if not user.has_perm(perm, study):
        raise exceptions.PermissionDenied(
            _("Your role in study %(code)s does not give access to this resource.") % {"code": code}
        )
    return study


# --- schema --------------------------------------------------------------------------------------

ERROR_RESPONSES = {
    "400": "Invalid input (unknown parameter, bad date, bad cursor...).",
    "401": "No token, or an unknown, revoked or expired one.",
    "403": "Your role in this study does not give access to this resource.",
    "404": "No such object among yours.",
    "429": "Too many requests: wait Retry-After seconds.",
}


class ApiSchema(AutoSchema):
    """Every operation documents the error body; tags come from the view."""

    def get_tags(self) -> list[str]:
        return getattr(self.view, "schema_tags", None) or super().get_tags()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERROR_RESPONSES.items():
            if (
                code == "400"
                and self.method == "GET"
                and not self._is_list_view()
                and not getattr(self.view, "may_refuse_input", False)
            ):
                continue
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                responses[code]["description"] = description
        return responses


# --- the view base -------------------------------------------------------------------------------


class StudyScopedMixin:
    """A view of one study's rows: `perm` decides who, `rows_for_user` which rows."""

    perm: str = "surveys.view_study"
    schema = ApiSchema()
    study: Study
    model: type

    def rows(self):
        raise NotImplementedError

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no study
            return self.model.objects.none()
        return self.rows()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.study = access_api_study(request, kwargs["study"], self.perm)

    def scoped(self, queryset, *, study_path: str = "study"):
        return rows_for_user(queryset, user=self.request.user, roles=roles_for(self.perm), study_path=study_path)


def reject_query_params(request, allowed: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        message = (
            _("Unknown parameter. Known: %(known)s.") % {"known": ", ".join(allowed)}
            if allowed
            else _("This resource takes no query parameter.")
        )
        raise exceptions.ValidationError({name: [message] for name in unknown})


class NoQueryMixin:
    """Detail views: query parameters are refused rather than ignored."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        reject_query_params(request)


def register_api_converters() -> None:
    """The path converters of API URLs (api_id, api_code, api_pseudonym); once per process."""
    from django.urls.converters import get_converters, register_converter

    known = get_converters()
    for name, converter in (
        ("api_id", IdConverter),
        ("api_code", CodeConverter),
        ("api_pseudonym", PseudonymConverter),
    ):
        if name not in known:
            register_converter(converter, name)
