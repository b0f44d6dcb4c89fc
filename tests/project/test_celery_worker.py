"""A real Celery worker, in its own process, runs our task from Redis against the test database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import Assignment
from surveys.tasks import assignments_refresh_status
from tests.workers import new_queue, wait_for, worker_pool

pytestmark = pytest.mark.services

WAIT_SECONDS = 30


@pytest.fixture
def worker(redis_url, transactional_db):
    # transactional_db: rows are committed, so the worker's own connection sees them.
    with worker_pool(redis_url=redis_url, queue=new_queue("worker")) as start:
        yield start()


def test_real_worker_opens_due_assignment(make, worker):
    study = make.study()
    timepoint = make.timepoint(version=make.published_version(study=study))
    due = timezone.now() - timedelta(minutes=1)
    assignment = make.assignment(participant=make.participant(study=study), timepoint=timepoint, due_at=due)
    assert assignment.status == Assignment.Status.PLANNED

    assignments_refresh_status.apply_async(queue=worker.queue)

    opened = lambda: Assignment.objects.filter(pk=assignment.pk, status=Assignment.Status.OPEN).exists()  # noqa: E731
    wait_for(opened, "the assignment to open", worker, timeout=WAIT_SECONDS)
    assert "surveys.tasks.assignments_refresh_status" in worker.tail()
    assert worker.stop() == 0, "the worker did not stop cleanly"
