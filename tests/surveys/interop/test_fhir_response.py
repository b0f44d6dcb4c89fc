"""FHIR R4 QuestionnaireResponse: export (one per response, nested, validated) and legacy import (all or nothing)."""

from __future__ import annotations

import inspect
import json
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse

from surveys.interop.fhir.response_export import response_export, responses_export_ndjson
from surveys.interop.fhir.response_import import ResponsesImport, responses_import
from surveys.models import Assignment, Participant, Response
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.interop.test_fhir_questionnaire import imported, rich

URL = "http://example.org/fhir/Questionnaire/wellbeing"
ANSWERS = {
    "mood": "bad",
    "sleep_hours": 6,
    "helpers": ["family", "friends"],
    "comment": "tired",
    "smoker": False,
    "weight": 70.5,
    "visit": "2025-01-02",
    "notes": "Slept badly",
    "stairs": "1",
}
RULES = {
    "scores": [{"name": "total", "label": {"en": "Total", "fr": "Total"}, "items": ["mood", "stairs"], "method": "sum"}]
}


@pytest.fixture
def setting(make):
    """A study with the rich imported questionnaire published (scored), a timepoint and a participant."""
    study = make.study(code="wb-study", languages=["en", "fr"], fallback_language="en")
    q = imported(study, rich())
    q.rules = RULES
    q.save()
    version = questionnaire_publish(questionnaire=q, by=None)
    timepoint = make.timepoint(version=version, code="baseline")
    participant = make.participant(study=study, pseudonym="ST01-AAAAA")

    class Setting:
        pass

    s = Setting()
    s.study, s.version, s.timepoint, s.participant, s.make = study, version, timepoint, participant, make
    return s


def answered(s, *, answers=None, status="completed", participant=None) -> Response:
    assignment = s.make.assignment(participant=participant or s.participant, timepoint=s.timepoint)
    return s.make.response(
        assignment=assignment,
        status=status,
        answers=ANSWERS if answers is None else answers,
        scores={"total": {"value": 3}} if status == "completed" else {},
    )


def legacy(pseudonym: str = "ST01-AAAAA", *, items=None, **extra) -> dict:
    """A QuestionnaireResponse as another system would write it."""
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": URL,
        "status": "completed",
        "subject": {"identifier": {"system": "urn:ressenti:study:wb-study:pseudonym", "value": pseudonym}},
        "authored": "2024-03-05T10:00:00+01:00",
        "item": items
        if items is not None
        else [
            {
                "linkId": "g1",
                "item": [
                    {
                        "linkId": "mood",
                        "answer": [{"valueCoding": {"system": "http://example.org/codes", "code": "good"}}],
                    },
                    {"linkId": "smoker", "answer": [{"valueBoolean": True}]},
                ],
            },
            {"linkId": "g2", "item": [{"linkId": "stairs", "answer": [{"valueInteger": 1}]}]},
        ],
        **extra,
    }


def ndjson(*resources) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in resources).encode()


def run(s, content: bytes, **kw) -> ResponsesImport:
    return responses_import(study=s.study, timepoint=s.timepoint, content=content, by=None, **kw)


# --- export --------------------------------------------------------------------------------------------------


