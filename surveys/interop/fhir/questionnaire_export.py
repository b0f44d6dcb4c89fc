"""FHIR R4 Questionnaire export: a published version with its canonical URL and version number."""

from __future__ import annotations

import copy
import json

from django.utils import timezone
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

from surveys.interop.fhir.validation import validated
from surveys.models import QuestionnaireVersion


def questionnaire_canonical(study_code: str, code: str) -> str:
    """Our canonical URL of a questionnaire: one per study and code, so no two questionnaires share it."""
    return f"urn:ressenti:questionnaire:{study_code}:{code}"


def canonical_url(version: QuestionnaireVersion) -> str:
    """The questionnaire's canonical URL, always ours: responses name it, and a source file's URL may be
    shared by several questionnaires imported from it (it stays in derivedFrom)."""
    questionnaire = version.questionnaire
    return questionnaire_canonical(questionnaire.study.code, questionnaire.code)


def source_canonicals(definition: dict, own: str) -> list[str]:
    """The canonical references (url or url|version) of the questionnaires this one was taken from.

    derivedFrom, plus the definition's own url when it is not ours (a version published before
    imports moved the source's url into derivedFrom).
    """
    found = [str(ref) for ref in definition.get("derivedFrom", ()) if ref]
    url = definition.get("url")
    if url and url != own:
        reference = f"{url}|{definition['version']}" if definition.get("version") else str(url)
        if reference not in found and url not in found:
            found.append(reference)
    return found


def with_own_canonical(definition: dict, own: str) -> dict:
    """The definition under our canonical URL, the source's url|version kept in derivedFrom (a copy)."""
    definition = copy.deepcopy(definition)
    sources = source_canonicals(definition, own)
    definition["url"] = own
    definition.pop("version", None)
    if sources:
        definition["derivedFrom"] = sources
    return definition


def questionnaire_export(version: QuestionnaireVersion) -> dict:
    """The version as a FHIR R4 Questionnaire: canonical url, our version number, status active. Validated."""
    definition = with_own_canonical(version.definition, canonical_url(version))
    definition["resourceType"] = "Questionnaire"
    definition["version"] = str(version.number)
    definition["status"] = "active"
    definition["date"] = version.published_at.isoformat() if version.published_at else timezone.now().isoformat()
    return validated(definition, FhirQuestionnaire)


def questionnaire_export_text(version: QuestionnaireVersion) -> str:
    return json.dumps(questionnaire_export(version), indent=2, ensure_ascii=False) + "\n"
