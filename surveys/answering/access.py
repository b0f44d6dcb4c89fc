"""Who may open a patient link, and what they see: the one place for link rules."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from surveys.answering.links import token_hash
from surveys.models import Assignment, LinkCheckLock, Participant, Response, Study, Timepoint


class LinkState(enum.Enum):
    OPEN = "open"
    UNKNOWN = "unknown"
    NOT_YET_OPEN = "not_yet_open"
    NEEDS_CONSENT = "needs_consent"
    EXPIRED = "expired"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class LinkAccess:
    state: LinkState
    assignment: Assignment | None = None

    @property
    def language(self) -> str | None:
        return self.assignment.participant.language if self.assignment else None


# The link lookup joins exactly what a patient page reads, each row whole (no deferred field loads later),
# and not the versions: their definitions come from the per-process cache (surveys.answering.version_forms).
# Written as SQL built once from the models' columns because the ORM compiles a select_related again on
# every request and PostgreSQL plans a seven-table join in more time than a page takes to render.
_LINK_TABLES = (
    (Assignment, "a", ""),
    (Participant, "p", "JOIN {table} p ON p.id = a.participant_id"),
    (Study, "s", "JOIN {table} s ON s.id = p.study_id"),
    (Timepoint, "t", "JOIN {table} t ON t.id = a.timepoint_id"),
    (Response, "r", "LEFT JOIN {table} r ON r.assignment_id = a.id"),
)


@functools.cache
def _link_query() -> tuple[str, list[tuple[Any, list[str], list[tuple[Any, list]]]]]:
    """The lookup's SQL, and per table its fields and their database-to-Python converters."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    columns: list[str] = []
    layout: list[tuple[Any, list[str], list[tuple[Any, list]]]] = []
    for model, alias, _join in _LINK_TABLES:
        fields = list(model._meta.concrete_fields)
        columns += [f"{alias}.{quote(str(f.column))}" for f in fields]
        converters: list[tuple[Any, list]] = []
        for f in fields:
            col = f.get_col(alias)
            converters.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))
        layout.append((model, [f.attname for f in fields], converters))
    joins = " ".join(join.format(table=quote(model._meta.db_table)) for model, _a, join in _LINK_TABLES if join)
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(Assignment._meta.db_table)} a {joins} "
        f"WHERE a.{quote(str(Assignment._meta.get_field('token_hash').column))} = %s"
    )
    return sql, layout


def _link_assignment(hashed: str) -> Assignment | None:
    """The assignment of a link with its participant, study, timepoint and response (or None) attached."""
    sql, layout = _link_query()
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute(sql, [hashed])
        row = cursor.fetchone()
    if row is None:
        return None
    instances: list[Any] = []
    start = 0
    for model, attnames, converters in layout:
        values = list(row[start : start + len(attnames)])
        start += len(attnames)
        if values[0] is None:  # the LEFT JOIN found no response
            instances.append(None)
            continue
        for i, (col, field_converters) in enumerate(converters):
            for converter in field_converters:
                values[i] = converter(values[i], col, connection)
        instances.append(model.from_db(connection.alias, attnames, values))
    assignment, participant, study, timepoint, response = instances
    participant.study = study
    assignment.participant = participant
    assignment.timepoint = timepoint
    Assignment._meta.get_field("response").set_cached_value(assignment, response)
    if response is not None:
        response.assignment = assignment
    return assignment


def access_assignment_by_token(token: str, *, now: datetime) -> LinkAccess:
    """Resolve a link token. Times decide, not only status, so a link closes on
    time even if the beat task that flips statuses is late."""
    if not token or len(token) > 64:
        return LinkAccess(LinkState.UNKNOWN)
    assignment = _link_assignment(token_hash(token))
    if assignment is None:
        return LinkAccess(LinkState.UNKNOWN)
    if assignment.status == Assignment.Status.COMPLETED:
        state = LinkState.COMPLETED
    elif assignment.participant.status == Participant.Status.WITHDRAWN:
        state = LinkState.WITHDRAWN
    elif assignment.status == Assignment.Status.CANCELLED:
        state = LinkState.CANCELLED
    elif assignment.status == Assignment.Status.EXPIRED or now >= assignment.expires_at:
        state = LinkState.EXPIRED
    elif assignment.participant.study.consent_required and assignment.participant.consented_at is None:
        # Same rule as scheduling.MAY_OPEN: nothing is answered before consent is recorded, and
        # the patient may consent from the link before the questionnaire opens.
        state = LinkState.NEEDS_CONSENT
    elif now < assignment.due_at:
        state = LinkState.NOT_YET_OPEN
    else:
        state = LinkState.OPEN
    return LinkAccess(state, assignment)


def response_of(assignment: Assignment) -> Response | None:
    try:
        return assignment.response
    except Response.DoesNotExist:
        return None


# --- optional second check (year of birth) -------------------------------------------------

CHECK_COOKIE_SALT = "ressenti.link-check"
CHECK_COOKIE_AGE = 12 * 3600


