"""The rules' format is declared once (surveys/scoring/formats.py) and everything else agrees with it.

* docs/scoring.md: each table marked `<!-- keys: Model -->` lists exactly the keys of that model
  in `rules_schema()`, with the documented type, allowed values, pattern, range and whether it
  is required;
* scoring_problems and alert_problems: over generated rules (valid and broken: random keys, wrong
  types, None, booleans where numbers go, extra keys in transforms, bands and tests), a format
  problem is reported exactly when `Rules.model_validate` refuses the rules. A format problem is
  one whose message is a message of the declaration; the checks against the definition (an
  unknown item, a missing label...) have messages of their own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from surveys.questionnaires import fhir
from surveys.scoring import alerts, compute, formats

# The repository's docs, wherever this file sits under tests/.
DOC = next(p / "docs" / "scoring.md" for p in Path(__file__).resolve().parents if (p / "docs" / "scoring.md").exists())

# The *allowed* column's words for a type, and the shape (see `shape`) they stand for in the schema.
TYPES = {
    "text": "string",
    "number": "number",
    "whole number": "integer",
    "true or false": "boolean",
    "object": "object",
    "texts by language": "object:texts",
    "list of texts": "array:string",
    "list of scores": "array:ScoreRule",
    "list of alert rules": "array:AlertRule",
    "list of bands": "array:Band",
    "non-empty list of [raw, value] pairs of numbers": "array:array:number",
    "non-empty list of tests or groups": "array:AllOf|AnyOf|Comparison",
    "transform": "Transform",
    "test or group": "AllOf|AnyOf|Comparison",
    "any value": "any",
}


def doc_tables() -> dict[str, dict[str, str]]:
    """{model name: {key: allowed}} from the marked tables of docs/scoring.md."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        marker = re.fullmatch(r"<!-- keys: (\w+) -->", line.strip())
        if marker:
            current = tables.setdefault(marker.group(1), {})
        elif current is not None and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            key = re.fullmatch(r"`(\w+)`", cells[0])
            if key:
                current[key.group(1)] = cells[1]
        else:
            current = None  # a table ends at the first line that is not a row
    return tables


def _alternatives(prop: dict) -> list[dict]:
    return [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]


def shape(prop: dict) -> str:
    """A property's type in the words of TYPES: a JSON type, a model's name, array:<its items>."""
    (prop,) = _alternatives(prop)
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    if "oneOf" in prop:
        return "|".join(sorted(p["$ref"].rsplit("/", 1)[1] for p in prop["oneOf"]))
    if prop.get("type") == "array":
        return "array:" + shape(prop["items"]) if "items" in prop else "array"
    if prop.get("type") == "object" and prop.get("additionalProperties") == {"type": "string"}:
        return "object:texts"
    return prop.get("type", "any")


def documented(allowed: str) -> dict:
    """What an *allowed* cell says: type shape, enum, pattern, minimum, maximum, non-empty, required."""
    head, _sep, rest = allowed.partition(";")
    ticked = re.findall(r"`([^`]+)`", head)
    pattern = [t for t in ticked if t.startswith("^")]
    enum = [json.loads(t) for t in ticked if not t.startswith("^")]
    words = re.split(r", (?=\d)| matching | from ", head)[0].strip()
    span = re.search(r"from (\d+) to (\d+)", head)
    least = re.search(r"(\d+) or more", head)
    return {
        "shape": "string" if enum else TYPES[words],
        "enum": sorted(enum) or None,
        "pattern": pattern[0] if pattern else None,
        "minimum": int(span.group(1)) if span else int(least.group(1)) if least else None,
        "maximum": int(span.group(2)) if span else None,
        "non_empty": words.startswith("non-empty"),
        "required": rest.strip() == "required",
    }


def declared(prop: dict, required: bool) -> dict:
    (inner,) = _alternatives(prop)
    return {
        "shape": shape(prop),
        "enum": sorted(inner["enum"]) if "enum" in inner else None,
        "pattern": inner.get("pattern"),
        "minimum": inner.get("minimum"),
        "maximum": inner.get("maximum"),
        "non_empty": inner.get("minItems", 0) >= 1,
        "required": required,
    }


