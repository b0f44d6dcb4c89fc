"""FHIRPath in questionnaires (surveys/questionnaires/expressions.py): variables, calculatedExpression and
enableWhenExpression, evaluated with fhirpathpy on the QuestionnaireResponse our stored answers make.

1. A table of expressions on a small questionnaire: what each gives as a stored value, or as a condition.
2. A table of what the engine cannot evaluate: refused by the import, naming the item and quoting the text.
3. The public files: lforms' PHQ-9 total (the shared fixture), against the sum of the options' ordinalValues,
   unanswered counting 0, and against our own scoring rule (a table and hypothesis); lforms' hidden items'
   calculated values; lforms' enableWhenExpression (Q10-ewe) and enableWhenExpression test form.
4. Stored, exported, imported again: the calculated value is kept with the answers at save and submit,
   written by the FHIR response export and the tables, and computed again by the response import.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.answering import rendering
from surveys.answering.submit import response_save_page, response_submit
from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_write
from surveys.interop.fhir.questionnaire_import import _Checker
from surveys.interop.fhir.response_export import response_export
from surveys.interop.fhir.response_import import responses_import
from surveys.models import Response
from surveys.questionnaires import conditions, expressions, fhir, values
from surveys.scoring import compute
from tests.conftest import need_service
from tests.paths import DATA, PUBLIC_FIXTURES

PUBLIC = DATA / "public" / "fhir"
PHQ9 = PUBLIC_FIXTURES / "fhir" / "phq9.json"
VARIABLE = expressions.EXT_VARIABLE
CALCULATED = expressions.EXT_CALCULATED
ENABLE = expressions.EXT_ENABLE_WHEN_EXPRESSION


def ext(url: str, expression: str, name: str = "", language: str = "text/fhirpath") -> dict:
    value = {"language": language, "expression": expression}
    if name:
        value["name"] = name
    return {"url": url, "valueExpression": value}


def questionnaire(*items: dict, variables: tuple[dict, ...] = ()) -> dict:
    out = {"resourceType": "Questionnaire", "status": "active", "language": "en", "item": list(items)}
    if variables:
        out["extension"] = list(variables)
    return out


def q(link: str, fhir_type: str, *extensions: dict, **extra) -> dict:
    node = {"linkId": link, "type": fhir_type, "text": extra.pop("text", f"Item {link}"), **extra}
    if extensions:
        node["extension"] = list(extensions)
    return node


def options(*scored: tuple[str, float]) -> list[dict]:
    return [
        {
            "valueCoding": {"code": code, "display": code},
            "extension": [{"url": fhir.EXT_ORDINAL, "valueDecimal": score}],
        }
        for code, score in scored
    ]


def answer_of(link: str) -> str:
    return f"%resource.item.where(linkId='{link}').answer.value"


# --- 1. expressions on a small questionnaire --------------------------------------------------------------

CALCULATIONS = [
    # (why, item type of the calculated item, expression, answers, stored value)
    ("a copy of a decimal", "decimal", answer_of("a"), {"a": 2.5}, 2.5),
    ("nothing to copy", "decimal", answer_of("a"), {}, None),
    ("a sum, unanswered as 0", "decimal", f"iif({answer_of('a')}.exists(), {answer_of('a')}, 0) + 1", {}, 1.0),
    ("an integer item keeps a whole number", "integer", f"{answer_of('n')} * 2", {"n": 21}, 42),
    ("an integer item refuses a fraction", "integer", f"{answer_of('a')} * 1", {"a": 2.5}, None),
    ("the empty collection", "decimal", "{}", {"a": 1.0}, None),
    ("two values for one answer", "decimal", "1 | 2", {}, None),
    ("text joined", "string", f"{answer_of('s')} & '!'", {"s": "ok"}, "ok!"),
    ("a boolean", "boolean", f"{answer_of('a')} > 2", {"a": 2.5}, True),
    (
        "a choice's score",
        "decimal",
        "%questionnaire.item.where(linkId='c').answerOption.where(valueCoding.code = "
        "%resource.item.where(linkId='c').answer.valueCoding.code).extension.where(url = "
        "'http://hl7.org/fhir/StructureDefinition/ordinalValue').valueDecimal",
        {"c": "hi"},
        3.0,
    ),
    (
        "inside a group, by descendants()",
        "decimal",
        "%resource.descendants().where(linkId='g1').answer.value",
        {"g1": 4.0},
        4.0,
    ),
    ("%context is the item's own response item", "string", "%context.linkId", {}, "calc"),
    ("a type clash gives no value", "decimal", f"{answer_of('s')} + 1", {"s": "ok"}, None),
    ("a variable of the questionnaire", "decimal", "%base + 1", {}, 11.0),
    ("variables in document order", "decimal", "%twice", {}, 20.0),
]


def small(kind: str, expression: str) -> dict:
    return questionnaire(
        q("a", "decimal"),
        q("n", "integer"),
        q("s", "string"),
        q("c", "choice", answerOption=options(("lo", 0), ("hi", 3))),
        q("g", "group", item=[q("g1", "decimal")]),
        q("calc", kind, ext(CALCULATED, expression), readOnly=True),
        variables=(ext(VARIABLE, "10", "base"), ext(VARIABLE, "%base * 2", "twice")),
    )


@pytest.mark.parametrize(
    ("why", "kind", "expression", "answers", "stored"), CALCULATIONS, ids=[c[0] for c in CALCULATIONS]
)
def test_a_calculation_gives_the_stored_value(why, kind, expression, answers, stored):
    definition = small(kind, expression)
    assert expressions.expression_problems(definition) == []
    outcome = expressions.expressions_evaluate(definition, answers)
    assert outcome.calculated.get("calc") == stored
    # Kept with the answers, as the item's stored form, only when it has a value.
    kept = conditions.prune_answers(definition, answers)
    assert kept.get("calc") == stored
    assert ("calc" in kept) == (stored is not None)


def test_the_context_is_the_item_s_response_item_once_answered():
    definition = questionnaire(q("a", "string", ext(CALCULATED, "%context.linkId & '/' & linkId")))
    # An item with no answer has no response item: %context is then the item's linkId alone.
    assert expressions.expressions_evaluate(definition, {}).calculated == {"a": "a/a"}


def test_item_variables_are_seen_by_the_item_and_those_inside_it_only():
    definition = questionnaire(
        q(
            "g",
            "group",
            ext(VARIABLE, "%resource.descendants().where(linkId='x').answer.value * 10", "tenfold"),
            item=[q("x", "decimal"), q("inside", "decimal", ext(CALCULATED, "%tenfold + 1"))],
        ),
        q("outside", "decimal", ext(CALCULATED, "%tenfold")),
    )
    assert expressions.expression_problems(definition) == [
        ("outside", "calculatedExpression '%tenfold': %tenfold is not a variable known here")
    ]
    assert expressions.expressions_evaluate(definition, {"x": 2.0}).calculated == {"inside": 21.0}


def test_a_calculation_may_read_another_whatever_their_order():
    definition = questionnaire(
        q("total", "decimal", ext(CALCULATED, answer_of("half") + " * 2")),
        q("half", "decimal", ext(CALCULATED, answer_of("a") + " / 2")),
        q("a", "decimal"),
    )
    assert expressions.expressions_evaluate(definition, {"a": 3.0}).calculated == {"half": 1.5, "total": 3.0}


CONDITIONS = [
    # (why, expression, answers, shown)
    ("true", "true", {}, True),
    ("false", "false", {}, False),
    ("empty is not true", answer_of("a") + " > 1", {}, False),
    ("a comparison that holds", answer_of("a") + " > 1", {"a": 2.0}, True),
    ("a comparison that does not", answer_of("a") + " > 1", {"a": 0.5}, False),
    ("not a boolean", answer_of("a"), {"a": 2.0}, False),
    ("several trues are not one true", "true | false", {}, False),
    ("a choice's code", "%resource.item.where(linkId='c').answer.valueCoding.code = 'hi'", {"c": "hi"}, True),
]


@pytest.mark.parametrize(("why", "expression", "answers", "shown"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_an_enable_when_expression_shows_the_item_when_it_gives_true(why, expression, answers, shown):
    definition = questionnaire(
        q("a", "decimal"),
        q("c", "choice", answerOption=options(("lo", 0), ("hi", 3))),
        q("then", "string", ext(ENABLE, expression)),
        q("after", "string", enableWhen=[{"question": "then", "operator": "exists", "answerBoolean": True}]),
    )
    assert expressions.expression_problems(definition) == []
    enabled = conditions.enabled_ids(definition, {**answers, "then": "typed", "after": "too"})
    assert ("then" in enabled) == shown
    # An answer behind a hidden item is dropped, and what depended on it hides too.
    assert ("after" in enabled) == shown
    assert ("then" in conditions.prune_answers(definition, {**answers, "then": "typed"})) == shown


def test_an_expression_reads_no_answer_of_a_hidden_item():
    """`b` shows when a is 1; `c` shows when b's answer exists: with a changed to 2, b's stale answer must not
    keep c shown (the evaluation is repeated on the answers it keeps)."""
    definition = questionnaire(
        q("a", "integer"),
        q("b", "string", enableWhen=[{"question": "a", "operator": "=", "answerInteger": 1}]),
        q("c", "string", ext(ENABLE, answer_of("b") + ".exists()")),
    )
    assert "c" in conditions.enabled_ids(definition, {"a": 1, "b": "x"})
    assert conditions.enabled_ids(definition, {"a": 2, "b": "x"}) == {"a"}
    assert conditions.prune_answers(definition, {"a": 2, "b": "x", "c": "y"}) == {"a": 2}


def test_an_enable_when_on_a_calculated_item_reads_its_value():
    definition = questionnaire(
        q("a", "integer"),
        q("total", "integer", ext(CALCULATED, answer_of("a") + " + 1"), readOnly=True),
        q("high", "display", enableWhen=[{"question": "total", "operator": ">", "answerInteger": 5}]),
    )
    assert "high" in conditions.enabled_ids(definition, {"a": 5})
    assert "high" not in conditions.enabled_ids(definition, {"a": 4})
    checker = _Checker(definition, "")
    checker.run()
    assert checker.problems == []


def test_an_enable_when_on_a_read_only_item_that_is_not_calculated_is_still_refused():
    definition = questionnaire(
        q("given", "integer", readOnly=True),
        q("high", "display", enableWhen=[{"question": "given", "operator": ">", "answerInteger": 5}]),
    )
    checker = _Checker(definition, "")
    checker.run()
    assert [(p.where, p.message) for p in checker.problems] == [
        ("item high", "enableWhen[0]: depends on given, which is read-only and never answered here")
    ]


# --- 2. what the engine cannot evaluate ------------------------------------------------------------------------

REFUSED = [
    # (why, expression, words of the refusal after the quoted expression)
    ("a syntax error", "1 +", "syntax error at character 4"),
    ("an unclosed call", "count(", "syntax error"),
    ("SDC's answerOption()", "%resource.item.answerOption()", "function answerOption() is not available here"),
    ("lforms' ordinal()", "%resource.item.answer.value.ordinal()", "function ordinal() is not available here"),
    ("lforms' weight()", "%resource.item.answer.value.weight().sum()", "function weight() is not available here"),
    ("a function nobody has", "%resource.item.frobnicate()", "function frobnicate() is not available here"),
    ("our scores", "%scores.total", "%scores is not a variable known here"),
    ("a variable defined later", "%later + 1", "%later is not a variable known here"),
    ("a value set constant", "%'vs-administrative-gender'", "%vs-administrative-gender is not a variable"),
]


@pytest.mark.parametrize(("why", "expression", "words"), REFUSED, ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("where", [CALCULATED, ENABLE, VARIABLE])
def test_the_import_refuses_what_the_engine_cannot_evaluate_once_per_item_quoting_it(why, expression, words, where):
    node = q("x", "decimal", ext(where, expression, name="v" if where == VARIABLE else ""))
    # A second bad expression on the same item: the item is named once.
    node["extension"].append(ext(CALCULATED if where != CALCULATED else ENABLE, "2 +"))
    definition = questionnaire(node, q("y", "decimal", ext(VARIABLE, "1", "later")))
    checker = _Checker(definition, "")
    checker.run()
    found = [(p.where, p.message) for p in checker.problems]
    assert len(found) == 1, found
    [(at, message)] = found
    assert at == "item x"
    assert repr(expression) in message and words in message, message


def test_the_import_refuses_a_questionnaire_variable_it_cannot_evaluate_and_another_language():
    definition = questionnaire(
        q("a", "decimal"),
        variables=(ext(VARIABLE, "Now()", "now"),),
    )
    checker = _Checker(definition, "")
    checker.run()
    assert [(p.where, p.message) for p in checker.problems] == [
        ("questionnaire", "variable now 'Now()': function Now() is not available here")
    ]
    cql = questionnaire(q("a", "decimal", ext(CALCULATED, "Sum(x)", language="text/cql")))
    assert expressions.expression_problems(cql) == [
        ("a", "calculatedExpression 'Sum(x)': only FHIRPath (text/fhirpath) is evaluated here, not text/cql")
    ]


def test_every_expression_is_compiled_once():
    expressions.compiled.cache_clear()
    definition = small("decimal", answer_of("a") + " + 100")
    for value in (1.0, 2.0, 3.0):
        expressions.expressions_evaluate(definition, {"a": value})
    info = expressions.compiled.cache_info()
    assert info.misses == 3  # the calculation and the two variables
    assert info.hits > 0


# --- 3. the public files -----------------------------------------------------------------------------------------


def phq9() -> dict:
    need_service("public fixtures", PHQ9.exists(), f"{PHQ9} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    return json.loads(PHQ9.read_text(encoding="utf-8"))


TOTAL = "/44261-6"


def phq9_scored(definition: dict) -> list[dict]:
    """The nine items the total adds (those its variables read), in order."""
    total = fhir.items_by_link(definition)[TOTAL]
    read = [v.text for v in expressions.expressions_of(total, VARIABLE)]
    return [n for n in definition["item"] if any(f"'{n['linkId']}'" in text for text in read)]


def ordinal_sum(definition: dict, answers: dict) -> float | None:
    """By hand: each option's ordinalValue, unanswered 0; nothing at all when nothing is answered."""
    scored = phq9_scored(definition)
    given = [n for n in scored if n["linkId"] in answers]
    if not given:
        return None
    return float(sum(values.option_scores(n)[answers[n["linkId"]]] for n in given))


