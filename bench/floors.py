"""Floors for the bulk-write benchmarks, measured in the same run as the path they judge.

The floor of a path is a raw COPY of exactly the rows that path wrote: the path runs once in
a transaction that is rolled back, its new rows are read back as the database holds them
(ciphertexts, ids and all), and the floor writes those tuples again with one COPY per table
through psycopg (and is rolled back too). Paths and floors then run interleaved, several
times, and the median of each is kept: on a shared machine only ratios of medians travel.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from psycopg import sql


class Rollback(Exception):
    pass


@dataclass
class Captured:
    """The rows one run wrote, by table, as tuples in the table's column order."""

    tables: dict[str, tuple[list[str], list[tuple]]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(rows) for _columns, rows in self.tables.values())

    def counts(self) -> dict[str, int]:
        return {table: len(rows) for table, (_columns, rows) in self.tables.items()}


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


def capture(marks: dict[str, int]) -> Captured:
    """Every row above the marks, read with psycopg's own types (no Django conversion)."""
    captured = Captured()
    raw = connection.connection
    for table, mark in marks.items():
        with raw.cursor() as cursor:
            cursor.execute(
                sql.SQL("SELECT * FROM {table} WHERE {pk} > %s ORDER BY {pk}").format(
                    table=sql.Identifier(table), pk=sql.Identifier(_pk(table))
                ),
                [mark],
            )
            columns = [d.name for d in cursor.description]
            captured.tables[table] = (columns, cursor.fetchall())
    return captured


def copy_rows(captured: Captured) -> None:
    """The floor: one COPY per table of the captured tuples, in the order they were written."""
    raw = connection.connection
    with raw.cursor() as cursor:
        for table, (columns, rows) in captured.tables.items():
            statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
                table=sql.Identifier(table), columns=sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)


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
