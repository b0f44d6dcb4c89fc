"""The meaning of an answer value, per item type: the one place that parses, stores, shows,
compares and scores answers.

Everything that reads an answer calls this module: the patient pages (rendering and parsing),
display conditions (server and, through `browser_expected`, the page script), publish validation,
scores, alerts, pre-screening, triggers, exports and FHIR/REDCap imports. No other module compares
answers or reads an option's score.

Stored (canonical) forms, in `Response.answers`, keyed by linkId:

=================  =====================================================================
single choice      the option code, a string
multiple choice    the option codes ticked, a list in option order, without duplicates
yes / no           true or false
integer, NRS, VAS  an integer (at most 15 digits, so a browser's numbers hold it exactly)
decimal            a JSON number (a double: what the browser, Python and PostgreSQL share)
date               "YYYY-MM-DD"
time               "HH:MM", or "HH:MM:SS" when the seconds are not 0
date and time      "YYYY-MM-DDTHH:MM" (":SS" when the seconds are not 0): the patient's own wall-clock
                   reading, without a time zone (see DATETIME_RE)
short text         the text, trimmed, on one line (a line break becomes a space), without NUL characters
long text          the text, trimmed, with line breaks as "\\n" and without NUL characters
=================  =====================================================================

A string, integer, date or time item may offer answer options (FHIR R4 answerOption valueString,
valueInteger, valueDate, valueTime): the patient picks one, and the stored answer is the option's
value in the item's own form above (an integer item stores an integer), so conditions, scores and
exports read it as they read a typed answer of that item (`offered_options`).

An answer is missing when it is None, "" or []; a missing answer never counts as 0.

The grammars below (numbers, dates, times, trimming) are written again in
static/patient/patient.js, which must read a field exactly as `parse` does;
tests/browser/test_condition_agreement.py holds the two together in Chromium on tables and
generated inputs (tests/surveys/questionnaires/test_condition_agreement.py: a page can be left whatever the script does).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from surveys.models import Item
from surveys.questionnaires import fhir

T = Item.Type
CHOICE_TYPES = frozenset({T.SINGLE, T.MULTIPLE})
NUMBER_TYPES = frozenset({T.INTEGER, T.DECIMAL, T.NRS, T.VAS})
WHOLE_NUMBER_TYPES = frozenset({T.INTEGER, T.NRS, T.VAS})
TEXT_TYPES = frozenset({T.SHORT_TEXT, T.LONG_TEXT})
# Types whose values have an order (<, >, <=, >=).
ORDERED_TYPES = NUMBER_TYPES | {T.DATE, T.TIME, T.DATETIME}
SCORABLE_TYPES = CHOICE_TYPES | NUMBER_TYPES | {T.YES_NO}
QUESTION_TYPES = frozenset(T.values) - {T.DISPLAY}
OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "exists")
ORDER_OPERATORS = frozenset({"<", ">", "<=", ">="})

# Where FHIR lets an option's score sit: R4's ordinalValue, renamed itemWeight in the extensions
# pack; on the answerOption itself or on its valueCoding (both seen in published files).
EXT_ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
SCORE_EXTENSIONS = (fhir.EXT_ORDINAL, EXT_ITEM_WEIGHT)
# What a scale without explicit bounds runs over (the page, validation and reversed scores agree).
SCALE_DEFAULT_RANGE = {T.NRS: (0, 10), T.VAS: (0, 100)}
# The codes a yes/no question posts.
YES, NO = "true", "false"
# Integers beyond this are refused: a browser's numbers (doubles) hold every integer up to 2**53.
MAX_DIGITS = 15
# A whole-number answer is a FHIR integer (32 bits signed): beyond, the FHIR export, the API and
# Stata's long could not carry it. No questionnaire asks for a count of billions.
WHOLE_NUMBER_RANGE = (Decimal(-(2**31)), Decimal(2**31 - 1))
# Dates a patient can mean, unless the item says otherwise (FHIR minValue / maxValue valueDate): a
# year 1 or 9999 is a slip of the keyboard, and would anchor a timepoint beyond the calendar.
DATE_RANGE = (dt.date(1900, 1, 1), dt.date(2100, 12, 31))

# Trimmed around every typed value: ASCII white space and the Unicode spaces a phone keyboard or a
# copy-paste brings (no-break spaces, the French narrow no-break space, the byte-order mark).
SPACES = (
    " \t\n\r\f\v\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# A number as patients type it: digits with a point or a comma, a sign, spaces between groups
# ("1 250,5"). No exponent, no other digits than 0-9.
NUMBER_RE = re.compile(r"^([+-]?)([0-9]*)(?:[.,]([0-9]*))?$")
ISO_DATE_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
DAY_FIRST_DATE_RE = re.compile(r"^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})$")
# A date in a condition may be partial (FHIR date precision): a year, or a year and a month.
PARTIAL_DATE_RE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")
TIME_RE = re.compile(r"^([0-9]{1,2})[:hH]([0-9]{2})(?::([0-9]{2}))?$")
# A date and time is stored as the patient's own wall-clock reading, without a zone: "when did the pain
# start" means the patient's clock, the page cannot learn the patient's zone without a script, and the
# research side never holds it (the time zone lives with the identity, in patients/). Converting would
# invent a zone; keeping the reading cannot shift it. Exports show it as given (SPSS/Stata datetime, moved
# with the participant's dates when they are shifted); FHIR, which needs an offset on a time, gets the
# study's offset at that moment (fhir_datetime).
# A date and time as a datetime-local field sends it (2025-12-31T14:30), or typed with a space, or day
# first (31/12/2025 14:30). A zone (Z, +02:00) is read only in a condition's value or an imported answer.
DATETIME_RE = re.compile(r"^(.+?)[T ]+([0-9]{1,2}[:hH][0-9]{2}(?::[0-9]{2})?)(?:\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$")
TRUE_WORDS = frozenset({"true", "1", "yes", "oui", "y", "o"})
FALSE_WORDS = frozenset({"false", "0", "no", "non", "n", "faux"})


# --- what an item is ---------------------------------------------------------------------------


def kind_of(node: dict | None) -> str:
    """Our item type for any definition node (fhir.item_type), DISPLAY for nothing."""
    return fhir.item_type(node) if node else T.DISPLAY


def is_missing(value: Any) -> bool:
    return value is None or value == "" or value == []


def as_list(value: Any) -> list:
    if is_missing(value):
        return []
    return list(value) if isinstance(value, list) else [value]


def option_score(option: dict) -> Decimal | None:
    """The score of an answerOption wherever FHIR lets it sit; None for an option without one."""
    for holder in (option, option.get("valueCoding") or {}):
        for url in SCORE_EXTENSIONS:
            score = _json_decimal(fhir.ext_value(holder, url))
            if score is not None:
                return score
    return None


def option_scores(node: dict) -> dict[str, Decimal | None]:
    return {fhir.option_code(option): option_score(option) for option in node.get("answerOption", [])}


def option_codes(node: dict) -> list[str]:
    """The codes a patient can post for this item, in order."""
    kind = kind_of(node)
    if kind == T.YES_NO:
        return [YES, NO]
    return [fhir.option_code(option) for option in node.get("answerOption", [])] if kind in CHOICE_TYPES else []


# Item types that may offer answer options whose value is the answer itself (FHIR R4 answerOption
# valueString / valueInteger / valueDate / valueTime on a string, integer, date or time item).
OFFERED_OPTION_KEYS: dict[str, str] = {
    T.SHORT_TEXT: "valueString",
    T.INTEGER: "valueInteger",
    T.DATE: "valueDate",
    T.TIME: "valueTime",
}


def offered_options(node: dict) -> list[tuple[str, Any, dict]]:
    """(posted code, stored value, option) of each option a string, integer, date or time item offers;
    [] for any other item. The posted code is the stored value as the form writes it (form_values), so a
    page posted again gives the same answer; options of another value[x] are left out (the import names
    them)."""
    kind = kind_of(node)
    key = OFFERED_OPTION_KEYS.get(kind)
    if key is None or node.get("type") in ("choice", "open-choice"):
        return []
    out = []
    for option in node.get("answerOption", []):
        if not isinstance(option, dict) or key not in option:
            continue
        stored = offered_value(kind, option[key])
        if stored is not None:
            out.append((option_form_text(kind, stored), stored, option))
    return out


def offered_value(kind: str, raw: Any) -> Any:
    """An option's value[x] as an answer of its item is stored; None when it is not one."""
    if kind == T.INTEGER:
        return raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if not isinstance(raw, str):
        return None
    if kind == T.TIME:
        time = read_time(raw.strip(SPACES))
        return None if time is None else _time_text(*time)
    if kind == T.DATE:
        # FHIR dates may be partial (2022, 2022-09): an option keeps the precision its authors gave.
        return raw.strip(SPACES) if to_date(raw) is not None else None
    return clean_text(raw).replace("\n", " ") or None


