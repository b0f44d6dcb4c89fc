"""The study team's outbox: which messages go out, which went, what became of them; resends.

Reads (selectors) are scoped to the asking user the same way as every other list
(surveys.staff.selectors.rows_for_user): investigators and data managers of the study, a member
limited to one site sees that site's messages only. Nothing here reads a name, a phone or an
address: rows carry the pseudonym, and provider errors are shown through `message_error_text`,
which translates the codes we store and blanks anything that looks like a number or an address.

Counts per timepoint come in two queries (one over messages, one over assignments), grouped in
SQL with filtered counts, never row by row: a study may hold 100,000 messages. "Opened" means
the patient opened the link (a Response exists for the assignment), not an email-client open
pixel: SMS has no such pixel, pixels are blocked or faked by many mail clients, and a link
opened is what the team wants to know. Email "opened" tracking events are ignored (tracking.py).

A resend (`message_resend`) is a new Message row for the same assignment, sequence and channel
with resend = highest + 1, planned for the next instant of the sending window in the patient's
zone; the dispatcher sends it like any other. The audit is an immutable MessageResend row (who,
when, why), written in the same transaction. It is refused, changing nothing, when the patient
has withdrawn, the channel is closed (SMS opt-out, undeliverable email), the questionnaire can
no longer be answered, or a send of that message is still waiting to go out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patients.messaging.dispatch import OUTCOME_UNKNOWN
from patients.messaging.planning import REACHABLE_ASSIGNMENTS, CancelReason, channel_reachable
from patients.messaging.sendtime import send_instant
from patients.messaging.sms import INVALID_NUMBER_CODES, OPTED_OUT_CODES, UNREACHABLE_CODES
from patients.models import Message, MessageResend
from surveys.models import Assignment, Participant, Study, Timepoint
from surveys.rules import DATA_MANAGER, INVESTIGATOR
from surveys.staff.selectors import rows_for_user

User = AbstractBaseUser | AnonymousUser
S = Message.Status

# Who reads the outbox: it shows pseudonyms, timepoints and statuses, never an identity.
OUTBOX_ROLES = (INVESTIGATOR, DATA_MANAGER)
# Who may resend: the identity side's own permission (investigators, at their site).
RESEND_PERM = "patients.change_message"
REASON_MAX = 300

# Not handed to the provider yet ("sending" is the dispatcher's in-flight state).
WAITING = ("planned", "queued", "sending")
# What may be sent again: what left (or was stopped) and will not go out by itself.
RESENDABLE = (S.SENT, S.DELIVERED, S.FAILED, S.CANCELLED)


# --- Rows ---------------------------------------------------------------------------------------


def _study_messages(*, study: Study, user: User) -> QuerySet[Message]:
    return rows_for_user(Message.objects.filter(enrollment__participant__study=study), user=user, roles=OUTBOX_ROLES)


def outbox_messages(
    *,
    study: Study,
    user: User,
    upcoming: bool = False,
    status: str = "",
    timepoint_id: int | None = None,
    channel: str = "",
) -> QuerySet[Message]:
    """Messages of `study` that `user` may see: upcoming (not sent yet, soonest first) or past
    (everything else, latest first), optionally of one status, timepoint or channel.

    Paginate the result (LIMIT/OFFSET in SQL); rows come with pseudonym and timepoint joined,
    never the patient.
    """
    rows = _study_messages(study=study, user=user)
    if upcoming:
        rows = rows.filter(status__in=WAITING).order_by("scheduled_at", "pk")
    else:
        rows = rows.exclude(status__in=WAITING).order_by("-scheduled_at", "-pk")
    if status:
        rows = rows.filter(status=status)
    if timepoint_id:
        rows = rows.filter(assignment__timepoint_id=timepoint_id)
    if channel:
        rows = rows.filter(channel=channel)
    return rows.select_related("enrollment__participant", "assignment__timepoint")


def outbox_message(*, study: Study, user: User, pk: int) -> Message | None:
    """One message of the outbox, if `user` may see it (its study, their site)."""
    return (
        _study_messages(study=study, user=user)
        .select_related("enrollment__participant", "assignment__timepoint")
        .filter(pk=pk)
        .first()
    )


def outbox_failed(*, study: Study, user: User) -> QuerySet[Message]:
    """Failed messages, latest first: shown to the study team at the top of the outbox."""
    return (
        _study_messages(study=study, user=user)
        .filter(status=S.FAILED)
        .order_by("-scheduled_at", "-pk")
        .select_related("enrollment__participant", "assignment__timepoint")
    )


def resend_counts(*, messages: list[Message]) -> dict[tuple[int, int, str], int]:
    """How many times each (assignment, sequence, channel) of these rows was resent: one query."""
    keys = {(m.assignment_id, m.sequence, m.channel) for m in messages}
    if not keys:
        return {}
    rows = (
        Message.objects.filter(assignment_id__in={k[0] for k in keys}, resend__gt=0)
        .order_by()
        .values_list("assignment_id", "sequence", "channel")
        .annotate(n=Count("pk"))
    )
    return {(a, s, c): n for a, s, c, n in rows if (a, s, c) in keys}


def message_kind_label(message: Message) -> str:
    if message.kind == Message.Kind.INVITATION:
        return _("Invitation")
    return _("Reminder %(n)s") % {"n": message.sequence}


# --- Errors, in words the team can act on ------------------------------------------------------

_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
# International numbers, French national numbers, and long digit runs (a number without a plus).
_PHONE = re.compile(r"\+\d[\d .-]{5,}\d|\b0\d(?:[ .-]?\d\d){4}\b|\b\d{9,}\b")
_TWILIO = re.compile(r"^Twilio (\w+)(?: (\d+))?$")
_EMAIL_EVENT = re.compile(r"^email (bounced|rejected|failed|deferred)(?: \((\w+)\))?$")

_TWILIO_GROUPS = (
    (INVALID_NUMBER_CODES, gettext_lazy("Not a valid mobile number")),
    (UNREACHABLE_CODES, gettext_lazy("The phone could not be reached")),
    (OPTED_OUT_CODES, gettext_lazy("The patient opted out of SMS (STOP)")),
)
_EMAIL_EVENTS = {
    "bounced": gettext_lazy("Email bounced"),
    "rejected": gettext_lazy("Email refused by the provider"),
    "failed": gettext_lazy("Email could not be sent"),
    "deferred": gettext_lazy("Email delayed by the receiving server"),
}
# Codes the dispatcher stores besides CancelReason (patients/messaging/dispatch.py).
_OTHER_CODES = {
    "withdrawn": gettext_lazy("Patient withdrawn"),
    "assignment_cancelled": gettext_lazy("Questionnaire cancelled"),
    "no_address": gettext_lazy("No address for this channel"),
    OUTCOME_UNKNOWN: gettext_lazy(
        "Outcome unknown, and the provider cannot be asked. Check with the provider before resending."
    ),
}
_REJECT_REASONS = {
    "invalid": gettext_lazy("invalid address"),
    "bounced": gettext_lazy("address bounced before"),
    "timed_out": gettext_lazy("repeated delivery failures"),
    "blocked": gettext_lazy("blocked by the provider"),
    "spam": gettext_lazy("marked as spam before"),
    "unsubscribed": gettext_lazy("the patient unsubscribed"),
    "other": gettext_lazy("other reason"),
}


def redact(text: str) -> str:
    """Provider messages sometimes quote the recipient: never show it (data managers read this page)."""
    return _PHONE.sub("[…]", _EMAIL.sub("[…]", text))


def message_error_text(message: Message) -> str:
    """`last_error` in the user's language: cancel reasons, Twilio codes and email events we store,
    or the provider's own words with any address or number blanked."""
    error = (message.last_error or "").strip()
    if not error:
        return ""
    if error in CancelReason.values:
        return str(CancelReason(error).label)
    if error in _OTHER_CODES:
        return str(_OTHER_CODES[error])
    twilio = _TWILIO.match(error)
    if twilio:
        code = int(twilio.group(2)) if twilio.group(2) else None
        for codes, label in _TWILIO_GROUPS:
            if code in codes:
                return f"{label} (Twilio {code})"
        return _("SMS not delivered (Twilio %(status)s%(code)s)") % {
            "status": twilio.group(1),
            "code": f" {code}" if code else "",
        }
    email = _EMAIL_EVENT.match(error)
    if email:
        label = str(_EMAIL_EVENTS[email.group(1)])
        reason = _REJECT_REASONS.get(email.group(2) or "")
        return f"{label}: {reason}" if reason else label
    return redact(error)


