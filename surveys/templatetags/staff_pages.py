"""The admin index's "your studies": each study of the signed-in user, their roles there, and the pages they may open."""

from __future__ import annotations

from django import template

from surveys.models import StudyMembership
from surveys.rules import memberships_of
from surveys.staff.pages import study_pages
from surveys.staff.selectors import studies_for_user

register = template.Library()


@register.simple_tag(takes_context=True)
def my_studies(context: template.Context) -> list[dict]:
    user = context["request"].user
    # The memberships the permission checks read already (cached on the user): no query of their own.
    labels = dict(StudyMembership.Role.choices)
    roles: dict[int, list[str]] = {}
    # One line per role, whatever the number of sites it is held at.
    for study_id, role in sorted({(study_id, role) for study_id, role, _site in memberships_of(user)}):
        roles.setdefault(study_id, []).append(str(labels[role]))
    return [
        {"study": study, "roles": roles.get(study.pk, []), "pages": study_pages(user, study)}
        for study in studies_for_user(user=user).order_by("code")
    ]
