"""Date-time answers go out as valueDateTime and come back as the wall-clock reading they were exported from.

A date-time answer is stored as the patient's wall-clock reading ("YYYY-MM-DDTHH:MM[:SS]", values.py); the
QuestionnaireResponse export gives it the study's offset at that moment (values.fhir_datetime). The import
(response_import._wall_clock) reads it back for the same study zone: export then import is the same reading,
over any day from 1900 to 2100, across Europe/Paris' summer-time changes (the hour that does not exist in
spring, the one that happens twice in autumn) and before 1911, when Paris was 9 min 21 s ahead of UTC.
A dateTime with another offset is the same instant, moved to the study's wall clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from surveys.interop.fhir.response_import import _answer_value, _wall_clock
from surveys.questionnaires import values

ZONES = ["Europe/Paris", "UTC", "America/New_York", "Pacific/Chatham", "Asia/Kolkata"]


def node() -> dict:
    return {"linkId": "onset", "type": "dateTime", "text": "When did the pain start?"}


def imported(value: dict, time_zone: str) -> tuple[object, list[str]]:
    problems: list[str] = []
    return _answer_value(node(), value, problems.append, time_zone), problems


# (stored reading, study zone, valueDateTime the export writes)
EXPORTED = [
    ("2025-06-01T14:30", "Europe/Paris", "2025-06-01T14:30:00+02:00"),
    ("2025-12-31T23:59:59", "Europe/Paris", "2025-12-31T23:59:59+01:00"),
    # Spring forward: 02:30 is not on Paris' clocks that night; written with the offset before the change.
    ("2025-03-30T02:30", "Europe/Paris", "2025-03-30T02:30:00+01:00"),
    # Fall back: 02:30 happens twice; the first one.
    ("2025-10-26T02:30", "Europe/Paris", "2025-10-26T02:30:00+02:00"),
    ("1905-05-01T08:00", "Europe/Paris", "1905-05-01T08:00:00+00:09"),
    ("1900-01-01T00:00", "UTC", "1900-01-01T00:00:00+00:00"),
    ("2100-12-31T23:59", "Pacific/Chatham", "2100-12-31T23:59:00+13:45"),
]


@pytest.mark.parametrize(("stored", "zone", "written"), EXPORTED)
def test_the_export_and_the_import_are_each_other_reverse(stored, zone, written):
    assert values.fhir_datetime(stored, zone) == written
    assert imported({"valueDateTime": written}, zone) == (stored, [])


# (valueDateTime from elsewhere, study zone, stored reading)
ELSEWHERE = [
    ("2025-06-01T12:30:00Z", "Europe/Paris", "2025-06-01T14:30"),
    ("2025-06-01T08:30:00-04:00", "Europe/Paris", "2025-06-01T14:30"),
    ("2025-01-01T00:30:00+01:00", "UTC", "2024-12-31T23:30"),
    ("2025-06-01T14:30:15.250+02:00", "Europe/Paris", "2025-06-01T14:30:15"),
    ("2025-10-26T01:30:00Z", "Europe/Paris", "2025-10-26T02:30"),  # the second 02:30 of that night
]


@pytest.mark.parametrize(("written", "zone", "stored"), ELSEWHERE)
def test_another_offset_is_the_same_instant_on_the_study_clock(written, zone, stored):
    assert imported({"valueDateTime": written}, zone) == (stored, [])


@pytest.mark.parametrize(
    "answer",
    [
        {"valueDateTime": "2025-06-01"},  # a dateTime without a time of day: not a date and time answer
        {"valueDateTime": "2025-06"},
        {"valueDateTime": "not a date"},
        {"valueDate": "2025-06-01"},
        {"valueString": "2025-06-01T14:30"},
        {"valueDateTime": "1850-06-01T14:30:00+00:00"},  # before the dates a patient may give
    ],
)
def test_what_is_not_a_date_and_time_is_refused(answer):
    stored, problems = imported(answer, "Europe/Paris")
    assert stored is None and problems


def test_a_reading_without_offset_is_kept_as_written():
    assert _wall_clock("2025-06-01T14:30:00", "Europe/Paris") == "2025-06-01T14:30"


READINGS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31, 23, 59, 59))


@settings(max_examples=300, deadline=None)
@given(moment=READINGS, zone=st.sampled_from(ZONES), seconds=st.booleans())
@example(moment=dt.datetime(2025, 3, 30, 2, 30), zone="Europe/Paris", seconds=False)
@example(moment=dt.datetime(2025, 10, 26, 2, 30), zone="Europe/Paris", seconds=False)
@example(moment=dt.datetime(1911, 3, 10, 23, 59), zone="Europe/Paris", seconds=True)
@example(moment=dt.datetime(1911, 3, 11, 0, 1), zone="Europe/Paris", seconds=False)
@example(moment=dt.datetime(1940, 6, 14, 23, 30), zone="Europe/Paris", seconds=False)
def test_any_stored_reading_comes_back_the_same(moment, zone, seconds):
    """What a patient's page stores (values.parse of the reading typed), exported for the study's zone and
    imported for the same zone: the same stored value."""
    typed = moment.strftime("%Y-%m-%dT%H:%M" + (":%S" if seconds else ""))
    stored, error = values.parse(node(), [typed])
    assert error == ""
    written = values.fhir_datetime(stored, zone)
    assert written is not None
    assert imported({"valueDateTime": written}, zone) == (stored, [])
