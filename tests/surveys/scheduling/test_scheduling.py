"""Assignments open when due and expire when their window closes, once, on the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app as celery_app
from surveys.models import Assignment
from surveys.scheduling.planning import assignments_refresh

S = Assignment.Status


@pytest.fixture
def timepoint(make):
    return make.timepoint(version=make.published_version(), window=7)


@pytest.fixture
def new(make, timepoint):
    study = timepoint.study

    def new(*, status: str = S.PLANNED, due_in: timedelta, window: timedelta = timedelta(days=7)) -> Assignment:
        due = timezone.now() + due_in
        return make.assignment(
            participant=make.participant(study=study),
            timepoint=timepoint,
            due_at=due,
            expires_at=due + window,
            status=status,
        )

    return new


def status_of(assignment: Assignment) -> str:
    return Assignment.objects.values_list("status", flat=True).get(pk=assignment.pk)


def test_refresh_opens_due_and_expires_closed_assignments(new):
    due = new(due_in=-timedelta(minutes=1))
    future = new(due_in=timedelta(hours=1))
    open_closed = new(status=S.OPEN, due_in=-timedelta(days=8))
    planned_closed = new(due_in=-timedelta(days=8))  # worker was down the whole window
    open_running = new(status=S.OPEN, due_in=-timedelta(days=1))
    completed = new(status=S.COMPLETED, due_in=-timedelta(days=8))
    cancelled = new(status=S.CANCELLED, due_in=-timedelta(minutes=1))

    counts = assignments_refresh(now=timezone.now())

    assert counts == {"opened": 1, "expired": 2}
    assert status_of(due) == S.OPEN
    assert status_of(future) == S.PLANNED
    assert status_of(open_closed) == S.EXPIRED
    assert status_of(planned_closed) == S.EXPIRED, "never open a window that has already closed"
    assert status_of(open_running) == S.OPEN
    assert status_of(completed) == S.COMPLETED
    assert status_of(cancelled) == S.CANCELLED


def test_refresh_is_idempotent(new):
    new(due_in=-timedelta(minutes=1))
    new(status=S.OPEN, due_in=-timedelta(days=8))
    now = timezone.now()
    assert assignments_refresh(now=now) == {"opened": 1, "expired": 1}

    assert assignments_refresh(now=now) == {"opened": 0, "expired": 0}


def test_boundaries_are_inclusive_at_now(new):
    a = new(due_in=timedelta(hours=1), window=timedelta(hours=2))
    assert assignments_refresh(now=a.due_at - timedelta(microseconds=1)) == {"opened": 0, "expired": 0}
    assert assignments_refresh(now=a.due_at) == {"opened": 1, "expired": 0}
    assert assignments_refresh(now=a.expires_at) == {"opened": 0, "expired": 1}
    assert status_of(a) == S.EXPIRED


def test_refresh_task_runs_the_service(new):
    from surveys.tasks import assignments_refresh_status

    a = new(due_in=-timedelta(minutes=1))
    # .apply() runs the registered task in this process, through Celery's own call path.
    assert assignments_refresh_status.apply().get() == {"opened": 1, "expired": 0}
    assert status_of(a) == S.OPEN


def test_beat_database_scheduler_installs_the_refresh_entry(transactional_db):
    # transactional_db: the scheduler calls close_old_connections(), which drops
    # a connection found inside the test's wrapping transaction.
    import surveys.tasks  # noqa: F401  (a worker finds it by autodiscovery: tests/project/test_celery_worker.py)

    entry = celery_app.conf.beat_schedule["assignments-refresh-status"]
    assert entry["task"] in celery_app.tasks

    # What `celery beat -S django` does at start: the settings entry lands in the DB table.
    DatabaseScheduler(app=celery_app)

    task = PeriodicTask.objects.get(name="assignments-refresh-status")
    assert task.task == "surveys.tasks.assignments_refresh_status"
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (60, "seconds")
    assert task.expire_seconds == 55
