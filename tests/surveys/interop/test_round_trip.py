"""Every public questionnaire file goes round: import, publish, answer, export, import again, the same.

For each file of tests/data/public/** and of the shared fixtures (tests/paths.py PUBLIC_FIXTURES):

1. the import (surveys/interop/imports.py) takes it, or refuses it exactly as REFUSALS says: each
   expected problem is there, naming its item, and no other problem is (a new refusal fails, and so does
   an expected one that disappears: the table is kept true);
2. each questionnaire it holds is published, and answered as a patient could: every question the
   display conditions show gets a valid value in its stored form (values.parse of what a patient would
   type), twice over (first options, then last options, so that more conditions are met); the answers
   are stored as a completed Response of a participant;
3. the FHIR Questionnaire export, imported again under another code and published, has the same items
   (types, option codes, conditions, texts, extensions: every field) — only the elements an export sets
   for itself differ (DIFFERING_TOP_LEVEL);
4. the FHIR QuestionnaireResponse export, imported into a timepoint of the re-imported version
   (response_import.py), gives back the same answers, and exports as the same items (unless
   RESPONSE_REFUSALS lists how the import refuses it, every problem);
5. the REDCap dictionary export imports again as the same questions (kinds, option codes, required,
   display conditions as question, operator and value), REDCap holding neither groups nor nested items
   (DictionaryShape) — unless REDCAP_REFUSALS lists how the REDCap import refuses it; REDCAP_ASKED_AGAIN
   names the never-asked items the export turns into questions.

Every table is kept true in both directions: a problem it does not list fails, and so does one it lists
that no longer happens.

A hypothesis test answers two files with generated valid answers (any options, numbers within the
item's bounds, any day, any time) and checks that the responses come back the same.

bench/public_round_trip.py prints the same walk as a table (files, questions, conditions, kept, refused).
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.interop.fhir.response_export import response_export
from surveys.interop.fhir.response_import import responses_import
from surveys.interop.imports import import_parse, questionnaire_import
from surveys.interop.redcap.dictionary_export import dictionary_export
from surveys.models import Assignment, QuestionnaireVersion, Response
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.conftest import need_service
from tests.paths import DATA, PUBLIC_FIXTURES

T = values.T
OWN = DATA / "public"
SHARED = "shared/"


def public_files() -> dict[str, Path]:
    """Every public file by its name in the tables: its path under tests/data/public, or shared/<path>."""
    found = {str(p.relative_to(OWN)): p for p in sorted(OWN.rglob("*")) if p.suffix in (".json", ".csv")}
    if PUBLIC_FIXTURES.exists():
        found |= {
            SHARED + str(p.relative_to(PUBLIC_FIXTURES)): p
            for p in sorted(PUBLIC_FIXTURES.rglob("*"))
            if p.suffix in (".json", ".csv")
        }
    return found


FILES = public_files()
# The shared fixtures read in place; their absence skips (fails in CI) rather than silently shrinking the list.
SHARED_EXPECTED = ["shared/fhir/enablewhen-basic.json", "shared/fhir/phq9.json"]
SHARED_EXPECTED += ["shared/redcap/simple-dictionary.csv", "shared/redcap/survey-dictionary.csv"]


def file_format(name: str) -> str:
    return "fhir" if name.endswith(".json") else "redcap"


# --- what the import refuses today ---------------------------------------------------------------------------
#
# file -> [(where, words of the message)]: every problem of the refusal, each naming the item (or the
# questionnaire) at fault. When other work removes a reason (contained ValueSets, dateTime items, FHIRPath
# expressions, nested questions...), the test says which expected refusal went away, and the row is changed.

VALUE_SET = "answerValueSet: the value set "
NOT_IN_FILE = " is not in the file (only a ValueSet in the questionnaire's contained, named #id, can be read)"
NESTED = "cannot be shown; put them in a group"
NO_STATUS = ("questionnaire", "status: Value for the field 'status' is required")
TWICE = "is used more than once (linkIds must be unique)"
SQLONFHIR = "https://sqlonfhir-r4.azurewebsites.net/fhir/ValueSet/"


def outside(url: str) -> str:
    """The refusal of options from a value set the file does not hold."""
    return VALUE_SET + url + NOT_IN_FILE


REFUSALS: dict[str, list[tuple[str, str]]] = {
    # lforms demo form: not valid R4 as written (useContext not a list, answerInteger "2022-09",
    # repeats "true"), and string answers compared with < and >.
    "fhir/lforms-enablewhen-operators.json": [
        ("questionnaire", "useContext: Input should be a valid list"),
        ("item Q9c-eq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9c-noteq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9d-eq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9d-noteq-B", "answerInteger: Input should be a valid integer"),
        ("item Q8", 'repeats: "true" is not true or false'),
    ]
    + [
        (f"item Q7-{name}", f"enableWhen[0]: operator {op} cannot compare string answers")
        for name, op in (("gt", ">"), ("ge", ">="), ("ge2", ">="), ("lt", ">"), ("le", "<"), ("le2", "<="))
    ],
    # HL7 SDC test form: linkIds used more than once, options from an external value set, answerDecimal
    # against a choice.
    "fhir/sdc-test-enablewhen.json": [
        ("item e5da17a7-7546-45c5-9bcd-d0b09a74cc14", TWICE),
        ("item 02a7536f-06b2-4dee-94e1-f5cfcb0e8622", TWICE),
        ("item 945b97b5-6d74-4a55-9be1-1989751219fb", TWICE),
        ("item 840c08ad-4b27-4c1d-9d6e-824202518ad0", TWICE),
        ("item 04fabc33-534a-4047-9a13-c13b0b63fa17", TWICE),
        ("item e70a3a50-e646-4831-a00d-4d6fbdaaefc3", TWICE),
        (
            "item 1acf93a7-0890-44cd-be48-542defb35248",
            outside(SQLONFHIR.replace("https", "http") + "a015b6a1ac024dc19baec940be2c1695"),
        ),
        ("item 945b97b5-6d74-4a55-9be1-1989751219fb", "1acf93a7-0890-44cd-be48-542defb35248 has no option Y"),
        ("item fab7c5c4-0ac0-4afa-bd6d-c0ce4f5e0bdf", "1acf93a7-0890-44cd-be48-542defb35248 has no option ASKU"),
        ("item 945b97b5-6d74-4a55-9be1-1989751219fb", "answerDecimal cannot be compared with the answer to s3-radio"),
        ("item 04fabc33-534a-4047-9a13-c13b0b63fa17", "answerDecimal cannot be compared with the answer to s3-radio"),
    ],
    # HL7 SDC PHQ-9 (contained ValueSet): its total uses answers(), which fhirpathpy does not have.
    "fhir/sdc-phq9-contained-valueset.json": [
        ("item H1/TS", "calculatedExpression '%resource.answers().value.ordinal().sum()': function answers()"),
    ],
    # lforms: no status on the contained ValueSet; its two systems share codes, so the options it gives share
    # codes; the total uses lforms' weight(), which fhirpathpy does not have.
    "fhir/round-trip/lforms-contained-valueset.json": [
        ("questionnaire", "contained[0].status: Value for the field 'status' is required"),
        ("item link-2", "calculatedExpression '%resource.repeat(item).answer.weight().sum()': function weight()"),
    ]
    + [
        (f"item link-1.1.{n}", f"answerOption[{index}]: option code some-code-{index - 1} is used more than once")
        for n in (1, 2)
        for index in (2, 3)
    ],
    # lforms: one display linkId used twice (its result messages under read-only choices are taken).
    "fhir/round-trip/lforms-enablewhen-on-calculated.json": [
        ("item negResultDisplayMsg", "negResultDisplayMsg is used more than once"),
    ],
    # HL7 SDC: repeating groups, and options from a terminology server.
    "fhir/round-trip/sdc-test-repeatable-nested-groups.json": [
        ("item ba91450b-6e67-40dc-8629-0f1b60577774", "repeats: a group answered several times cannot be represented"),
        ("item 68ca912397a145bd9e9f265702b5cf45", "repeats: a group answered several times cannot be represented"),
        ("item 34b78239-1df2-49c5-a1ab-8f5691c7ede0", outside(SQLONFHIR + "866d7924e20711d48c540020182939f7")),
    ],
    # HL7 SDC: options from a terminology server.
    "fhir/round-trip/sdc-test-required-field.json": [
        ("item radio", outside(SQLONFHIR.replace("https", "http") + "a015b6a1ac024dc19baec940be2c1695")),
    ],
    "fhir/round-trip/sdc-test-all-data-types.json": [
        ("item id-attachment", "type attachment: answers of this type cannot be collected here"),
        ("item id-choice", outside(SQLONFHIR.replace("https", "http") + "866d7924e20711d48c540020182939f7")),
        ("item 440f8cc6-3ea2-40c2-b03a-d03187131fd3", outside(SQLONFHIR + "866d7924e20711d48c540020182939f7")),
        ("item 06aaa075-86e4-4cf2-a1ef-a86ab10e86e9", outside(SQLONFHIR + "25b0ec04fd3511d28b3e0020182939f7")),
        ("item EF8E3936-3246-4B3E-A46C-9FDAA5ACB635", outside(SQLONFHIR + "25b0ec04fd3511d28b3e0020182939f7")),
    ],
}

# What the REDCap import says of our own REDCap export of a file, when it refuses it: file -> [(where, words)],
# every problem. (None today: FHIR option codes such as LOINC's LA6568-5 are recoded for REDCap.)
REDCAP_REFUSALS: dict[str, list[tuple[str, str]]] = {}
# Items kept but never asked (calculated, read-only, questionnaire-hidden) that the REDCap export writes as
# ordinary fields that REDCap, and our import of the dictionary, would ask patients for: file -> their linkIds.
# (None today: the export tags them @HIDDEN / @READONLY, and the import reads the tags back.)
REDCAP_ASKED_AGAIN: dict[str, set[str]] = {}

# What the QuestionnaireResponse import says of our own export of a response it refuses: file -> [(where,
# words)], every problem. (None today: a valueDecimal is written with the item's decimals before REDCap's
# number_Ndp format is checked, and a valueDateTime comes back as the wall-clock reading it was exported from.)
RESPONSE_REFUSALS: dict[str, list[tuple[str, str]]] = {}

# Elements the FHIR Questionnaire export sets for itself (questionnaire_export.py): our canonical url, our
# version number, status active, the publication date; and derivedFrom, where the import of the export keeps
# the exported url|version after the sources the first import kept.
DIFFERING_TOP_LEVEL = {"url", "version", "status", "date", "derivedFrom"}


# --- the walk ------------------------------------------------------------------------------------------------


def parse(study, name: str, **kw):
    return import_parse(format_=file_format(name), content=FILES[name].read_bytes(), study=study, **kw)


def problem_matches(problem, expected: tuple[str, str]) -> bool:
    where, words = expected
    return problem.where == where and words in problem.message


def questions(definition: dict) -> list[dict]:
    """The questions a patient may be asked, in order."""
    return [
        n
        for n in fhir.iter_items(definition.get("item", []))
        if n.get("type") not in ("group", "display") and not never_asked(definition, n)
    ]


def never_asked(definition: dict, node: dict) -> bool:
    """Calculated, read-only or hidden, or inside a hidden group."""
    if conditions.not_asked(node):
        return True
    link_id = node.get("linkId")

    def inside_hidden(nodes: list[dict], hidden: bool) -> bool:
        for n in nodes:
            now = hidden or conditions.hidden_from_patient(n)
            if n.get("linkId") == link_id:
                return now
            if inside_hidden(n.get("item") or [], now):
                return True
        return False

    return inside_hidden(definition.get("item", []), False)


def condition_count(definition: dict) -> int:
    return sum(len(n.get("enableWhen") or []) for n in fhir.iter_items(definition.get("item", [])))


def typed_candidates(node: dict, pick: int) -> list[str]:
    """What a patient could type or tick for this item, most likely first (pick 0: first options and low
    values; pick -1: last options and high values), and last, for an item with an answer format (a REDCap
    validation such as alpha_only or number_2dp), the simplest text of that format the item takes."""
    codes = values.option_codes(node)
    if codes:
        return [codes[pick]]
    if values.answer_format(node) is None:
        return plain_candidates(node, pick)
    return [*plain_candidates(node, pick), simplest_of_format(json.dumps(node, sort_keys=True))]


@functools.cache
def simplest_of_format(node_json: str) -> str:
    """The simplest text of the item's answer format that the item takes (hypothesis' find: shrunk, so the
    same every run)."""
    node = json.loads(node_json)
    pattern = values.answer_format(node)[0]
    return find(st.from_regex(pattern, fullmatch=True), lambda raw: valid(node, raw))


def valid(node: dict, raw: str) -> bool:
    stored, error = values.parse(node, [raw])
    return stored is not None and not error


def plain_candidates(node: dict, pick: int) -> list[str]:
    kind = values.kind_of(node)
    if kind in values.NUMBER_TYPES:
        low, high = values.accepted_range(node)
        chosen = [b for b in ((low, high) if pick == 0 else (high, low)) if b is not None]
        decimals = ["2.5", "1", "0"] if kind == T.DECIMAL else ["3", "1", "0"]
        return [values.plain(b) for b in chosen] + decimals
    if kind == T.DATE:
        earliest, latest = values.date_range(node)
        day = max(earliest, min(latest, date(2024, 5, 6)))
        return [day.strftime("%d/%m/%Y")]
    if kind == T.TIME:
        return ["10:30" if pick == 0 else "23:59:30"]
    if kind == T.DATETIME:
        return ["2024-05-06T10:30" if pick == 0 else "2024-05-06T23:59:30"]
    return ["Réponse libre" if pick == 0 else "another answer, longer"]


def answers_for(definition: dict, pick: int) -> dict:
    """Answers meeting the display conditions: each question shown by the answers before it is answered."""
    answers: dict[str, Any] = {}
    for node in questions(definition):
        link_id = str(node["linkId"])
        if link_id not in conditions.enabled_ids(definition, answers):
            continue
        for raw in typed_candidates(node, pick):
            if valid(node, raw):
                answers[link_id] = values.parse(node, [raw])[0]
                break
        else:
            raise AssertionError(f"{link_id}: none of {typed_candidates(node, pick)} is a valid answer")
    return answers


def imported_versions(make, name: str) -> tuple[Any, list[QuestionnaireVersion]]:
    study = make.study(code="rt", languages=["en"], fallback_language="en")
    result = parse(study, name)
    assert result.ok, [(p.where, p.message) for p in result.problems]
    created = questionnaire_import(study=study, result=result, format_=file_format(name), by=None)
    return study, [questionnaire_publish(questionnaire=q, by=None) for q in created]


def reimported(study, content: bytes, format_: str, code: str) -> QuestionnaireVersion:
    result = import_parse(format_=format_, content=content, study=study, code=code)
    assert result.ok, [(p.where, p.message) for p in result.problems]
    [questionnaire] = questionnaire_import(study=study, result=result, format_=format_, by=None)
    return questionnaire_publish(questionnaire=questionnaire, by=None)


def completed(make, version: QuestionnaireVersion, participant, answers: dict, code: str) -> Response:
    timepoint = make.timepoint(version=version, code=code)
    assignment = make.assignment(participant=participant, timepoint=timepoint, status=Assignment.Status.COMPLETED)
    return make.response(assignment=assignment, status="completed", answers=answers)


def response_back(
    make, study, exported: dict, version: QuestionnaireVersion, participant, code: str, refused=()
) -> Response | None:
    """The exported QuestionnaireResponse imported into a new timepoint of `version` (None when it is refused
    as `refused` says, every problem). Its identifier names the timepoint it was given at
    (pseudonym/timepoint/occurrence), which the import checks against the timepoint it loads into: it is
    left out, the occurrence is then 1."""
    timepoint = make.timepoint(version=version, code=code)
    resource = {k: v for k, v in exported.items() if k != "identifier"}
    result = responses_import(study=study, timepoint=timepoint, content=json.dumps(resource).encode(), by=None)
    unexpected = [p for p in result.problems if not any(problem_matches(p, e) for e in refused)]
    assert not unexpected, [(p.where, p.message) for p in unexpected]
    gone = [e for e in refused if not any(problem_matches(p, e) for p in result.problems)]
    assert not gone, f"response refusals that no longer happen (remove them from RESPONSE_REFUSALS): {gone}"
    if refused:
        return None
    assert result.created == 1
    return Response.objects.get(assignment__participant=participant, assignment__timepoint=timepoint)


def without_top_level(definition: dict) -> dict:
    return {k: v for k, v in definition.items() if k not in DIFFERING_TOP_LEVEL}


@dataclass(frozen=True)
class DictionaryShape:
    """What a REDCap dictionary keeps of a question: its kind, option codes, required, and its display
    conditions as (question, operator, value), its groups' included (REDCap has no groups: the export puts a
    group's conditions on each of its fields)."""

    kind: str
    codes: tuple[str, ...]
    required: bool
    conditions: tuple[tuple[str, str, str], ...]


