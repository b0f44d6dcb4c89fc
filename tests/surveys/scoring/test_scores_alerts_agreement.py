"""Scores and alerts read an answer's number the same way (values.as_number): an alert on an item's
number fires exactly when a one-item score of that item meets the same comparison, over a table of
cases and over generated questionnaires (option scores on the option or its coding, ordinalValue or
itemWeight, unscored options, multiple choices, numbers, missing answers). A yes/no is tested with
true or false, not with a number (publish refuses it), so it is not among them."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.questionnaires import fhir, values
from surveys.scoring import alerts, compute

OPERATORS = ("=", "!=", "<", ">", "<=", ">=")


def option(code: str, score: int | float | None, *, on_coding: bool, url: str) -> dict:
    if score is None:
        return {"valueCoding": {"code": code, "display": code}}
    ext = [{"url": url, "valueDecimal": score}]
    if on_coding:
        return {"valueCoding": {"code": code, "display": code, "extension": ext}}
    return {"valueCoding": {"code": code, "display": code}, "extension": ext}


def definition_of(node: dict, operator: str, threshold: int | float) -> dict:
    rules = {
        "scores": [{"name": "s", "label": {"en": "S"}, "items": [node["linkId"]], "method": "sum"}],
        "alerts": [
            {
                "code": "on_answer",
                "label": {"en": "A"},
                "when": {"answer": node["linkId"], "operator": operator, "value": threshold},
            },
            {
                "code": "on_score",
                "label": {"en": "S"},
                "when": {"score": "s", "operator": operator, "value": threshold},
            },
        ],
    }
    return {
        "resourceType": "Questionnaire",
        "language": "en",
        "title": "t",
        "item": [node],
        "extension": [{"url": fhir.EXT_RULES, "valueString": json.dumps(rules)}],
    }


def check_agreement(node: dict, answer, operator: str, threshold) -> None:
    definition = definition_of(node, operator, threshold)
    assert alerts.alert_problems(definition, languages=["en"]) == []
    answers = {} if values.is_missing(answer) else {node["linkId"]: answer}
    scores = compute.scores_compute(definition, answers)
    fired = alerts.alerts_fired(definition, answers, scores)
    # The answer's number is the one-item score's value...
    number = values.as_number(node, answer)
    assert scores["s"]["value"] == (None if number is None else float(number) if number % 1 else int(number))
    # ...so the two rules fire together, and as the shared comparison says.
    assert ("on_answer" in fired) == ("on_score" in fired)
    assert ("on_answer" in fired) == values.compare(values.T.DECIMAL, number, operator, threshold)


CHOICE = {
    "linkId": "q",
    "type": "choice",
    "text": "q",
    "answerOption": [
        option("a0", 0, on_coding=False, url=values.EXT_ITEM_WEIGHT),
        option("a1", 1, on_coding=True, url=fhir.EXT_ORDINAL),
        option("a2", 2.5, on_coding=False, url=fhir.EXT_ORDINAL),
        option("dk", None, on_coding=False, url=""),
    ],
}
MANY = {**CHOICE, "repeats": True}
NUMBER = {"linkId": "q", "type": "decimal", "text": "q"}


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize(
    ("node", "answer"),
    [
        (CHOICE, "a0"),
        (CHOICE, "a1"),
        (CHOICE, "a2"),
        (CHOICE, "dk"),
        (CHOICE, None),
        (MANY, ["a1", "a2"]),
        (MANY, ["a1", "dk"]),
        (MANY, ["dk"]),
        (MANY, []),
        (NUMBER, 2.5),
        (NUMBER, 0),
        (NUMBER, None),
    ],
)
@pytest.mark.parametrize("threshold", [0, 1, 2.5, 3.5])
def test_scores_and_alerts_agree_on_a_table(node, answer, operator, threshold):
    check_agreement(node, answer, operator, threshold)


scores_st = st.one_of(st.none(), st.integers(-5, 5), st.sampled_from([0.1, 0.2, 0.5, 1.5, -2.25]))


@st.composite
def choice_item(draw):
    count = draw(st.integers(1, 5))
    options = [
        option(
            f"c{i}", draw(scores_st), on_coding=draw(st.booleans()), url=draw(st.sampled_from(values.SCORE_EXTENSIONS))
        )
        for i in range(count)
    ]
    if not any(values.option_score(o) is not None for o in options):
        options[0] = option("c0", 1, on_coding=False, url=fhir.EXT_ORDINAL)
    node = {"linkId": "q", "type": "choice", "text": "q", "answerOption": options}
    codes = [fhir.option_code(o) for o in options]
    if draw(st.booleans()):
        node["repeats"] = True
        answer = draw(st.lists(st.sampled_from(codes), unique=True, max_size=count))
    else:
        answer = draw(st.one_of(st.none(), st.sampled_from(codes)))
    return node, answer


@settings(max_examples=300, deadline=None)
@given(
    item=choice_item(),
    operator=st.sampled_from(OPERATORS),
    threshold=st.one_of(st.integers(-6, 12), st.sampled_from([0.3, 1.5, -0.25])),
)
def test_scores_and_alerts_agree_on_generated_choices(item, operator, threshold):
    node, answer = item
    check_agreement(node, answer, operator, threshold)


def test_an_unscored_option_is_no_number_never_zero():
    assert values.as_number(CHOICE, "dk") is None
    assert values.as_number(MANY, ["a1", "dk"]) == Decimal(1)
