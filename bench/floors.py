"""Floors for the bulk-write benchmarks, measured in the same run as the path they judge.

The floor of a path is a raw COPY of exactly the rows that path wrote: the path runs once in
a transaction that is rolled back, its new rows are read back as the database holds them
(ciphertexts, ids and all), and the floor writes them again with one COPY per table through
psycopg (and is rolled back too), in two forms:

* rows: the rows as Python tuples, each handed to `copy.write_row` — what any Python code
  that has its rows in hand pays at least (the floor the ratios are against);
* data: the COPY text itself, read with COPY TO and written back with COPY FROM — the
  server's share alone, no Python per row (shown for scale). Paths and floors then run interleaved, several
times, and the median of each is kept: on a shared machine only ratios of medians travel.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction
from psycopg import sql


class Rollback(Exception):
    pass


@dataclass
class Captured:
    """The rows one run wrote, by table, as tuples in the table's column order."""

    tables: dict[str, tuple[list[str], list[tuple]]] = field(default_factory=dict)
    data: dict[str, tuple[list[str], bytes]] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counted.values())

    def counts(self) -> dict[str, int]:
        return dict(self.counted)


def _pk(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            [table],
        )
        return cursor.fetchone()[0]


def high_marks(tables: list[str]) -> dict[str, int]:
    """The highest primary key of each table now: rows above it are the ones a run writes."""
    marks = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                sql.SQL("SELECT coalesce(max({pk}), 0) FROM {table}").format(
                    pk=sql.Identifier(_pk(table)), table=sql.Identifier(table)
                )
            )
            marks[table] = cursor.fetchone()[0]
    return marks


def capture(marks: dict[str, int], *, tuples: bool = True) -> Captured:
    """Every row above the marks: as COPY text, and (`tuples`) as tuples read with psycopg's own
    types (no Django conversion). Tuples of millions of rows take gigabytes: big runs skip them."""
    captured = Captured()
    raw = connection.connection
    for table, mark in marks.items():
        pk = sql.Identifier(_pk(table))
        with raw.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT * FROM {table} LIMIT 0").format(table=sql.Identifier(table)))
            columns = [d.name for d in cursor.description]
            chosen = sql.SQL("SELECT * FROM {table} WHERE {pk} > {mark} ORDER BY {pk}").format(
                table=sql.Identifier(table), pk=pk, mark=sql.Literal(mark)
            )
            blocks = []
            with cursor.copy(sql.SQL("COPY ({chosen}) TO STDOUT").format(chosen=chosen)) as copy:
                blocks.extend(bytes(block) for block in copy)
            captured.data[table] = (columns, b"".join(blocks))
            captured.counted[table] = captured.data[table][1].count(b"\n")
            if tuples:
                cursor.execute(chosen)
                captured.tables[table] = (columns, cursor.fetchall())
    return captured


def _copy_in(table: str, columns: list[str]) -> sql.Composed:
    return sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(table), columns=sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def copy_rows(captured: Captured) -> None:
    """The floor: one COPY per table of the captured tuples, in the order they were written."""
    with connection.connection.cursor() as cursor:
        for table, (columns, rows) in captured.tables.items():
            with cursor.copy(_copy_in(table, columns)) as copy:
                for row in rows:
                    copy.write_row(row)


def copy_data(captured: Captured) -> None:
    """The server's share: one COPY per table of the captured COPY text."""
    with connection.connection.cursor() as cursor:
        for table, (columns, data) in captured.data.items():
            with cursor.copy(_copy_in(table, columns)) as copy:
                for start in range(0, len(data), 1 << 20):
                    copy.write(data[start : start + (1 << 20)])


def timed_rolled_back(work: Callable[[], object]) -> float:
    """Seconds `work` takes inside a transaction that is then rolled back (the database is left as found)."""
    elapsed = 0.0
    try:
        with transaction.atomic():
            started = time.perf_counter()
            work()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    return elapsed


def interleaved(paths: dict[str, Callable[[], float]], runs: int, log: Callable[[str], None]) -> dict[str, dict]:
    """Run every path `runs` times, rotating the order each round; per path the seconds of every
    run and their median."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for run in range(runs):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            elapsed = paths[name]()
            seconds[name].append(elapsed)
            log(f"    run {run + 1}/{runs}  {name:<28} {elapsed:8.2f} s")
    return {
        name: {"runs_s": [round(s, 3) for s in values], "median_s": round(statistics.median(values), 3)}
        for name, values in seconds.items()
    }


def merged_sizes(out: Path, key: str, sizes: list[dict]) -> list[dict]:
    """The sizes just measured, with those of the previous results file that were not measured again
    (a scaling run adds its line to the default run's), ordered by `key`."""
    kept = {size[key]: size for size in json.loads(out.read_text()).get("sizes", [])} if out.exists() else {}
    kept |= {size[key]: size for size in sizes}
    return [kept[n] for n in sorted(kept)]
