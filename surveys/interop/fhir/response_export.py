"""FHIR R4 QuestionnaireResponse export: a response by pseudonym only, one or a study's in NDJSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse

from surveys.interop.fhir.common import CHOICE_FHIR_TYPES, OPTION_KEYS, options_by_code
from surveys.interop.fhir.questionnaire_export import canonical_url
from surveys.interop.fhir.validation import validated
from surveys.models import Questionnaire, Response, Study
from surveys.questionnaires import fhir, values

# Scores stored with a response, exported as one JSON string (same shape as Response.scores).
EXT_SCORES = "urn:ressenti:fhir:extension:scores"


def pseudonym_system(study: Study) -> str:
    return f"urn:ressenti:study:{study.code}:pseudonym"


def response_system(study: Study) -> str:
    return f"urn:ressenti:study:{study.code}:response"


def _answer_values(node: dict, value: Any, base: str, time_zone: str = "UTC") -> list[dict]:
    fhir_type = node.get("type")
    given = value if isinstance(value, list) else [value]
    out = []
    if fhir_type in CHOICE_FHIR_TYPES:
        options = options_by_code(node)
        for code in given:
            option = options.get(str(code))
            if option is None:
                out.append({"valueString": str(code)})
            elif "valueCoding" in option:
                coding = {k: v for k, v in option["valueCoding"].items() if k in ("system", "version", "code")}
                display = fhir.localized(option["valueCoding"], "display", base, base)
                out.append({"valueCoding": {**coding, **({"display": display} if display else {})}})
            else:
                key = next(k for k in option if k in OPTION_KEYS)
                out.append({key: option[key]})
        return out
    key = {
        "boolean": "valueBoolean",
        "integer": "valueInteger",
        "decimal": "valueDecimal",
        "date": "valueDate",
        "time": "valueTime",
    }.get(fhir_type, "valueString")
    if fhir_type == "dateTime":
        # A wall-clock reading, given the study's offset at that moment (values.fhir_datetime says why).
        return [
            {"valueDateTime": text} if (text := values.fhir_datetime(v, time_zone)) else {"valueString": str(v)}
            for v in given
        ]
    return [_fhir_answer(key, v) for v in given]


FHIR_DATE_RE = re.compile(r"^(?!0000)[0-9]{4}(-(0[1-9]|1[0-2]))?$")


def _fhir_date(value: Any) -> bool:
    """A date FHIR can write: a real calendar day, or a year or year-month (FHIR date precision)."""
    if not isinstance(value, str):
        return False
    if len(value) == 10:
        try:
            return date.fromisoformat(value).year >= 1
        except ValueError:
            return False
    return bool(FHIR_DATE_RE.match(value))


def _fhir_answer(key: str, value: Any) -> dict:
    """One stored value as the answer type of its item, or, for a value that type cannot hold (stored
    before today's limits, or imported: an integer beyond 32 bits, a date FHIR cannot write), the
    closest type that holds it unchanged, so that one value never fails a whole export."""
    if key == "valueBoolean":
        truth = values.to_bool(value)
        return {key: truth} if truth is not None else {"valueString": str(value)}
    if key in ("valueInteger", "valueDecimal"):
        number = values.to_decimal(value)
        if number is None or not number.is_finite():
            return {"valueString": str(value)}
        floor, ceiling = values.WHOLE_NUMBER_RANGE
        if key == "valueInteger" and number == number.to_integral_value() and floor <= number <= ceiling:
            return {key: int(number)}
        return {"valueDecimal": float(number)} if abs(number) < Decimal("1e300") else {"valueString": str(value)}
    if key == "valueDate":
        return {key: value} if _fhir_date(value) else {"valueString": str(value)}
    if key == "valueTime":
        time = values.fhir_time(value)
        return {key: time} if time else {"valueString": str(value)}
    return {"valueString": str(value)}


def _answer_items(nodes: list[dict], answers: dict, base: str, time_zone: str = "UTC") -> list[dict]:
    out = []
    for node in nodes:
        link_id = node.get("linkId")
        if node.get("type") == "group":
            children = _answer_items(node.get("item", []), answers, base, time_zone)
            if children:
                group = {"linkId": link_id}
                text = fhir.localized(node, "text", base, base)
                if text:
                    group["text"] = text
                out.append({**group, "item": children})
            continue
        # Items nested under a question: under its (first) answer, as R4 writes them (an item holds either
        # answers or items), or under the item itself when the question has no answer.
        nested = _answer_items(node.get("item", []), answers, base, time_zone)
        answered = node.get("type") != "display" and not values.is_missing(answers.get(link_id))
        if not answered and not nested:
            continue
        entry: dict[str, Any] = {"linkId": link_id}
        text = fhir.localized(node, "text", base, base)
        if text:
            entry["text"] = text
        if answered:
            entry["answer"] = _answer_values(node, answers[link_id], base, time_zone)
            if nested:
                entry["answer"][0]["item"] = nested
        else:
            entry["item"] = nested
        out.append(entry)
    return out


SOURCE_SYSTEM = "urn:ressenti:fhir:response-source"


def response_export(response: Response) -> dict:
    """One response as a FHIR R4 QuestionnaireResponse, by pseudonym only. Validated."""
    version = response.version
    assignment = response.assignment
    participant = assignment.participant
    study = participant.study
    definition = version.definition
    base = definition.get("language", study.fallback_language)
    authored = response.submitted_at or response.updated_at
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {
            "system": response_system(study),
            "value": f"{participant.pseudonym}/{assignment.timepoint.code}/{assignment.occurrence}",
        },
        "questionnaire": f"{canonical_url(version)}|{version.number}",
        "status": "completed" if response.status == Response.Status.COMPLETED else "in-progress",
        "subject": {"identifier": {"system": pseudonym_system(study), "value": participant.pseudonym}},
        "authored": authored.isoformat(),
        # Where the answers come from (patient, imported, corrected), as in every export.
        "meta": {"tag": [{"system": SOURCE_SYSTEM, "code": response.source}]},
    }
    if response.scores:
        resource["extension"] = [
            {
                "url": EXT_SCORES,
                "valueString": json.dumps(
                    response.scores, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
                ),
            }
        ]
    items = _answer_items(definition.get("item", []), response.answers or {}, base, study.time_zone)
    if items:
        resource["item"] = items
    return validated(resource, FhirQuestionnaireResponse)


def responses_for_export(*, study: Study, questionnaire: Questionnaire | None = None) -> QuerySet[Response]:
    queryset = (
        Response.objects.filter(assignment__participant__study=study)
        .select_related(
            "version__questionnaire__study",
            "assignment__participant__study",
            "assignment__timepoint",
        )
        .order_by("pk")
    )
    if questionnaire is not None:
        queryset = queryset.filter(version__questionnaire=questionnaire)
    return queryset


def responses_export_ndjson(*, study: Study, questionnaire: Questionnaire | None = None) -> Iterator[str]:
    """One QuestionnaireResponse per line, read from the database in chunks (never all in memory)."""
    for response in responses_for_export(study=study, questionnaire=questionnaire).iterator(chunk_size=500):
        yield json.dumps(response_export(response), ensure_ascii=False, separators=(",", ":")) + "\n"
