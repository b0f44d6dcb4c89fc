"""Re-planning after a schedule edit: show what would move, then move it.

A timepoint edit (offset, unit, window) changes nothing by itself: the study team first
reads `schedule_replan_preview` (one `Change` per assignment that would move or be created)
and then applies it with `schedule_replan_apply`. Only *planned* assignments move: an open
one has been announced to the patient and a completed, expired or cancelled one is history.
A timepoint added since enrolment gets its assignment, unless its window has already closed.
The messages follow through the `assignments_replanned` signal (patients re-plans what has
not been sent).

The anchor — the instant the schedule counts from — is the participant's enrolment. The
research side stores no enrolment date, so it is recovered from the assignments planned at
enrolment: for each of them, due_at minus its timepoint's *current* offset is the enrolment
instant exactly when that timepoint was not edited, and at least an hour off when it was
(offsets are whole hours or days). The candidate closest to Participant.created_at (written
milliseconds after that instant by enrollment_create, seconds by a large import) is taken,
if it is within ANCHOR_TOLERANCE of it; otherwise created_at itself is the anchor. For the
same reason a due or closing time that differs by less than ANCHOR_TOLERANCE is no change.
Only assignments of timepoints counted from enrolment serve to recover it.

Repeating timepoints: every occurrence 1..repeat_count is compared and created alike.
Timepoints counted from a date answer or planned by a trigger (surveys/scheduling/triggers.py) take
their anchor from the participant's completed responses, as the trigger did: the earliest
submitted one that gives an anchor (the date answered; the submission meeting the
condition). Without such a response they have nothing to plan. Occurrences beyond a
lowered repeat_count are left as they are (not cancelled).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from surveys import signals
from surveys.models import Assignment, Participant, Response, Study, Timepoint
from surveys.scheduling.planning import timepoint_windows
from surveys.scheduling.triggers import response_anchor

# Less than the smallest real edit (one hour), more than the gap between the enrolment instant
# and Participant.created_at.
ANCHOR_TOLERANCE = timedelta(minutes=30)


@dataclass(frozen=True)
class Change:
    """One assignment that the edited schedule moves (assignment_id set) or creates (None)."""

    participant_id: int
    pseudonym: str
    timepoint_id: int
    timepoint_code: str
    occurrence: int
    assignment_id: int | None
    old_due_at: datetime | None
    old_expires_at: datetime | None
    new_due_at: datetime
    new_expires_at: datetime

    @property
    def is_new(self) -> bool:
        return self.assignment_id is None

    @property
    def label(self) -> str:
        return str(_("New assignment") if self.is_new else _("Moved"))


def _offset(timepoint: Timepoint) -> timedelta:
    return timedelta(**{timepoint.unit: timepoint.offset})


def participant_anchor(*, participant: Participant, assignments: list[Assignment]) -> datetime:
    """The instant this participant's schedule counts from (see the module docstring)."""
    candidates = [
        a.due_at - _offset(a.timepoint) for a in assignments if a.occurrence == 1 and a.timepoint.planned_at_enrolment
    ]
    near = [c for c in candidates if abs(c - participant.created_at) < ANCHOR_TOLERANCE]
    if not near:
        return participant.created_at
    return min(near, key=lambda c: abs(c - participant.created_at))


def _differs(a: datetime, b: datetime) -> bool:
    return abs(a - b) >= ANCHOR_TOLERANCE


