"""Scoring rules (docs/scoring.md): every feature of the engine, the checks of the rules, the admin form,
scores stored at submit, and a public PHQ-9 whose own calculated total counts a missing answer as 0."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from surveys.admin.forms import QuestionnaireForm
from surveys.answering import submit
from surveys.models import Response
from surveys.questionnaires import fhir, publish, values
from surveys.scoring.compute import scores_compute, scoring_problems
from tests.surveys.admin.test_admin_designer import form_data
from tests.surveys.interop.test_public_fixtures import load

# --- definitions built by hand (what publishing or an import produces) --------------------------------


def choice(
    link_id: str,
    scores: list[float | None],
    *,
    url: str = fhir.EXT_ORDINAL,
    on_coding: bool = False,
    repeats: bool = False,
    **extra,
) -> dict:
    options = []
    for index, score in enumerate(scores):
        coding = {"code": f"a{index}", "display": f"option {index}"}
        option: dict = {"valueCoding": coding}
        if score is not None:
            (coding if on_coding else option)["extension"] = [{"url": url, "valueDecimal": score}]
        options.append(option)
    node = {"linkId": link_id, "type": "choice", "text": link_id, "answerOption": options, **extra}
    if repeats:
        node["repeats"] = True
    return node


def number(link_id: str, *, kind: str = "integer", low=None, high=None, **extra) -> dict:
    ext = [{"url": fhir.EXT_ITEM_TYPE, "valueCode": kind}]
    if low is not None:
        ext.append({"url": fhir.EXT_MIN, "valueInteger": low})
    if high is not None:
        ext.append({"url": fhir.EXT_MAX, "valueInteger": high})
    return {
        "linkId": link_id,
        "type": "decimal" if kind == "decimal" else "integer",
        "text": link_id,
        "extension": ext,
        **extra,
    }


def definition(items: list[dict], scores: list[dict] | None = None, **rules) -> dict:
    body = {"scores": scores or [], **rules}
    return {
        "resourceType": "Questionnaire",
        "language": "en",
        "title": "Q",
        "item": items,
        "extension": [{"url": fhir.EXT_RULES, "valueString": json.dumps(body)}],
    }


LABEL = {"fr": "Score", "en": "Score"}


def rule(name: str = "total", **kw) -> dict:
    return {"name": name, "label": LABEL, "method": "sum", **kw}


NINE = [f"q{i}" for i in range(1, 10)]
PHQ = [choice(code, [0, 1, 2, 3]) for code in NINE]


def compute(items, scores, answers) -> dict:
    return scores_compute(definition(items, scores), answers)


# --- values of items -------------------------------------------------------------------------------------


def test_sum_of_option_scores_has_the_documented_shape():
    result = compute(PHQ, [rule(items=NINE)], {code: "a2" for code in NINE})
    assert result == {"total": {"value": 18, "raw": 18, "answered": 9, "of": 9, "prorated": False, "band": None}}


def test_item_weight_and_ordinal_value_on_the_option_or_its_coding_are_option_scores():
    items = [choice("w", [0, 5], url=values.EXT_ITEM_WEIGHT), choice("c", [0, 7], on_coding=True), choice("o", [0, 11])]
    assert values.EXT_ITEM_WEIGHT == "http://hl7.org/fhir/StructureDefinition/itemWeight"
    result = compute(items, [rule(items=["w", "c", "o"])], {"w": "a1", "c": "a1", "o": "a1"})
    assert result["total"]["value"] == 23


def test_multiple_choice_sums_the_ticked_options_and_unscored_options_are_missing():
    items = [choice("m", [1, 2, 4, None], repeats=True), choice("s", [0, 1, None])]
    scores = [rule(items=["m"]), rule("single", items=["s"])]
    assert compute(items, scores, {"m": ["a0", "a2"], "s": "a1"})["total"]["value"] == 5
    # Ticking only an option without a score ("don't know") scores nothing: missing, not 0.
    result = compute(items, scores, {"m": ["a3"], "s": "a2"})
    assert result["total"] == {"value": None, "answered": 0, "of": 1, "reason": "too_few_answers"}
    assert result["single"]["value"] is None


def test_yes_no_counts_one_or_zero_and_numbers_their_value():
    items = [
        {"linkId": "yes", "type": "boolean", "text": "y"},
        {"linkId": "no", "type": "boolean", "text": "n"},
        number("cigs"),
        number("weight", kind="decimal"),
    ]
    result = compute(
        items, [rule(items=["yes", "no", "cigs", "weight"])], {"yes": True, "no": False, "cigs": 12, "weight": 70.5}
    )
    assert result["total"]["value"] == 83.5
    assert result["total"]["answered"] == 4


def test_a_missing_answer_is_never_counted_as_zero():
    answers = {code: "a3" for code in NINE[:8]}  # q9 unanswered
    result = compute(PHQ, [rule(items=NINE)], answers)["total"]
    assert result == {"value": None, "answered": 8, "of": 9, "reason": "too_few_answers"}
    # Not 24 (= 8 × 3 + "0"), not anything: by default a score needs every item.


def test_a_hidden_item_is_missing_even_if_a_stale_answer_is_still_there():
    gate = {"linkId": "gate", "type": "boolean", "text": "g"}
    follow = choice("follow", [0, 1, 2], enableWhen=[{"question": "gate", "operator": "=", "answerBoolean": True}])
    items = [gate, follow]
    scores = [rule(items=["follow"])]
    assert compute(items, scores, {"gate": True, "follow": "a2"})["total"]["value"] == 2
    # The answer to "follow" was given, then "gate" was changed: follow is hidden, so its answer does not count.
    assert compute(items, scores, {"gate": False, "follow": "a2"})["total"]["value"] is None


def test_an_unknown_option_code_scores_nothing():
    assert compute(PHQ[:1], [rule(items=["q1"])], {"q1": "zz"})["total"]["reason"] == "too_few_answers"


# --- missing answers: proration --------------------------------------------------------------------------


def test_proration_at_exactly_min_answered_and_none_one_below():
    scores = [rule(items=NINE, min_answered=7, missing="prorate")]
    seven = {code: "a1" for code in NINE[:7]}
    result = compute(PHQ, scores, seven)["total"]
    # 7 × 9 / 7 = 9
    assert result == {"value": 9, "raw": 9, "answered": 7, "of": 9, "prorated": True, "band": None}
    six = {code: "a1" for code in NINE[:6]}
    assert compute(PHQ, scores, six)["total"] == {"value": None, "answered": 6, "of": 9, "reason": "too_few_answers"}


def test_prorated_sum_keeps_its_fraction_until_rounding():
    scores = [rule(items=NINE, min_answered=8, missing="prorate")]
    answers = {code: "a1" for code in NINE[:8]}
    answers["q1"] = "a2"  # sum 9 over 8 answered → 9 × 9 / 8 = 10.125
    assert compute(PHQ, scores, answers)["total"]["value"] == 10.125
    scores[0]["round"] = 0
    result = compute(PHQ, scores, answers)["total"]
    assert result["value"] == 10 and result["raw"] == 10.125 and result["prorated"] is True


def test_missing_none_gives_no_score_unless_every_item_is_answered():
    scores = [rule(items=NINE[:3], missing="none")]
    assert compute(PHQ, scores, {"q1": "a1", "q2": "a1", "q3": "a1"})["total"]["value"] == 3
    assert compute(PHQ, scores, {"q1": "a1", "q2": "a1"})["total"]["reason"] == "too_few_answers"


def test_mean_is_the_mean_of_the_answered_items():
    scores = [rule(items=NINE[:4], method="mean", min_answered=3, missing="prorate")]
    result = compute(PHQ, scores, {"q1": "a1", "q2": "a2", "q3": "a3"})["total"]
    assert result["value"] == 2 and result["prorated"] is True and result["answered"] == 3
    full = compute(PHQ, scores, {"q1": "a1", "q2": "a2", "q3": "a3", "q4": "a0"})["total"]
    assert full["value"] == 1.5 and full["prorated"] is False


# --- reverse, subscales, lookup, transform, rounding, bands ---------------------------------------------


def test_reverse_uses_the_option_score_range():
    items = [choice("r", [1, 2, 3, 4, 5]), choice("n", [1, 2, 3, 4, 5])]
    scores = [rule(items=["r", "n"], reverse=["r"])]
    # r answered 1 (score 1) → 1 + 5 − 1 = 5; n answered score 2.
    assert compute(items, scores, {"r": "a0", "n": "a1"})["total"]["value"] == 7


def test_reverse_of_a_number_uses_its_min_and_max_and_a_scale_its_default_range():
    items = [number("lik", low=1, high=7), number("nrs", kind="nrs")]
    scores = [rule(items=["lik", "nrs"], reverse=["lik", "nrs"])]
    # 1 + 7 − 2 = 6; 0 + 10 − 3 = 7
    assert compute(items, scores, {"lik": 2, "nrs": 3})["total"]["value"] == 13


def test_reverse_of_a_yes_no_swaps_one_and_zero():
    items = [{"linkId": "yn", "type": "boolean", "text": "?"}]
    assert compute(items, [rule(items=["yn"], reverse=["yn"])], {"yn": True})["total"]["value"] == 0


def test_subscales_combine_into_a_total_and_a_missing_subscale_gives_no_total():
    scores = [
        rule("a", items=["q1", "q2"]),
        rule("b", items=["q3", "q4"]),
        rule("both", scores=["a", "b"]),
        rule("mixed", items=["q5"], scores=["a"]),
    ]
    answers = {"q1": "a1", "q2": "a2", "q3": "a3", "q4": "a3", "q5": "a1"}
    result = compute(PHQ, scores, answers)
    assert result["both"]["value"] == 9 and result["both"]["answered"] == 2 and result["both"]["of"] == 2
    assert result["mixed"]["value"] == 4
    del answers["q4"]
    result = compute(PHQ, scores, answers)
    assert result["b"]["value"] is None
    assert result["both"] == {"value": None, "answered": 1, "of": 2, "reason": "missing_score"}


def test_a_subscale_feeds_its_exact_value_not_its_rounded_json():
    scores = [rule("m", items=["q1", "q2", "q3"], method="mean"), rule("t", scores=["m"], transform={"multiply": 3})]
    result = compute(PHQ, scores, {"q1": "a1", "q2": "a1", "q3": "a2"})
    # mean 4/3 → × 3 = exactly 4 (a float round trip would give 3.9999999999999996).
    assert result["t"]["value"] == 4


def test_lookup_converts_a_raw_score_and_a_raw_absent_from_the_table_gives_no_score():
    scores = [rule(items=["q1", "q2"], lookup=[[0, 30.5], [1, 38], [2, 44.2], [3, 49], [4, 53.1]])]
    hit = compute(PHQ, scores, {"q1": "a1", "q2": "a2"})["total"]
    assert hit["value"] == 49 and hit["raw"] == 3
    miss = compute(PHQ, scores, {"q1": "a3", "q2": "a3"})["total"]
    assert miss == {"value": None, "raw": 6, "answered": 2, "of": 2, "prorated": False, "reason": "not_in_lookup"}


def test_linear_transform_after_the_lookup_who5_style():
    items = [choice(f"w{i}", [0, 1, 2, 3, 4, 5]) for i in range(1, 6)]
    scores = [rule(items=[f"w{i}" for i in range(1, 6)], transform={"multiply": 4})]
    assert compute(items, scores, {f"w{i}": "a3" for i in range(1, 6)})["total"]["value"] == 60
    shifted = [rule(items=["q1"], lookup=[[2, 10]], transform={"multiply": 2, "add": -1})]
    assert compute(PHQ, shifted, {"q1": "a2"})["total"]["value"] == 19


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("2.5", 0, 3),
        ("3.5", 0, 4),
        ("-2.5", 0, -3),
        ("0.125", 2, 0.13),
        ("1.005", 2, 1.01),
        ("2.4999", 0, 2),
    ],
)
def test_rounding_is_half_away_from_zero_on_decimals(value, places, expected):
    items = [number("x", kind="decimal")]
    assert compute(items, [rule(items=["x"], round=places)], {"x": float(value)})["total"]["value"] == expected


def test_rounding_happens_after_the_transform():
    scores = [rule(items=["q1", "q2"], method="mean", transform={"multiply": 25}, round=0)]
    # mean 0.5 × 25 = 12.5 → 13 (rounding the mean first would give 1 × 25 = 25 or 0).
    assert compute(PHQ, scores, {"q1": "a0", "q2": "a1"})["total"]["value"] == 13


BANDS = [
    {"code": "minimal", "min": 0, "max": 4, "label": {"fr": "Minimale", "en": "Minimal"}},
    {"code": "mild", "min": 5, "max": 9, "label": {"fr": "Légère", "en": "Mild"}},
    {"code": "severe", "min": 20, "max": 27, "label": {"fr": "Sévère", "en": "Severe"}},
]


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, None), (19, None), (20, "severe"), (27, "severe")],
)
def test_bands_are_inclusive_at_both_edges_and_a_gap_has_no_band(total, band):
    answers, left = {}, total
    for code in NINE:
        answers[code] = f"a{min(left, 3)}"
        left -= min(left, 3)
    result = compute(PHQ, [rule(items=NINE, bands=BANDS)], answers)["total"]
    assert result["value"] == total and result["band"] == band


def test_a_broken_rule_never_breaks_a_submit():
    scores = [rule(items=["q1"], lookup="not a table"), rule("fine", items=["q1"])]
    result = compute(PHQ, scores, {"q1": "a1"})
    assert result["total"] == {"value": None, "reason": "invalid_rule"}
    assert result["fine"]["value"] == 1


def test_no_rules_no_scores():
    assert scores_compute({"item": PHQ}, {"q1": "a1"}) == {}


# --- checking the rules ----------------------------------------------------------------------------------


def problems(items, scores, languages=("fr", "en"), **rules) -> list[str]:
    return [str(p) for p in scoring_problems(definition(items, scores, **rules), languages=list(languages))]


def test_valid_rules_have_no_problem():
    scores = [
        rule("a", items=NINE[:4], min_answered=3, missing="prorate", bands=BANDS, round=1),
        rule("b", items=NINE[4:], reverse=["q5"], lookup=[[0, 1], [1, 2]], transform={"add": 1}),
        rule("both", scores=["a", "b"], method="mean"),
    ]
    assert problems(PHQ, scores) == []
    assert scoring_problems({"item": PHQ}, languages=["fr"]) == []


def test_every_item_problem_names_the_score_and_the_item():
    items = PHQ + [
        choice("unscored", [None, None]),
        {"linkId": "note", "type": "display", "text": "n"},
        {"linkId": "when", "type": "date", "text": "d"},
        choice("multi", [1, 2], repeats=True),
    ]
    found = problems(
        items, [rule(items=["q1", "q1", "ghost", "unscored", "note", "when", "multi"], reverse=["q2", "multi"])]
    )
    assert found == [
        "score total: item q1 is listed more than once",
        "score total: item ghost does not exist",
        "score total: item unscored has no option scores: give its answer options a score",
        "score total: item note is not a question",
        "score total: item when cannot be scored: only choices, yes/no and numbers have a value",
        "score total: item q2 is reversed but is not among its items",
        "score total: item multi is a multiple choice, which cannot be reversed",
    ]


def test_reverse_of_a_number_without_bounds_is_a_problem():
    assert problems([number("n")], [rule(items=["n"], reverse=["n"])]) == [
        "score total: item n cannot be reversed: give it a minimum and a maximum"
    ]


def test_names_and_references_between_scores():
    scores = [
        rule("total", scores=["later"]),
        rule("total", items=["q1"]),
        rule("9bad", items=["q1"]),
        {"label": LABEL, "method": "sum", "items": ["q1"]},
        rule("later", items=["q1"], scores=["ghost", "later"]),
        rule("empty"),
    ]
    assert problems(PHQ, scores) == [
        "score total: uses score later, which comes after it (list it first)",
        'score total: name "total" is already used by score no. 1',
        'score 9bad: name "9bad" is not valid: use a letter, then letters, digits or _ (34 characters at most)',
        'score no. 4: has no "name"',
        "score later: uses score ghost, which does not exist",
        "score later: uses itself as an input score",
        'score empty: has nothing to score: list "items" or earlier "scores"',
    ]


def test_method_missing_min_answered_lookup_transform_round_and_unknown_keys():
    scores = [
        {
            "name": "t",
            "label": LABEL,
            "items": NINE[:3],
            "method": "median",
            "missing": "zero",
            "min_answered": 4,
            "lookup": [[0, 1], [0, 2]],
            "transform": {"times": 2},
            "round": -1,
            "weight": 2,
        },
        rule("u", items=NINE[:3], min_answered=2),
        rule("v", items=NINE[:3], min_answered=True, lookup=[[0]]),
    ]
    assert problems(PHQ, scores) == [
        'score t: unknown key "weight"',
        'score t: "method" must be "sum" or "mean"',
        'score t: "missing" must be "prorate" or "none"',
        'score t: "min_answered" must be a whole number from 1 to 3 (the number of its inputs)',
        "score t: lookup: raw score 0 appears more than once",
        'score t: "transform" must be an object with numbers "multiply" and/or "add"',
        'score t: "round" must be a whole number of decimal places from 0 to 6',
        'score u: "min_answered" is 2 of 3 but "missing" is "none", which needs every answer: '
        'set "missing" to "prorate" or remove "min_answered"',
        'score v: "min_answered" must be a whole number from 1 to 3 (the number of its inputs)',
        'score v: "lookup" must be a non-empty list of [raw score, value] pairs of numbers',
    ]


def test_labels_in_every_study_language_and_band_problems():
    bands = [
        {"code": "low", "min": 0, "max": 5, "label": {"en": "Low"}},
        {"code": "mid", "min": 5, "max": 9, "label": {"fr": "Moyen", "en": "Mid"}},
        {"code": "mid", "min": 12, "max": 10, "label": {"fr": "x", "en": "x"}},
        {"code": "high", "min": 15, "max": "27", "label": {"fr": "x", "en": "x"}},
        # 10..14 is a gap: allowed.
        {"code": "top", "min": 28, "max": 30, "label": {"fr": "x", "en": "x"}, "colour": "red"},
    ]
    found = problems(PHQ, [{"name": "t", "label": {"en": "T"}, "method": "sum", "items": NINE, "bands": bands}])
    assert found == [
        "score t: label is missing in French",
        "score t: band low: label is missing in French",
        "score t: band mid: code is used by more than one band",
        "score t: band mid: min (12) is above max (10)",
        'score t: band high: "min" and "max" must be numbers',
        'score t: band top: unknown key "colour"',
        "score t: bands low and mid overlap (bounds are inclusive)",
    ]
    assert problems(PHQ, [rule(items=NINE, bands=BANDS)], languages=["en"]) == []


def test_malformed_rules_are_reported_not_raised():
    broken = definition(PHQ, [])
    broken["extension"][0]["valueString"] = '{"scores": ['
    found = [str(p) for p in scoring_problems(broken, languages=["en"])]
    assert len(found) == 1 and found[0].startswith("scores and alerts: the rules are not valid JSON")
    assert problems(PHQ, [], extra=1) == ['scores and alerts: unknown key "extra" (expected "scores" and "alerts")']
    as_list = definition(PHQ, [])
    as_list["extension"][0]["valueString"] = "[1, 2]"
    assert [p.message for p in scoring_problems(as_list, languages=["en"])] == [
        'the rules must be a JSON object, such as {"scores": [...], "alerts": [...]}'
    ]
    not_list = definition(PHQ, [])
    not_list["extension"][0]["valueString"] = '{"scores": {"name": "t"}}'
    assert [p.message for p in scoring_problems(not_list, languages=["en"])] == [
        '"scores" must be a list of score rules'
    ]
    assert problems(PHQ, ["total"]) == ["score no. 1: each score rule must be a JSON object"]


# --- the admin form, as the designer saves ----------------------------------------------------------


def phq_draft(make, study=None):
    q = make.questionnaire(study=study)
    for code in NINE:
        make.item(
            questionnaire=q,
            link_id=code,
            options=[
                ("a0", "Jamais", "Never", 0),
                ("a1", "Parfois", "Some", 1),
                ("a2", "Souvent", "Often", 2),
                ("a3", "Tous", "All", 3),
            ],
        )
    make.item(questionnaire=q, link_id="comment", type="long_text")
    return q


def form_for(q, rules_text: str) -> QuestionnaireForm:
    data = {
        "study": q.study_id,
        "code": q.code,
        "kind": q.kind,
        "title_fr": q.title_fr,
        "title_en": q.title_en,
        "rules": rules_text,
    }
    return QuestionnaireForm(data=data, instance=q)


def test_form_lists_every_problem_against_the_draft_items(make):
    q = phq_draft(make)
    rules = {"scores": [rule(items=NINE + ["comment", "gone"]), rule("bad", method="max", items=["q1"])]}
    form = form_for(q, json.dumps(rules))
    assert not form.is_valid()
    assert form.errors["rules"] == [
        "score total: item comment cannot be scored: only choices, yes/no and numbers have a value",
        "score total: item gone does not exist",
        'score bad: "method" must be "sum" or "mean"',
    ]


def test_form_says_where_malformed_json_breaks(make):
    q = phq_draft(make)
    form = form_for(q, '{"scores": [\n  {"name": "total",}\n]}')
    assert not form.is_valid()
    (message,) = form.errors["rules"]
    assert message.startswith("The rules are not valid JSON:") and "line 2, column" in message


def test_form_saves_valid_rules_and_empty_rules(make):
    q = phq_draft(make)
    rules = {"scores": [rule(items=NINE, bands=BANDS)]}
    form = form_for(q, json.dumps(rules))
    assert form.is_valid(), form.errors
    form.save()
    q.refresh_from_db()
    assert q.rules == rules
    form = form_for(q, "")
    assert form.is_valid(), form.errors
    form.save()
    q.refresh_from_db()
    assert q.rules == {}


def test_form_checks_an_imported_draft_against_its_imported_definition(make):
    q = make.questionnaire()
    q.source_definition = {
        "resourceType": "Questionnaire",
        "language": "fr",
        "title": "Q",
        "item": [choice("imp1", [0, 1]), choice("imp2", [0, 1])],
    }
    q.save()
    good = form_for(q, json.dumps({"scores": [rule(items=["imp1", "imp2"])]}))
    assert good.is_valid(), good.errors
    bad = form_for(q, json.dumps({"scores": [rule(items=["imp1", "q1"])]}))
    assert not bad.is_valid()
    assert bad.errors["rules"] == ["score total: item q1 does not exist"]


def test_form_checks_alerts_with_the_safety_message_as_typed(make):
    q = phq_draft(make)
    alert = {
        "code": "item9",
        "label": {"fr": "Item 9", "en": "Item 9"},
        "when": {"answer": "q9", "operator": ">", "value": 0},
        "safety_message": True,
    }
    rules = json.dumps({"scores": [rule(items=NINE)], "alerts": [alert]})
    without = form_for(q, rules)
    assert not without.is_valid()
    assert any(e.startswith("alert item9: ") for e in without.errors["rules"])
    typed = form_for(q, rules)
    typed.data = {**typed.data, "safety_message_fr": "Appelez le 3114.", "safety_message_en": "Call 3114."}
    assert typed.is_valid(), typed.errors
    q.refresh_from_db()
    assert q.rules == {} and q.safety_message_fr == ""  # checking saved nothing


def test_form_of_a_new_draft_knows_no_item_yet(make):
    study = make.study()
    data = {
        "study": study.pk,
        "code": "fresh",
        "kind": "PROM",
        "title_fr": "Q",
        "title_en": "Q",
        "rules": json.dumps({"scores": [rule(items=["q1"])]}),
    }
    form = QuestionnaireForm(data=data)
    assert not form.is_valid()
    assert form.errors["rules"] == ["score total: item q1 does not exist"]
    form = QuestionnaireForm(data={**data, "rules": ""})
    assert form.is_valid(), form.errors
    assert form.save().rules == {}


def test_designer_sees_rule_problems_on_the_admin_change_page(client, make):
    study = make.study()
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    q = phq_draft(make, study=study)
    change_url = reverse("admin:surveys_questionnaire_change", args=[q.pk])
    data = form_data(client.get(change_url))
    data["rules"] = json.dumps({"scores": [rule(items=["q1", "nope"])]})
    page = client.post(change_url, data)
    assert page.status_code == 200
    assert "score total: item nope does not exist" in page.content.decode()
    q.refresh_from_db()
    assert q.rules == {}
    data["rules"] = json.dumps({"scores": [rule(items=NINE)]})
    assert client.post(change_url, data).status_code == 302
    q.refresh_from_db()
    assert q.rules["scores"][0]["items"] == NINE


# --- stored at submit ---------------------------------------------------------------------------------


def test_submit_stores_the_scores_with_the_response(make):
    q = phq_draft(make)
    q.rules = {"scores": [rule(items=NINE, min_answered=8, missing="prorate", bands=BANDS)]}
    q.save()
    version = publish.questionnaire_publish(questionnaire=q, by=None)
    _token, assignment = make.open_link(version=version)
    answers = {code: "a1" for code in NINE[:8]}
    submit.response_save_page(assignment=assignment, answers=answers, page_index=0, advance=True)
    response = submit.response_submit(assignment=assignment)
    stored = Response.objects.get(pk=response.pk).scores
    # 8 × 9 / 8 = 9, prorated
    assert stored == {"total": {"value": 9, "raw": 9, "answered": 8, "of": 9, "prorated": True, "band": "mild"}}


def test_patient_page_flow_stores_scores(client, make):
    q = phq_draft(make)
    q.rules = {"scores": [rule(items=NINE, bands=BANDS)]}
    q.save()
    version = publish.questionnaire_publish(questionnaire=q, by=None)
    token, assignment = make.open_link(version=version)
    link = reverse("surveys:respond", args=[token])
    post = {code: "a0" for code in NINE} | {
        "q1": "a2",
        "q2": "a1",
        "page": "1",
        "action": "next",
        "shown": " ".join(NINE + ["comment"]),
    }
    assert client.post(link, post).status_code == 302
    assert client.post(link, make.review_send(assignment)).status_code == 302
    response = Response.objects.get(assignment=assignment)
    assert response.status == Response.Status.COMPLETED
    assert response.scores == {
        "total": {"value": 3, "raw": 3, "answered": 9, "of": 9, "prorated": False, "band": "minimal"}
    }


# --- a public PHQ-9 whose calculated total counts a missing answer as 0 -------------------------------


def test_public_phq9_with_eight_answers_has_no_score(make):
    source = load("fhir/phq9.json")
    definition_ = copy.deepcopy(source)
    scored = [
        node["linkId"]
        for node in definition_["item"]
        if any(values.option_score(o) is not None for o in node.get("answerOption", []))
    ]
    assert len(scored) == 9
    # The fixture's own total (an SDC calculatedExpression) replaces each missing answer by 0:
    total_item = next(node for node in definition_["item"] if node.get("type") == "decimal")
    expression = fhir.ext_value(
        total_item, "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
    )["expression"]
    assert "iif(%q9_value.exists(), %q9_value, 0)" in expression
    rules = {"scores": [{"name": "total", "label": {"en": "PHQ-9"}, "items": scored, "method": "sum"}]}
    definition_.setdefault("extension", []).append({"url": fhir.EXT_RULES, "valueString": json.dumps(rules)})
    assert scoring_problems(definition_, languages=["en"]) == []

    nearly_every_day = "LA6571-9"
    answers = {link_id: nearly_every_day for link_id in scored[:8]}  # item 9 (self-harm) left unanswered
    result = scores_compute(definition_, answers)["total"]
    assert result == {"value": None, "answered": 8, "of": 9, "reason": "too_few_answers"}
    # What the calculated expression would show: 24, as if item 9 had been answered "not at all".
    lforms_like = sum(
        values.as_number(node, answers.get(node["linkId"])) or Decimal(0)
        for node in definition_["item"]
        if node["linkId"] in scored
    )
    assert lforms_like == 24
    answers[scored[8]] = nearly_every_day
    assert scores_compute(definition_, answers)["total"]["value"] == 27
    assert source == load("fhir/phq9.json")  # the fixture itself is untouched


def test_public_phq9_imported_as_a_draft_scores_at_submit(make):
    """The same 8-answer case through publish and submit (the ninth item is not required in the fixture)."""
    source = load("fhir/phq9.json")
    study = make.study(languages=["en"])
    q = make.questionnaire(study=study)
    # The fixture names no language; its texts are English.
    q.source_definition = {**copy.deepcopy(source), "language": "en"}
    scored = [
        node["linkId"]
        for node in source["item"]
        if any(values.option_score(o) is not None for o in node.get("answerOption", []))
    ]
    q.rules = {"scores": [{"name": "total", "label": {"en": "PHQ-9"}, "items": scored, "method": "sum"}]}
    q.save()
    version = publish.questionnaire_publish(questionnaire=q, by=None)
    _token, assignment = make.open_link(version=version)
    submit.response_save_page(
        assignment=assignment, answers={link: "LA6569-3" for link in scored[:8]}, page_index=0, advance=True
    )
    response = submit.response_submit(assignment=assignment)
    assert response.scores["total"]["value"] is None
    assert response.scores["total"]["reason"] == "too_few_answers"


def test_form_asks_for_the_licence_reference_of_a_licensed_instrument(make):
    q = make.questionnaire()
    form = form_for(q, "")
    form.data = {**form.data, "instrument": "eq5d5l"}
    assert not form.is_valid()
    assert "licence reference" in " ".join(form.errors["licence_reference"])
    form = form_for(q, "")
    form.data = {**form.data, "instrument": "eq5d5l", "licence_reference": "EuroQol 12345"}
    assert form.is_valid(), form.errors