def test_export_nests_answers_like_the_groups_and_names_the_questionnaire(setting):
    response = answered(setting)
    exported = response_export(response)
    FhirQuestionnaireResponse.model_validate(exported)
    # Our canonical URL, not the source file's (several questionnaires may come from it).
    assert exported["questionnaire"] == "urn:ressenti:questionnaire:wb-study:wellbeingcheck|1"
    assert exported["status"] == "completed"
    assert exported["authored"] == response.submitted_at.isoformat()
    assert exported["subject"] == {
        "identifier": {"system": "urn:ressenti:study:wb-study:pseudonym", "value": "ST01-AAAAA"}
    }
    assert exported["identifier"]["value"] == "ST01-AAAAA/baseline/1"
    g1, g2 = exported["item"]
    assert g1["linkId"] == "g1" and g1["text"] == "Your week"
    mood, sleep_group = g1["item"][0], g1["item"][1]
    assert mood["answer"] == [{"valueCoding": {"system": "http://example.org/codes", "code": "bad", "display": "Bad"}}]
    assert sleep_group["linkId"] == "g1a" and sleep_group["item"][0]["answer"] == [{"valueInteger": 6}]
    by_id = {i["linkId"]: i["answer"] for i in g1["item"] + g2["item"] if "answer" in i}
    assert by_id["helpers"] == [{"valueString": "family"}, {"valueString": "friends"}]
    assert by_id["smoker"] == [{"valueBoolean": False}]
    assert by_id["weight"] == [{"valueDecimal": 70.5}] and by_id["visit"] == [{"valueDate": "2025-01-02"}]
    assert by_id["stairs"] == [{"valueInteger": 1}] and by_id["notes"] == [{"valueString": "Slept badly"}]
    assert json.loads(exported["extension"][0]["valueString"]) == {"total": {"value": 3}}


def test_in_progress_response_is_exported_as_such(setting):
    response = answered(setting, answers={"mood": "good"}, status="in_progress")
    exported = response_export(response)
    assert exported["status"] == "in-progress" and exported["authored"] == response.updated_at.isoformat()
    assert "extension" not in exported


def test_designed_questionnaire_response_uses_our_canonical(make):
    token, assignment = make.open_link()
    response = make.response(assignment=assignment, status="completed", answers={"mood": "a1", "pain": 4})
    exported = response_export(response)
    q = assignment.timepoint.version.questionnaire
    assert exported["questionnaire"] == f"urn:ressenti:questionnaire:{q.study.code}:{q.code}|1"
    assert exported["item"][0]["item"][0]["answer"] == [
        {"valueCoding": {"code": "a1", "display": "Parfois"}}
    ]  # base language


def test_export_command_streams_one_valid_resource_per_line(setting, tmp_path, capsys):
    answered(setting)
    answered(
        setting,
        participant=setting.make.participant(study=setting.study),
        answers={"mood": "good"},
        status="in_progress",
    )
    assert inspect.isgenerator(responses_export_ndjson(study=setting.study))
    out = tmp_path / "responses.ndjson"
    call_command("export_responses_fhir", setting.study.code, "--output", str(out))
    lines = out.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        FhirQuestionnaireResponse.model_validate(json.loads(line))
    call_command("export_responses_fhir", setting.study.code, "--questionnaire", "wellbeingcheck")
    assert len(capsys.readouterr().out.splitlines()) == 2
    with pytest.raises(CommandError):
        call_command("export_responses_fhir", setting.study.code, "--questionnaire", "nope")


# --- import ---------------------------------------------------------------------------------------------------


def test_legacy_response_creates_the_completed_assignment_with_scores(setting):
    result = run(setting, ndjson(legacy()))
    assert result.ok, result.problems
    assert (result.total, result.created, result.unchanged) == (1, 1, 0)
    response = Response.objects.get(assignment__participant=setting.participant)
    assert response.status == "completed" and response.version == setting.version
    assert response.answers == {"mood": "good", "smoker": True, "stairs": "1"}
    assert response.submitted_at == datetime.fromisoformat("2024-03-05T10:00:00+01:00")
    assert response.scores["total"]["value"] == 1  # good scores 0, one flight 1
    assert response.assignment.status == "completed" and response.assignment.occurrence == 1


def test_import_refuses_an_assignment_the_patient_can_still_answer(setting):
    assignment = setting.make.assignment(participant=setting.participant, timepoint=setting.timepoint)
    result = run(setting, ndjson(legacy()))
    assert not result.ok and result.created == 0
    assignment.refresh_from_db()
    assert assignment.status != Assignment.Status.COMPLETED
    assert not Response.objects.filter(assignment=assignment).exists()


def test_importing_the_same_file_again_changes_nothing(setting):
    content = ndjson(legacy())
    run(setting, content)
    again = run(setting, content)
    assert again.ok and (again.created, again.unchanged) == (0, 1)
    assert Response.objects.filter(assignment__participant=setting.participant).count() == 1


