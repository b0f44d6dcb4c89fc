"""Planning benchmark: assignments and messages for many enrolments, against bulk inserts of the same rows.

Schedule (per enrolment): a baseline t0 (reminders at +2, +5 days), a weekly questionnaire for
12 weeks (reminder at +3 days), a 3-month one (reminders at +3, +7 days) and a triggered pain
follow-up (not planned at enrolment): 14 assignments (+14 history rows) and 30 messages.

Paths, in this order, on the same enrolments (ENROLMENTS participants, patients and enrolments
are bulk-created first; that setup is timed and reported but is not part of any ratio):

1. baseline: bulk_create of exactly the rows the services write (assignments with their
   history rows through simple-history's bulk_create_with_history, messages with plain
   bulk_create), in batches of 2,000 enrolments. Row values are computed before the clock
   starts (same pure functions as the services): only the inserts are timed.
2. bulk planner: surveys.scheduling.planning.assignments_plan_many + patients.messaging.planning.messages_plan_many
   (the rules of messages_plan, one query set per batch instead of per enrolment; what the
   import uses), 2,000 enrolments per transaction; timed in full.
3. services: per enrolment, in its own transaction, as enrollment_create does:
   surveys.scheduling.planning.assignments_plan + patients.messaging.planning.messages_plan. If this exceeds
   BENCH_SERVICE_BUDGET seconds (default 600), or after BENCH_SERVICE_SAMPLE enrolments, it
   stops there and the rate measured so far is extrapolated to all enrolments (said so in the
   JSON: services.extrapolated).

Paths 1 and 2 run in a transaction rolled back at the end; path 3 commits (like enrolment).
Each path's row counts are checked equal. Run on its own database, which it fills:

    createdb -h 127.0.0.1 -U postgres ressenti_bench_planning
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench_planning .venv/bin/python bench/planning.py

BENCH_ENROLMENTS (default 100000), BENCH_SERVICE_BUDGET (600). Writes bench/results/planning.json.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
ENROLMENTS = int(os.environ.get("BENCH_ENROLMENTS", "100000"))
BUDGET = float(os.environ.get("BENCH_SERVICE_BUDGET", "600"))
# The service path stops after this many enrolments too (0 = all), and is extrapolated.
SAMPLE = int(os.environ.get("BENCH_SERVICE_SAMPLE", "0")) or ENROLMENTS
BATCH = 2000
# Enrolled on a Monday noon, planned "now": the same instant for every enrolment.
ENROLLED = datetime(2030, 6, 3, 10, 0, tzinfo=UTC)


class Rollback(Exception):
    pass


def log(label: str, seconds: float, rows: int, unit: str = "rows") -> None:
    print(f"  {label:<44} {seconds:8.2f} s  {rows / seconds:9.0f} {unit}/s  ({rows} {unit})", flush=True)


def main() -> None:  # noqa: C901 - one linear script
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from simple_history.utils import bulk_create_with_history

    call_command("migrate", verbosity=0)
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

    run = str(int(time.time()))
    print(f"{ENROLMENTS} enrolments, {connection.vendor}, batch {BATCH}", flush=True)

    # --- setup: a study and its enrolments, in bulk ---------------------------------------
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
    for start in range(0, ENROLMENTS, BATCH):
        size = min(BATCH, ENROLMENTS - start)
        with transaction.atomic():
            participants = Participant.objects.bulk_create(
                [
                    Participant(study=study, pseudonym=f"B{run}-{start + i:06d}", language="fr", consented_at=ENROLLED)
                    for i in range(size)
                ]
            )
            patients = Patient.objects.bulk_create(
                [
                    Patient(
                        name=f"Patient {start + i}",
                        phone=f"+3361{(start + i) % 10_000_000:07d}",
                        email=f"p{start + i}@example.org",
                        time_zone="Europe/Paris",
                    )
                    for i in range(size)
                ]
            )
            Enrollment.objects.bulk_create(
                [
                    Enrollment(
                        patient=patient,
                        participant=participant,
                        consent_method="written",
                        consent_recorded_at=ENROLLED,
                        enrolled_at=ENROLLED,
                    )
                    for patient, participant in zip(patients, participants, strict=True)
                ]
            )
    setup_s = time.perf_counter() - started
    log("setup: participants+patients+enrolments", setup_s, ENROLMENTS, "enrolments")

    def enrollments_in(lo: int, hi: int):
        return list(
            Enrollment.objects.filter(participant__study=study)
            .select_related("patient", "participant__study")
            .order_by("pk")[lo:hi]
        )

    timepoints = enrolment_timepoints(study.pk)
    results: dict = {}

    # --- 1. baseline: bulk_create of the same rows ----------------------------------------
    timed = 0.0
    counts = defaultdict(int)
    try:
        with transaction.atomic():
            for lo in range(0, ENROLMENTS, BATCH):
                batch = enrollments_in(lo, lo + BATCH)
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
                counts["assignments"] += len(assignments)
                counts["messages"] += len(messages)
            counts["history"] = Assignment.history.filter(participant__study=study).count()
            raise Rollback
    except Rollback:
        pass
    rows = counts["assignments"] + counts["history"] + counts["messages"]
    log("1. baseline: bulk_create of the same rows", timed, rows)
    results["baseline_bulk_create"] = {
        "seconds": round(timed, 2),
        **counts,
        "rows": rows,
        "rows_per_second": round(rows / timed),
    }
    per_enrolment = rows / ENROLMENTS

    # --- 2. bulk planner ------------------------------------------------------------------
    fast_counts = defaultdict(int)
    started = time.perf_counter()
    try:
        with transaction.atomic():
            for lo in range(0, ENROLMENTS, BATCH):
                with transaction.atomic():
                    batch = enrollments_in(lo, lo + BATCH)
                    planned = assignments_plan_many(anchors=[(e.participant, ENROLLED) for e in batch])
                    fast_counts["messages"] += messages_plan_many(
                        enrollments=batch, assignments_by_participant=planned, now=ENROLLED
                    )
                    fast_counts["assignments"] += sum(len(v) for v in planned.values())
            fast_s = time.perf_counter() - started
            fast_counts["history"] = Assignment.history.filter(participant__study=study).count()
            raise Rollback
    except Rollback:
        pass
    fast_rows = sum(fast_counts.values())
    assert dict(fast_counts) == dict(counts), (fast_counts, counts)
    log("2. bulk planner (assignments_plan_many + bulk messages)", fast_s, fast_rows)
    results["bulk_planner"] = {
        "seconds": round(fast_s, 2),
        **fast_counts,
        "rows": fast_rows,
        "rows_per_second": round(fast_rows / fast_s),
        "enrolments_per_second": round(ENROLMENTS / fast_s),
    }

    # --- 3. the services, one enrolment per transaction -----------------------------------
    done = 0
    started = time.perf_counter()
    elapsed = 0.0
    while done < min(ENROLMENTS, SAMPLE) and elapsed < BUDGET:
        for enrollment in enrollments_in(done, done + 500):
            with transaction.atomic():
                assignments = assignments_plan(participant=enrollment.participant, anchor=ENROLLED)
                messages_plan(enrollment=enrollment, assignments=assignments, now=ENROLLED)
            done += 1
        elapsed = time.perf_counter() - started
        print(f"    services: {done} enrolments in {elapsed:.0f} s", flush=True)
    service_counts = {
        "assignments": Assignment.objects.filter(participant__study=study).count(),
        "history": Assignment.history.filter(participant__study=study).count(),
        "messages": Message.objects.filter(enrollment__participant__study=study).count(),
    }
    service_rows = sum(service_counts.values())
    assert service_rows == round(per_enrolment * done), (service_counts, per_enrolment, done)
    rate = service_rows / elapsed
    extrapolated = done < ENROLMENTS
    service_total_s = elapsed * ENROLMENTS / done
    log(f"3. services, {done} enrolments" + (" (sample)" if extrapolated else ""), elapsed, service_rows)
    results["services"] = {
        "enrolments_measured": done,
        "seconds_measured": round(elapsed, 2),
        **service_counts,
        "rows": service_rows,
        "rows_per_second": round(rate),
        "enrolments_per_second": round(done / elapsed),
        "extrapolated": extrapolated,
        "seconds_for_all": round(service_total_s, 1),
    }
    baseline_rate = results["baseline_bulk_create"]["rows_per_second"]
    fast_rate = results["bulk_planner"]["rows_per_second"]
    payload = {
        "enrolments": ENROLMENTS,
        "rows_per_enrolment": {
            "assignments": counts["assignments"] // ENROLMENTS,
            "assignment_history": counts["history"] // ENROLMENTS,
            "messages": counts["messages"] // ENROLMENTS,
        },
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "setup_seconds_not_in_ratios": round(setup_s, 1),
        **results,
        # Slowdown against plain inserts of the same rows (higher = slower); rates in rows/s.
        "ratio_services_over_bulk_create": round(baseline_rate / rate, 1),
        "ratio_bulk_planner_over_bulk_create": round(baseline_rate / fast_rate, 1),
        "speedup_bulk_planner_over_services": round(fast_rate / rate, 1),
    }
    print(json.dumps({k: v for k, v in payload.items() if k.startswith(("ratio", "speedup"))}), flush=True)
    out = ROOT / "bench" / "results" / "planning.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