def schema_models() -> dict[str, dict]:
    schema = formats.rules_schema()
    return {"Rules": schema, **schema["$defs"]}


def test_every_model_of_the_rules_has_its_table():
    assert sorted(doc_tables()) == sorted(schema_models())


@pytest.mark.parametrize("model", sorted(schema_models()))
def test_the_documented_keys_are_the_declared_keys(model):
    table = doc_tables()[model]
    schema = schema_models()[model]
    assert sorted(table) == sorted(schema["properties"]), f"docs/scoring.md, table of {model}"
    for key, allowed in table.items():
        assert documented(allowed) == declared(schema["properties"][key], key in schema.get("required", [])), (
            f"docs/scoring.md, {model}.{key}: {allowed!r}"
        )


# --- problems agree with the declaration ----------------------------------------------------------


def option(code: str, score: int | None) -> dict:
    ext = [] if score is None else [{"url": fhir.EXT_ORDINAL, "valueDecimal": score}]
    return (
        {"valueCoding": {"code": code, "display": code}, "extension": ext}
        if ext
        else {"valueCoding": {"code": code, "display": code}}
    )


ITEMS = [
    {"linkId": "q1", "type": "choice", "text": "q1", "answerOption": [option("a0", 0), option("a1", 1)]},
    {"linkId": "q2", "type": "choice", "text": "q2", "answerOption": [option("b0", 0), option("b1", 2)]},
    {"linkId": "pain", "type": "integer", "text": "pain"},
    {"linkId": "note", "type": "string", "text": "note"},
]


def definition_with(rules: dict) -> dict:
    return {
        "resourceType": "Questionnaire",
        "language": "fr",
        "title": "t",
        "item": ITEMS,
        "extension": [
            {"url": fhir.EXT_RULES, "valueString": json.dumps(rules)},
            {"url": fhir.EXT_SAFETY, "valueString": "3114"},
        ],
    }


def _template(message) -> re.Pattern:
    # A band's problems are prefixed with the band ("band low: ...", "band no. 2: ...").
    band = r"(?:band [^:]*: )?"
    return re.compile(band + re.sub(r"%\\\(\w+\\\)s", ".*", re.escape(str(message))), re.DOTALL)


def format_messages() -> list[re.Pattern]:
    """The messages of the declaration: what a format refusal can be reported as."""
    messages = [compute._('unknown key "%(key)s"'), compute._('unknown key "%(key)s" (expected "scores" and "alerts")')]
    for model in (
        formats.Rules,
        formats.ScoreRule,
        formats.Band,
        formats.Transform,
        formats.AlertRule,
        formats.Comparison,
        formats.AnyOf,
        formats.AllOf,
    ):
        messages += [model.not_an_object, *model.says_for.values()]
        for field in model.model_fields.values():
            for says in (m for m in field.metadata if isinstance(m, formats.Says)):
                messages += [says.message, *(message for _kind, message in says.by_type)]
    return [_template(m) for m in messages if m is not None]


def also_definition() -> re.Pattern:
    """The format message also said by a check against the definition: a "min_answered" above
    the number of the score's inputs."""
    (says,) = [m for m in formats.ScoreRule.model_fields["min_answered"].metadata if isinstance(m, formats.Says)]
    return _template(says.message)


names = st.sampled_from(["q1", "q2", "pain", "note", "nope", "total", "sub", "low"])
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 40),
    st.floats(-5, 5, allow_nan=False),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=2),
    st.just({}),
)
extra = st.dictionaries(
    st.one_of(st.sampled_from(["zz", "min_answerd", "Name", "answer", "all"]), st.text(min_size=1, max_size=4)),
    junk,
    min_size=1,
    max_size=1,
)


def maybe(good):
    """The good value most of the time, else something broken."""
    return st.integers(0, 7).flatmap(lambda pick: junk if pick == 0 else good)


def with_extra(required: dict, optional: dict):
    return st.builds(
        lambda d, e: {**e, **d},
        st.fixed_dictionaries(required, optional=optional),
        st.integers(0, 7).flatmap(lambda pick: extra if pick == 0 else st.just({})),
    )


