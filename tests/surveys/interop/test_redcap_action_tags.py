"""REDCap's action tags for fields a participant is never asked: @HIDDEN, @HIDDEN-SURVEY, @READONLY.

The REDCap import reads them (upper case, as REDCap does) as questionnaire-hidden and readOnly, so such fields
are never put to a patient; the export writes them for our hidden, read-only and calculated items (and for the
items of a hidden group: REDCap has no groups), so REDCap, and our import of the export, do not ask them either.
The mapping lines the export writes in the annotation stay.
"""

from __future__ import annotations

import csv
import io

import pytest

from surveys.interop.imports import import_parse, questionnaire_import
from surveys.interop.redcap.dictionary import KEYS
from surveys.interop.redcap.dictionary_export import dictionary_export
from surveys.interop.redcap.fields import codebook_read
from surveys.questionnaires import conditions, fhir
from surveys.questionnaires.publish import questionnaire_publish
from tests.paths import DATA
from tests.surveys.interop.test_redcap import RECORD, dictionary, field, parse

ANNOTATION = KEYS.index("annotation")


@pytest.fixture
def study(make):
    return make.study(code="tags", languages=["en"], fallback_language="en")


# annotation -> (hidden from the patient, read-only)
IMPORTED = [
    ("@HIDDEN", True, False),
    ("@HIDDEN-SURVEY", True, False),
    ("@HIDDEN-FORM", False, False),  # hidden on the staff's data entry form only: the survey asks it
    ("@HIDDEN-APP @HIDDEN-PDF", False, False),
    ("@READONLY", False, True),
    ("@READONLY-SURVEY", False, True),
    ("@READONLY-FORM", False, False),
    ("@HIDDEN @READONLY", True, True),
    ("Baseline weight\n@HIDDEN-SURVEY @CHARLIMIT=10", True, False),
    ("@CALCTEXT(if([age] >= 18, 'adult', 'minor'))", False, True),
    ("@hidden @readonly", False, False),  # REDCap reads action tags in upper case only
    ("write to x@HIDDEN.org", False, False),
    ("@HIDDENFIELD", False, False),
    ("", False, False),
]


@pytest.mark.parametrize(("annotation", "hidden", "read_only"), IMPORTED)
def test_the_import_reads_the_tags_that_keep_a_field_from_the_survey(study, annotation, hidden, read_only):
    definitions, problems, _warnings = parse(dictionary(RECORD, field("weight", annotation=annotation)), study)
    assert problems == []
    (node,) = [n for n in fhir.iter_items(definitions["form_a"]["item"]) if n["linkId"] == "weight"]
    assert conditions.hidden_from_patient(node) is hidden
    assert bool(node.get("readOnly")) is read_only
    assert conditions.not_asked(node) is (hidden or read_only)


def test_the_tags_applied_are_not_warned_about_and_the_others_are(study):
    content = dictionary(RECORD, field("a", annotation="@HIDDEN-SURVEY @READONLY"), field("b", annotation="@NOW"))
    _definitions, problems, warnings = parse(content, study)
    assert problems == []
    assert [w for w in warnings if "@HIDDEN" in w or "@READONLY" in w] == []
    assert [w for w in warnings if "@NOW" in w]


def test_a_hidden_descriptive_text_is_hidden_and_not_read_only(study):
    content = dictionary(RECORD, field("note", "descriptive", annotation="@HIDDEN @READONLY"), field("weight"))
    definitions, problems, _warnings = parse(content, study)
    assert problems == []
    (node,) = [n for n in fhir.iter_items(definitions["form_a"]["item"]) if n["linkId"] == "note"]
    assert conditions.hidden_from_patient(node) and "readOnly" not in node


def export_rows(make, study, path) -> tuple[dict, str, dict[str, list[str]]]:
    """(the published definition, its REDCap dictionary, the dictionary's rows by variable name)."""
    parsed = import_parse(format_="fhir", content=path.read_bytes(), study=study, code="src")
    assert parsed.ok, [str(p) for p in parsed.problems]
    (source,) = questionnaire_import(study=study, result=parsed, format_="fhir", by=None)
    version = questionnaire_publish(questionnaire=source, by=None)
    exported = dictionary_export(version)
    return version.definition, exported, {r[0]: r for r in csv.reader(io.StringIO(exported))}


def linkid_of(row: list[str]) -> str:
    return codebook_read(row[ANNOTATION])[1] or row[0]


# file -> {linkId: the action tags of its exported field}, for every item never asked
EXPORTED = {
    "fhir/lforms-hidden-items.json": {
        "CE-HIDDEN": "@HIDDEN @READONLY",
        "CE-VISIBLE": "@READONLY",
        "GROUP-VISIBLE/CE-HIDDEN": "@HIDDEN @READONLY",
        "GROUP-VISIBLE/CE-VISIBLE": "@READONLY",
        "GROUP-HIDDEN/CE-HIDDEN": "@HIDDEN @READONLY",
    },
    "fhir/round-trip/sdc-hunger-vital-signs.json": {"/88124-3": "@READONLY"},
}


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_the_export_tags_never_asked_items_and_the_import_of_it_does_not_ask_them(make, study, name):
    definition, exported, rows = export_rows(make, study, DATA / "public" / name)
    by_link = {linkid_of(r): r for r in rows.values() if r[0] not in ("field_name", "record_id")}
    tagged = {}
    for link_id, row in by_link.items():
        first = row[ANNOTATION].split("\n")[0]
        if first.startswith("@HIDDEN") or first.startswith("@READONLY"):
            tagged[link_id] = first
    assert tagged == {k: v for k, v in EXPORTED[name].items() if k in by_link}
    assert set(EXPORTED[name]) <= set(by_link)
    back = import_parse(format_="redcap", content=exported.encode(), study=study, prefix="back_")
    assert back.ok, [str(p) for p in back.problems]
    (again,) = back.questionnaires
    never = {linkid_of(by_link[k]) for k in EXPORTED[name]}
    for node in fhir.iter_items(again.definition["item"]):
        assert conditions.not_asked(node) is (node["linkId"] in never), node["linkId"]


def test_the_mapping_lines_stay_below_the_tags(make, study):
    _definition, _exported, rows = export_rows(make, study, DATA / "public" / "fhir" / "lforms-hidden-items.json")
    row = next(r for r in rows.values() if linkid_of(r) == "GROUP-HIDDEN/CE-HIDDEN")
    kept, link_id, _codes = codebook_read(row[ANNOTATION])
    assert link_id == "GROUP-HIDDEN/CE-HIDDEN"
    assert kept == "@HIDDEN @READONLY"


def test_tags_read_from_redcap_are_written_back_once(make, study):
    content = dictionary(
        RECORD, field("kept", annotation="@HIDDEN-SURVEY"), field("shown", annotation="@READONLY Baseline")
    )
    result = import_parse(format_="redcap", content=content, study=study)
    (questionnaire,) = questionnaire_import(study=study, result=result, format_="redcap", by=None)
    rows = {
        r[0]: r
        for r in csv.reader(io.StringIO(dictionary_export(questionnaire_publish(questionnaire=questionnaire, by=None))))
    }
    assert rows["kept"][ANNOTATION] == "@HIDDEN-SURVEY"
    assert rows["shown"][ANNOTATION] == "@READONLY Baseline"
