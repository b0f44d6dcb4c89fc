"""Dispatch throughput: messages per second from the claim to "sent", through the fake Twilio,
against the fake's own rate measured in the same run.

- floor: the fake Twilio's own rate, N message creations POSTed by a plain concurrent HTTP client
  (http.client, FLOOR_THREADS keep-alive connections): no database, no Celery, no SDK. Our rate
  cannot exceed it; the ratio says how much of it we reach.
- 1 and 2 Celery worker processes (`--pool=solo`; each batch task sends from its own thread pool,
  MESSAGES_SEND_CONCURRENCY): N due SMS are claimed and enqueued by messages_dispatch (as the beat
  task does), and the clock stops when the last one is "sent" in the database. The sender's rate is
  set far above what the machine can send, so the code, not the limiter, sets the pace.
  Interleaved with the floor, BENCH_RUNS times; medians reported.
- shaping: the same with the sender capped at SHAPE_MPS (100/s, a short code) over 2 workers: the
  shared token bucket must make SHAPE_MESSAGES take about (SHAPE_MESSAGES - burst) / SHAPE_MPS seconds,
  however fast the workers could go.
- `--scale`: one more line, BENCH_SCALE_MESSAGES (10 000) with 2 workers.

The fake Twilio runs standalone on 127.0.0.1 (`python -m tests.fakes.twilio_server`), speaks
Twilio's HTTP API to the real SDK, and counts duplicates by our idempotency key and by content:
both must be zero. Needs PostgreSQL and Redis (the workers are separate processes):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/dispatch.py [--scale]

BENCH_MESSAGES (default 2000) per run. The rows it creates are deleted at the end. Writes
bench/results/dispatch.json and prints a table.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
N = int(os.environ.get("BENCH_MESSAGES", "2000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
FLOOR_THREADS = int(os.environ.get("BENCH_FLOOR_THREADS", "32"))
SHAPE_MPS = float(os.environ.get("BENCH_SHAPE_MPS", "100"))
SHAPE_MESSAGES = int(os.environ.get("BENCH_SHAPE_MESSAGES", "600"))
SCALE_MESSAGES = int(os.environ.get("BENCH_SCALE_MESSAGES", "10000"))
# Far above what one machine sends: the throughput runs measure the code, not the limiter.
UNPACED_MPS = "100000"
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
        # The fake has no carrier behind it: unpaced unless a run caps the sender itself.
        "TWILIO_SENDER_MPS": UNPACED_MPS,
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


def floor_rate(url: str, *, count: int, threads: int = FLOOR_THREADS) -> dict:
    """The fake's own rate: `count` message creations from a plain concurrent HTTP client."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    local = threading.local()

    def create(i: int) -> None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection(host, port, timeout=10)
        form = {"To": f"+3369{i:07d}", "From": "+33700000000", "Body": f"Floor {i}: https://example.org/s/{i:022d}"}
        conn.request(
            "POST",
            f"/2010-04-01/Accounts/{SID}/Messages.json",
            body=urllib.parse.urlencode(form),
            headers={
                "Authorization": auth,
                "Content-Type": "application/x-www-form-urlencoded",
                "I-Twilio-Idempotency-Token": f"floor-{i}",
            },
        )
        answer = conn.getresponse()
        answer.read()
        if answer.status != 201:
            raise RuntimeError(f"the fake answered {answer.status}")

    fake_stats(url, reset=True)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - started
    fake_stats(url, reset=True)
    return {
        "requests": count,
        "threads": threads,
        "seconds": round(elapsed, 3),
        "per_second": round(count / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="store_true", help=f"add a {SCALE_MESSAGES}-message line (2 workers)")
    args = parser.parse_args()

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
    lines = 0

    def dispatch_run(workers: int, count: int, **more: str) -> dict:
        """`count` due SMS through `workers` worker processes: claim to the last "sent"."""
        nonlocal lines
        lines += 1
        timepoint = factories.timepoint(version=version, code=f"r{lines}", channels=["sms"])
        due_sms(study=study, timepoint=timepoint, count=count, tag=f"B{run}-{lines}", phone_prefix=f"+336{lines:03d}")
        batch = Message.objects.filter(assignment__timepoint=timepoint)
        procs = start_workers(workers, queue=queue, env={**env, **more}, logs=logs)
        try:
            fake_stats(fake_url, reset=True)
            started = time.perf_counter()
            report = messages_dispatch(now=timezone.now(), limit=count)
            enqueued_s = time.perf_counter() - started
            sent = 0
            while time.perf_counter() - started < TIMEOUT:
                sent = batch.filter(status=Message.Status.SENT).count()
                if sent == count:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        finally:
            stop(procs)
        stats = fake_stats(fake_url)
        other = dict(batch.exclude(status=Message.Status.SENT).values_list("status").annotate(n=Count("pk")))
        return {
            "workers": workers,
            "messages": count,
            "claimed": len(report.claimed),
            "sent": sent,
            "not_sent_by_status": other,
            "claim_and_enqueue_s": round(enqueued_s, 3),
            "claim_to_all_sent_s": round(elapsed, 3),
            "messages_per_second": round(sent / elapsed, 1),
            "provider": stats,
        }

    def show(label: str, result: dict, floor: float | None = None) -> None:
        ratio = f" = {result['messages_per_second'] / floor:.2f} of the floor" if floor else ""
        print(
            f"  {label:<22} {result['sent']:>6}/{result['messages']} sent in {result['claim_to_all_sent_s']:7.2f} s "
            f"= {result['messages_per_second']:7.1f} msg/s{ratio}; duplicates {result['provider']['duplicates']}"
            f"/{result['provider']['duplicates_by_content']} (key/content)",
            flush=True,
        )

    floors: list[dict] = []
    runs: dict[str, list[dict]] = {"1": [], "2": []}
    extra: dict[str, dict] = {}
    try:
        wait_up(fake_url)
        unpaced = {"TWILIO_SENDER_MPS": UNPACED_MPS}
        for attempt in range(RUNS):
            print(f"run {attempt + 1}/{RUNS}", flush=True)
            for workers in (1, 2):
                floors.append(floor_rate(fake_url, count=N))
                print(
                    f"  floor (fake alone)     {N} in {floors[-1]['seconds']:7.2f} s = {floors[-1]['per_second']:7.1f}/s"
                )
                runs[str(workers)].append(dispatch_run(workers, N, **unpaced))
                show(f"{workers} worker(s)", runs[str(workers)][-1], floors[-1]["per_second"])
        # The limiter shapes the send: a short code's 100/s, shared by both workers through Redis.
        extra["shaped"] = dispatch_run(2, SHAPE_MESSAGES, TWILIO_SENDER_MPS=f"{SHAPE_MPS:g}")
        burst = max(1, int(SHAPE_MPS))
        extra["shaped"]["sender_mps"] = SHAPE_MPS
        extra["shaped"]["expected_s"] = round((SHAPE_MESSAGES - burst) / SHAPE_MPS, 2)
        show(f"2 workers, {SHAPE_MPS:g}/s cap", extra["shaped"])
        print(
            f"    expected ≈ {extra['shaped']['expected_s']} s ({SHAPE_MESSAGES} messages, a burst of {burst}, then {SHAPE_MPS:g}/s)"
        )
        if args.scale:
            floors.append(floor_rate(fake_url, count=N))
            extra["scale"] = dispatch_run(2, SCALE_MESSAGES, **unpaced)
            show(f"2 workers, {SCALE_MESSAGES}", extra["scale"], floors[-1]["per_second"])
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

    floor = statistics.median(f["per_second"] for f in floors)
    one = statistics.median(r["messages_per_second"] for r in runs["1"])
    two = statistics.median(r["messages_per_second"] for r in runs["2"])
    every = [*runs["1"], *runs["2"], *extra.values()]
    summary = {
        "messages": N,
        "runs": RUNS,
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pool": "solo, one process per worker; each batch task sends from a thread pool",
        "send_batch": int(env.get("MESSAGES_SEND_BATCH") or settings.MESSAGES_SEND_BATCH),
        "send_concurrency": int(env.get("MESSAGES_SEND_CONCURRENCY") or settings.MESSAGES_SEND_CONCURRENCY),
        "floor_per_second": floor,
        "messages_per_second": {"1 worker": one, "2 workers": two},
        "ratio_to_floor": {"1 worker": round(one / floor, 2), "2 workers": round(two / floor, 2)},
        "ratio_2_over_1": round(two / one, 2) if one else None,
        "duplicates": sum(r["provider"]["duplicates"] for r in every),
        "duplicates_by_content": sum(r["provider"]["duplicates_by_content"] for r in every),
        "not_sent": sum(r["messages"] - r["sent"] for r in every),
        "shaped": extra.get("shaped"),
        "scale": extra.get("scale"),
        "floors": floors,
        "each_run": runs,
    }
    out = ROOT / "bench" / "results" / "dispatch.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"medians: floor {floor:.0f}/s; 1 worker {one:.0f} msg/s ({one / floor:.2f} of the floor), 2 workers "
        f"{two:.0f} msg/s ({two / floor:.2f}); 2/1 = {summary['ratio_2_over_1']}; duplicates "
        f"{summary['duplicates']}/{summary['duplicates_by_content']}; not sent {summary['not_sent']}; "
        f"written to {out.relative_to(ROOT)}"
    )
    if summary["duplicates"] or summary["duplicates_by_content"] or summary["not_sent"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
