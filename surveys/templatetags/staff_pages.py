"""The admin index's "your studies": each study of the signed-in user, their roles there, and the pages they may open."""

from __future__ import annotations

from django import template

from surveys.models import StudyMembership
from surveys.staff.pages import study_pages
from surveys.staff.selectors import studies_for_user

register = template.Library()


@register.simple_tag(takes_context=True)
def my_studies(context: template.Context) -> list[dict]:
    user = context["request"].user
    roles: dict[int, list[str]] = {}
    for membership in StudyMembership.objects.filter(user=user).order_by("role"):
        roles.setdefault(membership.study_id, []).append(str(membership.get_role_display()))
    return [
        {"study": study, "roles": roles.get(study.pk, []), "pages": study_pages(user, study)}
        for study in studies_for_user(user=user).order_by("code")
    ]
