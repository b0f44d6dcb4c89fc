"""Export jobs: the audit row of every export, streamed downloads, background jobs and their files.

Every export, whatever the way out, first writes an `ExportJob` row (who, when, the spec) and
finishes it with the row count, the size and the SHA-256 of the bytes delivered, or with why it
stopped. The page, the API and the worker all go through the functions here.

Small exports (`export_count(spec) <= EXPORTS_INLINE_MAX_RESPONSES`) stream from the request:
`export_stream` returns an iterator that runs `export_write` in a greenlet on the request's own
thread (same database connection, same translation) and gets each 64 KiB back as it is written,
so nothing larger than one chunk is held and the first bytes leave at once. The iterator hashes
what it hands to the server; when it ends the row is done, when the server closes it early (the
browser went away) the row says "interrupted" with the hash of what was sent.

Larger ones run in a Celery task (`export_job_start` → on commit → surveys.exports.tasks). The task
claims the row with a conditional update (pending → running, with a claim token), so a redelivered
task or a second worker finds nothing to do: one file, one audit row. The file is written under a
name of its own (`<job>-<claim>.<ext>.part`), synced, renamed, and only then is the row marked done
(again conditional on the claim): a worker killed mid-way leaves a `.part` nobody is offered. While
it runs, a thread on its own database connection writes progress and a heartbeat every second
(the writer's own transaction, if it holds one, cannot hide them). The beat sweep puts a running
job whose heartbeat stopped back to pending (up to EXPORTS_MAX_ATTEMPTS, then failed, saying why),
enqueues pending jobs that never reached the broker (it was down when the job was created), and a
second beat task deletes expired files and orphans.

Files live under EXPORTS_ROOT, outside anything served, and leave only through the download view,
which checks the permission again.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from greenlet import greenlet

from surveys.exports.spec import ExportSpec, ExportStats
from surveys.exports.writers import export_count, export_filename, export_media_type, export_write
from surveys.models import ExportJob

logger = logging.getLogger(__name__)

Status = ExportJob.Status
Mode = ExportJob.Mode

CHUNK_SIZE = 64 * 1024
READ_SIZE = 1024 * 1024
# How often the runner writes progress and its heartbeat.
PROGRESS_SECONDS = 1.0
# A pending job this young may still be on its way to the broker (on_commit): the sweep leaves it.
ENQUEUE_GRACE = timedelta(seconds=60)
# A streamed export still "running" after this lost its request without a word (process killed).
INLINE_ABANDONED = timedelta(hours=1)


class ExportFileUnavailable(Exception):
    """The file of a job cannot be downloaded; `reason` is one of not_ready, failed, expired, missing."""

    def __init__(self, reason: str, job: ExportJob):
        self.reason = reason
        self.job = job
        super().__init__(f"export {job.pk}: {reason}")


class _ClaimLost(Exception):
    """The job was taken from this run (the sweep judged it dead): stop and leave no file."""


class _StreamClosed(Exception):
    """Thrown into a streamed export's writer when the server closes the response early."""


def exports_root() -> Path:
    return Path(settings.EXPORTS_ROOT)


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:2000]


def export_is_small(*, spec: ExportSpec) -> bool:
    """Small enough to stream from the request (EXPORTS_INLINE_MAX_RESPONSES, counted by export_count)."""
    return export_count(spec) <= settings.EXPORTS_INLINE_MAX_RESPONSES


def _job_create(*, spec: ExportSpec, by, mode: str, **fields) -> ExportJob:
    return ExportJob.objects.create(
        study_id=spec.study_id,
        requested_by=by,
        mode=mode,
        spec=spec.to_dict(),
        format=spec.format,
        filename=export_filename(spec),
        **fields,
    )


# --- streamed from the request ---------------------------------------------------------------------


