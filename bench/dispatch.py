"""Dispatch throughput: messages per second from the claim to "sent", through the fake Twilio.

For 1 and then 2 Celery worker processes (`--pool=solo` each, so "2 workers" is two processes),
N due SMS are claimed and enqueued by messages_dispatch (as the beat task does), and the clock
stops when the last one is "sent" in the database. The fake Twilio runs standalone on 127.0.0.1
(`python -m tests.fakes.twilio_server`), speaks Twilio's HTTP API to the real SDK, and counts
duplicates by our idempotency key: it must count zero.

Needs PostgreSQL and Redis (the workers are separate processes):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/dispatch.py

BENCH_MESSAGES (default 2000) per run. The rows it creates are deleted at the end. Writes
bench/results/dispatch.json and prints a table.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
N = int(os.environ.get("BENCH_MESSAGES", "2000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
SID, TOKEN = "AC" + "0" * 32, "fake-twilio-auth-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fake_stats(url: str, *, reset: bool = False) -> dict:
    request = urllib.request.Request(
        url + ("/_fake/reset" if reset else "/_fake/stats"),
        data=b"" if reset else None,
        method="POST" if reset else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (our own fake on 127.0.0.1)
        return json.loads(answer.read())


def needs_postgres_and_redis() -> None:
    """Workers are separate processes: the database and the broker must be real servers. Migrates."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("Needs DATABASE_URL=postgres://... and REDIS_URL=redis://... (workers are processes).")
    call_command("migrate", verbosity=0)


def fake_twilio_start(*options: str) -> tuple[subprocess.Popen, str]:
    """The standalone fake Twilio on a free port (options: its fault switches), and its URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.twilio_server", "--port", str(port), *options],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


def worker_env(*, fake_url: str, queue: str, **settings: str) -> dict:
    """The environment of a worker process sending SMS through the fake Twilio from `queue`."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "SMS_BACKEND": "patients.messaging.sms.twilio.TwilioBackend",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": "+33700000000",
        "TWILIO_API_BASE": fake_url,
        "MESSAGES_SEND_QUEUE": queue,
        **settings,
    }


def wait_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            fake_stats(url)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the fake Twilio at {url} did not start")


