"""What every staff page of one study shares: finding the study named in its URL."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _

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