class _GreenletSink(io.RawIOBase):
    """The `out` of a streamed export: buffers writes and hands each full chunk to the consumer."""

    def __init__(self, deliver: Callable[[bytes], None], chunk_size: int):
        super().__init__()
        self._deliver = deliver
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._written = 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._written

    def write(self, data) -> int:
        n = len(data)
        self._buffer += data
        self._written += n
        if len(self._buffer) >= self._chunk_size:
            self.drain()
        return n

    def drain(self) -> None:
        if self._buffer:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            self._deliver(chunk)

    def close(self) -> None:
        # A writer closing its `out` (or a text wrapper collected around it) must not lose the tail.
        self.drain()
        super().close()


class StreamedExport(Iterator[bytes]):
    """The bytes of one export as they are written; records the audit row when it ends or is closed.

    Django's StreamingHttpResponse calls close() when the response is done, including when the
    client disconnected (the server stops iterating and closes it).
    """

    def __init__(self, *, job: ExportJob, spec: ExportSpec, chunk_size: int = CHUNK_SIZE):
        self.job = job
        self.spec = spec
        self.filename = job.filename
        self.media_type = export_media_type(spec)
        self._chunk_size = chunk_size
        self._digest = hashlib.sha256()
        self._size = 0
        self._producer: greenlet | None = None
        self._ended = False

    def __iter__(self) -> StreamedExport:
        return self

    def _produce(self) -> tuple[str, ExportStats]:
        sink = _GreenletSink(lambda chunk: self._producer.parent.switch(("chunk", chunk)), self._chunk_size)
        # No progress callback: nobody watches a bar here, and the writer then skips its COUNT query.
        stats = export_write(spec=self.spec, out=sink, progress=None)
        sink.drain()
        return "end", stats

    def __next__(self) -> bytes:
        if self._ended:
            raise StopIteration
        if self._producer is None:
            self._producer = greenlet(self._produce)
            # The writer sees the request's context (active language) as if it ran inline.
            self._producer.gr_context = contextvars.copy_context()
        # Whoever iterates is where the writer hands its chunks back to.
        self._producer.parent = greenlet.getcurrent()
        try:
            kind, payload = self._producer.switch()
        except BaseException as exc:
            self._finish(Status.FAILED, error=_error_text(exc))
            raise  # the server then aborts the response: the client sees a broken download, not a short file
        if kind == "chunk":
            self._digest.update(payload)
            self._size += len(payload)
            return payload
        self._finish(Status.DONE, stats=payload)
        raise StopIteration

    def close(self) -> None:
        if self._ended:
            return
        producer = self._producer
        if producer is not None and not producer.dead:
            producer.parent = greenlet.getcurrent()
            try:
                producer.throw(_StreamClosed())
            except _StreamClosed:
                pass
            except Exception:  # the writer failed while unwinding; the row still says interrupted
                logger.exception("export %s: error while stopping an interrupted stream", self.job.pk)
        self._finish(
            Status.INCOMPLETE,
            error=_("The download stopped after %(size)s bytes: the connection was closed before the end.")
            % {"size": self._size},
        )

    def _finish(self, status: str, *, stats: ExportStats | None = None, error: str = "") -> None:
        self._ended = True
        now = timezone.now()
        fields = {
            "status": status,
            "finished_at": now,
            "size_bytes": self._size,
            "sha256": self._digest.hexdigest(),
            "error": error,
            "heartbeat_at": None,
        }
        if stats is not None:
            fields.update(rows=stats.rows, progress_done=stats.rows, progress_total=stats.rows)
        # Conditional on the claim only: the final word of the stream wins over a sweep that judged it lost.
        ExportJob.objects.filter(pk=self.job.pk, claim=self.job.claim).update(**fields)
        for name, value in fields.items():
            setattr(self.job, name, value)
        logger.info("export %s (%s, inline) %s: %s bytes", self.job.pk, self.spec.format, status, self._size)


