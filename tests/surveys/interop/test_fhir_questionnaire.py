"""FHIR R4 Questionnaire: import (every supported element, clear refusals), export validated, round trips."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

from surveys.answering import rendering
from surveys.interop.fhir.draft_rows import RowsRefused, questionnaire_rows_from_source, rows_losses
from surveys.interop.fhir.questionnaire_export import canonical_url, questionnaire_export, questionnaire_export_text
from surveys.interop.fhir.questionnaire_import import EXT_ANSWER_EXPRESSION, EXT_CALCULATED, question_count
from surveys.interop.fhir.validation import FhirInvalid
from surveys.interop.imports import ImportRefused, import_parse, questionnaire_import
from surveys.models import Item, Questionnaire
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.conftest import need_service
from tests.paths import PUBLIC_FIXTURES

FIXTURES = PUBLIC_FIXTURES
EXT_UNKNOWN = "http://example.org/fhir/StructureDefinition/origin"
EXT_HINT = "http://example.org/fhir/StructureDefinition/hint"


def tr(en: str, fr: str, key: str = "text") -> dict:
    """A text and its French translation (FHIR translation extension)."""
    return {
        key: en,
        f"_{key}": {
            "extension": [
                {
                    "url": fhir.EXT_TRANSLATION,
                    "extension": [{"url": "lang", "valueCode": "fr"}, {"url": "content", "valueString": fr}],
                }
            ]
        },
    }


def coding(code: str, en: str, fr: str, **extra: Any) -> dict:
    return {"valueCoding": {"system": "http://example.org/codes", "code": code, **tr(en, fr, "display")}, **extra}


def ordinal(value: float) -> dict:
    return {"url": fhir.EXT_ORDINAL, "valueDecimal": value}


def weight(value: float) -> dict:
    return {"url": values.EXT_ITEM_WEIGHT, "valueDecimal": value}


def rich() -> dict:
    """Every supported element, in English with French translations."""
    return {
        "resourceType": "Questionnaire",
        "url": "http://example.org/fhir/Questionnaire/wellbeing",
        "name": "WellbeingCheck",
        **tr("Well-being check", "Bilan de bien-être", "title"),
        "status": "draft",
        "language": "en",
        "extension": [{"url": EXT_UNKNOWN, "valueString": "trial 12"}],
        "item": [
            {
                "linkId": "g1",
                "type": "group",
                **tr("Your week", "Votre semaine"),
                "item": [
                    {
                        "linkId": "mood",
                        "type": "choice",
                        "required": True,
                        **tr("How was your mood?", "Votre humeur ?"),
                        "extension": [{"url": EXT_HINT, "valueString": "kept"}],
                        "answerOption": [
                            coding("good", "Good", "Bonne", extension=[ordinal(0)]),
                            coding(
                                "bad", "Bad", "Mauvaise", extension=[weight(2), {"url": EXT_HINT, "valueInteger": 3}]
                            ),
                        ],
                    },
                    {
                        "linkId": "g1a",
                        "type": "group",
                        **tr("Sleep", "Sommeil"),
                        "enableWhen": [
                            {
                                "question": "mood",
                                "operator": "=",
                                "answerCoding": {"system": "http://example.org/codes", "code": "bad"},
                            }
                        ],
                        "item": [
                            {
                                "linkId": "sleep_hours",
                                "type": "integer",
                                **tr("Hours of sleep", "Heures de sommeil"),
                                "extension": [
                                    {"url": fhir.EXT_MIN, "valueInteger": 0},
                                    {"url": fhir.EXT_MAX, "valueInteger": 24},
                                ],
                                "initial": [{"valueInteger": 7}],
                            },
                        ],
                    },
                    {
                        "linkId": "helpers",
                        "type": "choice",
                        "repeats": True,
                        **tr("Who helps you?", "Qui vous aide ?"),
                        "answerOption": [{"valueString": "family"}, {"valueString": "friends"}],
                    },
                    {
                        "linkId": "comment",
                        "type": "string",
                        "maxLength": 200,
                        **tr("Tell us more", "Dites-nous en plus"),
                        "enableBehavior": "any",
                        "enableWhen": [
                            {"question": "mood", "operator": "=", "answerCoding": {"code": "bad"}},
                            {"question": "sleep_hours", "operator": "<", "answerInteger": 5},
                        ],
                    },
                    {"linkId": "smoker", "type": "boolean", **tr("Do you smoke?", "Fumez-vous ?")},
                    {
                        "linkId": "site_name",
                        "type": "string",
                        "readOnly": True,
                        **tr("Practice", "Cabinet"),
                        "initial": [{"valueString": "Cabinet Martin"}],
                    },
                ],
            },
            {
                "linkId": "g2",
                "type": "group",
                **tr("Your health", "Votre santé"),
                "item": [
                    {
                        "linkId": "weight",
                        "type": "decimal",
                        **tr("Weight (kg)", "Poids (kg)"),
                        "extension": [
                            {"url": fhir.EXT_MIN, "valueDecimal": 20.5},
                            {"url": fhir.EXT_MAX, "valueDecimal": 300},
                        ],
                    },
                    {"linkId": "visit", "type": "date", **tr("Last visit", "Dernière visite")},
                    {"linkId": "notes", "type": "text", **tr("Notes", "Notes")},
                    {
                        "linkId": "stairs",
                        "type": "choice",
                        **tr("Flights of stairs", "Étages"),
                        "answerOption": [
                            {"valueInteger": 0, "extension": [weight(0)]},
                            {"valueInteger": 1, "extension": [weight(1)]},
                        ],
                    },
                    {"linkId": "thanks", "type": "display", **tr("Thank you.", "Merci.")},
                ],
            },
        ],
    }


def parse(study, definition: dict | bytes, **options):
    content = definition if isinstance(definition, bytes) else json.dumps(definition).encode()
    return import_parse(format_="fhir", content=content, study=study, **options)


def imported(study, definition: dict, **options) -> Questionnaire:
    result = parse(study, definition, **options)
    assert result.ok, result.problems
    [questionnaire] = questionnaire_import(study=study, result=result, format_="fhir", by=None)
    return questionnaire


def diff_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in sorted(set(a) | set(b)) for p in diff_paths(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [p for i, (x, y) in enumerate(zip(a, b, strict=True)) for p in diff_paths(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def public(name: str) -> bytes:
    path = FIXTURES / "fhir" / name
    need_service("public fixtures", path.exists(), f"{path} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    return path.read_bytes()


def public_names() -> list[str]:
    folder = FIXTURES / "fhir"
    return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else ["phq9.json", "enablewhen-basic.json"]


# --- import ---------------------------------------------------------------------------------------------


def test_rich_questionnaire_imports_with_every_element_kept(make):
    study = make.study()
    result = parse(study, rich())
    assert result.ok, result.problems
    [found] = result.questionnaires
    assert found.code == "wellbeingcheck"
    assert found.definition["item"] == rich()["item"]
    warned = {(w.where, w.message.split(":")[0]) for w in found.warnings}
    assert ("item site_name", "readOnly") in warned
    assert ("item sleep_hours", "initial") in warned
    q = imported(study, rich())
    assert q.source_format == "fhir" and q.title_en == "Well-being check" and q.title_fr == "Bilan de bien-être"
    assert q.source_definition["extension"] == [{"url": EXT_UNKNOWN, "valueString": "trial 12"}]
    assert not q.items.exists()


def test_types_and_choices_are_read_as_our_item_types(make):
    definition = rich()
    nodes = {n["linkId"]: n for n in fhir.iter_items(definition["item"])}
    assert fhir.item_type(nodes["mood"]) == Item.Type.SINGLE
    assert fhir.item_type(nodes["helpers"]) == Item.Type.MULTIPLE  # repeats on a choice
    assert fhir.item_type(nodes["smoker"]) == Item.Type.YES_NO
    assert fhir.item_type(nodes["notes"]) == Item.Type.LONG_TEXT


def test_imported_draft_renders_nested_groups_and_hides_read_only_items(make):
    q = imported(make.study(), rich())
    definition = fhir.definition_from_draft(q)
    pages = rendering.build_pages(definition, "fr")
    assert [p.title for p in pages] == ["Votre semaine", "Votre santé"]
    first = [n["linkId"] for n in pages[0].nodes]
    assert "site_name" not in first  # read-only: never asked
    assert first.index("g1a") < first.index("sleep_hours")  # the nested group's title comes first
    assert "sleep_hours" not in conditions.enabled_ids(definition, {"mood": "good"})
    assert {"g1a", "sleep_hours", "comment"} <= conditions.enabled_ids(definition, {"mood": "bad"})
    # enableBehavior any, but a hidden answer counts as none.
    assert "comment" not in conditions.enabled_ids(definition, {"mood": "good", "sleep_hours": 3})  # hidden: unanswered
    html = rendering.render_preview(RequestFactory().get("/"), definition=definition, language="fr").content.decode()
    assert "Sommeil" in html and "Bonne" in html and "Cabinet Martin" not in html


def test_language_comes_from_the_file_or_the_choice_and_regions_are_dropped(make):
    study = make.study()
    definition = rich()
    definition["language"] = "en-GB"
    assert parse(study, definition).questionnaires[0].definition["language"] == "en"
    del definition["language"]
    assert parse(study, definition).questionnaires[0].definition["language"] == "en"  # default
    assert parse(study, definition, language="fr").questionnaires[0].definition["language"] == "fr"
    definition["language"] = "de"
    result = parse(study, definition)
    assert not result.ok and "language de" in result.problems[0].message


def test_missing_translations_are_announced_for_publishing(make):
    study = make.study(languages=["fr", "en"])
    definition = {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Only English",
        "item": [{"linkId": "a", "type": "string", "text": "Name a colour"}],
    }
    [found] = parse(study, definition).questionnaires
    assert any("no fr version" in w.message and "2 texts" in w.message for w in found.warnings)


def test_code_comes_from_name_then_id_then_title_and_can_be_chosen(make):
    study = make.study()
    base = {"resourceType": "Questionnaire", "status": "active", "item": [{"linkId": "a", "type": "string"}]}
    assert parse(study, {**base, "id": "my-id", "title": "T"}).questionnaires[0].code == "my-id"
    assert parse(study, {**base, "title": "Patient Health " * 5}).questionnaires[0].code == (
        "patient-health-patient-health-patient-he"
    )
    assert parse(study, {**base, "name": "X"}, code="chosen_one").questionnaires[0].code == "chosen_one"
    bad = parse(study, {**base, "name": "X"}, code="no spaces")
    assert not bad.ok and bad.problems[0].where == "code"


def test_code_already_used_in_the_study_is_a_problem(make):
    study = make.study()
    make.questionnaire(study=study, code="wellbeingcheck")
    result = parse(study, rich())
    assert not result.ok and "already has a questionnaire" in result.problems[0].message
    assert parse(study, rich(), code="wellbeing2").ok


def test_bundle_of_questionnaires_imports_each_with_distinct_codes(make):
    study = make.study()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": rich()}, {"resource": rich()}]}
    result = parse(study, bundle)
    assert result.ok, result.problems
    assert [q.code for q in result.questionnaires] == ["wellbeingcheck", "wellbeingcheck-2"]
    created = questionnaire_import(study=study, result=result, format_="fhir", by=None)
    assert len(created) == 2
    bundle["entry"].append({"resource": {"resourceType": "Patient"}})
    result = parse(study, bundle)
    assert not result.ok and result.problems[0].where == "entry 3"


@pytest.mark.parametrize(
    "content, where, words",
    [
        (b'{"resourceType": "Questionnaire",\n "status": }', "line 2, column 12", "invalid JSON"),
        (b'{"resourceType": "Patient"}', "resourceType", "is Patient"),
        (b"\xff\xfe", "file", "UTF-8"),
    ],
)
def test_broken_files_say_where(make, content, where, words):
    study = make.study()
    result = parse(study, content)
    assert not result.ok
    assert result.problems[0].where == where and words in result.problems[0].message
    with pytest.raises(ImportRefused):
        questionnaire_import(study=study, result=result, format_="fhir", by=None)
    assert not Questionnaire.objects.filter(study=study).exists()


def _with_item(**node: Any) -> dict:
    definition = rich()
    definition["item"][1]["item"].append({"linkId": "odd", "text": "Odd", **node})
    return definition


@pytest.mark.parametrize(
    "node, words",
    [
        ({"type": "attachment"}, "type attachment"),
        ({"type": "reference"}, "type reference"),
        ({"type": "url"}, "type url"),
        ({"type": "quantity"}, "type quantity"),
        ({"type": "choice", "answerValueSet": "http://loinc.org/vs/LL358-3"}, "answerValueSet"),
        (
            {
                "type": "choice",
                "answerOption": [{"valueCoding": {"code": "a"}}],
                "extension": [
                    {"url": EXT_ANSWER_EXPRESSION, "valueExpression": {"language": "text/fhirpath", "expression": "1"}}
                ],
            },
            "answerExpression",
        ),
        ({"type": "string", "repeats": True}, "repeats"),
        ({"type": "group", "repeats": True, "item": [{"linkId": "in", "type": "string", "text": "x"}]}, "repeats"),
        (
            {"type": "string", "enableWhen": [{"question": "nowhere", "operator": "=", "answerString": "x"}]},
            "enableWhen[0]: refers to nowhere",
        ),
        (
            {"type": "string", "enableWhen": [{"question": "odd", "operator": "exists", "answerBoolean": True}]},
            "refers to odd, which is not an item before this one",
        ),
        (
            {"type": "string", "enableWhen": [{"question": "mood", "operator": "=", "answerCoding": {"code": "meh"}}]},
            "has no option meh",
        ),
        (
            {"type": "string", "enableWhen": [{"question": "mood", "operator": "=", "answerBoolean": True}]},
            "answerBoolean cannot be compared",
        ),
        ({"type": "string", "unknownElement": 1}, "Extra inputs are not permitted"),
        ({"type": "integer", "extension": [{"url": fhir.EXT_MIN, "valueString": "low"}]}, "minValue"),
    ],
)
def test_what_cannot_be_represented_is_refused_naming_the_item(make, node, words):
    result = parse(make.study(), _with_item(**node))
    assert not result.ok
    assert any(p.where == "item odd" and words in p.message for p in result.problems), result.problems


def test_items_nested_under_a_question_come_after_it_and_hide_with_it(make):
    """R4 lets a question carry items (a follow-up, an instruction): on the same page, right after it."""
    definition = _with_item(
        type="boolean",
        enableWhen=[{"question": "mood", "operator": "exists", "answerBoolean": True}],
        item=[
            {"linkId": "odd-note", "type": "display", "text": "Think of the last week."},
            {"linkId": "odd-why", "type": "string", "text": "Why?"},
        ],
    )
    result = parse(make.study(), definition)
    assert result.ok, result.problems
    [found] = result.questionnaires
    pages = rendering.build_pages(found.definition, "en")
    ids = [str(n.get("linkId")) for page in pages for n in page.nodes]
    assert ids[ids.index("odd") + 1 : ids.index("odd") + 3] == ["odd-note", "odd-why"]
    # Hidden with the question they belong to, shown with it.
    assert not {"odd", "odd-note", "odd-why"} & conditions.enabled_ids(found.definition, {})
    assert {"odd", "odd-note", "odd-why"} <= conditions.enabled_ids(found.definition, {"mood": "good"})


def test_enable_when_on_a_calculated_item_is_taken_and_reads_its_value(make):
    definition = json.loads(public("phq9.json"))
    definition["item"].append(
        {
            "linkId": "severe",
            "type": "display",
            "text": "Severe",
            "enableWhen": [{"question": "/44261-6", "operator": ">=", "answerDecimal": 20}],
        }
    )
    result = parse(make.study(), definition)
    assert not any(p.where == "item severe" for p in result.problems), result.problems
    # The total is computed (FHIRPath): nine "Nearly every day" (3) make 27, nine "Not at all" 0.
    scored = definition["item"][:9]
    assert "severe" in conditions.enabled_ids(definition, {n["linkId"]: "LA6571-9" for n in scored})
    assert "severe" not in conditions.enabled_ids(definition, {n["linkId"]: "LA6568-5" for n in scored})


# --- public fixtures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", public_names())
def test_every_public_fixture_imports_and_renders_in_the_preview(make, client, name):
    study = make.study(languages=["en"], fallback_language="en")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    result = parse(study, public(name))
    assert result.ok, result.problems
    [q] = questionnaire_import(study=study, result=result, format_="fhir", by=None)
    client.force_login(user)
    frame = client.get(f"/admin/surveys/questionnaire/{q.pk}/preview/frame/?lang=en")
    assert frame.status_code == 200
    first = next(n for n in fhir.iter_items(q.source_definition["item"]) if n.get("type") != "group")
    assert first["text"] in frame.content.decode()


def test_phq9_total_is_computed_and_shown_read_only(make):
    study = make.study(languages=["en"], fallback_language="en")
    [found] = parse(study, public("phq9.json")).questionnaires
    messages = [w for w in found.warnings if w.where == "item /44261-6"]
    assert not any("calculatedExpression" in w.message for w in messages)
    # Its FHIRPath variable names are not R4 ids: renamed, uses included, so the export stays valid R4.
    assert any("q1_value" in w.message and "q1value" in w.message for w in messages)
    total = next(n for n in found.definition["item"] if n["linkId"] == "/44261-6")
    calculated = next(e for e in total["extension"] if e["url"] == EXT_CALCULATED)
    assert "%q1value" in calculated["valueExpression"]["expression"]
    assert "%q1_value" not in calculated["valueExpression"]["expression"]
    # Shown on the page as a value (never an input: not a question a patient answers).
    pages = rendering.build_pages(found.definition, "en")
    assert "/44261-6" in [n["linkId"] for p in pages for n in p.nodes]
    assert question_count(found.definition) == 10


# --- export and round trips -------------------------------------------------------------------------------


def test_export_of_a_designed_version_is_valid_fhir_with_canonical_and_version(make):
    version = make.published_version()
    exported = questionnaire_export(version)
    FhirQuestionnaire.model_validate(exported)
    q = version.questionnaire
    assert exported["url"] == f"urn:ressenti:questionnaire:{q.study.code}:{q.code}"
    assert exported["version"] == "1" and exported["status"] == "active"
    assert json.loads(questionnaire_export_text(version)) == exported


def test_export_failure_names_the_path(make):
    version = make.published_version()
    broken = copy.deepcopy(version.definition)
    broken["item"][0]["bogus"] = True
    version.definition = broken
    with pytest.raises(FhirInvalid, match=r"item\[0\]\.bogus"):
        questionnaire_export(version)


def test_round_trip_of_the_rich_questionnaire_keeps_every_element(make):
    study = make.study(languages=["en", "fr"], fallback_language="en")
    q = imported(study, rich())
    version = questionnaire_publish(questionnaire=q, by=None)
    exported = questionnaire_export(version)
    original = rich()
    # Our canonical URL; the file's own stays in derivedFrom.
    assert exported["url"] == canonical_url(version) and exported["version"] == "1"
    assert exported["derivedFrom"] == [original["url"]]
    assert diff_paths(original["item"], exported["item"]) == []
    for key in ("name", "title", "_title", "language"):
        assert exported[key] == original[key]
    assert original["extension"][0] in exported["extension"]
    # Every element, compared one by one, for the record.
    nodes = {n["linkId"]: n for n in fhir.iter_items(exported["item"])}
    assert nodes["mood"]["required"] is True and nodes["helpers"]["repeats"] is True
    assert nodes["site_name"]["readOnly"] is True and nodes["sleep_hours"]["initial"] == [{"valueInteger": 7}]
    assert nodes["comment"]["maxLength"] == 200 and nodes["comment"]["enableBehavior"] == "any"
    assert fhir.ext_value(nodes["weight"], fhir.EXT_MIN) == 20.5
    assert nodes["mood"]["answerOption"][1]["extension"][0] == weight(2)
    assert nodes["g1a"]["enableWhen"][0]["answerCoding"]["code"] == "bad"
    # Imported again, the export gives the same questionnaire.
    again = parse(make.study(languages=["en", "fr"], fallback_language="en"), exported)
    assert again.ok, again.problems
    assert diff_paths(again.questionnaires[0].definition["item"], original["item"]) == []


@pytest.mark.parametrize("name", public_names())
def test_round_trip_of_public_fixtures_keeps_every_element(make, name):
    study = make.study(languages=["en"], fallback_language="en")
    original = json.loads(public(name))
    q = imported(study, original)
    exported = questionnaire_export(questionnaire_publish(questionnaire=q, by=None))
    differences = diff_paths(original["item"], exported["item"])
    # Only the renamed FHIRPath variables (not valid R4 ids) differ.
    assert all(".valueExpression." in d for d in differences), differences
    for key in set(original) - {"status", "item", "version", "url"}:
        assert exported[key] == original[key], key
    source = f"{original['url']}|{original['version']}" if original.get("version") else original.get("url")
    assert exported["url"] == f"urn:ressenti:questionnaire:{study.code}:{q.code}"
    assert exported.get("derivedFrom") == ([source] if source else None)


def test_round_trip_of_a_designed_questionnaire(make):
    source = make.published_version()
    study = make.study()
    q = imported(study, questionnaire_export(source))
    assert fhir.item_type(q.source_definition["item"][0]["item"][1]) == Item.Type.LONG_TEXT
    version = questionnaire_publish(questionnaire=q, by=None)
    assert diff_paths(source.definition["item"], version.definition["item"]) == []
    exported = questionnaire_export(version)
    assert exported["url"] == canonical_url(version) != canonical_url(source)
    assert exported["derivedFrom"] == [f"{canonical_url(source)}|1"]


# --- copying into rows ---------------------------------------------------------------------------------------


def test_designed_export_reimported_copies_into_rows_exactly(make):
    source = make.published_version()
    q = imported(make.study(), questionnaire_export(source))
    q.source_definition.pop("derivedFrom")  # the source's canonical would be lost: the copy names it
    q.save()
    assert rows_losses(q) == []
    questionnaire_rows_from_source(questionnaire=q, by=None)
    q.refresh_from_db()
    assert q.source_definition is None and q.items.count() == 3 and q.sections.count() == 1
    assert diff_paths(source.definition["item"], fhir.definition_from_draft(q)["item"]) == []


def test_copy_into_rows_refuses_and_lists_what_would_be_lost(make):
    q = imported(make.study(), rich())
    losses = [str(p) for p in rows_losses(q)]
    for words in (
        "a group inside a group",
        "readOnly",
        "initial",
        EXT_HINT,
        EXT_UNKNOWN,
        "system",
        "valueString",
        "source questionnaire",
    ):
        assert any(words in loss for loss in losses), (words, losses)
    with pytest.raises(RowsRefused):
        questionnaire_rows_from_source(questionnaire=q, by=None)
    q.refresh_from_db()
    assert q.source_definition and not q.items.exists()


def test_copy_into_rows_refuses_codes_the_rows_do_not_accept(make):
    q = imported(make.study(languages=["en"], fallback_language="en"), json.loads(public("enablewhen-basic.json")))
    assert any("code 4.1" in str(p) for p in rows_losses(q))


# --- commands ---------------------------------------------------------------------------------------------------


def test_import_questionnaire_command_reports_problems_and_writes_nothing(make, tmp_path, capsys):
    study = make.study()
    path = tmp_path / "q.json"
    path.write_text(json.dumps(_with_item(type="attachment")))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_questionnaire", study.code, str(path), "--format", "fhir")
    assert "item odd: type attachment" in capsys.readouterr().err
    assert not Questionnaire.objects.filter(study=study).exists()


def test_import_questionnaire_command_dry_run_then_import_with_code(make, tmp_path, capsys):
    study = make.study()
    path = tmp_path / "q.json"
    path.write_text(json.dumps(rich()))
    call_command("import_questionnaire", study.code, str(path), "--format", "fhir", "--dry-run")
    assert "dry run" in capsys.readouterr().out and not Questionnaire.objects.filter(study=study).exists()
    call_command("import_questionnaire", study.code, str(path), "--format", "fhir", "--code", "wb")
    assert Questionnaire.objects.get(study=study).code == "wb"


def test_export_questionnaire_command_writes_the_version(make, tmp_path):
    version = make.published_version()
    q = version.questionnaire
    out = tmp_path / "out.json"
    call_command("export_questionnaire", q.study.code, q.code, "--format", "fhir", "--output", str(out))
    assert json.loads(out.read_text()) == questionnaire_export(version)
    with pytest.raises(CommandError, match="no version 9"):
        call_command("export_questionnaire", q.study.code, q.code, "--version", "9", "--format", "fhir")


def test_export_with_introduction_safety_message_and_rules_in_two_languages_is_valid_fhir(make):
    # Our text extensions hold a part per language: FHIR refuses translations inside an extension's value.
    from surveys.interop import library

    study = make.study(languages=["fr", "en"])
    questionnaire = library.instrument_import(study=study, code="who5", by=None)
    questionnaire.safety_message_fr, questionnaire.safety_message_en = "Appelez le 3114.", "Call 3114."
    questionnaire.save()
    exported = questionnaire_export(questionnaire_publish(questionnaire=questionnaire, by=None))
    assert fhir.extension_text(exported, fhir.EXT_SAFETY, "en") == "Call 3114."
    # An imported draft keeps the file's introduction (WHO-5's, in both languages).
    assert fhir.extension_text(exported, fhir.EXT_INTRO, "en", exact=True).startswith("Please indicate")
    assert fhir.rules_of(exported)["scores"]
    FhirQuestionnaire.model_validate(exported)


def test_a_designed_time_item_and_a_condition_on_it_go_out_and_come_back_unchanged(make):
    q = make.questionnaire()
    page = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="wake", type="time", section=page)
    late = make.item(questionnaire=q, link_id="late", type="yes_no", section=page)
    make.condition(item=late, question="wake", operator=">", answer="09:30")
    source = questionnaire_publish(questionnaire=q, by=None)
    exported = questionnaire_export(source)
    wake = exported["item"][0]["item"][0]
    assert wake["type"] == "time"
    assert exported["item"][0]["item"][1]["enableWhen"] == [
        {"question": "wake", "operator": ">", "answerTime": "09:30:00"}
    ]
    copy_ = imported(make.study(), exported)
    version = questionnaire_publish(questionnaire=copy_, by=None)
    assert diff_paths(source.definition["item"], version.definition["item"]) == []
    assert "late" in conditions.enabled_ids(version.definition, {"wake": "10:00"})
    assert "late" not in conditions.enabled_ids(version.definition, {"wake": "09:30"})
