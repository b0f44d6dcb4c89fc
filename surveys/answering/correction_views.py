"""Staff page /staff/responses/<pk>/correct/: correct a submitted answer on the patient's request.

Thin view over surveys/answering/corrections.py. The response is found among the submitted responses the user
may read (investigators and data managers of its study, at its site for a site-limited membership):
anyone else gets "not found", as on the other staff pages; a reader without the correction
permission gets 403. The form shows every question the patient was asked with its stored value,
and the corrections made so far; a POST with a reason writes what changed and comes back here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.answering import rendering
from surveys.answering.corrections import GENERAL, REASON, CorrectionRefused, correctable_nodes, response_correct
from surveys.models import Response
from surveys.questionnaires import fhir
from surveys.rules import CORRECT_RESPONSE, roles_for
from surveys.staff.selectors import rows_for_user

VIEW_PERM = "surveys.view_response"


def access_correctable_response(request: HttpRequest, pk: int) -> Response:
    """The submitted response, if the user may read it (404 otherwise) and correct it (403 otherwise)."""
    readable = rows_for_user(
        Response.objects.filter(status=Response.Status.COMPLETED), user=request.user, roles=roles_for(VIEW_PERM)
    )
    response = (
        readable.select_related("version__questionnaire__study", "assignment__participant", "assignment__timepoint")
        .filter(pk=pk)
        .first()
    )
    if response is None:
        raise Http404(_("No such object in your studies."))
    if not request.user.has_perm(CORRECT_RESPONSE, response):
        raise PermissionDenied
    return response


def _render(
    request: HttpRequest,
    response: Response,
    *,
    errors: dict[str, str] | None = None,
    posted: dict[str, list[str]] | None = None,
    reason: str = "",
    status: int = 200,
) -> HttpResponse:
    errors = errors or {}
    definition = response.version.definition
    language = translation.get_language() or definition.get("language", "fr")
    page = rendering.PageSpec(title="", nodes=correctable_nodes(definition))
    fields = rendering.page_fields(definition, page, language, response.answers)
    for f in fields:
        f.error = errors.get(f.link_id, "")
        if posted is not None and f.link_id in posted and f.error:
            f.posted = posted[f.link_id]  # what was typed, to fix it
    question_text = {f.link_id: f.short_text for f in fields}
    context = {
        **admin.site.each_context(request),
        "title": _("Correct the answers of %(pseudonym)s") % {"pseudonym": response.assignment.participant.pseudonym},
        "response": response,
        "study": response.version.questionnaire.study,
        "questionnaire_title": fhir.localized(definition, "title", language, definition.get("language", language)),
        "fields": fields,
        "shown": " ".join(f.link_id for f in fields),
        "errors": [
            (link_id, question_text.get(link_id, ""), text)
            for link_id, text in errors.items()
            if link_id not in (REASON, GENERAL)
        ],
        "general_error": errors.get(GENERAL, ""),
        "reason_error": errors.get(REASON, ""),
        "reason": reason,
        "corrections": response.corrections.select_related("by").order_by("-at", "-pk"),
        "response_url": reverse("admin:surveys_response_change", args=[response.pk]),
    }
    return render(request, "staff/correct_response.html", context, status=status)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def correct_response_page(request: HttpRequest, pk: int) -> HttpResponse:
    response = access_correctable_response(request, pk)
    if request.method == "GET":
        return _render(request, response)
    # The questions the form showed: one left empty (no checkbox ticked) posts nothing but is in this list.
    posted = {link_id: request.POST.getlist(link_id) for link_id in request.POST.get("shown", "").split()}
    reason = request.POST.get("reason", "")
    try:
        outcome = response_correct(response=response, posted=posted, reason=reason, by=request.user)
    except CorrectionRefused as refused:
        return _render(request, response, errors=refused.errors, posted=posted, reason=reason, status=422)
    if outcome.corrections:
        messages.success(
            request,
            ngettext("%(n)s answer corrected.", "%(n)s answers corrected.", len(outcome.corrections))
            % {"n": len(outcome.corrections)},
        )
        if outcome.alerts:
            messages.warning(
                request,
                ngettext(
                    "The corrected answers raised %(n)s alert.",
                    "The corrected answers raised %(n)s alerts.",
                    len(outcome.alerts),
                )
                % {"n": len(outcome.alerts)},
            )
    else:
        messages.info(request, _("Nothing changed: the stored answers are already these."))
    return HttpResponseRedirect(reverse("surveys:correct_response", args=[response.pk]))