def test_exported_responses_import_back_as_unchanged(setting):
    answered(setting)
    content = "".join(responses_export_ndjson(study=setting.study)).encode()
    result = run(setting, content)
    assert result.ok, result.problems
    assert (result.created, result.unchanged) == (0, 1)


def test_other_answers_for_a_completed_response_are_refused(setting):
    run(setting, ndjson(legacy()))
    changed = legacy(items=[{"linkId": "mood", "answer": [{"valueCoding": {"code": "bad"}}]}])
    changed["item"] += [{"linkId": "sleep_hours", "answer": [{"valueInteger": 8}]}]
    result = run(setting, ndjson(changed))
    assert not result.ok and "other answers" in result.problems[0].message
    assert Response.objects.get(assignment__participant=setting.participant).answers["mood"] == "good"


def test_every_problem_is_reported_by_line_and_nothing_is_written(setting):
    setting.make.participant(study=setting.study, pseudonym="ST01-GONE", status=Participant.Status.WITHDRAWN)
    lines = [
        json.dumps(legacy()),  # fine on its own
        '{"resourceType": "QuestionnaireResponse", ',
        json.dumps(legacy(items=[{"linkId": "nowhere", "answer": [{"valueString": "x"}]}])),
        json.dumps(legacy("ST01-NOBODY")),
        json.dumps(legacy(questionnaire="http://example.org/other")),
        json.dumps(legacy(items=[{"linkId": "mood", "answer": [{"valueCoding": {"code": "meh"}}]}])),
        json.dumps(
            legacy(
                items=[
                    {"linkId": "mood", "answer": [{"valueCoding": {"code": "good"}}]},
                    {"linkId": "smoker", "answer": [{"valueString": "yes"}]},
                ]
            )
        ),
        json.dumps(
            legacy(
                items=[
                    {"linkId": "mood", "answer": [{"valueCoding": {"code": "good"}}]},
                    {"linkId": "comment", "answer": [{"valueString": "hidden"}]},
                ]
            )
        ),
        json.dumps(legacy(items=[{"linkId": "smoker", "answer": [{"valueBoolean": True}]}])),
        json.dumps(legacy(status="in-progress")),
        json.dumps(legacy("ST01-GONE")),
        json.dumps(
            legacy(
                items=[
                    {"linkId": "mood", "answer": [{"valueCoding": {"code": "good"}}, {"valueCoding": {"code": "bad"}}]}
                ]
            )
        ),
        json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed", "bogus": 1}),
    ]
    result = run(setting, "\n".join(lines).encode())
    found = [(p.where, p.message) for p in result.problems]

    def has(where: str, words: str) -> bool:
        return any(w == where and words in m for w, m in found)

    assert has("line 2, column 43", "invalid JSON")
    assert has("line 3", "linkId nowhere is not in the questionnaire")
    assert has("line 4", "no participant ST01-NOBODY")
    assert has("line 5", "questionnaire http://example.org/other")
    assert has("line 6, item mood", "meh is not one of the options")
    assert has("line 7, item smoker", "valueBoolean")
    assert has("line 8, item comment", "display conditions hide it")
    assert has("line 9, item mood", "required question is not answered")
    assert has("line 10", "status in-progress")
    assert has("line 11", "has withdrawn")
    assert has("line 12, item mood", "several answers")
    assert has("line 13", "bogus")
    assert not any(w.startswith("line 1,") or w == "line 1" for w, _m in found)
    assert result.created == 0 and not Response.objects.exists() and not Assignment.objects.exists()


def test_bundle_entries_are_named_by_index_and_duplicates_refused(setting):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": legacy()}, {"resource": legacy()}]}
    result = run(setting, json.dumps(bundle, indent=2).encode())
    assert [(p.where, "already answered at entry 1" in p.message) for p in result.problems] == [("entry 2", True)]
    assert not Response.objects.exists()