# --- Counts per timepoint -------------------------------------------------------------------------


@dataclass(frozen=True)
class TimepointCounts:
    timepoint: Timepoint
    # Messages (every channel, invitations, reminders and resends).
    planned: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    # Questionnaires (assignments): the patient opened the link (a response exists), submitted it.
    assignments: int = 0
    opened: int = 0
    completed: int = 0


def outbox_counts(*, study: Study, user: User) -> list[TimepointCounts]:
    """Per timepoint of the study, in its order: messages planned (not sent yet), sent (handed to
    the provider, including those delivered or failed afterwards), delivered, failed; questionnaires
    assigned, opened (a response exists) and completed. Three queries whatever the volume."""
    sent = Q(sent_at__isnull=False) | Q(status__in=(S.SENT, S.DELIVERED))
    messages = {
        row.pop("assignment__timepoint_id"): row
        for row in _study_messages(study=study, user=user)
        .order_by()
        .values("assignment__timepoint_id")
        .annotate(
            planned=Count("pk", filter=Q(status__in=WAITING)),
            sent=Count("pk", filter=sent),
            delivered=Count("pk", filter=Q(status=S.DELIVERED)),
            failed=Count("pk", filter=Q(status=S.FAILED)),
        )
    }
    assignments = rows_for_user(Assignment.objects.filter(participant__study=study), user=user, roles=OUTBOX_ROLES)
    questionnaires = {
        row.pop("timepoint_id"): row
        for row in assignments.order_by()
        .values("timepoint_id")
        .annotate(
            assignments=Count("pk"),
            opened=Count("pk", filter=Q(response__isnull=False)),
            completed=Count("pk", filter=Q(status=Assignment.Status.COMPLETED)),
        )
    }
    return [
        TimepointCounts(timepoint=tp, **messages.get(tp.pk, {}), **questionnaires.get(tp.pk, {}))
        for tp in Timepoint.objects.filter(study=study).order_by("order", "offset", "code")
    ]


