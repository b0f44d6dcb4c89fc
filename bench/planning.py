"""Planning benchmark: assignments and messages for many enrolments, against floors measured in
the same run, interleaved, median of several runs (the machine is shared: ratios travel).

Schedule (per enrolment): a baseline t0 (reminders at +2, +5 days), a weekly questionnaire for
12 weeks (reminder at +3 days), a 3-month one (reminders at +3, +7 days) and a triggered pain
follow-up (not planned at enrolment): 14 assignments, 14 history rows and 30 messages.
Patients, participants and enrolments are written first and loaded with their patient and
study (setup, timed apart, in no ratio).

Paths, each in a transaction rolled back (the database is left as found):

* floor, COPY: a raw COPY (psycopg `write_row`) of exactly the rows the bulk planner writes,
  read back from a first planning; `floor_copy_data` writes the same COPY text (the server's
  share alone, for scale) — bench/floors.py;
* old floor, bulk_create: those rows through simple-history's bulk_create_with_history and
  Message bulk_create, values computed before the clock: the floor earlier runs compared to;
* bulk planner: assignments_plan_many + messages_plan_many (what the import runs), 2,000
  enrolments per call;
* services: assignments_plan + messages_plan per enrolment (in a savepoint each), as
  enrollment_create plans, on a sample of enrolments, its rate extrapolated.

    createdb -h 127.0.0.1 -U postgres ressenti_bench_planning
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench_planning .venv/bin/python bench/planning.py

Default: a scaling line of 1,000 and 10,000 enrolments (580,000 rows), 3 runs, a few minutes.
`--sizes 10000,100000` for 100,000 enrolments (5.8 million rows; the old bulk_create floor and
the tuple floor are skipped above 20,000 enrolments: too slow, and gigabytes of tuples),
`--runs N`, `--service-sample N` (default 300). Writes bench/results/planning.json (a size not
measured again keeps its line; the figures before COPY are kept as `before`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
OUT = ROOT / "bench" / "results" / "planning.json"
BATCH = 2000
# Above this many enrolments the old bulk_create floor (minutes) and the tuple floor (memory) are left out.
FULL_FLOORS_UP_TO = 20_000
# Enrolled on a Monday noon, planned "now": the same instant for every enrolment.
ENROLLED = datetime(2030, 6, 3, 10, 0, tzinfo=UTC)
# The last figures before planning wrote by COPY (bench/results/planning.json then, 100,000
# enrolments, bulk_create as the floor; rows/s).
BEFORE = {
    "enrolments": 100000,
    "rows_per_second": {"bulk_create_floor": 7689, "bulk_planner": 6429, "services": 1568},
    "bulk_planner_over_bulk_create": 1.2,
    "services_over_bulk_create": 4.9,
}


def log(text: str) -> None:
    print(text, flush=True)


def one_size(enrolments: int, runs: int, sample: int) -> dict:  # noqa: C901 - one linear script
    from django.db import transaction
    from simple_history.utils import bulk_create_with_history

    from bench import floors
    from config.bulk_rows import rows_insert
    from patients.messaging.planning import channel_choose, message_times, messages_plan, messages_plan_many
    from patients.models import Enrollment, Message, Patient
    from surveys.models import Assignment, Participant
    from surveys.questionnaires.publish import questionnaire_publish
    from surveys.scheduling.planning import (
        assignments_plan,
        assignments_plan_many,
        enrolment_timepoints,
        timepoint_windows,
    )
    from tests import factories

    run = str(time.time_ns())
    log(f"{enrolments} enrolments, batch {BATCH}")
    started = time.perf_counter()
    study = factories.study(code=f"bench-plan-{run}", consent_required=False)
    version = factories.published_version(study=study)
    factories.timepoint(version=version, code="t0", offset=0, window=7, reminders=[2, 5])
    factories.timepoint(
        version=version, code="weekly", offset=7, window=7, repeat_every=7, repeat_count=12, reminders=[3]
    )
    factories.timepoint(version=version, code="m3", offset=90, window=14, reminders=[3, 7])
    factories.timepoint(
        version=questionnaire_publish(questionnaire=factories.valid_questionnaire(study=study), by=None),
        code="pain",
        offset=7,
        trigger_item="answer:pain",
        trigger_operator=">=",
        trigger_value="7",
    )
    with transaction.atomic():
        now = datetime.now(UTC)
        participants = rows_insert(
            Participant,
            [
                {"study_id": study.pk, "pseudonym": f"B{run}-{i:07d}", "language": "fr", "consented_at": ENROLLED}
                for i in range(enrolments)
            ],
            now=now,
        )
        patients = rows_insert(
            Patient,
            [
                {
                    "name": f"Patient {i}",
                    "phone": f"+3361{i % 10_000_000:07d}",
                    "email": f"p{i}@example.org",
                    "time_zone": "Europe/Paris",
                }
                for i in range(enrolments)
            ],
            now=now,
        )
        rows_insert(
            Enrollment,
            [
                {
                    "patient_id": patient,
                    "participant_id": participant,
                    "consent_method": "written",
                    "consent_recorded_at": ENROLLED,
                    "enrolled_at": ENROLLED,
                }
                for patient, participant in zip(patients, participants, strict=True)
            ],
            now=now,
        )
    loaded = list(
        Enrollment.objects.filter(participant__study=study)
        .select_related("patient", "participant__study")
        .order_by("pk")
    )
    batches = [loaded[lo : lo + BATCH] for lo in range(0, enrolments, BATCH)]
    setup_s = time.perf_counter() - started
    log(f"  setup: {enrolments} participants, patients, enrolments, loaded: {setup_s:.1f} s (in no ratio)")

    tables = [
        Assignment._meta.db_table,
        Assignment.history.model._meta.db_table,
        Message._meta.db_table,
    ]

    def bulk_planner() -> None:
        for batch in batches:
            planned, created = assignments_plan_many(anchors=[(e.participant, ENROLLED) for e in batch])
            messages_plan_many(
                enrollments=batch,
                assignments_by_participant=planned,
                now=ENROLLED,
                created={a.pk for a in created},
            )

    full_floors = enrolments <= FULL_FLOORS_UP_TO
    captured = floors.Captured()

    def plan_and_capture() -> None:
        nonlocal captured
        marks = floors.high_marks(tables)
        bulk_planner()
        captured = floors.capture(marks, tuples=full_floors)

    first_s = floors.timed_rolled_back(plan_and_capture)
    log(f"  first planning (captures the floor's rows) {first_s:7.2f} s  {captured.rows} rows: {captured.counts()}")
    rows = captured.rows

    timepoints = enrolment_timepoints(study.pk)

    def old_floor() -> float:
        """bulk_create of the same rows, only the inserts timed (values computed before the clock)."""
        timed = 0.0
        try:
            with transaction.atomic():
                for batch in batches:
                    assignments = [
                        Assignment(participant=e.participant, timepoint=tp, occurrence=k, due_at=due, expires_at=closes)
                        for e in batch
                        for tp in timepoints
                        for k, due, closes in timepoint_windows(tp, ENROLLED)
                    ]
                    t = time.perf_counter()
                    assignments = bulk_create_with_history(assignments, Assignment, batch_size=5000)
                    timed += time.perf_counter() - t
                    enrollment_of = {e.participant_id: e for e in batch}
                    messages = []
                    for a in assignments:
                        e = enrollment_of[a.participant_id]
                        channel = channel_choose(patient=e.patient, allowed=a.timepoint.channels)
                        for sequence, at in message_times(
                            assignment=a, timepoint=a.timepoint, patient=e.patient, study=study, now=ENROLLED
                        ):
                            messages.append(
                                Message(
                                    enrollment=e,
                                    assignment=a,
                                    channel=channel,
                                    sequence=sequence,
                                    scheduled_at=at,
                                    kind="reminder" if sequence else "invitation",
                                )
                            )
                    t = time.perf_counter()
                    Message.objects.bulk_create(messages, batch_size=5000)
                    timed += time.perf_counter() - t
                raise floors.Rollback
        except floors.Rollback:
            pass
        return timed

    sampled = loaded[: min(sample, enrolments)]

    def services() -> None:
        for enrollment in sampled:
            with transaction.atomic():
                assignments = assignments_plan(participant=enrollment.participant, anchor=ENROLLED)
                messages_plan(enrollment=enrollment, assignments=assignments, now=ENROLLED)
        written = (
            Assignment.objects.filter(participant__study=study).count()
            + Assignment.history.filter(participant__study=study).count()
            + Message.objects.filter(enrollment__participant__study=study).count()
        )
        assert written * enrolments == rows * len(sampled), (written, rows, len(sampled))

    paths = {
        "floor_copy_data": lambda: floors.timed_rolled_back(lambda: floors.copy_data(captured)),
        "bulk_planner": lambda: floors.timed_rolled_back(bulk_planner),
        "services_sample": lambda: floors.timed_rolled_back(services),
    }
    if full_floors:
        paths["floor_copy"] = lambda: floors.timed_rolled_back(lambda: floors.copy_rows(captured))
        paths["old_floor_bulk_create"] = old_floor
    measured = floors.interleaved(paths, runs, log)
    median = {name: values["median_s"] for name, values in measured.items()}
    services_s = median["services_sample"] * enrolments / len(sampled)
    rate = {name: round(rows / seconds) for name, seconds in median.items() if name != "services_sample"}
    rate["services"] = round(rows / services_s)
    result = {
        "enrolments": enrolments,
        "rows": rows,
        "rows_by_table": captured.counts(),
        "setup_seconds_not_in_ratios": round(setup_s, 1),
        "runs": runs,
        "services_enrolments_sampled": len(sampled),
        "seconds": measured,
        "rows_per_second": rate,
        "enrolments_per_second_bulk_planner": round(enrolments / median["bulk_planner"]),
        # Slowdown against each floor (higher = slower).
        "bulk_planner_over_floor_copy_data": round(median["bulk_planner"] / median["floor_copy_data"], 2),
        "services_over_floor_copy_data": round(services_s / median["floor_copy_data"], 2),
    }
    if full_floors:
        result |= {
            "bulk_planner_over_floor_copy": round(median["bulk_planner"] / median["floor_copy"], 2),
            "services_over_floor_copy": round(services_s / median["floor_copy"], 2),
            "bulk_planner_over_bulk_create": round(median["bulk_planner"] / median["old_floor_bulk_create"], 2),
            "services_over_bulk_create": round(services_s / median["old_floor_bulk_create"], 2),
        }
    log("  " + json.dumps({k: v for k, v in result.items() if "_over_" in k}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="enrolments, comma-separated (scaling line)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--service-sample", type=int, default=300)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench import floors

    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        raise SystemExit("Run on PostgreSQL (DATABASE_URL): the floor is a PostgreSQL COPY.")
    sizes = [one_size(int(size), args.runs, args.service_sample) for size in args.sizes.split(",")]
    payload = {
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "rows_per_enrolment": {"assignments": 14, "assignment_history": 14, "messages": 30},
        "before": BEFORE,
        "sizes": floors.merged_sizes(OUT, "enrolments", sizes),
    }
    OUT.write_text(json.dumps(payload, indent=2) + "\n")
    log(f"written {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
