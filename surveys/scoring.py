"""Scores from declarative rules frozen in the definition (owner: helper "score"; see docs/scoring.md)."""

from __future__ import annotations

from .validation import Problem


def scores_compute(definition: dict, answers: dict) -> dict:
    """Every score of the definition's rules for these answers: {name: {"value": ..., ...}}."""
    return {}


def scoring_problems(definition: dict, *, languages: list[str]) -> list[Problem]:
    """Every problem of the scoring rules, each naming the score and the item it concerns."""
    return []
