"""Year-of-birth guesses sent all at once: each is counted before it is compared, so at most the limit is read."""

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection

from surveys.answering import access
from surveys.answering.access import CheckResult, link_check_attempt, link_check_digest
from surveys.models import Assignment, LinkCheckLock, Participant, Study
from tests.conftest import need_service
from tests.surveys.answering.test_concurrency import run_together


@pytest.fixture
def shared_services(transactional_db):
    # Threads need real connections and a cache shared between them: PostgreSQL and Redis, as in production.
    need_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://...")
    need_service("Redis", bool(django_settings.REDIS_URL), "set REDIS_URL=redis://127.0.0.1:6379/0")
    cache.clear()
    yield
    cache.clear()


def test_sixty_concurrent_wrong_guesses_evaluate_at_most_the_limit(shared_services, make, settings, monkeypatch):
    settings.LINK_CHECK_MAX_PER_LINK = 5
    settings.LINK_CHECK_MAX_PER_IP = 1000
    _token, a = make.open_link()
    Study.objects.filter(pk=a.participant.study_id).update(link_check="birth_year")
    a.participant.refresh_from_db()
    Participant.objects.filter(pk=a.participant_id).update(
        link_check_digest=link_check_digest(participant=a.participant, birth_year=1956)
    )
    evaluated = []
    real_digest = access.link_check_digest

    def counting_digest(**kwargs):
        # A spy that still computes the real digest: it only records that a guess was compared.
        evaluated.append(kwargs["birth_year"])
        return real_digest(**kwargs)

    monkeypatch.setattr(access, "link_check_digest", counting_digest)

    def guess(i):
        assignment = Assignment.objects.select_related("participant__study").get(pk=a.pk)
        return link_check_attempt(assignment, answer=str(1900 + i), ip=f"10.0.0.{i}")

    results = run_together(60, guess)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(evaluated) <= 5
    assert CheckResult.PASSED not in results
    assert LinkCheckLock.objects.filter(assignment=a).count() == 1
    assert access.link_check_locked(a, "10.0.0.99")