def option_form_text(kind: str, stored: Any) -> str:
    return plain(Decimal(stored)) if kind == T.INTEGER else str(stored)


def bounds(node: dict) -> tuple[Decimal | None, Decimal | None]:
    """(minimum, maximum) of a number item, scales defaulting to 0–10 and 0–100; None where open."""
    kind = kind_of(node)
    if kind not in NUMBER_TYPES:
        return None, None
    default = SCALE_DEFAULT_RANGE.get(kind, (None, None))
    low, high = _json_decimal(fhir.ext_value(node, fhir.EXT_MIN)), _json_decimal(fhir.ext_value(node, fhir.EXT_MAX))
    low = low if low is not None else (Decimal(default[0]) if default[0] is not None else None)
    high = high if high is not None else (Decimal(default[1]) if default[1] is not None else None)
    return low, high


def accepted_range(node: dict) -> tuple[Decimal | None, Decimal | None]:
    """The bounds an answer is checked against, on the page and in the browser: the item's own
    (`bounds`), within what a whole number can be stored as."""
    low, high = bounds(node)
    if kind_of(node) in WHOLE_NUMBER_TYPES:
        floor, ceiling = WHOLE_NUMBER_RANGE
        low = floor if low is None else max(low, floor)
        high = ceiling if high is None else min(high, ceiling)
    return low, high


