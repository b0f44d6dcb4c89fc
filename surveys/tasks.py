"""Celery tasks of the research domain: thin wrappers around services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from .scheduling import assignments_refresh

logger = logging.getLogger(__name__)


@shared_task
def assignments_refresh_status() -> dict[str, int]:
    """Beat, every minute (CELERY_BEAT_SCHEDULE): open due assignments, expire closed ones."""
    counts = assignments_refresh(now=timezone.now())
    logger.info("assignments refreshed: %(opened)d opened, %(expired)d expired", counts)
    return counts
