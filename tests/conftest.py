"""Shared fixtures. Real database (SQLite by default, PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.conf import settings

from tests import factories

IN_CI = bool(os.environ.get("CI"))


def pytest_sessionstart(session) -> None:
    # In CI a missing service is a failure, never a silent fallback to SQLite.
    if IN_CI:
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            pytest.exit("CI is set but DATABASE_URL does not point to PostgreSQL", returncode=3)
        if not settings.REDIS_URL:
            pytest.exit("CI is set but REDIS_URL is not set", returncode=3)


def need_service(name: str, available: bool, why: str) -> None:
    """Skip locally when a service is absent; fail in CI, where it must be there."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{name} is required in CI: {why}")
    pytest.skip(f"{name} not configured: {why}")


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", bool(settings.REDIS_URL), "set REDIS_URL=redis://127.0.0.1:6379/0")
    return settings.REDIS_URL


@pytest.fixture
def make(db) -> Callable:
    """Factories of test data: `make.study()`, `make.questionnaire(study=...)`..."""
    return factories


@pytest.fixture(autouse=True)
def fresh_version_caches():
    """Published versions are cached by id for the process; a test database that rolls back may give
    the next test's versions the same ids (SQLite reuses row ids), which production never does."""
    from surveys.answering.version_forms import version_form
    from surveys.questionnaires.published import published_definition

    published_definition.cache_clear()
    version_form.cache_clear()


@pytest.fixture(autouse=True)
def english_messages():
    """Assertions read English messages; French is covered by tests that switch on purpose."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def client():
    """A browser that asks for English, like the messages the assertions read."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")
