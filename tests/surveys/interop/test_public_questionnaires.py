"""FHIR R4 Questionnaires written by other projects (tests/data/public/fhir, see ../SOURCES.md).

For each file: the import takes it or refuses it naming the item and why; what imports is published;
every page renders (build_pages, page_context and the preview template) with no answers and with
answers that meet each display condition; questionnaire-hidden items stay in the definition and never
reach a page; and the items `conditions.enabled_ids` enables for hand-picked answers are those the
file's authors meant, each expectation quoting the condition it reads.

The files are never edited. Where one uses what this project does not support, the test says what the
project does instead and checks that the import refuses it, so that no patient meets the difference.
Refused files are still rendered from the file as read: the evaluator and the pages are pure functions
over a definition, and these files hold the widest public set of conditions found.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.http import QueryDict
from django.test import RequestFactory

from surveys.answering import rendering
from surveys.interop.fhir.questionnaire_export import questionnaire_export
from surveys.interop.fhir.questionnaire_import import _Checker
from surveys.interop.imports import ImportRefused, import_parse, questionnaire_import
from surveys.models import Questionnaire
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.paths import DATA

PUBLIC = DATA / "public"
FILES = sorted(p.name for p in (PUBLIC / "fhir").glob("*.json"))

OPERATORS = "lforms-enablewhen-operators.json"
HIDDEN = "lforms-hidden-items.json"
SDC = "sdc-test-enablewhen.json"
BLUEBOOK = "hl7-bluebook.json"


def content(name: str) -> bytes:
    return (PUBLIC / "fhir" / name).read_bytes()


def as_read(name: str) -> dict:
    return json.loads(content(name).decode("utf-8"))


@dataclass(frozen=True)
class Case:
    """Answers (stored forms, values.py) and what the file's authors show and hide for them."""

    why: str
    answers: dict
    shown: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()


def case(why: str, answers: dict, *, shown=(), hidden=()) -> Case:
    return Case(why, answers, frozenset(shown), frozenset(hidden))


# --- what each file's authors meant -----------------------------------------------------------------------

_EXISTS = [f"Q{n}" for n in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "9a", "9b", "9c", "9d")]
_EQUAL = [
    "Q1-true",
    "Q1-false",
    "Q2-equal",
    "Q2-ge",
    "Q3-equal",
    "Q3-ge",
    "Q4-equal",
    "Q4-ge",
    "Q7-equals",
    "Q8-eq-B",
    "Q8-eq-B-and-C",
    "Q9-eq-B",
    "Q9a-eq-B",
    "Q9b-eq-B",
    "Q9c-eq-B",
    "Q9d-eq-B",
]
_NOT_EQUAL = ["Q1-not-true", "Q7-notequals", "Q9-noteq-B", "Q9a-noteq-B", "Q9b-noteq-B", "Q9c-noteq-B", "Q9d-noteq-B"]

