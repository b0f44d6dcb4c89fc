"""Public pre-screening pages, /e/<study token>: the eligibility questionnaire, answered anonymously.

The answers live in a signed cookie (surveys/participants/screening.py), never in the database. An eligible
patient is sent on to consent and self-enrolment, which belong to the identity domain and are
named by URL ("patients:screening_consent"), never imported.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from surveys.answering import rendering
from surveys.answering.access import LinkState
from surveys.answering.views import _state_page, client_ip, patient_language, remember_language
from surveys.participants import screening
from surveys.questionnaires import conditions
from surveys.questionnaires.fhir import definition_languages


def _url(token: str, page: int | str | None = None) -> str:
    url = reverse("surveys:screening", args=[token])
    return f"{url}?p={page}" if page is not None else url


def _page_index(requested: str | None, resume: int, count: int) -> int:
    try:
        index = int(requested or "") - 1
    except ValueError:
        return min(resume, count - 1)
    return max(0, min(index, resume, count - 1))


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def screening_page(request: HttpRequest, token: str) -> HttpResponse:
    study = screening.study_by_screening_token(token)
    if study is None:
        return _state_page(request, LinkState.UNKNOWN, patient_language(request, None, ["fr", "en"]))
    definition = study.screening_version.definition
    language = patient_language(request, None, definition_languages(definition))
    if "lang" in request.GET:
        redirect = HttpResponseRedirect(_url(token, request.GET.get("p")))
        remember_language(redirect, language)
        return redirect
    state = screening.state_load(cookies=request.COOKIES, study=study)
    if state.get("ok") or state.get("done"):
        # Already eligible (back button, reload): carry on where the patient was.
        return HttpResponseRedirect(reverse("patients:screening_consent", args=[token]))
    answers = state.get("a", {})
    pages = rendering.build_pages(definition, language)
    with translation.override(language):
        if request.method == "POST":
            return _post(request, token, study, definition, pages, state, language)
        requested = request.GET.get("p")
        if requested is None:
            return render(
                request,
                "patient/screening_start.html",
                {
                    "title": rendering.title_of(definition, language),
                    "study": study,
                    "language": language,
                    "first_page": _url(token, 1),
                },
            )
        resume = min(state.get("n", 0), len(pages))
        if requested == "review":
            return _review(request, definition, pages, answers, language)
        index = _page_index(requested, resume, len(pages))
        context = rendering.page_context(
            definition=definition, pages=pages, index=index, language=language, answers=answers
        )
        return render(request, "patient/page.html", {**context, "back_to_review": request.GET.get("back") == "review"})


def _post(request, token, study, definition, pages, state, language) -> HttpResponse:
    answers = state.get("a", {})
    action = request.POST.get("action", "next")
    if action == "submit":
        answers = conditions.prune_answers(definition, answers)
        if screening.missing_answers(definition=definition, answers=answers):
            return HttpResponseRedirect(_url(token, "review"))
        if not screening.screening_submit_allowed(study=study, ip=client_ip(request)):
            return too_many_page(request, language=language)
        if screening.study_eligibility(study=study, answers=answers):
            # Only the outcome goes on: the answers themselves are not needed any more.
            return screening.state_save(
                HttpResponseRedirect(reverse("patients:screening_consent", args=[token])),
                request,
                study,
                token,
                {"ok": 1},
            )
        redirect = HttpResponseRedirect(reverse("surveys:screening_end", args=[token]))
        redirect.delete_cookie(screening.COOKIE, path=_url(token), samesite="Lax")
        return redirect
    resume = min(state.get("n", 0), len(pages))
    index = _page_index(request.POST.get("page", "1"), len(pages), len(pages))
    index = min(index, resume)
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
    merged = sub.merged
    new_state = {"a": merged, "n": max(resume, index + 1) if sub.complete and moving_on else resume}
    if action.startswith("lang-"):
        redirect = HttpResponseRedirect(_url(token, index + 1))
        switch_to = action.removeprefix("lang-")
        if switch_to in definition_languages(definition):
            remember_language(redirect, switch_to)
        return screening.state_save(redirect, request, study, token, new_state)
    if action == "back":
        previous = rendering.visible_page(definition, pages, merged, index - 1, -1)
        return screening.state_save(
            HttpResponseRedirect(_url(token, (previous or 0) + 1)), request, study, token, new_state
        )
    if not sub.complete:
        context = sub.page_again(definition=definition, pages=pages, index=index, language=language)
        context["back_to_review"] = request.POST.get("back") == "review"
        return screening.state_save(
            render(request, "patient/page.html", context, status=422 if sub.shown_errors else 200),
            request,
            study,
            token,
            new_state,
        )
    following = rendering.visible_page(definition, pages, merged, index + 1, 1)
    # A page opened from the review goes back to the review when done.
    if following is None or request.POST.get("back") == "review":
        target = _url(token, "review")
    else:
        target = _url(token, following + 1)
    return screening.state_save(HttpResponseRedirect(target), request, study, token, new_state)


def _review(request, definition, pages, answers, language) -> HttpResponse:
    missing = set(screening.missing_answers(definition=definition, answers=answers))
    summary = rendering.review_summary(definition, pages, language, answers, missing)
    return render(
        request,
        "patient/review.html",
        {
            "title": rendering.title_of(definition, language),
            "summary": summary,
            "missing_count": len(missing),
            "language": language,
            "page_count": len(pages),
        },
    )


def too_many_page(request: HttpRequest, *, language: str) -> HttpResponse:
    """The polite refusal of the public link over one of its rate limits (HTTP 429): nothing was
    kept. Also shown by the self-enrolment form (patients/consent/views.py) when a code cannot be sent."""
    with translation.override(language):
        response = render(request, "patient/screening_busy.html", {"language": language}, status=429)
    response["Retry-After"] = str(screening.rate_setting("SCREENING_RATE_WINDOW"))
    return response


@never_cache
@require_GET
def screening_end(request: HttpRequest, token: str) -> HttpResponse:
    """The kind page for a patient who is not eligible: no reason given, nothing kept."""
    study = screening.study_by_screening_token(token)
    language = patient_language(request, None, list(study.languages) if study else ["fr", "en"])
    with translation.override(language):
        return render(request, "patient/screening_end.html", {"language": language, "study": study})
