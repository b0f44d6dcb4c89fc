"""The one permission layer: who may do what, per study role (django-rules).

Every check in the project, admin included, goes through `user.has_perm(perm, obj)`:

* without obj, a permission holds when the user has one of the roles in *any*
  study (the admin uses this to show the list and "add" buttons);
* with obj, it holds when the user has one of the roles in the object's study
  (`obj.study_id_for_rules`, or a resolver registered for models that belong
  to several studies, such as patients.Patient).

Superusers pass every check: Django's `User.has_perm` answers True for them
before asking any backend, and `is_superuser` is also part of each rule so that
`rules.test_rule` agrees. Writes that must not happen to anyone (changing a
published version, editing a response) are refused by the admin itself, see
`StudyScopedAdmin.denied_actions`.

The matrix lives in PERMISSIONS below; patients/rules.py registers its own
models through `register_model_permissions` and never redefines a predicate.

Sites (REDCap's data access groups): a membership with a site (StudyMembership.site)
reaches only that site's rows of the models registered with `register_site_scope`
(participants and everything hanging from them: assignments, responses, patients,
enrolments, messages...). For those models a permission holds when the user has the
role in the object's study *and* the membership is for all sites or for the object's
site; querysets are narrowed the same way by surveys.staff.selectors.rows_for_user, which
reads the same registry. Other models (questionnaires, timepoints) ignore sites.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import rules
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist

from surveys.models import (
    Assignment,
    LinkCheckLock,
    Participant,
    Response,
    ResponseCorrection,
    Site,
    StudyMembership,
)

Role = StudyMembership.Role

DESIGNER = Role.DESIGNER.value
INVESTIGATOR = Role.INVESTIGATOR.value
DATA_MANAGER = Role.DATA_MANAGER.value
REVIEWER = Role.REVIEWER.value
ANY_ROLE: tuple[str, ...] = (DESIGNER, INVESTIGATOR, DATA_MANAGER, REVIEWER)
NOBODY: tuple[str, ...] = ()

ACTIONS = ("view", "add", "change", "delete")

# Attribute on the user object caching {(study_id, role)}: the admin asks
# dozens of questions per page and the user object lives for one request.
_CACHE_ATTR = "_ressenti_study_roles"

StudyIdsOf = Callable[[object], Iterable[int]]
_study_resolvers: dict[type, StudyIdsOf] = {}


def register_study_resolver(model: type, study_ids_of: StudyIdsOf) -> None:
    """For a model linked to several studies (or none), say which studies an object belongs to."""
    _study_resolvers[model] = study_ids_of


def study_ids_of(obj: object) -> set[int]:
    for model, resolve in _study_resolvers.items():
        if isinstance(obj, model):
            return {pk for pk in resolve(obj) if pk is not None}
    study_id = getattr(obj, "study_id_for_rules", None)
    return set() if study_id is None else {study_id}


@dataclass(frozen=True)
class SiteScope:
    """How to find the study and the site of a row: Django lookups from the model."""

    study_path: str
    site_path: str
    # True when the paths cross a to-many relation (a patient has several enrolments).
    many: bool = False


_site_scopes: dict[type, SiteScope] = {}


def register_site_scope(model: type, *, study_path: str, site_path: str, many: bool = False) -> None:
    """Declare that rows of `model` belong to a site: members limited to a site reach only its rows."""
    _site_scopes[model] = SiteScope(study_path=study_path, site_path=site_path, many=many)


def site_scope_of(model: type) -> SiteScope | None:
    return _site_scopes.get(model)


def _follow(obj: object, path: str) -> int | None:
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop)
        if obj is None:
            return None
    return getattr(obj, "pk" if last == "pk" else f"{last}_id")


def places_of(obj: object) -> set[tuple[int, int | None]] | None:
    """The (study id, site id) pairs `obj` belongs to; None for models that are not site-bound."""
    scope = _site_scopes.get(type(obj))
    if scope is None:
        return None
    if scope.many:
        if getattr(obj, "pk", None) is None:
            return set()
        rows = type(obj)._default_manager.filter(pk=obj.pk).values_list(scope.study_path, scope.site_path)
        return {(study_id, site_id) for study_id, site_id in rows if study_id is not None}
    try:
        study_id = _follow(obj, scope.study_path)
        site_id = _follow(obj, scope.site_path)
    except ObjectDoesNotExist:  # an unsaved row not linked yet belongs nowhere
        return set()
    return set() if study_id is None else {(study_id, site_id)}


def memberships_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[tuple[int, str, int | None]]:
    """{(study id, role, site id or None for all sites)} of an active user, cached on the user object."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(StudyMembership.objects.filter(user=user).values_list("study_id", "role", "site_id"))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def has_role(*roles: str, study_ids_of: StudyIdsOf = study_ids_of) -> rules.Predicate:
    """Predicate: the user has one of `roles` in any study (obj None) or in obj's study."""
    wanted = frozenset(roles)
    unknown = wanted - set(ANY_ROLE)
    if unknown:
        raise ValueError(f"Unknown study roles: {sorted(unknown)}")

    def check(user: AbstractBaseUser | AnonymousUser, obj: object = None) -> bool:
        held = [(study_id, site_id) for study_id, role, site_id in memberships_of(user) if role in wanted]
        if obj is None:
            return bool(held)
        places = places_of(obj)
        if places is None:
            studies = study_ids_of(obj)
            return any(study_id in studies for study_id, _site in held)
        # A member for all sites (site None) passes for any site of the study, others for theirs only.
        return any(
            study_id == place_study and (site_id is None or site_id == place_site)
            for study_id, site_id in held
            for place_study, place_site in places
        )

    return rules.Predicate(check, name=f"has_role({', '.join(sorted(wanted)) or '-'})")


