"""Sending the planned messages: claim what is due, hand each to a send task, send it once.

A message moves through

    planned ──claim──▶ queued ──send claim──▶ sending ──▶ sent ──(callback)──▶ delivered
       ▲                 │  ▲                    │
       └─ lost task ─────┘  └── temporary error ─┤ (attempts < cap, back off)
                                                 └──▶ failed (permanent error, cap, outcome unknown)
    planned / queued ──(completed, expired, withdrawn, STOP, bounce)──▶ cancelled

Every arrow is a conditional UPDATE whose WHERE holds the expected status, so two beat
processes, a task delivered twice (acks_late) or a cancellation racing a send can never
move a row twice: whoever updates first wins, the other updates nothing and stops. The
unique key (assignment, sequence, channel, resend) makes a second row for the same send
impossible; this module makes a second provider call for the same row impossible.

Who calls what:
- beat, every minute: tasks.messages_dispatch_due → messages_dispatch (recover lost work,
  claim the due rows planned → queued, enqueue one tasks.messages_send per MESSAGES_SEND_BATCH);
- the batch task: tasks.messages_send → messages_send (queued → sending → sent/queued/failed):
  the rows are claimed a wave at a time, as many as the sender's rate (ratelimit.py, in Redis,
  shared by all workers) and MESSAGES_SEND_CONCURRENCY allow, just before their provider calls,
  which run concurrently in a thread pool; the answers are written down in bulk every 50 ms;
- retries and checks with the provider: one tasks.message_send → message_send per message, with
  the delay its outcome asks for (message_retries_enqueue).

Crash cases, and the choice made for each:
- The broker is down when the claim is handed over: the enqueue fails, the rows go straight
  back to planned; a crash between the claim's commit and the enqueue leaves rows queued with
  no task: after MESSAGES_QUEUED_TIMEOUT they go back to planned. Either way the next tick
  claims them again. A row claimed twice gets two tasks; the second finds it no longer
  queued and does nothing.
- The worker dies before the provider call: the row is still queued; acks_late hands the task
  to another worker, which sends it.
- The provider may have taken the message but we do not know (no answer within TWILIO_TIMEOUT,
  a connection dropped while waiting, a gateway's 502/504, or the worker died mid-call): the
  row goes to "unconfirmed". Twilio's Messages API has no idempotency key (a repeat with the
  same I-Twilio-Idempotency-Token is a second SMS), so nothing is sent again before the provider
  is asked: `message_reconcile` lists the number's latest messages and looks for this send's
  link, created since the attempt began (`sending_since`). Found: the row is sent, with the
  provider's id. Not found in two lookups MESSAGES_RECONCILE_DELAY apart: the provider never
  took it, and it is sent again. A channel that cannot be asked (email over SMTP, the console)
  is left AT MOST ONCE: failed with OUTCOME_UNKNOWN, shown to the study team (who can resend,
  an audited action). A lookup that keeps failing ends the same way after
  MESSAGES_RECONCILE_MAX_SECONDS.
- A worker that died mid-call leaves the row "sending": the minute sweep moves a row sending for
  longer than MESSAGES_SEND_TIMEOUT (far above TWILIO_TIMEOUT, so no live worker is still
  waiting on the provider) to unconfirmed and enqueues its check, so the outbox says what
  happened within minutes, not after the broker's visibility timeout.
- A temporary error defers the next attempt (backoff, Retry-After) and records `retry_at`; the
  sweep takes a queued row for lost only MESSAGES_QUEUED_TIMEOUT after that, so a long
  Retry-After is honoured.
- The database fails while the text is being prepared: a temporary error like a provider's 503,
  retried, never a permanent "rendering failed".
- The database goes away mid-send: once the provider has accepted the message, writing that
  down is retried (reconnecting) for up to DB_RETRY_SECONDS rather than lost; before the
  provider call, the task fails on the database error and is retried (tasks.py).

The provider is always called outside any database transaction: no row lock or open
transaction is held across a network call.
"""

from __future__ import annotations

import logging
import math
import random
import smtplib
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple, TypeVar

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from redis.exceptions import RedisError

from patients.messaging.planning import (
    CancelReason,
    channel_reachable,
    contact_mark_opted_out,
    contact_mark_undeliverable,
    message_fallback,
)
from patients.messaging.ratelimit import limiter_for
from patients.messaging.sms import (
    SmsError,
    SmsPermanentError,
    SmsTemporaryError,
    SmsUncertainError,
    backend_send_rates,
    can_look_up,
    get_backend,
)
from patients.messaging.sms.gsm import sms_segments
from patients.messaging.texts import email_render, message_language, message_links, sms_render
from patients.models import Message, Patient, SmsTemplate
from surveys.answering.links import assignment_link_token, assignment_link_tokens
from surveys.models import Assignment, Participant

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

Status = Message.Status
REACHABLE_ASSIGNMENTS = (Assignment.Status.PLANNED, Assignment.Status.OPEN)

OUTCOME_UNKNOWN = (
    "Outcome unknown: the provider may or may not have the message and cannot be asked. Not sent "
    "again, to avoid sending it twice; check with the provider before resending."
)
CHECKING = "checking with the provider before any new attempt"
# How long a result the provider gave us is retried into a database that went away.
DB_RETRY_SECONDS = 60.0


# --- settings ----------------------------------------------------------------------------------


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_attempts() -> int:
    return int(_setting("MESSAGES_SEND_MAX_ATTEMPTS", 6))


def send_timeout() -> float:
    return float(_setting("MESSAGES_SEND_TIMEOUT", 120.0))


def reconcile_delay() -> float:
    return float(_setting("MESSAGES_RECONCILE_DELAY", 20.0))


