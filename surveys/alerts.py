"""Alert rules on answers and scores (owner: helper "alert"; see docs/scoring.md)."""

from __future__ import annotations

from .models import Alert, Response
from .validation import Problem


def alert_problems(definition: dict, *, languages: list[str]) -> list[Problem]:
    """Every problem of the alert rules, each naming the rule and the item or score it tests."""
    return []


def alerts_raise(*, response: Response) -> list[Alert]:
    """Create the alerts this completed response fires (once per rule); called inside the submit transaction."""
    return []
