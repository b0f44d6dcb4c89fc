"""SPSS .sav and Stata .dta files, written row by row (spss.py, stata.py).

Both formats declare each text variable's width before the data, and the widest text is known only
once every row has been read. So the rows of one questionnaire are first spooled, typed, to a
temporary file (RowSpool: one marshalled tuple per row, the widest text of each column counted on
the way), then written from the spool one case at a time. Memory stays flat however many rows
there are: one row at a time, plus the dictionary; the disk holds the spool and the file.

Values are numbers: a single choice is the option's number (catalogue.py: its own value for
whole-number codes, else its order of first appearance) with value labels showing the option labels
(or the codes, when the export asks for raw codes); yes/no is 1/0; bands are numbered the same way.
Dates are date variables (SPSS DATE11, Stata %td), times datetime variables in the study's
wall-clock time (SPSS DATETIME20, Stata %tc); missing numbers are system-missing (SPSS) or "."
(Stata); missing text is empty text. Text is UTF-8 and never cut: SPSS text wider than 255 bytes
is a very long string (segments), Stata text wider than 2045 bytes a strL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from surveys.exports.catalogue import QuestionnaireCatalogue
from surveys.exports.spss import SavVariable, SavWriter
from surveys.exports.stata import DtaVariable, DtaWriter
from surveys.exports.tables import Column, Context

NAN = float("nan")
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DAY = dt.date(1970, 1, 1).toordinal()

# Names each package refuses as variable names.
SPSS_RESERVED = frozenset({"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"})
STATA_RESERVED = frozenset(
    {
        "_all",
        "_b",
        "byte",
        "_coef",
        "_cons",
        "double",
        "float",
        "if",
        "in",
        "int",
        "long",
        "_n",
        "_pi",
        "_pred",
        "_rc",
        "_se",
        "_skip",
        "str",
        "strl",
        "using",
        "with",
    }
)
LIMITS = {"sav": 64, "dta": 32}
LABEL_LIMITS = {"sav": 255, "dta": 80}
VALUE_LABEL_LIMITS = {"sav": 120, "dta": 32000}
NUMERIC = frozenset({"integer", "decimal", "code", "boolean", "binary", "day"})


def _cut(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut on a character boundary."""
    data = text.encode()
    return text if len(data) <= limit else data[:limit].decode(errors="ignore")


def stat_names(names: Iterable[str], fmt: str) -> dict[str, str]:
    """Column name -> a valid, unique variable name for SPSS or Stata.

    Letters, digits and "_" only, starting with a letter; too long or reserved names are cut and
    given a short hash of the original, so the same column always gets the same name."""
    limit = LIMITS[fmt]
    reserved = SPSS_RESERVED if fmt == "sav" else STATA_RESERVED
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not clean[:1].isalpha():
            clean = f"v{clean}"
        if len(clean) > limit or clean.lower() in reserved or clean.lower() in used:
            tag = hashlib.sha256(name.encode()).hexdigest()[:6]
            clean = f"{clean[: limit - 7]}_{tag}"
        used.add(clean.lower())
        out[name] = clean
    return out


class RowSpool:
    """The rows of one questionnaire's wide table, typed, in a temporary file.

    A value is a float (NaN: missing) for numbers, days since 1970-01-01 for dates, seconds since
    1970-01-01 (wall-clock time) for times, UTF-8 bytes for text. `widths` is the widest text of
    each column, in bytes."""

    def __init__(self, columns: list[Column], *, directory: str | None = None):
        self.columns = columns
        self.kinds = [_kind(column) for column in columns]
        self.widths = [0] * len(columns)
        self.rows = 0
        self._file = tempfile.TemporaryFile(prefix="ressenti-rows-", dir=directory)

    def append(self, values: list[Any]) -> None:
        typed: list[Any] = []
        for index, (kind, value) in enumerate(zip(self.kinds, values, strict=True)):
            if kind == "datetime":
                typed.append(NAN if value is None else (value.replace(tzinfo=None) - EPOCH).total_seconds())
            elif kind == "date":
                typed.append(float(value.toordinal() - EPOCH_DAY) if isinstance(value, dt.date) else NAN)
            elif kind == "number":
                try:
                    typed.append(NAN if value is None else float(value))
                except (TypeError, ValueError):
                    typed.append(NAN)
            else:
                data = b"" if value is None else str(value).encode()
                if len(data) > self.widths[index]:
                    self.widths[index] = len(data)
                typed.append(data)
        marshal.dump(tuple(typed), self._file)
        self.rows += 1

    def __iter__(self) -> Iterator[tuple]:
        self._file.seek(0)
        for _ in range(self.rows):
            yield marshal.load(self._file)

    def close(self) -> None:
        self._file.close()


def _kind(column: Column) -> str:
    if column.value_type in ("date", "datetime"):
        return column.value_type
    if column.value_type == "local_datetime":  # a date-and-time item: a wall-clock reading, SPSS DATETIME / Stata %tc
        return "datetime"
    return "number" if column.value_type in NUMERIC else "string"


def value_labels(column: Column, ctx: Context, fmt: str) -> dict[int, str] | None:
    limit = VALUE_LABEL_LIMITS[fmt]
    if column.kind == "item" and column.value_type == "code":
        return {
            o.number: _cut(ctx.label(o.labels) if ctx.labels else o.code, limit) for o in column.item.ordered_options()
        }
    if column.kind == "band":
        return {
            b.number: _cut(ctx.label(b.labels) if ctx.labels else b.code, limit) for b in column.score.ordered_bands()
        }
    if column.value_type == "boolean":
        return {1: ctx.yes_no[True], 0: ctx.yes_no[False]}
    return None


def statfile_write(
    *, path: str, fmt: str, cat: QuestionnaireCatalogue, columns: list[Column], spool: RowSpool, ctx: Context
) -> None:
    """Write the spooled rows to `path` as .sav or .dta, one row at a time."""
    names = stat_names([c.name for c in columns], fmt)
    label_limit = LABEL_LIMITS[fmt]
    title = _cut(ctx.label(cat.titles), 80)
    variables: list[Any] = []
    for column, kind, width in zip(columns, spool.kinds, spool.widths, strict=True):
        labels = (value_labels(column, ctx, fmt) or {}) if kind == "number" else {}
        common = {
            "name": names[column.name],
            "kind": kind,
            "width": max(width, 1) if kind == "string" else 0,
            "label": _cut(ctx.label(column.labels), label_limit),
            "value_labels": labels,
        }
        if fmt == "sav":
            nominal = column.value_type in ("code", "boolean", "binary", "text")
            variables.append(SavVariable(**common, measure="nominal" if nominal else "scale"))
        else:
            variables.append(DtaVariable(**common))
    with open(path, "wb") as out:
        writer = (SavWriter if fmt == "sav" else DtaWriter)(out, variables, label=title)
        for row in spool:
            writer.write(row)
        writer.close()
