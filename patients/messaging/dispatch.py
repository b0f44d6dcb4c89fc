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
  claim the due rows planned → queued, enqueue one tasks.message_send per row);
- the send task: tasks.message_send → message_send (queued → sending → sent/queued/failed).

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
import random
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from patients.messaging.planning import (
    CancelReason,
    channel_reachable,
    contact_mark_opted_out,
    contact_mark_undeliverable,
    message_fallback,
)
from patients.messaging.sms import (
    SmsError,
    SmsPermanentError,
    SmsTemporaryError,
    SmsUncertainError,
    can_look_up,
    get_backend,
)
from patients.messaging.texts import email_render, message_language, message_links, sms_render
from patients.models import Message, Patient, SmsTemplate
from surveys.answering.links import assignment_link_token
from surveys.models import Assignment, Participant

logger = logging.getLogger(__name__)

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


def message_send_enqueue(message_id: int) -> None:
    """Hand one message to a send task on the configured queue (MESSAGES_SEND_QUEUE)."""
    from patients.tasks import message_send  # the task module imports this one

    queue = _setting("MESSAGES_SEND_QUEUE", "") or None
    message_send.apply_async(args=[message_id], queue=queue)


@dataclass
class DispatchReport:
    claimed: list[int] = field(default_factory=list)
    enqueued: int = 0
    released: int = 0  # claimed, but the broker refused them: back to planned
    recovered: dict[str, int] = field(default_factory=dict)
    error: str = ""


def messages_dispatch(
    *, now: datetime, limit: int | None = None, enqueue: Callable[[int], object] | None = None
) -> DispatchReport:
    """One beat tick: recover lost work, claim the due messages, enqueue a send task for each.

    Call it outside any transaction: the claim commits before the tasks are enqueued, so a
    worker that picks one up at once finds the row queued. If the broker refuses (Redis down:
    kombu.exceptions.OperationalError, after Celery's own publish retries), the remaining claimed
    rows are put back to planned at once and the next tick tries again; nothing waits for
    the MESSAGES_QUEUED_TIMEOUT safety net unless this process dies in between.
    """
    enqueue = enqueue or message_send_enqueue
    limit = limit if limit is not None else int(_setting("MESSAGES_DISPATCH_BATCH", 1000))
    report = DispatchReport(recovered=messages_recover_stale(now=now, enqueue=enqueue))
    report.claimed = messages_claim_due(now=now, limit=limit)
    for position, pk in enumerate(report.claimed):
        try:
            enqueue(pk)
        except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the rows must not strand
            rest = report.claimed[position:]
            report.released = Message.objects.filter(pk__in=rest, status=Status.QUEUED).update(
                status=Status.PLANNED, updated_at=now
            )
            report.error = f"{exc.__class__.__name__}: {exc}"
            logger.error(
                "messages dispatch: the broker refused send task %d of %d (%s); %d message(s) put back "
                "to planned for the next tick",
                position + 1,
                len(report.claimed),
                report.error,
                report.released,
            )
            break
        report.enqueued += 1
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


def _db_retry(write: Callable[[], object]) -> object:
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


def _load(message_id: int) -> Message | None:
    return (
        Message.objects.select_related("assignment__participant", "enrollment__patient").filter(pk=message_id).first()
    )


def _claim_for_send(message_id: int, now: datetime) -> tuple[Message | None, str, SendOutcome | None]:
    """queued → sending, if the message is still wanted: (message, link token, None);
    else (None, "", the outcome to report)."""
    message = _load(message_id)
    if message is None:
        return None, "", SendOutcome("missing")
    if message.status == Status.SENDING:
        return None, "", _in_flight(message, now)
    if message.status == Status.UNCONFIRMED:
        return None, "", message_reconcile(message=message, now=now)
    if message.status != Status.QUEUED:
        # Sent by an earlier delivery of this task, cancelled, failed, or back to planned.
        return None, "", SendOutcome(message.status, detail="not queued")
    with transaction.atomic():
        # Re-read under the row lock: a completion, withdrawal or STOP committing now either
        # committed before (we see it and cancel) or waits for us and finds the row "sending".
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("assignment__participant", "enrollment__patient")
            .get(pk=message_id)
        )
        if message.status != Status.QUEUED:
            return None, "", SendOutcome(message.status, detail="not queued")
        patient = message.enrollment.patient
        reason = _why_not_wanted(message, patient, now)
        if reason is not None:
            Message.objects.filter(pk=message.pk, status=Status.QUEUED).update(
                status=Status.CANCELLED, last_error=str(reason), updated_at=now
            )
            return None, "", SendOutcome(Status.CANCELLED, detail=str(reason))
        Message.objects.filter(pk=message.pk, status=Status.QUEUED).update(
            status=Status.SENDING, sending_since=now, retry_at=None, updated_at=now
        )
        message.status, message.sending_since, message.updated_at = Status.SENDING, now, now
        # The link goes out with this message: a new token, whose hash only is stored (an earlier
        # message's link of the same assignment stops working; the latest message always works).
        token = assignment_link_token(assignment=message.assignment)
    return message, token, None


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
        return _db_retry(
            partial(_record_sent, message, found.provider_id, found.provider_status or "found", count_attempt=False)
        )
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


