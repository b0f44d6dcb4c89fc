"""Fault run of the message dispatch: no SMS twice, none lost, under provider hangs and a killed worker.

N due SMS (BENCH_MESSAGES, default 1000) go through messages_dispatch and two Celery worker
processes to the standalone fake Twilio, which takes 3 % of the sends and then answers too late,
loses 3 % and answers late, and refuses 2 % with 429 and Retry-After. One worker is killed with
SIGKILL once a third are sent, and a new one started. The beat tick (messages_dispatch) runs every
second, as the minute beat would with the timeouts scaled down. The run ends when every message
is final, and counts:

- duplicates: SMS the provider holds twice for the same number and text (must be 0);
- lost: messages not sent, by status (must be 0; "failed" would say outcome unknown);
- the provider's lookups (each uncertain send is looked up before any new attempt).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ressenti_bench REDIS_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/message_faults.py

Writes bench/results/message_faults.json; exits 1 on any duplicate or lost message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
N = int(os.environ.get("BENCH_MESSAGES", "1000"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "900"))
# The recovery timeouts scaled down (the shipped ones are minutes): the order between them is kept.
SCALED = {
    "TWILIO_TIMEOUT": "1",
    "MESSAGES_SEND_TIMEOUT": "5",
    "MESSAGES_RECONCILE_DELAY": "2",
    "MESSAGES_QUEUED_TIMEOUT": "60",
    "CELERY_VISIBILITY_TIMEOUT": "10",
    "MESSAGES_RETRY_BASE_SECONDS": "0.5",
    "MESSAGES_RETRY_MAX_SECONDS": "4",
}


def main() -> None:
    import django

    for name, value in SCALED.items():
        os.environ.setdefault(name, value)
    django.setup()
    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from bench.dispatch import (
        due_sms,
        fake_stats,
        fake_twilio_start,
        needs_postgres_and_redis,
        start_workers,
        stop,
        wait_up,
        worker_env,
    )
    from patients.messaging.dispatch import messages_dispatch
    from patients.models import Message
    from tests import factories

    needs_postgres_and_redis()
    run = uuid.uuid4().hex[:8]
    queue = f"bench-faults-{run}"
    settings.MESSAGES_SEND_QUEUE = queue
    fake, fake_url = fake_twilio_start(
        *("--hang-accepted", "0.03", "--hang-lost", "0.03", "--rate-limited", "0.02"),
        *("--hang-seconds", "1.5", "--retry-after", "3"),
    )
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = worker_env(fake_url=fake_url, queue=queue)
    study = factories.study(code=f"bench-faults-{run}", consent_required=False)
    timepoint = factories.timepoint(version=factories.published_version(study=study), channels=["sms"])
    due_sms(study=study, timepoint=timepoint, count=N, tag=f"F{run}", phone_prefix="+33618")
    batch = Message.objects.filter(enrollment__participant__study=study)
    final = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.FAILED, Message.Status.CANCELLED)
    procs: list[subprocess.Popen] = []
    killed = False
    try:
        wait_up(fake_url)
        procs = start_workers(2, queue=queue, env=env, logs=logs)
        started = time.perf_counter()
        while time.perf_counter() - started < TIMEOUT:
            messages_dispatch(now=timezone.now(), limit=N)  # the beat tick
            settled = batch.filter(status__in=final).count()
            if not killed and settled >= N // 3:
                procs[0].send_signal(signal.SIGKILL)  # mid-run, maybe mid-call
                procs[0].wait()
                procs[0] = start_workers(1, queue=queue, env=env, logs=logs)[0]
                killed = True
            if settled == N:
                break
            time.sleep(1.0)
        elapsed = time.perf_counter() - started
    finally:
        stop(procs)
        provider = fake_stats(fake_url)
        fake.send_signal(signal.SIGINT)
        fake.wait(timeout=10)

    by_status = dict(batch.values_list("status").annotate(n=Count("pk")))
    summary = {
        "messages": N,
        "workers": 2,
        "worker_killed": killed,
        "seconds": round(elapsed, 1),
        "faults": {"hang_accepted": 0.03, "hang_lost": 0.03, "rate_limited": 0.02},
        "timeouts": SCALED,
        "by_status": by_status,
        "lost": N - by_status.get("sent", 0) - by_status.get("delivered", 0),
        "duplicates_by_content": provider["duplicates_by_content"],
        "duplicates_by_key": provider["duplicates"],
        "provider_accepted": provider["accepted"],
        "provider_requests": provider["requests"],
        "provider_lookups": provider["lookups"],
        "attempts": dict(Counter(batch.values_list("attempts", flat=True))),
    }
    out = ROOT / "bench" / "results" / "message_faults.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    if summary["lost"] or summary["duplicates_by_content"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
