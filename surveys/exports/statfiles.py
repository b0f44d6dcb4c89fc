"""SPSS .sav and Stata .dta files, through pyreadstat.

pyreadstat writes a whole DataFrame at once: a file cannot be appended to chunk by chunk. So the
rows of one questionnaire are gathered column by column in compact buffers (8 bytes per number,
date or time; text as Python strings) while the responses stream from the database, and the
DataFrame is built from those buffers without copying them. Memory grows with the number of rows of
one questionnaire × its columns (about 8 bytes a cell plus the text answers), not with the study:
several questionnaires are written one after the other. docs/exports.md gives the measured limit.

Values are numbers: a single choice is the option's number (catalogue.py: its own value for
whole-number codes, else its order of first appearance) with value labels showing the option labels
(or the codes, when the export asks for raw codes); yes/no is 1/0; bands are numbered the same way.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys
from array import array
from collections.abc import Iterable
from typing import Any

from .catalogue import QuestionnaireCatalogue
from .tables import Column, Context

NAN = float("nan")
EPOCH = dt.datetime(1970, 1, 1)

# Names each package refuses as variable names.
SPSS_RESERVED = frozenset({"all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to", "with"})
STATA_RESERVED = frozenset({
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n", "_pi", "_pred",
    "_rc", "_se", "_skip", "str", "strl", "using", "with",
})
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
            clean = f"{clean[:limit - 7]}_{tag}"
        used.add(clean.lower())
        out[name] = clean
    return out


class ColumnBuffers:
    """The values of one questionnaire's wide table, column by column, in compact buffers."""

    def __init__(self, columns: list[Column]):
        self.columns = columns
        self.buffers: list[Any] = []
        for column in columns:
            if column.value_type in NUMERIC or column.value_type == "datetime":
                self.buffers.append(array("d"))
            else:
                self.buffers.append([])
        self.rows = 0

    def append(self, values: list[Any]) -> None:
        for column, buffer, value in zip(self.columns, self.buffers, values, strict=True):
            kind = column.value_type
            if kind == "datetime":
                buffer.append(NAN if value is None else (value.replace(tzinfo=None) - EPOCH).total_seconds())
            elif kind in NUMERIC:
                try:
                    buffer.append(NAN if value is None else float(value))
                except (TypeError, ValueError):
                    buffer.append(NAN)
            elif kind == "date":
                buffer.append(value if isinstance(value, dt.date) else None)
            elif column.kind == "meta" and column.name != "pseudonym":
                # Site, questionnaire, timepoint, channel, status: a few distinct values, one string each.
                buffer.append(sys.intern("" if value is None else str(value)))
            else:
                buffer.append("" if value is None else str(value))
        self.rows += 1

    def frame(self, names: dict[str, str]):
        import numpy as np
        import pandas as pd

        # One column at a time: copy it into a numpy array of its own and free its buffer at once,
        # so the table is never held twice. (A read-only view over the buffer would make pandas copy
        # every column when building the frame, doubling the peak.)
        data = {}
        for index, column in enumerate(self.columns):
            buffer, self.buffers[index] = self.buffers[index], None
            name = names[column.name]
            if column.value_type == "datetime":
                data[name] = pd.to_datetime(np.array(buffer, dtype="float64"), unit="s")
            elif isinstance(buffer, array):
                data[name] = np.array(buffer, dtype="float64")
            else:
                data[name] = pd.Series(buffer, dtype="object")
            del buffer
        return pd.DataFrame(data, copy=False)


def value_labels(column: Column, ctx: Context, fmt: str) -> dict[int, str] | None:
    limit = VALUE_LABEL_LIMITS[fmt]
    if column.kind == "item" and column.value_type == "code":
        return {o.number: _cut(ctx.label(o.labels) if ctx.labels else o.code, limit)
                for o in column.item.ordered_options()}
    if column.kind == "band":
        return {b.number: _cut(ctx.label(b.labels) if ctx.labels else b.code, limit)
                for b in column.score.ordered_bands()}
    if column.value_type == "boolean":
        return {1: ctx.yes_no[True], 0: ctx.yes_no[False]}
    return None


def statfile_write(*, path: str, fmt: str, cat: QuestionnaireCatalogue, columns: list[Column],
                   buffers: ColumnBuffers, ctx: Context) -> None:
    import pyreadstat

    names = stat_names([c.name for c in columns], fmt)
    frame = buffers.frame(names)
    label_limit = LABEL_LIMITS[fmt]
    labels = {names[c.name]: _cut(ctx.label(c.labels), label_limit) for c in columns}
    value_sets = {}
    for column in columns:
        found = value_labels(column, ctx, fmt)
        if found:
            value_sets[names[column.name]] = found
    title = _cut(ctx.label(cat.titles), 80)
    if fmt == "sav":
        measures = {names[c.name]: ("nominal" if c.value_type in ("code", "boolean", "binary", "text") else "scale")
                    for c in columns if c.value_type not in ("date", "datetime")}
        pyreadstat.write_sav(frame, path, file_label=title, column_labels=labels,
                             variable_value_labels=value_sets, variable_measure=measures)
    else:
        pyreadstat.write_dta(frame, path, file_label=title, column_labels=labels, variable_value_labels=value_sets)
