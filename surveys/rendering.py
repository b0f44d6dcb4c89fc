"""Turns a FHIR-shaped definition into what the patient template shows."""

from django.http import HttpRequest, HttpResponse


def render_preview(request: HttpRequest, *, definition: dict, language: str, page: int = 1) -> HttpResponse:
    """Render a definition through the real patient template, nothing saved (admin preview)."""
    raise NotImplementedError
