"""REDCap text validations kept as checks: the page's `pattern` and the server's check are one rule.

The formats are REDCap's (its redcap_validation_types table): number_1dp takes exactly one decimal, time is
H:MM or HH:MM up to 23:59, zipcode five digits or five-dash-four. Both the patient page and the server read
the item's format through values.answer_format, so for any typed string the browser's verdict (the HTML
pattern, anchored whole, ASCII \\d as in JavaScript) and the server's (values.parse) agree.
"""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.answering import rendering
from surveys.interop.redcap.dictionary_export import dictionary_export
from surveys.interop.redcap.fields import TEXT_FORMATS
from surveys.questionnaires import fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.surveys.interop.test_redcap import DATA, RECORD, dictionary, field, parse


@pytest.fixture
def study(make):
    return make.study(code="formats", languages=["fr"], fallback_language="fr")


# validation -> (accepted, refused), as REDCap's own patterns decide.
CASES: dict[str, tuple[list[str], list[str]]] = {
    "time_mm_ss": (["00:00", "59:59", "07:30"], ["60:00", "5:30", "12:61"]),
    "zipcode": (["12345", "12345-6789"], ["1234", "123456", "12345-678", "12345 6789", "abcde"]),
    "postalcode_french": (["75011", "01000", "97400", "20000"], ["7501", "750111", "00100", "99000", "75O11"]),
    "postalcode_germany": (["10115", "01067"], ["1011", "101155"]),
    "postalcode_australia": (["2000", "0800"], ["200", "20000"]),
    "postalcode_canada": (["K1A 0B1", "k1a0b1", "H2X 1Y4"], ["D1A 0B1", "K1A-0B1", "K1A 0B"]),
    "alpha_only": (["abc", "ABCdef"], ["abc1", "ab cd", "é"]),
    "number_1dp": (["3.1", "-3.1", "35,5", "0.0"], ["3", "3.14", "3.14159", ".5", "3."]),
    "number_2dp": (["3.14", "-0.50"], ["3.1", "3.141"]),
    "number_3dp": (["3.142"], ["3.14", "3.1416"]),
    "number_4dp": (["3.1416"], ["3.142"]),
    "number_1dp_comma_decimal": (["3,1", "3.1"], ["3", "3,14"]),
    "number_2dp_comma_decimal": (["3,14"], ["3,1"]),
    "number_3dp_comma_decimal": (["3,142"], ["3,14"]),
    "number_4dp_comma_decimal": (["3,1416"], ["3,142"]),
    "number_comma_decimal": (["3", "3,14", "-2.5"], ["3,", ",5", "3,1,4"]),
}


def item_of(study, validation: str) -> dict:
    """The FHIR item REDCap's importer makes of a text field with this validation."""
    definitions, problems, _warnings = parse(dictionary(RECORD, field("answer", validation=validation)), study)
    assert problems == [], problems
    (node,) = [n for n in fhir.iter_items(definitions["form_a"]["item"]) if n.get("linkId") == "answer"]
    return node


def page_pattern(node: dict) -> str | None:
    """The `pattern` attribute the patient page writes for this item, read back from its HTML."""
    definition = {"resourceType": "Questionnaire", "language": "en", "item": [node]}
    (page,) = rendering.build_pages(definition, "en")
    (found,) = [f for f in rendering.page_fields(definition, page, "en", {}) if f.link_id == "answer"]
    markup = str(found.html)
    match = re.search(r'<input[^>]* name="answer"[^>]*?(?: pattern="([^"]*)")?[^>]*>', markup)
    assert match, markup
    attribute = re.search(r' pattern="([^"]*)"', match.group(0))
    return html.unescape(attribute.group(1)) if attribute else None


def browser_accepts(pattern: str, text: str) -> bool:
    # HTML compiles the pattern as ^(?:pattern)$ in JavaScript, where \d and \w are ASCII.
    return re.fullmatch(pattern, text, re.ASCII) is not None


def server_accepts(node: dict, text: str) -> bool:
    _value, error = values.parse(node, [text])
    return not error


def test_every_format_of_the_table_has_cases():
    assert set(CASES) == set(TEXT_FORMATS)


