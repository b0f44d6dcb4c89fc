"""The bulk planner (import, many enrolments) writes exactly what the per-enrolment services write.

Two identical cohorts are enrolled in the same study; one is planned enrolment by enrolment
through assignments_plan + messages_plan (as enrollment_create does), the other at once
through assignments_plan_many + messages_plan_many (as import_run does, its rows written by
COPY on PostgreSQL). Their assignments, history rows and messages must be the same, over a
table of cases and over generated ones: time zones (DST changes included), windows in hours
and days, repeats, send times, reminders, sending windows, Sundays, channels and contacts.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patients.enrolment.importing import import_read, import_run
from patients.identity.contacts import contact_digests_refresh
from patients.messaging.planning import messages_plan, messages_plan_many
from patients.models import Enrollment, Message, Patient
from surveys.models import Assignment
from surveys.scheduling.planning import assignments_plan, assignments_plan_many
from tests import factories

_codes = itertools.count()

UTC = dt.UTC


def _cohort(study, people: list[dict], tag: str) -> list[Enrollment]:
    enrollments = []
    for i, person in enumerate(people):
        participant = factories.participant(study=study, pseudonym=f"{tag}-{i:03d}")
        patient = factories.patient(
            name=f"Person {i}",
            phone=person["phone"],
            email=person["email"],
            time_zone=person["time_zone"],
            preferred_channel=person["channel"],
        )
        enrollments.append(factories.enrollment(patient=patient, participant=participant))
    return list(
        Enrollment.objects.filter(pk__in=[e.pk for e in enrollments])
        .select_related("patient", "participant__study")
        .order_by("pk")
    )


def _written(enrollments: list[Enrollment]) -> list[tuple]:
    """What was planned for each enrolment, in enrolment order, without ids and write instants."""
    out = []
    for index, enrollment in enumerate(enrollments):
        assignments = list(
            Assignment.objects.filter(participant=enrollment.participant).order_by("timepoint_id", "occurrence")
        )
        history = list(
            Assignment.history.filter(participant_id=enrollment.participant_id).order_by("timepoint_id", "occurrence")
        )
        messages = list(
            Message.objects.filter(enrollment=enrollment)
            .select_related("assignment")
            .order_by("assignment__timepoint_id", "assignment__occurrence", "sequence", "channel")
        )
        out.append(
            (
                index,
                [
                    (
                        a.timepoint_id,
                        a.occurrence,
                        a.due_at,
                        a.expires_at,
                        a.status,
                        a.token_hash,
                        a.token_version,
                        a.invitation_channel,
                    )
                    for a in assignments
                ],
                [
                    (
                        h.timepoint_id,
                        h.occurrence,
                        h.due_at,
                        h.expires_at,
                        h.status,
                        h.history_type,
                        h.history_user_id,
                        h.history_change_reason,
                    )
                    for h in history
                ],
                [
                    (
                        m.assignment.timepoint_id,
                        m.assignment.occurrence,
                        m.channel,
                        m.kind,
                        m.sequence,
                        m.resend,
                        m.scheduled_at,
                        m.status,
                        m.attempts,
                        m.provider_id,
                        m.last_error,
                        m.sent_at,
                    )
                    for m in messages
                ],
            )
        )
    # Each live row has its history row, pointing at it.
    ids = [a.pk for e in enrollments for a in Assignment.objects.filter(participant=e.participant)]
    assert sorted(Assignment.history.filter(id__in=ids).values_list("id", flat=True)) == sorted(ids)
    return out


def _both_ways(study, people: list[dict], anchor: dt.datetime, now: dt.datetime) -> tuple[list, list]:
    one_by_one = _cohort(study, people, "S")
    in_bulk = _cohort(study, people, "B")
    for enrollment in one_by_one:
        assignments = assignments_plan(participant=enrollment.participant, anchor=anchor)
        messages_plan(enrollment=enrollment, assignments=assignments, now=now)
    planned, created = assignments_plan_many(anchors=[(e.participant, anchor) for e in in_bulk])
    messages_plan_many(
        enrollments=in_bulk, assignments_by_participant=planned, now=now, created={a.pk for a in created}
    )
    return _written(one_by_one), _written(in_bulk)


def _study(*, time_zone: str, window: tuple[dt.time, dt.time], sundays: bool, timepoints: list[dict]):
    study = factories.study(
        code=f"bulk-{next(_codes)}",
        consent_required=False,
        time_zone=time_zone,
        send_window_start=window[0],
        send_window_end=window[1],
        send_on_sundays=sundays,
    )
    version = factories.published_version(study=study)
    for i, timepoint in enumerate(timepoints):
        factories.timepoint(version=version, code=f"tp{i}", order=i, **timepoint)
    return study


PEOPLE = [
    {"phone": "+33612345678", "email": "a@example.org", "time_zone": "Europe/Paris", "channel": "sms"},
    {"phone": "", "email": "b@example.org", "time_zone": "America/New_York", "channel": "sms"},
    {"phone": "+33612345679", "email": "", "time_zone": "Pacific/Auckland", "channel": "email"},
    {"phone": "+33612345670", "email": "d@example.org", "time_zone": "Asia/Kolkata", "channel": "email"},
    {"phone": "", "email": "", "time_zone": "Europe/London", "channel": "sms"},
]

CASES = {
    "baseline, weekly repeats, 3 months": (
        [
            {"offset": 0, "window": 7, "reminders": [2, 5]},
            {"offset": 7, "window": 7, "repeat_every": 7, "repeat_count": 12, "reminders": [3]},
            {"offset": 90, "window": 14, "reminders": [3, 7]},
        ],
        dt.datetime(2030, 6, 3, 10, 0, tzinfo=UTC),
    ),
    "hours, a send time, across the March DST change": (
        [
            {"offset": 2, "unit": "hours", "window": 30, "reminders": [4, 8, 20], "send_time": dt.time(2, 30)},
            {"offset": 1, "window": 3, "reminders": [1, 2], "send_time": dt.time(18, 0), "channels": ["email"]},
        ],
        dt.datetime(2030, 3, 30, 22, 0, tzinfo=UTC),
    ),
    "daily diary across the October DST change, SMS only": (
        [{"offset": 0, "window": 1, "repeat_every": 1, "repeat_count": 10, "channels": ["sms"], "reminders": [0]}],
        dt.datetime(2030, 10, 24, 17, 45, tzinfo=UTC),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bulk_planner_writes_what_the_services_write(make, case):
    timepoints, anchor = CASES[case]
    study = _study(time_zone="Europe/Paris", window=(dt.time(9), dt.time(19)), sundays=False, timepoints=timepoints)
    one_by_one, in_bulk = _both_ways(study, PEOPLE, anchor, now=anchor)
    assert in_bulk == one_by_one
    assert any(messages for *_rest, messages in in_bulk)


def test_reminders_already_past_are_dropped_alike(make):
    timepoints, anchor = CASES["baseline, weekly repeats, 3 months"]
    study = _study(time_zone="Europe/Paris", window=(dt.time(8), dt.time(20)), sundays=True, timepoints=timepoints)
    one_by_one, in_bulk = _both_ways(study, PEOPLE, anchor, now=anchor + dt.timedelta(days=9))
    assert in_bulk == one_by_one


ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/Sao_Paulo"]

timepoint_settings = st.fixed_dictionaries(
    {
        "offset": st.integers(0, 40),
        "unit": st.sampled_from(["days", "hours"]),
        "window": st.integers(1, 30),
        "reminders": st.lists(st.integers(0, 20), max_size=4, unique=True).map(sorted),
        "send_time": st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0, second=0))),
        "channels": st.sampled_from([["sms"], ["email"], ["sms", "email"], ["email", "sms"]]),
    },
    optional={"repeat_count": st.integers(2, 5)},
).map(lambda tp: {**tp, "repeat_every": max(1, tp["window"])} if "repeat_count" in tp else tp)

person = st.fixed_dictionaries(
    {
        "phone": st.sampled_from(["", "+33612345678"]),
        "email": st.sampled_from(["", "p@example.org"]),
        "time_zone": st.sampled_from(ZONES),
        "channel": st.sampled_from(["sms", "email"]),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    timepoints=st.lists(timepoint_settings, min_size=1, max_size=3),
    people=st.lists(person, min_size=1, max_size=4),
    anchor=st.datetimes(min_value=dt.datetime(2029, 1, 1), max_value=dt.datetime(2031, 12, 31), timezones=st.just(UTC)),
    late_by=st.integers(0, 20 * 24),
    zone=st.sampled_from(ZONES),
    start=st.integers(6, 11),
    hours=st.integers(1, 12),
    sundays=st.booleans(),
)
def test_bulk_planner_agrees_on_generated_schedules(
    make, timepoints, people, anchor, late_by, zone, start, hours, sundays
):
    window = (dt.time(start), dt.time(min(23, start + hours)))
    study = _study(time_zone=zone, window=window, sundays=sundays, timepoints=timepoints)
    one_by_one, in_bulk = _both_ways(study, people, anchor, now=anchor + dt.timedelta(hours=late_by))
    assert in_bulk == one_by_one


def test_an_import_encrypts_each_field_once_and_its_history_holds_the_same_ciphertext(make):
    study = make.study(consent_required=False)
    make.timepoint(version=make.published_version(study=study), code="t0", offset=0, window=7)
    content = b"name,phone,email,birth_date,consent_method\nJeanne Martin,0612345678,j@example.org,03/02/1951,written\n"
    import_run(study=study, rows=import_read(filename="x.csv", content=content), by=None, now=dt.datetime.now(UTC))
    patient = Patient.objects.get()
    columns = ("name", "email", "phone", "birth_date")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM patients_patient WHERE id = %s", [patient.pk])
        stored = cursor.fetchone()
        cursor.execute(f"SELECT {', '.join(columns)} FROM patients_historicalpatient WHERE id = %s", [patient.pk])
        in_history = cursor.fetchone()
    assert in_history == stored
    assert "Jeanne" not in "".join(stored)
    record = Patient.history.get()
    assert (record.name, record.email, record.phone, record.birth_date) == (
        "Jeanne Martin",
        "j@example.org",
        "+33612345678",
        "1951-02-03",
    )
    # The blind indexes are those Patient.save computes.
    saved = Patient(email=patient.email, phone=patient.phone)
    contact_digests_refresh(saved)
    assert (patient.email_digest, patient.phone_digest) == (saved.email_digest, saved.phone_digest)