OPERATOR_CASES = [
    # "(Qn exists false)" holds and "(Qn exists true)" does not; "= x" and ">= x" need an answer; "!= x" holds:
    # FHIR R4 "!=": true when no answer equals the value, so with no answer (the reading this project follows).
    case(
        "nothing answered",
        {},
        shown=[f"{q}-not-exists" for q in _EXISTS] + _NOT_EQUAL,
        hidden=[f"{q}-exists" for q in _EXISTS] + _EQUAL,
    ),
    # "Q1-exists (Q1 exists true)", "Q1-true (Q1 = true)"; not "Q1-false (Q1 = false)", "Q1-not-true (Q1 != true)"
    case(
        "Q1 = true", {"Q1": True}, shown=["Q1-exists", "Q1-true"], hidden=["Q1-not-exists", "Q1-false", "Q1-not-true"]
    ),
    case(
        "Q1 = false", {"Q1": False}, shown=["Q1-exists", "Q1-false", "Q1-not-true"], hidden=["Q1-not-exists", "Q1-true"]
    ),
    # "Q2-equal (Q2 = 5.6)", "Q2-ge (Q2 >= 4.8)"
    case("Q2 = 5.6", {"Q2": 5.6}, shown=["Q2-exists", "Q2-equal", "Q2-ge"], hidden=["Q2-not-exists"]),
    case("Q2 at the >= bound", {"Q2": 4.8}, shown=["Q2-exists", "Q2-ge"], hidden=["Q2-equal"]),
    case("Q2 below the bound", {"Q2": 4.7}, shown=["Q2-exists"], hidden=["Q2-equal", "Q2-ge"]),
    # "Q3-equal (Q3 = 5)", "Q3-ge (Q3 >= 4)"
    case("Q3 = 5", {"Q3": 5}, shown=["Q3-exists", "Q3-equal", "Q3-ge"], hidden=["Q3-not-exists"]),
    case("Q3 = 4", {"Q3": 4}, shown=["Q3-ge"], hidden=["Q3-equal"]),
    case("Q3 = 3", {"Q3": 3}, shown=["Q3-exists"], hidden=["Q3-equal", "Q3-ge"]),
    # "Q4-equal (Q4 = 2020-05-01)", "Q4-ge (Q4 >= 2020-05-01)"
    case("Q4 on the day", {"Q4": "2020-05-01"}, shown=["Q4-exists", "Q4-equal", "Q4-ge"]),
    case("Q4 the day after", {"Q4": "2020-05-02"}, shown=["Q4-ge"], hidden=["Q4-equal", "Q4-not-exists"]),
    case("Q4 the day before", {"Q4": "2020-04-30"}, shown=["Q4-exists"], hidden=["Q4-equal", "Q4-ge"]),
    # "Q5-exists (Q5 exists true)" on a dateTime item; "Q6-exists (Q6 exists true)" on a time item
    case("Q5 answered", {"Q5": "2020-05-01T10:00:00"}, shown=["Q5-exists"], hidden=["Q5-not-exists"]),
    case("Q6 answered", {"Q6": "10:30"}, shown=["Q6-exists"], hidden=["Q6-not-exists"]),
    # "Q7-equals (Q7 = test)", "Q7-notequals (Q7 != test)"; "Q7-lt (Q7 > testing)" and "Q7-le (Q7 < test)"
    # do not hold for "test" either (the other string comparisons: see DIVERGENCES).
    case(
        "Q7 = test",
        {"Q7": "test"},
        shown=["Q7-exists", "Q7-equals"],
        hidden=["Q7-not-exists", "Q7-notequals", "Q7-lt", "Q7-le"],
    ),
    case("Q7 another text", {"Q7": "other"}, shown=["Q7-exists", "Q7-notequals"], hidden=["Q7-equals"]),
    # "Q8-equal (Q8 = B)"; "Q8-equal (Q8 = B and C)": two conditions, enableBehavior "all"
    case("Q8 ticks B", {"Q8": ["B"]}, shown=["Q8-exists", "Q8-eq-B"], hidden=["Q8-eq-B-and-C", "Q8-not-exists"]),
    case("Q8 ticks B and C", {"Q8": ["B", "C"]}, shown=["Q8-eq-B", "Q8-eq-B-and-C"]),
    case("Q8 ticks A and C", {"Q8": ["A", "C"]}, shown=["Q8-exists"], hidden=["Q8-eq-B", "Q8-eq-B-and-C"]),
    # "Q9-equal (Q9 = B)", "Q9-not-equal (Q9 != B)", and the same on string, integer, date, time options
    case("Q9 = B", {"Q9": "B"}, shown=["Q9-exists", "Q9-eq-B"], hidden=["Q9-noteq-B"]),
    case("Q9 = A", {"Q9": "A"}, shown=["Q9-noteq-B"], hidden=["Q9-eq-B", "Q9-not-exists"]),
    case("Q9a = B", {"Q9a": "B"}, shown=["Q9a-exists", "Q9a-eq-B"], hidden=["Q9a-noteq-B"]),
    case("Q9a = C", {"Q9a": "C"}, shown=["Q9a-noteq-B"], hidden=["Q9a-eq-B"]),
    case("Q9b = 34", {"Q9b": 34}, shown=["Q9b-exists", "Q9b-eq-B"], hidden=["Q9b-noteq-B"]),
    case("Q9b = 12", {"Q9b": 12}, shown=["Q9b-noteq-B"], hidden=["Q9b-eq-B"]),
    # "Q9c-equal (Q9c = '2022-09')": a month; the option "2022" is another precision, so it is not equal.
    case("Q9c = 2022-09", {"Q9c": "2022-09"}, shown=["Q9c-exists", "Q9c-eq-B"], hidden=["Q9c-noteq-B"]),
    case("Q9c = 2022", {"Q9c": "2022"}, shown=["Q9c-noteq-B"], hidden=["Q9c-eq-B"]),
    case("Q9c = 2022-09-20", {"Q9c": "2022-09-20"}, shown=["Q9c-noteq-B"], hidden=["Q9c-eq-B"]),
    # "Q9d-equal (Q9d = '13:30:00')"
    case("Q9d = 13:30", {"Q9d": "13:30"}, shown=["Q9d-exists", "Q9d-eq-B"], hidden=["Q9d-noteq-B"]),
    case("Q9d = 10:30", {"Q9d": "10:30"}, shown=["Q9d-noteq-B"], hidden=["Q9d-eq-B"]),
]

