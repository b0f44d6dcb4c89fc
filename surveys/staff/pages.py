"""What every staff page of one study shares: finding the study named in its URL, and the list of those pages."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, PermissionsMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from surveys.models import Study

# Any role in a study grants it (surveys/rules.py): the test of "this user knows the study exists".
KNOWS_STUDY = "surveys.view_study"


def study_for_page(request: HttpRequest, code: str, perm: str) -> Study:
    """The study `code` if the user may `perm` in it.

    404 when no such study exists or the user has no role in it, 403 (PermissionDenied) when
    they have a role there that does not grant `perm`. Why: a study's code is itself research
    information (what is studied, where), so someone outside the study must not be able to tell
    an existing study from a mistyped code; a member already knows the study, and a 403 tells
    them plainly that their role is the reason, instead of a "not found" they would report as a
    bug. The API answers the same way (surveys.api.base.access_api_study).
    """
    study = Study.objects.filter(code=code).first()
    user = request.user
    if study is None or not user.has_perm(KNOWS_STUDY, study):
        raise Http404(_("No such object in your studies."))
    if not user.has_perm(perm, study):
        raise PermissionDenied
    return study


# Every staff page of a study, with the permission its view asks (the view's own study_for_page call).
# Named URLs only: the identity app's pages are reached by name, never imported (tests/project/test_boundaries.py).
STUDY_PAGES: tuple[tuple[str, str, str | Promise], ...] = (
    ("patients:enrol", "patients.add_enrollment", _lazy("Enrol a patient")),
    ("patients:import", "patients.add_enrollment", _lazy("Import patients")),
    ("patients:outbox", "surveys.view_assignment", _lazy("Outbox")),
    ("surveys:alerts", "surveys.view_alert", _lazy("Alerts")),
    ("surveys:exports", "surveys.export_study", _lazy("Export the data")),
    ("surveys:schedule_replan", "surveys.change_timepoint", _lazy("Move the schedule")),
)


def study_pages(user: PermissionsMixin | AnonymousUser, study: Study) -> list[tuple[str, str]]:
    """(label, URL) of each staff page of `study` this user may open, the study's review rounds included."""
    pages = [
        (str(label), reverse(name, args=[study.code]))
        for name, perm, label in STUDY_PAGES
        if user.has_perm(perm, study)
    ]
    if user.has_perm("surveys.view_reviewround", study):
        rounds = reverse("admin:surveys_reviewround_changelist") + f"?questionnaire__study__id__exact={study.pk}"
        pages.append((str(_("Review rounds")), rounds))
    return pages
