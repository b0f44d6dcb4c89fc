"""The instrument library, shipped as data in surveys/instruments/ (owner: helper "lib")."""

from __future__ import annotations

from .validation import Problem


def licence_problems(definition: dict) -> list[Problem]:
    """A licensed instrument cannot be published without a licence reference."""
    return []
