"""The API's policies named in settings.REST_FRAMEWORK: errors, pagination, filters, throttling.

Kept apart from the views (and from anything that imports rest_framework.views or generics):
DRF reads these settings while defining APIView itself.

* Errors: one body for every 4xx, `{"status", "code", "detail", "errors"}` (`api_exception_handler`).
* Pagination: cursors over the primary key (stable while rows are added), `page_size` up to
  `MAX_PAGE_SIZE`; a bad cursor or page size is a 400, not a silent first page.
* Filters: django-filter; a query parameter that no filter knows is a 400 that lists the known ones.
* Throttling: per token (or per signed-in user), rate `API_THROTTLE_RATE`, counted in the cache
  (Redis when REDIS_URL is set); over the rate, 429 with Retry-After.
"""

from __future__ import annotations

import logging
import re
from base64 import b64decode
from typing import Any
from urllib import parse

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from rest_framework import exceptions
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from surveys.models import ApiToken

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PAGE_PARAMS = ("cursor", "page_size")
MAX_ID = 2**63 - 1

logger = logging.getLogger(__name__)


# --- errors --------------------------------------------------------------------------------------


def _flatten(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(key): [str(m) for m in (value if isinstance(value, list) else [value])] for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(m) for m in detail]}
    return {}


def api_exception_handler(exc: Exception, context: dict):
    """DRF's handler, with one body shape for every error (see ErrorSerializer)."""
    from rest_framework.views import exception_handler  # not at import: see the module's docstring

    from surveys.interop.fhir.validation import FhirInvalid

    if isinstance(exc, FhirInvalid):
        # Stored data we cannot express as valid FHIR: our defect, reported as such (and logged), in
        # the same body as every other error rather than as an HTML page.
        logger.error("FHIR export refused by validation: %s", exc)
        return Response({"status": 500, "code": "fhir_invalid", "detail": str(exc)}, status=500)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    detail = getattr(exc, "detail", None)
    if isinstance(detail, (dict, list)):
        errors = _flatten(detail)
        messages = [m for ms in errors.values() for m in ms]
        body: dict[str, Any] = {
            "status": response.status_code,
            # A 404 naming the parameter (an unknown code) says not_found; field errors are "invalid".
            "code": exc.default_code if isinstance(exc, exceptions.NotFound) else "invalid",
            "detail": messages[0] if len(messages) == 1 else _("Invalid input: see errors."),
            "errors": errors,
        }
    else:
        body = {
            "status": response.status_code,
            "code": getattr(detail, "code", None) or getattr(exc, "default_code", "error"),
            "detail": str(detail) if detail is not None else str(exc),
        }
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = int(response.headers.get("Retry-After", round(exc.wait)))
    response.data = body
    return response


# --- pagination ----------------------------------------------------------------------------------


class ApiPagination(CursorPagination):
    """Cursor pagination over the primary key: follow `next` until it is null."""

    ordering = "id"
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "schema": {"type": "string"},
                "description": "Where a page starts: take it from the next or previous link of the page before.",
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size, "default": self.page_size},
                "description": f"Rows per page, 1 to {self.max_page_size}.",
            },
        ]

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {"page_size": [_("Give a whole number from 1 to %(max)s.") % {"max": self.max_page_size}]}
            )
        return int(raw)

    def decode_cursor(self, request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        invalid = exceptions.ValidationError(
            {"cursor": [_("Invalid cursor: use the next or previous link of a page as it is.")]}
        )
        try:
            tokens = parse.parse_qs(
                b64decode(encoded.encode("ascii"), validate=True).decode("ascii"), keep_blank_values=True
            )
            offset = int(tokens.get("o", ["0"])[0])
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = tokens.get("p", [None])[0]
        except (TypeError, ValueError):
            raise invalid from None
        if not 0 <= offset <= self.offset_cutoff:
            raise invalid
        if position is not None and not (re.fullmatch(r"[0-9]{1,19}", position) and int(position) <= MAX_ID):
            raise invalid
        return Cursor(offset=offset, reverse=reverse, position=position)


# --- filters -------------------------------------------------------------------------------------


class StrictFilterBackend(filters.DjangoFilterBackend):
    """django-filter, refusing query parameters that no filter (nor the pagination) knows."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        known = set(PAGE_PARAMS) | set(filterset_class.base_filters if filterset_class else ())
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            message = _("Unknown parameter. Known: %(known)s.") % {"known": ", ".join(sorted(known))}
            raise exceptions.ValidationError({name: [message] for name in unknown})
        # The schema gives typed parameters (ids, instants, choices) a type that "" is not: django-filter
        # would take an empty one as absent, and answer rows the client did not ask for.
        typed = {
            name
            for name, f in (filterset_class.base_filters if filterset_class else {}).items()
            if not isinstance(f, filters.CharFilter)
        }
        empty = sorted(name for name in typed if name in request.query_params and request.query_params[name] == "")
        if empty:
            message = _("Give a value, or leave the parameter out.")
            raise exceptions.ValidationError({name: [message] for name in empty})
        return super().filter_queryset(request, queryset, view)


# --- throttling ----------------------------------------------------------------------------------


class ApiRateThrottle(SimpleRateThrottle):
    """One budget per token (each token of a user has its own), or per signed-in user."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at each request (not at import, as DRF does), so the setting can change in tests.
        return settings.API_THROTTLE_RATE or None

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.key_hash[:24]}"
        elif request.user and request.user.is_authenticated:
            # With the account's creation instant: ids can come back in a fresh test database.
            ident = f"user-{request.user.pk}-{int(request.user.date_joined.timestamp() * 1000)}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


# --- schema and docs pages -----------------------------------------------------------------------


class ApiDocsAccess(BasePermission):
    """The schema and the docs page: anyone in the demo, signed-in users (session or token) in production.

    Read at request time, not when drf-spectacular's views are defined, so a test can switch it."""

    def has_permission(self, request, view) -> bool:
        return settings.RESSENTI_API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)
