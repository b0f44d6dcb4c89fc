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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import rules
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from surveys.models import StudyMembership

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


def _roles_by_study(user: AbstractBaseUser | AnonymousUser) -> frozenset[tuple[int, str]]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(StudyMembership.objects.filter(user=user).values_list("study_id", "role"))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user: AbstractBaseUser) -> None:
    """Drop the per-user cache (after changing memberships of a user object still in use)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def has_role(*roles: str, study_ids_of: StudyIdsOf = study_ids_of) -> rules.Predicate:
    """Predicate: the user has one of `roles` in any study (obj None) or in obj's study."""
    wanted = frozenset(roles)
    unknown = wanted - set(ANY_ROLE)
    if unknown:
        raise ValueError(f"Unknown study roles: {sorted(unknown)}")

    def check(user: AbstractBaseUser | AnonymousUser, obj: object = None) -> bool:
        held = _roles_by_study(user)
        if obj is None:
            return any(role in wanted for _study_id, role in held)
        studies = study_ids_of(obj)
        return any(study_id in studies and role in wanted for study_id, role in held)

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
    "response": {"view": (DATA_MANAGER, INVESTIGATOR), "add": NOBODY, "change": NOBODY, "delete": NOBODY},
    # Information notices are immutable (consent records point to them): a new text is a new version.
    "consentnotice": {"view": ANY_ROLE, "add": (DESIGNER,), "change": NOBODY, "delete": NOBODY},
    "eligibilityrule": _DESIGN,
}

_roles_for_perm: dict[str, tuple[str, ...]] = {}


def register_model_permissions(
    app_label: str, matrix: Matrix, *, study_ids_of: StudyIdsOf = study_ids_of
) -> None:
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
