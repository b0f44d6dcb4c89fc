"""Bulk import benchmark: rows per second for a 10,000-row file on the configured database,
next to baselines measured in the same run (machines here are noisy; ratios travel):

* bulk_create: the same Patient rows written with plain bulk_create (encrypted, no
  validation, no history, no participant or schedule): the floor of any import;
* dry run: import_check alone (every rule of enrolment_problems, writes nothing);
* import: import_run (check again, then patients, participants, enrolments, consent
  records, assignments and their history rows, in one transaction).

Every measurement runs in a transaction that is rolled back: the database is left as found.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench .venv/bin/python bench/import_patients.py

BENCH_ROWS (default 10000). Writes bench/results/import_patients.json and prints a table.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))


class Rollback(Exception):
    pass


def measure(label: str, work) -> float:
    from django.db import transaction

    started = time.perf_counter()
    try:
        with transaction.atomic():
            work()
            elapsed = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    print(f"  {label:<34} {elapsed:7.2f} s  {ROWS / elapsed:9.0f} rows/s", flush=True)
    return elapsed


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from patients.enrolment.importing import import_check, import_read, import_run
    from patients.models import Patient
    from tests import factories

    run = str(int(time.time()))
    study = factories.study(code=f"bench-import-{run}", consent_required=False)
    version = factories.published_version(study=study)
    factories.timepoint(version=version, code="t0", offset=0, window=7)
    factories.timepoint(version=version, code="m3", offset=90, window=14)
    factories.site(study=study, code="cab1")

    header = "name;phone;email;birth_date;language;site;consent_method"
    lines = [f"Patient {i};+3361{i:07d};p{i}@example.org;03/02/1951;fr;cab1;written" for i in range(ROWS)]
    content = ("\ufeff" + "\n".join([header, *lines]) + "\n").encode()
    print(f"{ROWS} rows, {len(content) / 1e6:.1f} MB CSV, {connection.vendor}", flush=True)

    started = time.perf_counter()
    rows = import_read(filename="bench.csv", content=content)
    read_s = time.perf_counter() - started
    print(f"  {'read CSV':<34} {read_s:7.2f} s  {ROWS / read_s:9.0f} rows/s", flush=True)

    def plain_bulk_create():
        Patient.objects.bulk_create(
            [
                Patient(name=f"Patient {i}", phone=f"+3361{i:07d}", email=f"p{i}@example.org", birth_date="1951-02-03")
                for i in range(ROWS)
            ],
            batch_size=500,
        )

    def dry_run():
        problems = import_check(study=study, rows=rows)
        assert not problems, problems[:3]

    def full_import():
        result = import_run(study=study, rows=rows, by=None, now=timezone.now())
        assert result.enrolled == ROWS, result

    results = {
        "baseline_bulk_create_s": measure("baseline: Patient bulk_create", plain_bulk_create),
        "dry_run_s": measure("dry run (import_check)", dry_run),
        "import_s": measure("import (import_run)", full_import),
    }
    payload = {
        "rows": ROWS,
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        **{key: round(value, 3) if isinstance(value, float) else value for key, value in results.items()},
        "rows_per_second": {
            "baseline_bulk_create": round(ROWS / results["baseline_bulk_create_s"]),
            "dry_run": round(ROWS / results["dry_run_s"]),
            "import": round(ROWS / results["import_s"]),
        },
        "import_over_baseline": round(results["import_s"] / results["baseline_bulk_create_s"], 1),
    }
    out = ROOT / "bench" / "results" / "import_patients.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