def condition_text(condition: dict) -> str:
    """The value an enableWhen compares with, as text: a Coding's code, true/false, a plain number."""
    expected = conditions.condition_expected(condition)
    if isinstance(expected, dict):
        return str(expected.get("code", ""))
    if isinstance(expected, bool):
        return "true" if expected else "false"
    if isinstance(expected, int | float):
        return values.plain(Decimal(str(expected)))
    return str(expected)


def dictionary_shapes(definition: dict, rename: dict[str, str] | None = None) -> list[tuple[str, DictionaryShape]]:
    """(name, shape) of each question, in order; `rename` gives the REDCap name of a linkId (default: itself)."""
    names = rename or {}
    out: list[tuple[str, DictionaryShape]] = []

    def walk(nodes: list[dict], inherited: tuple[tuple[str, str, str], ...]) -> None:
        for node in nodes:
            if node.get("type") == "display" or never_asked(definition, node):
                continue
            link_id = str(node.get("linkId"))
            own = tuple(
                (names.get(str(c.get("question")), str(c.get("question"))), str(c.get("operator")), condition_text(c))
                for c in node.get("enableWhen") or []
            )
            if node.get("type") == "group":
                walk(node.get("item") or [], inherited + own)
                continue
            shape = DictionaryShape(
                kind=values.kind_of(node),
                codes=tuple(values.option_codes(node)),
                required=bool(node.get("required")),
                conditions=inherited + own,
            )
            out.append((names.get(link_id, link_id), shape))
            walk(node.get("item") or [], inherited + own)

    walk(definition.get("item", []), ())
    return out