def date_range(node: dict) -> tuple[dt.date, dt.date]:
    """(earliest, latest) date a date item accepts: its own bounds, within DATE_RANGE."""

    def bound(url: str, default: dt.date, pick) -> dt.date:
        raw = fhir.ext_value(node, url)
        try:
            return pick(default, dt.date.fromisoformat(raw)) if isinstance(raw, str) else default
        except ValueError:
            return default

    return bound(fhir.EXT_MIN, DATE_RANGE[0], max), bound(fhir.EXT_MAX, DATE_RANGE[1], min)


def _json_decimal(value: Any) -> Decimal | None:
    """A JSON number (not a boolean) as Decimal, through its text so that 0.1 stays 0.1."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


def plain(number: Decimal) -> str:
    """A number written without exponent or trailing zeros: 12, 71.5, -0.25."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- reading what a patient typed --------------------------------------------------------------


def clean_text(raw: str) -> str:
    """A typed text as stored: no NUL (PostgreSQL refuses it), line breaks as \\n, trimmed."""
    return raw.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").strip(SPACES)


def read_number(raw: str) -> Decimal | None:
    """A number as patients type it ("71,5", "1 250", "+3", ".5"), or None."""
    text = re.sub(f"[{SPACES}]", "", raw)
    match = NUMBER_RE.match(text)
    if not match or not (match.group(2) or match.group(3)):
        return None
    sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or ""
    if len(whole.lstrip("0")) > MAX_DIGITS:
        return None
    return Decimal(f"{'-' if sign == '-' else ''}{whole}.{fraction or '0'}")


