"""The structured scores-and-alerts editor writes back exactly the rules it read (the format of
surveys/scoring/formats.py), over the demo's and the instrument library's rules and generated ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.admin.forms import RulesContext, RulesEditor, rules_fit_editor
from surveys.questionnaires import fhir
from surveys.scoring import formats

INSTRUMENTS = sorted((Path(__file__).resolve().parents[3] / "surveys" / "interop" / "instruments").glob("*.json"))


def posted(editor: RulesEditor) -> dict:
    """What the browser posts back from the editor as shown, unchanged."""
    data: dict = {}

    def put(form) -> None:
        for name, field in form.fields.items():
            value = form[name].value()
            key = form.add_prefix(name)
            if field.widget.__class__.__name__ == "CheckboxInput":
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(v) for v in value]
            elif value is not None:
                data[key] = str(value)

    for formset in (editor.scores, editor.alerts):
        put(formset.management_form)
        for form in formset.forms:
            put(form)
            if hasattr(form, "bands"):
                put(form.bands.management_form)
                for band in form.bands.forms:
                    put(band)
    return data


class QueryDict(dict):
    """A plain dict posted as a form: lists are several values of one name."""

    def getlist(self, key, default=None):
        value = self.get(key, default if default is not None else [])
        return value if isinstance(value, list) else [value]


def round_trip(rules: dict, context: RulesContext) -> dict:
    shown = RulesEditor(None, rules=rules, context=context)
    editor = RulesEditor(QueryDict(posted(shown)), rules=rules, context=context)
    errors = [f.errors for f in editor.scores.forms + editor.alerts.forms if f.errors]
    assert editor.is_valid(), errors
    return editor.cleaned_rules()


def instrument_cases() -> list[tuple[str, dict, RulesContext]]:
    cases = []
    for path in INSTRUMENTS:
        definition = json.loads(path.read_text())
        rules = fhir.rules_of(definition)
        cases.append((path.stem, rules, RulesContext.of(definition, fhir.definition_languages(definition))))
    return cases


@pytest.mark.parametrize(("name", "rules", "context"), instrument_cases(), ids=[p.stem for p in INSTRUMENTS])
def test_instrument_rules_come_back_unchanged_or_stay_in_json(name, rules, context):
    if rules_fit_editor(rules, context):
        assert round_trip(rules, context) == rules
    else:
        # Lookups, transforms, input scores, groups of tests: the JSON box keeps them.
        assert rules


def test_most_instruments_fit_the_editor():
    fitting = [name for name, rules, context in instrument_cases() if rules_fit_editor(rules, context)]
    assert {"phq9", "gad7", "phq2"} <= set(fitting), fitting


@pytest.mark.django_db
def test_demo_rules_come_back_unchanged():
    from surveys.demo import demo_research_load
    from surveys.models import Questionnaire

    demo_research_load()
    checked = 0
    for questionnaire in Questionnaire.objects.select_related("study"):
        definition = fhir.definition_from_draft(questionnaire)
        context = RulesContext.of(definition, list(questionnaire.study.languages))
        if questionnaire.rules and rules_fit_editor(questionnaire.rules, context):
            assert round_trip(questionnaire.rules, context) == questionnaire.rules, questionnaire.code
            checked += 1
    assert checked >= 1


# --- generated rules ------------------------------------------------------------------------------

ITEMS = (("q1", "nrs"), ("q2", "single"), ("q3", "yes_no"), ("q4", "integer"), ("q5", "short_text"))
CODES = ("a0", "a1", "1")
CONTEXT = RulesContext(
    languages=("fr", "en"),
    items=tuple((link, f"Question {link}", kind, CODES if kind == "single" else ()) for link, kind in ITEMS),
)
SCORABLE = [link for link, kind in ITEMS if kind != "short_text"]

texts = st.text(alphabet="abcdé XYZ-'", min_size=1, max_size=12).filter(str.strip)
numbers = st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), st.just(4.0))
labels = st.dictionaries(st.sampled_from(["fr", "en"]), texts, min_size=1)
codes = st.from_regex(r"\A[A-Za-z0-9_]{1,12}\Z")


@st.composite
def score_rules(draw, name: str) -> dict:
    items = draw(st.lists(st.sampled_from(SCORABLE), min_size=1, max_size=4, unique=True))
    rule: dict = {"name": name}
    if draw(st.booleans()):
        rule["label"] = draw(labels)
    rule["items"] = items
    rule["method"] = draw(st.sampled_from(["sum", "mean"]))
    if draw(st.booleans()):
        rule["reverse"] = draw(st.lists(st.sampled_from(items), unique=True))
    if draw(st.booleans()):
        rule["missing"] = draw(st.sampled_from(["none", "prorate"]))
    if draw(st.booleans()):
        rule["min_answered"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        rule["round"] = draw(st.integers(0, formats.MAX_ROUND))
    if draw(st.booleans()):
        bands = []
        for code in draw(st.lists(codes, max_size=3, unique=True)):
            band = {"code": code, "min": draw(numbers), "max": draw(numbers)}
            if draw(st.booleans()):
                band["label"] = draw(labels)
            bands.append(band)
        rule["bands"] = bands
    return rule


@st.composite
def alert_rules(draw, names: list[str]) -> dict:
    targets = [("answer", link) for link, _kind in ITEMS] + [("score", n) for n in names]
    source, target = draw(st.sampled_from(targets))
    operator = draw(st.sampled_from(["=", "!=", "<", ">", "<=", ">=", "exists"]))
    test = {source: target, "operator": operator}
    if operator == "exists":
        if draw(st.booleans()):
            test["value"] = draw(st.booleans())
    else:
        test["value"] = draw(st.one_of(numbers, st.booleans(), st.sampled_from(CODES), texts))
    rule = {"code": draw(codes), "label": draw(labels), "when": test}
    if draw(st.booleans()):
        rule["safety_message"] = draw(st.booleans())
    return rule


@st.composite
def generated_rules(draw) -> dict:
    names = draw(st.lists(st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,8}\Z"), max_size=3, unique=True))
    rules: dict = {}
    if names or draw(st.booleans()):
        rules["scores"] = [draw(score_rules(name)) for name in names]
    alerts = draw(st.lists(alert_rules(names), max_size=3))
    if alerts or draw(st.booleans()):
        rules["alerts"] = alerts
    return rules


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_rules())
def test_generated_rules_come_back_unchanged(rules):
    # Every generated rule set is one the format accepts, and the editor takes it.
    assert formats.refusals(formats.Rules, rules) == []
    assert rules_fit_editor(rules, CONTEXT)
    assert round_trip(rules, CONTEXT) == rules


def test_rules_beyond_the_editor_stay_in_the_json_box():
    too_rich = [
        {"scores": [{"name": "t", "items": ["q1"], "method": "sum", "transform": {"multiply": 4}}]},
        {"scores": [{"name": "t", "items": ["q1"], "method": "sum", "lookup": [[0, 1]]}]},
        {"scores": [{"name": "t", "scores": ["u"], "method": "sum"}]},
        {"alerts": [{"code": "a", "label": {"fr": "x"}, "when": {"any": [{"answer": "q1", "operator": "exists"}]}}]},
        {"alerts": [{"code": "a", "label": {"de": "x"}, "when": {"answer": "q1", "operator": "exists"}}]},
        {"scores": [{"name": "t", "items": ["ghost"], "method": "sum"}]},
        {"scores": [{"name": "t", "items": ["q1", "q1"], "method": "sum"}]},
        {"other": []},
    ]
    for rules in too_rich:
        assert not rules_fit_editor(rules, CONTEXT), rules