labels = maybe(st.fixed_dictionaries({"fr": st.sampled_from(["a", ""])}, optional={"en": st.just("b")}))
numbers = st.one_of(st.integers(-3, 30), st.floats(-3, 30, allow_nan=False))
band = with_extra(
    {"code": maybe(st.sampled_from(["low", "high", "a b"])), "min": maybe(numbers), "max": maybe(numbers)},
    {"label": labels},
)
transform = with_extra({}, {"multiply": maybe(numbers), "add": maybe(numbers)})
score = with_extra(
    {"name": maybe(st.sampled_from(["total", "sub", "1bad"])), "method": maybe(st.sampled_from(["sum", "mean"]))},
    {
        "label": labels,
        "items": maybe(st.lists(names, max_size=3)),
        "scores": maybe(st.lists(names, max_size=1)),
        "reverse": maybe(st.lists(names, max_size=1)),
        "missing": maybe(st.sampled_from(["prorate", "none"])),
        "min_answered": maybe(st.integers(0, 4)),
        "lookup": maybe(st.lists(st.lists(numbers, min_size=2, max_size=2), max_size=2)),
        "transform": maybe(transform),
        "round": maybe(st.integers(-1, 7)),
        "bands": maybe(st.lists(band, max_size=2)),
    },
)
operators = st.sampled_from(["=", "!=", "<", ">", "<=", ">=", "exists", "~"])
comparison = st.one_of(
    with_extra({"answer": names, "operator": maybe(operators)}, {"value": maybe(st.one_of(numbers, names))}),
    with_extra({"score": names, "operator": maybe(operators)}, {"value": maybe(st.one_of(numbers, names))}),
    with_extra({}, {"answer": names, "score": names, "operator": operators, "value": junk}),
)
when = st.recursive(
    maybe(comparison),
    lambda inner: st.one_of(
        with_extra({"any": maybe(st.lists(inner, max_size=2))}, {}),
        with_extra({"all": maybe(st.lists(inner, max_size=2))}, {}),
    ),
    max_leaves=4,
)
alert = with_extra(
    {"code": maybe(st.sampled_from(["a", "b"])), "label": labels, "when": when},
    {"safety_message": maybe(st.booleans())},
)
rules = with_extra(
    {}, {"scores": maybe(st.lists(maybe(score), max_size=2)), "alerts": maybe(st.lists(maybe(alert), max_size=2))}
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules)
@example({"alerts": [{"code": "a", "label": {"fr": "a"}, "when": {"answer": "q1", "operator": "exists"}, "zz": 1}]})
@example(
    {
        "alerts": [
            {"code": "a", "label": {"fr": "a"}, "when": {"answer": "q1", "operator": "exists", "value": 3, "zz": 1}}
        ]
    }
)
@example({"alerts": [{"code": "a", "label": {"fr": "a"}, "when": {"any": [{"score": "s", "operator": ">"}]}}]})
@example({"scores": [{"name": "s", "items": ["q1"], "method": "sum", "transform": {"multiply": True}}]})
@example(
    {
        "scores": [
            {"name": "s", "items": ["q1"], "method": "sum", "bands": [{"code": "x", "min": 0, "max": 1, "lebel": {}}]}
        ]
    }
)
def test_a_format_problem_is_reported_exactly_when_the_declaration_refuses(data):
    definition = definition_with(data)
    with translation.override("en"):
        problems = [
            str(p.message)
            for p in compute.scoring_problems(definition, languages=["fr"])
            + alerts.alert_problems(definition, languages=["fr"])
        ]
        templates = format_messages()
        counted = also_definition()
    said = [p for p in problems if any(t.fullmatch(p) for t in templates)]
    try:
        formats.Rules.model_validate(data)
    except ValidationError:
        refused = formats.refusals(formats.Rules, data)
        assert problems, f"refused by the declaration, but no problem: {refused}"
        if any(r.message is not None or r.kind == formats.UNKNOWN_KEY for r in refused):
            assert said, f"refused by the declaration, but no format problem in {problems}: {refused}"
    else:
        said = [p for p in said if not counted.fullmatch(p)]
        assert not said, f"accepted by the declaration, but format problems: {said}"