def retry_delay(*, attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt, `attempts` having failed so far.

    Exponential (base × 2^(attempts-1), capped) with full jitter, so a provider outage that
    failed a thousand sends does not get them all back in the same second; never sooner than
    the provider's Retry-After.
    """
    base = float(_setting("MESSAGES_RETRY_BASE_SECONDS", 30.0))
    cap = float(_setting("MESSAGES_RETRY_MAX_SECONDS", 600.0))
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = (rng or random).uniform(ceiling / 2, ceiling)  # "equal jitter": at least half the step
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


# --- who may still get a message ----------------------------------------------------------------

# The due rows worth sending: the questionnaire can still be answered and the patient is still in.
# Same rule as surveys.scheduling.planning.MAY_OPEN (active participant, consented where the study asks it),
# seen from the message.
STILL_WANTED = (
    Q(assignment__status__in=REACHABLE_ASSIGNMENTS)
    & Q(enrollment__withdrawn_at__isnull=True)
    & Q(assignment__participant__status=Participant.Status.ACTIVE)
    & (
        Q(assignment__participant__study__consent_required=False)
        | Q(assignment__participant__consented_at__isnull=False)
    )
)


def _why_not_wanted(message: Message, patient: Patient, now: datetime) -> str | None:
    """A CancelReason-like code when the message must not leave any more, else None."""
    assignment, enrollment = message.assignment, message.enrollment
    if assignment.status == Assignment.Status.COMPLETED:
        return CancelReason.COMPLETED
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= now:
        return CancelReason.EXPIRED
    if enrollment.withdrawn_at is not None or assignment.participant.status != Participant.Status.ACTIVE:
        return "withdrawn"
    if assignment.status not in REACHABLE_ASSIGNMENTS:
        return "assignment_cancelled"
    if not channel_reachable(patient=patient, channel=message.channel):
        if message.channel == Message.Channel.SMS and patient.sms_opted_out_at is not None:
            return CancelReason.SMS_OPTED_OUT
        if message.channel == Message.Channel.EMAIL and patient.email_undeliverable_at is not None:
            return CancelReason.EMAIL_UNDELIVERABLE
        return "no_address"
    return None


# --- claiming (beat) ------------------------------------------------------------------------------


def messages_claim_due(*, now: datetime, limit: int) -> list[int]:
    """Move up to `limit` due, still-wanted messages planned → queued; return their ids.

    On PostgreSQL the candidate rows are locked with SKIP LOCKED, so two beat processes claiming
    at once split the rows between them instead of waiting on each other; the UPDATE keeps
    `status = planned` in its WHERE anyway, so even without locks (SQLite) a row is claimed once.
    """
    candidates = Message.objects.filter(
        STILL_WANTED,
        status=Status.PLANNED,
        scheduled_at__lte=now,
        assignment__expires_at__gt=now,
        assignment__due_at__lte=now,
    ).order_by("scheduled_at", "pk")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
            ids = list(candidates.values_list("pk", flat=True)[:limit])
            # Locked by us: nobody else can have changed them since the SELECT.
            Message.objects.filter(pk__in=ids, status=Status.PLANNED).update(status=Status.QUEUED, updated_at=now)
            return ids
        # Without row locks, one conditional UPDATE per row tells which ones are ours.
        return [
            pk
            for pk in candidates.values_list("pk", flat=True)[:limit]
            if Message.objects.filter(pk=pk, status=Status.PLANNED).update(status=Status.QUEUED, updated_at=now)
        ]


def messages_recover_stale(*, now: datetime, enqueue: Callable[[int], object] | None = None) -> dict[str, int]:
    """Put back what a lost send task left behind (see the module docstring).

    queued for MESSAGES_QUEUED_TIMEOUT past its last change or its deferred retry → planned
    (claimed again at this tick); sending for longer than MESSAGES_SEND_TIMEOUT → unconfirmed, with
    a task enqueued to ask the provider; so is an unconfirmed row left unchecked for
    MESSAGES_QUEUED_TIMEOUT (its checking task was lost).
    """
    enqueue = enqueue or message_send_enqueue
    cut = now - timedelta(seconds=float(_setting("MESSAGES_QUEUED_TIMEOUT", 300.0)))
    lost = Q(retry_at__isnull=True, updated_at__lt=cut) | Q(retry_at__lt=cut)
    requeued = Message.objects.filter(lost, status=Status.QUEUED).update(
        status=Status.PLANNED, retry_at=None, updated_at=now
    )
    stale = now - timedelta(seconds=send_timeout())
    interrupted = Message.objects.filter(status=Status.SENDING, updated_at__lt=stale).update(
        status=Status.UNCONFIRMED,
        attempts=F("attempts") + 1,
        last_error=f"The send was interrupted; {CHECKING}.",
        updated_at=now,
    )
    # Just interrupted, or waiting for a check as long as a queued row waits for its task: the
    # task that was to check it is gone.
    unchecked = list(
        Message.objects.filter(Q(updated_at__lt=cut) | Q(updated_at=now), status=Status.UNCONFIRMED).values_list(
            "pk", flat=True
        )
    )
    rechecked = 0
    for pk in unchecked:
        # Touched first: the next sweep leaves it alone while this check is pending.
        if Message.objects.filter(pk=pk, status=Status.UNCONFIRMED).update(updated_at=now):
            try:
                enqueue(pk)
            except Exception:  # noqa: BLE001 - broker down: the next sweep tries again
                logger.warning("message %s: its check with the provider could not be enqueued", pk)
                break
            rechecked += 1
    if requeued or interrupted or rechecked:
        logger.warning(
            "messages recovered: %d queued without a task put back to planned, %d interrupted sends "
            "marked unconfirmed, %d checks with the provider enqueued",
            requeued,
            interrupted,
            rechecked,
        )
    return {"requeued": requeued, "unconfirmed": interrupted, "rechecked": rechecked}


def message_send_enqueue(message_id: int, *, countdown: float | None = None) -> None:
    """Hand one message to a send task on the configured queue (MESSAGES_SEND_QUEUE): a retry, a
    check with the provider, or a deployment's own one-task-per-message dispatch."""
    from patients.tasks import message_send  # the task module imports this one

    queue = _setting("MESSAGES_SEND_QUEUE", "") or None
    message_send.apply_async(args=[message_id], queue=queue, countdown=countdown)


def messages_send_enqueue(message_ids: list[int]) -> None:
    """Hand a batch of claimed messages to one send task (MESSAGES_SEND_QUEUE)."""
    from patients.tasks import messages_send

    queue = _setting("MESSAGES_SEND_QUEUE", "") or None
    messages_send.apply_async(args=[message_ids], queue=queue)


def send_batch_size() -> int:
    return max(1, int(_setting("MESSAGES_SEND_BATCH", 100)))


def dispatch_limit() -> int:
    """Messages one tick claims: MESSAGES_DISPATCH_BATCH, or (0) a minute of the SMS sender's rate,
    what the provider takes before the next tick; 1000 when SMS have no rate to respect."""
    configured = int(_setting("MESSAGES_DISPATCH_BATCH", 0))
    if configured > 0:
        return configured
    rates = backend_send_rates(get_backend())
    return max(1, math.ceil(60 * min(rate.per_second for rate in rates))) if rates else 1000


@dataclass
class DispatchReport:
    claimed: list[int] = field(default_factory=list)
    enqueued: int = 0  # messages handed to a send task
    released: int = 0  # claimed, but the broker refused them: back to planned
    recovered: dict[str, int] = field(default_factory=dict)
    error: str = ""


def messages_dispatch(
    *, now: datetime, limit: int | None = None, enqueue: Callable[[int], object] | None = None
) -> DispatchReport:
    """One beat tick: recover lost work, claim the due messages, enqueue their send tasks, a batch of
    MESSAGES_SEND_BATCH per task (`enqueue`, when given, hands over one message at a time instead).

    Call it outside any transaction: the claim commits before the tasks are enqueued, so a
    worker that picks one up at once finds the rows queued. If the broker refuses (Redis down:
    kombu.exceptions.OperationalError, after Celery's own publish retries), the remaining claimed
    rows are put back to planned at once and the next tick tries again; nothing waits for
    the MESSAGES_QUEUED_TIMEOUT safety net unless this process dies in between.
    """
    if enqueue is None:
        hand_over: Callable[[list[int]], object] = messages_send_enqueue
        size = send_batch_size()
    else:
        one = enqueue

        def hand_over(ids: list[int]) -> object:
            return one(ids[0])

        size = 1
    limit = limit if limit is not None else dispatch_limit()
    report = DispatchReport(recovered=messages_recover_stale(now=now, enqueue=enqueue))
    report.claimed = messages_claim_due(now=now, limit=limit)
    for start in range(0, len(report.claimed), size):
        batch = report.claimed[start : start + size]
        try:
            hand_over(batch)
        except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the rows must not strand
            rest = report.claimed[start:]
            report.released = Message.objects.filter(pk__in=rest, status=Status.QUEUED).update(
                status=Status.PLANNED, updated_at=now
            )
            report.error = f"{exc.__class__.__name__}: {exc}"
            logger.error(
                "messages dispatch: the broker refused the send task of message %d of %d (%s); %d message(s) "
                "put back to planned for the next tick",
                start + 1,
                len(report.claimed),
                report.error,
                report.released,
            )
            break
        report.enqueued += len(batch)
    if report.claimed:
        logger.info(
            "messages dispatch: %d claimed, %d enqueued, %d released",
            len(report.claimed),
            report.enqueued,
            report.released,
        )
    return report


# --- sending (the send task) -----------------------------------------------------------------------


@dataclass(frozen=True)
class SendOutcome:
    status: str  # the row's status afterwards (or "missing")
    # Seconds after which the task should run again (a temporary error, or another worker still
    # in the middle of this send); None: nothing more to do.
    retry_in: float | None = None
    detail: str = ""


class _Temporary(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Uncertain(Exception):
    """The provider may have the message: ask it before any new attempt."""


class _Permanent(Exception):
    def __init__(self, message: str, *, recipient_problem: bool = False, opted_out: bool = False):
        super().__init__(message)
        self.recipient_problem = recipient_problem
        self.opted_out = opted_out


def _db_retry(write: Callable[[], _T]) -> _T:
    """Run a write, reconnecting through a database restart for up to DB_RETRY_SECONDS.

    Used once the provider has answered: that answer is a fact to keep, and a failed write
    would leave the row "sending" (outcome unknown) although we know the outcome.
    """
    deadline = time.monotonic() + DB_RETRY_SECONDS
    delay = 0.2
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            logger.warning("database unavailable while recording a send; reconnecting in %.1f s", delay)
            # The broken connection is dropped; the next query opens a new one.
            connection.close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _load_many(message_ids: Sequence[int]) -> dict[int, Message]:
    # order_by(): no model ordering. A lookup by primary key needs none, and with stale statistics
    # the inherited ORDER BY turned a 0.3 ms index lookup into a 25 ms sort.
    rows = (
        Message.objects.select_related("assignment__participant", "enrollment__patient")
        .filter(pk__in=message_ids)
        .order_by()
    )
    return {message.pk: message for message in rows}


def _claim_for_send(
    messages: Sequence[_Queued], now: datetime
) -> tuple[list[tuple[Message, str]], dict[int, SendOutcome]]:
    """queued → sending, in one transaction, for the messages still wanted: ([(message, link
    token)], the outcomes of the others: cancelled, no longer queued, gone)."""
    ids = [message.pk for message in messages]
    outcomes: dict[int, SendOutcome] = {pk: SendOutcome("missing") for pk in ids}
    claimed: list[Message] = []
    cancelled: dict[str, list[int]] = defaultdict(list)
    with transaction.atomic():
        # Re-read under the row locks: a completion, withdrawal or STOP committing now either
        # committed before (we see it and cancel) or waits for us and finds the row "sending".
        # Locked in primary-key order, so two tasks holding overlapping ids cannot deadlock.
        locked = (
            Message.objects.select_for_update(of=("self",))
            .select_related("assignment__participant", "enrollment__patient")
            .filter(pk__in=ids)
            .order_by("pk")
        )
        for message in locked:
            reason = _why_not_wanted(message, message.enrollment.patient, now)
            if message.status != Status.QUEUED:
                # Sent by an earlier delivery of this task, cancelled, failed, or back to planned.
                outcomes[message.pk] = SendOutcome(message.status, detail="not queued")
            elif reason is not None:
                cancelled[str(reason)].append(message.pk)
                outcomes[message.pk] = SendOutcome(Status.CANCELLED, detail=str(reason))
            else:
                claimed.append(message)
                del outcomes[message.pk]
        for reason, pks in cancelled.items():
            Message.objects.filter(pk__in=pks, status=Status.QUEUED).update(
                status=Status.CANCELLED, last_error=reason, updated_at=now
            )
        if claimed:
            Message.objects.filter(pk__in=[m.pk for m in claimed], status=Status.QUEUED).update(
                status=Status.SENDING, sending_since=now, retry_at=None, updated_at=now
            )
        for message in claimed:
            message.status, message.sending_since, message.retry_at, message.updated_at = Status.SENDING, now, None, now
        # The links go out with these messages; only their hashes are stored (written the first time).
        tokens = assignment_link_tokens(assignments=[message.assignment for message in claimed])
    return [(message, tokens[message.assignment_id]) for message in claimed], outcomes


def _in_flight(message: Message, now: datetime) -> SendOutcome:
    """The row says another attempt is talking to the provider (or died doing so)."""
    age = (now - message.updated_at).total_seconds()
    timeout = send_timeout()
    if age < timeout:
        # Maybe a live worker (a second delivery of the same task): look again once it must be done.
        return SendOutcome(Status.SENDING, retry_in=max(1.0, timeout - age + 1.0), detail="in flight elsewhere")
    # Far past the provider's timeout: that attempt is over, its outcome unknown. Ask the provider.
    changed = Message.objects.filter(pk=message.pk, status=Status.SENDING, updated_at=message.updated_at).update(
        status=Status.UNCONFIRMED,
        attempts=F("attempts") + 1,
        last_error=f"The send was interrupted; {CHECKING}.",
        updated_at=now,
    )
    if not changed:
        current = Message.objects.filter(pk=message.pk).values_list("status", flat=True).first()
        return SendOutcome(current or "missing", detail="settled meanwhile")
    logger.warning("message %s: a send was interrupted %.0f s ago; checking with the provider", message.pk, age)
    message.status = Status.UNCONFIRMED
    return message_reconcile(message=message, now=now)


# --- settling an uncertain send ----------------------------------------------------------------------


def _can_reconcile(message: Message) -> bool:
    return message.channel == Message.Channel.SMS and can_look_up(get_backend())


def message_reconcile(*, message: Message, now: datetime) -> SendOutcome:
    """Settle an unconfirmed message with the provider (module docstring): sent, sent again, or
    failed with OUTCOME_UNKNOWN when the provider cannot be asked."""
    since = message.sending_since or message.updated_at
    age = (now - since).total_seconds()
    give_up = float(_setting("MESSAGES_RECONCILE_MAX_SECONDS", 3600.0))
    if not _can_reconcile(message):
        return _record_unknown(message, now)
    patient = message.enrollment.patient
    reference = message_links(token=assignment_link_token(assignment=message.assignment)).link
    try:
        found = get_backend().find_sent(to=patient.phone, reference=reference, since=since)
    except SmsError as exc:
        if age >= give_up:
            return _record_unknown(message, now)
        logger.info("message %s: the provider could not be asked (%s); asking again later", message.pk, exc)
        return _look_again(message, now, str(exc))
    if found is not None:
        recorded = _db_retry(
            partial(_record_sent, [(message, found.provider_id, found.provider_status or "found")], count_attempt=False)
        )
        return recorded[message.pk]
    if age < 2 * reconcile_delay():
        # The provider's list may lag behind its writes by a few seconds: look once more later.
        return _look_again(message, now, "not found yet")
    requeued = Message.objects.filter(pk=message.pk, status=Status.UNCONFIRMED).update(
        status=Status.QUEUED, last_error=f"{message.last_error} Not at the provider: sent again."[:1000], updated_at=now
    )
    if not requeued:
        return SendOutcome(
            Message.objects.filter(pk=message.pk).values_list("status", flat=True).first() or "missing",
            detail="settled meanwhile",
        )
    logger.info("message %s: the provider has no such message; sending it again", message.pk)
    return SendOutcome(Status.QUEUED, retry_in=1.0, detail="not at the provider")


def _look_again(message: Message, now: datetime, detail: str) -> SendOutcome:
    # Touched, so the sweep knows a task is still on it and enqueues no second one.
    Message.objects.filter(pk=message.pk, status=Status.UNCONFIRMED).update(updated_at=now)
    return SendOutcome(Status.UNCONFIRMED, retry_in=reconcile_delay(), detail=detail)


def _record_unknown(message: Message, now: datetime) -> SendOutcome:
    changed = Message.objects.filter(pk=message.pk, status=Status.UNCONFIRMED).update(
        status=Status.FAILED, last_error=OUTCOME_UNKNOWN, updated_at=now
    )
    if changed:
        logger.warning(
            "message %s: outcome unknown and the provider cannot be asked; marked failed, not resent", message.pk
        )
    return SendOutcome(Status.FAILED, detail="outcome unknown")


def _send_sms(message: Message, patient: Patient, body: str) -> tuple[str, str]:
    if not patient.phone:
        raise _Permanent("No phone number", recipient_problem=True)
    try:
        result = get_backend().send_sms(to=patient.phone, body=body, idempotency_key=f"message-{message.pk}")
    except SmsTemporaryError as exc:
        raise _Temporary(str(exc), retry_after=exc.retry_after) from exc
    except SmsUncertainError as exc:
        raise _Uncertain(str(exc)) from exc
    except SmsPermanentError as exc:
        raise _Permanent(str(exc), recipient_problem=exc.recipient_problem, opted_out=exc.opted_out) from exc
    except SmsError as exc:
        raise _Temporary(str(exc)) from exc
    return result.provider_id, result.provider_status


def _smtp_code(exc: smtplib.SMTPException) -> int | None:
    code = getattr(exc, "smtp_code", None)
    return code if isinstance(code, int) else None


def _close_quietly(connection) -> None:
    # After a failed exchange QUIT may fail too (a hung server): that must not hide the first error.
    try:
        connection.close()
    except (smtplib.SMTPException, OSError):
        logger.info("email connection not closed cleanly", exc_info=True)


def _send_email(message: Message, patient: Patient, rendered) -> tuple[str, str]:
    if not patient.email:
        raise _Permanent("No email address", recipient_problem=True)
    email = EmailMultiAlternatives(
        rendered.subject,
        rendered.text,
        settings.DEFAULT_FROM_EMAIL,
        [patient.email],
        headers={"X-Ressenti-Message": f"message-{message.pk}"},
    )
    email.attach_alternative(rendered.html, "text/html")
    # For anymail backends: tracking webhooks find the row again; other backends ignore it.
    email.metadata = {"ressenti_message": str(message.pk)}
    # Opened apart from the send: a server that cannot be reached or does not greet us surely
    # has no message (temporary), while one that stops answering during the exchange may have.
    email.connection = get_connection(fail_silently=False)
    try:
        email.connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        raise _Temporary(f"Email server unreachable: {exc.__class__.__name__}") from exc
    try:
        email.send(fail_silently=False)
    except AnymailRecipientsRefused as exc:
        raise _Permanent(f"Email refused by the provider: {exc.__class__.__name__}", recipient_problem=True) from exc
    except AnymailAPIError as exc:
        status = getattr(exc, "status_code", None)
        if status is not None and 400 <= status < 500 and status != 429:
            raise _Permanent(f"Email provider refused the request: HTTP {status}") from exc
        if status is None or status in (502, 504):
            raise _Uncertain(f"Email provider did not answer{f': HTTP {status}' if status else ''}") from exc
        raise _Temporary(f"Email provider error: HTTP {status}") from exc
    except AnymailError as exc:
        raise _Temporary(f"Email provider error: {exc.__class__.__name__}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise _Temporary(f"SMTP recipient deferred ({codes[0]})") from exc
        raise _Permanent(f"SMTP recipient refused ({codes[0] if codes else '?'})", recipient_problem=True) from exc
    except smtplib.SMTPConnectError as exc:
        raise _Temporary(f"SMTP server unavailable: {exc.__class__.__name__}") from exc
    except smtplib.SMTPServerDisconnected as exc:
        # The server hung up during the exchange: maybe after taking the message.
        raise _Uncertain(f"SMTP server disconnected: {exc.__class__.__name__}") from exc
    except smtplib.SMTPException as exc:
        code = _smtp_code(exc)
        if code is not None and 500 <= code < 600:
            raise _Permanent(f"SMTP error {code}") from exc
        raise _Temporary(f"SMTP error {code or exc.__class__.__name__}") from exc
    except OSError as exc:  # includes TimeoutError: the server may have the message
        raise _Uncertain(f"Email server did not answer: {exc.__class__.__name__}") from exc
    finally:
        _close_quietly(email.connection)
    status = getattr(email, "anymail_status", None)
    return (getattr(status, "message_id", None) or "", str(getattr(status, "status", None) or "") or "sent")


@dataclass(frozen=True)
class _Prepared:
    message: Message
    patient: Patient
    sms_body: str = ""
    email: object = None


class _SmsWordings:
    """The studies' own SMS wordings (checked when saved), read once for all the (study, kind,
    language) of a wave instead of once per message; None: the shipped text."""

    def __init__(self) -> None:
        self._texts: dict[tuple[int, str, str], str | None] = {}

    @staticmethod
    def _key(message: Message) -> tuple[int, str, str]:
        patient = message.enrollment.patient
        return (message.assignment.participant.study_id, message.kind, message_language(patient.language))

    def load(self, messages: Iterable[Message]) -> None:
        wanted = {self._key(m) for m in messages if m.channel == Message.Channel.SMS} - self._texts.keys()
        if not wanted:
            return
        rows = SmsTemplate.objects.filter(
            study_id__in={k[0] for k in wanted}, kind__in={k[1] for k in wanted}, language__in={k[2] for k in wanted}
        ).values_list("study_id", "kind", "language", "text")
        found = {(study, kind, language): text for study, kind, language, text in rows}
        self._texts.update({key: found.get(key) for key in wanted})

    def text(self, message: Message) -> str | None:
        return self._texts.get(self._key(message))


def _prepare(message: Message, token: str, wordings: _SmsWordings) -> _Prepared:
    """Render the text in the patient's language, with the link of this send."""
    patient = message.enrollment.patient
    links = message_links(token=token)
    if message.channel == Message.Channel.SMS:
        body = sms_render(
            kind=message.kind,
            language=message_language(patient.language),
            link=links.link,
            withdraw_link=links.withdraw,
            template=wordings.text(message),
        )
        return _Prepared(message, patient, sms_body=body)
    rendered = email_render(
        kind=message.kind,
        language=patient.language,
        link=links.link,
        withdraw_link=links.withdraw,
        expires_at=message.assignment.expires_at,
        time_zone=patient.time_zone,
    )
    return _Prepared(message, patient, email=rendered)


def _provider_call(prepared: _Prepared) -> tuple[str, str]:
    if prepared.message.channel == Message.Channel.SMS:
        return _send_sms(prepared.message, prepared.patient, prepared.sms_body)
    return _send_email(prepared.message, prepared.patient, prepared.email)


def message_send(*, message_id: int, now: datetime | None = None) -> SendOutcome:
    """Send one queued message through its channel, once; record what happened (messages_send)."""
    return messages_send(message_ids=[message_id], now=now)[message_id]


def messages_send(*, message_ids: Sequence[int], now: datetime | None = None) -> dict[int, SendOutcome]:
    """Send the queued ones of these messages, each once, concurrently within the provider's rate;
    settle the others (in flight elsewhere, unconfirmed); record what happened. Outcome per id.

    `retry_in` in an outcome asks the caller (the task) to come back to that message later. Never
    raises for a provider error: those are recorded on the rows (attempts, last_error). A database
    error before a message reached the provider propagates (the task retries the batch; the claims
    are conditional); one after is retried into the database (_db_retry).
    """
    now = now or timezone.now()
    # Only the status is needed to sort them: the queued ones (nearly all) are read in full once,
    # when they are claimed; the others now.
    states = {
        pk: (status, channel)
        for pk, status, channel in Message.objects.filter(pk__in=message_ids)
        .order_by()
        .values_list("pk", "status", "channel")
    }
    unsettled = _load_many(
        [pk for pk, (status, _channel) in states.items() if status in (Status.SENDING, Status.UNCONFIRMED)]
    )
    outcomes: dict[int, SendOutcome] = {}
    queued: list[_Queued] = []
    for pk in dict.fromkeys(message_ids):
        status, channel = states.get(pk, ("missing", ""))
        if status == "missing":
            outcomes[pk] = SendOutcome("missing")
        elif status == Status.SENDING:
            outcomes[pk] = _in_flight(unsettled[pk], now)
        elif status == Status.UNCONFIRMED:
            outcomes[pk] = message_reconcile(message=unsettled[pk], now=now)
        elif status != Status.QUEUED:
            # Sent by an earlier delivery of this task, cancelled, failed, or back to planned.
            outcomes[pk] = SendOutcome(status, detail="not queued")
        else:
            queued.append(_Queued(pk, channel))
    if queued:
        outcomes.update(_Batch(queued, now).run())
    return outcomes


class _Queued(NamedTuple):
    pk: int
    channel: str


class _LimiterDown(Exception):
    pass


class _Batch:
    """Queued messages through the provider: take send tokens, claim a wave (as many as the rate
    and MESSAGES_SEND_CONCURRENCY allow now), prepare it, hand it to the thread pool; write the
    answers down every RECORD_SECONDS or RECORD_SIZE answers, while the next wave is in flight.

    Claimed just before its provider call, a message is never "sending" while it waits for the rate;
    the provider is called from the pool's threads only, the database from this one only, never
    across a network call."""

    RECORD_SECONDS = 0.05
    RECORD_SIZE = 100

    def __init__(self, messages: list[_Queued], now: datetime):
        self.pending = deque(messages)
        self.now, self.started = now, time.monotonic()
        self.concurrency = max(1, int(_setting("MESSAGES_SEND_CONCURRENCY", 16)))
        self.wordings = _SmsWordings()
        self.outcomes: dict[int, SendOutcome] = {}
        self.in_flight: dict[Future, _Prepared] = {}
        self.answers: list[tuple[_Prepared, tuple[str, str] | BaseException]] = []
        self.limiter = (
            limiter_for(backend_send_rates(get_backend()))
            if any(m.channel == Message.Channel.SMS for m in messages)
            else None
        )
        # A batch waiting long for its rate keeps its queued rows fresh: the sweep must not take them
        # for lost (MESSAGES_QUEUED_TIMEOUT) while this task is alive and on them.
        self.touch_every = float(_setting("MESSAGES_QUEUED_TIMEOUT", 300.0)) / 3
        self.touched = time.monotonic()

    def clock(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)

    def run(self) -> dict[int, SendOutcome]:
        pool = _send_pool(self.concurrency)
        recorded = time.monotonic()
        try:
            while self.pending or self.in_flight:
                wait = 0.0
                # Up to two waves in the pool (one in the provider's hands, one ready behind it); the
                # next is claimed once half of that is free, so claims stay a wave at a time rather
                # than one message per answer.
                if self.pending and len(self.in_flight) <= self.concurrency:
                    try:
                        wave, wait = self._granted(2 * self.concurrency - len(self.in_flight))
                    except _LimiterDown:
                        self._leave_pending("the rate limiter (Redis) is unavailable")
                        wave = []
                    for prepared in self._claim_and_prepare(wave):
                        self.in_flight[pool.submit(_provider_call, prepared)] = prepared
                if self.in_flight:
                    done, _ = futures_wait(
                        self.in_flight,
                        timeout=min(wait or self.RECORD_SECONDS, self.RECORD_SECONDS),
                        return_when=FIRST_COMPLETED,
                    )
                    for future in done:
                        self.answers.append((self.in_flight.pop(future), _answer(future)))
                elif wait:
                    time.sleep(wait)
                if self.answers and (
                    not self.in_flight
                    or len(self.answers) >= self.RECORD_SIZE
                    or time.monotonic() - recorded >= self.RECORD_SECONDS
                ):
                    self._record()
                    recorded = time.monotonic()
                self._touch_waiting()
        finally:
            # Leaving on an error (the database, mid-batch): what reached the provider is still
            # written down before the error goes up.
            for future in as_completed(list(self.in_flight)):
                self.answers.append((self.in_flight.pop(future), _answer(future)))
            if self.answers:
                self._record()
        return self.outcomes

    def _granted(self, room: int) -> tuple[list[_Queued], float]:
        """Up to `room` pending messages the rate lets go now, and the seconds until the next
        token when the rate stopped the wave (0: it did not)."""
        wave: list[_Queued] = []
        while self.pending and len(wave) < room:
            if self.limiter is None or self.pending[0].channel != Message.Channel.SMS:
                wave.append(self.pending.popleft())
                continue
            # The SMS at the head of the queue, asked for in one take when the bucket holds them
            # all (one Redis call a wave, not one a message), else one at a time.
            run = 0
            while run < min(room - len(wave), self.limiter.burst, len(self.pending)):
                if self.pending[run].channel != Message.Channel.SMS:
                    break
                run += 1
            try:
                wait = self.limiter.take(run)
                if wait and run > 1:
                    run, wait = 1, self.limiter.take(1)
            except RedisError as exc:
                logger.error("send rates cannot be read (%s): the batch's unsent messages wait", exc)
                raise _LimiterDown from exc
            if wait:
                return wave, wait
            wave.extend(self.pending.popleft() for _ in range(run))
        return wave, 0.0

    def _leave_pending(self, why: str) -> None:
        # Still queued, not claimed: a retry (or the lost-task sweep) sends them.
        delay = retry_delay(attempts=1)
        for message in self.pending:
            self.outcomes[message.pk] = SendOutcome(Status.QUEUED, retry_in=delay, detail=why)
        self.pending.clear()

    def _claim_and_prepare(self, wave: list[_Queued]) -> list[_Prepared]:
        if not wave:
            return []
        claimed, settled = _claim_for_send(wave, self.clock())
        self.outcomes.update(settled)
        try:
            self.wordings.load(message for message, _token in claimed)
        except (OperationalError, InterfaceError) as exc:
            # The database went away (it is read for the study's wording): nothing reached the
            # provider, and a later attempt will work.
            failure = _Temporary(f"Database unavailable while preparing the text: {exc.__class__.__name__}")
            self.outcomes.update(_db_retry(partial(_record_temporary, [(m, failure) for m, _token in claimed])))
            return []
        prepared = []
        for message, token in claimed:
            try:
                prepared.append(_prepare(message, token, self.wordings))
            except Exception as exc:
                # Nothing reached the provider: a template or data problem, which a retry would not fix.
                logger.exception("message %s: the text could not be rendered", message.pk)
                unrenderable = _Permanent(f"Rendering failed: {exc.__class__.__name__}")
                self.outcomes[message.pk] = _db_retry(partial(_record_permanent, message, unrenderable))
        if self.limiter is not None:
            # The provider counts segments: the first was taken before the claim, the others now.
            extra = sum(sms_segments(p.sms_body).segments - 1 for p in prepared if p.sms_body)
            if extra:
                try:
                    self.limiter.wait_for(extra)
                except RedisError:
                    logger.warning("send rates cannot be read: %d extra segment(s) not counted", extra)
        return prepared

    def _record(self) -> None:
        answers, self.answers = self.answers, []
        sent, temporary, uncertain = [], [], []
        for prepared, answer in answers:
            message = prepared.message
            if isinstance(answer, tuple):
                sent.append((message, *answer))
            elif isinstance(answer, _Temporary):
                temporary.append((message, answer))
            elif isinstance(answer, _Uncertain):
                uncertain.append((message, answer))
            elif isinstance(answer, _Permanent):
                self.outcomes[message.pk] = _db_retry(partial(_record_permanent, message, answer))
            else:
                # An unexpected library error: the provider may or may not have the message. Left
                # "sending", the sweep checks it with the provider after MESSAGES_SEND_TIMEOUT.
                logger.error("message %s: unexpected error during the provider call", message.pk, exc_info=answer)
                self.outcomes[message.pk] = SendOutcome(
                    Status.SENDING, detail=f"unexpected {answer.__class__.__name__}"
                )
        if sent:
            self.outcomes.update(_db_retry(partial(_record_sent, sent)))
        if temporary:
            self.outcomes.update(_db_retry(partial(_record_temporary, temporary)))
        if uncertain:
            self.outcomes.update(_db_retry(partial(_record_uncertain, uncertain)))

    def _touch_waiting(self) -> None:
        if self.pending and time.monotonic() - self.touched >= self.touch_every:
            Message.objects.filter(pk__in=[m.pk for m in self.pending], status=Status.QUEUED).update(
                updated_at=self.clock()
            )
            self.touched = time.monotonic()


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _send_pool(size: int) -> ThreadPoolExecutor:
    """The process's provider-call threads, kept from one batch to the next (starting 16 threads per
    batch cost more than the batch's database work)."""
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="message-send")
        return pool


def _answer(future: Future) -> tuple[str, str] | BaseException:
    """The provider's (id, status), or the exception the call raised."""
    exc = future.exception()
    return exc if exc is not None else future.result()


def message_retries_enqueue(outcomes: dict[int, SendOutcome]) -> int:
    """One send task per message whose outcome asks to come back later (a retry, a check with the
    provider), after its `retry_in`. The broker refusing stops here: those rows stay queued or
    unconfirmed, and the sweep (messages_recover_stale) hands them over again."""
    enqueued = 0
    for pk, outcome in outcomes.items():
        if outcome.retry_in is None:
            continue
        try:
            message_send_enqueue(pk, countdown=outcome.retry_in)
        except Exception:  # noqa: BLE001 - broker down: the sweep takes over
            logger.warning("message %s: its next attempt could not be enqueued; the sweep will", pk)
            break
        enqueued += 1
    return enqueued


def _record_sent(items: list[tuple[Message, str, str]], *, count_attempt: bool = True) -> dict[int, SendOutcome]:
    now = timezone.now()
    ids = [message.pk for message, _id, _status in items]
    with transaction.atomic():
        sent = _mark_sent(
            {message.pk: provider_id[:128] for message, provider_id, _s in items}, now=now, count_attempt=count_attempt
        )
        if sent:
            # Rarely not all of them (settled meanwhile by another path): which ones, then.
            mine = (
                set(ids)
                if sent == len(ids)
                else set(
                    Message.objects.filter(pk__in=ids, status=Status.SENT, sent_at=now).values_list("pk", flat=True)
                )
            )
            by_channel: dict[str, list[int]] = defaultdict(list)
            for message, _id, _status in items:
                if message.pk in mine:
                    by_channel[message.channel].append(message.assignment_id)
            # The research side keeps the channel that first reached the patient (exports report it).
            for channel, assignment_ids in by_channel.items():
                Assignment.objects.filter(pk__in=assignment_ids, invitation_channel="").update(
                    invitation_channel=channel
                )
    for message, _id, provider_status in items:
        logger.debug("message %s sent by %s (%s)", message.pk, message.channel, provider_status or "accepted")
    logger.info("%d message(s) sent", len(items))
    return {message.pk: SendOutcome(Status.SENT, detail=provider_status) for message, _id, provider_status in items}


def _mark_sent(provider_ids: dict[int, str], *, now: datetime, count_attempt: bool) -> int:
    """sending/unconfirmed → sent with each row's provider id, in one UPDATE; the rows changed.

    Unconfirmed too: a slow attempt that the sweep gave up on may still bring the answer."""
    settled = (Status.SENDING, Status.UNCONFIRMED)
    if connection.vendor == "postgresql":
        # The ids and provider ids as two arrays: one short statement whatever the batch size (the
        # ORM's CASE WHEN per row cost more Python time to build than the database took to run it).
        table = Message._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE "{table}" AS m SET status = %s, provider_id = v.provider_id, sent_at = %s, '
                "attempts = m.attempts + %s, last_error = '', updated_at = %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(id, provider_id) "
                "WHERE m.id = v.id AND m.status = ANY(%s)",
                [
                    Status.SENT,
                    now,
                    1 if count_attempt else 0,
                    now,
                    list(provider_ids),
                    list(provider_ids.values()),
                    list(settled),
                ],
            )
            return cursor.rowcount
    return Message.objects.filter(pk__in=list(provider_ids), status__in=settled).update(
        status=Status.SENT,
        provider_id=Case(*(When(pk=pk, then=Value(pid)) for pk, pid in provider_ids.items()), default=F("provider_id")),
        sent_at=now,
        attempts=F("attempts") + 1 if count_attempt else F("attempts"),
        last_error="",
        updated_at=now,
    )


def _record_temporary(items: list[tuple[Message, _Temporary]]) -> dict[int, SendOutcome]:
    now = timezone.now()
    rows, outcomes = [], {}
    for message, exc in items:
        attempts = message.attempts + 1
        error = f"Attempt {attempts}: {exc}"[:1000]
        if attempts >= max_attempts():
            error = f"{error} (gave up after {attempts} attempts)"[-1000:]
            rows.append(
                Message(pk=message.pk, status=Status.FAILED, attempts=attempts, last_error=error, updated_at=now)
            )
            logger.warning("message %s failed after %d attempts: %s", message.pk, attempts, exc)
            outcomes[message.pk] = SendOutcome(Status.FAILED, detail=error)
            continue
        delay = retry_delay(attempts=attempts, retry_after=exc.retry_after)
        rows.append(
            Message(
                pk=message.pk,
                status=Status.QUEUED,
                attempts=attempts,
                last_error=error,
                retry_at=now + timedelta(seconds=delay),
                updated_at=now,
            )
        )
        logger.info(
            "message %s: temporary failure (%s); attempt %d again in %.1f s", message.pk, exc, attempts + 1, delay
        )
        outcomes[message.pk] = SendOutcome(Status.QUEUED, retry_in=delay, detail=error)
    # retry_at of a failed row: None, as the claim left it.
    Message.objects.filter(status=Status.SENDING).bulk_update(
        rows, ["status", "attempts", "last_error", "retry_at", "updated_at"]
    )
    return outcomes


def _record_uncertain(items: list[tuple[Message, _Uncertain]]) -> dict[int, SendOutcome]:
    now = timezone.now()
    rows = [
        Message(
            pk=message.pk,
            status=Status.UNCONFIRMED,
            attempts=message.attempts + 1,
            last_error=f"Attempt {message.attempts + 1}: {exc}; {CHECKING}."[:1000],
            updated_at=now,
        )
        for message, exc in items
    ]
    Message.objects.filter(status=Status.SENDING).bulk_update(rows, ["status", "attempts", "last_error", "updated_at"])
    outcomes = {}
    for message, exc in items:
        message.status = Status.UNCONFIRMED
        if not _can_reconcile(message):
            outcomes[message.pk] = _record_unknown(message, now)
            continue
        logger.info(
            "message %s: outcome uncertain (%s); checking with the provider in %.0f s",
            message.pk,
            exc,
            reconcile_delay(),
        )
        outcomes[message.pk] = SendOutcome(Status.UNCONFIRMED, retry_in=reconcile_delay(), detail=str(exc))
    return outcomes


def _record_permanent(message: Message, exc: _Permanent) -> SendOutcome:
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.FAILED, attempts=F("attempts") + 1, last_error=str(exc)[:1000], updated_at=now
        )
        patient = message.enrollment.patient
        if message.channel == Message.Channel.SMS and exc.opted_out:
            # The provider holds a STOP for this number: record it as ours, which cancels and re-routes
            # every pending SMS of the patient (this one is failed, so it is re-routed below).
            contact_mark_opted_out(patient=patient, channel=Message.Channel.SMS, now=now)
        elif message.channel == Message.Channel.EMAIL and exc.recipient_problem:
            contact_mark_undeliverable(
                patient=patient, channel=Message.Channel.EMAIL, reason="refused at send time", now=now
            )
        # The same invitation or reminder on the other channel, where the timepoint allows it.
        fallback = message_fallback(message=message, now=now)
    logger.warning(
        "message %s failed permanently (%s)%s",
        message.pk,
        exc,
        f"; planned again as message {fallback.pk} by {fallback.channel}" if fallback else "",
    )
    return SendOutcome(Status.FAILED, detail=str(exc))


def on_sms_failed_permanently(sender, *, message: Message, code: int | None = None, **kwargs) -> None:
    """Receiver of patients.messaging.sms.sms_failed_permanently (a Twilio callback said "undelivered" with a
    recipient error after the send): plan the email fallback, as at send time."""
    message_fallback(message=message)