def export_stream(*, spec: ExportSpec, by, chunk_size: int = CHUNK_SIZE) -> StreamedExport:
    """Start a streamed export: its audit row (running) and the iterator of its bytes."""
    spec.check()
    now = timezone.now()
    job = _job_create(
        spec=spec, by=by, mode=Mode.INLINE, status=Status.RUNNING, started_at=now, attempts=1, claim=uuid.uuid4().hex
    )
    logger.info("export %s (%s, inline) started by user %s", job.pk, spec.format, job.requested_by_id)
    return StreamedExport(job=job, spec=spec, chunk_size=chunk_size)


# --- background jobs ------------------------------------------------------------------------------


def export_job_start(*, spec: ExportSpec, by, broker=None) -> ExportJob:
    """Create a background export (pending) and enqueue its task once the row is committed.

    `broker`: a Celery connection to publish on instead of the configured one (tests of a dead broker)."""
    spec.check()
    job = _job_create(spec=spec, by=by, mode=Mode.ASYNC, status=Status.PENDING)
    job_id = job.pk
    transaction.on_commit(lambda: export_job_enqueue(job_id=job_id, broker=broker))
    logger.info("export %s (%s, job) requested by user %s", job.pk, spec.format, job.requested_by_id)
    return job


# A dead broker costs the request at most about a second and a half, then the sweep takes over.
ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def export_job_enqueue(*, job_id: int, broker=None) -> bool:
    """Hand the job to the broker; False (and the row left for the sweep) when the broker is down."""
    from surveys.exports.tasks import export_job_run  # the task module imports this one

    queue = settings.EXPORTS_QUEUE or None
    try:
        export_job_run.apply_async(args=[job_id], queue=queue, connection=broker, retry_policy=ENQUEUE_RETRY_POLICY)
    except Exception as exc:  # any broker failure: the row stays pending, the sweep enqueues it later
        logger.warning("export %s: not enqueued (%s); the sweep will retry", job_id, _error_text(exc))
        return False
    ExportJob.objects.filter(pk=job_id, status=Status.PENDING).update(enqueued_at=timezone.now())
    return True


