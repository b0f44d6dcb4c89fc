"""Helpers shared by the FHIR import and export modules: answer option lookups, where a problem is."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from surveys.questionnaires import fhir

CHOICE_FHIR_TYPES = {"choice", "open-choice"}
# The answerOption value[x] we offer (and read back in a response): valueReference and the like are refused.
OPTION_KEYS = {"valueCoding", "valueString", "valueInteger", "valueDate", "valueTime"}


def problem_where(prefix: str, link_id: str | None = None) -> str:
    """Where a problem is, for the person who fixes the file: the entry or line, then the item."""
    item = _("item %(code)s") % {"code": link_id} if link_id is not None else ""
    return ", ".join(part for part in (prefix, item) if part) or _("questionnaire")


def walk_dicts(node: Any) -> Iterator[dict]:
    """Every JSON object inside `node`, itself included, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk_dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_dicts(value)


def is_number(value: Any) -> bool:
    """A JSON number; true and false are not, though Python counts them as integers."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def options_by_code(node: dict) -> dict[str, dict]:
    """The item's answer options by code, in the questionnaire's order."""
    return {fhir.option_code(o): o for o in node.get("answerOption", [])}