# HL7 SDC test form: its linkIds are long; these name the ones read here (each used once in the file).
S_Q1, S_Q2 = "83d5c1a6-5dc3-44d0-9d9e-d687c72e143e", "fe0106a5-0e25-43a4-9820-7acb7e74d9d7"
S_RADIO, S_789 = "s1-radio", "5e1209b7-c9e0-4bf4-b228-fr096s903m25"
S_DROP, S_YN = "5e1209b7-c9e0-4bf4-b228-c6591b540qmo", "1acf93a7-0890-44cd-be48-542defb35248"
# group linkId -> the question inside it
S_GROUPS = {
    "Q1 checked": ("65578509-21ae-4a48-94de-e46b1e87d3fb", "65578509-21ae-4a48-94de-e46b1e54kjui"),
    "Q2 = false": ("3ca80fdf-6598-4dd7-b9df-8a2f10895e4e", "65578509-21ae-4a48-94de-e46b1e10ghqn"),
    "radio 2": ("65578509-21ae-4a48-94de-e46be454f8k1", "65578509-21ae-4a48-94de-e46bd161lqzp"),
    "dropdown 4": ("65578509-21ae-4a48-94de-h1l9v32opase", "65578509-21ae-sdj4-98s2-emhaskjh12"),
    "not 7": ("65578509-21ae-4a48-3f56-aswtysn1238", "65578509-21ae-234vy-slo4-eddfjqwwr2"),
    "8 and 4": ("76daed4f-f957-45cb-9584-aab95f6021d4", "3cf51112-6896-4076-8994-b6ff3e52f359"),
    "not ASKU": ("fab7c5c4-0ac0-4afa-bd6d-c0ce4f5e0bdf", "e78586ac-8c97-42a8-a56b-779c5c1d81f1"),
}


def group(*names: str) -> list[str]:
    """The groups named, with the question inside each: a disabled group disables its items."""
    return [link for name in names for link in S_GROUPS[name]]