def exported_items(response: Response, asked: set[str]) -> list[dict]:
    """The response's exported items, the questions asked only (a calculated item's value is the project's to
    compute, where it computes them, not the patient's to give)."""

    def keep(items: list[dict]) -> list[dict]:
        out = []
        for item in items:
            if "answer" in item:
                if item["linkId"] in asked:
                    out.append(item)
            elif kept := keep(item.get("item", [])):
                out.append({**item, "item": kept})
        return out

    return keep(response_export(response).get("item", []))


def same_answers(back: Response, answers: dict, definition: dict) -> None:
    """The answers given come back; any other value is a never-asked (calculated) item's."""
    asked = {str(n["linkId"]) for n in questions(definition)}
    assert {k: v for k, v in back.answers.items() if k in asked} == answers
    never = {str(n.get("linkId")) for n in fhir.iter_items(definition["item"]) if never_asked(definition, n)}
    assert set(back.answers) - asked <= never


# --- the tests ---------------------------------------------------------------------------------------------------


def test_the_files_are_there_and_every_refusal_names_a_file():
    assert len([n for n in FILES if not n.startswith(SHARED)]) >= 20
    if not PUBLIC_FIXTURES.exists():
        need_service("public fixtures", False, f"{PUBLIC_FIXTURES} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    assert set(SHARED_EXPECTED) <= set(FILES)
    assert set(REFUSALS) <= set(FILES), set(REFUSALS) - set(FILES)
    sources = (OWN / "SOURCES.md").read_text(encoding="utf-8")
    for name in FILES:
        if not name.startswith(SHARED):
            assert f"| {name} |" in sources, f"{name} has no row in tests/data/public/SOURCES.md"


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_import_takes_the_file_or_refuses_it_as_the_table_says(make, name):
    study = make.study(languages=["en"], fallback_language="en")
    result = parse(study, name)
    found = [(p.where, p.message) for p in result.problems]
    expected = REFUSALS.get(name, [])
    unexpected = [p for p in result.problems if not any(problem_matches(p, e) for e in expected)]
    assert not unexpected, f"refused for a reason REFUSALS does not list: {[(p.where, p.message) for p in unexpected]}"
    gone = [e for e in expected if not any(problem_matches(p, e) for p in result.problems)]
    assert not gone, f"expected refusals that no longer happen (remove them from REFUSALS): {gone}; now: {found}"
    assert result.ok == (not expected)


ACCEPTED = sorted(n for n in FILES if n not in REFUSALS)


@pytest.mark.parametrize("name", ACCEPTED)
def test_a_file_goes_round_through_fhir_and_redcap_unchanged(make, name):
    study, versions = imported_versions(make, name)
    assert versions, "no questionnaire"
    participant = make.participant(study=study, pseudonym="RT-00001")
    for index, version in enumerate(versions):
        definition = version.definition
        code = f"q{index}"

        # FHIR Questionnaire: exported, imported again under another code, published: the same.
        exported = questionnaire_export(version)
        again = reimported(study, json.dumps(exported).encode(), "fhir", f"{code}-fhir")
        assert again.definition["item"] == definition["item"]
        assert without_top_level(again.definition) == without_top_level(definition)
        assert again.definition.get("derivedFrom") == [
            *definition.get("derivedFrom", []),
            f"{exported['url']}|{exported['version']}",
        ]

        # Answers meeting the conditions, stored, exported as a QuestionnaireResponse, imported again.
        for pick in (0, -1):
            answers = answers_for(definition, pick)
            assert conditions.missing_required(definition, answers) == []
            assert set(answers) <= conditions.enabled_ids(definition, answers)
            response = completed(make, version, participant, answers, f"{code}-given-{pick + 1}")
            refused = RESPONSE_REFUSALS.get(name, [])
            back = response_back(
                make, study, response_export(response), again, participant, f"{code}-back-{pick + 1}", refused
            )
            if back is not None:
                same_answers(back, answers, definition)
                asked = set(answers)
                assert exported_items(back, asked) == exported_items(response, asked)

        # REDCap dictionary: exported, imported again (into a study of its own: the form is named after the
        # questionnaire's code), the same questions.
        text = dictionary_export(version)
        other = make.study(languages=["en"], fallback_language="en")
        result = import_parse(format_="redcap", content=text.encode("utf-8"), study=other)
        expected = REDCAP_REFUSALS.get(name, [])
        unexpected = [p for p in result.problems if not any(problem_matches(p, e) for e in expected)]
        assert not unexpected, f"REDCap import of the export: {[(p.where, p.message) for p in unexpected]}"
        gone = [e for e in expected if not any(problem_matches(p, e) for p in result.problems)]
        assert not gone, f"REDCap refusals that no longer happen (remove them from REDCAP_REFUSALS): {gone}"
        if expected:
            continue
        [found] = result.questionnaires
        # The dictionary's variables are the items' names for REDCap; the import gives an item back its linkId
        # when the export wrote it (in the field's annotation), else the variable is its linkId.
        names = exported_names(definition, text)
        links = {str(n.get("linkId")) for n in fhir.iter_items(definition.get("item", []))}
        original = {var: str(node.get("linkId")) for var, node in names.items() if var not in links}
        back = dictionary_shapes(found.definition, original)
        never = {str(node.get("linkId")) for node in names.values() if never_asked(definition, node)}
        asked_again = never & {link for link, _s in back}
        assert asked_again == REDCAP_ASKED_AGAIN.get(name, set())
        assert [(link, s) for link, s in back if link not in asked_again] == dictionary_shapes(definition)
        if file_format(name) == "redcap":
            # From REDCap and back: the variables are the linkIds.
            assert all(var == str(node.get("linkId")) for var, node in names.items())


def exported_names(definition: dict, text: str) -> dict[str, dict]:
    """REDCap variable name -> the item it was exported from: the dictionary's rows after the record ID are the
    items that are not groups, in questionnaire order (help texts excepted), then the score rules' calc fields."""
    rows = list(csv.reader(io.StringIO(text)))[2:]
    nodes = [n for n in fhir.iter_items(definition.get("item", [])) if n.get("type") != "group"]
    assert len(rows) >= len(nodes)
    return {row[0]: node for row, node in zip(rows, nodes, strict=False)}


# --- generated answers -------------------------------------------------------------------------------------------


def answer_strategy(node: dict) -> st.SearchStrategy[str]:
    """Texts a patient could post for this item (values.parse decides whether each is valid)."""
    kind = values.kind_of(node)
    codes = values.option_codes(node)
    if kind == T.MULTIPLE:
        return st.lists(st.sampled_from(codes), min_size=1, unique=True).map(lambda c: "\x1f".join(c))
    if codes:
        return st.sampled_from(codes)
    found = values.answer_format(node)
    if found is not None:
        return st.from_regex(found[0], fullmatch=True)
    if kind in values.NUMBER_TYPES:
        low, high = values.accepted_range(node)
        low = low if low is not None else -(10**6)
        high = high if high is not None else 10**6
        if kind == T.DECIMAL:
            return st.decimals(min_value=low, max_value=high, places=2, allow_nan=False).map(values.plain)
        return st.integers(min_value=int(low), max_value=int(high)).map(str)
    if kind == T.DATE:
        earliest, latest = values.date_range(node)
        return st.integers(0, (latest - earliest).days).map(lambda d: (earliest + timedelta(days=d)).isoformat())
    if kind in (T.TIME, T.DATETIME):
        clock = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)).map(
            lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}"
        )
        if kind == T.TIME:
            return clock
        days = st.dates(date(1900, 1, 1), date(2100, 12, 31))
        return st.tuples(days, clock).map(lambda dc: f"{dc[0].isoformat()}T{dc[1]}")
    return st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30)


