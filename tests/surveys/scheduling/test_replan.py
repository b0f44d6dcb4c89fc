"""A schedule edit is previewed, then re-plans planned assignments and their unsent messages."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from patients.messaging.planning import messages_plan
from patients.messaging.sendtime import send_instant
from patients.models import Message
from surveys.models import Assignment, Participant, Timepoint
from surveys.scheduling.planning import assignments_plan
from surveys.scheduling.replan import Change, schedule_replan_apply, schedule_replan_preview

ENROLLED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Monday 12:00 CEST
NOW = ENROLLED + timedelta(days=1)
S = Message.Status


@pytest.fixture
def study(make):
    version = make.published_version()
    make.timepoint(version=version, code="t0", offset=0, window=7)
    make.timepoint(version=version, code="t30", offset=30, window=7, reminders=[2, 4])
    make.timepoint(version=version, code="t60", offset=60, window=7, reminders=[3])
    return version.questionnaire.study


def enrol(
    make,
    study,
    *,
    at: datetime = ENROLLED,
    created_late: timedelta = timedelta(milliseconds=4),
    with_patient: bool = True,
):
    """As enrollment_create does: participant stamped just after the enrolment instant, assignments
    and messages planned from it; the baseline is open and its invitation sent by now."""
    participant = make.participant(study=study)
    Participant.objects.filter(pk=participant.pk).update(created_at=at + created_late)
    participant.refresh_from_db()
    assignments = {a.timepoint.code: a for a in assignments_plan(participant=participant, anchor=at)}
    Assignment.objects.filter(pk=assignments["t0"].pk).update(status=Assignment.Status.OPEN)
    if with_patient:
        enrollment = make.enrollment(patient=make.patient(), participant=participant, enrolled_at=at)
        messages_plan(enrollment=enrollment, assignments=assignments.values(), now=at)
        Message.objects.filter(assignment=assignments["t0"], sequence=0).update(status=S.SENT)
    return participant, assignments


def edit(study, code: str, **values) -> Timepoint:
    timepoint = Timepoint.objects.get(study=study, code=code)
    for name, value in values.items():
        setattr(timepoint, name, value)
    timepoint.save()
    return timepoint


def window(assignment: Assignment) -> tuple[datetime, datetime]:
    assignment.refresh_from_db()
    return assignment.due_at, assignment.expires_at


def messages_of(assignment: Assignment) -> list[tuple]:
    return list(
        Message.objects.filter(assignment=assignment)
        .order_by("sequence", "pk")
        .values_list("pk", "sequence", "status", "scheduled_at")
    )


def paris_instant(due: datetime) -> datetime:
    # The factories' defaults: a patient in Paris, a study sending 09:00-19:00 except on Sundays.
    return send_instant(
        due=due, tz="Europe/Paris", send_time=None, window_start=time(9), window_end=time(19), sundays=False
    )


def test_an_unedited_schedule_changes_nothing(make, study):
    enrol(make, study)
    assert schedule_replan_preview(study=study, now=NOW) == []
    before = list(Message.objects.values_list("pk", "status", "scheduled_at"))
    assert schedule_replan_apply(study=study, now=NOW) == 0
    assert list(Message.objects.values_list("pk", "status", "scheduled_at")) == before


def test_the_preview_lists_the_change_and_writes_nothing(make, study):
    participant, assignments = enrol(make, study)
    edit(study, "t30", offset=45)

    changes = schedule_replan_preview(study=study, now=NOW)

    assert changes == [
        Change(
            participant_id=participant.pk,
            pseudonym=participant.pseudonym,
            timepoint_id=assignments["t30"].timepoint_id,
            timepoint_code="t30",
            occurrence=1,
            assignment_id=assignments["t30"].pk,
            old_due_at=ENROLLED + timedelta(days=30),
            old_expires_at=ENROLLED + timedelta(days=37),
            new_due_at=ENROLLED + timedelta(days=45),
            new_expires_at=ENROLLED + timedelta(days=52),
        )
    ]
    assert changes[0].label == "Moved" and not changes[0].is_new
    assert window(assignments["t30"]) == (ENROLLED + timedelta(days=30), ENROLLED + timedelta(days=37))


def test_apply_moves_planned_assignments_and_their_planned_messages_only(make, study):
    _participant, assignments = enrol(make, study)
    baseline_messages, later_messages = messages_of(assignments["t0"]), messages_of(assignments["t60"])
    edit(study, "t30", offset=45)
    edit(study, "t0", offset=3)  # the baseline is open: announced to the patient, it stays

    assert schedule_replan_apply(study=study, now=NOW) == 1

    new_due = ENROLLED + timedelta(days=45)
    assert window(assignments["t30"]) == (new_due, new_due + timedelta(days=7))
    assert [(seq, status, at) for _pk, seq, status, at in messages_of(assignments["t30"])] == [
        (0, "planned", paris_instant(new_due)),
        (1, "planned", paris_instant(new_due + timedelta(days=2))),
        (2, "planned", paris_instant(new_due + timedelta(days=4))),
    ]
    assert window(assignments["t0"]) == (ENROLLED, ENROLLED + timedelta(days=7))
    assert messages_of(assignments["t0"]) == baseline_messages
    assert messages_of(assignments["t60"]) == later_messages
    record = Assignment.history.filter(id=assignments["t30"].pk).first()
    assert record.history_change_reason == "schedule edited"
    # Applied once: the schedule and the assignments agree again.
    assert schedule_replan_preview(study=study, now=NOW) == []
    assert schedule_replan_apply(study=study, now=NOW) == 0


def test_reminders_follow_a_changed_reminder_list_and_unit(make, study):
    _participant, assignments = enrol(make, study)
    edit(study, "t60", unit="hours", offset=60 * 24 + 6, window=72, reminders=[24])
    schedule_replan_apply(study=study, now=NOW)
    new_due = ENROLLED + timedelta(days=60, hours=6)
    assert window(assignments["t60"]) == (new_due, new_due + timedelta(hours=72))
    assert [(seq, at) for _pk, seq, _status, at in messages_of(assignments["t60"])] == [
        (0, paris_instant(new_due)),
        (1, paris_instant(new_due + timedelta(hours=24))),
    ]


def test_sent_and_queued_messages_of_a_moved_assignment_stay_as_they_are(make, study):
    # Consent pending: the invitation went, the assignment stays planned until the patient consents.
    _participant, assignments = enrol(make, study)
    t30 = assignments["t30"]
    Message.objects.filter(assignment=t30, sequence=0).update(status=S.SENT)
    Message.objects.filter(assignment=t30, sequence=1).update(status=S.QUEUED)
    kept = messages_of(t30)[:2]
    edit(study, "t30", offset=31)

    schedule_replan_apply(study=study, now=NOW)

    after = messages_of(t30)
    assert after[:2] == kept
    assert [(seq, status, at) for _pk, seq, status, at in after[2:]] == [
        (2, "planned", paris_instant(ENROLLED + timedelta(days=35))),
    ]


def test_a_timepoint_added_later_gets_its_assignment_and_messages(make, study):
    participant, _assignments = enrol(make, study)
    version = Timepoint.objects.get(study=study, code="t0").version
    make.timepoint(version=version, code="t90", offset=90, window=14, reminders=[7])
    make.timepoint(version=version, code="gone", offset=0, window=1)  # its window closed long ago

    changes = schedule_replan_preview(study=study, now=NOW)
    assert [(c.timepoint_code, c.is_new, c.label, c.new_due_at) for c in changes] == [
        ("t90", True, "New assignment", ENROLLED + timedelta(days=90)),
    ]
    assert schedule_replan_apply(study=study, now=NOW) == 1

    added = Assignment.objects.get(participant=participant, timepoint__code="t90")
    assert (added.status, added.due_at) == (Assignment.Status.PLANNED, ENROLLED + timedelta(days=90))
    assert [(seq, status) for _pk, seq, status, _at in messages_of(added)] == [(0, "planned"), (1, "planned")]
    assert not Assignment.objects.filter(timepoint__code="gone").exists()


def test_the_anchor_is_the_enrolment_instant_even_when_recorded_late(make, study):
    # A large import stamps participants seconds after its enrolment instant.
    _participant, assignments = enrol(make, study, created_late=timedelta(seconds=40))
    edit(study, "t30", offset=45)
    (change,) = schedule_replan_preview(study=study, now=NOW)
    assert change.new_due_at == ENROLLED + timedelta(days=45)
    assert change.assignment_id == assignments["t30"].pk


def test_when_every_timepoint_moved_the_anchor_falls_back_to_the_participants_creation(make, study):
    participant, _assignments = enrol(make, study, created_late=timedelta(seconds=2))
    for code, offset in (("t0", 1), ("t30", 31), ("t60", 61)):
        edit(study, code, offset=offset)
    changes = schedule_replan_preview(study=study, now=NOW)
    # t0 is open and stays; the others count from created_at, two seconds after enrolment.
    assert [(c.timepoint_code, c.new_due_at) for c in changes] == [
        ("t30", participant.created_at + timedelta(days=31)),
        ("t60", participant.created_at + timedelta(days=61)),
    ]


def test_withdrawn_participants_and_other_studies_are_left_alone(make, study):
    withdrawn, withdrawn_assignments = enrol(make, study)
    Participant.objects.filter(pk=withdrawn.pk).update(status=Participant.Status.WITHDRAWN, withdrawn_at=NOW)
    active, _ = enrol(make, study, with_patient=False)  # research-only participant: no messages to plan
    other_version = make.published_version()
    make.timepoint(version=other_version, code="t30", offset=30)
    elsewhere = make.participant(study=other_version.questionnaire.study)
    assignments_plan(participant=elsewhere, anchor=ENROLLED)
    edit(study, "t30", offset=40)

    assert {c.participant_id for c in schedule_replan_preview(study=study, now=NOW)} == {active.pk}
    assert schedule_replan_apply(study=study, now=NOW) == 1
    assert window(withdrawn_assignments["t30"])[0] == ENROLLED + timedelta(days=30)
    assert Assignment.objects.get(participant=elsewhere).due_at == ENROLLED + timedelta(days=30)
