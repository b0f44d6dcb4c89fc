"""Reads of the research domain that depend on who is asking.

Which rows a user reaches follows the same memberships as surveys/rules.py
(`memberships_of`, `site_scope_of`): a study role, limited to one site when the
membership says so. Admin lists, staff pages and imports all scope through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from surveys.models import Site, Study, StudyMembership
from surveys.rules import memberships_of, site_scope_of

User = AbstractBaseUser | AnonymousUser


def studies_for_user(*, user: User, roles: Iterable[str] | None = None) -> QuerySet[Study]:
    """Studies in which `user` has one of `roles` (any role when None); every study for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    memberships = StudyMembership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return Study.objects.filter(pk__in=memberships.values("study_id"))


def rows_for_user(
    queryset: QuerySet, *, user: User, roles: Iterable[str], study_path: str = "study", many: bool = False
) -> QuerySet:
    """The rows of `queryset` in the studies where `user` has one of `roles`, and, for models
    bound to sites (surveys.rules.register_site_scope), only at the member's site when the
    membership is limited to one. `study_path` / `many` serve models not bound to sites."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    wanted = set(roles)
    scope = site_scope_of(queryset.model)
    if scope is not None:
        study_path, many = scope.study_path, scope.many
    reach: list[Q] = []
    for study_id, role, site_id in sorted(memberships_of(user), key=str):
        if role not in wanted:
            continue
        condition = Q(**{study_path: study_id})
        if scope is not None and site_id is not None:
            condition &= Q(**{scope.site_path: site_id})
        reach.append(condition)
    if not reach:
        return queryset.none()
    where = reduce(or_, reach)
    if many:
        # One filter() over the to-many path: study and site must hold on the same related row.
        return queryset.filter(pk__in=queryset.model._default_manager.filter(where).values("pk"))
    return queryset.filter(where)


def sites_for_user(*, user: User, study: Study, roles: Iterable[str]) -> QuerySet[Site] | None:
    """The sites of `study` where `user` may act with one of `roles`: None when not limited
    (superuser, or a membership for all sites), else the sites of the limited memberships."""
    if user.is_superuser:
        return None
    wanted = set(roles)
    held = [site_id for study_id, role, site_id in memberships_of(user) if study_id == study.pk and role in wanted]
    if not held or None in held:
        return None if held else Site.objects.none()
    return Site.objects.filter(study=study, pk__in=held).order_by("code")
