"""Wide CSV rows built by PostgreSQL: one `COPY (SELECT …) TO STDOUT WITH CSV` per questionnaire.

The Python writer (tables.wide_values → writers.csv_cell → csv.writer) spends about 4 µs per
answer; PostgreSQL extracts and formats the same cells in SQL at close to the cost of copying the
stored rows out. So, on PostgreSQL, each cell of the wide table is an SQL expression that gives
exactly the text the Python writer gives, and COPY streams the rows to the output: no Python per
row or per cell, memory of one COPY block.

The Python writer stays the reference (and the writer on SQLite). Both must write the same bytes;
tests/surveys/exports/test_export_wide_sql.py compares them over a table of cases and generated
ones. A row holding a value whose Python rendering SQL does not reproduce exactly (a number typed as
text, a date in one of Python's other ISO forms, a list in a text item, an imported Coding …) comes
out of the COPY as a marker row, and the Python writer writes that row in its place (`_Rows`,
`_PythonRows`): a value is never rendered differently, only slower. The predicate is computed once
per row, mostly by one jsonpath over the row's answers (are they all strings?) and one over its
scores. The connection is busy until the COPY ends, so from the first marker on the output waits in
a temporary file. Before the COPY, one query without the answers reads the participants (for the
counts, and the date shifts); both run in one REPEATABLE READ snapshot when the caller holds no
transaction.

How SQL matches the Python writer, in short (each rule names the Python it mirrors):

* CSV: PostgreSQL quotes a field holding a comma, a quote, CR or LF and doubles quotes, as
  csv.writer does (QUOTE_MINIMAL); it also quotes an empty non-null string, so every cell is NULLIF'd
  to NULL (the Python writer writes None and "" alike). PostgreSQL ends rows with LF, csv.writer with
  CRLF: the stream is split on quotes and LF outside quoted fields becomes CRLF (`_Rows`).
* instants (DateMode.instant): the study's wall-clock time and UTC offset, ISO 8601 to the second
  (to_char in the study's zone, set for the COPY; an offset with seconds, local mean time, by hand);
  shifted, the wall clock moved by whole days with the offset Python's fold=0 gives that wall clock
  (the one before a transition, in a gap or a fold); days since enrolment as calendar days.
* numbers (scalar_value, score_value, csv_cell): an integer as stored; a double as Python's repr,
  which is PostgreSQL's shortest float8 text for 1e-4 <= |x| < 1e15 (outside: the Python writer).
* completion delay: hours rounded half up to 2 decimals (source.ResponseRow.delay_hours), exact
  decimal arithmetic on both sides.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from psycopg import ClientCursor, sql

from surveys.exports.catalogue import ItemVar, QuestionnaireCatalogue, ScoreVar
from surveys.exports.deid import date_shift_days
from surveys.exports.source import responses_by_id, responses_queryset
from surveys.exports.spec import ExportSpec
from surveys.exports.tables import Column, Context, option_shown, wide_values
from surveys.models import Item
from surveys.questionnaires import values

T = Item.Type

# The response columns the expressions read, by alias (Django builds the query: one home for the
# export's filters, responses_queryset).
_BASE = {
    "x_id": "pk",
    "x_version_id": "version_id",
    "x_status": "status",
    "x_answers": "answers",
    "x_scores": "scores",
    "x_submitted": "submitted_at",
    "x_due": "assignment__due_at",
    "x_occurrence": "assignment__occurrence",
    "x_channel": "assignment__invitation_channel",
    "x_timepoint": "assignment__timepoint__code",
    "x_tp_order": "assignment__timepoint__order",
    "x_participant": "assignment__participant_id",
    "x_pseudonym": "assignment__participant__pseudonym",
    "x_enrolled": "assignment__participant__created_at",
    "x_site": "assignment__participant__site__code",
    "x_questionnaire": "version__questionnaire__code",
    "x_version": "version__number",
    "x_source": "source",
}
# source.ORDER, on the aliases.
_ORDER = "r.x_pseudonym, r.x_due, r.x_tp_order, r.x_occurrence, r.x_id"

ISO_SECONDS = "'YYYY-MM-DD\"T\"HH24:MI:SS'"
ISO_OFFSET = "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'"
# A stored number Python reads as a double (its JSON text has a point) prints as PostgreSQL's
# shortest float8 text only in this range (below, repr switches to an exponent earlier or later).
REPR_LOW, REPR_HIGH = "1e-4", "1e15"
# Python's date.fromisoformat (3.11) also reads YYYYMMDD and ISO week dates: left to the Python writer.
OTHER_ISO_DATE = "'^([0-9]{8}$|[0-9]{4}-?W)'"
ISO_DATE = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
# What a date-and-time page stores (values._datetime_text); any other text goes to the Python writer.
CANONICAL_DATETIME = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?$'"
FLUSH = 256 * 1024
# A score entry (any of the row: one path over the document) whose value or band only Python
# renders: text, true/false, lists and objects; a number out of the range above (kept wide: an
# integer there is rendered right by both, only slower); any numeric band (2.00 would read 2.0).
ODD_SCORES = (
    'jsonb_path_exists(r.x_scores, \'strict $.* ? (@.type() == "object") ? ('
    'exists(@.value ? (@.type() == "string" || @.type() == "boolean" || @.type() == "array" '
    '|| @.type() == "object")) '
    f'|| exists(@.value ? (@.type() == "number" && (@ >= {REPR_HIGH} || @ <= -{REPR_HIGH} '
    f"|| (@ != 0 && @ < {REPR_LOW} && @ > -{REPR_LOW})))) "
    '|| exists(@.band ? (@.type() == "boolean" || @.type() == "array" || @.type() == "object" '
    "|| @.type() == \"number\")))', '{}', true)"
)
NON_STRING_MEMBER = "'strict $.* ? (@.type() != \"string\")'"
NON_STRING_ELEMENT = '\'strict $[*] ? (@.type() != "string" && @.type() != "null")\''


@dataclass
class SqlTableStats:
    rows: int
    participants: list[int]


def _lit(value: Any) -> str:
    return sql.Literal(value).as_string(connection.connection)


def _json(value: Any) -> str:
    return _lit(json.dumps(value)) + "::jsonb"


def _text_list(codes: list[str]) -> str:
    return "ARRAY[" + ", ".join(_lit(c) for c in codes) + "]::text[]" if codes else "ARRAY[]::text[]"


def _case(subject: str, mapping: list[tuple[str, str]], default: str = "NULL") -> str:
    if not mapping:
        return default
    whens = " ".join(f"WHEN {_lit(code)} THEN {_lit(shown)}" for code, shown in mapping)
    return f"CASE {subject} {whens} ELSE {default} END"


class _Builder:
    """The SELECT of one questionnaire's wide table: a text expression per column, and the
    predicate that finds a row the Python writer must render."""

    def __init__(self, cat: QuestionnaireCatalogue, columns: list[Column], ctx: Context):
        self.cat = cat
        self.columns = columns
        self.ctx = ctx
        self.tz = _lit(ctx.dates.zone.key)
        self.mode = ctx.dates.mode
        # Values computed once per row for several uses (_once): those of the metadata (shifted
        # instants), and those of items, which the odd-row predicate reads too (joined before it).
        self.laterals: list[str] = []
        self.item_laterals: list[str] = []
        # What makes a row need the Python writer: `odd` in general, `odd_strings` when every answer
        # of the row is a JSON string (most rows: one jsonpath over the row says so, and then most
        # items need no check at all), `odd_always` whatever the answers.
        self.odd: list[str] = []
        self.odd_strings: list[str] = []
        self.odd_always: list[str] = [
            "jsonb_typeof(r.x_answers) NOT IN ('object', 'null')",
            "jsonb_typeof(r.x_scores) NOT IN ('object', 'null')",
        ]
        self.enrol_day = f"(r.x_enrolled AT TIME ZONE {self.tz})::date"

    # --- metadata -----------------------------------------------------------------------------

    def instant(self, column: str, name: str) -> str:
        """DateMode.instant, as csv_cell writes it (isoformat to the second, or a day number)."""
        tz = self.tz
        wall = f"({column} AT TIME ZONE {tz})"
        if self.mode == "days_since_enrolment":
            return f"({wall}::date - {self.enrol_day})::text"
        if self.mode == "exact":
            # The session's time zone is the study's during the COPY (wide_csv_rows_sql): to_char
            # writes the offset itself, unless it has seconds (local mean time, before 1912 in
            # Paris), which TZH:TZM would drop.
            offset = f"extract(epoch FROM {wall} - ({column} AT TIME ZONE 'UTC'))::int"
            return (
                f"CASE WHEN extract(timezone FROM {column})::int % 60 = 0 THEN to_char({column}, {ISO_OFFSET}) "
                f"ELSE to_char({wall}, {ISO_SECONDS}) || {_offset(offset)} END"
            )
        # Shifted: the wall clock moved by whole days; the offset is the one Python's fold=0 gives
        # that wall clock: PostgreSQL's own reading (the offset before a gap, after a fold), or the
        # offset before the transition when the wall clock falls in a fold.
        moved = f"{name}_w.w - make_interval(secs => {name}_o.before)"
        self.laterals += [
            _once(f"{name}_w", w=f"{wall} + sh.days * interval '1 day'"),
            _once(f"{name}_x", x=f"({name}_w.w AT TIME ZONE {tz})"),
            _once(
                f"{name}_o",
                pg=f"extract(epoch FROM {name}_w.w - ({name}_x.x AT TIME ZONE 'UTC'))::int",
                before=f"extract(epoch FROM (({name}_x.x - interval '1 day') AT TIME ZONE {tz}) "
                f"- (({name}_x.x - interval '1 day') AT TIME ZONE 'UTC'))::int",
            ),
            _once(
                name,
                o=f"CASE WHEN {name}_o.before > {name}_o.pg AND "
                f"extract(epoch FROM ((({moved}) AT TIME ZONE 'UTC') AT TIME ZONE {tz}) - ({moved}))::int "
                f"= {name}_o.before THEN {name}_o.before ELSE {name}_o.pg END",
                w=f"{name}_w.w",
            ),
        ]
        return (
            f"CASE WHEN {column} IS NOT NULL AND extract(year FROM {name}.w) BETWEEN 1 AND 9999 "
            f"THEN to_char({name}.w, {ISO_SECONDS}) || {_offset(name + '.o')} END"
        )

    def metadata(self) -> list[str]:
        delay = (
            "CASE WHEN r.x_submitted IS NULL OR r.x_submitted < r.x_due THEN NULL "
            "ELSE trim_scale(round(extract(epoch FROM r.x_submitted - r.x_due) / 3600, 2))::text END"
        )
        # A row the Python writer renders is a marker row: "" (which no other row starts with:
        # pseudonyms are NULLIF'd) and the response id, every other cell NULL (_Rows).
        cells = [
            "NULLIF(r.x_site, '')",
            "NULLIF(r.x_questionnaire, '')",
            "r.x_version::text",
            "NULLIF(r.x_timepoint, '')",
            "r.x_occurrence::text",
            self.instant("r.x_due", "t_due"),
            self.instant("r.x_submitted", "t_sub"),
            delay,
            "NULLIF(r.x_channel, '')",
            "NULLIF(r.x_status, '')",
            "NULLIF(r.x_source, '')",
        ]
        return [
            "CASE WHEN k.odd THEN '' ELSE NULLIF(r.x_pseudonym, '') END",
            "CASE WHEN k.odd THEN r.x_id::text ELSE NULLIF(r.x_site, '') END",
            *(f"CASE WHEN NOT k.odd THEN {cell} END" for cell in cells[1:]),
        ]

    # --- items --------------------------------------------------------------------------------

    def _in_versions(self, expression: str, version_ids: set[int]) -> str:
        if version_ids >= set(self.cat.number_of_version):
            return expression
        if not version_ids:
            return "NULL"
        ids = ", ".join(str(int(v)) for v in sorted(version_ids))
        return f"CASE WHEN r.x_version_id IN ({ids}) THEN {expression} END"

    def _answer(self, item: ItemVar) -> str:
        return f"(r.x_answers -> {_lit(item.link_id)})"

    def _text(self, item: ItemVar) -> str:
        """The answer's text: a string's own text (what a choice is, once no answer is a list)."""
        return f"(r.x_answers ->> {_lit(item.link_id)})"

    def column(self, column: Column) -> str:
        item = column.item
        if column.kind in ("score", "band"):
            assert column.score is not None
            return self.score(column.score) if column.kind == "score" else self.band(column.score)
        assert item is not None
        in_item = {vid for vid, links in self.cat.items_by_version.items() if item.link_id in links}
        a = self._answer(item)
        if column.kind in ("option", "other") and self._choice_odd(a) not in self.odd:
            self.odd.append(self._choice_odd(a))
        if column.kind == "option":
            assert column.option is not None
            code = column.option.code
            offered = {vid for vid, codes in item.codes_by_version.items() if code in codes}
            # Python skips "" before matching, so an option coded "" is never chosen.
            chosen = "'0'" if code == "" else f"CASE WHEN {a} @> {_json(code)} THEN '1' ELSE '0' END"
            answered = f"((jsonb_typeof({a}) = 'string' AND {a} <> '\"\"') OR (jsonb_typeof({a}) = 'array' AND NOT {a} <@ '[null, \"\"]'))"
            return self._in_versions(f"CASE WHEN {answered} THEN {chosen} END", offered & in_item)
        if column.kind == "other":
            codes = _text_list([c for c in item.option_order if c])
            expression = (
                f"CASE jsonb_typeof({a}) "
                f"WHEN 'string' THEN CASE WHEN {a} #>> '{{}}' <> ALL({codes}) THEN NULLIF({a} #>> '{{}}', '') END "
                f"WHEN 'array' THEN (SELECT NULLIF(string_agg(e.v, '; ' ORDER BY e.n), '') "
                f"FROM jsonb_array_elements_text({a}) WITH ORDINALITY AS e(v, n) "
                f"WHERE e.v <> '' AND e.v <> ALL({codes})) END"
            )
            return self._in_versions(expression, in_item)
        return self._in_versions(self.scalar(item, a), in_item)

    def _choice_odd(self, a: str) -> str:
        return (
            f"(jsonb_typeof({a}) NOT IN ('string', 'array', 'null') OR "
            f"(jsonb_typeof({a}) = 'array' AND jsonb_path_exists({a}, {NON_STRING_ELEMENT})))"
        )

    def scalar(self, item: ItemVar, a: str) -> str:
        """tables.scalar_value (numeric=False) of one item, as text."""
        kind = item.type
        empty = f"({a} IS NULL OR {a} IN ('null', '\"\"', '[]'))"
        if kind in (T.SINGLE, T.MULTIPLE):
            if self._choice_odd(a) not in self.odd:
                self.odd.append(self._choice_odd(a))
            shown = [(o.code, str(option_shown(o, self.ctx))) for o in item.ordered_options() if o.code]
            # The first option code in the list's order. A path, not a subquery: a subquery in the
            # SELECT list would keep the whole list out of PostgreSQL's parallel workers.
            variables = _json({f"c{n}": code for n, (code, _shown) in enumerate(shown)})
            matches = " || ".join(f"@ == $c{n}" for n in range(len(shown))) or "false"
            first = f"(jsonb_path_query_first({a}, {_lit(f'strict $[*] ? ({matches})')}, {variables}) #>> '{{}}')"
            in_list = _case(first, shown)
            if any(code.startswith("[") for code, _shown in shown):
                # A list's JSON text could read as such a code: look at the type first.
                scalar = _case(f"{a} #>> '{{}}'", shown)
                return (
                    f"CASE jsonb_typeof({a}) WHEN 'string' THEN NULLIF({scalar}, '') "
                    f"WHEN 'array' THEN NULLIF({in_list}, '') END"
                )
            # One lookup for the usual answer, a string: its text is an option code, or the answer is
            # a list (or not an option: NULL either way).
            in_list = f"CASE WHEN jsonb_typeof({a}) = 'array' THEN {in_list} END"
            return f"NULLIF({_case(self._text(item), shown, default=in_list)}, '')"
        if kind == T.YES_NO:
            yes, no = (self.ctx.yes_no[True], self.ctx.yes_no[False]) if self.ctx.labels else ("1", "0")
            true_words = _text_list(sorted(values.TRUE_WORDS))
            false_words = _text_list(sorted(values.FALSE_WORDS))
            self.odd_strings.append(
                f"({self._text(item)} <> '' AND NOT ({self._text(item)} = ANY({true_words}) "
                f"OR {self._text(item)} = ANY({false_words})))"
            )
            self.odd.append(
                f"((jsonb_typeof({a}) = 'string' AND {a} <> '\"\"' AND NOT ({a} #>> '{{}}' = ANY({true_words}) "
                f"OR {a} #>> '{{}}' = ANY({false_words}))) OR "
                f"(jsonb_typeof({a}) = 'number' AND strpos({a}::text, '.') > 0))"
            )
            return (
                f"NULLIF(CASE jsonb_typeof({a}) "
                f"WHEN 'boolean' THEN CASE WHEN {a} = 'true' THEN {_lit(yes)} ELSE {_lit(no)} END "
                f"WHEN 'string' THEN CASE WHEN {a} #>> '{{}}' = ANY({true_words}) THEN {_lit(yes)} "
                f"WHEN {a} #>> '{{}}' = ANY({false_words}) THEN {_lit(no)} END "
                f"WHEN 'number' THEN CASE ({a} #>> '{{}}')::numeric WHEN 1 THEN {_lit(yes)} "
                f"WHEN 0 THEN {_lit(no)} END END, '')"
            )
        if kind in values.NUMBER_TYPES:
            self.odd_strings.append(f"{self._text(item)} <> ''")
            self.odd.append(
                f"((jsonb_typeof({a}) = 'string' AND {a} <> '\"\"') OR "
                f"(jsonb_typeof({a}) = 'number' AND {_odd_number(a, whole=kind == T.DECIMAL)}))"
            )
            return f"CASE WHEN jsonb_typeof({a}) = 'number' THEN {_number(a)} END"
        if kind == T.DATE:
            return self.date(item, a, empty)
        if kind == T.DATETIME:
            return self.datetime(item, a, empty)
        # Text (and any other type): str(value).
        self.odd.append(f"(NOT {empty} AND jsonb_typeof({a}) <> 'string')")
        return f"NULLIF({a} #>> '{{}}', '')"

    def date(self, item: ItemVar, a: str, empty: str) -> str:
        """DateMode.date of str(value)[:10]; text that is not a date kept only with exact dates."""
        name = f"d{len(self.item_laterals)}"
        text = f"CASE WHEN jsonb_typeof({a}) = 'string' THEN {a} #>> '{{}}' END"
        p = f"{name}_t.p"
        day = f"make_date(substr({p}, 1, 4)::int, substr({p}, 6, 2)::int, substr({p}, 9, 2)::int)"
        self.item_laterals += [
            _once(f"{name}_t", s=text, p=f"left({text}, 10)"),
            _once(name, d=f"CASE WHEN {_valid_date(p)} THEN {day} END", s=f"{name}_t.s", p=p),
        ]
        self.odd.append(f"(NOT {empty} AND (jsonb_typeof({a}) <> 'string' OR {name}.p ~ {OTHER_ISO_DATE}))")
        self.odd_strings.append(f"{name}.p ~ {OTHER_ISO_DATE}")
        if self.mode == "exact":
            return f"NULLIF(CASE WHEN {name}.d IS NOT NULL THEN {name}.p ELSE {name}.s END, '')"
        if self.mode == "shifted":
            moved = f"({name}.d + sh.days)"
            return f"CASE WHEN extract(year FROM {moved}) BETWEEN 1 AND 9999 THEN to_char({moved}, 'YYYY-MM-DD') END"
        return f"({name}.d - {self.enrol_day})::text"

    def datetime(self, item: ItemVar, a: str, empty: str) -> str:
        """tables.wall_clock: the stored reading (astimezone into its own zone changes nothing)."""
        name = f"d{len(self.item_laterals)}"
        s = f"{name}_t.s"
        parts = {
            "y": f"substr({s}, 1, 4)::int",
            "mo": f"substr({s}, 6, 2)::int",
            "d": f"substr({s}, 9, 2)::int",
            "h": f"substr({s}, 12, 2)::int",
            "mi": f"substr({s}, 15, 2)::int",
            "sec": f"coalesce(nullif(substr({s}, 18, 2), ''), '0')::int",
        }
        valid = (
            f"{s} ~ {CANONICAL_DATETIME} AND {_valid_date(f'left({s}, 10)')} AND {parts['y']} BETWEEN 2 AND 9998 "
            f"AND {parts['h']} <= 23 AND {parts['mi']} <= 59 AND {parts['sec']} <= 59"
        )
        stamp = ", ".join(parts[key] for key in ("y", "mo", "d", "h", "mi", "sec"))
        self.item_laterals += [
            _once(f"{name}_t", s=f"CASE WHEN jsonb_typeof({a}) = 'string' THEN {a} #>> '{{}}' END"),
            _once(name, w=f"CASE WHEN {valid} THEN make_timestamp({stamp}) END"),
        ]
        self.odd.append(f"(NOT {empty} AND {name}.w IS NULL)")
        self.odd_strings.append(f"({name}_t.s <> '' AND {name}.w IS NULL)")
        if self.mode == "exact":
            return f"to_char({name}.w, {ISO_SECONDS})"
        if self.mode == "shifted":
            return f"to_char({name}.w + sh.days * interval '1 day', {ISO_SECONDS})"
        return f"({name}.w::date - {self.enrol_day})::text"

    # --- scores -------------------------------------------------------------------------------

    def score(self, score: ScoreVar) -> str:
        entry = f"(r.x_scores -> {_lit(score.name)})"
        value = f"({entry} -> 'value')"
        if ODD_SCORES not in self.odd_always:
            self.odd_always.append(ODD_SCORES)
        return (
            f"CASE WHEN jsonb_typeof({entry}) = 'object' AND jsonb_typeof({value}) = 'number' THEN {_number(value)} END"
        )

    def band(self, score: ScoreVar) -> str:
        entry = f"(r.x_scores -> {_lit(score.name)})"
        code = f"({entry} -> 'band')"
        if ODD_SCORES not in self.odd_always:
            self.odd_always.append(ODD_SCORES)
        shown = []
        for band in score.ordered_bands():
            text = self.ctx.label(band.labels) if self.ctx.labels else band.code
            shown.append((band.code, str(text)))
        subject = f"{code} #>> '{{}}'"
        return (
            f"CASE WHEN jsonb_typeof({entry}) = 'object' AND jsonb_typeof({code}) IN ('string', 'number') "
            f"THEN NULLIF({_case(subject, shown, default=subject)}, '') END"
        )

    # --- the statements -----------------------------------------------------------------------

    def select(self, base: str, shifts: tuple[list[str], list[int]] | None) -> str:
        """The COPY's SELECT: each row's cells, or its marker when it has a value only the Python
        writer renders (k.odd, computed once per row)."""
        cells = self.metadata() + [f"CASE WHEN NOT k.odd THEN {self.column(c)} END" for c in self.columns[12:]]
        joins = ""
        if shifts is not None:
            joins = (
                f"JOIN unnest({_text_list(shifts[0])}, ARRAY[{', '.join(str(int(d)) for d in shifts[1])}]::int[]) "
                "AS sh(pseudonym, days) ON sh.pseudonym = r.x_pseudonym "
            )
        laterals = "".join(self.item_laterals + [_once("k", odd=f"({self._odd_row()}) IS TRUE")] + self.laterals)
        return f"SELECT {', '.join(cells)} FROM ({base}) AS r {joins}{laterals}ORDER BY {_ORDER}"

    def _odd_row(self) -> str:
        def any_of(predicates: list[str]) -> str:
            return "(" + " OR ".join(predicates) + ")" if predicates else "false"

        only_strings = f"NOT jsonb_path_exists(r.x_answers, {NON_STRING_MEMBER}, '{{}}', true)"
        return (
            f"{any_of(self.odd_always)} OR "
            f"CASE WHEN {only_strings} THEN {any_of(self.odd_strings)} ELSE {any_of(self.odd)} END"
        )


def _facts(base: str, *, shifted: bool) -> str:
    """Before the COPY, without reading the answers: the participants, whether PostgreSQL prints
    doubles shortest (extra_float_digits > 0), and the pseudonyms when dates are shifted."""
    return (
        "SELECT coalesce(array_agg(DISTINCT r.x_participant), '{}'), "
        "current_setting('extra_float_digits')::int > 0"
        + (", coalesce(array_agg(DISTINCT r.x_pseudonym), '{}')" if shifted else "")
        + f" FROM ({base}) AS r"
    )


def _once(name: str, **columns: str) -> str:
    """Values computed once per row, for several cells: a function scan (unnest of one-element
    arrays), which PostgreSQL neither copies into each use, as it does a LATERAL (SELECT …), nor keeps
    out of its parallel workers, as it does a subquery with OFFSET 0."""
    arrays = ", ".join(f"ARRAY[{expression}]" for expression in columns.values())
    return f"CROSS JOIN LATERAL unnest({arrays}) AS {name}({', '.join(columns)}) "


def _offset(seconds: str) -> str:
    """A UTC offset in seconds as datetime.isoformat writes it: +HH:MM, or +HH:MM:SS."""
    a = f"abs({seconds})"
    return (
        f"(CASE WHEN {seconds} < 0 THEN '-' ELSE '+' END || to_char({a} / 3600, 'FM00') || ':' || "
        f"to_char({a} % 3600 / 60, 'FM00') || CASE WHEN {a} % 60 <> 0 THEN ':' || to_char({a} % 60, 'FM00') ELSE '' END)"
    )


def _number(a: str) -> str:
    """A JSON number as csv_cell writes what Python read: an integer as stored, a double as repr
    (a whole double as its integer)."""
    f = f"({a} #>> '{{}}')::float8"
    return (
        f"CASE WHEN strpos({a}::text, '.') = 0 THEN {a}::text "
        f"WHEN {f} = trunc({f}) THEN trunc({f})::bigint::text ELSE {f}::text END"
    )


def _odd_number(a: str, *, whole: bool) -> str:
    """A JSON number whose Python rendering the expression above does not reproduce. `whole`: an
    integer is written through a double (decimal items: float(number))."""
    n = f"({a} #>> '{{}}')::numeric"
    double = f"(strpos({a}::text, '.') > 0 AND (abs({n}) >= {REPR_HIGH} OR ({n} <> 0 AND abs({n}) < {REPR_LOW})))"
    return f"({double} OR abs({n}) >= {REPR_HIGH})" if whole else double


def _valid_date(p: str) -> str:
    """`p` is YYYY-MM-DD of a real date of years 1 to 9999 (checked before make_date reads it)."""
    y, m, d = f"substr({p}, 1, 4)::int", f"substr({p}, 6, 2)::int", f"substr({p}, 9, 2)::int"
    leap = f"({y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0))"
    days = f"CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    return f"({p} ~ {ISO_DATE} AND {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {days})"


# --- streaming ------------------------------------------------------------------------------------


class _Rows:
    """PostgreSQL's CSV rows as csv.writer writes them: LF outside quoted fields becomes CRLF, and
    a marker row becomes the Python writer's row of that response.

    Data is handled in whole rows (`complete` keeps an unfinished row for the next block). A block
    is split on quotes: parts alternate outside and inside quoted fields (a doubled quote inside a
    field makes an empty outside part). A marker row is `"",<id>,,…` at the start of a row: an empty
    inside part after a row end, followed by a comma; its other cells are NULL, so it has no quote
    and ends at its LF."""

    def __init__(self) -> None:
        self.tail = b""
        self.rows = 0

    def complete(self, data: bytes) -> bytes:
        """The whole rows of what has arrived so far; the rest waits for the next block."""
        data = self.tail + data
        parts = data.split(b'"')
        last = len(parts) - 1 if (len(parts) - 1) % 2 == 0 else len(parts) - 2
        for index in range(last, -1, -2):
            end = parts[index].rfind(b"\n")
            if end >= 0:
                offset = sum(len(part) + 1 for part in parts[:index]) + end + 1
                self.tail = data[offset:]
                return data[:offset]
        self.tail = data
        return b""

    def markers(self, rows: bytes) -> list[int] | None:
        """The response ids of the marker rows in `rows` (whole rows), or None when it has none."""
        if b'"",' not in rows:
            return None
        found = [response_id for _index, response_id in self._markers(rows.split(b'"'))]
        return found or None

    @staticmethod
    def _markers(parts: list[bytes]) -> Iterator[tuple[int, int]]:
        for index in range(1, len(parts) - 1, 2):
            if parts[index] or not parts[index + 1].startswith(b","):
                continue
            if parts[index - 1].endswith(b"\n") or (index == 1 and not parts[0]):
                rest = parts[index + 1]
                yield index, int(rest[1 : rest.index(b",", 1)])

    def convert(self, rows: bytes, rendered: dict[int, bytes] | None = None) -> bytes:
        """`rows` (whole rows) with CRLF line ends, each marker row replaced by `rendered[id]`."""
        if b'"' not in rows:
            self.rows += rows.count(b"\n")
            return rows.replace(b"\n", b"\r\n")
        parts = rows.split(b'"')
        markers = dict(self._markers(parts)) if rendered else {}
        out = [self._outside(parts[0])]
        for index in range(1, len(parts) - 1, 2):
            if index in markers:
                assert rendered is not None
                rest = parts[index + 1]
                out.append(rendered[markers[index]])
                self.rows += 1
                out.append(self._outside(rest[rest.index(b"\n") + 1 :]))
            else:
                out += (b'"', parts[index], b'"', self._outside(parts[index + 1]))
        return b"".join(out)

    def _outside(self, part: bytes) -> bytes:
        if b"\n" not in part:
            return part
        self.rows += part.count(b"\n")
        return part.replace(b"\n", b"\r\n")


def _zone_known(cursor: Any, zone: str) -> bool:
    """Whether PostgreSQL knows the study's time zone (the same IANA names as Python, unless its
    copy of the database is older). In a savepoint: an unknown zone leaves the caller's transaction
    as it was (pg_timezone_names would read every zone file, 50 ms)."""
    try:
        with transaction.atomic():
            cursor.execute("SELECT now() AT TIME ZONE %s", [zone])
    except DatabaseError:
        return False
    return True


@contextmanager
def _snapshot() -> Iterator[None]:
    """One snapshot for the facts, the COPY and the rows rendered after it; inside the caller's
    transaction, that transaction."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def wide_csv_rows_sql(
    *,
    spec: ExportSpec,
    ctx: Context,
    cat: QuestionnaireCatalogue,
    columns: list[Column],
    out: BinaryIO,
    progress: Callable[[int], None] | None = None,
) -> SqlTableStats | None:
    """Write the data rows of one questionnaire's wide CSV (after its header) with one COPY.

    None, with nothing written, when not on PostgreSQL (or it would not print doubles as Python
    does). A row holding a value only the Python writer renders comes out of the COPY as a marker
    and is rendered by the Python writer once the COPY is over (the connection is busy until then):
    from the first such row on, the COPY's output waits in a temporary file. `progress(rows)` is
    called as rows go out."""
    if connection.vendor != "postgresql":
        return None
    queryset = responses_queryset(spec, questionnaires=[cat.code]).values(**{a: F(p) for a, p in _BASE.items()})
    base_sql, params = queryset.query.sql_with_params()
    connection.ensure_connection()
    shifted = ctx.dates.mode == "shifted"
    with _snapshot(), connection.cursor() as cursor:
        if not _zone_known(cursor, ctx.dates.zone.key):
            return None
        base = ClientCursor(connection.connection).mogrify(base_sql, params)
        cursor.execute(_facts(base, shifted=shifted))
        found = cursor.fetchone()
        participants, shortest_floats = found[:2]
        if not shortest_floats:
            return None
        shifts = None
        if shifted:
            pseudonyms = list(found[2])
            shifts = (pseudonyms, [date_shift_days(study_id=ctx.dates.study_id, pseudonym=p) for p in pseudonyms])
        select = _Builder(cat, columns, ctx).select(base, shifts)
        rows = _Rows()
        with tempfile.TemporaryFile(prefix="ressenti-wide-") as spill:
            spilling = False
            pending: list[bytes] = []
            size = 0
            # The study's zone as the session's for the COPY only (instant, exact dates).
            cursor.execute("SELECT current_setting('TimeZone'), set_config('TimeZone', %s, true)", [ctx.dates.zone.key])
            session_zone = cursor.fetchone()[0]
            with cursor.cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
                # libpq hands over one row at a time: handled in blocks of about FLUSH bytes.
                for block in copy:
                    pending.append(bytes(block))
                    size += len(block)
                    if size < FLUSH:
                        continue
                    data, pending, size = b"".join(pending), [], 0
                    if spilling:
                        spill.write(data)
                        continue
                    whole = rows.complete(data)
                    if rows.markers(whole) is None:
                        out.write(rows.convert(whole))
                        if progress is not None:
                            progress(rows.rows)
                    else:
                        spilling = True
                        spill.write(whole + rows.tail)
                        rows.tail = b""
            # Put back only after a whole COPY: one cut short (a client gone, a write failing) leaves
            # the transaction aborted, and its rollback puts the zone back; a query would hide the error.
            cursor.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
            data = b"".join(pending)
            if not spilling:
                whole = rows.complete(data)
                if rows.markers(whole) is None:
                    out.write(rows.convert(whole))
                    data, spilling = b"", False
                else:
                    data, spilling = whole, True
            if spilling:
                spill.write(data)
                spill.seek(0)
                renderer = _PythonRows(cat, columns, ctx)
                while block := spill.read(FLUSH):
                    whole = rows.complete(block)
                    out.write(rows.convert(whole, renderer.render(rows.markers(whole) or [])))
                    if progress is not None:
                        progress(rows.rows)
                out.write(rows.convert(rows.complete(b"")))
        if progress is not None:
            progress(rows.rows)
        return SqlTableStats(rows=rows.rows, participants=list(participants))


class _PythonRows:
    """The Python writer's CSV rows of some responses (the reference: tables.wide_values, csv_cell)."""

    def __init__(self, cat: QuestionnaireCatalogue, columns: list[Column], ctx: Context):
        self.cat, self.columns, self.ctx = cat, columns, ctx

    def render(self, ids: list[int]) -> dict[int, bytes]:
        from surveys.exports.writers import csv_cell

        found = responses_by_id(ids)
        rendered = {}
        for response_id in ids:
            text = io.StringIO()
            values = wide_values(found[response_id], self.cat, self.columns, self.ctx)
            csv.writer(text).writerow([csv_cell(v) for v in values])
            rendered[response_id] = text.getvalue().encode()
        return rendered