is_superuser = rules.is_superuser

# model name -> action -> roles allowed (superusers always are).
Matrix = Mapping[str, Mapping[str, tuple[str, ...]]]

_DESIGN = {"view": ANY_ROLE, "add": (DESIGNER,), "change": (DESIGNER,), "delete": (DESIGNER,)}

PERMISSIONS: Matrix = {
    "study": {"view": ANY_ROLE, "add": NOBODY, "change": (DESIGNER,), "delete": NOBODY},
    "site": {
        "view": ANY_ROLE,
        "add": (INVESTIGATOR, DESIGNER),
        "change": (INVESTIGATOR, DESIGNER),
        "delete": (INVESTIGATOR, DESIGNER),
    },
    "studymembership": {"view": ANY_ROLE, "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    "questionnaire": _DESIGN,
    "section": _DESIGN,
    "item": _DESIGN,
    "answeroption": _DESIGN,
    "enablecondition": _DESIGN,
    # Published versions are immutable; they are created by questionnaire_publish only.
    "questionnaireversion": {"view": ANY_ROLE, "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    "timepoint": {"view": ANY_ROLE, "add": (DESIGNER,), "change": (DESIGNER,), "delete": (DESIGNER,)},
    "participant": {
        "view": (INVESTIGATOR, DATA_MANAGER),
        "add": (INVESTIGATOR,),
        "change": (INVESTIGATOR,),
        "delete": NOBODY,
    },
    "assignment": {"view": (INVESTIGATOR, DATA_MANAGER), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    "linkchecklock": {"view": (INVESTIGATOR, DATA_MANAGER), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    "response": {"view": (DATA_MANAGER, INVESTIGATOR), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    # Written by surveys.answering.corrections.response_correct only, with the answer it changes; never changed after.
    "responsecorrection": {"view": (DATA_MANAGER, INVESTIGATOR), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    # Information notices are immutable (consent records point to them): a new text is a new version.
    "consentnotice": {"view": ANY_ROLE, "add": (DESIGNER,), "change": NOBODY, "delete": NOBODY},
    "eligibilityrule": _DESIGN,
    # Review panels: designers of the study; a site-wide panel (no study) is for superusers only.
    "panel": _DESIGN,
    "panelmember": _DESIGN,
    # Written by the reminder task only.
    "reviewreminder": {"view": (DESIGNER,), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    # Rounds are opened and closed by designers (staff with the "reviewer" study role only read them; expert
    # reviewers are not staff and use the reviewer pages). Feedback is written by reviewers on their pages;
    # designers only answer it (reply, resolve, decline). Nothing of a round is deleted: it is the audit trail.
    "reviewround": {"view": ANY_ROLE, "add": (DESIGNER,), "change": (DESIGNER,), "delete": NOBODY},
    "itemfeedback": {"view": ANY_ROLE, "add": NOBODY, "change": (DESIGNER,), "delete": NOBODY},
    "reviewsubmission": {"view": ANY_ROLE, "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    # Written by questionnaire_publish only, with the version it let through.
    "publishoverride": {"view": ANY_ROLE, "add": NOBODY, "change": NOBODY, "delete": NOBODY},
}

_roles_for_perm: dict[str, tuple[str, ...]] = {}


def register_model_permissions(app_label: str, matrix: Matrix, *, study_ids_of: StudyIdsOf = study_ids_of) -> None:
    """Declare `<app>.<action>_<model>` for every model and action of `matrix`."""
    for model_name, by_action in matrix.items():
        missing = set(ACTIONS) - set(by_action)
        if missing:
            raise ValueError(f"{app_label}.{model_name}: no rule for {sorted(missing)}")
        for action in ACTIONS:
            roles = tuple(by_action[action])
            name = f"{app_label}.{action}_{model_name}"
            predicate = is_superuser | has_role(*roles, study_ids_of=study_ids_of) if roles else is_superuser
            rules.set_perm(name, predicate)
            _roles_for_perm[name] = roles


def roles_for(perm: str) -> tuple[str, ...]:
    """The study roles that grant `perm` ("surveys.view_item"); used to scope querysets."""
    try:
        return _roles_for_perm[perm]
    except KeyError:
        raise LookupError(f"No rule declares {perm!r}") from None


register_model_permissions("surveys", PERMISSIONS)
# Module permission (`user.has_module_perms("surveys")`): shows the app in the admin index.
rules.set_perm("surveys", is_superuser | has_role(*ANY_ROLE))


# Rows of a participant belong to the participant's site; a member limited to a site
# also sees and edits that one site only.
register_site_scope(Participant, study_path="study", site_path="site")
register_site_scope(Assignment, study_path="participant__study", site_path="participant__site")
register_site_scope(
    LinkCheckLock, study_path="assignment__participant__study", site_path="assignment__participant__site"
)
register_site_scope(Response, study_path="assignment__participant__study", site_path="assignment__participant__site")
register_site_scope(
    ResponseCorrection,
    study_path="response__assignment__participant__study",
    site_path="response__assignment__participant__site",
)
register_site_scope(Site, study_path="study", site_path="pk")


# Research exports (surveys/exports): data managers of the study, and its investigators when
# Study.investigators_can_export says so. Without obj: may export some study. Which participants
# an export then holds follows the member's site (surveys.exports.access.export_sites).
EXPORT_STUDY = "surveys.export_study"


@rules.predicate
def _investigator_may_export(user: AbstractBaseUser | AnonymousUser, study: object = None) -> bool:
    if study is None:
        from surveys.models import Study

        studies = [study_id for study_id, role, _site in memberships_of(user) if role == INVESTIGATOR]
        return bool(studies) and Study.objects.filter(pk__in=studies, investigators_can_export=True).exists()
    return bool(getattr(study, "investigators_can_export", False)) and has_role(INVESTIGATOR).test(user, study)


rules.set_perm(EXPORT_STUDY, is_superuser | has_role(DATA_MANAGER) | _investigator_may_export)

# Publishing without the review sign-off the study requires (surveys.review.rounds): the study's investigators
# and superusers, not its designers (who wrote the content under review). Always audited (PublishOverride).
rules.set_perm("surveys.override_publish", is_superuser | has_role(INVESTIGATOR))

# Governance fields of a study (surveys.models.study.GOVERNANCE_FIELDS: legal basis, consent, link check,
# pseudonyms, investigators' exports, review approvals): its investigators and superusers, not its designers,
# who change only the descriptive and design fields ("surveys.change_study").
GOVERN_STUDY = "surveys.govern_study"
rules.set_perm(GOVERN_STUDY, is_superuser | has_role(INVESTIGATOR))

# Correcting a submitted answer on the patient's request (surveys/answering/corrections.py, page /staff/responses/<pk>/correct/):
# investigators and data managers of the response's study, at the response's site for a site-limited membership
# (Response is site-bound). Every correction is audited (ResponseCorrection).
CORRECT_RESPONSE = "surveys.correct_response"
rules.set_perm(CORRECT_RESPONSE, is_superuser | has_role(INVESTIGATOR, DATA_MANAGER))
