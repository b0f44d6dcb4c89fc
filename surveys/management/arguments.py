"""What management commands look up from their arguments, each refused with the same plain message."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import CommandError

from surveys.models import Study


def study_named(code: str) -> Study:
    study = Study.objects.filter(code=code).first()
    if study is None:
        raise CommandError(f"No study with code {code!r}.")
    return study


def user_named(username: str | None) -> AbstractBaseUser | None:
    """The user recorded as having acted, or None when the command was not given one."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user {username!r}.")
    return user


def file_content(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
