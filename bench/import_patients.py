"""Bulk import benchmark: rows per second of a patient file on PostgreSQL, against floors
measured in the same run, interleaved, median of several runs (machines here are shared and
noisy: ratios travel, seconds do not):

* floor, COPY: a raw COPY (psycopg `write_row`) of exactly the rows the import writes —
  patients, participants, enrolments, their history rows, assignments, their history rows,
  messages — read back from a first import and written again as they are (ciphertexts
  included); and the same COPY from its text (`floor_copy_data`: the server's share alone);
* old floor, bulk_create: the same Patient rows written with plain bulk_create (encrypted, no
  validation, no history, no participant or schedule), the floor the earlier runs compared to;
* dry run: import_check alone (every rule of enrolment_problems, writes nothing);
* import: import_run (check again, then every row above, in one transaction).

Every measurement runs in a transaction that is rolled back: the database is left as found.
The file: name, phone, email, date of birth, language, site, written consent; a schedule of
two timepoints (2 assignments, 2 history rows and 2 invitations per patient).

    createdb -h 127.0.0.1 -U postgres ressenti_bench_planning
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench_planning .venv/bin/python bench/import_patients.py

Default: 10,000 rows, 3 runs (about a minute). `--sizes 10000,100000` adds a scaling line
(100,000 rows: a few minutes more; 1,000,000 works too, given the memory), `--runs N`.
Writes bench/results/import_patients.json (a size not measured again keeps its line; the
figures before COPY are kept as `before`) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
OUT = ROOT / "bench" / "results" / "import_patients.json"

# The figures of the import before it wrote by COPY (bench/results/import_patients.json then):
# 10,000 rows, import 463 rows/s, 10.2 × the Patient bulk_create floor.
BEFORE = {
    "rows": 10000,
    "import_rows_per_second": 463,
    "import_over_bulk_create": 10.2,
    "dry_run_rows_per_second": 5256,
}


def log(text: str) -> None:
    print(text, flush=True)


def one_size(rows_count: int, runs: int) -> dict:
    from django.utils import timezone

    from bench import floors
    from patients.enrolment.importing import import_check, import_read, import_run
    from patients.models import ConsentRecord, Enrollment, Message, Patient
    from surveys.models import Assignment, Participant
    from tests import factories

    run = str(time.time_ns())
    study = factories.study(code=f"bench-import-{run}", consent_required=False)
    version = factories.published_version(study=study)
    factories.timepoint(version=version, code="t0", offset=0, window=7)
    factories.timepoint(version=version, code="m3", offset=90, window=14)
    factories.site(study=study, code="cab1")

    header = "name;phone;email;birth_date;language;site;consent_method"
    lines = [f"Patient {i};+3361{i:07d};p{i}@example.org;03/02/1951;fr;cab1;written" for i in range(rows_count)]
    content = ("\ufeff" + "\n".join([header, *lines]) + "\n").encode()
    log(f"{rows_count} rows, {len(content) / 1e6:.1f} MB CSV")
    started = time.perf_counter()
    rows = import_read(filename="bench.csv", content=content)
    read_s = time.perf_counter() - started

    written = [Patient, Participant, Enrollment, ConsentRecord, Assignment, Message]
    tables = []
    for model in written:
        tables.append(model._meta.db_table)
        if hasattr(model, "history"):
            tables.append(model.history.model._meta.db_table)

    def full_import() -> None:
        result = import_run(study=study, rows=rows, by=None, now=timezone.now())
        assert result.enrolled == rows_count, result

    # A first import, rolled back, gives the rows the floor writes again.
    captured = floors.Captured()

    def import_and_capture() -> None:
        nonlocal captured
        marks = floors.high_marks(tables)
        full_import()
        captured = floors.capture(marks)

    warm_s = floors.timed_rolled_back(import_and_capture)
    log(f"  first import (captures the floor's rows)  {warm_s:7.2f} s  {captured.rows} rows: {captured.counts()}")

    def plain_bulk_create() -> None:
        Patient.objects.bulk_create(
            [
                Patient(name=f"Patient {i}", phone=f"+3361{i:07d}", email=f"p{i}@example.org", birth_date="1951-02-03")
                for i in range(rows_count)
            ],
            batch_size=500,
        )

    def dry_run() -> None:
        problems = import_check(study=study, rows=rows)
        assert not problems, problems[:3]

    measured = floors.interleaved(
        {
            "floor_copy": lambda: floors.timed_rolled_back(lambda: floors.copy_rows(captured)),
            "floor_copy_data": lambda: floors.timed_rolled_back(lambda: floors.copy_data(captured)),
            "old_floor_bulk_create": lambda: floors.timed_rolled_back(plain_bulk_create),
            "dry_run": lambda: floors.timed_rolled_back(dry_run),
            "import": lambda: floors.timed_rolled_back(full_import),
        },
        runs,
        log,
    )
    median = {name: values["median_s"] for name, values in measured.items()}
    result = {
        "rows": rows_count,
        "rows_written": captured.rows,
        "rows_written_by_table": captured.counts(),
        "read_csv_s": round(read_s, 3),
        "runs": runs,
        "seconds": measured,
        "rows_per_second": {name: round(rows_count / seconds) for name, seconds in median.items()},
        "import_over_floor_copy": round(median["import"] / median["floor_copy"], 2),
        "import_over_floor_copy_data": round(median["import"] / median["floor_copy_data"], 2),
        # The writing alone: the import less its own check (the dry run's work), against the floor.
        "writing_over_floor_copy": round((median["import"] - median["dry_run"]) / median["floor_copy"], 2),
        "import_over_bulk_create": round(median["import"] / median["old_floor_bulk_create"], 2),
        "dry_run_share_of_import": round(median["dry_run"] / median["import"], 2),
    }
    log(
        f"  medians: import {result['rows_per_second']['import']} rows/s, {result['import_over_floor_copy']}× COPY, "
        f"{result['import_over_bulk_create']}× bulk_create; dry run {result['rows_per_second']['dry_run']} rows/s"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000", help="file sizes, comma-separated (scaling line)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import floors

    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        raise SystemExit("Run on PostgreSQL (DATABASE_URL): the floor is a PostgreSQL COPY.")
    sizes = [one_size(int(size), args.runs) for size in args.sizes.split(",")]
    payload = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "before": BEFORE,
        "sizes": floors.merged_sizes(OUT, "rows", sizes),
    }
    OUT.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
