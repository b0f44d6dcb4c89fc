"""The reviewer's page of a round: /review/rounds/<id>/ (thin views over surveys/review/feedback.py).

The questionnaire is shown exactly as patients see it (the patient field template, phone width),
from the round's frozen definition, every item including conditional ones, each followed by its
feedback form; then the overall review. Forms post back here and redirect (post/redirect/get), so
reloading never resends. Anyone who is not an active member of the round's panel gets "not found".
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.answering import rendering
from surveys.answering.views import LANG_COOKIE, remember_language
from surveys.models import ItemFeedback, ReviewRound, ReviewSubmission
from surveys.questionnaires import fhir
from surveys.review.feedback import (
    RATINGS,
    RoundClosed,
    item_feedback_save,
    notice_of,
    review_pages,
    review_submit,
    round_is_open,
    schedule_lines,
)

try:  # the panel module decides who may read a round; the fallback below says the same
    from surveys.review.panels import access_round, reviewer_language
except ImportError:  # pragma: no cover - until surveys/review/panels.py is there
    reviewer_language = None

    def access_round(*, user, round_id: int) -> ReviewRound:
        round_ = get_object_or_404(ReviewRound.objects.select_related("questionnaire", "panel"), pk=round_id)
        if not round_.panel.members.filter(user=user, active=True, accepted_at__isnull=False).exists():
            raise Http404
        return round_


try:
    from surveys.review.facts import review_facts
except ImportError:  # pragma: no cover - facts are shown when the module is there
    review_facts = None


def _language(request: HttpRequest, definition: dict) -> str:
    available = [lang for lang in ("fr", "en") if lang in fhir.definition_languages(definition)] or ["fr"]
    chosen = reviewer_language(user=request.user) if reviewer_language else None
    for candidate in (
        request.GET.get("lang"),
        request.POST.get("lang"),
        request.COOKIES.get(LANG_COOKIE),
        chosen,
        translation.get_language_from_request(request),
    ):
        if candidate in available:
            return candidate
    return available[0]


def _page_param(request: HttpRequest, count: int) -> str:
    raw = request.GET.get("p") or request.POST.get("p") or "all"
    if raw.isdigit() and 1 <= int(raw) <= count:
        return raw
    return "all"


def _url(round_: ReviewRound, language: str, page: str, *, saved: str = "", anchor: str = "") -> str:
    url = reverse("surveys:review-round", args=[round_.pk]) + f"?lang={language}&p={page}"
    return url + (f"&saved={saved}" if saved else "") + (f"#{anchor}" if anchor else "")


def _anchor(link_id: str) -> str:
    return "r-" + rendering.Field(link_id=link_id, kind="", text="", help="", required=False, shown=True).dom_id


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def review_round(request: HttpRequest, round_id: int) -> HttpResponse:
    round_ = access_round(user=request.user, round_id=round_id)
    language = _language(request, round_.definition)
    with translation.override(language):
        pages = review_pages(round_=round_, reviewer=request.user, language=language)
        page = _page_param(request, len(pages))
        item_errors: dict[str, dict[str, str]] = {}
        item_posted: dict[str, dict] = {}
        overall_errors: dict[str, str] = {}
        overall_posted = None
        saved = request.GET.get("saved", "")
        if request.method == "POST":
            action = request.POST.get("action")
            try:
                if action == "item":
                    link_id = request.POST.get("link_id", "")
                    result = item_feedback_save(
                        round_=round_, reviewer=request.user, link_id=link_id, data=request.POST
                    )
                    if not result.errors:
                        return HttpResponseRedirect(
                            _url(round_, language, page, saved=_anchor(link_id), anchor=_anchor(link_id))
                        )
                    item_errors[link_id] = result.errors
                    item_posted[link_id] = request.POST
                elif action == "overall":
                    result = review_submit(round_=round_, reviewer=request.user, data=request.POST)
                    if not result.errors:
                        return HttpResponseRedirect(_url(round_, language, page, saved="overall", anchor="overall"))
                    overall_errors = result.errors
                    overall_posted = request.POST
                else:
                    raise Http404
            except RoundClosed:
                saved = "closed"
        context = _context(request, round_, pages, page, language)
        for p in context["pages"]:
            for item in p.items:
                _form_values(item, item_errors.get(item.field.link_id, {}), item_posted.get(item.field.link_id))
        context.update(
            {
                "overall_errors": overall_errors,
                "overall_posted": overall_posted,
                "saved": saved,
                "error_count": sum(len(e) for e in item_errors.values()) + len(overall_errors),
            }
        )
        status = 400 if context["error_count"] else (409 if saved == "closed" and request.method == "POST" else 200)
        response = render(request, "review/round.html", context, status=status)
    if "lang" in request.GET:
        remember_language(response, language)
    return response


RATING_LABELS = {"clarity": _("Clarity"), "relevance": _("Relevance"), "acceptability": _("Acceptability")}
RATING_HINTS = {
    "clarity": _("1 = hard to understand, 5 = very clear"),
    "relevance": _("1 = not relevant, 5 = very relevant"),
    "acceptability": _("1 = hurtful or intrusive, 5 = fine to be asked"),
}


def _form_values(item, errors: dict[str, str], posted) -> None:
    """What the item's form shows: what was just posted (on error), else what was saved."""
    fb = item.feedback

    def value(name: str) -> str:
        if posted is not None:
            return posted.get(name, "")
        got = getattr(fb, name, None) if fb else None
        return "" if got is None else str(got)

    item.anchor = _anchor(item.field.link_id)
    item.errors = errors
    item.ratings = [
        {"name": n, "label": RATING_LABELS[n], "hint": RATING_HINTS[n], "value": value(n), "error": errors.get(n, "")}
        for n in RATINGS
    ]
    item.comment = value("comment")
    item.suggestion = value("suggestion")


def _context(request: HttpRequest, round_: ReviewRound, pages, page: str, language: str) -> dict:
    facts = review_facts(round_.definition) if review_facts else None
    for p in pages:
        for item in p.items:
            item.facts = facts.for_item(item.field.link_id) if facts and item.field.link_id else None
    shown = pages if page == "all" else [p for p in pages if str(p.number) == page]
    submission = ReviewSubmission.objects.filter(round=round_, reviewer=request.user).first()
    answered = [i for p in pages for i in p.items if i.feedback]
    return {
        "round": round_,
        "language": language,
        "title": round_.title or rendering.title_of(round_.definition, language),
        "questionnaire_title": rendering.title_of(round_.definition, language),
        "intro": fhir.extension_text(round_.definition, fhir.EXT_INTRO, language),
        "pages": shown,
        "all_pages": pages,
        "page": page,
        "page_count": len(pages),
        "is_last": page == "all" or page == str(len(pages)),
        "open": round_is_open(round_),
        "facts": facts,
        "notice": notice_of(round_, language),
        "schedule": schedule_lines(round_),
        "submission": submission,
        "timing_choices": ReviewSubmission.Timing.choices,
        "answered": answered,
        "handled": [i for i in answered if i.feedback.status != ItemFeedback.Status.OPEN or i.feedback.reply],
        "scale": [1, 2, 3, 4, 5],
    }
