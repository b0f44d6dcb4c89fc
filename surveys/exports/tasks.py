"""Celery tasks of exports: thin wrappers around surveys/exports/jobs.py, taking ids.

Registered through CELERY_IMPORTS (config/settings/base.py): autodiscovery only reads
`<app>.tasks`. acks_late + reject_on_worker_lost: a task whose worker dies is delivered again;
the job's conditional claim makes the second delivery a no-op while the first run's row is held,
and the sweep gives a dead run's job back (export_jobs_sweep).
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from surveys.exports import jobs


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_job_run(job_id: int) -> str:
    return jobs.export_job_run(job_id=job_id)


@shared_task(ignore_result=True)
def export_jobs_sweep() -> dict[str, int]:
    """Beat, every minute: lost runs back to pending, never-enqueued jobs enqueued."""
    return jobs.export_jobs_sweep(now=timezone.now()).to_dict()


@shared_task(ignore_result=True)
def export_files_expire() -> dict[str, int]:
    """Beat, every hour: expired files deleted, their rows marked expired."""
    return jobs.export_files_expire(now=timezone.now())
