"""Export benchmark: 1,000,000 answers to wide CSV, SPSS .sav and Stata .dta, against PostgreSQL's own COPY.

Data: 10,000 participants × 5 timepoints × one questionnaire of 20 scored single-choice items =
50,000 responses holding 1,000,000 answers (study `bench-exp-1m`), and a tenth of it (1,000
participants, 100,000 answers; study `bench-exp-100k`) to see whether memory grows with the export.
Setup is bulk_create in batches (benchmark setup, not measured in any ratio); a second run reuses
the rows when the counts match.

Measured, each in a fresh subprocess (so one run's memory cannot hide in another's):

* `export_write(spec=...)` for wide_csv, sav and dta into a file, at 100k and 1M answers;
* PostgreSQL `COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)` of the same rows (one per response:
  pseudonym, site, questionnaire, version, timepoint, occurrence, due and submitted times, delay,
  channel, status, the 20 items as stored codes, score and band), read with psycopg's `cursor.copy()`
  into a file: the floor for getting these rows out of the database as CSV;
* the whole background job at 1M (surveys.exports.jobs.export_job_run: claim, heartbeat thread,
  export_write, fsync, SHA-256 read-back, rename, audit row).

Memory, of the measuring subprocess:
* `ru_maxrss_mb`: resource.getrusage(RUSAGE_SELF).ru_maxrss, the subprocess's lifetime peak resident
  set (interpreter, Django, pandas, pyreadstat and openpyxl imported before the export included);
* `rss_before_mb`, `rss_peak_mb`, `rss_growth_mb`: the export's own peak, whole process (C libraries
  such as ReadStat and psycopg's buffers included): the kernel's high-water mark is reset just before
  the export (writing 5 to /proc/self/clear_refs), VmRSS is read then, VmHWM after; growth = peak -
  before;
* `traced_peak_mb`: tracemalloc's peak of Python allocations (numpy buffers included) during the
  export, in a separate subprocess (tracemalloc slows Python down, so its times are not reported).

Times are wall-clock seconds in the subprocess around the export call only, the best of BENCH_REPEAT
runs (default 3; all are kept in `seconds_all`): the machine may be shared, and the best run is the
one least disturbed. The database is warmed by one untimed COPY first. Run on its own database:

    createdb -h 127.0.0.1 -U postgres ressenti_bench_exports
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench_exports .venv/bin/python bench/exports.py

BENCH_PARTICIPANTS (default 10000; the small study has a tenth). Writes bench/results/exports.json
(BENCH_OUT: another path, e.g. for a smoke run).
"""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
PARTICIPANTS = int(os.environ.get("BENCH_PARTICIPANTS", "10000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
TIMEPOINTS = ("t0", "m1", "m3", "m6", "m12")
ITEMS = tuple(f"i{n:02d}" for n in range(1, 21))
OPTIONS = [(f"a{k}", f"Réponse {k}", f"Answer {k}", k) for k in range(5)]
BATCH = 5000
STAT_KINDS = ("wide_csv", "sav", "dta")  # the formats measured against COPY
ENROLLED = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
OFFSETS = {"t0": 0, "m1": 30, "m3": 90, "m6": 180, "m12": 365}
RULES = {
    "scores": [
        {
            "name": "total",
            "label": {"fr": "Score total", "en": "Total score"},
            "items": list(ITEMS),
            "method": "sum",
            "bands": [
                {"code": "low", "min": 0, "max": 39, "label": {"fr": "Bas", "en": "Low"}},
                {"code": "high", "min": 40, "max": 80, "label": {"fr": "Haut", "en": "High"}},
            ],
        }
    ]
}


def _setup_django() -> None:
    import django

    django.setup()


def _study_code(participants: int) -> str:
    return f"bench-exp-{participants}p"


def build_study(participants: int) -> tuple[int, float, bool]:
    """The study with `participants` × 5 timepoints × 20 answers; (id, setup seconds, built now)."""
    from django.db import transaction

    from surveys.models import Assignment, Participant, Response, Site, Study
    from surveys.questionnaires.publish import questionnaire_publish
    from tests import factories

    code = _study_code(participants)
    expected = participants * len(TIMEPOINTS)
    study = Study.objects.filter(code=code).first()
    if study is not None:
        have = Response.objects.filter(assignment__participant__study=study).count()
        if have == expected:
            return study.pk, 0.0, False
        raise SystemExit(f"study {code} exists with {have} responses, not {expected}: use a fresh database")
    started = time.perf_counter()
    study = factories.study(code=code, consent_required=False)
    questionnaire = factories.questionnaire(study=study, code="bq20")
    for link_id in ITEMS:
        factories.item(questionnaire=questionnaire, link_id=link_id, options=OPTIONS, required=True)
    questionnaire.rules = RULES
    questionnaire.save()
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    timepoints = [
        factories.timepoint(version=version, code=tp, offset=OFFSETS[tp], window=14, order=n)
        for n, tp in enumerate(TIMEPOINTS)
    ]
    sites = [Site.objects.create(study=study, code=f"site{n}", name=f"Cabinet {n}") for n in range(4)]
    rng = random.Random(participants)
    for start in range(0, participants, BATCH // len(TIMEPOINTS)):
        size = min(BATCH // len(TIMEPOINTS), participants - start)
        with transaction.atomic():
            people = Participant.objects.bulk_create(
                [
                    Participant(
                        study=study,
                        pseudonym=f"BX-{start + i:06d}",
                        site=sites[(start + i) % len(sites)],
                        language="fr",
                        consented_at=ENROLLED,
                    )
                    for i in range(size)
                ]
            )
            assignments = []
            for person in people:
                for timepoint in timepoints:
                    due = ENROLLED + timedelta(days=OFFSETS[timepoint.code])
                    assignments.append(
                        Assignment(
                            participant=person,
                            timepoint=timepoint,
                            due_at=due,
                            expires_at=due + timedelta(days=14),
                            status=Assignment.Status.COMPLETED,
                            invitation_channel=rng.choice(("sms", "email")),
                        )
                    )
            assignments = Assignment.objects.bulk_create(assignments)
            responses = []
            for assignment in assignments:
                answers = {link_id: f"a{rng.randrange(5)}" for link_id in ITEMS}
                total = sum(int(code[1:]) for code in answers.values())
                submitted = assignment.due_at + timedelta(hours=rng.randrange(1, 300))
                responses.append(
                    Response(
                        assignment=assignment,
                        version=version,
                        status=Response.Status.COMPLETED,
                        answers=answers,
                        scores={"total": {"value": total, "band": "high" if total >= 40 else "low"}},
                        submitted_at=submitted,
                        next_page=1,
                    )
                )
            Response.objects.bulk_create(responses)
    return study.pk, time.perf_counter() - started, True


COPY_SQL = """COPY (
  SELECT p.pseudonym, s.code AS site, q.code AS questionnaire, v.number AS version, t.code AS timepoint,
         a.occurrence, a.due_at, r.submitted_at,
         round((extract(epoch FROM r.submitted_at - a.due_at) / 3600)::numeric, 2) AS completion_delay_hours,
         a.invitation_channel AS channel, r.status,
         {items},
         r.scores -> 'total' ->> 'value' AS score_total, r.scores -> 'total' ->> 'band' AS band_total
  FROM surveys_response r
  JOIN surveys_assignment a ON a.id = r.assignment_id
  JOIN surveys_participant p ON p.id = a.participant_id
  LEFT JOIN surveys_site s ON s.id = p.site_id
  JOIN surveys_timepoint t ON t.id = a.timepoint_id
  JOIN surveys_questionnaireversion v ON v.id = r.version_id
  JOIN surveys_questionnaire q ON q.id = v.questionnaire_id
  WHERE p.study_id = {study_id}
  ORDER BY p.pseudonym, a.due_at, t."order", a.occurrence, r.id
) TO STDOUT WITH (FORMAT csv, HEADER)"""


def copy_sql(study_id: int) -> str:
    items = ", ".join(f"r.answers ->> '{link_id}' AS {link_id}" for link_id in ITEMS)
    return COPY_SQL.format(items=items, study_id=int(study_id))


def _ru_maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss() -> None:
    # Linux ≥ 4.0: "5" resets the process's peak resident set size (VmHWM) to the current one.
    Path("/proc/self/clear_refs").write_text("5")


def measure(kind: str, study_id: int, trace: bool) -> dict:
    """In a subprocess: run one export of `kind` and report time and memory as JSON."""
    _setup_django()
    import tracemalloc

    import openpyxl  # noqa: F401 - imported before the baseline, like the others
    import pandas  # noqa: F401
    import pyreadstat  # noqa: F401
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from surveys.exports import jobs
    from surveys.exports.spec import ExportSpec
    from surveys.exports.writers import export_write
    from surveys.models import ExportJob

    connection.ensure_connection()
    result: dict = {"kind": kind}
    with tempfile.TemporaryDirectory(prefix="bench-exports-") as tmp:
        path = Path(tmp) / "out"
        if kind == "job":
            user, _created = get_user_model().objects.get_or_create(username="bench-exports")
            spec = ExportSpec(study_id=study_id, format="wide_csv")
            settings.EXPORTS_ROOT = tmp  # the job's file goes to this run's folder
            job = jobs._job_create(spec=spec, by=user, mode=ExportJob.Mode.ASYNC, status=ExportJob.Status.PENDING)
        _reset_peak_rss()
        rss_before = _status_kb("VmRSS")
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        if kind == "copy":
            raw = connection.connection
            with raw.cursor() as cursor, cursor.copy(copy_sql(study_id)) as copy, path.open("wb") as out:
                for block in copy:
                    out.write(block)
            size = path.stat().st_size
            rows = None
        elif kind == "job":
            outcome = jobs.export_job_run(job_id=job.pk)
            job.refresh_from_db()
            assert outcome == "done", (outcome, job.error)
            size, rows = job.size_bytes, job.rows
            result["sha256"] = job.sha256
        else:
            with path.open("wb") as out:
                stats = export_write(spec=ExportSpec(study_id=study_id, format=kind), out=out)
            size, rows = path.stat().st_size, stats.rows
        seconds = time.perf_counter() - started
        if trace:
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            result["traced_peak_mb"] = round(peak / 2**20, 1)
        else:
            result["seconds"] = round(seconds, 2)
        rss_peak = _status_kb("VmHWM")
        if kind == "copy":
            rows = sum(1 for _line in path.open("rb")) - 1
    result.update(
        bytes=size,
        rows=rows,
        rss_before_mb=round(rss_before / 1024, 1),
        rss_peak_mb=round(rss_peak / 1024, 1),
        rss_growth_mb=round((rss_peak - rss_before) / 1024, 1),
        ru_maxrss_mb=round(_ru_maxrss_kb() / 1024, 1),
    )
    return result


def run_measure(kind: str, study_id: int, *, trace: bool = False) -> dict:
    command = [sys.executable, __file__, "--measure", kind, str(study_id)] + (["--trace"] if trace else [])
    done = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_best(kind: str, study_id: int) -> dict:
    """The best of REPEAT timed runs (each in its own subprocess); memory of that run, every time kept."""
    runs = [run_measure(kind, study_id) for _ in range(REPEAT)]
    best = min(runs, key=lambda run: run["seconds"])
    return {
        **best,
        "seconds_all": [run["seconds"] for run in runs],
        "rss_growth_mb_max": max(run["rss_growth_mb"] for run in runs),
    }


def main() -> None:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    assert connection.vendor == "postgresql", "the benchmark compares with PostgreSQL's COPY: set DATABASE_URL"
    sizes = {"100k": PARTICIPANTS // 10, "1M": PARTICIPANTS}
    studies: dict[str, int] = {}
    setup: dict[str, float] = {}
    for label, participants in sizes.items():
        study_id, seconds, built = build_study(participants)
        studies[label] = study_id
        answers = participants * len(TIMEPOINTS) * len(ITEMS)
        print(
            f"{label}: study {study_id}, {answers} answers" + (f", built in {seconds:.0f} s" if built else ""),
            flush=True,
        )
        if built:
            setup[label] = round(seconds, 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    results: dict = {}
    load_before = os.getloadavg()
    for label, study_id in studies.items():
        run_measure("copy", study_id)  # warm the buffer cache, untimed
        runs = {}
        for kind in ("copy", *STAT_KINDS):
            runs[kind] = run_best(kind, study_id)
            print(
                f"  {label} {kind:<9} {runs[kind]['seconds']:7.2f} s  {runs[kind]['bytes']:>11} bytes  "
                f"rss +{runs[kind]['rss_growth_mb']} MB",
                flush=True,
            )
        for kind in STAT_KINDS:
            traced = run_measure(kind, study_id, trace=True)
            runs[kind]["traced_peak_mb"] = traced["traced_peak_mb"]
            print(f"  {label} {kind:<9} traced peak {traced['traced_peak_mb']} MB", flush=True)
        if label == "1M":
            runs["job_wide_csv"] = run_best("job", study_id)
            print(f"  {label} job       {runs['job_wide_csv']['seconds']:7.2f} s", flush=True)
        for kind in STAT_KINDS:
            runs[f"ratio_{kind}_over_copy"] = round(runs[kind]["seconds"] / runs["copy"]["seconds"], 1)
        results[label] = {
            "participants": sizes[label],
            "responses": sizes[label] * len(TIMEPOINTS),
            "answers": sizes[label] * len(TIMEPOINTS) * len(ITEMS),
            **runs,
        }

    small, large = results["100k"], results["1M"]
    growth = {
        kind: {
            "rss_growth_mb_100k": small[kind]["rss_growth_mb"],
            "rss_growth_mb_1M": large[kind]["rss_growth_mb"],
            "traced_peak_mb_100k": small[kind]["traced_peak_mb"],
            "traced_peak_mb_1M": large[kind]["traced_peak_mb"],
        }
        for kind in STAT_KINDS
    }
    payload = {
        "what": "10,000 participants x 5 timepoints x 20 items = 1,000,000 answers (50,000 responses); "
        "and a tenth of it",
        "database": f"postgresql {connection.connection.info.server_version}",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # The machine is shared: its 1-minute load average before and after the measurements.
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "repeat": REPEAT,
        "memory": "ru_maxrss_mb: ru_maxrss of the measuring subprocess (lifetime peak, imports included). "
        "rss_before_mb / rss_peak_mb: VmRSS just before the export and VmHWM after it, the high-water "
        "mark reset just before (/proc/self/clear_refs): the export's own peak, whole process, C "
        "libraries included; rss_growth_mb = peak - before. traced_peak_mb: tracemalloc peak of Python "
        "allocations during the export (separate run, not timed). seconds: best of `repeat` runs.",
        "setup_seconds_not_in_ratios": setup,
        "results": results,
        "memory_100k_vs_1M": growth,
    }
    out = Path(os.environ.get("BENCH_OUT") or ROOT / "bench" / "results" / "exports.json").resolve()
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps({k: {r: v for r, v in results[k].items() if r.startswith("ratio")} for k in results}))
    print(json.dumps(growth))
    print(f"written {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), "--trace" in sys.argv[4:])))
    else:
        main()