SDC_CASES = [
    # "Group hidden until enabled Q1 checked" (Q1 = true), "Group present until Q2 checked" (Q2 = false: an
    # unanswered check box is no answer in FHIR, so not false), "Group hidden until radio 2 selected"
    # (s1-radio = "2"), "... until dropdown selected" (= "4"), "... until 8 and 4 selected" (all); "Group hidden
    # until 7 is undeleted" (!= "7", holds with no answer); "Group visible when Yes/No" (!= ASKU, likewise).
    case(
        "nothing answered",
        {},
        shown=group("not 7", "not ASKU"),
        hidden=group("Q1 checked", "Q2 = false", "radio 2", "dropdown 4", "8 and 4")
        + [
            "date_greater_2000-01-01",
            "date_less_2000-01-01",
            "datetime_question_greter_than",
            "datetime_question_less_than_equal",
            "BOWOPTOTH",
        ],
    ),
    case("Q1 checked", {S_Q1: True}, shown=group("Q1 checked")),
    case("Q1 unchecked", {S_Q1: False}, hidden=group("Q1 checked")),
    case("Q2 unchecked", {S_Q2: False}, shown=group("Q2 = false")),
    case("Q2 checked", {S_Q2: True}, hidden=group("Q2 = false")),
    # answerString "2" names the option whose code is "2"
    case("radio 2", {S_RADIO: "2"}, shown=group("radio 2")),
    case("radio 3", {S_RADIO: "3"}, hidden=group("radio 2")),
    case("dropdown 4 alone", {S_DROP: "4"}, shown=group("dropdown 4", "not 7"), hidden=group("8 and 4")),
    case("8 and 4", {S_789: "8", S_DROP: "4"}, shown=group("8 and 4", "dropdown 4", "not 7")),
    case("8 and 5", {S_789: "8", S_DROP: "5"}, shown=group("not 7"), hidden=group("8 and 4", "dropdown 4")),
    case("7 selected", {S_789: "7"}, hidden=group("not 7", "8 and 4")),
    # "Group visible when Yes/No" (!= ASKU)
    case("answered No", {S_YN: "N"}, shown=group("not ASKU")),
    case("answered ASKU", {S_YN: "ASKU"}, hidden=group("not ASKU")),
    # "Please specify if DOB > 2000-01-01", "Please specify if DOB is <= 2000-01-01"
    case(
        "born after 2000-01-01",
        {"date_of_birth_question": "2000-01-02"},
        shown=["date_greater_2000-01-01"],
        hidden=["date_less_2000-01-01"],
    ),
    case(
        "born on 2000-01-01",
        {"date_of_birth_question": "2000-01-01"},
        shown=["date_less_2000-01-01"],
        hidden=["date_greater_2000-01-01"],
    ),
    case(
        "born before",
        {"date_of_birth_question": "1999-12-31"},
        shown=["date_less_2000-01-01"],
        hidden=["date_greater_2000-01-01"],
    ),
    # "If Time Greater Than 11:11:11" (> 11:11:11), "If Time Less Than 11:11:11" (<= 11:11:11)
    case(
        "a second after",
        {"datetime_question": "11:11:12"},
        shown=["datetime_question_greter_than"],
        hidden=["datetime_question_less_than_equal"],
    ),
    case(
        "on the second",
        {"datetime_question": "11:11:11"},
        shown=["datetime_question_less_than_equal"],
        hidden=["datetime_question_greter_than"],
    ),
    # "Please specify:" when the multiple choice BC029 has "9" (Other) among its answers
    case("Other among the outcomes", {"BC029": ["1", "9"]}, shown=["BOWOPTOTH"]),
    case("no Other", {"BC029": ["1", "5"]}, hidden=["BOWOPTOTH"]),
]

_DOSES = ["vitaminKgivenDoses", "vitaminKDose1", "vitaminKDose2"]
BLUEBOOK_CASES = [
    # the doses group, nested under "Vitamin K given", has enableWhen vitaminKgiven exists true; "Date given",
    # nested under "Hep B given", has no condition of its own: it is always shown.
    case("nothing answered", {}, shown=["vitaminKgiven", "hepBgiven", "hepBgivenDate", "nameOfChild"], hidden=_DOSES),
    case("vitamin K given orally", {"vitaminKgiven": "ORAL"}, shown=_DOSES),
    case(
        "by injection, no hep B", {"vitaminKgiven": "INJECTION", "hepBgiven": False}, shown=[*_DOSES, "hepBgivenDate"]
    ),
]

_FLAGGED = ["CE-HIDDEN", "GROUP-VISIBLE/CE-HIDDEN", "GROUP-HIDDEN", "GROUP-HIDDEN/CE-HIDDEN"]
HIDDEN_CASES = [
    # questionnaire-hidden items (and the hidden group's child) are never shown; no item has a condition.
    case("nothing answered", {}, shown=["ITEM-VISIBLE"], hidden=_FLAGGED),
    case("the number typed", {"ITEM-VISIBLE": 3.5}, shown=["ITEM-VISIBLE", "CE-VISIBLE"], hidden=_FLAGGED),
]

PHQ9 = "sdc-phq9-contained-valueset.json"
PHQ9_CASES = [
    # No item has a condition: the nine questions are always shown (their options come from the contained ValueSet).
    case("nothing answered", {}, shown=[f"H1/T1/Q{n}" for n in range(1, 10)]),
]