def with_sum_rule(definition: dict) -> dict:
    rule = {"scores": [{"name": "total", "items": [n["linkId"] for n in phq9_scored(definition)], "method": "sum"}]}
    return {
        **definition,
        "extension": [*definition.get("extension", []), {"url": fhir.EXT_RULES, "valueString": json.dumps(rule)}],
    }


def test_the_phq9_total_is_the_sum_of_the_answers_ordinal_values_table():
    definition = phq9()
    scored = phq9_scored(definition)
    assert len(scored) == 9
    assert expressions.expression_problems(definition) == []
    codes = values.option_codes(scored[0])  # LA6568-5 "Not at all" 0 ... LA6571-9 "Nearly every day" 3
    table = [
        ({}, None),
        ({n["linkId"]: codes[0] for n in scored}, 0.0),
        ({n["linkId"]: codes[3] for n in scored}, 27.0),
        ({n["linkId"]: codes[i % 4] for i, n in enumerate(scored)}, 12.0),
        ({scored[0]["linkId"]: codes[2]}, 2.0),  # the others unanswered: counted 0
        ({scored[8]["linkId"]: codes[1], scored[4]["linkId"]: codes[3]}, 4.0),
    ]
    for answers, total in table:
        assert expressions.expressions_evaluate(definition, answers).calculated.get(TOTAL) == total, answers
        assert ordinal_sum(definition, answers) == total


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from([None, 0, 1, 2, 3]), min_size=9, max_size=9))
def test_the_phq9_total_agrees_with_a_sum_scoring_rule(picks):
    definition = phq9()
    scored = phq9_scored(definition)
    answers = {
        n["linkId"]: values.option_codes(n)[pick] for n, pick in zip(scored, picks, strict=True) if pick is not None
    }
    total = expressions.expressions_evaluate(definition, answers).calculated.get(TOTAL)
    assert total == ordinal_sum(definition, answers)
    score = compute.scores_compute(with_sum_rule(definition), answers)["total"]
    if len(answers) == 9:
        # Complete answers: the FHIRPath total and our sum rule agree.
        assert score["value"] == total == sum(picks)
    else:
        # Incomplete: the file counts an unanswered item as 0; a sum rule without "prorate" gives no score.
        assert score["value"] is None
        assert total == (sum(p for p in picks if p is not None) if answers else None)