def test_repeating_timepoint_occurrence_comes_from_our_identifier(setting):
    timepoint = setting.make.timepoint(version=setting.version, code="weekly", repeat_every=7, repeat_count=4, window=7)
    second = legacy(identifier={"system": "urn:ressenti:study:wb-study:response", "value": "ST01-AAAAA/weekly/2"})
    result = responses_import(study=setting.study, timepoint=timepoint, content=ndjson(legacy(), second), by=None)
    assert result.ok, result.problems
    assert sorted(Assignment.objects.filter(timepoint=timepoint).values_list("occurrence", flat=True)) == [1, 2]
    wrong = legacy(identifier={"system": "urn:ressenti:study:wb-study:response", "value": "ST01-AAAAA/baseline/9"})
    problems = responses_import(study=setting.study, timepoint=timepoint, content=ndjson(wrong), by=None).problems
    assert any("timepoint baseline, not weekly" in p.message for p in problems)
    assert any("occurrence 9 does not exist" in p.message for p in problems)


def test_dry_run_counts_and_writes_nothing(setting):
    result = run(setting, ndjson(legacy()), dry_run=True)
    assert result.ok and result.created == 1 and result.dry_run
    assert not Response.objects.exists()


def test_members_limited_to_a_site_import_only_their_participants(setting):
    here, there = setting.make.site(study=setting.study), setting.make.site(study=setting.study)
    setting.participant.site = there
    setting.participant.save()
    from surveys.models import Site

    result = run(setting, ndjson(legacy()), sites=Site.objects.filter(pk=here.pk))
    assert not result.ok and "no participant ST01-AAAAA" in result.problems[0].message


def test_answers_to_a_calculated_item_are_left_out_with_a_warning(make):
    from tests.surveys.interop.test_fhir_questionnaire import public

    study = make.study(code="phq", languages=["en"], fallback_language="en")
    q = imported(study, json.loads(public("phq9.json")))
    q.source_definition["url"] = "http://loinc.org/q/44249-1"
    q.save()
    version = questionnaire_publish(questionnaire=q, by=None)
    timepoint = make.timepoint(version=version, code="t0")
    make.participant(study=study, pseudonym="P1")
    codes = [("/44250-9", "LA6569-3")] + [(n["linkId"], "LA6568-5") for n in version.definition["item"][1:9]]
    resource = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://loinc.org/q/44249-1",
        "status": "completed",
        "subject": {"identifier": {"system": "urn:ressenti:study:phq:pseudonym", "value": "P1"}},
        "authored": timezone.now().isoformat(),
        "item": [
            {"linkId": link, "answer": [{"valueCoding": {"system": "http://loinc.org", "code": code}}]}
            for link, code in codes
        ]
        + [{"linkId": "/44261-6", "answer": [{"valueDecimal": 1}]}],
    }
    result = responses_import(study=study, timepoint=timepoint, content=ndjson(resource), by=None)
    assert result.ok, result.problems
    assert any(w.where == "item /44261-6" and "calculated" in w.message for w in result.warnings)
    # The file's total is not taken: it is computed again from the answers (FHIRPath), here 1 + 8 x 0.
    assert Response.objects.get().answers["/44261-6"] == 1


def test_import_command_reports_problems_and_imports(setting, tmp_path, capsys):
    bad, good = tmp_path / "bad.ndjson", tmp_path / "good.ndjson"
    bad.write_bytes(ndjson(legacy("ST01-NOBODY")))
    good.write_bytes(ndjson(legacy()))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_responses_fhir", "wb-study", "baseline", str(bad))
    assert "line 1: no participant ST01-NOBODY" in capsys.readouterr().err
    call_command("import_responses_fhir", "wb-study", "baseline", str(good), "--dry-run")
    assert "dry run" in capsys.readouterr().out and not Response.objects.exists()
    call_command("import_responses_fhir", "wb-study", "baseline", str(good))
    assert "1 imported" in capsys.readouterr().out and Response.objects.count() == 1
