"""The study team's outbox: /staff/studies/<code>/outbox/, and the audited resend of one message.

Thin views over patients/messaging/outbox.py. Who sees the page: investigators and data managers of the
study (the rows carry pseudonyms only), each limited to their site when their membership is;
anyone else gets "not found". Who may resend: investigators, for messages of their site.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from patients.messaging.outbox import (
    REASON_MAX,
    RESEND_PERM,
    RESENDABLE,
    WAITING,
    ResendRefused,
    assignment_closed_problem,
    message_error_text,
    message_kind_label,
    message_resend,
    message_resend_problem,
    outbox_counts,
    outbox_failed,
    outbox_message,
    outbox_messages,
    resend_counts,
)
from patients.models import Message
from surveys.models import Study, Timepoint
from surveys.staff.pages import study_for_page

PER_PAGE = 50
FAILED_SHOWN = 10
# Granted to investigators and data managers, the roles of outbox.OUTBOX_ROLES that scope the rows.
VIEW_PERM = "surveys.view_assignment"


def _rows(request: HttpRequest, messages_: list[Message], resent: dict | None = None) -> list[dict]:
    resent = resend_counts(messages=messages_) if resent is None else resent
    now = timezone.now()
    return [
        {
            "message": m,
            "pseudonym": m.enrollment.participant.pseudonym,
            "timepoint": m.assignment.timepoint,
            "kind": message_kind_label(m),
            "error": message_error_text(m),
            "resends": resent.get((m.assignment_id, m.sequence, m.channel), 0),
            # The button only where a resend may work (not for a completed or closed questionnaire);
            # the service decides again on POST.
            "may_resend": m.status in RESENDABLE
            and m.enrollment.withdrawn_at is None
            and assignment_closed_problem(assignment=m.assignment, now=now) is None
            and request.user.has_perm(RESEND_PERM, m),
        }
        for m in messages_
    ]


def _filters(request: HttpRequest, study: Study) -> dict:
    status = request.GET.get("status", "")
    channel = request.GET.get("channel", "")
    timepoint = request.GET.get("timepoint", "")
    status = status if status in Message.Status.values else ""
    timepoints = list(Timepoint.objects.filter(study=study).order_by("order", "offset", "code"))
    return {
        # A status says which list it is in: "planned" is upcoming, "failed" is past.
        "upcoming": status in WAITING if status else request.GET.get("when") == "upcoming",
        "status": status,
        "channel": channel if channel in Message.Channel.values else "",
        "timepoint": next((tp for tp in timepoints if str(tp.pk) == timepoint), None),
        "timepoints": timepoints,
    }


@never_cache
@login_required
@require_http_methods(["GET"])
def outbox(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, VIEW_PERM)
    f = _filters(request, study)
    rows = outbox_messages(
        study=study,
        user=request.user,
        upcoming=f["upcoming"],
        status=f["status"],
        timepoint_id=f["timepoint"].pk if f["timepoint"] else None,
        channel=f["channel"],
    )
    # Page through ids only: sorting narrow rows is what keeps a 100,000-message study fast; the
    # joins (pseudonym, timepoint) are then made for the 50 rows shown.
    page = Paginator(rows.values_list("pk", flat=True), PER_PAGE).get_page(request.GET.get("page"))
    failed = list(outbox_failed(study=study, user=request.user)[: FAILED_SHOWN + 1])
    listed = list(rows.filter(pk__in=list(page.object_list)))
    resent = resend_counts(messages=failed[:FAILED_SHOWN] + listed)  # one query for both tables
    query = {
        k: v
        for k, v in (
            ("when", "upcoming" if f["upcoming"] else ""),
            ("status", f["status"]),
            ("channel", f["channel"]),
            ("timepoint", f["timepoint"].pk if f["timepoint"] else ""),
        )
        if v
    }
    context = {
        **admin.site.each_context(request),
        "title": _("Outbox of %(study)s") % {"study": study.title},
        "study": study,
        "counts": outbox_counts(study=study, user=request.user),
        "failed": _rows(request, failed[:FAILED_SHOWN], resent),
        "failed_more": len(failed) > FAILED_SHOWN,
        "page": page,
        "rows": _rows(request, listed, resent),
        "filters": f,
        "query": urlencode(query),
        "statuses": Message.Status.choices,
        "channels": Message.Channel.choices,
        "failed_url": f"{request.path}?{urlencode({'status': Message.Status.FAILED})}",
    }
    return render(request, "staff/outbox.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def outbox_resend(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    """Confirm, with a reason, then resend. Readers of the outbox who may not resend get 403."""
    study = study_for_page(request, code, VIEW_PERM)
    message = outbox_message(study=study, user=request.user, pk=pk)
    if message is None:  # another study's, or another site's
        raise Http404(_("No such object in your studies."))
    if not request.user.has_perm(RESEND_PERM, message):
        raise PermissionDenied
    back = reverse("patients:outbox", args=[study.code])
    context = {
        **admin.site.each_context(request),
        "title": _("Send this message again"),
        "study": study,
        "row": _rows(request, [message])[0],
        "reason": "",
        "error": "",
        "error_field": "",
        "reason_max": REASON_MAX,
        "outbox_url": back,
    }
    if request.method == "POST":
        context["reason"] = request.POST.get("reason", "")
        try:
            resent = message_resend(message=message, by=request.user, reason=context["reason"], now=timezone.now())
        except ResendRefused as refused:
            context["error"], context["error_field"] = str(refused), refused.field
            return render(request, "staff/outbox_resend.html", context, status=422)
        local = timezone.localtime(resent.scheduled_at, timezone=ZoneInfo(study.time_zone))
        messages.success(
            request,
            _("%(kind)s for %(pseudonym)s will be sent again on %(at)s (resend %(n)s).")
            % {
                "kind": message_kind_label(resent),
                "pseudonym": message.enrollment.participant.pseudonym,
                "at": local.strftime("%Y-%m-%d %H:%M"),
                "n": resent.resend,
            },
        )
        return HttpResponseRedirect(back)
    # Said before any reason is typed: a message that cannot go again gets no form.
    context["error"] = message_resend_problem(message=message, now=timezone.now()) or ""
    context["refused"] = bool(context["error"])
    return render(request, "staff/outbox_resend.html", context)
