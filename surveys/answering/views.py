"""Patient pages: thin views over surveys.answering.access, surveys.answering.rendering and surveys.services."""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from surveys.answering import access as link_access
from surveys.answering import rendering, submit
from surveys.answering.access import LinkState, access_assignment_by_token, response_of
from surveys.answering.version_forms import version_form
from surveys.scoring import alerts

LANG_COOKIE = "ressenti_lang"
# HTTP status of each page that is not a questionnaire page. None of them shows any data.
STATE_STATUS = {
    LinkState.UNKNOWN: 404,
    LinkState.NOT_YET_OPEN: 200,
    LinkState.EXPIRED: 410,
    LinkState.COMPLETED: 200,
    LinkState.WITHDRAWN: 410,
    LinkState.CANCELLED: 410,
}


def patient_language(
    request: HttpRequest, preferred: str | None, available: list[str], fallback: str | None = None
) -> str:
    """A patient page's language: the one the link asks for, the patient's earlier choice (cookie), their own,
    their browser's, the study's fallback; the first of these the page has, else the page's first language."""
    for candidate in (
        request.GET.get("lang"),
        request.COOKIES.get(LANG_COOKIE),
        preferred,
        translation.get_language_from_request(request),
        fallback,
    ):
        if candidate in available:
            return candidate
    return available[0]


def remember_language(
    response: HttpResponse, language: str, *, cookie: str = LANG_COOKIE, days: int = 180
) -> HttpResponse:
    """Keep a visitor's choice of language for their later pages (a cookie, no account): a patient's
    for the link's pages, or, with the reviewers' cookie, a reviewer's."""
    response.set_cookie(
        cookie,
        language,
        max_age=days * 86400,
        samesite="Lax",
        httponly=True,
        secure=settings.LANGUAGE_COOKIE_SECURE,
    )
    return response


def _state_page(
    request: HttpRequest,
    state: LinkState,
    language: str,
    safety: str = "",
    *,
    answers_lost: bool = False,
    closed_on=None,
) -> HttpResponse:
    with translation.override(language):
        return render(
            request,
            "patient/state.html",
            {
                "state": state.value,
                "language": language,
                "safety_message": safety,
                "answers_lost": answers_lost,
                "closed_on": closed_on,
            },
            status=STATE_STATUS[state],
        )


def _closed_on(access: link_access.LinkAccess):
    """The day the link closed, where it is known: the end of its window, or the day it was sent."""
    assignment = access.assignment
    if access.state is LinkState.EXPIRED:
        return min(assignment.expires_at, timezone.now())
    response = response_of(assignment)
    if access.state is LinkState.COMPLETED and response is not None and response.submitted_at:
        return response.submitted_at
    return None


def _safety_message(request: HttpRequest, access: link_access.LinkAccess, language: str) -> str:
    """The safety message (helplines) of a completed response whose alert asks for it, as HTML.
    Not for a link whose study asks the year of birth and whose check was not passed: on a shared
    phone the message alone would tell that an answer raised an alert."""
    if access.state is not LinkState.COMPLETED or link_access.link_check_needed(access.assignment, request.COOKIES):
        return ""
    text = alerts.response_safety_message(response=response_of(access.assignment), language=language)
    return alerts.safety_message_html(text) if text else ""


