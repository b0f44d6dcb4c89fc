"""FHIR R4 Questionnaire features public forms use: options from a contained ValueSet, answer options on
string, integer, date and time items, dateTime items, untitled groups, prefixes, one report per import,
and the file's own language.

Files: tests/data/public/fhir/sdc-phq9-contained-valueset.json (HL7 SDC's PHQ-9, verbatim), and
tests/data/fhir/features.json, written here: the Argonaut shape of a contained ValueSet (expansion.contains
with ordinalValue / itemWeight and French designations), an untitled group, prefixes with translations,
option prefixes, an integer and a time item with options, a dateTime item and a condition on it.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from surveys.answering import rendering
from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_write
from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.interop.fhir.questionnaire_import import _Checker, questionnaire_parse
from surveys.interop.fhir.response_export import response_export
from surveys.interop.imports import import_parse, questionnaire_import
from surveys.models import Item, Study
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from surveys.questionnaires.validation import definition_problems
from tests.paths import DATA
from tests.surveys.interop.test_import_admin import check, member

T = Item.Type
PHQ9 = DATA / "public" / "fhir" / "sdc-phq9-contained-valueset.json"
FEATURES = DATA / "fhir" / "features.json"


def features() -> dict:
    return json.loads(FEATURES.read_text(encoding="utf-8"))


def parse(study: Study, definition: dict, **options):
    return import_parse(format_="fhir", content=json.dumps(definition).encode(), study=study, **options)


def imported(make, definition: dict, *, languages=("en", "fr")):
    study = make.study(languages=list(languages), fallback_language="en")
    result = parse(study, definition)
    assert result.ok, result.problems
    [questionnaire] = questionnaire_import(study=study, result=result, format_="fhir", by=None)
    return study, questionnaire, questionnaire_publish(questionnaire=questionnaire, by=None)


def preview_html(definition: dict, language: str, page: int = 1, answers: dict | None = None) -> str:
    request = RequestFactory().get("/", answers or {})
    return rendering.render_preview(request, definition=definition, language=language, page=page).content.decode()


# --- 1. options from a contained ValueSet ---------------------------------------------------------------------


def test_the_public_phq9_takes_its_options_and_scores_from_its_contained_value_set():
    definition = json.loads(PHQ9.read_text(encoding="utf-8"))
    checker = _Checker(definition, "")
    checker.run()
    # Only its total is refused (SDC's answers() cannot be evaluated here): nothing about the value set.
    assert {p.where for p in checker.problems} <= {"item H1/TS"}, checker.problems
    items = fhir.items_by_link(definition)
    for n in range(1, 10):
        node = items[f"H1/T1/Q{n}"]
        assert "answerValueSet" not in node  # FHIR R4 que-4: not both
        assert fhir.ext_value(node, fhir.EXT_OPTIONS_FROM) == "#VSPHQ9"
        assert values.option_codes(node) == [
            "Not-at-all",
            "Several-days",
            "More than half the days",
            "Nearly every day",
        ]
        assert list(values.option_scores(node).values()) == [Decimal(0), Decimal(1), Decimal(2), Decimal(3)]
        assert node["answerOption"][0]["valueCoding"]["system"] == "http://hl7.org/fhir/uv/sdc/CodeSystem/CSPHQ9"
    assert definition["contained"][0]["id"] == "VSPHQ9"  # kept: the export is the file's content


def test_the_phq9_imports_publishes_and_scores_from_value_set_options(make):
    definition = json.loads(PHQ9.read_text(encoding="utf-8"))
    group = definition["item"][0]
    group["item"] = [i for i in group["item"] if i["linkId"] != "H1/TS"]  # the total: a scoring rule instead
    study, questionnaire, version = imported(make, definition, languages=("en",))
    questionnaire.rules = {
        "scores": [
            {
                "name": "total",
                "label": {"en": "PHQ-9 score"},
                "items": [f"H1/T1/Q{n}" for n in range(1, 10)],
                "method": "sum",
            }
        ]
    }
    questionnaire.save()
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    nodes = fhir.items_by_link(version.definition)
    assert values.as_number(nodes["H1/T1/Q3"], "More than half the days") == Decimal(2)
    # The page offers them, with their labels; a posted code is read as the choice.
    html = preview_html(version.definition, "en")
    assert 'value="More than half the days"' in html and ">Nearly every day<" in html
    assert values.parse(nodes["H1/T1/Q1"], ["Nearly every day"]) == ("Nearly every day", "")
    # The export is valid R4 (validated as it is built) and still carries the contained ValueSet.
    exported = questionnaire_export(version)
    assert exported["contained"][0]["resourceType"] == "ValueSet"


def test_the_argonaut_shape_expansion_contains_gives_options_scores_and_french_labels(make):
    _study, _q, version = imported(make, features())
    node = fhir.items_by_link(version.definition)["interest"]
    assert values.option_scores(node) == {"LA6568-5": Decimal(0), "LA6569-3": Decimal(1), "LA6570-1": Decimal(2)}
    assert [values.option_label(node, o, language="fr", base="en") for o in node["answerOption"]] == [
        "Jamais",
        "Plusieurs jours",
        "Plus de la moitié des jours",
    ]
    assert ">Plusieurs jours<" in preview_html(version.definition, "fr")


def test_an_exported_questionnaire_with_value_set_options_imports_again_with_the_same_options(make):
    study, _q, version = imported(make, features())
    exported = questionnaire_export(version)
    again = parse(make.study(languages=["en", "fr"]), exported)
    assert again.ok, again.problems
    [found] = again.questionnaires
    before, after = fhir.items_by_link(version.definition), fhir.items_by_link(found.definition)
    for link_id in ("interest", "children", "slot"):
        assert after[link_id]["answerOption"] == before[link_id]["answerOption"], link_id
    assert after["interest"]["type"] == "choice" and "answerValueSet" not in after["interest"]


@pytest.mark.parametrize(
    ("value_set", "words"),
    [
        ("http://loinc.org/vs/LL358-3", "the value set http://loinc.org/vs/LL358-3 is not in the file"),
        ("#nowhere", "the value set #nowhere is not in the file"),
    ],
)
def test_a_value_set_not_in_the_file_is_refused_naming_the_item_and_the_url(make, value_set, words):
    definition = features()
    definition["item"][0]["item"][0]["answerValueSet"] = value_set
    result = parse(make.study(languages=["en", "fr"]), definition)
    assert not result.ok
    said = [(p.where, p.message) for p in result.problems if p.where == "item interest"]
    assert len(said) == 1 and words in said[0][1], result.problems


def test_a_contained_value_set_whose_options_cannot_be_listed_is_refused_once(make):
    definition = features()
    definition["contained"][0].pop("expansion")
    definition["contained"][0]["compose"] = {"include": [{"system": "http://loinc.org"}]}
    result = parse(make.study(languages=["en", "fr"]), definition)
    said = [p.message for p in result.problems if p.where == "item interest"]
    assert len(said) == 1 and "cannot be listed from the file" in said[0], result.problems


# --- 2. answer options on string, integer, date and time items --------------------------------------------------

TYPED = [
    # (FHIR type, value[x], option values, posted, stored)
    ("integer", "valueInteger", [12, 34], "34", 34),
    ("string", "valueString", ["red", "blue"], "blue", "blue"),
    ("date", "valueDate", ["2022", "2022-09", "2022-09-20"], "2022-09", "2022-09"),
    ("time", "valueTime", ["09:00:00", "13:30:00"], "13:30", "13:30"),
]


@pytest.mark.parametrize(("fhir_type", "key", "options", "posted", "stored"), TYPED)
def test_options_on_a_typed_item_store_the_items_own_type(fhir_type, key, options, posted, stored):
    node = {"linkId": "x", "type": fhir_type, "text": "X", "answerOption": [{key: v} for v in options]}
    checker = _Checker({"resourceType": "Questionnaire", "status": "draft", "item": [node]}, "")
    checker.run()
    assert checker.problems == []
    value, error = values.parse(node, [posted])
    assert (value, error) == (stored, "")
    assert type(value) is type(stored)  # an integer item's option stores an integer
    assert values.parse(node, values.form_values(node, value)) == (value, "")
    assert values.parse(node, ["not an option"])[1] == "Choose one of the options shown."
    # Conditions compare it as the item's type: the option equals its own value written as FHIR writes it.
    expected = options[
        [
            values.option_form_text(values.kind_of(node), values.offered_value(values.kind_of(node), o))
            for o in options
        ].index(posted)
    ]
    assert values.compare(values.kind_of(node), value, "=", expected)
    # The page offers radio buttons, in a fieldset whose legend is the question.
    html = preview_html({"resourceType": "Questionnaire", "language": "en", "item": [node]}, "en")
    assert f'type="radio" name="x" value="{posted}"' in html and "<legend>X" in html


@pytest.mark.parametrize(
    ("fhir_type", "key", "option", "written", "stored"),
    [("time", "valueTime", "13:30:00", "13:30:00", "13:30"), ("integer", "valueInteger", 2, "+2", 2)],
)
def test_an_option_written_otherwise_is_that_option(fhir_type, key, option, written, stored):
    """What a FHIR QuestionnaireResponse sends (valueTime 13:30:00) is the option the page posts as 13:30."""
    node = {"linkId": "x", "type": fhir_type, "answerOption": [{key: option}]}
    assert values.parse(node, [written]) == (stored, "")


def test_options_on_a_typed_item_that_are_not_of_its_type_are_refused_per_option():
    node = {
        "linkId": "n",
        "type": "integer",
        "answerOption": [{"valueInteger": 1}, {"valueString": "two"}, {"valueInteger": 1}],
    }
    checker = _Checker({"resourceType": "Questionnaire", "item": [node]}, "")
    checker.run()
    assert [p.message for p in checker.problems] == [
        "answerOption[1]: the options of an item of type integer are valueInteger values",
        "answerOption[2]: option 1 is given more than once",
    ]


@given(st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), min_size=1, max_size=6, unique=True))
def test_integer_options_round_trip_through_the_form(numbers):
    node = {"linkId": "n", "type": "integer", "answerOption": [{"valueInteger": n} for n in numbers]}
    for code, stored, _option in values.offered_options(node):
        assert values.parse(node, [code]) == (stored, "")
        assert values.form_values(node, stored) == [code]


def test_an_integer_option_answer_exports_as_a_fhir_integer(make):
    study, _q, version = imported(make, features())
    answers = {"interest": "LA6569-3", "children": 2, "slot": "13:30"}
    response = _completed(make, version, answers)
    items = {i["linkId"]: i for i in _flat(response_export(response)["item"])}
    assert items["children"]["answer"] == [{"valueInteger": 2}]
    assert items["slot"]["answer"] == [{"valueTime": "13:30:00"}]
    assert items["interest"]["answer"][0]["valueCoding"]["system"] == "http://loinc.org"
    # the condition "children >= 2" reads the stored integer
    assert "many" in conditions.enabled_ids(version.definition, answers)
    assert "many" not in conditions.enabled_ids(version.definition, {**answers, "children": 1})


# --- 3. dateTime items -------------------------------------------------------------------------------------------

DATETIMES = [
    ("2026-03-29T02:30", "2026-03-29T02:30"),  # a wall-clock reading that does not exist in Paris: kept as typed
    ("2025-12-31T14:30:05", "2025-12-31T14:30:05"),
    ("2025-12-31T14:30:00", "2025-12-31T14:30"),
    ("31/12/2025 14:30", "2025-12-31T14:30"),
    ("2025-12-31 9:05", "2025-12-31T09:05"),
]


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31, 23, 59, 59)))
def test_every_date_and_time_the_field_sends_is_stored_and_shown_back_the_same(moment):
    """A datetime-local field sends YYYY-MM-DDTHH:MM[:SS]: stored, shown back in the field, posted again, equal;
    its FHIR form (with an offset) compares equal to it and starts with the same wall-clock reading."""
    node = {"linkId": "d", "type": "dateTime"}
    sent = moment.replace(microsecond=0).isoformat(timespec="seconds")
    stored, error = values.parse(node, [sent])
    assert error == "" and values.parse(node, values.form_values(node, stored)) == (stored, "")
    exported = values.fhir_datetime(stored, "Europe/Paris")
    assert values.compare(T.DATETIME, stored, "=", exported)
    assert exported.startswith(sent)


@pytest.mark.parametrize(("posted", "stored"), DATETIMES)
def test_a_date_and_time_is_stored_as_the_patients_wall_clock_reading(posted, stored):
    node = {"linkId": "d", "type": "dateTime"}
    assert values.parse(node, [posted]) == (stored, "")
    assert values.parse(node, values.form_values(node, stored)) == (stored, "")


@pytest.mark.parametrize(
    "posted", ["2025-12-31", "14:30", "2025-12-31T14:30+01:00", "2025-13-01T10:00", "1850-01-01T10:00"]
)
def test_a_date_and_time_that_is_not_one_is_refused_with_a_message(posted):
    value, error = values.parse({"linkId": "d", "type": "dateTime"}, [posted])
    assert value is None and error


@pytest.mark.parametrize(
    ("answer", "operator", "expected", "holds"),
    [
        ("2026-01-01T08:01", ">", "2026-01-01T08:00:00+01:00", True),
        ("2026-01-01T08:00", ">", "2026-01-01T08:00:00+01:00", False),
        ("2026-01-01T08:00", "=", "2026-01-01T08:00:00Z", True),  # the clock time the authors wrote
        ("2026-01-01T08:00", "<=", "2026-01-02", True),  # an earlier day, whatever the precision
        ("2026-01-02T08:00", "<=", "2026-01-02", None),  # the same day at another precision: undecided, so false
        ("2026-01-01T08:00", "!=", "2026-01-01T09:00:00+01:00", True),
    ],
)
def test_date_and_time_conditions_compare_wall_clock_readings(answer, operator, expected, holds):
    assert values.compare(T.DATETIME, answer, operator, expected) is bool(holds)


def test_a_datetime_item_goes_from_file_to_page_to_exports(make):
    study, _q, version = imported(make, features())
    definition = version.definition
    pages = rendering.build_pages(definition, "en")
    when = next(i for i, p in enumerate(pages) if any(n.get("linkId") == "onset" for n in p.nodes))
    html = preview_html(definition, "en", page=when + 1)
    assert 'type="datetime-local"' in html and 'aria-describedby="f-onset-fmt"' in html
    assert "recent" in conditions.enabled_ids(definition, {"onset": "2026-01-02T10:30"})
    assert "recent" not in conditions.enabled_ids(definition, {"onset": "2025-12-30T10:30"})
    answers = {"interest": "LA6568-5", "onset": "2026-01-02T10:30", "recent": True}
    response = _completed(make, version, answers)
    # FHIR needs an offset on a time: the study's (Europe/Paris, +01:00 in January).
    items = {i["linkId"]: i for i in _flat(response_export(response)["item"])}
    assert items["onset"]["answer"] == [{"valueDateTime": "2026-01-02T10:30:00+01:00"}]
    wide = list(csv.DictReader(io.StringIO(_export(study, "wide_csv").decode())))
    onset = next(v for k, v in wide[0].items() if k.endswith("onset"))
    assert onset == "2026-01-02T10:30:00"
    long = list(csv.DictReader(io.StringIO(_export(study, "long_csv").decode())))
    assert any(r["item"] == "onset" and r["value"] == "2026-01-02T10:30:00" for r in long)
    codebook = _export(study, "codebook_csv").decode()
    assert "the patient's own clock" in codebook


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_a_datetime_item_is_a_datetime_variable_in_spss_and_stata(make, fmt, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    study, _q, version = imported(make, features())
    _completed(make, version, {"interest": "LA6568-5", "onset": "2026-01-02T10:30"})
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(_export(study, fmt))
    frame, _meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(path))
    column = next(c for c in frame.columns if c.endswith("onset"))
    assert frame[column][0] == dt.datetime(2026, 1, 2, 10, 30)


def test_a_designed_datetime_item_publishes_a_valid_fhir_definition(make):
    questionnaire = make.questionnaire(study=make.study(languages=["en"], fallback_language="en"), title_en="Q")
    onset = Item.objects.create(questionnaire=questionnaire, link_id="onset", type=T.DATETIME, text_en="When?")
    later = Item.objects.create(questionnaire=questionnaire, link_id="later", type=T.YES_NO, text_en="Worse?", order=1)
    later.conditions.create(question="onset", operator=">", answer="2026-01-01T08:00")
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    node = fhir.items_by_link(version.definition)
    assert node[onset.link_id]["type"] == "dateTime"
    assert node["later"]["enableWhen"][0]["answerDateTime"] == "2026-01-01T08:00:00+01:00"
    questionnaire_export(version)  # validated as R4 on the way out


# --- 4. groups without text ---------------------------------------------------------------------------------------


def test_an_untitled_group_publishes_and_its_page_has_no_heading(make):
    _study, _q, version = imported(make, features())
    group = version.definition["item"][0]
    assert "text" not in group
    assert definition_problems(version.definition, languages=["en", "fr"]) == []
    pages = rendering.build_pages(version.definition, "en")
    assert pages[0].title == "" and pages[1].title == "When"
    assert "<h2>" not in preview_html(version.definition, "en", page=1).split('id="answers"')[1].split('class="nav"')[0]


def resolved() -> dict:
    """features.json as the import keeps it (its value set options written into answerOption)."""
    definition = features()
    _Checker(definition, "").run()
    return definition


def test_a_group_titled_in_one_language_still_needs_the_other():
    definition = resolved()
    definition["item"][0]["text"] = "First"
    problems = definition_problems(definition, languages=["en", "fr"])
    assert [(p.where, p.message) for p in problems] == [("section first", "title is missing in French")]


# --- 5. prefixes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "label", "option"),
    [
        ("en", '<span class="prefix">1.</span> Little interest', "a) 0"),
        ("fr", '<span class="prefix">Q1.</span> Peu', "a) 0"),
    ],
)
def test_item_and_option_prefixes_are_part_of_the_label_in_each_language(make, language, label, option):
    _study, _q, version = imported(make, features())
    html = preview_html(version.definition, language)
    assert f"<legend>{label}" in html  # inside the legend: read with the question
    assert f"<span>{option}</span>" in html  # the optionPrefix inside the option's label


def test_a_prefix_translated_in_one_language_only_is_a_publish_problem():
    definition = resolved()
    definition["item"][0]["item"][1].pop("_prefix")
    problems = definition_problems(definition, languages=["en", "fr"])
    assert [(p.where, p.message) for p in problems] == [("item children", "prefix is missing in French")]


# --- 6 and 7. one report, every problem once --------------------------------------------------------------------------


def test_one_import_reports_a_problem_of_every_stage_at_once(make):
    """Structure (FHIR validation), language, content (the checker) and what publishing would refuse, in one
    pass; the item FHIR validation refuses is not checked further, the others still are."""
    definition = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "language": "de",
        "title": "Vier Fehler",
        "item": [
            {
                "linkId": "broken",
                "type": "string",
                "text": "Text",
                "maxLength": "many",
                "answerOption": [{"valueCoding": {}}],
            },
            {"linkId": "pick", "type": "choice", "text": "Wahl"},
            {
                "linkId": "count",
                "type": "integer",
                "text": "Zahl",
                "extension": [
                    {"url": fhir.EXT_MIN, "valueInteger": 10},
                    {"url": fhir.EXT_MAX, "valueInteger": 5},
                ],
            },
        ],
    }
    result = parse(make.study(languages=["en"]), definition)
    found = [(p.where, p.message) for p in result.problems]
    assert any(w == "item broken" and m.startswith("item[0].maxLength:") for w, m in found), found
    assert any(w == "questionnaire" and "language de" in m and "override" in m for w, m in found), found
    assert ("item pick", "answerOption: a choice item needs its answer options") in found
    assert any(w == "item count" and "must be below the maximum" in m for w, m in found), found
    # nothing else about "broken" than its structure
    assert [m for w, m in found if w == "item broken"] == [m for w, m in found if w == "item broken" and ":" in m][:1]
    assert len(found) == len(set(found))


def test_one_item_and_one_cause_are_said_once(make):
    definition = features()
    options = definition["item"][1]["item"][2]["answerOption"]
    for option in options:
        option["initialSelected"] = True
    [found] = parse(make.study(languages=["en", "fr"]), definition).questionnaires
    said = [w for w in found.warnings if w.where == "item slot"]
    assert len(said) == 1 and "initialSelected" in said[0].message


# --- 8. the file's own language wins ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stated", "language", "override", "labelled", "warned"),
    [
        ("fr", "en", "", "fr", False),  # the file says French: --language does not relabel it
        (None, "fr", "", "fr", False),  # the file says nothing: --language says what it is
        (None, "", "", "en", False),
        ("en-GB", "fr", "", "en", False),
        ("en", "", "fr", "fr", True),  # a file that states a wrong language: the override, said
    ],
)
def test_the_files_language_wins_over_the_default_and_yields_to_the_override(
    make, stated, language, override, labelled, warned
):
    definition = features()
    definition.pop("language")
    if stated:
        definition["language"] = stated
    result = questionnaire_parse(
        json.dumps(definition).encode(),
        study=make.study(languages=["en", "fr"]),
        language=language,
        language_override=override,
    )
    assert result.ok, result.problems
    [found] = result.questionnaires
    assert found.definition["language"] == labelled
    assert any("as the override asks" in w.message for w in found.warnings) is warned


def test_a_file_in_another_language_is_refused_naming_the_override(make):
    definition = copy.deepcopy(features())
    definition["language"] = "de"
    result = parse(make.study(languages=["en", "fr"]), definition, language="en")
    [problem] = [p for p in result.problems if "language" in p.message]
    assert "de" in problem.message and "override" in problem.message
    assert parse(make.study(languages=["en", "fr"]), definition, language_override="en").ok


def test_the_command_takes_the_override(make, tmp_path):
    study = make.study(code="langs", languages=["en", "fr"])
    definition = features()
    definition["language"] = "de"
    path = tmp_path / "q.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_questionnaire", "langs", str(path), "--format", "fhir", "--dry-run")
    call_command("import_questionnaire", "langs", str(path), "--format", "fhir", "--override-language", "en")
    assert study.questionnaires.get().source_definition["language"] == "en"


def test_the_admin_form_keeps_the_files_language_and_takes_the_override(make, client):
    study = make.study(languages=["en", "fr"], fallback_language="en")
    member(make, client, study, "designer")
    definition = features()
    definition["language"] = "de"
    refused = check(client, study, definition, language="en")
    assert refused.status_code == 400 and "override" in refused.content.decode()
    preview = check(client, study, definition, language_override="en")
    assert preview.status_code == 200
    client.post(reverse("admin:surveys_questionnaire_import"), {"action": "import", "token": preview.context["token"]})
    assert study.questionnaires.get().source_definition["language"] == "en"


# --- helpers ---------------------------------------------------------------------------------------------------------


def _completed(make, version, answers: dict):
    study = version.questionnaire.study
    participant = make.participant(study=study)
    timepoint = make.timepoint(version=version)
    assignment = make.assignment(participant=participant, timepoint=timepoint)
    return make.response(assignment=assignment, status="completed", answers=answers)


def _flat(items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        out.append(item)
        out += _flat(item.get("item", []))
    return out


def _export(study: Study, fmt: str) -> bytes:
    out = io.BytesIO()
    export_write(spec=ExportSpec(study_id=study.pk, format=fmt), out=out)
    return out.getvalue()
