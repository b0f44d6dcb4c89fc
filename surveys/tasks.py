"""Celery tasks of the research domain: thin wrappers around services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from surveys.scheduling.planning import assignments_refresh

logger = logging.getLogger(__name__)


@shared_task
def assignments_refresh_status() -> dict[str, int]:
    """Beat, every minute (CELERY_BEAT_SCHEDULE): open due assignments, expire closed ones."""
    counts = assignments_refresh(now=timezone.now())
    logger.info("assignments refreshed: %(opened)d opened, %(expired)d expired", counts)
    return counts


# --- alerts (surveys/scoring/alerts.py) ---------------------------------------------------------------


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def alerts_notify_task(alert_ids: list[int]) -> dict[str, int]:
    """Enqueued when a submit that raised alerts commits: e-mail them to the investigators.

    Safe to run twice (redelivery, a second worker): each alert is claimed before its e-mail is
    sent. A failed send is not retried here; its claim is released and alerts_sweep sends it.
    """
    from surveys.scoring.alerts import alerts_notify

    report = alerts_notify(alert_ids=alert_ids, now=timezone.now())
    return {"sent": len(report.sent), "failed": len(report.failed), "skipped": report.skipped}


@shared_task(ignore_result=True)
def alerts_sweep() -> dict[str, int]:
    """Beat, every minute: e-mail the alerts never notified (broker down at commit, failed sends)."""
    from surveys.scoring.alerts import alerts_notify, alerts_unnotified

    now = timezone.now()
    pending = alerts_unnotified(now=now)
    if not pending:
        return {"sent": 0, "failed": 0, "skipped": 0}
    report = alerts_notify(alert_ids=pending, now=now)
    logger.info(
        "alerts sweep: %d e-mailed, %d failed, %d skipped", len(report.sent), len(report.failed), report.skipped
    )
    return {"sent": len(report.sent), "failed": len(report.failed), "skipped": report.skipped}


# --- review panels (surveys/review/panels.py) -------------------------------------------------


@shared_task(ignore_result=True)
def review_reminders_send() -> int:
    """Beat, hourly: remind reviewers who have not submitted, 3 days and 1 day before the deadline (once each)."""
    from surveys.review.panels import reminders_send

    return reminders_send(now=timezone.now())