EXPRESSION = "lforms-enablewhen-expression.json"
EXPRESSION_CASES = [
    # q4's enableWhenExpression "%n1_val + %n2_val + %n3_val >= 5", each %nN_val 0 when nN is unanswered.
    case("nothing answered", {}, shown=["n1", "n2", "n3"], hidden=["q4"]),
    case("2 + 3 + nothing is 5", {"n1": 2.0, "n2": 3.0}, shown=["q4"]),
    case("1.5 + 1.5 + 1.5 is 4.5", {"n1": 1.5, "n2": 1.5, "n3": 1.5}, hidden=["q4"]),
    case("a single 5", {"n3": 5.0}, shown=["q4"]),
]

CASES = {
    OPERATORS: OPERATOR_CASES,
    SDC: SDC_CASES,
    BLUEBOOK: BLUEBOOK_CASES,
    HIDDEN: HIDDEN_CASES,
    EXPRESSION: EXPRESSION_CASES,
    PHQ9: PHQ9_CASES,
}

# What the import says about each file: (where, words of the message) for problems that refuse it.
REFUSALS = {
    OPERATORS: [
        # Its narrative without a div is left out with a warning; a useContext that is not a list is refused.
        ("questionnaire", "useContext"),
        ("item Q9c-eq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9c-noteq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9d-eq-B", "answerInteger: Input should be a valid integer"),
        ("item Q9d-noteq-B", "answerInteger: Input should be a valid integer"),
    ],
    SDC: [
        (f"item {link}", f"linkId {link} is used more than once")
        for link in (
            "e5da17a7-7546-45c5-9bcd-d0b09a74cc14",
            "02a7536f-06b2-4dee-94e1-f5cfcb0e8622",
            "945b97b5-6d74-4a55-9be1-1989751219fb",
            "840c08ad-4b27-4c1d-9d6e-824202518ad0",
            "04fabc33-534a-4047-9a13-c13b0b63fa17",
            "e70a3a50-e646-4831-a00d-4d6fbdaaefc3",
        )
    ]
    + [
        # Its answerValueSet is a URL, not a ValueSet of the file's contained: its options cannot be listed.
        (f"item {S_YN}", "answerValueSet: the value set http://sqlonfhir-r4.azurewebsites.net/fhir/ValueSet/"),
        ("item 945b97b5-6d74-4a55-9be1-1989751219fb", f"{S_YN} has no option Y"),
        ("item fab7c5c4-0ac0-4afa-bd6d-c0ce4f5e0bdf", f"{S_YN} has no option ASKU"),
        ("item 945b97b5-6d74-4a55-9be1-1989751219fb", "answerDecimal cannot be compared with the answer to s3-radio"),
        ("item 04fabc33-534a-4047-9a13-c13b0b63fa17", "answerDecimal cannot be compared with the answer to s3-radio"),
    ],
    # Only its total score: SDC's answers() is not FHIRPath that can be evaluated here. Its nine questions and
    # their options from the contained ValueSet are taken (tests/surveys/interop/test_fhir_features.py).
    PHQ9: [("item H1/TS", "calculatedExpression")],
}


# What the import's checker also refuses in the lforms file, behind its FHIR validation errors. Its dateTime
# item (Q5) and the answer options of its string, integer, date and time items (Q9a-Q9d) are taken.
CHECKER_REFUSALS = {
    OPERATORS: [
        # "repeats": "true", a text where FHIR JSON has a boolean (FHIR validation lets it through)
        ("item Q8", 'repeats: "true" is not true or false'),
        ("item Q9c-eq-B", "answerInteger cannot be compared with the answer to Q9c (date)"),
        ("item Q9d-noteq-B", "answerInteger cannot be compared with the answer to Q9d (time)"),
    ],
}


@dataclass(frozen=True)
class Divergence:
    """Where the authors' form does what this project does not: what they show, what we show, and the
    import's word on it (a refusal, or a warning when the item is kept but never asked)."""

    why: str
    link_id: str
    answers: dict
    authors_show: bool
    import_says: str


