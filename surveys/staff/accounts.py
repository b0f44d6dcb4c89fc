"""Accounts that have acted in a study are kept: they are deactivated, never deleted.

Deleting a user would empty "who" in every history row (SET_NULL) and cascade away that
reviewer's feedback and approvals. So a staff account, or any account that a research or
identity record points to, is refused deletion in code (a `pre_delete` receiver), whatever path
asks for it: the admin, the shell, a script. Accounts that never did anything (a mistyped
invitation) can still be deleted.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models

# Apps whose rows record what a person did: research, identities, and the admin's own log.
AUDITED_APPS = ("surveys", "patients", "admin")


class UserDeletionRefused(ValueError):
    pass


def user_references(user: models.Model) -> list[str]:
    """Labels of the models with a row pointing to `user` (history models included)."""
    user_model = get_user_model()
    found = []
    for app_label in AUDITED_APPS:
        for model in apps.get_app_config(app_label).get_models():
            for field in model._meta.get_fields():
                # related_name="+" hides some of these from the user's side: walk the forward keys.
                if field.many_to_one or field.one_to_one:
                    if field.concrete and field.related_model is user_model:
                        if model._default_manager.filter(**{field.name: user}).exists():
                            found.append(model._meta.label)
                            break
    return found


def user_deletion_refusal(user: models.Model) -> str | None:
    if getattr(user, "is_staff", False):
        return f"User #{user.pk} is a staff account and cannot be deleted: deactivate it instead."
    used = user_references(user)
    if used:
        return f"User #{user.pk} cannot be deleted: it is recorded in {', '.join(sorted(used))}. Deactivate it instead."
    return None


def refuse_user_deletion(sender: Any, instance: models.Model, **kwargs: Any) -> None:
    refusal = user_deletion_refusal(instance)
    if refusal:
        raise UserDeletionRefused(refusal)