def test_the_phq9_total_is_shown_on_its_page_read_only_with_its_label():
    definition = phq9()
    scored = phq9_scored(definition)
    answers = {n["linkId"]: values.option_codes(n)[2] for n in scored}
    pages = rendering.build_pages(definition, "en")
    [page] = [p for p in pages if any(n["linkId"] == TOTAL for n in p.nodes)]
    stored = conditions.prune_answers(definition, answers)
    assert stored[TOTAL] == 18.0
    fields = {f.link_id: f for f in rendering.page_fields(definition, page, "en", stored)}
    assert fields[TOTAL].calculated == "Patient health questionnaire 9 item total score: 18"
    assert fields[TOTAL].shown
    html = str(fields[TOTAL].html)
    assert "Patient health questionnaire 9 item total score: 18" in html
    assert "<input" not in html and "name=" not in html  # not an input: nothing is posted for it


HIDDEN = PUBLIC / "lforms-hidden-items.json"


def test_lforms_hidden_items_calculated_values():
    """Each calculatedExpression reads "%resource.item.where(linkId='ITEM-VISIBLE').answer.value"."""
    definition = json.loads(HIDDEN.read_text(encoding="utf-8"))
    calculated = [
        "CE-HIDDEN",
        "CE-VISIBLE",
        "GROUP-VISIBLE/CE-HIDDEN",
        "GROUP-VISIBLE/CE-VISIBLE",
        "GROUP-HIDDEN/CE-HIDDEN",
    ]
    for answers, value in (({}, None), ({"ITEM-VISIBLE": 2.0}, 2.0), ({"ITEM-VISIBLE": -0.5}, -0.5)):
        evaluation = conditions.conditions_evaluate(definition, answers)
        # Every calculated item has the value, flagged hidden or not; only those not hidden are shown.
        assert evaluation.calculated == ({link: value for link in calculated} if value is not None else {})
        assert evaluation.enabled == {"ITEM-VISIBLE", "CE-VISIBLE", "GROUP-VISIBLE", "GROUP-VISIBLE/CE-VISIBLE"}


