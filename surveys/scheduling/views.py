"""Staff page /staff/studies/<code>/schedule/replan/: see what a schedule edit would move, then apply it.

Thin view over surveys/scheduling/replan.py. Designers of the study only (they edit the schedule);
other members get 403, anyone else "not found". The POST carries a fingerprint of the preview
that was shown: if the schedule or the assignments changed in between (another designer, beat
opening an assignment), nothing is applied and the new preview is shown instead. What is
applied is therefore exactly what was read.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from surveys.models import Study
from surveys.scheduling.replan import Change, schedule_replan_apply, schedule_replan_preview
from surveys.staff.pages import study_for_page

EDIT_PERM = "surveys.change_timepoint"
# The table lists this many rows; the counts per timepoint above it cover every change.
ROWS_SHOWN = 500


def preview_fingerprint(changes: list[Change]) -> str:
    """Identifies a preview: the same changes, to the second, give the same fingerprint."""
    text = "\n".join(
        f"{c.participant_id}|{c.timepoint_id}|{c.occurrence}|{c.assignment_id}|"
        f"{c.new_due_at.isoformat()}|{c.new_expires_at.isoformat()}"
        for c in changes
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _render(request: HttpRequest, study: Study, changes: list[Change], *, stale: bool = False) -> HttpResponse:
    by_timepoint: Counter = Counter()
    for c in changes:
        by_timepoint[(c.timepoint_code, c.is_new)] += 1
    codes = list(dict.fromkeys(c.timepoint_code for c in changes))
    context = {
        **admin.site.each_context(request),
        "title": _("Re-plan the schedule of %(study)s") % {"study": study.title},
        "study": study,
        "changes": changes[:ROWS_SHOWN],
        "hidden": max(0, len(changes) - ROWS_SHOWN),
        "total": len(changes),
        "participants": len({c.participant_id for c in changes}),
        "summary": [
            {"code": code, "moved": by_timepoint[(code, False)], "new": by_timepoint[(code, True)]} for code in codes
        ],
        "fingerprint": preview_fingerprint(changes),
        "stale": stale,
        "timepoints_url": reverse("admin:surveys_timepoint_changelist") + f"?study__id__exact={study.pk}",
    }
    return render(request, "staff/replan.html", context, status=409 if stale else 200)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def schedule_replan(request: HttpRequest, code: str) -> HttpResponse:
    study = study_for_page(request, code, EDIT_PERM)
    now = timezone.now()
    if request.method == "POST":
        with transaction.atomic():
            # Held until commit: a second apply, or a second designer's, waits and then sees ours.
            Study.objects.select_for_update().filter(pk=study.pk).first()
            changes = schedule_replan_preview(study=study, now=now)
            if preview_fingerprint(changes) != request.POST.get("fingerprint", ""):
                return _render(request, study, changes, stale=True)
            applied = schedule_replan_apply(study=study, by=request.user, now=now)
        if applied:
            messages.success(
                request,
                ngettext(
                    "%(count)s assignment moved or created; its messages not yet sent were planned again.",
                    "%(count)s assignments moved or created; their messages not yet sent were planned again.",
                    applied,
                )
                % {"count": applied},
            )
        else:
            messages.info(request, _("Nothing to apply: the assignments already follow the schedule."))
        return HttpResponseRedirect(request.path)
    return _render(request, study, schedule_replan_preview(study=study, now=now))