DIVERGENCES = {
    OPERATORS: [
        # "Q7-gt (Q7 > tes)", "Q7-ge (Q7 >= test)", "Q7-ge2 (Q7 >= tes)", "Q7-le2 (Q7 <= testing)": lforms orders
        # texts; values.compare says an order operator on a text is false.
        *(
            Divergence(
                f"string order: {link}", link, {"Q7": "test"}, True, f"operator {op} cannot compare string answers"
            )
            for link, op in (("Q7-gt", ">"), ("Q7-ge", ">="), ("Q7-ge2", ">="), ("Q7-le2", "<="))
        ),
        # "Q7-lt (Q7 > testing)" for "tests", "Q7-le (Q7 < test)" for "abc", in lforms' order of texts.
        Divergence("string order: Q7-lt", "Q7-lt", {"Q7": "tests"}, True, "operator > cannot compare string answers"),
        Divergence("string order: Q7-le", "Q7-le", {"Q7": "abc"}, True, "operator < cannot compare string answers"),
        # Its enableWhenExpression and lforms-hidden-items' calculated items are evaluated (FHIRPath):
        # tests/surveys/questionnaires/test_expressions.py.
    ],
}


# --- helpers --------------------------------------------------------------------------------------------------


def parse(study, name: str):
    return import_parse(format_="fhir", content=content(name), study=study)


def english_study(make):
    return make.study(languages=["en"], fallback_language="en")


def imported_version(make, name: str):
    study = english_study(make)
    result = parse(study, name)
    assert result.ok, result.problems
    [questionnaire] = questionnaire_import(study=study, result=result, format_="fhir", by=None)
    return questionnaire, questionnaire_publish(questionnaire=questionnaire, by=None)


def never_shown(definition: dict) -> set[str]:
    """linkIds that no page may hold: questionnaire-hidden items and all inside them, and items never asked
    (a calculated item is not asked, but shown as a value)."""
    out: set[str] = set()

    def walk(nodes: list[dict], inside_hidden: bool) -> None:
        for node in nodes:
            hidden = inside_hidden or conditions.hidden_from_patient(node)
            if hidden or (conditions.not_asked(node) and not conditions.shown_as_value(node)):
                out.add(str(node.get("linkId")))
            walk(node.get("item") or [], hidden)

    walk(definition.get("item", []), False)
    return out


def flagged_hidden(definition: dict) -> set[str]:
    return {
        str(n.get("linkId")) for n in fhir.iter_items(definition.get("item", [])) if conditions.hidden_from_patient(n)
    }


def query(definition: dict, answers: dict) -> QueryDict:
    """The answers as the preview form posts them (values.form_values)."""
    nodes = fhir.items_by_link(definition)
    data = QueryDict(mutable=True)
    for link_id, value in answers.items():
        for text in values.form_values(nodes[link_id], value):
            data.appendlist(link_id, text)
    return data


FIELD_DIV = re.compile(r'<div class="q[^"]*" id="q-[^"]*"( hidden)?[^>]*? data-link="([^"]*)">')


def check_pages(definition: dict, answers: dict) -> set[str]:
    """Render every page for these answers; returns the linkIds shown. Checks that a field is shown exactly
    when the evaluator enables it, that no hidden or never-asked item reaches a page, and that every enabled
    question is on some page."""
    pages = rendering.build_pages(definition, "en")
    assert pages, "no page at all"
    enabled = conditions.enabled_ids(definition, answers)
    forbidden = never_shown(definition)
    on_pages: set[str] = set()
    shown: set[str] = set()
    per_page: list[list[str]] = []
    for index in range(len(pages)):
        context = rendering.page_context(
            definition=definition, pages=pages, index=index, language="en", answers=answers
        )
        per_page.append([f.link_id for f in context["fields"]])
        for f in context["fields"]:
            assert f.link_id not in forbidden, f"{f.link_id} is hidden or never asked, yet on page {index + 1}"
            assert f.shown == (f.link_id in enabled), (f.link_id, index + 1)
            if f.conditions:
                json.loads(f.conditions)  # the page script's plan is JSON
            on_pages.add(f.link_id)
            if f.shown:
                shown.add(f.link_id)
    questions = {str(n.get("linkId")) for n in fhir.iter_items(definition["item"]) if n.get("type") != "group"}
    assert (enabled & questions) - forbidden <= on_pages, "an enabled question is on no page"

    # The same pages through the patient template (the preview: answers ride in the query string).
    request = RequestFactory().get("/", query(definition, answers))
    typed, _errors, _raw = rendering.preview_answers(definition, pages, request.GET)
    expected = conditions.enabled_ids(definition, typed)
    for number in range(1, len(pages) + 1):
        response = rendering.render_preview(request, definition=definition, language="en", page=number)
        assert response.status_code == 200
        html = response.content.decode()
        divs = FIELD_DIV.findall(html)
        assert [link_id for _hidden, link_id in divs] == per_page[number - 1], f"page {number}"
        for hidden_attr, link_id in divs:
            assert link_id not in forbidden, f"{link_id} reached page {number}"
            assert (not hidden_attr) == (link_id in expected), (link_id, number)
    return shown