OPERATORS = PUBLIC / "lforms-enablewhen-operators.json"
Q10 = "%resource.item.item.where(linkId='Q10').answer.value & %resource.item.item.where(linkId='Q10b').answer.value = 'chicken'"


@pytest.mark.parametrize(
    ("answers", "shown"),
    [
        ({}, False),  # '' & '' is '', not 'chicken'
        ({"Q10": "chic", "Q10b": "ken"}, True),
        ({"Q10": "chicken"}, True),  # & reads a missing answer as ''
        ({"Q10b": "chicken"}, True),
        ({"Q10": "chick", "Q10b": "ens"}, False),
        ({"Q10": "Chic", "Q10b": "ken"}, False),
    ],
)
def test_lforms_enable_when_expression_q10(answers, shown):
    definition = json.loads(OPERATORS.read_text(encoding="utf-8"))
    node = fhir.items_by_link(definition)["Q10-ewe"]
    assert expressions.enable_expression(node).text == Q10
    assert ("Q10-ewe" in conditions.enabled_ids(definition, answers)) == shown


EXPRESSION_FORM = PUBLIC / "lforms-enablewhen-expression.json"


@pytest.mark.parametrize(
    ("answers", "shown"),
    [({}, False), ({"n1": 5.0}, True), ({"n1": 2.0, "n2": 2.0}, False), ({"n1": 2.0, "n2": 2.0, "n3": 1.0}, True)],
)
def test_lforms_enable_when_expression_form(make, answers, shown):
    """q4: "%n1_val + %n2_val + %n3_val >= 5", the variables on the questionnaire; the import renames
    n1_val to n1val (FHIR R4 names) in the names and in the expressions, and the meaning stays."""
    from surveys.interop.imports import import_parse

    as_read = json.loads(EXPRESSION_FORM.read_text(encoding="utf-8"))
    assert ("q4" in conditions.enabled_ids(as_read, answers)) == shown
    result = import_parse(
        format_="fhir", content=EXPRESSION_FORM.read_bytes(), study=make.study(languages=["en"], fallback_language="en")
    )
    assert result.ok, result.problems
    [imported] = result.questionnaires
    assert (
        expressions.enable_expression(fhir.items_by_link(imported.definition)["q4"]).text
        == "%n1val + %n2val + %n3val >= 5"
    )
    assert ("q4" in conditions.enabled_ids(imported.definition, answers)) == shown


