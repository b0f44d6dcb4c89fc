"""Stata .dta files, format 118 (Stata 14 and later), written observation by observation with
constant memory.

Layout from Stata's "dta" file format documentation (format 118): <stata_dta>, a header (release,
byte order, K variables, N observations, label, timestamp), a map of the file offset of every
section, variable types, names, sort list, display formats, value label names, variable labels,
characteristics, the data, the strLs, the value labels. Little-endian ("LSF"), strings UTF-8.

N and the map come before the data but are only known after it: they are written as zeros and
patched at the end, so `out` must be seekable (a file). A string variable is str1..str2045 (fixed
width, padded with binary zeros); a wider one is a strL: each observation holds a (v,o) reference
(v the variable, o the observation, both 1-based; (0,0) for empty text) and the texts themselves
are GSO records in the <strls> section after the data, spooled to a temporary file meanwhile.
Numbers are doubles; missing is Stata's "." (2^1023).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import struct
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

RELEASE = 118
MISSING = struct.unpack("<d", bytes.fromhex("000000000000e07f"))[0]  # "." for a double: 2^1023
STR_MAX = 2045
TYPE_STRL = 32768
TYPE_DOUBLE = 65526
DAYS_1960 = (dt.date(1970, 1, 1) - dt.date(1960, 1, 1)).days  # Stata dates count from 1960-01-01
MAP_ENTRIES = 14


@dataclass
class DtaVariable:
    """One variable: `kind` "number", "date" (value: days since 1970-01-01), "datetime" (seconds since
    1970-01-01 00:00, wall-clock time) or "string" with `width` in bytes (at least 1; past 2045 a strL)."""

    name: str
    kind: str = "number"
    width: int = 0
    label: str = ""
    value_labels: dict[int, str] = field(default_factory=dict)

    @property
    def is_strl(self) -> bool:
        return self.kind == "string" and self.width > STR_MAX


def _fixed(text: str, size: int) -> bytes:
    """UTF-8, cut on a character boundary to leave room for the terminating zero, zero-padded."""
    data = text.encode()
    if len(data) > size - 1:
        data = data[: size - 1].decode(errors="ignore").encode()
    return data.ljust(size, b"\0")


class DtaWriter:
    """Write the descriptors, then observations one at a time; `close()` writes the strLs and value
    labels and patches N and the map."""

    def __init__(
        self, out: BinaryIO, variables: Sequence[DtaVariable], *, label: str = "", created: dt.datetime | None = None
    ):
        self.out = out
        self.variables = list(variables)
        if len(self.variables) > 32767:
            # Format 118's limit (Stata/MP reads wider files only in format 119).
            raise ValueError(f"{len(self.variables)} variables: a .dta file (format 118) holds at most 32,767")
        self.rows = 0
        self._start = out.tell()
        self._strls: BinaryIO | None = None
        if any(v.is_strl for v in self.variables):
            self._strls = tempfile.TemporaryFile(prefix="ressenti-strl-")
        created = created or dt.datetime.now()
        self._map = [0] * MAP_ENTRIES

        w = out.write
        w(b"<stata_dta><header><release>118</release><byteorder>LSF</byteorder><K>")
        w(struct.pack("<H", len(self.variables)) + b"</K><N>")
        self._n_at = self._tell()
        w(struct.pack("<Q", 0) + b"</N><label>")
        data = _fixed(label, 321).rstrip(b"\0")
        w(struct.pack("<H", len(data)) + data + b"</label><timestamp>")
        month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[created.month - 1]
        stamp = f"{created.day:02d} {month} {created.year:04d} {created.hour:02d}:{created.minute:02d}".encode()
        w(struct.pack("<B", len(stamp)) + stamp + b"</timestamp></header>")
        self._map[1] = self._tell()
        self._map_at = self._map[1] + len(b"<map>")
        w(b"<map>" + b"\0" * 8 * MAP_ENTRIES + b"</map>")

        self._section(
            2,
            b"variable_types",
            b"".join(
                struct.pack("<H", TYPE_STRL if v.is_strl else v.width if v.kind == "string" else TYPE_DOUBLE)
                for v in self.variables
            ),
        )
        self._section(3, b"varnames", b"".join(_fixed(v.name, 129) for v in self.variables))
        self._section(4, b"sortlist", b"\0\0" * (len(self.variables) + 1))
        self._section(5, b"formats", b"".join(_fixed(self._format(v), 57) for v in self.variables))
        self._section(
            6,
            b"value_label_names",
            b"".join(_fixed(v.name if v.value_labels and v.kind != "string" else "", 129) for v in self.variables),
        )
        self._section(7, b"variable_labels", b"".join(_fixed(v.label, 321) for v in self.variables))
        self._section(8, b"characteristics", b"")
        self._map[9] = self._tell()
        w(b"<data>")

        layout = ["<"]
        for v in self.variables:
            layout.append("Q" if v.is_strl else f"{v.width}s" if v.kind == "string" else "d")
        self._observation = struct.Struct("".join(layout))

    def _tell(self) -> int:
        return self.out.tell() - self._start

    def _section(self, entry: int, tag: bytes, body: bytes) -> None:
        self._map[entry] = self._tell()
        self.out.write(b"<" + tag + b">" + body + b"</" + tag + b">")

    @staticmethod
    def _format(v: DtaVariable) -> str:
        if v.kind == "string":
            return "%-9s"
        return {"date": "%td", "datetime": "%tc"}.get(v.kind, "%10.0g")

    def write(self, values: Iterable[float | bytes | None]) -> None:
        """One observation: a float (NaN or None = missing) per number, UTF-8 bytes per string."""
        self.rows += 1
        fields: list[float | bytes | int] = []
        for number, (v, value) in enumerate(zip(self.variables, values, strict=True), start=1):
            if v.kind == "string":
                if not v.is_strl:
                    fields.append(value or b"")
                elif not value:
                    fields.append(0)
                else:
                    # (v,o) in 8 bytes, little-endian: v in the first 2 bytes, o in the next 6.
                    fields.append(number | self.rows << 16)
                    self._strls.write(
                        b"GSO" + struct.pack("<IQBI", number, self.rows, 130, len(value) + 1) + value + b"\0"
                    )
            elif value is None or math.isnan(value):
                fields.append(MISSING)
            elif v.kind == "date":
                fields.append(value + DAYS_1960)
            elif v.kind == "datetime":
                fields.append((value + DAYS_1960 * 86400) * 1000.0)
            else:
                fields.append(value)
        self.out.write(self._observation.pack(*fields))

    def close(self) -> None:
        w = self.out.write
        w(b"</data>")
        self._map[10] = self._tell()
        w(b"<strls>")
        if self._strls is not None:
            self._strls.seek(0)
            shutil.copyfileobj(self._strls, self.out, 1024 * 1024)
            self._strls.close()
        w(b"</strls>")
        self._map[11] = self._tell()
        w(b"<value_labels>")
        for v in self.variables:
            if v.kind == "string" or not v.value_labels:
                continue
            texts, offsets, position = [], [], 0
            for text in v.value_labels.values():
                data = _fixed(text, 32000).rstrip(b"\0") + b"\0"
                offsets.append(position)
                texts.append(data)
                position += len(data)
            count = len(texts)
            table = (
                struct.pack("<ii", count, position)
                + struct.pack(f"<{count}i", *offsets)
                + struct.pack(f"<{count}i", *(int(k) for k in v.value_labels))
                + b"".join(texts)
            )
            w(b"<lbl>" + struct.pack("<i", len(table)) + _fixed(v.name, 129) + b"\0\0\0" + table + b"</lbl>")
        w(b"</value_labels>")
        self._map[12] = self._tell()
        w(b"</stata_dta>")
        self._map[13] = self._tell()
        end = self.out.tell()
        self.out.seek(self._start + self._n_at)
        self.out.write(struct.pack("<Q", self.rows))
        self.out.seek(self._start + self._map_at)
        self.out.write(struct.pack(f"<{MAP_ENTRIES}Q", *self._map))
        self.out.seek(end)
        self.out.flush()
