"""Validation with fhir.resources: every FHIR resource we write or read is checked against R4.

fhir.resources ships R5 (its default), R4B and STU3, and no plain R4; R4B's Questionnaire and
QuestionnaireResponse are R4's, so the R4B models are used. Every export is validated before it
leaves (a failure is our bug and raises with the path); every import is validated too, so that
what we keep of a file can always be exported again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

FHIR_RELEASE = "R4 (checked with the R4B models of fhir.resources)"


class FhirInvalid(Exception):
    """Something we built is not valid FHIR R4: a bug, reported with the path of each error."""

    def __init__(self, resource_type: str, errors: list[str]):
        self.errors = errors
        super().__init__(f"{resource_type} is not valid FHIR R4: " + "; ".join(errors))


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _item_at(resource: dict, loc: tuple) -> str | None:
    """linkId of the deepest item a validation error's location passes through."""
    node: Any = resource
    found = None
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "linkId" in node:
            found = str(node["linkId"])
    return found


def fhir_errors(resource: dict, model: type) -> list[tuple[str | None, str, str]]:
    """(linkId or None, path, message) for each way `resource` breaks the FHIR model."""
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [(_item_at(resource, tuple(e["loc"])), _path(e["loc"]), e["msg"]) for e in exc.errors()]
    except (ValueError, TypeError) as exc:  # raised by fhir.resources' own root validators
        return [(None, "", str(exc))]
    return []


def validated(resource: dict, model: type) -> dict:
    errors = fhir_errors(resource, model)
    if errors:
        raise FhirInvalid(resource.get("resourceType", "?"), [f"{path or '(root)'}: {msg}" for _i, path, msg in errors])
    return resource