def _prepare(message: Message, token: str) -> _Prepared:
    """Render the text in the patient's language, with the link of this send."""
    patient = message.enrollment.patient
    links = message_links(token=token)
    if message.channel == Message.Channel.SMS:
        language = message_language(patient.language)
        # The study's own wording when it has one (checked when saved), else the shipped text.
        own = (
            SmsTemplate.objects.filter(
                study_id=message.assignment.participant.study_id, kind=message.kind, language=language
            )
            .values_list("text", flat=True)
            .first()
        )
        body = sms_render(
            kind=message.kind, language=language, link=links.link, withdraw_link=links.withdraw, template=own
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
    """Send one queued message through its channel, once; record what happened.

    Returns the outcome; `retry_in` asks the caller (the task) to come back later. Never raises
    for a provider error: those are recorded on the row (attempts, last_error).
    """
    now = now or timezone.now()
    message, token, outcome = _claim_for_send(message_id, now)
    if outcome is not None:
        return outcome
    try:
        prepared = _prepare(message, token)
    except (OperationalError, InterfaceError) as exc:
        # The database went away (it is read for the study's wording): nothing reached the
        # provider, and a later attempt will work.
        failure = _Temporary(f"Database unavailable while preparing the text: {exc.__class__.__name__}")
        return _db_retry(partial(_record_temporary, message, failure))
    except Exception as exc:
        # Nothing reached the provider: a template or data problem, which a retry would not fix.
        logger.exception("message %s: the text could not be rendered", message.pk)
        failure = _Permanent(f"Rendering failed: {exc.__class__.__name__}")
        return _db_retry(partial(_record_permanent, message, failure))
    try:
        provider_id, provider_status = _provider_call(prepared)
    except _Temporary as exc:
        return _db_retry(partial(_record_temporary, message, exc))
    except _Uncertain as exc:
        return _db_retry(partial(_record_uncertain, message, exc))
    except _Permanent as exc:
        return _db_retry(partial(_record_permanent, message, exc))
    except Exception:
        # An unexpected library error: the provider may or may not have the message. Left
        # "sending", the sweep checks it with the provider after MESSAGES_SEND_TIMEOUT.
        logger.exception("message %s: unexpected error during the provider call", message.pk)
        raise
    return _db_retry(partial(_record_sent, message, provider_id, provider_status))


def _record_sent(
    message: Message, provider_id: str, provider_status: str, *, count_attempt: bool = True
) -> SendOutcome:
    now = timezone.now()
    with transaction.atomic():
        # Unconfirmed too: a slow attempt that the sweep gave up on may still bring the answer.
        sent = Message.objects.filter(pk=message.pk, status__in=(Status.SENDING, Status.UNCONFIRMED)).update(
            status=Status.SENT,
            provider_id=provider_id[:128],
            sent_at=now,
            attempts=F("attempts") + 1 if count_attempt else F("attempts"),
            last_error="",
            updated_at=now,
        )
        if sent:
            # The research side keeps the channel that first reached the patient (exports report it).
            Assignment.objects.filter(pk=message.assignment_id, invitation_channel="").update(
                invitation_channel=message.channel
            )
    logger.info("message %s sent by %s (%s)", message.pk, message.channel, provider_status or "accepted")
    return SendOutcome(Status.SENT, detail=provider_status)


def _record_temporary(message: Message, exc: _Temporary) -> SendOutcome:
    now = timezone.now()
    attempts = message.attempts + 1
    error = f"Attempt {attempts}: {exc}"[:1000]
    if attempts >= max_attempts():
        Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
            status=Status.FAILED,
            attempts=attempts,
            last_error=f"{error} (gave up after {attempts} attempts)",
            updated_at=now,
        )
        logger.warning("message %s failed after %d attempts: %s", message.pk, attempts, exc)
        return SendOutcome(Status.FAILED, detail=error)
    delay = retry_delay(attempts=attempts, retry_after=exc.retry_after)
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.QUEUED,
        attempts=attempts,
        last_error=error,
        retry_at=now + timedelta(seconds=delay),
        updated_at=now,
    )
    logger.info("message %s: temporary failure (%s); attempt %d again in %.1f s", message.pk, exc, attempts + 1, delay)
    return SendOutcome(Status.QUEUED, retry_in=delay, detail=error)


def _record_uncertain(message: Message, exc: _Uncertain) -> SendOutcome:
    now = timezone.now()
    Message.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.UNCONFIRMED,
        attempts=F("attempts") + 1,
        last_error=f"Attempt {message.attempts + 1}: {exc}; {CHECKING}."[:1000],
        updated_at=now,
    )
    message.status = Status.UNCONFIRMED
    if not _can_reconcile(message):
        return _record_unknown(message, now)
    logger.info(
        "message %s: outcome uncertain (%s); checking with the provider in %.0f s", message.pk, exc, reconcile_delay()
    )
    return SendOutcome(Status.UNCONFIRMED, retry_in=reconcile_delay(), detail=str(exc))


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
