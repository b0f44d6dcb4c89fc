"""Who may export a study, and which participants their export holds.

The permission is `surveys.export_study` (surveys/rules.py): data managers, investigators when the
study allows it, superusers. A member limited to a site exports that site's participants only: the
spec's `sites` comes from here, never from what a form or an API body says.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from surveys.exports.spec import ExportSpec
from surveys.models import Study
from surveys.rules import DATA_MANAGER, EXPORT_STUDY, INVESTIGATOR
from surveys.staff.selectors import sites_for_user


def export_roles(study: Study) -> tuple[str, ...]:
    return (DATA_MANAGER, INVESTIGATOR) if study.investigators_can_export else (DATA_MANAGER,)


def export_sites(*, user: AbstractBaseUser | AnonymousUser, study: Study) -> tuple[int, ...] | None:
    """Site ids the user's export is limited to; None = every participant of the study."""
    sites = sites_for_user(user=user, study=study, roles=export_roles(study))
    return None if sites is None else tuple(sites.values_list("pk", flat=True))


def access_export(*, user: AbstractBaseUser | AnonymousUser, study_id: int) -> Study:
    """The study, if `user` may export it; PermissionDenied otherwise."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None or not user.has_perm(EXPORT_STUDY, study):
        raise PermissionDenied("You may not export this study.")
    return study


def export_spec_for_user(*, user: AbstractBaseUser | AnonymousUser, **choices) -> ExportSpec:
    """An ExportSpec with the user's site scope filled in, after the permission check.

    `choices` are ExportSpec fields (study_id required); a `sites` given there is replaced, so a
    member limited to a site cannot widen their export by asking."""
    study = access_export(user=user, study_id=choices["study_id"])
    choices["sites"] = export_sites(user=user, study=study)
    return ExportSpec.from_dict(choices)