@pytest.mark.parametrize("validation", sorted(CASES))
def test_each_validation_is_checked_as_redcap_checks_it(study, validation):
    node = item_of(study, validation)
    pattern = page_pattern(node)
    assert pattern == TEXT_FORMATS[validation][0]
    accepted, refused = CASES[validation]
    for text in accepted:
        assert server_accepts(node, text), (validation, text, values.parse(node, [text]))
        assert browser_accepts(pattern, text), (validation, text)
    for text in refused:
        assert not server_accepts(node, text), (validation, text)
        assert not browser_accepts(pattern, text), (validation, text)
    # The refusal names the form expected.
    assert TEXT_FORMATS[validation][1] in values.parse(node, [refused[0]])[1]


@pytest.mark.parametrize(
    ("validation", "accepted", "refused"),
    [
        ("time", [("00:00", "00:00"), ("9:05", "09:05"), ("23:59", "23:59")], ["24:00", "25:99", "12:60", "12:3"]),
        ("time_hh_mm_ss", [("23:59:59", "23:59:59"), ("08:30:00", "08:30")], ["24:00:00", "12:61:00"]),
    ],
)
def test_a_redcap_time_is_our_time_of_day_with_redcap_range(study, validation, accepted, refused):
    node = item_of(study, validation)
    assert node["type"] == "time" and fhir.item_type(node) == "time"
    for typed, stored in accepted:
        assert values.parse(node, [typed]) == (stored, "")
    for typed in refused:
        assert values.parse(node, [typed])[1], typed
    # The page asks it with the browser's own time control.
    definition = {"resourceType": "Questionnaire", "language": "en", "item": [node]}
    (page,) = rendering.build_pages(definition, "en")
    (found,) = rendering.page_fields(definition, page, "en", {})
    assert 'type="time"' in str(found.html)


def test_the_number_with_one_decimal_keeps_its_range_and_stores_a_number(study):
    definitions, problems, _w = parse((DATA / "every-type.csv").read_bytes(), study)
    assert problems == []
    node = next(n for n in fhir.iter_items(definitions["suivi"]["item"]) if n.get("linkId") == "temperature")
    assert values.parse(node, ["37.5"]) == (37.5, "")
    assert values.parse(node, ["3.14159"])[1]  # decimals refused, as REDCap refuses them
    assert values.parse(node, ["43.0"])[1]  # above the maximum 42.5
    arrival = next(n for n in fhir.iter_items(definitions["suivi"]["item"]) if n.get("linkId") == "arrival")
    assert values.parse(arrival, ["08:45"]) == ("08:45", "")  # a time of day
    assert values.parse(arrival, ["25:99"])[1]


def test_the_validation_goes_back_out_to_redcap(make, study):
    from surveys.interop.imports import import_parse, questionnaire_import

    content = (DATA / "every-type.csv").read_bytes()
    result = import_parse(format_="redcap", content=content, study=study)
    suivi = next(q for q in questionnaire_import(study=study, result=result, format_="redcap", by=None))
    exported = dictionary_export(questionnaire_publish(questionnaire=suivi, by=None))
    rows = {line.split(",")[0]: line for line in exported.splitlines()}
    assert ",time," in rows["arrival"] and ",number_1dp,35,42.5," in rows["temperature"]


ALPHABET = st.sampled_from(list("0123456789:.,- aAbBkKzZ") + ["١", "é", "٣"])  # Arabic-Indic digits: not ASCII


@pytest.mark.parametrize("validation", sorted(CASES))
# The items are pure data, built once per validation; the fixture only gives them a study to be parsed in.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(ALPHABET, min_size=1, max_size=12))
def test_browser_pattern_and_server_check_agree_on_any_string(study, validation, text):
    node = ITEMS.setdefault(validation, item_of(study, validation))
    pattern = PATTERNS.setdefault(validation, page_pattern(node))
    typed = text.strip()
    if not typed:
        return
    if node.get("type") in ("decimal", "integer") and values.read_number(typed) is None:
        # Not a number at all: the server says so, the pattern refuses it too.
        assert not server_accepts(node, typed) and not browser_accepts(pattern, typed)
        return
    low, high = values.accepted_range(node)
    if low is not None or high is not None:
        return
    assert browser_accepts(pattern, typed) == server_accepts(node, typed), (validation, typed)


ITEMS: dict[str, dict] = {}
PATTERNS: dict[str, str | None] = {}
