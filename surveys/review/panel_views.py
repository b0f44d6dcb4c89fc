"""Reviewer pages: accepting an invitation, the reviewer's home page (/review/).

Like the patient pages: no JavaScript needed, French or English (?lang= switches and is
remembered in a cookie; otherwise the language chosen at invitation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.answering.views import remember_language
from surveys.review import panels

REVIEW_LANG_COOKIE = "ressenti_review_lang"
LANGUAGES = ("fr", "en")


def review_language(request: HttpRequest, default: str | None = None) -> str:
    """?lang= first, then the cookie, then `default` (or the user's invitation language)."""
    for candidate in (request.GET.get("lang"), request.COOKIES.get(REVIEW_LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    if default in LANGUAGES:
        return default
    if request.user.is_authenticated:
        return panels.reviewer_language(user=request.user)
    browser = translation.get_language_from_request(request)
    return browser if browser in LANGUAGES else settings.LANGUAGE_CODE


def review_render(
    request: HttpRequest, template: str, context: dict, *, language: str, status: int = 200
) -> HttpResponse:
    """Render a reviewer page in `language` and remember a ?lang= choice."""
    with translation.override(language):
        response = render(request, template, {**context, "language": language}, status=status)
    if request.GET.get("lang") in LANGUAGES:
        review_language_keep(response, language)
    return response


def review_language_keep(response: HttpResponse, language: str) -> HttpResponse:
    """Keep a reviewer's choice of language for their later visits (a cookie)."""
    return remember_language(response, language, cookie=REVIEW_LANG_COOKIE, days=365)


def reviewer_required(view: Callable) -> Callable:
    """Signed-in reviewers only; staff go to the admin (their tools are there)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), "/accounts/login/")
        if request.user.is_staff:
            return redirect("/admin/")
        return view(request, *args, **kwargs)

    return never_cache(wrapped)


@reviewer_required
def home(request: HttpRequest) -> HttpResponse:
    language = review_language(request)
    open_rounds, closed_rounds = panels.reviewer_home(user=request.user, language=language)
    return review_render(
        request, "review/home.html", {"open_rounds": open_rounds, "closed_rounds": closed_rounds}, language=language
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    member = panels.invitation_member(token=token)
    if member is None:
        # Unknown, expired, used or replaced: one page for all, saying nothing about which.
        return review_render(
            request, "review/invitation_invalid.html", {}, language=review_language(request), status=404
        )
    language = review_language(request, member.language)
    form = SetPasswordForm(member.user, request.POST if request.method == "POST" else None)
    with translation.override(language):
        valid = request.method == "POST" and form.is_valid()
        if valid:
            try:
                user = panels.invitation_accept(token=token, password=form.cleaned_data["new_password1"])
            except ValidationError:
                return review_render(request, "review/invitation_invalid.html", {}, language=language, status=404)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return review_language_keep(redirect("/review/"), language)
        for name in ("new_password1", "new_password2"):
            widget = form.fields[name].widget
            widget.attrs["autocomplete"] = "new-password"
            if form.errors.get(name):
                widget.attrs.update({"aria-invalid": "true", "aria-describedby": f"{name}-err {name}-help"})
            else:
                widget.attrs["aria-describedby"] = f"{name}-help"
        # Rendered inside the override so that error messages and help texts are in the page's language.
        return review_render(
            request,
            "review/invitation.html",
            {"member": member, "form": form, "email": member.user.email, "panel": member.panel},
            language=language,
        )
