"""The study team's outbox: messages by pseudonym, counts per timepoint, and the audited resend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from patients.messaging.outbox import (
    ResendRefused,
    message_error_text,
    message_resend,
    outbox_counts,
    redact,
)
from patients.messaging.planning import contact_mark_opted_out, messages_plan
from patients.models import Enrollment, Message, MessageResend
from surveys.models import Assignment, Site
from tests import factories
from tests.conftest import need_service
from tests.surveys.answering.test_concurrency import run_together

S = Message.Status
NAME, PHONE, EMAIL = "Jeanne Martin", "+33612345678", "jeanne.martin@example.org"


@dataclass
class World:
    study: object
    north: Site
    south: Site
    t0: object
    t30: object
    # Enrolled at the north site, SMS; at the south site, email.
    north_enrollment: Enrollment
    south_enrollment: Enrollment

    def invitation(self, enrollment: Enrollment, code: str = "t0") -> Message:
        return Message.objects.get(enrollment=enrollment, assignment__timepoint__code=code, sequence=0, resend=0)

    def url(self) -> str:
        return reverse("patients:outbox", args=[self.study.code])

    def resend_url(self, message: Message) -> str:
        return reverse("patients:outbox_resend", args=[self.study.code, message.pk])


def enrol(make, *, study, site, timepoints, at, **patient_kw) -> Enrollment:
    participant = make.participant(study=study, site=site)
    enrollment = make.enrollment(patient=make.patient(**patient_kw), participant=participant, enrolled_at=at)
    assignments = [
        make.assignment(
            participant=participant,
            timepoint=tp,
            due_at=at + timedelta(days=tp.offset),
            status="open" if tp.offset == 0 else "planned",
        )
        for tp in timepoints
    ]
    messages_plan(enrollment=enrollment, assignments=assignments, now=at)
    return enrollment


@pytest.fixture
def world(make) -> World:
    """Two patients an hour into their first questionnaire (open, invitation sent), one per site."""
    at = timezone.now() - timedelta(hours=1)
    version = make.published_version()
    study = version.questionnaire.study
    t0 = make.timepoint(version=version, code="t0", offset=0, window=7, reminders=[2], order=1)
    t30 = make.timepoint(version=version, code="t30", offset=30, window=7, order=2)
    north, south = make.site(study=study, code="north"), make.site(study=study, code="south")
    north_e = enrol(make, study=study, site=north, timepoints=[t0, t30], at=at, name=NAME, phone=PHONE)
    south_e = enrol(
        make,
        study=study,
        site=south,
        timepoints=[t0, t30],
        at=at,
        name="Paul Durand",
        phone="",
        email=EMAIL,
        preferred_channel="email",
    )
    Message.objects.filter(sequence=0, assignment__timepoint=t0).update(
        status=S.SENT, sent_at=at + timedelta(minutes=1), provider_id="x"
    )
    return World(study, north, south, t0, t30, north_e, south_e)


def staff(make, study, role: str, site: Site | None = None):
    user = make.user()
    factories.member(user=user, study=study, role=role, site=site)
    return user


def page(client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def pseudonym(enrollment: Enrollment) -> str:
    return enrollment.participant.pseudonym


# --- who sees what -------------------------------------------------------------------------------


def test_investigators_see_messages_by_pseudonym_and_never_an_identity(make, client, world):
    client.force_login(staff(make, world.study, "investigator"))

    html = page(client, world.url()) + page(client, world.url(), when="upcoming")

    assert pseudonym(world.north_enrollment) in html and pseudonym(world.south_enrollment) in html
    for identity in (NAME, "Paul Durand", PHONE, "06 12 34 56 78", EMAIL):
        assert identity not in html
    assert "Invitation" in html and "Reminder 1" in html
    assert world.resend_url(world.invitation(world.north_enrollment)) in html


def test_a_site_limited_investigator_sees_their_site_only(make, client, world):
    investigator = staff(make, world.study, "investigator", site=world.north)
    client.force_login(investigator)

    html = page(client, world.url()) + page(client, world.url(), when="upcoming")

    assert pseudonym(world.north_enrollment) in html
    assert pseudonym(world.south_enrollment) not in html
    counts = {c.timepoint.code: c for c in outbox_counts(study=world.study, user=investigator)}
    assert counts["t0"].sent == 1 and counts["t0"].assignments == 1
    # Another site's message cannot be resent, nor even found.
    south = world.invitation(world.south_enrollment)
    assert client.get(world.resend_url(south)).status_code == 404
    assert client.post(world.resend_url(south), {"reason": "asked"}).status_code == 404
    assert MessageResend.objects.count() == 0


def test_data_managers_read_the_outbox_but_cannot_resend(make, client, world):
    client.force_login(staff(make, world.study, "data_manager"))
    message = world.invitation(world.north_enrollment)

    html = page(client, world.url())

    assert pseudonym(world.north_enrollment) in html
    assert world.resend_url(message) not in html
    assert client.get(world.resend_url(message)).status_code == 403
    assert client.post(world.resend_url(message), {"reason": "asked"}).status_code == 403
    assert Message.objects.filter(resend__gt=0).count() == 0


@pytest.mark.parametrize("role", ["designer", "reviewer"])
def test_other_members_are_refused_the_outbox(make, client, world, role):
    client.force_login(staff(make, world.study, role))

    assert client.get(world.url()).status_code == 403
    assert client.post(world.resend_url(world.invitation(world.north_enrollment)), {"reason": "x"}).status_code == 403


def test_outsiders_find_no_outbox(make, client, world):
    client.force_login(make.user())

    assert client.get(world.url()).status_code == 404
    assert client.post(world.resend_url(world.invitation(world.north_enrollment)), {"reason": "x"}).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get(world.url())
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_investigator_of_another_study_finds_nothing(make, client, world):
    other = make.study()
    client.force_login(staff(make, other, "investigator"))
    assert client.get(world.url()).status_code == 404


# --- the page ------------------------------------------------------------------------------------


def test_failed_messages_come_first_with_their_error_in_words(make, client, world):
    failed = world.invitation(world.north_enrollment)
    Message.objects.filter(pk=failed.pk).update(status=S.FAILED, last_error="Twilio undelivered 30003")
    client.force_login(staff(make, world.study, "investigator"))

    html = page(client, world.url())

    top = html.index("Failed messages, latest first")
    assert html.index("The phone could not be reached (Twilio 30003)") > top
    assert top < html.index("Past messages")


def test_times_are_shown_in_the_study_time_zone(make, client, world):
    message = world.invitation(world.north_enrollment)
    Message.objects.filter(pk=message.pk).update(scheduled_at=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    client.force_login(staff(make, world.study, "investigator"))

    assert "2026-01-05 09:00" in page(client, world.url())  # CET


def test_filters_by_status_timepoint_and_channel(make, client, world):
    client.force_login(staff(make, world.study, "investigator"))
    north, south = pseudonym(world.north_enrollment), pseudonym(world.south_enrollment)

    by_email = page(client, world.url(), channel="email")
    assert south in by_email and north not in by_email.split("Past messages")[1]
    upcoming_t30 = page(client, world.url(), when="upcoming", timepoint=world.t30.pk)
    assert "t30" in upcoming_t30.split("Upcoming messages")[1]
    assert "Reminder 1" not in upcoming_t30.split("Upcoming messages")[1]  # t30 has no reminder
    assert "No message matches." in page(client, world.url(), status="delivered")
    # A status that is still to come shows the upcoming list, whatever "when" says.
    planned = page(client, world.url(), status="planned", when="")
    assert "Upcoming messages" in planned and "Reminder 1" in planned
    # Nonsense filters are ignored rather than failing.
    assert north in page(client, world.url(), status="nope", channel="fax", timepoint="x", page="999")


def test_pages_cost_the_same_queries_for_five_or_a_hundred_rows(make, client, world):
    client.force_login(staff(make, world.study, "investigator"))
    page(client, world.url())  # warm up (session, content types)
    with CaptureQueriesContext(connection) as few:
        page(client, world.url())

    # 100 more messages for the same study: past and failed ones, each a resend row.
    invitation = world.invitation(world.north_enrollment)
    Message.objects.bulk_create(
        [
            Message(
                enrollment=invitation.enrollment,
                assignment=invitation.assignment,
                channel="sms",
                kind="invitation",
                sequence=0,
                resend=n,
                scheduled_at=invitation.scheduled_at + timedelta(minutes=n),
                status=S.FAILED if n % 2 else S.DELIVERED,
            )
            for n in range(1, 101)
        ]
    )
    with CaptureQueriesContext(connection) as many:
        html = page(client, world.url())

    assert len(many.captured_queries) == len(few.captured_queries)
    # 102 past messages, 50 a page.
    assert "Page 1 of 3" in html and "See every failed message" in html
    assert "Page 3 of 3" in page(client, world.url(), page=3)


# --- counts per timepoint ------------------------------------------------------------------------


def test_counts_per_timepoint_in_three_queries(make, world):
    north_t0 = world.invitation(world.north_enrollment)
    south_t0 = world.invitation(world.south_enrollment)
    Message.objects.filter(pk=north_t0.pk).update(status=S.DELIVERED, delivered_at=timezone.now())
    Message.objects.filter(pk=south_t0.pk).update(status=S.FAILED, last_error="email bounced (invalid)")
    # The north patient opened the link and answered: completed; the south one never opened it.
    make.response(assignment=north_t0.assignment, status="completed")
    Assignment.objects.filter(pk=north_t0.assignment_id).update(status=Assignment.Status.COMPLETED)
    user = make.user(superuser=True)

    with CaptureQueriesContext(connection) as queries:
        counts = {c.timepoint.code: c for c in outbox_counts(study=world.study, user=user)}

    assert len(queries.captured_queries) == 3
    t0, t30 = counts["t0"], counts["t30"]
    # t0: two invitations sent, one delivered, one bounced after sending (still counted as sent);
    # two reminders planned.
    assert (t0.planned, t0.sent, t0.delivered, t0.failed) == (2, 2, 1, 1)
    assert (t0.assignments, t0.opened, t0.completed) == (2, 1, 1)
    assert (t30.planned, t30.sent, t30.delivered, t30.failed) == (2, 0, 0, 0)
    assert (t30.assignments, t30.opened, t30.completed) == (2, 0, 0)


def test_counts_count_a_started_questionnaire_as_opened_not_completed(make, world):
    make.response(assignment=world.invitation(world.north_enrollment).assignment)  # in progress
    counts = {c.timepoint.code: c for c in outbox_counts(study=world.study, user=make.user(superuser=True))}
    assert (counts["t0"].opened, counts["t0"].completed) == (1, 0)


def test_the_page_shows_the_counts(make, client, world):
    client.force_login(staff(make, world.study, "data_manager"))
    html = page(client, world.url())
    assert "Per timepoint" in html and "Opened" in html and "Completed" in html


# --- resend --------------------------------------------------------------------------------------


def snapshot() -> tuple:
    return (
        list(Message.objects.order_by("pk").values_list("pk", "status", "scheduled_at", "resend")),
        MessageResend.objects.count(),
    )


def test_a_resend_is_a_new_planned_row_with_its_audit(make, world):
    investigator = staff(make, world.study, "investigator")
    original = world.invitation(world.north_enrollment)
    now = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)  # Tuesday 12:00 in Paris: inside the sending window
    Assignment.objects.filter(pk=original.assignment_id).update(
        due_at=now - timedelta(days=1), expires_at=now + timedelta(days=5)
    )

    first = message_resend(message=original, by=investigator, reason="  deleted the SMS\nby mistake ", now=now)

    assert (first.assignment_id, first.sequence, first.channel, first.kind) == (
        original.assignment_id,
        0,
        "sms",
        "invitation",
    )
    assert (first.resend, first.status, first.scheduled_at) == (1, S.PLANNED, now)
    audit = MessageResend.objects.get()
    assert (audit.original, audit.message, audit.by, audit.reason, audit.at) == (
        original,
        first,
        investigator,
        "deleted the SMS by mistake",
        now,
    )
    with pytest.raises(ValueError):
        audit.save()
    with pytest.raises(ValueError):
        audit.delete()

    # Sent since: a second resend takes the next number.
    Message.objects.filter(pk=first.pk).update(status=S.SENT)
    second = message_resend(message=original, by=investigator, reason="again", now=now)
    assert second.resend == 2 and MessageResend.objects.count() == 2


def test_a_resend_at_night_waits_for_the_sending_window_in_the_patients_zone(make, world):
    original = world.invitation(world.north_enrollment)
    night = datetime(2026, 6, 2, 21, 30, tzinfo=UTC)  # 23:30 in Paris
    Assignment.objects.filter(pk=original.assignment_id).update(
        due_at=night - timedelta(days=1), expires_at=night + timedelta(days=5)
    )

    resent = message_resend(message=original, by=make.user(), reason="asked", now=night)

    assert resent.scheduled_at == datetime(2026, 6, 3, 7, 0, tzinfo=UTC)  # 09:00 in Paris


@pytest.mark.parametrize(
    "reason, expected",
    [
        ("", "Say why this message is sent again"),
        ("   ", "Say why this message is sent again"),
        ("x" * 301, "Keep the reason under 300 characters."),
    ],
)
def test_a_resend_needs_a_reason(make, world, reason, expected):
    before = snapshot()
    with pytest.raises(ResendRefused, match=expected) as refused:
        message_resend(message=world.invitation(world.north_enrollment), by=make.user(), reason=reason)
    assert refused.value.field == "reason"
    assert snapshot() == before


def withdraw(world):
    Enrollment.objects.filter(pk=world.north_enrollment.pk).update(withdrawn_at=timezone.now())


def opt_out(world):
    contact_mark_opted_out(patient=world.north_enrollment.patient, channel="sms")


def expire(world):
    Assignment.objects.filter(pk=world.invitation(world.north_enrollment).assignment_id).update(
        status=Assignment.Status.EXPIRED, expires_at=timezone.now() - timedelta(minutes=1)
    )


def complete(world):
    Assignment.objects.filter(pk=world.invitation(world.north_enrollment).assignment_id).update(
        status=Assignment.Status.COMPLETED
    )


def still_planned(world):
    Message.objects.filter(pk=world.invitation(world.north_enrollment).pk).update(status=S.PLANNED)


def already_waiting(world):
    original = world.invitation(world.north_enrollment)
    factories.message(
        enrollment=original.enrollment,
        assignment=original.assignment,
        channel="sms",
        kind="invitation",
        sequence=0,
        resend=1,
        scheduled_at=timezone.now(),
    )


@pytest.mark.parametrize(
    "situation, words",
    [
        (withdraw, "has withdrawn from the study"),
        (opt_out, "opted out of SMS"),
        (expire, "window has closed"),
        (complete, "has been completed"),
        (still_planned, "has not been sent yet"),
        (already_waiting, "already waiting to go out"),
    ],
)
def test_a_resend_that_cannot_reach_the_patient_is_refused_and_changes_nothing(make, client, world, situation, words):
    situation(world)
    before = snapshot()
    client.force_login(staff(make, world.study, "investigator"))

    message = world.invitation(world.north_enrollment)
    # Said at once, before a reason is typed: no form to fill in for nothing.
    shown = client.get(world.resend_url(message)).content.decode()
    assert words in shown and 'name="reason"' not in shown
    response = client.post(world.resend_url(message), {"reason": "asked by phone"})

    assert response.status_code == 422
    assert words in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("situation", [withdraw, expire, complete])
def test_the_outbox_offers_no_resend_for_a_questionnaire_closed_or_a_patient_withdrawn(make, client, world, situation):
    client.force_login(staff(make, world.study, "investigator"))
    resend = world.resend_url(world.invitation(world.north_enrollment))
    assert resend in page(client, world.url())
    situation(world)
    assert resend not in page(client, world.url())


def test_an_undeliverable_email_refuses_an_email_resend(make, world):
    from patients.messaging.planning import contact_mark_undeliverable

    contact_mark_undeliverable(patient=world.south_enrollment.patient, channel="email", reason="bounced")
    before = snapshot()
    with pytest.raises(ResendRefused, match="email address is undeliverable"):
        message_resend(message=world.invitation(world.south_enrollment), by=make.user(), reason="asked")
    assert snapshot() == before


def test_the_resend_page_confirms_then_resends_with_the_reason(make, client, world):
    investigator = staff(make, world.study, "investigator")
    client.force_login(investigator)
    message = world.invitation(world.north_enrollment)

    form = client.get(world.resend_url(message))
    assert form.status_code == 200
    text = form.content.decode()
    assert pseudonym(world.north_enrollment) in text and 'name="reason"' in text and NAME not in text
    assert MessageResend.objects.count() == 0  # a GET sends nothing

    missing = client.post(world.resend_url(message), {"reason": ""})
    assert missing.status_code == 422 and 'aria-invalid="true"' in missing.content.decode()

    done = client.post(world.resend_url(message), {"reason": "the patient lost the SMS"}, follow=True)
    assert done.redirect_chain[-1][0] == world.url()
    assert "will be sent again" in done.content.decode()
    audit = MessageResend.objects.get()
    assert (audit.original_id, audit.by, audit.reason) == (message.pk, investigator, "the patient lost the SMS")
    # The outbox shows the new row as upcoming, and the original as resent once.
    assert "resend 1" in page(client, world.url(), when="upcoming")
    assert "resent 1 time" in page(client, world.url())


def test_an_investigator_limited_to_a_site_resends_there(make, client, world):
    client.force_login(staff(make, world.study, "investigator", site=world.north))
    response = client.post(world.resend_url(world.invitation(world.north_enrollment)), {"reason": "asked"})
    assert response.status_code == 302
    assert MessageResend.objects.count() == 1


# --- errors in words, without identities ------------------------------------------------------------


@pytest.mark.parametrize(
    "stored, shown",
    [
        ("completed", "Questionnaire completed"),
        ("withdrawn", "Patient withdrawn"),
        ("Twilio failed 21610", "The patient opted out of SMS (STOP) (Twilio 21610)"),
        ("Twilio undelivered", "SMS not delivered (Twilio undelivered)"),
        ("email rejected (spam)", "Email refused by the provider: marked as spam before"),
        ("email failed", "Email could not be sent"),
        ("The 'To' number +33 6 12 34 56 78 is not valid", "The 'To' number […] is not valid"),
        ("550 <jeanne.martin@example.org>: no such user", "550 <[…]>: no such user"),
        ("refused 0612345678", "refused […]"),
    ],
)
def test_errors_are_shown_in_words_without_numbers_or_addresses(stored, shown):
    assert message_error_text(Message(last_error=stored)) == shown


def test_redaction_keeps_error_codes():
    assert redact("Attempt 3: SMTP error 451 (gave up after 6 attempts)") == (
        "Attempt 3: SMTP error 451 (gave up after 6 attempts)"
    )


@pytest.fixture
def postgres_only(transactional_db):
    # SQLite serialises writers: only PostgreSQL shows what the row locks do under concurrent clicks.
    need_service("PostgreSQL", connection.vendor == "postgresql", "set DATABASE_URL=postgres://...")


def test_simultaneous_resends_of_one_message_make_one_new_row(make, postgres_only, world):
    investigator = staff(make, world.study, "investigator")
    original = world.invitation(world.north_enrollment)

    def resend(i: int):
        from django.utils import translation

        # Threads do not inherit the test's active language.
        with translation.override("en"):
            try:
                return message_resend(message=original, by=investigator, reason=f"click {i}").resend
            except ResendRefused as refused:
                return str(refused)

    results = run_together(6, resend)

    assert sorted(results, key=str)[0] == 1 and results.count(1) == 1, results
    assert all(r == 1 or "already waiting" in r for r in results), results
    assert Message.objects.filter(assignment=original.assignment, sequence=0, channel="sms").count() == 2
    assert MessageResend.objects.count() == 1
