"""Reads of the research domain that depend on who is asking."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import Study, StudyMembership


def studies_for_user(*, user: AbstractBaseUser | AnonymousUser, roles: Iterable[str] | None = None) -> QuerySet[Study]:
    """Studies in which `user` has one of `roles` (any role when None); every study for a superuser."""
    if not user.is_authenticated or not user.is_active:
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    memberships = StudyMembership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return Study.objects.filter(pk__in=memberships.values("study_id"))