# --- the files and their sources --------------------------------------------------------------------------------


def test_every_file_is_listed_in_sources_and_is_a_questionnaire():
    sources = (PUBLIC / "SOURCES.md").read_text(encoding="utf-8")
    assert set(FILES) == set(CASES), "each public file needs its cases here"
    for name in FILES:
        assert f"fhir/{name}" in sources, name
        assert as_read(name)["resourceType"] == "Questionnaire"


# --- import and publish ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_a_refused_file_is_refused_naming_the_item_and_why(make, name):
    study = english_study(make)
    result = parse(study, name)
    assert not result.ok
    found = [(p.where, p.message) for p in result.problems]
    for where, words in REFUSALS[name]:
        assert any(w == where and words in m for w, m in found), (where, words, found)
    # Every problem names an item (by linkId) or the questionnaire, and says which element is at fault.
    assert all(w == "questionnaire" or w.startswith("item ") for w, _m in found), found
    assert all(":" in m or "used more than once" in m for _w, m in found), found
    before = Questionnaire.objects.count()
    with pytest.raises(ImportRefused):
        questionnaire_import(study=study, result=result, format_="fhir", by=None)
    assert Questionnaire.objects.count() == before


def test_the_hidden_items_file_imports_publishes_and_keeps_every_item(make):
    questionnaire, version = imported_version(make, HIDDEN)
    assert questionnaire.source_format == "fhir"
    assert version.definition["item"] == as_read(HIDDEN)["item"]
    exported = questionnaire_export(version)
    assert exported["item"] == as_read(HIDDEN)["item"]


@pytest.mark.parametrize("name", sorted(DIVERGENCES))
def test_what_this_project_does_differently_never_reaches_a_patient_unsaid(make, name):
    """Each difference from the authors' form is named by the import: a refusal (the checker's, for a file
    that FHIR validation already refuses) or, for an item kept but never asked, a warning."""
    definition = as_read(name)
    if name in REFUSALS:
        checker = _Checker(definition, "")
        checker.run()
        said = [(p.where, p.message) for p in checker.problems]
    else:
        [found] = parse(english_study(make), name).questionnaires
        said = [(w.where, w.message) for w in found.warnings]
    for where, words in CHECKER_REFUSALS.get(name, []):
        assert any(w == where and words in m for w, m in said), (where, words, said)
    for divergence in DIVERGENCES[name]:
        shown = divergence.link_id in conditions.enabled_ids(definition, divergence.answers)
        assert shown != divergence.authors_show, divergence.why
        assert any(w == f"item {divergence.link_id}" and divergence.import_says in m for w, m in said), (
            divergence,
            said,
        )


def test_a_boolean_written_as_text_is_refused_not_read_as_true(make):
    """lforms' Q8 writes "repeats": "true". fhir.resources lets the texts "true" and "false" through, and the
    definition is kept as written, where "false" is truthy: a single choice used to import as a multiple choice."""
    definition = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {
                "linkId": "side",
                "text": "Which side?",
                "type": "choice",
                "repeats": "false",
                "answerOption": [{"valueCoding": {"code": "left"}}, {"valueCoding": {"code": "right"}}],
            },
            {
                "linkId": "more",
                "text": "More",
                "type": "group",
                "required": "false",
                "item": [{"linkId": "note", "text": "Note", "type": "string", "readOnly": "false"}],
            },
        ],
    }
    result = import_parse(format_="fhir", content=json.dumps(definition).encode(), study=english_study(make))
    assert not result.ok
    assert [(p.where, p.message.split(" (")[0]) for p in result.problems] == [
        ("item side", 'repeats: "false" is not true or false'),
        ("item more", 'required: "false" is not true or false'),
        ("item note", 'readOnly: "false" is not true or false'),
    ]


