"""Celery tasks of the identity domain: thin wrappers around patients/messaging/dispatch.py, taking ids.

acks_late (also the project default) + reject_on_worker_lost: a task whose worker dies is handed
to another worker; the service makes that second delivery safe (a conditional claim, and a
message found half-sent is never sent again).

Retries: the service records each failed attempt on the row (attempts, last_error) and says
when to come back; the cap is MESSAGES_SEND_MAX_ATTEMPTS counted on the row, not Celery's
per-delivery retry counter, so a redelivered or re-enqueued task does not start counting again.
Database errors before anything was sent (PostgreSQL restarting) are retried by Celery with
backoff: Django's fixup drops the broken connection before the next run.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from celery import shared_task
from celery.signals import task_prerun
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from patients.messaging import dispatch

logger = logging.getLogger(__name__)


@task_prerun.connect(dispatch_uid="patients.tasks.database_health_check")
def _database_health_check(sender=None, **kwargs) -> None:
    # Connections are reused across tasks (CELERY_DB_REUSE_MAX): like Django before a request, drop one
    # that is too old or broke (errors_occurred) and have the next query check the rest
    # (CONN_HEALTH_CHECKS), so a connection cut by a database restart is replaced, not used.
    # Not for a task run eagerly (.apply(), tests): it runs inside its caller's transaction.
    if getattr(getattr(sender, "request", None), "is_eager", False) or connection.in_atomic_block:
        return
    close_old_connections()


@shared_task(ignore_result=True)
def messages_dispatch_due() -> dict[str, int]:
    """Beat, every minute (CELERY_BEAT_SCHEDULE): claim the due messages and enqueue their sends,
    MESSAGES_SEND_BATCH per messages_send task."""
    report = dispatch.messages_dispatch(now=timezone.now())
    return {"claimed": len(report.claimed), "enqueued": report.enqueued, "released": report.released}


# Both send tasks: acknowledged only once done, so a worker killed mid-send hands the task back (the
# send's conditional updates make the second run harmless), and retried while the database is away.
SEND_TASK: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "ignore_result": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 30,
}


@shared_task(**SEND_TASK)
def messages_send(self, message_ids: list[int]) -> dict[str, int]:
    """A batch claimed by the beat tick, sent concurrently within the provider's rate; the messages
    that need another go (a retry, a check with the provider) get a message_send task each."""
    outcomes = dispatch.messages_send(message_ids=message_ids, now=timezone.now())
    dispatch.message_retries_enqueue(outcomes)
    return dict(Counter(outcome.status for outcome in outcomes.values()))


@shared_task(**SEND_TASK)
def message_send(self, message_id: int) -> str:
    outcome = dispatch.message_send(message_id=message_id, now=timezone.now())
    if outcome.retry_in is not None:
        # The row's attempt count caps provider errors (module docstring); max_retries (30) only
        # bounds a task that keeps coming back for other reasons (the messages_recover_stale net).
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