class CheckResult(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    LOCKED = "locked"


def link_check_digest(*, participant: Participant, birth_year: int) -> str:
    """Keyed digest of the year of birth: the research database never holds the year itself,
    and without LINK_CHECK_KEY (kept outside the database) the digest reveals nothing."""
    message = f"{participant.study_id}:{participant.pseudonym}:{birth_year}".encode()
    return hmac.new(settings.LINK_CHECK_KEY.encode(), message, hashlib.sha256).hexdigest()


def check_cookie_name(assignment: Assignment) -> str:
    return f"ressenti_ok_{assignment.pk}"


def link_check_needed(assignment: Assignment, cookies: dict) -> bool:
    if assignment.participant.study.link_check == "none":
        return False
    signed = cookies.get(check_cookie_name(assignment))
    if signed:
        try:
            return signing.loads(signed, salt=CHECK_COOKIE_SALT, max_age=CHECK_COOKIE_AGE) != assignment.pk
        except signing.BadSignature:
            return True
    return True


def check_cookie_value(assignment: Assignment) -> str:
    return signing.dumps(assignment.pk, salt=CHECK_COOKIE_SALT)


def _attempt_keys(assignment: Assignment, ip: str) -> list[tuple[str, int]]:
    return [
        (f"linkcheck:link:{assignment.pk}", settings.LINK_CHECK_MAX_PER_LINK),
        (f"linkcheck:ip:{ip}", settings.LINK_CHECK_MAX_PER_IP),
    ]


def _lock_key(assignment: Assignment) -> str:
    return f"linkcheck:lock:{assignment.pk}"


def _link_locked(assignment: Assignment, now: datetime) -> bool:
    until = cache.get(_lock_key(assignment))
    return until is not None and until > now


def link_check_locked_until(assignment: Assignment, ip: str, *, now: datetime | None = None) -> datetime | None:
    """Until when the check of this link is refused (the link's own lock, or its address's window)."""
    now = now or timezone.now()
    until = cache.get(_lock_key(assignment))
    if until is not None and until > now:
        return until
    if (cache.get(f"linkcheck:ip:{ip}") or 0) >= settings.LINK_CHECK_MAX_PER_IP:
        return now + dt.timedelta(seconds=settings.LINK_CHECK_WINDOW)
    return None


def link_check_locked(assignment: Assignment, ip: str, *, now: datetime | None = None) -> bool:
    return link_check_locked_until(assignment, ip, now=now) is not None


def link_check_lock_duration(level: int) -> int:
    """Seconds of the level-th successive lock of a link: LINK_CHECK_WINDOW, doubled each time, capped."""
    return min(settings.LINK_CHECK_WINDOW * 2 ** (max(level, 1) - 1), settings.LINK_CHECK_LOCK_MAX)


def _lock(assignment: Assignment, *, now: datetime) -> LinkCheckLock:
    """Lock the link, longer if it was locked recently, and leave a row for the study team."""
    since = now - dt.timedelta(seconds=settings.LINK_CHECK_LOCK_MEMORY)
    level = LinkCheckLock.objects.filter(assignment=assignment, locked_until__gte=since).count() + 1
    until = now + dt.timedelta(seconds=link_check_lock_duration(level))
    lock = LinkCheckLock.objects.create(assignment=assignment, locked_at=now, locked_until=until, level=level)
    cache.set(_lock_key(assignment), until, timeout=int((until - now).total_seconds()) + 1)
    # After the lock the link gets its tries again (and the next lock is longer).
    cache.delete(f"linkcheck:link:{assignment.pk}")
    return lock


def window_count(key: str, *, window: int) -> int:
    """Count one more event under `key` and return the count including it, in one atomic step of the
    cache (add() starts a window of `window` seconds; incr() never extends it), so concurrent requests
    each get their own number. Shared by the link check here and the pre-screening rate limits."""
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        return 1 if cache.add(key, 1, timeout=window) else cache.incr(key)


def link_check_attempt(assignment: Assignment, *, answer: str, ip: str, now: datetime | None = None) -> CheckResult:
    """Compare the answer with the stored digest, at most LINK_CHECK_MAX_PER_LINK times per link and
    LINK_CHECK_MAX_PER_IP per address. Each attempt is counted BEFORE the comparison: many guesses sent at
    once each take a number first, and those past the limit are refused unread. The attempt that reaches
    the link's limit locks it (LinkCheckLock row), each lock longer than the last."""
    now = now or timezone.now()
    if link_check_locked(assignment, ip, now=now):
        return CheckResult.LOCKED
    link_key = f"linkcheck:link:{assignment.pk}"
    counts = {
        key: window_count(key, window=settings.LINK_CHECK_WINDOW) for key, _limit in _attempt_keys(assignment, ip)
    }
    # Checked again after counting: a lock set meanwhile also restarts the link's count (_lock), and a
    # guess numbered from that fresh count must not be read while the lock holds.
    if any(counts[key] > limit for key, limit in _attempt_keys(assignment, ip)) or _link_locked(assignment, now):
        return CheckResult.LOCKED
    participant = assignment.participant
    try:
        year = int(answer.strip())
    except ValueError:
        year = -1
    expected = participant.link_check_digest
    if expected and hmac.compare_digest(expected, link_check_digest(participant=participant, birth_year=year)):
        return CheckResult.PASSED
    if counts[link_key] == settings.LINK_CHECK_MAX_PER_LINK:
        _lock(assignment, now=now)
    return CheckResult.LOCKED if link_check_locked(assignment, ip, now=now) else CheckResult.FAILED
