"""Canonical URLs: one per questionnaire whatever its code, so a response names the questionnaire it answers.

Questionnaires are imported from real files (REDCap dictionaries of REDCapR, FHIR questionnaires of LHC-Forms),
twice under two codes; the responses of one must be refused by the other, naming both URLs.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.exports.source import responses_stream
from surveys.exports.spec import ExportSpec
from surveys.interop.fhir.questionnaire_export import canonical_url, questionnaire_export
from surveys.interop.fhir.response_export import response_export
from surveys.interop.fhir.response_import import responses_import
from surveys.interop.imports import import_parse, questionnaire_import
from surveys.models import Assignment, Response
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.interop.test_fhir_questionnaire import public as public_fhir
from tests.surveys.interop.test_redcap import public as public_redcap


def imported(study, format_: str, content: bytes, **options):
    result = import_parse(format_=format_, content=content, study=study, **options)
    assert result.ok, result.problems
    return questionnaire_import(study=study, result=result, format_=format_, by=None)


def ndjson(*resources: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in resources).encode()


def answers_of(version) -> dict:
    """One valid answer per choice or number question: enough for a response that imports."""
    out: dict = {}
    for node in fhir.iter_items(version.definition.get("item", [])):
        if node.get("answerOption") and node.get("type") == "choice" and not node.get("enableWhen"):
            out[node["linkId"]] = fhir.option_code(node["answerOption"][0])
    return out


def two_published(make, format_: str, content: bytes, codes: tuple[str, str]):
    study = make.study(code="urls", languages=["en"], fallback_language="en")
    versions = []
    for code in codes:
        (q,) = imported(study, format_, content, code=code)
        versions.append(questionnaire_publish(questionnaire=q, by=None))
    return study, versions


def phq9_with_url() -> bytes:
    """LHC-Forms' PHQ-9 under LOINC's canonical URL and a version, as a server publishing it names it."""
    source = json.loads(public_fhir("phq9.json"))
    return json.dumps({**source, "url": "http://loinc.org/q/44249-1", "version": "2.72"}).encode()


CASES = [
    ("fhir", lambda: public_fhir("phq9.json")),
    ("fhir", phq9_with_url),
    ("redcap", lambda: _one_instrument(public_redcap("survey-dictionary.csv"), "participant_morale_questionnaire")),
]


def _one_instrument(content: bytes, form: str) -> bytes:
    """The header and the rows of one instrument of a real dictionary (the `--code` case: one questionnaire)."""
    lines = content.decode("utf-8-sig").splitlines(keepends=True)
    return ("".join([lines[0]] + [line for line in lines[1:] if f",{form}," in line])).encode()


@pytest.mark.parametrize(("format_", "content"), CASES, ids=["phq9", "with-url", "redcap"])
def test_two_questionnaires_from_one_file_have_two_urls_and_refuse_each_others_responses(make, format_, content):
    study, (first, second) = two_published(make, format_, content(), ("first", "second"))
    assert canonical_url(first) == "urn:ressenti:questionnaire:urls:first"
    assert canonical_url(second) == "urn:ressenti:questionnaire:urls:second"
    for version in (first, second):
        exported = questionnaire_export(version)
        assert exported["url"] == canonical_url(version)
        assert exported.get("derivedFrom", []) == version.definition.get("derivedFrom", [])
    participant = make.participant(study=study, pseudonym="P1")
    tp_first = make.timepoint(version=first, code="t_first")
    tp_second = make.timepoint(version=second, code="t_second")
    assignment = make.assignment(participant=participant, timepoint=tp_first)
    response = make.response(assignment=assignment, status="completed", answers=answers_of(first))
    resource = response_export(response)
    assert resource["questionnaire"] == f"{canonical_url(first)}|1"

    refused = responses_import(study=study, timepoint=tp_second, content=ndjson(resource), by=None, dry_run=True)
    assert not refused.ok
    message = " ".join(str(p) for p in refused.problems)
    assert canonical_url(first) in message and canonical_url(second) in message

    # A wrong version of the right questionnaire is refused too, naming both versions.
    resource["questionnaire"] = f"{canonical_url(first)}|7"
    refused = responses_import(study=study, timepoint=tp_first, content=ndjson(resource), by=None, dry_run=True)
    assert any("version 7" in p.message and "version 1" in p.message for p in refused.problems), refused.problems


def test_prefixed_multi_instrument_imports_have_their_own_urls(make):
    study = make.study(code="urls", languages=["en"], fallback_language="en")
    content = public_redcap("survey-dictionary.csv")
    plain = imported(study, "redcap", content)
    prefixed = imported(study, "redcap", content, prefix="b_")
    urls = [q.source_definition["url"] for q in plain + prefixed]
    assert len(set(urls)) == len(urls) == 2 * len(plain)
    assert all(q.source_definition["url"] == f"urn:ressenti:questionnaire:urls:{q.code}" for q in plain + prefixed)
    # A REDCap dictionary has no canonical URL of its own: nothing to derive from.
    assert not any("derivedFrom" in q.source_definition for q in plain + prefixed)


def test_legacy_responses_naming_the_source_url_go_only_where_it_is_unambiguous(make):
    study = make.study(code="urls", languages=["en"], fallback_language="en")
    source = json.loads(phq9_with_url())
    (q,) = imported(study, "fhir", json.dumps(source).encode(), code="phq")
    version = questionnaire_publish(questionnaire=q, by=None)
    assert version.definition["derivedFrom"] == [f"{source['url']}|{source['version']}"]
    timepoint = make.timepoint(version=version, code="t0")
    make.participant(study=study, pseudonym="P1")
    legacy = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": source["url"],
        "status": "completed",
        "subject": {"identifier": {"system": "urn:ressenti:study:urls:pseudonym", "value": "P1"}},
        "authored": timezone.now().isoformat(),
        "item": [
            {"linkId": link, "answer": [{"valueCoding": {"code": code}}]} for link, code in answers_of(version).items()
        ],
    }
    accepted = responses_import(study=study, timepoint=timepoint, content=ndjson(legacy), by=None, dry_run=True)
    assert accepted.ok, accepted.problems

    imported(study, "fhir", json.dumps(source).encode(), code="phq_again")
    refused = responses_import(study=study, timepoint=timepoint, content=ndjson(legacy), by=None, dry_run=True)
    assert not refused.ok
    message = " ".join(str(p) for p in refused.problems)
    assert source["url"] in message and "phq, phq_again" in message and canonical_url(version) in message


def test_a_legacy_response_dated_before_the_planned_date_has_no_negative_delay(make):
    study = make.study(code="urls", languages=["en"], fallback_language="en")
    (q,) = imported(study, "fhir", public_fhir("phq9.json"), code="phq")
    version = questionnaire_publish(questionnaire=q, by=None)
    timepoint = make.timepoint(version=version, code="t0")
    participant = make.participant(study=study, pseudonym="P1")
    now = timezone.now()
    # Planned for ten days ago, expired unanswered; the paper answers are dated twenty days ago.
    make.assignment(
        participant=participant,
        timepoint=timepoint,
        due_at=now - timedelta(days=10),
        expires_at=now - timedelta(days=3),
        status=Assignment.Status.EXPIRED,
    )
    legacy = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{canonical_url(version)}|1",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:ressenti:study:urls:pseudonym", "value": "P1"}},
        "authored": (now - timedelta(days=20)).isoformat(),
        "item": [
            {"linkId": link, "answer": [{"valueCoding": {"code": code}}]} for link, code in answers_of(version).items()
        ],
    }
    result = responses_import(study=study, timepoint=timepoint, content=ndjson(legacy), by=None)
    assert result.ok and result.created == 1, result.problems
    (row,) = responses_stream(ExportSpec(study_id=study.pk))
    assert row.source == Response.Source.IMPORTED and row.submitted_at < row.due_at
    assert row.delay_hours is None
    # Answers dated after the planned date keep their delay from it.
    response = Response.objects.get()
    response.submitted_at = row.due_at + timedelta(hours=30)
    response.save()
    (row,) = responses_stream(ExportSpec(study_id=study.pk))
    assert row.delay_hours == 30
