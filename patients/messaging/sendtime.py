"""When a message may go out: "send at 18:00" and the sending window, in the patient's own zone.

Everything is stored in UTC; the rules are about the patient's wall clock, so they are
evaluated with zoneinfo in the patient's time zone and the answer is converted back to UTC.
That is what keeps "18:00" at 18:00 local on both sides of a DST change (the UTC instant moves
by an hour instead).

Two wall-clock times need a rule of their own:
- a time that does not exist (02:30 on the last Sunday of March in Europe/Paris: clocks jump
  from 02:00 to 03:00) becomes the first instant after the gap, 03:00 local;
- a time that happens twice (02:30 on the last Sunday of October) is the first one (fold=0).
  A send_time is a once-a-day rule: when `due` falls between the two 02:30s, that day's
  send has already happened and the next one is the following day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SUNDAY = 6  # date.weekday()


def local_instant(*, day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock of `zone` shows `day` `at`, per the rules above."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first  # exists; fold=0 is the first of two when the hour repeats
    # In a gap, fold=0 reads the wall clock with the offset from before the change and fold=1
    # with the offset after: the change itself lies between the two readings. Bisect to the
    # second for the first instant whose local wall clock has reached `naive` (the gap's end).
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(low, first), max(low, first)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def send_instant(
    *, due: datetime, tz: str, send_time: time | None, window_start: time, window_end: time, sundays: bool
) -> datetime:
    """The first instant at or after `due` that follows the timepoint's send time and the study's window.

    `due` is an aware instant; the result is an aware UTC instant, never before `due`.
    With a send_time: the first local occurrence of it at or after `due`. Then, in local
    time: before window_start → that day's start; at or after window_end → the next allowed
    day's start; on a Sunday when Sundays are not allowed → Monday's start.
    """
    if due.tzinfo is None:
        raise ValueError("send_instant needs an aware `due` (UTC), not a naive datetime.")
    if not window_start < window_end:
        raise ValueError(f"The sending window must start before it ends ({window_start} → {window_end}).")
    zone = ZoneInfo(tz)
    due = due.astimezone(UTC)
    instant = due
    if send_time is not None:
        day = due.astimezone(zone).date()
        instant = local_instant(day=day, at=send_time, zone=zone)
        if instant < due:
            instant = local_instant(day=day + timedelta(days=1), at=send_time, zone=zone)
    # Each step moves to a later day's start or returns; a week bounds it whatever the settings.
    for _step in range(8):
        local = instant.astimezone(zone)
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if not sundays and day.weekday() == SUNDAY:
            instant = local_instant(day=day + timedelta(days=1), at=window_start, zone=zone)
        elif clock < window_start:
            start = local_instant(day=day, at=window_start, zone=zone)
            if start <= instant:
                return instant  # the clock went back an hour after today's window had opened
            instant = start
        elif clock >= window_end:
            instant = local_instant(day=day + timedelta(days=1), at=window_start, zone=zone)
        else:
            return instant
    raise AssertionError("unreachable: a week always has an allowed day")  # pragma: no cover
