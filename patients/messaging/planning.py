"""Planning the invitations and reminders of an enrolment, and stopping them.

Planning writes `Message` rows (status planned) for each assignment: the invitation
(sequence 0) when the assignment opens and one reminder per offset of the timepoint, each
moved into the study's sending window in the patient's time zone (patients/messaging/sendtime.py).
The sender (Celery beat) claims the due rows; what is planned here is what goes out.

Stopping is a conditional UPDATE planned/queued → cancelled: a message already handed to
the provider (sent, delivered, failed) is history and never touched, and a sender claiming
a row at the same moment either got it first or finds it cancelled. The reason goes to
`last_error` as a `CancelReason` code, so the outbox can say why a message never left.
Withdrawal cancels its own messages (patients/consent/withdrawal.py).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.bulk_rows import rows_insert
from patients.messaging.sendtime import send_instant
from patients.models import Enrollment, Message, Patient
from surveys.models import Assignment, Participant, Study, Timepoint

logger = logging.getLogger(__name__)

PENDING = (Message.Status.PLANNED, Message.Status.QUEUED)
# Assignments that can still be answered, hence still worth a message.
REACHABLE_ASSIGNMENTS = (Assignment.Status.PLANNED, Assignment.Status.OPEN)


class CancelReason(models.TextChoices):
    """Why a pending message was cancelled (stored in Message.last_error)."""

    COMPLETED = "completed", _("Questionnaire completed")
    EXPIRED = "expired", _("Questionnaire window closed")
    EMAIL_UNDELIVERABLE = "email_undeliverable", _("Email address undeliverable")
    SMS_OPTED_OUT = "sms_opted_out", _("Patient opted out of SMS")


# --- Channels ----------------------------------------------------------------------------


def channel_reachable(*, patient: Patient, channel: str) -> bool:
    """The patient has an address on this channel and it has not been closed (STOP, bounce)."""
    if channel == Message.Channel.SMS:
        return bool(patient.phone) and patient.sms_opted_out_at is None
    if channel == Message.Channel.EMAIL:
        return bool(patient.email) and patient.email_undeliverable_at is None
    raise ValueError(f"Unknown channel {channel!r} (sms or email).")


def channel_choose(*, patient: Patient, allowed: Iterable[str]) -> str | None:
    """The preferred channel if the timepoint allows it and it reaches the patient, else the other
    allowed one that does; None when neither does (nothing is planned then)."""
    allowed = list(allowed)
    preferred = patient.preferred_channel
    ordered = [preferred] + [c for c in (Message.Channel.SMS, Message.Channel.EMAIL) if c != preferred]
    for channel in ordered:
        if channel in allowed and channel_reachable(patient=patient, channel=channel):
            return channel
    return None


# --- Planning ----------------------------------------------------------------------------


def _unit(timepoint: Timepoint) -> timedelta:
    return timedelta(days=1) if timepoint.unit == Timepoint.Unit.DAYS else timedelta(hours=1)


def message_times(
    *, assignment: Assignment, timepoint: Timepoint, patient: Patient, study: Study, now: datetime
) -> list[tuple[int, datetime]]:
    """(sequence, UTC instant) of the invitation and the reminders still worth sending.

    Dropped: anything at or after the window closes; a reminder already in the past when
    planning (the invitation, going out now, does its job: no burst of late reminders); a
    reminder that the sending window pushes onto an earlier message's instant (reminders 2 h
    and 4 h after an 18:30 opening would both become 09:00 the next day). Sequence numbers
    stay those of the timepoint's reminders, so a row keeps its identity across re-planning.
    """
    times = []
    for sequence, offset in enumerate([0, *timepoint.reminders]):
        at = send_instant(
            due=assignment.due_at + offset * _unit(timepoint),
            tz=patient.time_zone,
            send_time=timepoint.send_time,
            window_start=study.send_window_start,
            window_end=study.send_window_end,
            sundays=study.send_on_sundays,
        )
        if at >= assignment.expires_at:
            break  # later reminders are later still
        if sequence and (at < now or (times and at <= times[-1][1])):
            continue
        times.append((sequence, at))
    return times


def messages_plan(
    *, enrollment: Enrollment, assignments: Iterable[Assignment], now: datetime | None = None
) -> list[Message]:
    """Plan the invitation and reminders of each assignment; returns their pending-or-past messages.

    Idempotent: a sequence that already has a row for the planned send (resend 0) on any
    channel, whatever its status except cancelled, is left as it is; new rows are inserted
    with ON CONFLICT DO NOTHING on the unique key, so a concurrent call adds nothing twice.
    Nothing for a withdrawn enrolment, or for an assignment that is completed, expired,
    cancelled or whose window has already closed.
    """
    now = now or timezone.now()
    ids = [a.pk for a in assignments]
    if not ids:
        return []
    enrollment = Enrollment.objects.select_related("patient", "participant__study").get(pk=enrollment.pk)
    rows = list(Assignment.objects.filter(pk__in=ids).select_related("timepoint"))
    strangers = [a.pk for a in rows if a.participant_id != enrollment.participant_id]
    if strangers:
        raise ValueError(f"Assignments {strangers} belong to another participant than enrolment {enrollment.pk}.")
    messages_plan_many(enrollments=[enrollment], assignments_by_participant={enrollment.participant_id: rows}, now=now)
    return list(
        Message.objects.filter(assignment_id__in=ids, resend=0)
        .exclude(status=Message.Status.CANCELLED)
        .order_by("scheduled_at", "assignment_id", "sequence")
    )


def messages_plan_many(
    *,
    enrollments: Iterable[Enrollment],
    assignments_by_participant: dict[int, list[Assignment]],
    now: datetime,
    created: Collection[int] = (),
) -> int:
    """The rules of messages_plan for many enrolments at once (an import, a re-plan): one read of
    what is taken, one bulk insert. Enrolments come with patient and participant.study loaded and
    assignments with their timepoint. Returns the number of rows proposed.

    `created`: ids of assignments inserted by this transaction (assignments_ensure). Nobody else
    can see them yet, so none of their messages can exist: they are not looked up, and their rows
    go in by COPY; the others' rows are inserted with ON CONFLICT DO NOTHING, as always.
    The times depend only on the timepoint, the assignment's window, the patient's time zone and
    the study: computed once for each such combination, not once per enrolment."""
    created = set(created)
    ids = [a.pk for rows in assignments_by_participant.values() for a in rows if a.pk not in created]
    taken = (
        set(
            Message.objects.filter(assignment_id__in=ids, resend=0)
            .exclude(status=Message.Status.CANCELLED)
            .values_list("assignment_id", "sequence")
        )
        if ids
        else set()
    )
    times: dict[tuple, list[tuple[int, datetime]]] = {}
    fresh: list[dict] = []
    others: list[Message] = []
    for enrollment in enrollments:
        participant, patient = enrollment.participant, enrollment.patient
        if enrollment.withdrawn_at is not None or participant.status != Participant.Status.ACTIVE:
            continue
        study = participant.study
        for assignment in assignments_by_participant.get(participant.pk, []):
            if assignment.status not in REACHABLE_ASSIGNMENTS or assignment.expires_at <= now:
                continue
            timepoint = assignment.timepoint
            channel = channel_choose(patient=patient, allowed=timepoint.channels)
            if channel is None:
                continue
            key = (timepoint.pk, assignment.due_at, assignment.expires_at, patient.time_zone, study.pk)
            if key not in times:
                times[key] = message_times(
                    assignment=assignment, timepoint=timepoint, patient=patient, study=study, now=now
                )
            is_new = assignment.pk in created
            for sequence, at in times[key]:
                row = {
                    "enrollment_id": enrollment.pk,
                    "assignment_id": assignment.pk,
                    "channel": channel,
                    "sequence": sequence,
                    "kind": Message.Kind.REMINDER if sequence else Message.Kind.INVITATION,
                    "scheduled_at": at,
                }
                if is_new:
                    fresh.append(row)
                elif (assignment.pk, sequence) not in taken:
                    others.append(Message(**row))
    rows_insert(Message, fresh, now=timezone.now())
    Message.objects.bulk_create(others, ignore_conflicts=True, batch_size=5000)
    return len(fresh) + len(others)


@transaction.atomic
def messages_replan(*, assignment_ids: Iterable[int], now: datetime | None = None) -> int:
    """The schedule moved these assignments: plan their unsent messages again from the new dates.

    Planned rows of the planned send are deleted and planned afresh (they never left, so
    nothing is lost); queued, sent and cancelled ones, and staff resends, stay as they are.
    Returns the number of messages planned for these assignments afterwards.
    """
    now = now or timezone.now()
    ids = list(assignment_ids)
    Message.objects.filter(assignment_id__in=ids, resend=0, status=Message.Status.PLANNED).delete()
    by_participant: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in Assignment.objects.filter(pk__in=ids):
        by_participant[assignment.participant_id].append(assignment)
    planned = 0
    # A participant without an enrolment (made in the research domain only) has nobody to write to.
    for enrollment in Enrollment.objects.filter(participant_id__in=by_participant):
        messages = messages_plan(enrollment=enrollment, assignments=by_participant[enrollment.participant_id], now=now)
        planned += sum(1 for m in messages if m.status == Message.Status.PLANNED)
    return planned


# --- Stopping ----------------------------------------------------------------------------


def messages_cancel_pending(*, reason: str, now: datetime | None = None, **lookups) -> int:
    """Cancel the planned and queued messages matching `lookups` (Message field lookups).

    e.g. messages_cancel_pending(assignment_id=3, reason=CancelReason.COMPLETED). Returns the
    number cancelled. Lookups are required: cancelling every pending message is never meant.
    """
    if not lookups:
        raise ValueError("Say which messages to cancel, e.g. assignment_id=… or enrollment=….")
    return Message.objects.filter(status__in=PENDING, **lookups).update(
        status=Message.Status.CANCELLED, last_error=str(reason), updated_at=now or timezone.now()
    )


def message_fallback(
    *, message: Message, patient: Patient | None = None, now: datetime | None = None
) -> Message | None:
    """The same send (assignment, sequence, resend) on the other channel, planned; None when there is none.

    For a channel just closed (bounce, STOP) and for a permanent failure of one message (the
    sender's fallback from SMS to email). Only while the questionnaire can still be answered,
    the enrolment is not withdrawn, the timepoint allows the other channel and it reaches the
    patient. It keeps the original time if still ahead, else the next instant of the sending
    window. Idempotent: an existing row on the other channel is returned as it is.
    """
    now = now or timezone.now()
    message = Message.objects.select_related("assignment__timepoint", "enrollment__participant__study").get(
        pk=message.pk
    )
    assignment, enrollment = message.assignment, message.enrollment
    patient = patient or enrollment.patient
    other = Message.Channel.EMAIL if message.channel == Message.Channel.SMS else Message.Channel.SMS
    if (
        assignment.status not in REACHABLE_ASSIGNMENTS
        or assignment.expires_at <= now
        or enrollment.withdrawn_at is not None
        or other not in assignment.timepoint.channels
        or not channel_reachable(patient=patient, channel=other)
    ):
        return None
    study = enrollment.participant.study
    at = (
        message.scheduled_at
        if message.scheduled_at > now
        else send_instant(
            due=now,
            tz=patient.time_zone,
            send_time=None,
            window_start=study.send_window_start,
            window_end=study.send_window_end,
            sundays=study.send_on_sundays,
        )
    )
    if at >= assignment.expires_at:
        return None
    fallback, _created = Message.objects.get_or_create(
        assignment=assignment,
        sequence=message.sequence,
        channel=other,
        resend=message.resend,
        defaults={"enrollment": enrollment, "kind": message.kind, "scheduled_at": at},
    )
    return fallback


CLOSED_FLAG = {
    # (channel, what happened) → the Patient field that closes the channel for good.
    (Message.Channel.EMAIL, "undeliverable"): ("email_undeliverable_at", CancelReason.EMAIL_UNDELIVERABLE),
    (Message.Channel.SMS, "opted_out"): ("sms_opted_out_at", CancelReason.SMS_OPTED_OUT),
}


@transaction.atomic
def _channel_close(*, patient: Patient, channel: str, event: str, note: str, now: datetime) -> int:
    key = (channel, event)
    if key not in CLOSED_FLAG:
        known = ", ".join(f"{c} {e.replace('_', ' ')}" for c, e in CLOSED_FLAG)
        raise ValueError(f"A patient cannot be marked {channel} {event.replace('_', ' ')} (known: {known}).")
    field, reason = CLOSED_FLAG[key]
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if getattr(locked, field) is None:
        setattr(locked, field, now)
        # The history row is the audit of the event: when, and why in a few words, never the address.
        locked._change_reason = f"{channel} {event.replace('_', ' ')}" + (f": {note}" if note else "")
        locked.save(update_fields=[field])
    setattr(patient, field, getattr(locked, field))

    # Lock the pending rows so a sender cannot claim one between reading and cancelling it.
    pending = list(
        Message.objects.select_for_update().filter(enrollment__patient=locked, channel=channel, status__in=PENDING)
    )
    cancelled = messages_cancel_pending(pk__in=[m.pk for m in pending], reason=reason, now=now)

    # Re-route what was still to come through the other channel, where the timepoint allows it.
    rerouted = [m for m in pending if message_fallback(message=m, patient=locked, now=now) is not None]
    logger.info(
        "patient %s: %s %s; %d pending message(s) cancelled, %d re-routed",
        locked.pk,
        channel,
        event,
        cancelled,
        len(rerouted),
    )
    return cancelled


def contact_sms_opt_in(*, patient: Patient) -> bool:
    """The patient texted START after a STOP: SMS may be used again for what is planned from now on
    (messages already cancelled or re-routed stay as they are). Returns whether anything changed."""
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.sms_opted_out_at is None:
        return False
    locked.sms_opted_out_at = None
    locked._change_reason = "sms opted in again"
    locked.save(update_fields=["sms_opted_out_at"])
    patient.sms_opted_out_at = None
    return True


def contact_mark_undeliverable(*, patient: Patient, channel: str, reason: str = "", now: datetime | None = None) -> int:
    """A bounce or complaint says this address cannot be used: never write to it again.

    Sets Patient.email_undeliverable_at (kept at its first value), cancels the pending messages
    on that channel and plans them again on the other channel where the timepoint allows it.
    `reason` is a short provider description (e.g. "hard bounce"), never the address. Only
    email has such a flag; an SMS that cannot be delivered falls back per message (sending).
    Returns the number of messages cancelled.
    """
    return _channel_close(
        patient=patient, channel=channel, event="undeliverable", note=reason, now=now or timezone.now()
    )


def contact_mark_opted_out(*, patient: Patient, channel: str, now: datetime | None = None) -> int:
    """The patient asked for no more messages on this channel (an inbound SMS "STOP").

    Sets Patient.sms_opted_out_at (kept at its first value; the history row is the log),
    cancels the pending SMS and re-routes them by email where the timepoint allows it.
    Returns the number of messages cancelled.
    """
    return _channel_close(patient=patient, channel=channel, event="opted_out", note="", now=now or timezone.now())
