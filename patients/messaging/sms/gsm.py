"""How many SMS segments a text costs, counted the way the GSM network counts it.

Operators bill per segment, and a message cut in two may arrive as two SMS on old
phones, so the SMS template editor shows this count (see patients.messaging.texts).

* GSM-7 (3GPP TS 23.038): 7-bit characters; the basic table costs 1 unit each, the
  extension table (€ [ ] { } ^ ~ | \\ and form feed) costs 2 (escape + character).
  One segment holds 160 units; a concatenated message holds 153 per segment (the
  user data header takes the rest), and an escape pair is never split across two.
* UCS-2 as soon as one character is outside GSM-7 (ê, ç, ’, an emoji...): the whole
  message switches, 70 UTF-16 code units in one segment, 67 per concatenated segment,
  and a surrogate pair (an emoji) costs 2 and is never split either.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# The default alphabet, in table order (0x00-0x7F); 0x1B is the escape to the extension table.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC = frozenset(_BASIC) - {"\x1b"}
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7, MULTI_GSM7 = 160, 153
SINGLE_UCS2, MULTI_UCS2 = 70, 67


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # GSM7 or UCS2
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int  # what one segment holds at this length: 160/153 or 70/67
    # The characters that forced UCS-2, in order of appearance: what to change to get back to GSM-7.
    unicode_chars: tuple[str, ...] = ()


def gsm7_cost(char: str) -> int | None:
    """Units a character costs in GSM-7, or None when GSM-7 cannot carry it."""
    if char in GSM7_BASIC:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _pack(costs: list[int], per_segment: int) -> int:
    """Segments needed when no character (escape pair, surrogate pair) may straddle two."""
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_segments(text: str) -> SegmentInfo:
    gsm_costs = [gsm7_cost(c) for c in text]
    if all(cost is not None for cost in gsm_costs):
        costs: list[int] = gsm_costs  # type: ignore[assignment]
        encoding, single, multi, unicode_chars = GSM7, SINGLE_GSM7, MULTI_GSM7, ()
    else:
        # Characters beyond the Basic Multilingual Plane take two UTF-16 code units.
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
        encoding, single, multi = UCS2, SINGLE_UCS2, MULTI_UCS2
        unicode_chars = tuple(dict.fromkeys(c for c, cost in zip(text, gsm_costs, strict=True) if cost is None))
    units = sum(costs)
    if units == 0:
        return SegmentInfo(encoding, 0, 0, single, unicode_chars)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single, unicode_chars)
    return SegmentInfo(encoding, units, _pack(costs, multi), multi, unicode_chars)