def schedule_replan_preview(*, study: Study, now: datetime | None = None) -> list[Change]:
    """What applying the current schedule would change, for every active participant. No writes."""
    now = now or timezone.now()
    timepoints = list(Timepoint.objects.filter(study=study).order_by("order", "offset"))
    participants = list(
        Participant.objects.filter(study=study, status=Participant.Status.ACTIVE, withdrawn_at__isnull=True)
    )
    by_participant: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in Assignment.objects.filter(participant__in=participants).select_related("timepoint"):
        by_participant[assignment.participant_id].append(assignment)

    waiting = [tp for tp in timepoints if not tp.planned_at_enrolment]
    responses: dict[int, list[Response]] = defaultdict(list)
    if waiting:
        for response in (
            Response.objects.filter(assignment__participant__in=participants, status=Response.Status.COMPLETED)
            .select_related("assignment")
            .order_by("submitted_at", "pk")
        ):
            responses[response.assignment.participant_id].append(response)
    local_days = ZoneInfo(study.time_zone)

    changes = []
    for participant in participants:
        assignments = by_participant[participant.pk]
        enrolment = participant_anchor(participant=participant, assignments=assignments)
        existing = {(a.timepoint_id, a.occurrence): a for a in assignments}
        for timepoint in timepoints:
            if timepoint.planned_at_enrolment:
                anchor, zone = enrolment, None
            else:
                anchor = next(
                    (
                        a
                        for a in (
                            response_anchor(timepoint=timepoint, response=r, time_zone=study.time_zone)
                            for r in responses[participant.pk]
                        )
                        if a is not None
                    ),
                    None,
                )
                zone = local_days if timepoint.anchor == Timepoint.Anchor.ANSWER else None
                if anchor is None:
                    continue
            for occurrence, due, expires in timepoint_windows(timepoint, anchor, local_days=zone):
                current = existing.get((timepoint.pk, occurrence))
                common = {
                    "participant_id": participant.pk,
                    "pseudonym": participant.pseudonym,
                    "timepoint_id": timepoint.pk,
                    "timepoint_code": timepoint.code,
                    "occurrence": occurrence,
                    "new_due_at": due,
                    "new_expires_at": expires,
                }
                if current is None:
                    if expires > now:
                        changes.append(Change(assignment_id=None, old_due_at=None, old_expires_at=None, **common))
                elif current.status == Assignment.Status.PLANNED and (
                    _differs(current.due_at, due) or _differs(current.expires_at, expires)
                ):
                    changes.append(
                        Change(
                            assignment_id=current.pk,
                            old_due_at=current.due_at,
                            old_expires_at=current.expires_at,
                            **common,
                        )
                    )
    changes.sort(key=lambda c: (c.pseudonym, c.new_due_at, c.timepoint_code, c.occurrence))
    return changes


@transaction.atomic
def schedule_replan_apply(*, study: Study, by: AbstractBaseUser | None = None, now: datetime | None = None) -> int:
    """Move the planned assignments and create the missing ones, as the preview lists them.

    Returns how many assignments were moved or created. Two applies of the same study wait
    for each other; an assignment that opened meanwhile (beat, or the patient) is left alone.
    Their unsent messages are re-planned in this transaction (signal assignments_replanned).
    """
    now = now or timezone.now()
    Study.objects.select_for_update().filter(pk=study.pk).first()
    changes = schedule_replan_preview(study=study, now=now)
    moves = {c.assignment_id: c for c in changes if not c.is_new}
    history = {"default_user": by, "default_change_reason": "schedule edited"}

    # Locked under the status guard: beat cannot open one of these until this commits.
    moved = list(Assignment.objects.select_for_update().filter(pk__in=moves, status=Assignment.Status.PLANNED))
    for assignment in moved:
        assignment.due_at = moves[assignment.pk].new_due_at
        assignment.expires_at = moves[assignment.pk].new_expires_at
    if moved:
        bulk_update_with_history(moved, Assignment, ["due_at", "expires_at"], **history)
    created = [
        Assignment(
            participant_id=c.participant_id,
            timepoint_id=c.timepoint_id,
            occurrence=c.occurrence,
            due_at=c.new_due_at,
            expires_at=c.new_expires_at,
        )
        for c in changes
        if c.is_new
    ]
    if created:
        created = bulk_create_with_history(created, Assignment, **history)
    ids = [a.pk for a in moved] + [a.pk for a in created]
    if ids:
        signals.assignments_replanned.send(sender=Assignment, assignment_ids=ids, now=now)
    return len(ids)
