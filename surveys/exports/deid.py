"""De-identification of dates in exports.

"shifted": every date and time of a participant moves by the same whole number of days, derived
with HMAC-SHA-256 under EXPORT_DATE_SHIFT_KEY from the study and the pseudonym. Intervals between a
participant's dates are kept (delays, days between timepoints), calendar dates are not. The offset
is the same in every export (a statistician can merge two exports) and is never stored or shown:
without the key it cannot be recovered from the database, and the key lives outside it.

"days_since_enrolment": every date becomes the number of calendar days, in the study's time zone,
since the participant's enrolment (Participant.created_at, written at enrolment).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from zoneinfo import ZoneInfo

from django.conf import settings

# Offsets fall in [-MAX_SHIFT_DAYS, -1] ∪ [1, MAX_SHIFT_DAYS]: never 0, so no participant keeps true dates.
MAX_SHIFT_DAYS = 365


def date_shift_days(*, study_id: int, pseudonym: str) -> int:
    """The secret offset, in days, of one participant's dates."""
    key = settings.EXPORT_DATE_SHIFT_KEY.encode()
    digest = hmac.new(key, f"date-shift:{study_id}:{pseudonym}".encode(), hashlib.sha256).digest()
    magnitude = 1 + int.from_bytes(digest[:8], "big") % MAX_SHIFT_DAYS
    return magnitude if digest[8] & 1 else -magnitude


class DateMode:
    """Turns one participant's instants and dates into what the export shows."""

    def __init__(self, *, mode: str, time_zone: str, study_id: int):
        self.mode = mode
        self.zone = ZoneInfo(time_zone)
        self.study_id = study_id
        self._shift = dt.timedelta(0)
        self._enrolment_day: dt.date | None = None

    @property
    def as_days(self) -> bool:
        return self.mode == "days_since_enrolment"

    def participant(self, *, pseudonym: str, enrolled_at: dt.datetime) -> None:
        """Set the participant whose dates come next."""
        if self.mode == "shifted":
            self._shift = dt.timedelta(days=date_shift_days(study_id=self.study_id, pseudonym=pseudonym))
        self._enrolment_day = enrolled_at.astimezone(self.zone).date()

    def instant(self, value: dt.datetime | None) -> dt.datetime | int | None:
        """An aware datetime in the study's time zone (exact, shifted on the local clock) or a day number."""
        if value is None:
            return None
        local = value.astimezone(self.zone)
        if self.mode == "exact":
            return local
        if self.mode == "shifted":
            # Shift the wall-clock time, so 18:00 stays 18:00 across a change of daylight saving time.
            try:
                return (local.replace(tzinfo=None) + self._shift).replace(tzinfo=self.zone)
            except OverflowError:
                return None  # shifted past the calendar's end: left out, as text that cannot move
        return (local.date() - self._enrolment_day).days

    def date(self, value: str | None) -> dt.date | int | str | None:
        """A date answer (ISO text): the date, the shifted date or a day number. Text that is not a
        date is kept only with exact dates: it cannot be moved, so de-identified exports drop it."""
        if value in (None, ""):
            return None
        try:
            day = dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return value if self.mode == "exact" else None
        if self.mode == "exact":
            return day
        if self.mode == "shifted":
            try:
                return day + self._shift
            except OverflowError:
                return None  # a date near the calendar's end cannot be moved: left out (codebook)
        return (day - self._enrolment_day).days