def _url(token: str, page: int | str | None = None) -> str:
    url = reverse("surveys:respond", args=[token])
    return f"{url}?p={page}" if page is not None else url


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    access = link_access_of(request, token)
    if access.state is LinkState.NEEDS_CONSENT:
        # The consent page belongs to the identity domain (it records a signed name); named, not imported.
        return HttpResponseRedirect(reverse("patients:consent", args=[token]))
    if access.state is not LinkState.OPEN:
        language = patient_language(request, access.language, ["fr", "en"])
        if request.method == "POST" and access.assignment is not None:
            if request.POST.get("action", "next") != "submit" and access.state in CLOSED_STATES:
                # A page's answers sent after the link closed: nothing is stored, and the page says so.
                return _state_page(request, access.state, language, answers_lost=True, closed_on=_closed_on(access))
            # A repeated Send (double tap, back button, second tab): answer with
            # the page for the link's state, through a GET, and change nothing.
            return HttpResponseRedirect(_url(token))
        return _state_page(request, access.state, language, _safety_message(request, access, language))

    assignment = access.assignment
    response = response_of(assignment)
    form = version_form(response.version_id if response else assignment.timepoint.version_id)
    definition = form.definition
    language = patient_language(request, access.language, form.languages)
    if "lang" in request.GET:
        # Remember the switch, then drop it from the address bar.
        redirect = HttpResponseRedirect(_url(token, request.GET.get("p")))
        remember_language(redirect, language)
        return redirect

    # The year-of-birth check, where the study asks it, was decided by LinkCheckGuard before this view.
    pages = form.pages(language)
    answers = response.answers if response else {}
    resume = min(response.next_page if response else 0, len(pages))

    with translation.override(language):
        if request.method == "POST":
            return _post(request, token, assignment, definition, pages, answers, language)
        requested = request.GET.get("p")
        if requested is None:
            resume = rendering.visible_page(definition, pages, answers, resume, 1)
        if requested == "review" or resume is None:
            return _review(request, token, response, definition, pages, language)
        index = resume if requested is None else _page_index(requested, resume, len(pages))
        context = rendering.page_context(
            definition=definition, pages=pages, index=index, language=language, answers=answers
        )
        back = request.GET.get("back") == "review"
        return render(request, "patient/page.html", {**context, "token": token, "back_to_review": back})


# A closed link (completed, expired, cancelled, withdrawn) shows only a page naming its state here.
respond.closed_link_state_page = True
CLOSED_STATES = frozenset({LinkState.COMPLETED, LinkState.EXPIRED, LinkState.CANCELLED, LinkState.WITHDRAWN})
LINK_ROUTE = "s/<str:token>"


def link_access_of(request: HttpRequest, token: str) -> link_access.LinkAccess:
    """The link's access as LinkCheckGuard resolved it (one query per page), or resolved now."""
    access = getattr(request, "link_access", None)
    if access is None or getattr(request, "link_token", None) != token:
        access = access_assignment_by_token(token, now=timezone.now())
    return access


