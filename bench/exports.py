"""Export benchmark: wide CSV, SPSS .sav, Stata .dta and Excel against PostgreSQL's own COPY, in one run.

Data: participants × 5 timepoints × one questionnaire of 20 scored single-choice items. Scales:
10k answers (100 participants) and 100k (1,000) by default; `--full` adds 1M (10,000 participants,
50,000 responses; setup about 30 s, not in any ratio; a second run reuses the rows). BENCH_PARTICIPANTS
sets the largest scale (default 10000), the others are a tenth and a hundredth of it.

Measured, each in a fresh subprocess (so one run's memory cannot hide in another's):

* the floor: PostgreSQL `COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)` of the same rows (one per
  response: the metadata, the 20 items as stored codes, score and band), read with psycopg's
  `cursor.copy()` into a file;
* `export_write(spec=...)` for wide_csv, sav, dta and wide_xlsx into a file (Excel not at 1M: openpyxl
  writes about 10,000 rows a second, minutes for one run);
* `--full` also: the whole background job at 1M (surveys.exports.jobs.export_job_run).

The machine is shared, so the floor is measured in the same run, interleaved with the formats: each
round runs every kind once (in a rotating order), BENCH_REPEAT rounds (default 3), and each kind's
time is the median of its rounds. The ratio is floor seconds / format seconds (1.0: as fast as COPY;
the goal is 0.5 for CSV). Memory of each run: `rss_growth_mb`, the growth of the subprocess's
resident set during the export (the kernel's high-water mark reset just before, /proc/self/clear_refs;
C libraries included), the largest over the rounds. The database is warmed by one untimed COPY first.

    createdb -h 127.0.0.1 -U postgres ressenti_bench_exports
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench_exports .venv/bin/python bench/exports.py [--full]

Writes bench/results/exports.json (BENCH_OUT: another path), with the ratios measured before the
SQL wide CSV beside the new ones.
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
KINDS = ("wide_csv", "sav", "dta", "wide_xlsx")  # the formats measured against COPY
XLSX_MAX_ANSWERS = 100_000  # Excel beyond this takes minutes per run
# COPY seconds / format seconds before the wide table was built in SQL (the same bench, 2026-11-28).
OLD_RATIOS = {"wide_csv": 0.10, "sav": 0.084, "dta": 0.080, "wide_xlsx": "0.04-0.07 (100k)"}
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
            result["seconds"] = round(seconds, 3)
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


def run_rounds(kinds: list[str], study_id: int) -> dict[str, dict]:
    """REPEAT rounds, each running every kind once in a rotating order; the median time per kind."""
    import statistics

    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    for round_number in range(REPEAT):
        shift = round_number % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            runs[kind].append(run_measure(kind, study_id))
    out = {}
    for kind, measured in runs.items():
        seconds = [run["seconds"] for run in measured]
        out[kind] = {
            **measured[-1],
            "seconds": round(statistics.median(seconds), 3),
            "seconds_all": seconds,
            "rss_growth_mb": max(run["rss_growth_mb"] for run in measured),
        }
    return out


def main() -> None:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    assert connection.vendor == "postgresql", "the benchmark compares with PostgreSQL's COPY: set DATABASE_URL"
    full = "--full" in sys.argv[1:]
    sizes = {"10k": PARTICIPANTS // 100, "100k": PARTICIPANTS // 10}
    if full:
        sizes["1M"] = PARTICIPANTS
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
        answers = sizes[label] * len(TIMEPOINTS) * len(ITEMS)
        run_measure("copy", study_id)  # warm the buffer cache, untimed
        kinds = ["copy", *(k for k in KINDS if k != "wide_xlsx" or answers <= XLSX_MAX_ANSWERS)]
        runs = run_rounds(kinds, study_id)
        for kind in kinds:
            print(
                f"  {label} {kind:<9} {runs[kind]['seconds']:7.3f} s (median of {runs[kind]['seconds_all']})  "
                f"{runs[kind]['bytes']:>11} bytes  rss +{runs[kind]['rss_growth_mb']} MB",
                flush=True,
            )
        if label == "1M":
            runs["job_wide_csv"] = run_rounds(["job"], study_id)["job"]
            print(f"  {label} job       {runs['job_wide_csv']['seconds']:7.2f} s", flush=True)
        for kind in kinds[1:]:
            runs[f"ratio_copy_over_{kind}"] = round(runs["copy"]["seconds"] / runs[kind]["seconds"], 3)
        results[label] = {
            "participants": sizes[label],
            "responses": sizes[label] * len(TIMEPOINTS),
            "answers": answers,
            **runs,
        }

    ratios = {label: {k: v for k, v in r.items() if k.startswith("ratio")} for label, r in results.items()}
    payload = {
        "what": "participants x 5 timepoints x 20 single-choice items: 10k, 100k and (--full) 1M answers",
        "database": f"postgresql {connection.connection.info.server_version}",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # The machine is shared: its 1-minute load average before and after the measurements.
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "repeat": REPEAT,
        "method": "interleaved rounds (every kind once per round, rotating order), median seconds per kind; "
        "ratio = COPY seconds / format seconds, COPY measured in the same rounds. rss_growth_mb: growth "
        "of the subprocess's resident set during the export (high-water mark reset just before), "
        "largest over the rounds.",
        "ratios_before_sql_wide_csv_1M": OLD_RATIOS,
        "ratios": ratios,
        "setup_seconds_not_in_ratios": setup,
        "results": results,
    }
    out = Path(os.environ.get("BENCH_OUT") or ROOT / "bench" / "results" / "exports.json").resolve()
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(ratios))
    print(f"written {out}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), "--trace" in sys.argv[4:])))
    else:
        main()