@st.composite
def generated_answers(draw, definition: dict) -> dict:
    answers: dict[str, Any] = {}
    for node in questions(definition):
        link_id = str(node["linkId"])
        if link_id not in conditions.enabled_ids(definition, answers):
            continue
        if not node.get("required") and draw(st.booleans()):
            continue
        raw = draw(answer_strategy(node))
        stored, error = values.parse(node, raw.split("\x1f"))
        if stored is not None and not error:
            answers[link_id] = stored
        elif node.get("required"):
            answers[link_id] = values.parse(node, typed_candidates(node, 0)[:1])[0]
    # An answer given before a later one hid it is dropped, as the page drops it.
    return conditions.prune_answers(definition, answers)


GENERATED = [n for n in ("shared/fhir/enablewhen-basic.json", "redcap/redcapr-longitudinal.csv") if n in FILES]


@pytest.mark.parametrize("name", GENERATED)
def test_generated_valid_answers_come_back_the_same(make, name):
    study, versions = imported_versions(make, name)
    version = versions[0]
    again = reimported(study, json.dumps(questionnaire_export(version)).encode(), "fhir", "copy")
    seen = iter(range(10**6))

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.data())
    def round_trip(data):
        answers = data.draw(generated_answers(version.definition))
        assert conditions.missing_required(version.definition, answers) == []
        n = next(seen)
        participant = make.participant(study=study, pseudonym=f"RT-G{n:05d}")
        response = completed(make, version, participant, copy.deepcopy(answers), f"given-{n}")
        back = response_back(make, study, response_export(response), again, participant, f"back-{n}")
        same_answers(back, answers, version.definition)

    round_trip()
