"""Send times and sending windows in the patient's zone, across DST changes (patients/messaging/sendtime.py).

2026: Europe/Paris springs forward on Sunday 29 March (02:00 CET → 03:00 CEST, at 01:00 UTC)
and falls back on Sunday 25 October (03:00 CEST → 02:00 CET, at 01:00 UTC); America/New_York
changes on 8 March and 1 November; Pacific/Noumea and Indian/Reunion never change.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.messaging.sendtime import local_instant, send_instant

PARIS, NEW_YORK, NOUMEA, REUNION = "Europe/Paris", "America/New_York", "Pacific/Noumea", "Indian/Reunion"
NINE, SEVEN_PM = time(9, 0), time(19, 0)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def at(
    due: datetime,
    *,
    tz: str = PARIS,
    send_time: time | None = None,
    sundays: bool = False,
    start: time = NINE,
    end: time = SEVEN_PM,
) -> datetime:
    return send_instant(due=due, tz=tz, send_time=send_time, window_start=start, window_end=end, sundays=sundays)


def local(instant: datetime, tz: str = PARIS) -> datetime:
    return instant.astimezone(ZoneInfo(tz))


# --- 18:00 stays 18:00 local on both sides of each change ---------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # March: 18:00 CET (UTC+1) the day before, 18:00 CEST (UTC+2) the day of and after.
        (28, utc(2026, 3, 28, 17, 0)),
        (29, utc(2026, 3, 29, 16, 0)),
        (30, utc(2026, 3, 30, 16, 0)),
    ],
)
def test_six_pm_stays_six_pm_across_the_march_change_in_paris(day, expected):
    result = at(utc(2026, 3, day, 6, 0), send_time=time(18, 0), sundays=True)
    assert result == expected
    assert local(result).time() == time(18, 0)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (24, utc(2026, 10, 24, 16, 0)),  # 18:00 CEST
        (25, utc(2026, 10, 25, 17, 0)),  # 18:00 CET, the day of the change
        (26, utc(2026, 10, 26, 17, 0)),
    ],
)
def test_six_pm_stays_six_pm_across_the_october_change_in_paris(day, expected):
    result = at(utc(2026, 10, day, 6, 0), send_time=time(18, 0), sundays=True)
    assert result == expected
    assert local(result).time() == time(18, 0)


def test_a_send_time_already_past_today_goes_to_tomorrow_at_the_same_local_time():
    # Saturday 28 March 18:30 CET: today's 18:00 is gone; tomorrow's 18:00 is CEST, 16:00 UTC.
    assert at(utc(2026, 3, 28, 17, 30), send_time=time(18, 0), sundays=True) == utc(2026, 3, 29, 16, 0)
    # Exactly at the send time counts as "at or after".
    assert at(utc(2026, 3, 28, 17, 0), send_time=time(18, 0), sundays=True) == utc(2026, 3, 28, 17, 0)


# --- window edges around the changes -------------------------------------------------------


def test_window_edges_are_inclusive_at_the_start_and_exclusive_at_the_end():
    monday = utc(2026, 3, 30, 7, 0)  # 09:00 CEST
    assert at(monday) == monday
    assert at(monday - timedelta(seconds=1)) == monday
    assert at(utc(2026, 3, 30, 16, 59)) == utc(2026, 3, 30, 16, 59)  # 18:59 CEST
    assert at(utc(2026, 3, 30, 17, 0)) == utc(2026, 3, 31, 7, 0)  # 19:00 → Tuesday 09:00


def test_evening_before_the_march_change_moves_to_the_next_morning_in_summer_time():
    saturday_evening = utc(2026, 3, 28, 18, 30)  # 19:30 CET
    assert at(saturday_evening, sundays=True) == utc(2026, 3, 29, 7, 0)  # Sunday 09:00 CEST
    assert at(saturday_evening, sundays=False) == utc(2026, 3, 30, 7, 0)  # Monday 09:00 CEST


def test_evening_before_the_october_change_moves_to_the_next_morning_in_winter_time():
    saturday_evening = utc(2026, 10, 24, 17, 30)  # 19:30 CEST
    assert at(saturday_evening, sundays=True) == utc(2026, 10, 25, 8, 0)  # Sunday 09:00 CET
    assert at(saturday_evening, sundays=False) == utc(2026, 10, 26, 8, 0)  # Monday 09:00 CET


def test_window_end_is_local_on_the_day_of_each_change():
    assert at(utc(2026, 3, 29, 16, 59), sundays=True) == utc(2026, 3, 29, 16, 59)  # 18:59 CEST
    assert at(utc(2026, 3, 29, 17, 0), sundays=True) == utc(2026, 3, 30, 7, 0)  # 19:00 CEST
    assert at(utc(2026, 10, 25, 17, 59), sundays=True) == utc(2026, 10, 25, 17, 59)  # 18:59 CET
    assert at(utc(2026, 10, 25, 18, 0), sundays=True) == utc(2026, 10, 26, 8, 0)  # 19:00 CET


def test_a_due_instant_in_the_night_of_a_change_waits_for_the_local_morning():
    # 01:30 CET just before the gap, and 02:30 CET during the repeated hour.
    assert at(utc(2026, 3, 29, 0, 30), sundays=True) == utc(2026, 3, 29, 7, 0)
    assert at(utc(2026, 10, 25, 1, 30), sundays=True) == utc(2026, 10, 25, 8, 0)


# --- times that do not exist, or exist twice -----------------------------------------------

ALL_DAY = {"start": time(0, 0), "end": time(23, 59), "sundays": True}


def test_a_send_time_inside_the_spring_gap_moves_to_the_end_of_the_gap():
    # 02:30 does not exist on 29 March in Paris: the first valid instant after it is 03:00 CEST.
    result = at(utc(2026, 3, 29, 0, 30), send_time=time(2, 30), **ALL_DAY)
    assert result == utc(2026, 3, 29, 1, 0)
    assert local(result).time() == time(3, 0)
    # Due at the end of the gap: that instant itself is still today's send.
    assert at(utc(2026, 3, 29, 1, 0), send_time=time(2, 30), **ALL_DAY) == utc(2026, 3, 29, 1, 0)
    # Later on: tomorrow's 02:30 (CEST).
    assert at(utc(2026, 3, 29, 1, 10), send_time=time(2, 30), **ALL_DAY) == utc(2026, 3, 30, 0, 30)


def test_a_send_time_in_the_repeated_autumn_hour_takes_the_first_one_once_a_day():
    first = utc(2026, 10, 25, 0, 30)  # 02:30 CEST; 02:30 CET would be 01:30 UTC
    assert at(utc(2026, 10, 25, 0, 0), send_time=time(2, 30), **ALL_DAY) == first
    assert local(first).time() == time(2, 30) and local(first).fold == 0
    # Between the two 02:30s, and during the second pass: today's send is done, next is tomorrow.
    tomorrow = utc(2026, 10, 26, 1, 30)  # 02:30 CET
    assert at(utc(2026, 10, 25, 0, 45), send_time=time(2, 30), **ALL_DAY) == tomorrow
    assert at(utc(2026, 10, 25, 1, 15), send_time=time(2, 30), **ALL_DAY) == tomorrow


def test_a_window_start_inside_the_spring_gap_opens_at_the_end_of_the_gap():
    result = at(utc(2026, 3, 29, 0, 0), start=time(2, 30), end=time(23, 0), sundays=True)
    assert result == utc(2026, 3, 29, 1, 0)


def test_local_instant_reads_wall_clock_times_in_the_zone():
    paris = ZoneInfo(PARIS)
    assert local_instant(day=datetime(2026, 3, 29).date(), at=time(2, 0), zone=paris) == utc(2026, 3, 29, 1, 0)
    assert local_instant(day=datetime(2026, 10, 25).date(), at=time(2, 0), zone=paris) == utc(2026, 10, 25, 0, 0)
    assert local_instant(day=datetime(2026, 10, 25).date(), at=time(3, 0), zone=paris) == utc(2026, 10, 25, 2, 0)


# --- other zones ---------------------------------------------------------------------------


def test_new_york_changes_on_its_own_dates():
    # 8 March 2026 in New York: 18:00 EST (UTC-5) the day before, 18:00 EDT (UTC-4) after,
    # while Paris is still on winter time until the 29th.
    assert at(utc(2026, 3, 7, 12), tz=NEW_YORK, send_time=time(18, 0)) == utc(2026, 3, 7, 23, 0)
    assert at(utc(2026, 3, 9, 12), tz=NEW_YORK, send_time=time(18, 0)) == utc(2026, 3, 9, 22, 0)
    assert at(utc(2026, 3, 9, 12), tz=PARIS, send_time=time(18, 0)) == utc(2026, 3, 9, 17, 0)
    # 1 November: back to EST.
    assert at(utc(2026, 10, 31, 12), tz=NEW_YORK, send_time=time(18, 0)) == utc(2026, 10, 31, 22, 0)
    assert at(utc(2026, 11, 2, 12), tz=NEW_YORK, send_time=time(18, 0)) == utc(2026, 11, 2, 23, 0)
    # Its own gap: 02:30 on 8 March does not exist, 03:00 EDT does.
    assert at(utc(2026, 3, 8, 6, 0), tz=NEW_YORK, send_time=time(2, 30), **ALL_DAY) == utc(2026, 3, 8, 7, 0)


def test_the_window_is_the_patients_morning_not_the_servers():
    due = utc(2026, 3, 10, 12, 30)  # 08:30 in New York, 13:30 in Paris
    assert at(due, tz=NEW_YORK) == utc(2026, 3, 10, 13, 0)
    assert at(due, tz=PARIS) == due


@pytest.mark.parametrize("day", [27, 28, 30, 31])
def test_noumea_has_no_dst_so_six_pm_is_always_seven_utc(day):
    assert at(utc(2026, 3, day, 0, 0), tz=NOUMEA, send_time=time(18, 0), sundays=True) == utc(2026, 3, day, 7, 0)


def test_noumea_evening_skips_sunday_in_its_own_calendar():
    # Saturday 28 March 21:00 in Noumea (UTC+11): Sunday is skipped, Monday 09:00 local is
    # Sunday 22:00 UTC, a Sunday nowhere near the patient.
    assert at(utc(2026, 3, 28, 10, 0), tz=NOUMEA) == utc(2026, 3, 29, 22, 0)


def test_reunion_keeps_the_same_utc_hour_all_year():
    for month, day in ((3, 27), (3, 30), (10, 23), (10, 26)):
        assert at(utc(2026, month, day, 0, 0), tz=REUNION, send_time=time(18, 0)) == utc(2026, month, day, 14, 0)


# --- Sundays ---------------------------------------------------------------------------------


def test_sunday_moves_to_monday_morning_unless_allowed():
    sunday_noon = utc(2026, 6, 7, 10, 0)  # 12:00 CEST
    assert at(sunday_noon) == utc(2026, 6, 8, 7, 0)
    assert at(sunday_noon, sundays=True) == sunday_noon
    # A Sunday send time is not kept on Monday: the message goes at Monday's start.
    assert at(utc(2026, 6, 7, 6, 0), send_time=time(18, 0)) == utc(2026, 6, 8, 7, 0)


def test_after_the_window_on_saturday_goes_to_monday():
    assert at(utc(2026, 6, 6, 17, 30)) == utc(2026, 6, 8, 7, 0)  # Saturday 19:30 CEST


def test_a_send_time_after_the_window_goes_to_the_next_days_start():
    assert at(utc(2026, 6, 9, 6, 0), send_time=time(20, 0)) == utc(2026, 6, 10, 7, 0)


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="aware"):
        at(datetime(2026, 6, 9, 6, 0))
    with pytest.raises(ValueError, match="start before it ends"):
        at(utc(2026, 6, 9, 6, 0), start=time(19, 0), end=time(9, 0))


# --- property ------------------------------------------------------------------------------

ZONES = [PARIS, NEW_YORK, NOUMEA, REUNION, "Europe/London", "Australia/Sydney", "America/Santiago", "UTC"]


@settings(deadline=None, max_examples=300)
@given(
    due=st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1), timezones=st.just(UTC)),
    tz=st.sampled_from(ZONES),
    send_time=st.none() | st.times(),
    start_hour=st.integers(5, 11),
    end_hour=st.integers(13, 23),
    sundays=st.booleans(),
)
def test_the_result_is_never_early_always_in_the_local_window_and_never_a_forbidden_sunday(
    due, tz, send_time, start_hour, end_hour, sundays
):
    start, end = time(start_hour), time(end_hour)
    result = send_instant(due=due, tz=tz, send_time=send_time, window_start=start, window_end=end, sundays=sundays)
    assert result.tzinfo is UTC
    assert result >= due
    wall = result.astimezone(ZoneInfo(tz))
    assert start <= wall.time() < end
    assert sundays or wall.weekday() != 6
    # Nothing is delayed without a reason: a due instant already allowed goes at once, and a
    # send time inside the window is kept to the minute on any day it can be used.
    due_wall = due.astimezone(ZoneInfo(tz))
    if send_time is None and start <= due_wall.time() < end and (sundays or due_wall.weekday() != 6):
        assert result == due
    if send_time is not None and start <= send_time < end and (sundays or wall.weekday() != 6):
        if wall.time() != start or send_time == start:
            assert wall.time() == send_time
    assert result - due < timedelta(days=4)