# --- Resend -------------------------------------------------------------------------------------


class ResendRefused(Exception):
    """The resend was not done; `field` is "reason" for a form problem, "" for the message itself."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.field = field


def assignment_closed_problem(*, assignment: Assignment, now: datetime) -> str | None:
    """Why nothing can be resent for this assignment any more (completed, window closed); None while open.

    The outbox reads it for every row to offer "Resend" only where it can work, and the resend again."""
    if assignment.status == Assignment.Status.COMPLETED:
        return _("The questionnaire has been completed: there is nothing to remind.")
    if assignment.status not in REACHABLE_ASSIGNMENTS or assignment.expires_at <= now:
        return _("The questionnaire's window has closed: the link no longer works.")
    return None


def message_resend_problem(*, message: Message, now: datetime) -> str | None:
    """Why this message cannot be sent again now, in words for the team; None when it can.

    Reads the enrolment, the patient's channel flags and the assignment as they are now.
    """
    enrollment = message.enrollment
    participant = enrollment.participant
    assignment = message.assignment
    if enrollment.withdrawn_at is not None or participant.status == Participant.Status.WITHDRAWN:
        return _("%(pseudonym)s has withdrawn from the study: nothing more is sent.") % {
            "pseudonym": participant.pseudonym
        }
    if message.status in WAITING:
        return _("This message has not been sent yet: it will go out at its planned time.")
    patient = enrollment.patient
    if not channel_reachable(patient=patient, channel=message.channel):
        if message.channel == Message.Channel.SMS:
            return (
                _("The patient has opted out of SMS (STOP): no SMS can be sent.")
                if patient.phone
                else _("The patient has no mobile number.")
            )
        return (
            _("The patient's email address is undeliverable: no email can be sent.")
            if patient.email
            else _("The patient has no email address.")
        )
    closed = assignment_closed_problem(assignment=assignment, now=now)
    if closed:
        return closed
    if Message.objects.filter(
        assignment=assignment, sequence=message.sequence, channel=message.channel, status__in=WAITING
    ).exists():
        return _("A resend of this message is already waiting to go out.")
    return None


def _resend_instant(*, message: Message, now: datetime) -> datetime:
    # Now if inside the sending window in the patient's zone, else the window's next opening:
    # a resend at 23:00 would wake the patient.
    study = message.enrollment.participant.study
    return send_instant(
        due=now,
        tz=message.enrollment.patient.time_zone,
        send_time=None,
        window_start=study.send_window_start,
        window_end=study.send_window_end,
        sundays=study.send_on_sundays,
    )


def message_resend(*, message: Message, by: AbstractBaseUser, reason: str, now: datetime | None = None) -> Message:
    """Send `message` again: a new planned row (resend = highest + 1) and its audit row, together.

    Raises ResendRefused (nothing written) when the reason is missing or too long, or when
    `message_resend_problem` says it cannot be sent. Two clicks at once: the second waits for
    the first and is refused (a resend is already waiting).
    """
    now = now or timezone.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ResendRefused(_("Say why this message is sent again (it is kept in the audit trail)."), field="reason")
    if len(reason) > REASON_MAX:
        raise ResendRefused(_("Keep the reason under %(max)s characters.") % {"max": REASON_MAX}, field="reason")
    with transaction.atomic():
        # Every send of this message, locked: a concurrent resend waits here, then sees ours.
        list(
            Message.objects.select_for_update().filter(
                assignment_id=message.assignment_id, sequence=message.sequence, channel=message.channel
            )
        )
        current = Message.objects.select_related(
            "enrollment__participant__study", "enrollment__patient", "assignment"
        ).get(pk=message.pk)
        problem = message_resend_problem(message=current, now=now)
        if problem:
            raise ResendRefused(problem)
        at = _resend_instant(message=current, now=now)
        if at >= current.assignment.expires_at:
            raise ResendRefused(_("The questionnaire closes before the next sending window: it cannot be sent again."))
        highest = (
            Message.objects.filter(
                assignment_id=current.assignment_id, sequence=current.sequence, channel=current.channel
            ).aggregate(n=Max("resend"))["n"]
            or 0
        )
        resent = Message.objects.create(
            enrollment=current.enrollment,
            assignment=current.assignment,
            channel=current.channel,
            kind=current.kind,
            sequence=current.sequence,
            resend=highest + 1,
            scheduled_at=at,
            status=S.PLANNED,
        )
        MessageResend.objects.create(original=current, message=resent, by=by, reason=reason, at=now)
    return resent
