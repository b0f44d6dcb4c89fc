"""Dates have a plausible range, and planning never fails a submission, whatever date it is given."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.questionnaires import fhir, values
from surveys.scheduling.planning import timepoint_windows
from tests.surveys.scheduling.test_planning_rules import design, enrol, submit, windows  # noqa: F401 - fixtures

DATE_ITEM = {"linkId": "d", "type": "date", "text": "When?"}


def bounded(low: str, high: str) -> dict:
    return {
        **DATE_ITEM,
        "extension": [{"url": fhir.EXT_MIN, "valueDate": low}, {"url": fhir.EXT_MAX, "valueDate": high}],
    }


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("01/01/1900", "1900-01-01"),
        ("31/12/2100", "2100-12-31"),
        ("2025-06-30", "2025-06-30"),
        ("0001-01-01", None),
        ("9999-12-31", None),
        ("31/12/1899", None),
        ("01/01/2101", None),
    ],
)
def test_the_default_range_refuses_the_absurd_with_a_message(typed, stored):
    value, error = values.parse(DATE_ITEM, [typed])
    assert value == stored
    assert bool(error) == (stored is None)
    if error:
        assert "01/01/1900" in error and "31/12/2100" in error


def test_an_item_narrows_the_range_and_says_so():
    node = bounded("2020-01-01", "2026-12-31")
    assert values.parse(node, ["31/12/2019"]) == (None, "Enter a date between 01/01/2020 and 31/12/2026.")
    assert values.parse(node, ["01/01/2020"]) == ("2020-01-01", "")
    # An item cannot widen it beyond the calendar planning can count in.
    assert values.date_range(bounded("0001-01-01", "9999-12-31")) == values.DATE_RANGE


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_a_date_is_stored_exactly_when_it_is_in_range_and_then_comes_back(day):
    value, error = values.parse(DATE_ITEM, [day.strftime("%d/%m/%Y") if day.year >= 1000 else day.isoformat()])
    inside = values.DATE_RANGE[0] <= day <= values.DATE_RANGE[1]
    assert (value is not None) == inside and bool(error) == (not inside)
    if inside:
        assert values.parse(DATE_ITEM, values.form_values(DATE_ITEM, value)) == (value, "")


@pytest.mark.parametrize("stored", ["9999-12-31", "0001-01-01", "2100-12-31"])
def test_a_stored_date_at_the_calendars_end_never_fails_the_submission(make, design, stored):  # noqa: F811
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="after-surgery",
        offset=30,
        window=7,
        anchor="answer",
        anchor_item="surgery",
        repeat_every=3_000_000,
        repeat_count=3,
    )
    participant, _enrollment = enrol(make, study)
    # Stored as an import or an older page would have: the submission plans from it, or plans nothing.
    submit(participant, surgery=stored)
    planned = windows(participant, "after-surgery")
    assert planned == [] if stored != "2100-12-31" else [k for k, *_ in planned] == [1]


def test_occurrences_beyond_year_9999_are_left_out(make, design):  # noqa: F811
    _study, _baseline, follow_up = design
    timepoint = make.timepoint(
        version=follow_up, code="far", offset=0, window=7, repeat_every=1_500_000, repeat_count=5
    )
    anchor = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    assert [k for k, *_ in timepoint_windows(timepoint, anchor)] == [1, 2]
