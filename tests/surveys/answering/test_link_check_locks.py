"""Year-of-birth locks grow on repeated locks, leave a row, and the study team sees them."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from surveys.answering import access
from surveys.answering.access import CheckResult, link_check_attempt, link_check_digest
from surveys.models import LinkCheckLock, Participant, Study


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _checked_link(make, study=None):
    token, a = make.open_link(study=study)
    Study.objects.filter(pk=a.participant.study_id).update(link_check="birth_year")
    a.participant.refresh_from_db()
    Participant.objects.filter(pk=a.participant_id).update(
        link_check_digest=link_check_digest(participant=a.participant, birth_year=1956)
    )
    a.refresh_from_db()
    return token, a


def test_three_successive_locks_last_longer_and_are_recorded(make, settings):
    settings.LINK_CHECK_MAX_PER_LINK = 2
    settings.LINK_CHECK_MAX_PER_IP = 1000
    settings.LINK_CHECK_WINDOW = 900
    settings.LINK_CHECK_LOCK_MAX = 3000
    _token, a = _checked_link(make)
    now = timezone.now()
    durations = []
    for _ in range(3):
        assert link_check_attempt(a, answer="1900", ip="10.0.0.1", now=now) is CheckResult.FAILED
        assert link_check_attempt(a, answer="1901", ip="10.0.0.1", now=now) is CheckResult.LOCKED
        # Locked even with the right year until the lock ends.
        assert link_check_attempt(a, answer="1956", ip="10.0.0.1", now=now) is CheckResult.LOCKED
        lock = LinkCheckLock.objects.filter(assignment=a).order_by("-level").first()
        durations.append((lock.locked_until - lock.locked_at).total_seconds())
        now = lock.locked_until + timedelta(seconds=1)
    assert durations == [900, 1800, 3000]  # doubled, then capped by LINK_CHECK_LOCK_MAX
    assert list(LinkCheckLock.objects.order_by("level").values_list("level", flat=True)) == [1, 2, 3]
    assert link_check_attempt(a, answer="1956", ip="10.0.0.1", now=now) is CheckResult.PASSED


def test_a_lock_long_forgotten_starts_again_at_the_first_level(make, settings):
    settings.LINK_CHECK_MAX_PER_LINK = 1
    settings.LINK_CHECK_LOCK_MEMORY = 3600
    _token, a = _checked_link(make)
    now = timezone.now()
    link_check_attempt(a, answer="1", ip="10.0.0.2", now=now)
    later = now + timedelta(days=2)
    link_check_attempt(a, answer="1", ip="10.0.0.2", now=later)
    assert list(LinkCheckLock.objects.order_by("locked_at").values_list("level", flat=True)) == [1, 1]
    assert access.link_check_lock_duration(30) == settings.LINK_CHECK_LOCK_MAX


def test_the_lock_page_says_how_long_and_the_row_holds_no_address(client, make, settings):
    settings.LINK_CHECK_MAX_PER_LINK = 1
    token, _a = _checked_link(make)
    page = client.post(reverse("surveys:respond", args=[token]), {"action": "check", "birth_year": "1900"})
    assert page.status_code == 429 and "try again in 15 minutes" in page.content.decode()
    fields = {f.name for f in LinkCheckLock._meta.get_fields()}
    assert not fields & {"ip", "address", "answer", "birth_year"}


def test_investigators_of_the_study_see_its_locks_and_no_other(client, make, settings):
    settings.LINK_CHECK_MAX_PER_LINK = 1
    _token, a = _checked_link(make)
    _other_token, b = _checked_link(make)
    link_check_attempt(a, answer="1", ip="10.0.0.3")
    link_check_attempt(b, answer="1", ip="10.0.0.4")
    mine, theirs = LinkCheckLock.objects.get(assignment=a), LinkCheckLock.objects.get(assignment=b)
    investigator = make.user()
    make.member(user=investigator, study=a.participant.study, role="investigator")
    client.force_login(investigator)
    listing = client.get(reverse("admin:surveys_linkchecklock_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [mine]
    assert a.participant.pseudonym in listing.content.decode()
    assert b.participant.pseudonym not in listing.content.decode()
    assert client.get(reverse("admin:surveys_linkchecklock_change", args=[mine.pk])).status_code == 200
    assert client.get(reverse("admin:surveys_linkchecklock_change", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("admin:surveys_linkchecklock_add")).status_code == 403
    # A designer of the study has no view of locked links.
    designer = make.user()
    make.member(user=designer, study=a.participant.study, role="designer")
    client.force_login(designer)
    assert client.get(reverse("admin:surveys_linkchecklock_change", args=[mine.pk])).status_code in (403, 404)
