"""Error pages people see instead of Django's bare English ones: a server error (500) and a refused
form (CSRF failure), in the patient layout and the reader's language, saying what to do next.

They render without the database (it may be the reason for the 500) and without the request's
context processors (no user, no session), and show nothing of the request: no token, answer,
identity or traceback.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils import translation

from surveys.answering.views import LANG_COOKIE

# Paths a patient (or a person pre-screening) reaches by a link: the page reassures about answers.
PATIENT_PREFIXES = ("/s/", "/e/")


def _language(request: HttpRequest) -> str:
    chosen = request.COOKIES.get(LANG_COOKIE, "")
    if chosen in ("fr", "en"):
        return chosen
    return translation.get_language_from_request(request) or "fr"


def _page(request: HttpRequest, kind: str, status: int) -> HttpResponse:
    language = _language(request)
    with translation.override(language):
        html = loader.get_template("patient/error.html").render(
            {"kind": kind, "language": language, "patient": request.path_info.startswith(PATIENT_PREFIXES)}
        )
    response = HttpResponse(html, status=status)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    return _page(request, "error", 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _page(request, "csrf", 403)
