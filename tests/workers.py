"""Real Celery worker processes for integration tests, on Redis, against the test database.

Each test gets a queue of its own, so leftovers of other runs (or other people's runs on the same
Redis) can neither feed its workers nor steal its tasks. Workers run `--pool=solo` against the
PostgreSQL test database pytest-django created: a worker process cannot share an in-memory SQLite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.conftest import need_service

WAIT = 60.0  # seconds any one wait may take


def database_url() -> str:
    """The test database (test_<NAME>, with a suffix under xdist), where the worker must write."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}{port}/{quote(db['NAME'], safe='')}"


class Worker:
    def __init__(self, *, queue: str, env: dict[str, str], name: str):
        self.queue = queue
        self.log_path = Path(settings.BASE_DIR) / "var" / f"{queue}-{name}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        self.log = self.log_path.open("w+")
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
            "--without-mingle", "--without-gossip", "--without-heartbeat", "-Q", queue, "--loglevel=INFO",
            "--hostname", f"{queue}-{name}@%h",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM is Celery's warm shutdown (it finishes the task at hand); one stuck past 20 s is killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        self.log_path.unlink(missing_ok=True)
        return self.proc.returncode


def wait_for(predicate: Callable[[], object], what: str, *workers: Worker, timeout: float = WAIT):
    """The predicate's first truthy value; fails with the workers' logs on timeout or if one exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for worker in workers:
            assert worker.proc.poll() is None, f"the worker exited with {worker.proc.returncode}:\n{worker.tail()}"
        time.sleep(0.1)
    logs = "\n\n".join(f"--- worker log ({w.log_path.name}):\n{w.tail()}" for w in workers)
    pytest.fail(f"waited {timeout:.0f} s for {what}\n{logs}")


def new_queue(prefix: str) -> str:
    return f"test-{prefix}-{uuid.uuid4().hex[:12]}"


@contextmanager
def worker_pool(*, redis_url: str, queue: str, env: dict[str, str] | None = None) -> Iterator[Callable[..., Worker]]:
    """start(**env) → a ready worker on `queue` (one of this test's own, see new_queue); all stopped at the end."""
    need_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "a worker process cannot share an SQLite in-memory test database; set DATABASE_URL=postgres://...",
    )
    base_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    started: list[Worker] = []

    def start(**more: str) -> Worker:
        worker = Worker(queue=queue, env={**base_env, **more}, name=f"w{len(started) + 1}")
        started.append(worker)
        wait_for(lambda: "ready." in worker.log_path.read_text(errors="replace"), "the worker to start", worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        # Kombu keeps the queue's bindings in Redis; the name is ours alone, drop them.
        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(match=f"*{queue}*"))
        if stale:
            client.delete(*stale)
        client.close()