def start_workers(count: int, *, queue: str, env: dict, logs: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(count):
        log = (logs / f"{queue}-w{i}.log").open("w")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "-Q",
                    queue,
                    "--loglevel=WARNING",
                    "--hostname",
                    f"{queue}-w{i}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        )
    # Ready when each answers a ping (a worker that is up consumes at once).
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = (
            app.control.ping(destination=[f"{queue}-w{i}@{socket.gethostname()}" for i in range(count)], timeout=0.5)
            or []
        )
        if len(replies) == count:
            return procs
        if any(p.poll() is not None for p in procs):
            break
    stop(procs)
    raise SystemExit(f"{count} worker(s) did not start; see {logs}")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def due_sms(*, study, timepoint, count: int, tag: str, phone_prefix: str) -> None:
    """`count` enrolled patients, each with an open assignment of `timepoint` and a due SMS invitation."""
    from django.utils import timezone

    from patients.models import Enrollment, Message, Patient
    from surveys.models import Assignment, Participant

    now = timezone.now()
    participants = Participant.objects.bulk_create(
        Participant(study=study, pseudonym=f"{tag}-{i:06d}", consented_at=now) for i in range(count)
    )
    patients = Patient.objects.bulk_create(
        Patient(name=f"Bench {i}", phone=f"{phone_prefix}{i:06d}", language="fr") for i in range(count)
    )
    enrollments = Enrollment.objects.bulk_create(
        Enrollment(patient=pa, participant=pp, consent_method="written", consent_recorded_at=now, enrolled_at=now)
        for pa, pp in zip(patients, participants, strict=True)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            participant=pp,
            timepoint=timepoint,
            due_at=now - timedelta(hours=1),
            expires_at=now + timedelta(days=7),
            status=Assignment.Status.OPEN,
        )
        for pp in participants
    )
    Message.objects.bulk_create(
        Message(
            enrollment=e,
            assignment=a,
            channel="sms",
            kind="invitation",
            sequence=0,
            scheduled_at=now - timedelta(minutes=1),
        )
        for e, a in zip(enrollments, assignments, strict=True)
    )


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count, ProtectedError
    from django.utils import timezone

    needs_postgres_and_redis()

    from patients.messaging.dispatch import messages_dispatch
    from patients.models import Enrollment, Message, Patient
    from surveys.models import Assignment, Participant, Study
    from tests import factories

    run = uuid.uuid4().hex[:8]
    queue = f"bench-dispatch-{run}"
    settings.MESSAGES_SEND_QUEUE = queue
    fake, fake_url = fake_twilio_start()
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = worker_env(fake_url=fake_url, queue=queue, DJANGO_SETTINGS_MODULE="bench.settings", TWILIO_TIMEOUT="10")
    study = factories.study(code=f"bench-dispatch-{run}", consent_required=False)
    version = factories.published_version(study=study)
    results: dict[str, dict] = {}
    try:
        wait_up(fake_url)
        for workers in (1, 2):
            timepoint = factories.timepoint(version=version, code=f"w{workers}", channels=["sms"])
            due_sms(study=study, timepoint=timepoint, count=N, tag=f"B{run}-{workers}", phone_prefix=f"+3361{workers}")
            batch = Message.objects.filter(assignment__timepoint=timepoint)

            procs = start_workers(workers, queue=queue, env=env, logs=logs)
            try:
                fake_stats(fake_url, reset=True)
                started = time.perf_counter()
                report = messages_dispatch(now=timezone.now(), limit=N)
                enqueued_s = time.perf_counter() - started
                sent = 0
                while time.perf_counter() - started < TIMEOUT:
                    sent = batch.filter(status=Message.Status.SENT).count()
                    if sent == N:
                        break
                    time.sleep(0.2)
                elapsed = time.perf_counter() - started
            finally:
                stop(procs)
            stats = fake_stats(fake_url)
            other = dict(batch.exclude(status=Message.Status.SENT).values_list("status").annotate(n=Count("pk")))
            results[str(workers)] = {
                "messages": N,
                "claimed": len(report.claimed),
                "sent": sent,
                "not_sent_by_status": other,
                "claim_and_enqueue_s": round(enqueued_s, 3),
                "claim_to_all_sent_s": round(elapsed, 3),
                "messages_per_second": round(sent / elapsed, 1),
                "provider": stats,
            }
            print(
                f"  {workers} worker(s): {sent}/{N} sent in {elapsed:6.2f} s = {sent / elapsed:7.1f} msg/s "
                f"(claim + enqueue {enqueued_s:.2f} s); provider accepted {stats['accepted']}, "
                f"duplicates {stats['duplicates']}",
                flush=True,
            )
    finally:
        fake.send_signal(signal.SIGINT)
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
        # Leave the database as found.
        Message.objects.filter(enrollment__participant__study=study).delete()
        enrollment_patients = list(
            Enrollment.objects.filter(participant__study=study).values_list("patient_id", flat=True)
        )
        Enrollment.objects.filter(participant__study=study).delete()
        Patient.objects.filter(pk__in=enrollment_patients).delete()
        Assignment.objects.filter(participant__study=study).delete()
        Participant.objects.filter(study=study).delete()
        try:
            Study.objects.filter(pk=study.pk).delete()
        except ProtectedError:
            pass  # its published questionnaire is kept (versions are immutable): a few small rows

    one, two = results["1"]["messages_per_second"], results["2"]["messages_per_second"]
    summary = {
        "messages": N,
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pool": "solo, one process per worker",
        "messages_per_second": {"1 worker": one, "2 workers": two},
        "ratio_2_over_1": round(two / one, 2) if one else None,
        "duplicates": sum(r["provider"]["duplicates"] for r in results.values()),
        "runs": results,
    }
    out = ROOT / "bench" / "results" / "dispatch.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"ratio 2/1 workers: {summary['ratio_2_over_1']}; duplicates counted by the provider: "
        f"{summary['duplicates']}; written to {out.relative_to(ROOT)}"
    )
    if summary["duplicates"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
