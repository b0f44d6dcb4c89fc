"""A real Celery worker, in its own process, runs our task from Redis against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from surveys.models import Assignment
from surveys.tasks import assignments_refresh_status
from tests.conftest import need_service

pytestmark = pytest.mark.services

WAIT_SECONDS = 30


def _database_url() -> str:
    # The worker must write where this test reads: the test database pytest-django
    # created (test_<NAME>, with a suffix under xdist), not the configured one.
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.fixture
def worker_queue(redis_url, transactional_db):
    # transactional_db: rows are committed, so the worker's own connection sees them.
    need_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "a worker process cannot share an SQLite in-memory test database; set DATABASE_URL=postgres://...",
    )
    # A queue of our own: leftovers of other runs (or other people's runs on
    # the same Redis) can neither feed this worker nor steal our message.
    queue = f"test-worker-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    log_path = Path(settings.BASE_DIR) / "var" / f"{queue}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = log_path.open("w+")
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool=solo", "--concurrency=1", "--without-mingle", "--without-gossip", "--without-heartbeat",
        "-Q", queue, "--loglevel=INFO", "--hostname", f"{queue}@%h",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )

    def log_tail() -> str:
        log.flush()
        return log_path.read_text(errors="replace")[-4000:]

    try:
        yield queue, proc, log_tail
    finally:
        # SIGTERM is Celery's warm shutdown: it finishes the task at hand and
        # leaves; a worker stuck past the timeout is killed so nothing lingers.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()
        log_path.unlink(missing_ok=True)
        # Kombu keeps the queue's bindings in Redis; the name is ours alone, drop them.
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=f"*{queue}*"))
        if stale:
            client.delete(*stale)
        client.close()


def test_real_worker_opens_due_assignment(make, worker_queue):
    queue, proc, log_tail = worker_queue
    study = make.study()
    timepoint = make.timepoint(version=make.published_version(study=study))
    due = timezone.now() - timedelta(minutes=1)
    assignment = make.assignment(participant=make.participant(study=study), timepoint=timepoint, due_at=due)
    assert assignment.status == Assignment.Status.PLANNED

    assignments_refresh_status.apply_async(queue=queue)

    deadline = time.monotonic() + WAIT_SECONDS
    status = assignment.status
    while time.monotonic() < deadline:
        status = Assignment.objects.values_list("status", flat=True).get(pk=assignment.pk)
        if status == Assignment.Status.OPEN:
            break
        assert proc.poll() is None, f"the worker exited with {proc.returncode}:\n{log_tail()}"
        time.sleep(0.25)
    assert status == Assignment.Status.OPEN, f"not opened within {WAIT_SECONDS} s; worker log:\n{log_tail()}"
    assert "surveys.tasks.assignments_refresh_status" in log_tail()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, f"the worker did not stop cleanly:\n{log_tail()}"
