"""Staff page /staff/studies/<code>/alerts/: the alerts of a study, open ones first, and acknowledging one.

Thin views over surveys/scoring/alerts.py. Who sees the page: investigators and data managers of the study
(rows carry pseudonyms and rule labels only), each limited to their site when their membership is;
anyone else gets "not found". Who acknowledges: investigators, for alerts of their site; the
acknowledgement records who and when, once.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.models import Alert, Study
from surveys.questionnaires import fhir
from surveys.scoring.alerts import alert_acknowledge, alerts_for_user, rule_label
from surveys.staff.pages import study_for_page

VIEW_PERM = "surveys.view_alert"
ACK_PERM = "surveys.change_alert"
RESPONSE_PERM = "surveys.view_response"
OPEN_SHOWN = 500
PER_PAGE = 50


def _rows(request: HttpRequest, alerts: list[Alert]) -> list[dict]:
    language = translation.get_language() or "fr"
    rows = []
    # Labels and titles are read from each version's definition once, not once per alert.
    texts: dict[tuple[int, str], tuple[str, str]] = {}
    for alert in alerts:
        if alert.response is None:
            # A trace kept by an erasure (surveys/participants/withdrawal.py): rule, pseudonym and times, no content.
            participant = alert.participant
            rows.append(
                {
                    "alert": alert,
                    "pseudonym": participant.pseudonym if participant is not None else "—",
                    "label": alert.rule,
                    "questionnaire": "",
                    "version": None,
                    "timepoint": "",
                    "erased": True,
                    "may_acknowledge": alert.acknowledged_at is None and request.user.has_perm(ACK_PERM, alert),
                    "response_url": "",
                }
            )
            continue
        version = alert.response.version
        key = (version.pk, alert.rule)
        if key not in texts:
            definition = version.definition
            base = definition.get("language", language)
            texts[key] = (
                rule_label(definition, alert.rule, language),
                fhir.localized(definition, "title", language, base) or version.questionnaire.code,
            )
        label, title = texts[key]
        rows.append(
            {
                "alert": alert,
                "pseudonym": alert.response.assignment.participant.pseudonym,
                "label": label,
                "questionnaire": title,
                "version": version.number,
                "timepoint": alert.response.assignment.timepoint.code,
                "erased": False,
                "may_acknowledge": alert.acknowledged_at is None and request.user.has_perm(ACK_PERM, alert),
                "response_url": reverse("admin:surveys_response_change", args=[alert.response_id])
                if request.user.has_perm(RESPONSE_PERM, alert.response)
                else "",
            }
        )
    return rows


def _visible(request: HttpRequest, study: Study):
    return alerts_for_user(user=request.user, study_id=study.pk).select_related(
        "acknowledged_by",
        "participant",
        "response__version__questionnaire",
        "response__assignment__participant",
        "response__assignment__timepoint",
    )


@never_cache
@login_required
@require_http_methods(["GET"])
def alerts_page(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, VIEW_PERM)
    rows = _visible(request, study)
    open_alerts = list(rows.filter(acknowledged_at__isnull=True).order_by("-created_at", "-pk")[: OPEN_SHOWN + 1])
    done = rows.filter(acknowledged_at__isnull=False).order_by("-acknowledged_at", "-pk")
    page = Paginator(done, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": _("Alerts of %(study)s") % {"study": study.title},
        "study": study,
        "open_rows": _rows(request, open_alerts[:OPEN_SHOWN]),
        "open_more": len(open_alerts) > OPEN_SHOWN,
        "page": page,
        "done_rows": _rows(request, list(page.object_list)),
    }
    return render(request, "staff/alerts.html", context)


@never_cache
@login_required
@require_http_methods(["POST"])
def alert_acknowledge_view(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    study = study_for_page(request, code, VIEW_PERM)
    alert = _visible(request, study).filter(pk=pk).first()
    if alert is None:  # another study's, or another site's
        raise Http404(_("No such object in your studies."))
    if not request.user.has_perm(ACK_PERM, alert):
        raise PermissionDenied
    # An erased response leaves a trace (response None) with its participant; acknowledging it keeps it,
    # acknowledged: it holds no content (rule, pseudonym, times), so there is nothing left to erase.
    who = alert.response.assignment.participant if alert.response is not None else alert.participant
    pseudonym = who.pseudonym if who is not None else "—"
    if alert_acknowledge(alert=alert, by=request.user, now=timezone.now()):
        messages.success(
            request, _("Alert %(rule)s of %(pseudonym)s acknowledged.") % {"rule": alert.rule, "pseudonym": pseudonym}
        )
    else:
        messages.info(
            request,
            _("Alert %(rule)s of %(pseudonym)s was already acknowledged by %(user)s.")
            % {"rule": alert.rule, "pseudonym": pseudonym, "user": alert.acknowledged_by},
        )
    return HttpResponseRedirect(reverse("surveys:alerts", args=[study.code]))
