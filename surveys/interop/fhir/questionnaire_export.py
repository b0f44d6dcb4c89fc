"""FHIR R4 Questionnaire export: a published version with its canonical URL and version number."""

from __future__ import annotations

import copy
import json

from django.utils import timezone
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

from surveys.interop.fhir.validation import validated
from surveys.models import QuestionnaireVersion


def canonical_url(version: QuestionnaireVersion) -> str:
    """The questionnaire's canonical URL: the imported one if any, else ours."""
    questionnaire = version.questionnaire
    return (
        version.definition.get("url") or f"urn:ressenti:questionnaire:{questionnaire.study.code}:{questionnaire.code}"
    )


def questionnaire_export(version: QuestionnaireVersion) -> dict:
    """The version as a FHIR R4 Questionnaire: canonical url, our version number, status active. Validated."""
    definition = copy.deepcopy(version.definition)
    definition["resourceType"] = "Questionnaire"
    definition["url"] = canonical_url(version)
    definition["version"] = str(version.number)
    definition["status"] = "active"
    definition["date"] = version.published_at.isoformat() if version.published_at else timezone.now().isoformat()
    return validated(definition, FhirQuestionnaire)


def questionnaire_export_text(version: QuestionnaireVersion) -> str:
    return json.dumps(questionnaire_export(version), indent=2, ensure_ascii=False) + "\n"