class _Runner:
    """Progress and heartbeat of one claimed run, written by a thread on its own connection."""

    def __init__(self, *, job_id: int, claim: str):
        self.job_id = job_id
        self.claim = claim
        self.done = 0
        self.total: int | None = None
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"export-{job_id}-heartbeat", daemon=True)

    def progress(self, done: int, total: int | None = None, *args, **kwargs) -> None:
        """The `progress` given to export_write; stops the writer when the claim was lost."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        if self.lost:
            raise _ClaimLost

    def __enter__(self) -> _Runner:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        written = None
        last = 0.0
        try:
            while not self._stop.wait(PROGRESS_SECONDS):
                state = (self.done, self.total)
                # Unchanged progress is still a heartbeat, but one every few seconds is enough.
                if state == written and time.monotonic() - last < 5 * PROGRESS_SECONDS:
                    continue
                try:
                    self._write(*state)
                except Exception as exc:  # a busy database delays the bar, it must not stop the export
                    logger.warning("export %s: progress not written (%s)", self.job_id, _error_text(exc))
                    continue
                written, last = state, time.monotonic()
        finally:
            connections.close_all()

    def _write(self, done: int, total: int | None) -> None:
        fields = {"progress_done": done, "heartbeat_at": timezone.now()}
        if total is not None:
            fields["progress_total"] = total
        if ExportJob.objects.filter(pk=self.job_id, claim=self.claim, status=Status.RUNNING).update(**fields):
            return
        # Lost only if the row is visible and held by someone else (a test's open transaction hides it).
        if ExportJob.objects.filter(pk=self.job_id).exists():
            self.lost = True


def _file_suffix(filename: str) -> str:
    suffix = "".join(Path(filename).suffixes)[-16:]
    return "".join(ch for ch in suffix if ch.isalnum() or ch == ".") or ".bin"


def _file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while block := f.read(READ_SIZE):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def export_job_run(*, job_id: int) -> str:
    """Run a pending job in this worker, once: claim, write, rename, record. Returns what happened."""
    claim = uuid.uuid4().hex
    now = timezone.now()
    taken = ExportJob.objects.filter(pk=job_id, status=Status.PENDING).update(
        status=Status.RUNNING,
        claim=claim,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        progress_done=0,
        error="",
    )
    if not taken:
        logger.info("export %s: not pending any more, nothing to do", job_id)
        return "skipped"
    job = ExportJob.objects.get(pk=job_id)
    folder = exports_root() / str(job.study_id)
    relative = f"{job.study_id}/{job.pk}-{claim}{_file_suffix(job.filename)}"
    final = exports_root() / relative
    part = final.with_name(final.name + ".part")
    try:
        spec = ExportSpec.from_dict(job.spec).check()
        folder.mkdir(parents=True, exist_ok=True)
        with _Runner(job_id=job.pk, claim=claim) as runner, part.open("wb") as out:
            stats = export_write(spec=spec, out=out, progress=runner.progress)
            out.flush()
            os.fsync(out.fileno())
        if runner.lost:
            raise _ClaimLost
        sha256, size = _file_sha256(part)
        os.replace(part, final)
        _fsync_dir(folder)
    except _ClaimLost:
        part.unlink(missing_ok=True)
        logger.warning("export %s: taken over by another run; this one stopped", job_id)
        return "lost"
    except Exception as exc:
        part.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job_id, claim=claim, status=Status.RUNNING).update(
            status=Status.FAILED, finished_at=timezone.now(), heartbeat_at=None, error=_error_text(exc)
        )
        logger.exception("export %s failed", job_id)
        return "failed"
    now = timezone.now()
    total = runner.total or stats.rows
    done = ExportJob.objects.filter(pk=job_id, claim=claim, status=Status.RUNNING).update(
        status=Status.DONE,
        finished_at=now,
        heartbeat_at=None,
        rows=stats.rows,
        size_bytes=size,
        sha256=sha256,
        file_path=relative,
        expires_at=now + timedelta(days=settings.EXPORTS_EXPIRE_DAYS),
        progress_done=total,
        progress_total=total,
    )
    if not done:
        final.unlink(missing_ok=True)
        logger.warning("export %s: taken over by another run before it was recorded; file removed", job_id)
        return "lost"
    logger.info("export %s (%s, job) done: %s rows, %s bytes", job_id, spec.format, stats.rows, size)
    return "done"


# --- beat: lost jobs, expiry -------------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued: int = 0
    failed: int = 0
    abandoned: int = 0
    enqueued: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "requeued": self.requeued,
            "failed": self.failed,
            "abandoned": self.abandoned,
            "enqueued": self.enqueued,
        }


def export_jobs_sweep(*, now: datetime, enqueue: Callable[[int], bool] | None = None) -> SweepReport:
    """Beat: running jobs whose worker died go back to pending (or fail past EXPORTS_MAX_ATTEMPTS);
    streams whose request vanished are marked interrupted; pending jobs the broker never got are enqueued.

    `enqueue(job_id) -> bool` hands a job to the broker (default export_job_enqueue)."""
    enqueue = enqueue or (lambda job_id: export_job_enqueue(job_id=job_id))
    report = SweepReport()
    stale = now - timedelta(seconds=settings.EXPORTS_STALE_SECONDS)
    dead = ExportJob.objects.filter(mode=Mode.ASYNC, status=Status.RUNNING, heartbeat_at__lt=stale)
    for job_id, claim, attempts in dead.values_list("pk", "claim", "attempts"):
        held = ExportJob.objects.filter(pk=job_id, claim=claim, status=Status.RUNNING)
        if attempts >= settings.EXPORTS_MAX_ATTEMPTS:
            report.failed += held.update(
                status=Status.FAILED,
                finished_at=now,
                heartbeat_at=None,
                claim="",
                error=_(
                    "The worker stopped during this export %(n)s times (killed or out of memory); "
                    "it was not tried again. Start a new export, or ask the administrator to check "
                    "the workers."
                )
                % {"n": attempts},
            )
        # Back to the start: the next run writes a new file under its own claim.
        elif held.update(status=Status.PENDING, claim="", enqueued_at=None, heartbeat_at=None):
            report.requeued += 1
            report.enqueued += enqueue(job_id)
    report.abandoned = ExportJob.objects.filter(
        mode=Mode.INLINE,
        status=Status.RUNNING,
        started_at__lt=now - INLINE_ABANDONED,
    ).update(
        status=Status.INCOMPLETE,
        finished_at=now,
        error=_("The download never finished: the server stopped while sending it."),
    )
    requeue_before = now - timedelta(seconds=settings.EXPORTS_REQUEUE_SECONDS)
    waiting = ExportJob.objects.filter(mode=Mode.ASYNC, status=Status.PENDING).filter(
        Q(enqueued_at__isnull=True, created_at__lt=now - ENQUEUE_GRACE) | Q(enqueued_at__lt=requeue_before)
    )
    for job_id in waiting.order_by("created_at").values_list("pk", flat=True):
        report.enqueued += enqueue(job_id)
    if report.requeued or report.failed or report.abandoned or report.enqueued:
        logger.info("export sweep: %s", report.to_dict())
    return report


def _job_path(job: ExportJob) -> Path | None:
    if not job.file_path:
        return None
    root = exports_root().resolve()
    path = (root / job.file_path).resolve()
    # file_path is ours, but a row edited by hand must still not reach outside the folder.
    return path if path.is_relative_to(root) else None


def export_files_expire(*, now: datetime) -> dict[str, int]:
    """Beat: delete the files of expired jobs (rows marked expired) and files no done job points to."""
    expired = 0
    for job in ExportJob.objects.filter(status=Status.DONE, expires_at__lte=now):
        path = _job_path(job)
        if path is not None:
            path.unlink(missing_ok=True)
        expired += ExportJob.objects.filter(pk=job.pk, status=Status.DONE).update(status=Status.EXPIRED, file_path="")
    # Orphans: .part files of dead runs, files of runs that lost their claim. Never the file of a
    # done job or the .part of a run still holding its job (a .sav is written only at the end, so
    # its .part may stay old and empty for long); and only old ones, to spare a run just claimed.
    orphans = 0
    root = exports_root()
    if root.is_dir():
        kept = set(ExportJob.objects.exclude(file_path="").values_list("file_path", flat=True))
        running = ExportJob.objects.filter(status=Status.RUNNING, mode=Mode.ASYNC).exclude(claim="")
        held = tuple(
            f"{study_id}/{pk}-{claim}" for study_id, pk, claim in running.values_list("study_id", "pk", "claim")
        )
        old = (now - timedelta(seconds=settings.EXPORTS_STALE_SECONDS)).timestamp()
        for path in root.rglob("*"):
            relative = path.relative_to(root).as_posix()
            if not path.is_file() or relative in kept or (held and relative.startswith(held)):
                continue
            try:
                if path.stat().st_mtime < old:
                    path.unlink()
                    orphans += 1
            except FileNotFoundError:
                continue
    if expired or orphans:
        logger.info("export files: %s expired, %s orphans deleted", expired, orphans)
    return {"expired": expired, "orphans": orphans}


def export_job_file(*, job: ExportJob, now: datetime) -> Path:
    """The file of a done job, or ExportFileUnavailable saying why not (not ready, failed, expired, missing)."""
    if job.status in (Status.PENDING, Status.RUNNING):
        raise ExportFileUnavailable("not_ready", job)
    if job.status == Status.EXPIRED or (job.status == Status.DONE and job.expires_at and job.expires_at <= now):
        raise ExportFileUnavailable("expired", job)
    if job.status != Status.DONE:
        raise ExportFileUnavailable("failed", job)
    path = _job_path(job)
    if path is None or not path.is_file():
        raise ExportFileUnavailable("missing", job)
    return path