# --- pages ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_every_page_renders_with_no_answers_and_with_answers_meeting_each_condition(make, name):
    definition = as_read(name) if name in REFUSALS else imported_version(make, name)[1].definition
    shown_somewhere: set[str] = set()
    for answers in [{}] + [c.answers for c in CASES[name]]:
        shown_somewhere |= check_pages(definition, answers)
    # Every item with its own condition (and a linkId used once) is shown by some case, unless this project
    # cannot meet that condition (DIVERGENCES, each refused at import).
    counts: dict[str, int] = {}
    for node in fhir.iter_items(definition["item"]):
        counts[str(node.get("linkId"))] = counts.get(str(node.get("linkId")), 0) + 1
    unmet = {d.link_id for d in DIVERGENCES.get(name, [])}
    met = {
        str(n["linkId"])
        for n in fhir.iter_items(definition["item"])
        if {str(d.get("linkId")) for d in [n, *fhir.iter_items(n.get("item") or [])]} & shown_somewhere
    }
    conditional = {
        str(n["linkId"])
        for n in fhir.iter_items(definition["item"])
        if n.get("enableWhen") and counts[str(n["linkId"])] == 1
    }
    # (a group counts as shown when something inside it is)
    assert conditional - unmet - met == set()


def test_questionnaire_hidden_items_stay_in_the_version_and_never_reach_a_page(make):
    _questionnaire, version = imported_version(make, HIDDEN)
    definition = version.definition
    assert flagged_hidden(definition) == {"CE-HIDDEN", "GROUP-VISIBLE/CE-HIDDEN", "GROUP-HIDDEN"}
    kept = fhir.items_by_link(definition)
    for link_id in _FLAGGED:
        assert link_id in kept, link_id
    assert fhir.ext_value(kept["GROUP-HIDDEN"], conditions.EXT_HIDDEN) is True
    assert [n["linkId"] for n in kept["GROUP-HIDDEN"]["item"]] == ["GROUP-HIDDEN/CE-HIDDEN"]
    pages = rendering.build_pages(definition, "en")
    # The calculated items not flagged hidden are shown as values (their calculatedExpression copies
    # ITEM-VISIBLE's answer), each on the page of its place in the file.
    assert [[n.get("linkId") for n in p.nodes] for p in pages] == [
        ["CE-VISIBLE", "ITEM-VISIBLE"],
        ["GROUP-VISIBLE/CE-VISIBLE"],
    ]
    for answers, value in (({}, "\u2014"), ({"ITEM-VISIBLE": 1.5}, "1.5")):
        html = rendering.render_preview(
            RequestFactory().get("/", query(definition, answers)), definition=definition, language="en"
        ).content.decode()
        assert "ITEM-VISIBLE: Type one number:" in html
        assert f'<p class="display calc" id="f-CE-VISIBLE">CE-VISIBLE: {value}</p>' in html
        for text in ("CE-HIDDEN", "hidden group", "GROUP-VISIBLE: group that contains a hidden item"):
            assert text not in html, text
    # The hidden items stay in what is exported, with their flag.
    exported = fhir.items_by_link(questionnaire_export(version))
    assert all(fhir.ext_value(exported[link], conditions.EXT_HIDDEN) is True for link in flagged_hidden(definition))


def test_other_files_hold_no_questionnaire_hidden_item():
    for name in (OPERATORS, SDC, BLUEBOOK):
        assert flagged_hidden(as_read(name)) == set(), name


# --- display conditions as their authors meant them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "case_"),
    [(n, c) for n in FILES for c in CASES[n]],
    ids=[f"{n.removesuffix('.json')}: {c.why}" for n in FILES for c in CASES[n]],
)
def test_enabled_items_are_those_the_authors_meant(name, case_):
    enabled = conditions.enabled_ids(as_read(name), case_.answers)
    assert case_.shown - enabled == set(), "should be shown"
    assert case_.hidden & enabled == set(), "should be hidden"