# --- 4. stored, exported, imported again --------------------------------------------------------------------------


@pytest.fixture
def phq9_setting(make):
    definition = phq9()
    definition["url"] = "http://loinc.org/q/44249-1"
    study = make.study(code="phqx", languages=["en"], fallback_language="en")
    questionnaire = make.questionnaire(study=study, code="phq9x")
    version = make.questionnaire_version(questionnaire=questionnaire, definition=definition)
    timepoint = make.timepoint(version=version, code="t0")
    participant = make.participant(study=study, pseudonym="P-CALC")
    assignment = make.assignment(participant=participant, timepoint=timepoint)
    return study, version, timepoint, assignment


def test_the_total_is_stored_at_submit_exported_and_computed_again_on_import(phq9_setting):
    study, version, timepoint, assignment = phq9_setting
    scored = phq9_scored(version.definition)
    answers = {n["linkId"]: values.option_codes(n)[i % 4] for i, n in enumerate(scored)}
    # A stale or forged total in what is saved is not kept: it is computed.
    response = response_save_page(assignment=assignment, answers={**answers, TOTAL: 99}, page_index=0, advance=True)
    assert response.answers[TOTAL] == 12.0
    response = response_submit(assignment=assignment)
    assert response.status == Response.Status.COMPLETED
    assert response.answers[TOTAL] == 12.0

    exported = response_export(response)
    [total] = [i for i in exported["item"] if i["linkId"] == TOTAL]
    assert total["answer"] == [{"valueDecimal": 12.0}]

    out = io.BytesIO()
    export_write(spec=ExportSpec(study_id=study.pk, format="wide_csv"), out=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    [column] = [c for c in rows[0] if TOTAL in c]
    assert [float(r[column]) for r in rows] == [12.0]

    # The export imported again into the same timepoint: the same answers, counted unchanged, not refused.
    again = responses_import(study=study, timepoint=timepoint, content=json.dumps(exported).encode(), by=None)
    assert again.ok, again.problems
    assert again.unchanged == 1
    assert Response.objects.get().answers[TOTAL] == 12.0
