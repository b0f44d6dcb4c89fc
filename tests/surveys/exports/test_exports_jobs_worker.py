"""Background exports with real Celery workers on Redis, against the test database (PostgreSQL).

What a data manager sees: pending, then running (the worker's heartbeat moving), then a download whose
bytes hash to what the audit row says. What must never happen: a half file offered, a second file or
row after a worker is killed mid-export, an export lost because Redis was down when it was asked for.

To watch the "running" state without timing luck, the test holds an ACCESS EXCLUSIVE lock on the
responses table from a second connection: the worker claims the job, starts its heartbeat, and waits
on its first read until the test lets go.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from surveys.exports.jobs import ENQUEUE_GRACE, export_files_expire, export_job_start, export_jobs_sweep
from surveys.exports.spec import ExportSpec
from surveys.models import ExportJob
from tests.workers import Worker, new_queue, wait_for, worker_pool

pytestmark = pytest.mark.services

S = ExportJob.Status


@pytest.fixture
def exports_root(tmp_path, settings) -> Path:
    root = tmp_path / "exports"
    settings.EXPORTS_ROOT = str(root)
    return root


@pytest.fixture
def workers(redis_url, transactional_db, settings, exports_root) -> Iterator[Callable[[], Worker]]:
    """start() → a worker process on this test's own queue, writing into this test's export folder."""
    queue = new_queue("exports")
    settings.EXPORTS_QUEUE = queue  # where this process enqueues
    env = {
        "EXPORTS_ROOT": str(exports_root),
        "EXPORTS_QUEUE": queue,
        # The task of a killed worker comes back within seconds (then finds its job claimed or pending).
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    with worker_pool(redis_url=redis_url, queue=queue, env=env) as start:
        yield start


@contextmanager
def responses_locked() -> Iterator[None]:
    """Hold the responses table from a second connection: any reader (the worker) waits."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=False,
    ) as locker:
        locker.execute("LOCK TABLE surveys_response IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            locker.rollback()


def build(make, *, responses: int):
    study = make.study(code="xw")
    version = make.published_version(study=study)
    timepoint = make.timepoint(version=version, code="t0")
    for n in range(responses):
        participant = make.participant(study=study, pseudonym=f"XW-{n:04d}")
        make.response(
            assignment=make.assignment(participant=participant, timepoint=timepoint),
            status="completed",
            answers={"mood": "a1", "pain": n % 11},
        )
    return study


def job_row(job_id: int) -> ExportJob:
    return ExportJob.objects.get(pk=job_id)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_real_worker_takes_a_job_from_pending_to_running_to_done_and_the_download_matches_the_audit(
    make, client, workers, settings, exports_root
):
    settings.EXPORTS_INLINE_MAX_RESPONSES = 5
    study = build(make, responses=30)
    user = make.user()
    make.member(user=user, study=study, role="data_manager")
    client.force_login(user)

    response = client.post(
        reverse("surveys:exports", args=[study.code]),
        {"format": "wide_csv", "labels": "codes", "language": "en", "dates": "exact"},
    )

    job = ExportJob.objects.get()
    args = [study.code, job.pk]
    status_url = reverse("surveys:export_job_status", args=args)
    download_url = reverse("surveys:export_job_download", args=args)
    assert response.status_code == 302 and job.mode == "async"
    assert client.get(status_url).json()["status"] == "pending"  # no worker yet: the task waits in Redis
    assert job_row(job.pk).enqueued_at is not None

    with responses_locked():
        worker = workers()
        wait_for(lambda: client.get(status_url).json()["status"] == "running", "the worker to claim the job", worker)
        running = job_row(job.pk)
        wait_for(lambda: job_row(job.pk).heartbeat_at > running.started_at, "a heartbeat", worker)
        assert [p.name.endswith(".part") for p in files_under(exports_root)] == [True]  # written aside
        assert client.get(download_url).status_code == 409  # nothing offered while it runs
        page = client.get(reverse("surveys:export_job", args=args)).content.decode()
        assert "<progress" in page and "Running" in page

    wait_for(lambda: client.get(status_url).json()["status"] == "done", "the export to finish", worker)
    state = client.get(status_url).json()
    assert state["percent"] == 100 and state["download_url"] == download_url
    done = job_row(job.pk)
    assert done.progress_done == done.progress_total == 30 and done.rows == 30 and done.attempts == 1
    body = b"".join(client.get(download_url).streaming_content)
    assert hashlib.sha256(body).hexdigest() == done.sha256 == state["sha256"] and len(body) == done.size_bytes
    assert body.count(b"\n") == 31  # header and one row per response
    assert files_under(exports_root) == [exports_root / done.file_path]
    assert "surveys.exports.tasks.export_job_run" in worker.tail()


def test_a_worker_killed_mid_export_leaves_no_file_offered_and_another_finishes_it_once(
    make, workers, settings, exports_root
):
    study = build(make, responses=10)
    job = export_job_start(spec=ExportSpec(study_id=study.pk, format="wide_csv"), by=make.user())

    with responses_locked():
        doomed = workers()
        wait_for(lambda: job_row(job.pk).status == S.RUNNING, "the first worker to claim the job", doomed)
        wait_for(lambda: files_under(exports_root), "the first worker to open its file", doomed)
        doomed.kill()  # SIGKILL mid-export: no chance to record anything
    (part,) = files_under(exports_root)
    assert part.name.endswith(".part") and job_row(job.pk).file_path == ""

    settings.EXPORTS_STALE_SECONDS = 2
    wait_for(lambda: export_jobs_sweep(now=timezone.now()).requeued == 1, "the sweep to see the run dead", timeout=15)
    assert job_row(job.pk).status == S.PENDING
    survivor = workers()  # gets the sweep's task, and the killed worker's task redelivered: one run only
    wait_for(lambda: job_row(job.pk).status == S.DONE, "the second worker to finish", survivor)
    time.sleep(4)  # past the visibility timeout: a redelivered task would have run by now

    done = job_row(job.pk)
    assert done.attempts == 2 and ExportJob.objects.count() == 1
    assert export_files_expire(now=timezone.now()) == {"expired": 0, "orphans": 1}  # the dead run's .part
    assert files_under(exports_root) == [exports_root / done.file_path]
    assert hashlib.sha256((exports_root / done.file_path).read_bytes()).hexdigest() == done.sha256


def test_an_export_asked_while_redis_is_down_is_kept_and_run_once_the_sweep_enqueues_it(make, workers, exports_root):
    study = build(make, responses=3)
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: connection refused

    started = time.monotonic()
    with app.connection_for_write(dead_broker) as down:
        job = export_job_start(spec=ExportSpec(study_id=study.pk, format="long_csv"), by=make.user(), broker=down)
    assert time.monotonic() - started < 10  # the request is not held long

    row = job_row(job.pk)
    assert (row.status, row.enqueued_at) == (S.PENDING, None)  # the row exists; the task does not
    worker = workers()
    time.sleep(1)
    assert job_row(job.pk).status == S.PENDING

    report = export_jobs_sweep(now=timezone.now() + ENQUEUE_GRACE + timedelta(seconds=1))
    assert report.enqueued == 1 and job_row(job.pk).enqueued_at is not None
    wait_for(lambda: job_row(job.pk).status == S.DONE, "the swept job to run", worker)
    # The next sweep finds nothing to enqueue: enqueued once, run once.
    assert export_jobs_sweep(now=timezone.now() + ENQUEUE_GRACE + timedelta(seconds=1)).enqueued == 0
    done = job_row(job.pk)
    assert done.attempts == 1 and files_under(exports_root) == [exports_root / done.file_path]
