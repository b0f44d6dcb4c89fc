"""Requests whose path holds a NUL character are "not found" before any view runs.

No route of ours has one, and every token, code or pseudonym in a path would reach PostgreSQL,
which refuses NUL in text (a 500 instead of a 404).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound


class NulPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            if request.path_info.startswith("/api/"):
                from surveys.api.views import api_not_found  # the API's own JSON 404

                return api_not_found(request)
            return HttpResponseNotFound("Not found", content_type="text/plain")
        return self.get_response(request)
