"""A number item whose answer format asks for N decimals (REDCap's number_Ndp) shows its stored number with them.

The patient types "70.50", 70.5 is stored; the page, the review and the QuestionnaireResponse import write it
back as "70.50", so posting the page again, or importing our own export, gives the same number instead of
"Enter the answer in the form 0.00.". The format stays a rule of typed text; a number that comes as a number
(valueDecimal) is written with the item's decimals first, so it passes with at most that many decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.interop.fhir.response_import import _answer_value
from surveys.interop.redcap.fields import TEXT_FORMATS
from surveys.questionnaires import fhir, values
from tests.paths import DATA
from tests.surveys.interop.test_redcap import parse

VALIDATION_TYPES = DATA / "public" / "redcap" / "redcapr-validation-types.csv"


@pytest.fixture
def items(make) -> dict[str, dict]:
    """The number items REDCap's importer makes of redcapr's validation-types dictionary, by validation (pure
    data, read once; the study only gives the file a place to be parsed in)."""
    if not ITEMS:
        study = make.study(code="decimals", languages=["en"], fallback_language="en")
        definitions, problems, _warnings = parse(VALIDATION_TYPES.read_bytes(), study)
        assert problems == [], problems
        for definition in definitions.values():
            for node in fhir.iter_items(definition.get("item", [])):
                name = str(node.get("linkId"))
                if name.startswith("v_number") and values.kind_of(node) in values.NUMBER_TYPES:
                    ITEMS[name.removeprefix("v_")] = node
    return ITEMS


ITEMS: dict[str, dict] = {}


# validation -> decimals its format asks for (None: a number without decimals is taken).
PLACES = {
    "number": None,
    "number_1dp": 1,
    "number_2dp": 2,
    "number_3dp": 3,
    "number_4dp": 4,
    "number_1dp_comma_decimal": 1,
    "number_2dp_comma_decimal": 2,
    "number_3dp_comma_decimal": 3,
    "number_4dp_comma_decimal": 4,
    "number_comma_decimal": None,
}

# (validation, typed, stored, shown again)
CASES = [
    ("number_2dp", "70.50", 70.5, "70.50"),
    ("number_2dp", "70,50", 70.5, "70.50"),
    ("number_2dp", "0.00", 0.0, "0.00"),
    ("number_2dp", "-0.00", 0.0, "0.00"),
    ("number_2dp", "-3.10", -3.1, "-3.10"),
    ("number_2dp", "12.34", 12.34, "12.34"),
    ("number_1dp", "7.0", 7.0, "7.0"),
    ("number_3dp", "1.500", 1.5, "1.500"),
    ("number_4dp", "2.0000", 2.0, "2.0000"),
    ("number_2dp_comma_decimal", "70,50", 70.5, "70.50"),
    ("number_4dp_comma_decimal", "0,1000", 0.1, "0.1000"),
    ("number", "70.50", 70.5, "70.5"),
    ("number_comma_decimal", "70,50", 70.5, "70.5"),
]


def test_the_table_covers_the_file(items):
    assert set(PLACES) <= set(items), sorted(items)


@pytest.mark.parametrize("validation", sorted(PLACES))
def test_the_decimals_are_read_from_the_format(items, validation):
    assert values.decimal_places(items[validation]) == PLACES[validation]


@pytest.mark.parametrize(("validation", "typed", "stored", "shown"), CASES)
def test_a_stored_number_is_shown_with_the_format_decimals_and_posted_again_unchanged(
    items, validation, typed, stored, shown
):
    node = items[validation]
    assert values.parse(node, [typed]) == (stored, "")
    assert values.form_values(node, stored) == [shown]
    assert values.display(node, stored, language="en", base="en") == shown
    assert values.parse(node, values.form_values(node, stored)) == (stored, "")


def test_a_number_with_more_decimals_than_the_format_is_shown_as_it_is(items):
    # An answer stored before the format, or imported: rounding it would change it; the page says what to change.
    node = items["number_2dp"]
    assert values.form_values(node, 3.14159) == ["3.14159"]
    assert values.parse(node, ["3.14159"])[1]


def test_a_pattern_taking_only_the_comma_is_shown_with_a_comma():
    node = {
        "linkId": "weight",
        "type": "decimal",
        "extension": [
            {"url": values.EXT_REGEX, "valueString": "[0-9]+,[0-9]{2}"},
            {"url": values.EXT_ENTRY_FORMAT, "valueString": "0,00"},
        ],
    }
    assert values.decimal_places(node) == 2
    assert values.form_values(node, 70.5) == ["70,50"]
    assert values.parse(node, ["70,50"]) == (70.5, "")


def test_an_item_without_format_or_with_a_text_format_is_shown_plainly():
    assert values.decimal_places({"linkId": "a", "type": "decimal"}) is None
    assert values.form_values({"linkId": "a", "type": "decimal"}, 70.5) == ["70.5"]
    zipcode = {"linkId": "z", "type": "string", "extension": [{"url": values.EXT_REGEX, "valueString": "[0-9]{5}"}]}
    assert values.decimal_places(zipcode) is None


# (validation, valueDecimal, stored or None when refused)
IMPORTED = [
    ("number_2dp", 0.0, 0.0),
    ("number_2dp", 0, 0.0),
    ("number_2dp", 70.5, 70.5),
    ("number_2dp", 70.55, 70.55),
    ("number_2dp", 70.555, None),  # more decimals than the item takes
    ("number_4dp_comma_decimal", 1.5, 1.5),
    ("number_1dp", 37, 37.0),
]


@pytest.mark.parametrize(("validation", "number", "stored"), IMPORTED)
def test_a_value_decimal_is_checked_as_a_number_with_at_most_the_format_decimals(items, validation, number, stored):
    problems: list[str] = []
    got = _answer_value(items[validation], {"valueDecimal": number}, problems.append)
    assert got == stored, problems
    assert bool(problems) == (stored is None)


@pytest.mark.parametrize("validation", sorted(v for v in PLACES if PLACES[v]))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_showing_again_and_posting_again_changes_nothing(items, validation, data):
    """Any text of the format the item takes: stored, shown, posted again, the same number; and the text shown
    passes the browser's pattern too (the page would not let the patient send it otherwise)."""
    node = items[validation]
    pattern = TEXT_FORMATS[validation][0]
    typed = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda t: len(t) < 16))
    stored, error = values.parse(node, [typed])
    if error:
        return  # out of the item's range, or more digits than a number keeps: refused, nothing to show
    shown = values.form_values(node, stored)
    assert re.fullmatch(pattern, shown[0], re.ASCII), (typed, shown)
    assert values.parse(node, shown) == (stored, ""), (typed, shown)
    assert Decimal(shown[0].replace(",", ".")) == Decimal(str(stored))