def read_date(raw: str) -> dt.date | None:
    """A full date written YYYY-MM-DD (what a date field sends) or day first (31/12/2025, 31.12.2025)."""
    iso = ISO_DATE_RE.match(raw)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    else:
        day_first = DAY_FIRST_DATE_RE.match(raw)
        if not day_first:
            return None
        day, month, year = (int(part) for part in day_first.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def read_time(raw: str) -> tuple[int, int, int] | None:
    match = TIME_RE.match(raw)
    if not match:
        return None
    hours, minutes, seconds = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return hours, minutes, seconds


def _time_text(hours: int, minutes: int, seconds: int) -> str:
    return f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def read_datetime(raw: str) -> tuple[dt.date, tuple[int, int, int], str] | None:
    """(date, (hours, minutes, seconds), zone text or "") of a date and time, or None."""
    match = DATETIME_RE.match(raw.strip(SPACES))
    if not match:
        return None
    day, time = read_date(match.group(1).strip(SPACES)), read_time(match.group(2))
    if day is None or time is None:
        return None
    return day, time, match.group(3) or ""


def _datetime_text(day: dt.date, time: tuple[int, int, int]) -> str:
    return f"{day.isoformat()}T{_time_text(*time)}"


def fhir_datetime(value: Any, time_zone: str) -> str | None:
    """A stored date and time as FHIR R4 writes a dateTime (a time needs its offset there), or None.

    Answers are the patient's wall-clock reading without a zone (the patient page cannot know the
    patient's zone without a script, and the research side never holds it); FHIR needs an offset, so the
    reading is given the offset of `time_zone` (the study's) at that moment. A value that has its own
    offset (an imported answer) keeps it."""
    found = read_datetime(value) if isinstance(value, str) else None
    if found is None:
        return None
    day, (hours, minutes, seconds), zone = found
    text = f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{seconds:02d}"
    if zone:
        return text + zone
    local = dt.datetime(day.year, day.month, day.day, hours, minutes, seconds, tzinfo=ZoneInfo(time_zone))
    # FHIR writes an offset in hours and minutes; before 1911 Paris was 9 min 21 s ahead of UTC: to the minute.
    total = round((local.utcoffset() or dt.timedelta(0)).total_seconds() / 60)
    sign, total = ("-" if total < 0 else "+"), abs(total)
    return f"{text}{sign}{total // 60:02d}:{total % 60:02d}"


def fhir_time(value: Any) -> str | None:
    """A time as FHIR writes it (hh:mm:ss, for valueTime and answerTime), or None."""
    time = read_time(value.strip(SPACES)) if isinstance(value, str) else None
    return None if time is None else "{:02d}:{:02d}:{:02d}".format(*time)


def _range_error(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return _("Enter a number between %(low)s and %(high)s.") % {"low": plain(low), "high": plain(high)}
    if low is not None:
        return _("Enter a number of at least %(low)s.") % {"low": plain(low)}
    return _("Enter a number of at most %(high)s.") % {"high": plain(high)}


# An item's answer format: a regular expression the whole typed answer must match (FHIR's own extension; a REDCap
# validation such as `time` or `number_1dp` is imported as one), shown with its entryFormat ("HH:MM").
EXT_REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
EXT_ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"
# Patterns the page's HTML `pattern` attribute and Python read alike: the browser anchors it whole, as fullmatch,
# and its \d and \w are ASCII, as re.ASCII makes them here.
_PATTERN_SAFE = re.compile(r"[\w\\^$.,:;'/ ?*+{}()\[\]|-]*")


def answer_format(node: dict) -> tuple[str, str] | None:
    """(pattern, example) of the typed answer of a text or number item, or None when it has none.

    The one home of an answer format: the server check (`parse`) and the patient page's `pattern`
    attribute both read it here, so what the browser lets through is what the server takes.
    """
    # The kinds typed into an <input type=text>, the element that takes a `pattern`.
    if kind_of(node) not in (T.SHORT_TEXT, T.INTEGER, T.DECIMAL):
        return None
    pattern = fhir.ext_value(node, EXT_REGEX)
    if not isinstance(pattern, str) or not pattern or not _PATTERN_SAFE.fullmatch(pattern):
        return None
    try:
        re.compile(pattern, re.ASCII)
    except re.error:
        return None
    example = fhir.ext_value(node, EXT_ENTRY_FORMAT)
    return pattern, example if isinstance(example, str) else ""


def format_error(node: dict, value: str) -> str:
    """Why a typed answer does not have the item's format ("" when it does, or when there is none)."""
    found = answer_format(node)
    if found is None or re.fullmatch(found[0], value, re.ASCII):
        return ""
    if found[1]:
        return _("Enter the answer in the form %(format)s.") % {"format": found[1]}
    return _("This answer is not in the form asked.")


# The most decimals a number's answer format is tried with (REDCap's number_Ndp go to 4).
MAX_FORMAT_DECIMALS = 6


def decimal_places(node: dict) -> int | None:
    """The number of decimals a number item's answer format asks for (REDCap's number_2dp: 2), or None
    when its format takes a number written without decimals, or it has no format.

    Read from the format itself (the first of 0, 0.0, 0.00… it takes, with a point or a comma), so that any
    pattern, REDCap's or a FHIR regex, says it the same way to the page, the server and the import."""
    if kind_of(node) not in NUMBER_TYPES:
        return None
    found = answer_format(node)
    if found is None or re.fullmatch(found[0], "0", re.ASCII):
        return None
    for places in range(1, MAX_FORMAT_DECIMALS + 1):
        if any(re.fullmatch(found[0], f"0{mark}{'0' * places}", re.ASCII) for mark in ".,"):
            return places
    return None


def number_text(node: dict, number: Decimal) -> str:
    """A stored number as the item shows it: plainly (71.5), or with the decimals its answer format asks for
    (70.50 for number_2dp), so that posting it again passes the format and stores the same number.

    A number with more decimals than the format's (imported from elsewhere) is shown as it is: rounding it
    would change the answer."""
    text = plain(number)
    places = decimal_places(node)
    if places is None or not number.is_finite():
        return text
    written = len(text.partition(".")[2])
    if written >= places:
        return text
    found = answer_format(node)
    padded = format(number.quantize(Decimal(1).scaleb(-places)), "f")
    padded = padded.removeprefix("-") if padded.startswith("-") and Decimal(padded) == 0 else padded
    # The format may take the decimal comma only (REDCap's number_2dp_comma_decimal takes both).
    for candidate in (padded, padded.replace(".", ",")):
        if found is not None and re.fullmatch(found[0], candidate, re.ASCII):
            return candidate
    return text


def parse(node: dict, raw: Iterable[str]) -> tuple[Any, str]:
    """(stored value, error) for the strings posted for one item; value None means unanswered.

    An error means the value is not stored; the page says what to change.
    """
    posted = [clean_text(r) for r in raw]
    posted = [r for r in posted if r]
    if not posted:
        return None, ""
    kind = kind_of(node)
    if kind == T.MULTIPLE:
        codes = option_codes(node)
        if any(r not in codes for r in posted):
            return None, _("Choose among the options shown.")
        return [c for c in codes if c in posted], ""
    value = posted[0]
    wrong_format = format_error(node, value)
    if wrong_format:
        return None, wrong_format
    offered = offered_options(node)
    if offered:
        # Options of a string, integer, date or time item: one of them, stored in the item's own form.
        for code, stored, _option in offered:
            if value == code:
                return stored, ""
        # The same value written otherwise (an imported valueTime "13:30:00", an integer "+2") is that option.
        number = read_number(value) if kind == T.INTEGER else None
        same = offered_value(
            kind, int(number) if number is not None and number == number.to_integral_value() else value
        )
        for _code, stored, _option in offered:
            if same is not None and same == stored:
                return stored, ""
        return None, _("Choose one of the options shown.")
    if kind in (T.SINGLE, T.YES_NO):
        if value not in option_codes(node):
            return None, _("Choose one of the options shown.")
        return (value == YES) if kind == T.YES_NO else value, ""
    if kind in NUMBER_TYPES:
        number = read_number(value)
        if number is None:
            return None, _("Enter a number, for example 12.")
        if kind in WHOLE_NUMBER_TYPES and number != number.to_integral_value():
            return None, _("Enter a whole number, without decimals.")
        stored = int(number) if kind in WHOLE_NUMBER_TYPES else float(number)
        if stored == 0:
            # "-0", "-0,0" or "-0.000…1" would store the double -0.0, which form_values writes "0": posting the
            # page again would store 0.0, another JSON value (tests/surveys/answering/test_answer_round_trip.py). One zero.
            stored = 0 if kind in WHOLE_NUMBER_TYPES else 0.0
        if abs(stored) >= 10**MAX_DIGITS:
            # Rounding to a double can carry 15 digits to 16 (999999999999999.99 is 1e15), which form_values
            # writes "1000000000000000" and read_number refuses: the page would show, and refuse, its own value.
            return None, _("Enter a number, for example 12.")
        # The range is checked on the stored number, as the browser checks its own (a double).
        exact = Decimal(str(stored))
        low, high = accepted_range(node)
        if (low is not None and exact < low) or (high is not None and exact > high):
            return None, _range_error(low, high)
        return stored, ""
    if kind == T.DATE:
        day = read_date(value)
        if day is None:
            return None, _("Enter a date as day/month/year, for example 31/12/2025.")
        earliest, latest = date_range(node)
        if not earliest <= day <= latest:
            return None, _("Enter a date between %(earliest)s and %(latest)s.") % {
                "earliest": earliest.strftime("%d/%m/%Y"),
                "latest": latest.strftime("%d/%m/%Y"),
            }
        return day.isoformat(), ""
    if kind == T.TIME:
        time = read_time(value)
        if time is None:
            return None, _("Enter a time as hours:minutes, for example 14:30.")
        return _time_text(*time), ""
    if kind == T.DATETIME:
        found = read_datetime(value)
        # A zone is refused from a patient: the stored answer is a wall-clock reading (DATETIME_RE).
        if found is None or found[2]:
            return None, _("Enter a date and a time, for example 31/12/2025 14:30.")
        day, time, _zone = found
        earliest, latest = DATE_RANGE
        if not earliest <= day <= latest:
            return None, _("Enter a date between %(earliest)s and %(latest)s.") % {
                "earliest": earliest.strftime("%d/%m/%Y"),
                "latest": latest.strftime("%d/%m/%Y"),
            }
        return _datetime_text(day, time), ""
    if kind == T.SHORT_TEXT:
        # A short text is one line: its <input type=text> strips line breaks from the value it is given, so a
        # short text stored with one (posted by a script, imported) would come back joined ("a\nb" as "ab")
        # once its page is posted again. A line break is a space, as Chromium makes one pasted into the field.
        value = value.replace("\n", " ")
    limit = node.get("maxLength")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 and len(value) > limit:
        return None, _("Write at most %(n)s characters (you wrote %(m)s).") % {"n": limit, "m": len(value)}
    return value, ""


# --- showing a stored value --------------------------------------------------------------------


def form_values(node: dict, value: Any) -> list[str]:
    """The strings a form shows for a stored value, which are exactly what it posts back:
    parse(node, form_values(node, v)) gives v again (tests/surveys/answering/test_answer_round_trip.py)."""
    kind = kind_of(node)
    values = as_list(value)
    if kind in CHOICE_TYPES:
        return [_code(v) for v in values]
    if kind == T.YES_NO:
        truth = to_bool(value)
        return [] if truth is None else [YES if truth else NO]
    if kind in NUMBER_TYPES:
        number = to_decimal(value)
        return [] if number is None else [number_text(node, number)]
    if kind == T.DATETIME and values:
        found = read_datetime(str(values[0]))
        # The datetime-local field shows and sends YYYY-MM-DDTHH:MM[:SS], as stored.
        return [_datetime_text(found[0], found[1])] if found else [str(values[0])]
    return [str(v) for v in values[:1]]


def display(node: dict, value: Any, *, language: str, base: str) -> str:
    """A stored value as the patient reads it on the review page (option labels, Yes/No), in `language`
    (`base`: the definition's own language)."""
    kind = kind_of(node)
    if kind in CHOICE_TYPES:
        labels = {
            fhir.option_code(o): option_label(node, o, language=language, base=base)
            for o in node.get("answerOption", [])
        }
        return ", ".join(labels.get(code, code) for code in form_values(node, value))
    if kind == T.YES_NO:
        truth = to_bool(value)
        return "" if truth is None else (_("Yes") if truth else _("No"))
    offered = {code: option for code, _stored, option in offered_options(node)}
    if offered:
        shown = form_values(node, value)
        return ", ".join(
            option_label(node, offered[c], language=language, base=base) if c in offered else c for c in shown
        )
    if kind == T.DATE:
        parts = to_date(value)
        if parts and len(parts) == 3:
            return f"{parts[2]:02d}/{parts[1]:02d}/{parts[0]:04d}"
    if kind == T.DATETIME:
        found = read_datetime(str(value)) if isinstance(value, str) else None
        if found:
            return f"{found[0].strftime('%d/%m/%Y')} {_time_text(*found[1])}"
    return ", ".join(form_values(node, value))


def option_label(node: dict, option: dict, *, language: str, base: str) -> str:
    """What a patient reads for one answer option of `node`, in `language`: its optionPrefix ("a)")
    and its label (a Coding's display; for a string, integer, date or time option, its value as the
    patient reads it, a translated valueString included)."""
    prefix = fhir.option_prefix(option, language, base)
    if "valueCoding" in option:
        label = fhir.localized(option["valueCoding"], "display", language, base) or fhir.option_code(option)
    elif "valueString" in option:
        label = fhir.localized(option, "valueString", language, base)
    else:
        kind = kind_of(node)
        code = fhir.option_code(option)
        stored = offered_value(kind, next((v for k, v in option.items() if k.startswith("value")), None))
        label = code
        if kind == T.DATE and stored is not None:
            parts = to_date(stored) or ()
            label = "/".join(f"{p:02d}" for p in reversed(parts)) if len(parts) > 1 else str(stored)
        elif stored is not None:
            label = option_form_text(kind, stored)
    return f"{prefix} {label}" if prefix else label


# --- typed values, for comparing and scoring ---------------------------------------------------


def _code(value: Any) -> str:
    return str(value.get("code", "")) if isinstance(value, dict) else str(value)


def to_bool(value: Any) -> bool | None:
    """true/false from a stored answer or a condition's value ("true", "oui", 1...); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip(SPACES).lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def to_decimal(value: Any) -> Decimal | None:
    """A number from a stored answer or a condition's value (JSON number or typed text); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return _json_decimal(value)
    if isinstance(value, str):
        return read_number(value)
    return None


def to_date(value: Any) -> tuple[int, ...] | None:
    """A date as (year[, month[, day]]): full dates from answers, partial ones from conditions."""
    if not isinstance(value, str):
        return None
    text = value.strip(SPACES)
    full = read_date(text)
    if full is not None:
        return full.year, full.month, full.day
    match = PARTIAL_DATE_RE.match(text)
    if not match:
        return None
    parts = tuple(int(p) for p in match.groups() if p is not None)
    if len(parts) >= 2 and not 1 <= parts[1] <= 12:
        return None
    return parts


def to_seconds(value: Any) -> int | None:
    time = read_time(value.strip(SPACES)) if isinstance(value, str) else None
    return None if time is None else time[0] * 3600 + time[1] * 60 + time[2]


def to_datetime(value: Any) -> tuple[int, ...] | None:
    """A date and time as (year, month, day, hours, minutes, seconds) of its wall-clock reading; a
    condition's partial value (a date, a month, a year) as the date parts given. A zone written in a
    condition's value is not applied: answers are wall-clock readings (DATETIME_RE), and the
    condition's authors wrote the clock time they meant."""
    if not isinstance(value, str):
        return None
    found = read_datetime(value)
    if found is not None:
        day, time, _zone = found
        return day.year, day.month, day.day, *time
    return to_date(value)


def as_double(number: Decimal | None) -> Decimal | None:
    """A number as the double that holds it, beyond a double's range the largest double of its sign.

    Every answer is stored as a double (or an integer of at most 15 digits, which one holds exactly),
    and the page script has nothing but doubles: a condition's value compares as the double it stands
    for, on both sides. Without this a condition's text "0.30000000000000000001" was greater than an
    answer 0.3 on the server and equal to it in the browser, and a 400-digit answerInteger became
    Infinity, which JSON cannot carry (the script failed on the page)."""
    if number is None:
        return None
    double = float(number)
    if double in (float("inf"), float("-inf")):
        double = math.copysign(sys.float_info.max, double)
    return Decimal(repr(double))


def typed(kind: str, value: Any) -> Any:
    """One value as it compares for an item of `kind`: a code, a bool, a Decimal (a double's value:
    `as_double`), a date tuple, seconds or a text; None when it means nothing for that kind (it then
    equals nothing)."""
    if kind in CHOICE_TYPES:
        code = _code(value)
        return code or None
    if kind == T.YES_NO:
        return to_bool(value)
    if kind in NUMBER_TYPES:
        return as_double(to_decimal(value))
    if kind == T.DATE:
        return to_date(value)
    if kind == T.TIME:
        return to_seconds(value)
    if kind == T.DATETIME:
        return to_datetime(value)
    return value if isinstance(value, str) else None


def _dates_order(left: tuple[int, ...], right: tuple[int, ...]) -> int | None:
    """-1, 0 or 1; None when precision leaves it open ("2022-09" against "2022-09-20")."""
    for a, b in zip(left, right, strict=False):
        if a != b:
            return -1 if a < b else 1
    return 0 if len(left) == len(right) else None


def _order(kind: str, left: Any, right: Any) -> int | None:
    if kind in (T.DATE, T.DATETIME):
        return _dates_order(left, right)
    if kind in ORDERED_TYPES:
        return (left > right) - (left < right)
    return 0 if left == right else None


def compare(kind: str, value: Any, operator: str, expected: Any) -> bool:
    """Does the answer `value` to an item of `kind` meet `operator expected`? FHIR R4 enableWhen:

    * exists: whether an answer exists equals `expected` (true or false);
    * = and the order operators: true when at least one answer meets it; false when unanswered;
    * !=: true when no answer equals `expected`, so true when unanswered (REDCap's <> says the same);
    * dates as dates (a partial date equals only a date of the same precision), times as times,
      numbers as numbers, codes and texts exactly; an order operator on a choice or a text is false.
    """
    if operator == "exists":
        wanted = to_bool(expected)
        return (not is_missing(value)) == (True if wanted is None else wanted)
    target = typed(kind, expected)
    answers = [a for a in (typed(kind, v) for v in as_list(value)) if a is not None]
    if operator == "!=":
        return target is None or not any(_order(kind, a, target) == 0 for a in answers)
    if target is None:
        return False
    if operator == "=":
        return any(_order(kind, a, target) == 0 for a in answers)
    if operator in ORDER_OPERATORS and kind in ORDERED_TYPES:
        wanted = {"<": (-1,), ">": (1,), "<=": (-1, 0), ">=": (1, 0)}[operator]
        return any(_order(kind, a, target) in wanted for a in answers)
    return False


def as_number(node: dict | None, value: Any) -> Decimal | None:
    """The number an answer stands for, in scores and in alerts: a choice's option score (summed over
    the ticked options of a multiple choice; an option without a score, such as "don't know", counts as
    no answer), yes = 1 / no = 0, a number item's value. None when it stands for none: never 0 for nothing."""
    if node is None or is_missing(value):
        return None
    kind = kind_of(node)
    if kind in CHOICE_TYPES:
        scores = option_scores(node)
        found = [scores.get(_code(code)) for code in as_list(value)]
        found = [s for s in found if s is not None]
        return sum(found, Decimal(0)) if found else None
    if kind == T.YES_NO:
        truth = to_bool(value)
        return None if truth is None else Decimal(int(truth))
    offered = {code: option for code, _stored, option in offered_options(node)}
    if offered:
        # An offered option with a score (ordinalValue) counts as its score, as a choice's would.
        chosen = offered.get(next(iter(form_values(node, value)), ""))
        score = option_score(chosen) if chosen is not None else None
        if score is not None:
            return score
    if kind in NUMBER_TYPES:
        return to_decimal(value)
    return None


def number_range(node: dict) -> tuple[Decimal, Decimal] | None:
    """(lowest, highest) number an item's answer stands for, to reverse a score; None when open."""
    kind = kind_of(node)
    if kind == T.YES_NO:
        return Decimal(0), Decimal(1)
    if kind == T.SINGLE:
        scores = [s for s in option_scores(node).values() if s is not None]
        return (min(scores), max(scores)) if scores else None
    low, high = bounds(node)
    return (low, high) if low is not None and high is not None else None


# --- what the page script needs -----------------------------------------------------------------


def browser_kind(kind: str) -> str:
    """How the page script reads and compares an item (static/patient/patient.js)."""
    if kind in CHOICE_TYPES:
        return "code"
    if kind == T.YES_NO:
        return "bool"
    if kind in NUMBER_TYPES:
        return "num"
    if kind in (T.DATE, T.TIME):
        return kind
    return "text"


def browser_reading(node: dict) -> dict:
    """What the script needs to read a field as `parse` does: its kind, integer or not, bounds, length."""
    kind = kind_of(node)
    out: dict[str, Any] = {"k": browser_kind(kind)}
    if kind in NUMBER_TYPES:
        out["i"] = kind in WHOLE_NUMBER_TYPES
        low, high = accepted_range(node)
        # as_double: a bound beyond a double's range would be Infinity, which JSON cannot carry.
        if low is not None:
            out["lo"] = float(as_double(low))
        if high is not None:
            out["hi"] = float(as_double(high))
    limit = node.get("maxLength")
    if kind in TEXT_TYPES and isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        out["n"] = limit
    return out


def browser_expected(kind: str, expected: Any) -> Any:
    """A condition's value as the script compares it: codes and texts as strings, numbers as numbers,
    dates as [year, month, day] (partial allowed), times as seconds; None when it equals nothing."""
    value = typed(kind, expected)
    if value is None:
        return None
    if kind == T.DATETIME:
        # The script reads a date and time as the text its field sends (it has no reading of its own yet):
        # = and != agree with the server; an order operator waits for the server (the page comes back).
        return _datetime_text(dt.date(*value[:3]), value[3:]) if len(value) == 6 else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    return value
