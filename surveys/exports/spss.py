"""SPSS system files (.sav), written case by case with constant memory.

Layout from PSPP's "System File Format" documentation: file header, one variable record per
8-byte slot (a string wider than 8 bytes is followed by continuation records), value label records
(type 3 + type 4), extension records (machine integer and floating-point info, variable display
parameters, long variable names, very long strings, character encoding), the dictionary
termination record, then the cases, uncompressed: 8 bytes per numeric value, strings padded with
spaces to a multiple of 8 bytes. Little-endian, UTF-8.

The number of cases sits in the header before the data: it is written as -1 (unknown) and patched
once the last case is written, so `out` must be seekable (a file).

A string wider than 255 bytes (a "very long string") is stored as segments: n = (w + 251) // 252
segments, every segment but the last 255 bytes wide, the last w - (n - 1) * 252; the value is packed
255 bytes per segment. The segments are named in the very long string record, so readers show one
variable again.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

SYSMIS = -1.7976931348623157e308  # -DBL_MAX: system-missing
HIGHEST = 1.7976931348623157e308
LOWEST = struct.unpack("<d", bytes.fromhex("feffffffffffefff"))[0]  # next value above SYSMIS
NCASES_OFFSET = 80  # byte offset of ncases in the file header
SEGMENT = 255  # bytes of a very long string per segment
SEGMENT_WIDTH = 252  # width each segment but the last accounts for

# Format types (print/write formats): type << 16 | width << 8 | decimals.
FMT_A, FMT_F, FMT_DATE, FMT_DATETIME = 1, 5, 20, 22
MEASURES = {"nominal": 1, "ordinal": 2, "scale": 3}


@dataclass
class SavVariable:
    """One variable: `width` 0 for a number, else the string's width in bytes (at least 1).

    `kind`: "number", "date" (value: days since 1970-01-01), "datetime" (seconds since 1970-01-01
    00:00, wall-clock time) or "string"."""

    name: str
    kind: str = "number"
    width: int = 0
    label: str = ""
    value_labels: dict[int | float, str] = field(default_factory=dict)
    measure: str = "scale"


# Seconds from SPSS's epoch (the Gregorian calendar's start, 14 October 1582) to 1970-01-01.
EPOCH_OFFSET = (dt.date(1970, 1, 1) - dt.date(1582, 10, 14)).days * 86400


def _segments(width: int) -> list[int]:
    """Widths of the segments of a string variable (one for 255 bytes or less)."""
    if width <= 255:
        return [width]
    n = (width + 251) // SEGMENT_WIDTH
    return [255] * (n - 1) + [width - (n - 1) * SEGMENT_WIDTH]


def _slots(width: int) -> int:
    """8-byte slots a variable (or one segment) takes in a case."""
    return 1 if width == 0 else (width + 7) // 8


def _short_names(names: Sequence[str], segments: Sequence[int]) -> list[list[str]]:
    """Unique short names (at most 8 bytes, upper case), one per segment of each variable."""
    used: set[str] = set()
    found = []

    def unique(base: str) -> str:
        base = base.upper()[:8] or "V"
        if base not in used:
            used.add(base)
            return base
        n = 1
        while True:
            tail = str(n)
            candidate = base[: 8 - len(tail)] + tail
            if candidate not in used:
                used.add(candidate)
                return candidate
            n += 1

    for name, count in zip(names, segments, strict=True):
        first = unique(name)
        found.append([first] + [unique(name[:5]) for _ in range(count - 1)])
    return found


def _padded(data: bytes, multiple: int, fill: bytes = b"\0") -> bytes:
    return data + fill * (-len(data) % multiple)


def _fmt(kind: str, width: int) -> int:
    if kind == "string":
        return FMT_A << 16 | min(width, 255) << 8
    if kind == "date":
        return FMT_DATE << 16 | 11 << 8
    if kind == "datetime":
        return FMT_DATETIME << 16 | 20 << 8
    return FMT_F << 16 | 8 << 8 | 2


class SavWriter:
    """Write a dictionary, then cases one at a time; `close()` patches the number of cases."""

    def __init__(
        self, out: BinaryIO, variables: Sequence[SavVariable], *, label: str = "", created: dt.datetime | None = None
    ):
        self.out = out
        self.variables = list(variables)
        self.cases = 0
        self._start = out.tell()
        created = created or dt.datetime.now()
        widths = [_segments(v.width) if v.kind == "string" else [0] for v in self.variables]
        shorts = _short_names([v.name for v in self.variables], [len(w) for w in widths])
        self._widths = widths
        case_slots = sum(_slots(w) for ws in widths for w in ws)

        w = out.write
        month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[created.month - 1]
        w(b"$FL2")
        w(b"@(#) SPSS DATA FILE Ressenti".ljust(60))
        w(struct.pack("<iiiii", 2, case_slots, 0, 0, -1))
        w(struct.pack("<d", 100.0))
        w(f"{created.day:02d} {month} {created.year % 100:02d}".encode())
        w(created.strftime("%H:%M:%S").encode())
        w(_cut_bytes(label.encode(), 64).ljust(64))
        w(b"\0\0\0")

        # Variable records; the dictionary index of each variable's first slot (1-based) for the
        # value label records.
        index = 1
        first_slot = []
        for variable, segment_widths, names in zip(self.variables, widths, shorts, strict=True):
            first_slot.append(index)
            for number, width in enumerate(segment_widths):
                label_bytes = _cut_bytes(variable.label.encode(), 255) if number == 0 else b""
                fmt = _fmt(variable.kind, width)
                w(struct.pack("<iiiiii", 2, width, 1 if label_bytes else 0, 0, fmt, fmt))
                w(names[number].encode().ljust(8))
                if label_bytes:
                    w(struct.pack("<i", len(label_bytes)) + _padded(label_bytes, 4))
                for _ in range(_slots(width) - 1):
                    w(struct.pack("<iiiiii", 2, -1, 0, 0, 0, 0) + b" " * 8)
                index += _slots(width)

        for variable, slot in zip(self.variables, first_slot, strict=True):
            if variable.kind == "string" or not variable.value_labels:
                continue
            w(struct.pack("<ii", 3, len(variable.value_labels)))
            for value, text in variable.value_labels.items():
                data = _cut_bytes(text.encode(), 120)
                # uint8 length + text, padded so that both together fill a multiple of 8 bytes.
                w(struct.pack("<dB", float(value), len(data)) + data + b" " * (-(len(data) + 1) % 8))
            w(struct.pack("<iii", 4, 1, slot))

        # Machine integer info: version, machine code, IEEE 754, compression code, little-endian, UTF-8.
        w(struct.pack("<iiii", 7, 3, 4, 8) + struct.pack("<8i", 1, 0, 0, -1, 1, 1, 2, 65001))
        w(struct.pack("<iiii", 7, 4, 8, 3) + struct.pack("<3d", SYSMIS, HIGHEST, LOWEST))
        # Variable display parameters: measure, width, alignment, one set per segment.
        display = []
        for variable, segment_widths in zip(self.variables, widths, strict=True):
            align = 0 if variable.kind == "string" else 1
            for width in segment_widths:
                shown = 8 if variable.kind != "string" else max(1, min(width, 40))
                display += [MEASURES.get(variable.measure, 1), shown, align]
        w(struct.pack("<iiii", 7, 11, 4, len(display)) + struct.pack(f"<{len(display)}i", *display))
        long_names = "\t".join(f"{names[0]}={v.name}" for v, names in zip(self.variables, shorts, strict=True))
        self._extension(13, long_names.encode())
        very_long = b"".join(
            f"{names[0]}={v.width:05d}".encode() + b"\0\t"
            for v, names in zip(self.variables, shorts, strict=True)
            if v.kind == "string" and v.width > 255
        )
        if very_long:
            self._extension(14, very_long)
        self._extension(20, b"UTF-8")
        w(struct.pack("<ii", 999, 0))

        # One struct for a whole case: numbers as doubles, strings as fixed-width fields.
        layout = ["<"]
        for variable, segment_widths in zip(self.variables, widths, strict=True):
            if variable.kind == "string":
                layout += [f"{_slots(width) * 8}s" for width in segment_widths]
            else:
                layout.append("d")
        self._case = struct.Struct("".join(layout))

    def _extension(self, subtype: int, data: bytes) -> None:
        self.out.write(struct.pack("<iiii", 7, subtype, 1, len(data)) + data)

    def write(self, values: Iterable[float | bytes | None]) -> None:
        """One case: a float (NaN or None = system-missing) per number, UTF-8 bytes per string."""
        fields: list[float | bytes] = []
        for variable, segment_widths, value in zip(self.variables, self._widths, values, strict=True):
            if variable.kind == "string":
                data = value or b""
                if len(segment_widths) == 1:
                    fields.append(data.ljust(_slots(segment_widths[0]) * 8))
                else:
                    for number, width in enumerate(segment_widths):
                        part = data[number * SEGMENT : (number + 1) * SEGMENT]
                        fields.append(part.ljust(_slots(width) * 8))
            elif value is None or math.isnan(value):
                fields.append(SYSMIS)
            elif variable.kind == "date":
                fields.append(value * 86400 + EPOCH_OFFSET)
            elif variable.kind == "datetime":
                fields.append(value + EPOCH_OFFSET)
            else:
                fields.append(value)
        self.out.write(self._case.pack(*fields))
        self.cases += 1

    def close(self) -> None:
        end = self.out.tell()
        self.out.seek(self._start + NCASES_OFFSET)
        self.out.write(struct.pack("<i", self.cases))
        self.out.seek(end)
        self.out.flush()


def _cut_bytes(data: bytes, limit: int) -> bytes:
    """At most `limit` bytes, never cutting a UTF-8 character."""
    return data if len(data) <= limit else data[:limit].decode(errors="ignore").encode()
