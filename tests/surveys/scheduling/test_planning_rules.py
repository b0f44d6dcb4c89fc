"""Planning rules: repeats, units, counting from a date answer, logic triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.consent.withdrawal import enrollment_withdraw
from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.messaging.planning import messages_plan
from patients.models import Message
from surveys.answering.submit import response_submit
from surveys.models import Assignment, Participant, Timepoint
from surveys.questionnaires.publish import questionnaire_publish
from surveys.scheduling.planning import assignments_plan
from surveys.scheduling.replan import schedule_replan_apply, schedule_replan_preview
from surveys.scheduling.triggers import assignments_plan_after_response

ENROLLED = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Monday 12:00 CEST
DAY, HOUR = timedelta(days=1), timedelta(hours=1)


def baseline_version(make, study):
    """A baseline questionnaire asking the date of surgery and the pain (0-10), both optional."""
    q = make.questionnaire(study=study, code="baseline")
    page = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="surgery", type="date", section=page)
    make.item(questionnaire=q, link_id="pain", type="nrs", section=page, min_value=0, max_value=10)
    return questionnaire_publish(questionnaire=q, by=None)


@pytest.fixture
def design(make):
    """A study with a baseline (t0, due at enrolment) and a second questionnaire for follow-ups."""
    study = make.study()
    baseline = baseline_version(make, study)
    follow_up = make.published_version(study=study)
    make.timepoint(version=baseline, code="t0", offset=0, window=7)
    return study, baseline, follow_up


def windows(participant, code: str) -> list[tuple[int, datetime, datetime]]:
    return list(
        Assignment.objects.filter(participant=participant, timepoint__code=code)
        .order_by("occurrence")
        .values_list("occurrence", "due_at", "expires_at")
    )


def enrol(make, study, *, at: datetime = ENROLLED):
    """As enrollment_create does: assignments and messages planned from the enrolment instant."""
    participant = make.participant(study=study)
    enrollment = make.enrollment(patient=make.patient(), participant=participant, enrolled_at=at)
    assignments = assignments_plan(participant=participant, anchor=at)
    messages_plan(enrollment=enrollment, assignments=assignments, now=at)
    return participant, enrollment


def submit(participant, code: str = "t0", **answers):
    """The patient answers the baseline and submits it (through the real service and its signal)."""
    from surveys.models import Response

    assignment = Assignment.objects.get(participant=participant, timepoint__code=code, occurrence=1)
    Response.objects.update_or_create(
        assignment=assignment, defaults={"version_id": assignment.timepoint.version_id, "answers": answers}
    )
    return response_submit(assignment=assignment)


# --- repeats and units ------------------------------------------------------------------


def test_weekly_for_twelve_weeks_plans_twelve_assignments_each_with_its_window(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="weekly", offset=7, window=3, repeat_every=7, repeat_count=12)
    participant, _enrollment = enrol(make, study)
    got = windows(participant, "weekly")
    assert [k for k, _due, _closes in got] == list(range(1, 13))
    assert got[0][1:] == (ENROLLED + 7 * DAY, ENROLLED + 10 * DAY)
    assert got[11][1:] == (ENROLLED + 84 * DAY, ENROLLED + 87 * DAY)
    assert all(due == ENROLLED + (7 + 7 * (k - 1)) * DAY and closes - due == 3 * DAY for k, due, closes in got)


def test_a_daily_diary_opens_each_day_for_a_day(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="diary", unit="days", offset=1, window=1, repeat_every=1, repeat_count=30)
    participant, _enrollment = enrol(make, study)
    got = windows(participant, "diary")
    assert len(got) == 30
    # Back to back: each day's diary closes when the next one opens.
    assert all(got[i][2] == got[i + 1][1] for i in range(29))
    assert got[-1][1:] == (ENROLLED + 30 * DAY, ENROLLED + 31 * DAY)


def test_hours_count_elapsed_hours(make, design):
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="post-op",
        unit="hours",
        offset=2,
        window=4,
        repeat_every=6,
        repeat_count=4,
        reminders=[2],
    )
    participant, enrollment = enrol(make, study)
    assert [(due - ENROLLED, closes - due) for _k, due, closes in windows(participant, "post-op")] == [
        (2 * HOUR, 4 * HOUR),
        (8 * HOUR, 4 * HOUR),
        (14 * HOUR, 4 * HOUR),
        (20 * HOUR, 4 * HOUR),
    ]


def test_each_occurrence_gets_its_invitation_and_reminders(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="weekly", offset=7, window=7, repeat_every=7, repeat_count=3, reminders=[2])
    participant, _enrollment = enrol(make, study)
    weekly = Message.objects.filter(assignment__timepoint__code="weekly")
    assert sorted(weekly.values_list("assignment__occurrence", "sequence")) == [
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
        (3, 0),
        (3, 1),
    ]


def test_enrolment_through_the_service_plans_repeats_and_leaves_waiting_timepoints(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="weekly", offset=7, window=7, repeat_every=7, repeat_count=12)
    make.timepoint(version=follow_up, code="after-surgery", offset=30, anchor="answer", anchor_item="surgery")
    make.timepoint(
        version=follow_up,
        code="pain-follow-up",
        offset=7,
        trigger_item="answer:pain",
        trigger_operator=">=",
        trigger_value="7",
    )
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(name="Jeanne Martin", phone="06 12 34 56 78", consent_method="written"),
        by=None,
        now=timezone.now(),
    )
    codes = list(enrollment.participant.assignments.values_list("timepoint__code", flat=True))
    assert sorted(set(codes)) == ["t0", "weekly"] and len(codes) == 13


def test_planning_twice_adds_nothing(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="weekly", offset=7, window=7, repeat_every=7, repeat_count=12)
    participant, _enrollment = enrol(make, study)
    first = [a.pk for a in assignments_plan(participant=participant, anchor=ENROLLED)]
    again = [a.pk for a in assignments_plan(participant=participant, anchor=ENROLLED + DAY)]
    assert first == again and len(first) == 13
    # One history row per assignment, written when it was created.
    assert Assignment.history.filter(participant=participant).count() == 13


# --- counting from a date answer --------------------------------------------------------


def test_a_follow_up_counts_from_local_midnight_of_the_date_answered(make, design):
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="after-surgery",
        offset=30,
        window=7,
        anchor="answer",
        anchor_item="surgery",
        reminders=[2],
    )
    participant, _enrollment = enrol(make, study, at=timezone.now())
    assert windows(participant, "after-surgery") == []  # nothing until the date is known
    surgery = timezone.now().date() - timedelta(days=3)
    submit(participant, surgery=surgery.isoformat())
    ((k, due, closes),) = windows(participant, "after-surgery")
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    assert due.astimezone(paris).replace(tzinfo=None) == datetime.combine(
        surgery + timedelta(days=30), datetime.min.time()
    )
    assert closes.astimezone(paris).replace(tzinfo=None) == datetime.combine(
        surgery + timedelta(days=37), datetime.min.time()
    )
    # Its invitation and reminder were planned through the patients side.
    assert sorted(
        Message.objects.filter(assignment__timepoint__code="after-surgery").values_list("sequence", flat=True)
    ) == [0, 1]


def test_date_anchored_days_are_calendar_days_across_a_dst_change(make, design):
    study, _baseline, follow_up = design
    tp = make.timepoint(
        version=follow_up, code="after-surgery", offset=30, window=7, anchor="answer", anchor_item="surgery"
    )
    participant, _enrollment = enrol(make, study, at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    baseline = Assignment.objects.get(participant=participant, timepoint__code="t0")
    response = make.response(
        assignment=baseline,
        status="completed",
        answers={"surgery": "2026-03-10"},
        submitted_at=datetime(2026, 3, 11, 9, 0, tzinfo=UTC),
    )
    (assignment,) = assignments_plan_after_response(response=response, now=datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    assert assignment.timepoint == tp
    # 10 March 00:00 CET + 30 days = 9 April 00:00 CEST (22:00 UTC), not 23:00 UTC.
    assert (assignment.due_at, assignment.expires_at) == (
        datetime(2026, 4, 8, 22, 0, tzinfo=UTC),
        datetime(2026, 4, 15, 22, 0, tzinfo=UTC),
    )


def test_occurrences_already_closed_for_an_old_date_are_not_created(make, design):
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="weekly-after",
        offset=0,
        window=7,
        repeat_every=7,
        repeat_count=4,
        anchor="answer",
        anchor_item="surgery",
    )
    participant, _enrollment = enrol(make, study, at=timezone.now())
    submit(participant, surgery=(timezone.now().date() - timedelta(days=15)).isoformat())
    assert [k for k, _due, _closes in windows(participant, "weekly-after")] == [3, 4]


# --- logic triggers ---------------------------------------------------------------------


@pytest.fixture
def pain_trigger(make, design):
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="pain-follow-up",
        offset=7,
        window=5,
        reminders=[2],
        trigger_item="answer:pain",
        trigger_operator=">=",
        trigger_value="7",
    )
    return study


def test_a_high_pain_answer_plans_a_follow_up_seven_days_after_the_submission(make, pain_trigger):
    participant, _enrollment = enrol(make, pain_trigger, at=timezone.now())
    response = submit(participant, pain=8)
    ((k, due, closes),) = windows(participant, "pain-follow-up")
    assert (k, due, closes) == (1, response.submitted_at + 7 * DAY, response.submitted_at + 12 * DAY)


def test_the_triggered_follow_up_gets_its_messages_through_the_patients_side(make, pain_trigger):
    participant, enrollment = enrol(make, pain_trigger, at=timezone.now())
    submit(participant, pain=9)
    follow_up = Assignment.objects.get(participant=participant, timepoint__code="pain-follow-up")
    messages = list(Message.objects.filter(assignment=follow_up).order_by("sequence"))
    assert [(m.kind, m.sequence, m.status, m.enrollment_id) for m in messages] == [
        ("invitation", 0, "planned", enrollment.pk),
        ("reminder", 1, "planned", enrollment.pk),
    ]
    assert messages[0].scheduled_at >= follow_up.due_at


def test_a_pain_below_the_threshold_plans_nothing(make, pain_trigger):
    participant, _enrollment = enrol(make, pain_trigger, at=timezone.now())
    submit(participant, pain=6)
    assert windows(participant, "pain-follow-up") == []


def test_the_trigger_fires_once_not_again_on_a_second_submission(make, design):
    study, baseline, follow_up = design
    make.timepoint(version=baseline, code="weekly-pain", offset=0, window=7, repeat_every=7, repeat_count=4)
    make.timepoint(
        version=follow_up,
        code="pain-follow-up",
        offset=7,
        trigger_item="answer:pain",
        trigger_operator=">=",
        trigger_value="7",
    )
    participant, _enrollment = enrol(make, study, at=timezone.now())
    submit(participant, pain=8)
    first = windows(participant, "pain-follow-up")
    assignment = Assignment.objects.get(participant=participant, timepoint__code="weekly-pain", occurrence=1)
    make.response(assignment=assignment, version=baseline, answers={"pain": 10})
    response_submit(assignment=assignment)
    response_submit(assignment=assignment)  # a double submit, too
    assert windows(participant, "pain-follow-up") == first and len(first) == 1


def test_a_score_can_trigger(make, design):
    study, _baseline, follow_up = design
    make.timepoint(
        version=follow_up,
        code="phq-follow-up",
        offset=14,
        trigger_item="score:phq9",
        trigger_operator=">",
        trigger_value="14",
    )
    participant, _enrollment = enrol(make, study, at=timezone.now())
    baseline = Assignment.objects.get(participant=participant, timepoint__code="t0")
    low = make.response(assignment=baseline, status="completed", scores={"phq9": 12})
    assert assignments_plan_after_response(response=low) == []
    low.scores = {"phq9": {"value": 17}}
    (planned,) = assignments_plan_after_response(response=low)
    assert planned.due_at == low.submitted_at + 14 * DAY


def test_a_withdrawn_participant_gets_nothing_new(make, pain_trigger):
    participant, enrollment = enrol(make, pain_trigger, at=timezone.now())
    baseline = Assignment.objects.get(participant=participant, timepoint__code="t0")
    make.response(assignment=baseline, answers={"pain": 10})
    enrollment_withdraw(enrollment=enrollment, by_patient=True, delete_data=False, now=timezone.now())
    response_submit(assignment=baseline)
    assert windows(participant, "pain-follow-up") == []
    assert not Message.objects.filter(enrollment=enrollment, status="planned").exists()


# --- re-planning after an edit ----------------------------------------------------------


def test_editing_a_repeating_timepoint_moves_every_planned_occurrence(make, design):
    study, _baseline, follow_up = design
    make.timepoint(version=follow_up, code="weekly", offset=7, window=7, repeat_every=7, repeat_count=4)
    participant, _enrollment = enrol(make, study)
    Participant.objects.filter(pk=participant.pk).update(created_at=ENROLLED)
    assert schedule_replan_preview(study=study, now=ENROLLED) == []
    Timepoint.objects.filter(code="weekly").update(offset=8, repeat_count=5)
    changes = schedule_replan_preview(study=study, now=ENROLLED)
    assert [(c.occurrence, c.is_new, c.new_due_at - ENROLLED) for c in changes if c.timepoint_code == "weekly"] == [
        (1, False, 8 * DAY),
        (2, False, 15 * DAY),
        (3, False, 22 * DAY),
        (4, False, 29 * DAY),
        (5, True, 36 * DAY),
    ]
    assert schedule_replan_apply(study=study, now=ENROLLED) == 5
    assert [due - ENROLLED for _k, due, _c in windows(participant, "weekly")] == [
        8 * DAY,
        15 * DAY,
        22 * DAY,
        29 * DAY,
        36 * DAY,
    ]
    assert Message.objects.filter(assignment__timepoint__code="weekly", sequence=0, status="planned").count() == 5


def test_replanning_leaves_waiting_timepoints_waiting_and_moves_triggered_ones_from_their_submission(
    make, pain_trigger
):
    participant, _enrollment = enrol(make, pain_trigger, at=timezone.now())
    other, _ = enrol(make, pain_trigger, at=timezone.now())
    response = submit(participant, pain=7)
    now = timezone.now()
    assert [
        c for c in schedule_replan_preview(study=pain_trigger, now=now) if c.timepoint_code == "pain-follow-up"
    ] == []
    Timepoint.objects.filter(code="pain-follow-up").update(offset=10)
    (change,) = [
        c for c in schedule_replan_preview(study=pain_trigger, now=now) if c.timepoint_code == "pain-follow-up"
    ]
    assert (change.participant_id, change.is_new, change.new_due_at) == (
        participant.pk,
        False,
        response.submitted_at + 10 * DAY,
    )
    assert not Assignment.objects.filter(participant=other, timepoint__code="pain-follow-up").exists()


# --- validation -------------------------------------------------------------------------


def problems(make, design, **fields) -> dict[str, list[str]]:
    study, _baseline, follow_up = design
    tp = Timepoint(study=study, version=follow_up, code="x", label="X", **fields)
    with pytest.raises(ValidationError) as caught:
        tp.full_clean()
    return caught.value.message_dict


def test_repeat_settings_are_checked_with_clear_messages(make, design):
    assert problems(make, design, repeat_every=0, repeat_count=12) == {
        "repeat_every": ["Say how often it repeats (e.g. 7 for weekly), or set occurrences to 1."]
    }
    assert "repeat_count" in problems(make, design, repeat_every=7, repeat_count=1)
    assert problems(make, design, repeat_every=7, repeat_count=400)["repeat_count"] == [
        "Give between 1 and 366 occurrences."
    ]
    assert problems(make, design, repeat_every=3, repeat_count=4, window=7)["window"] == [
        "The open window (7) must not be longer than the repeat interval (3): two occurrences would be open at once."
    ]


def test_anchor_settings_are_checked_with_clear_messages(make, design):
    assert problems(make, design, anchor="answer")["anchor_item"] == [
        "Give the linkId of the date question to count from."
    ]
    assert problems(make, design, anchor="answer", anchor_item="nope")["anchor_item"] == [
        "No published questionnaire of this study has a question nope."
    ]
    assert problems(make, design, anchor="answer", anchor_item="pain")["anchor_item"] == [
        "Question pain is not a date question."
    ]
    assert "anchor_item" in problems(make, design, anchor_item="surgery")
    assert "trigger_item" in problems(
        make,
        design,
        anchor="answer",
        anchor_item="surgery",
        trigger_item="answer:pain",
        trigger_operator=">=",
        trigger_value="7",
    )


def test_trigger_settings_are_checked_with_clear_messages(make, design):
    assert problems(make, design, trigger_item="pain")["trigger_item"] == [
        'Write "answer:<linkId>" or "score:<name>", e.g. answer:pain.'
    ]
    assert problems(make, design, trigger_item="answer:nope", trigger_operator=">=", trigger_value="7")[
        "trigger_item"
    ] == ["No published questionnaire of this study has a question nope."]
    got = problems(make, design, trigger_item="answer:pain")
    assert got["trigger_operator"] == ["Choose the condition (e.g. ≥)."]
    assert got["trigger_value"] == ["Give the value to compare with (e.g. 7)."]
    assert problems(make, design, trigger_item="score:phq9", trigger_operator=">=", trigger_value="high")[
        "trigger_value"
    ] == ["Give a number to compare with (e.g. 7)."]
    assert problems(make, design, trigger_item="answer:surgery", trigger_operator="<", trigger_value="31/12/2025")[
        "trigger_value"
    ] == ["Give a date as YYYY-MM-DD to compare a date with."]


def test_valid_settings_pass(make, design):
    study, _baseline, follow_up = design
    for fields in (
        {"repeat_every": 7, "repeat_count": 12},
        {"anchor": "answer", "anchor_item": "surgery"},
        {"trigger_item": "answer:pain", "trigger_operator": ">=", "trigger_value": "7"},
        {"trigger_item": "answer:surgery", "trigger_operator": "<", "trigger_value": date(2026, 1, 1).isoformat()},
    ):
        Timepoint(study=study, version=follow_up, code="ok", label="OK", **fields).full_clean()


def test_the_database_refuses_repeats_without_an_interval(make, design):
    study, _baseline, follow_up = design
    with pytest.raises(IntegrityError), transaction.atomic():
        make.timepoint(version=follow_up, code="bad", label="Bad", repeat_count=3)