class LinkCheckGuard:
    """The one place that asks the year of birth (studies with Study.link_check) before any page of a
    patient link, /s/<token> and every /s/<token>/... path, whatever app serves it: until the check is
    passed, a GET or a POST gets the check page and the view never runs, so nothing is shown or written.
    Only a view marked `closed_link_state_page` may answer a closed link without it (a bare state page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        route = match.route if match else ""
        if not (route == LINK_ROUTE or route.startswith(LINK_ROUTE + "/")) or "token" not in view_kwargs:
            return None
        token = view_kwargs["token"]
        access = access_assignment_by_token(token, now=timezone.now())
        request.link_access, request.link_token = access, token
        assignment = access.assignment
        if assignment is None or not link_access.link_check_needed(assignment, request.COOKIES):
            return None
        if access.state in CLOSED_STATES and getattr(view_func, "closed_link_state_page", False):
            return None
        language = patient_language(request, access.language, ["fr", "en"])
        with translation.override(language):
            response = link_check_page(request, token, assignment, language, back_to=request.path)
        add_never_cache_headers(response)
        return response


def client_ip(request: HttpRequest) -> str:
    """The patient's address, behind NUM_PROXIES trusted reverse proxies."""
    proxies = settings.NUM_PROXIES
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def link_check_page(request: HttpRequest, token: str, assignment, language: str, *, back_to: str) -> HttpResponse:
    """Ask the year of birth before showing anything of this link (studies that require it);
    on success go to `back_to` with a pass cookie valid for every page of the link."""
    context = {"language": language, "title": "", "error": ""}
    ip = client_ip(request)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "check":
        result = link_access.link_check_attempt(assignment, answer=request.POST.get("birth_year", ""), ip=ip)
        if result is link_access.CheckResult.PASSED:
            redirect = HttpResponseRedirect(back_to)
            # Path /s/<token> covers the questionnaire and the link's other pages (withdrawal).
            redirect.set_cookie(
                link_access.check_cookie_name(assignment),
                link_access.check_cookie_value(assignment),
                max_age=link_access.CHECK_COOKIE_AGE,
                path=_url(token),
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
            return redirect
        context["error"] = "locked" if result is link_access.CheckResult.LOCKED else "wrong"
        status = 429 if result is link_access.CheckResult.LOCKED else 422
    elif link_access.link_check_locked(assignment, ip):
        context["error"], status = "locked", 429
    if context["error"] == "locked":
        until = link_access.link_check_locked_until(assignment, ip)
        seconds = (until - timezone.now()).total_seconds() if until else settings.LINK_CHECK_WINDOW
        context["minutes"] = max(1, math.ceil(seconds / 60))
    return render(request, "patient/check.html", context, status=status)


def _page_index(requested: str, resume: int, count: int) -> int:
    try:
        index = int(requested) - 1
    except ValueError:
        return min(resume, count - 1)
    # Patients may go back freely, but not skip ahead of what they have saved.
    return max(0, min(index, resume, count - 1))


def _post(request, token, assignment, definition, pages, answers, language) -> HttpResponse:
    action = request.POST.get("action", "next")
    switch_to = action.removeprefix("lang-") if action.startswith("lang-") else ""
    if action == "submit":
        digest = request.POST.get("answers_digest", "")
        if not digest:
            # Only the review page sends: it posts the digest of the answers it showed. Anything else
            # (a page kept open across an upgrade, a script) is shown that review first.
            return HttpResponseRedirect(_url(token, "review"))
        try:
            submit.response_submit(assignment=assignment, answers_digest=digest)
        except submit.ResponseChanged:
            return _review(request, token, response_of(assignment), definition, pages, language, changed_elsewhere=True)
        except submit.ResponseIncomplete:
            return HttpResponseRedirect(_url(token, "review"))
        return HttpResponseRedirect(_url(token))
    index = _page_index(request.POST.get("page", "1"), len(pages), len(pages))
    back_to_review = request.POST.get("back") == "review"
    # Previous and the language switch keep what was entered on the page without asking for the rest.
    moving_on = action == "next"
    sub = rendering.page_submission(
        definition=definition,
        page=pages[index],
        language=language,
        answers=answers,
        post=request.POST,
        check_required=moving_on,
    )
    try:
        saved = submit.response_save_page(
            assignment=assignment, answers=sub.valid, page_index=index, advance=sub.complete and moving_on
        )
    except submit.ResponseClosed:
        return HttpResponseRedirect(_url(token))
    if switch_to:
        redirect = HttpResponseRedirect(_url(token, index + 1))
        if switch_to in version_form(saved.version_id).languages:
            remember_language(redirect, switch_to)
        return redirect
    if action == "back":
        previous = rendering.visible_page(definition, pages, saved.answers, index - 1, -1)
        return HttpResponseRedirect(_url(token, (previous or 0) + 1))
    if not sub.complete:
        context = sub.page_again(definition=definition, pages=pages, index=index, language=language)
        context.update(token=token, back_to_review=back_to_review)
        return render(request, "patient/page.html", context, status=422 if sub.shown_errors else 200)
    following = rendering.visible_page(definition, pages, saved.answers, index + 1, 1)
    # A page opened from the review ("change the answers on page 2") goes back to the review when done.
    if following is None or back_to_review:
        return HttpResponseRedirect(_url(token, "review"))
    return HttpResponseRedirect(_url(token, following + 1))


def _review(request, token, response, definition, pages, language, *, changed_elsewhere=False) -> HttpResponse:
    answers = response.answers if response else {}
    missing = set(submit.response_missing(response=response)) if response else set()
    summary = rendering.review_summary(definition, pages, language, answers, missing)
    return render(
        request,
        "patient/review.html",
        {
            "token": token,
            "title": rendering.title_of(definition, language),
            "summary": summary,
            "missing_count": len(missing),
            "language": language,
            "page_count": len(pages),
            "answers_digest": submit.response_answers_digest(answers),
            "changed_elsewhere": changed_elsewhere,
        },
        status=409 if changed_elsewhere else 200,
    )
