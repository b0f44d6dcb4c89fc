"""Withdrawal and objection: by the patient from any link, or by an investigator.

It cancels what lies ahead at once, keeps or deletes what was collected (GDPR), and the
audit shows that a deletion happened and how many responses it took, never what they said.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.consent.withdrawal import enrollment_withdraw
from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.models import Enrollment, Message
from surveys.answering.links import assignment_link_token
from surveys.answering.submit import response_save_page, response_submit
from surveys.models import Assignment, Participant, Response
from surveys.participants.withdrawal import participant_withdraw
from surveys.scheduling.planning import assignments_refresh

S = Assignment.Status
HistoricalResponse = Response.history.model


@dataclass
class Followed:
    enrollment: Enrollment
    completed: Assignment  # answered and sent
    started: Assignment  # open, half answered
    later: Assignment  # planned in 30 days
    now: dt.datetime

    @property
    def participant(self) -> Participant:
        return self.enrollment.participant

    def token(self, assignment: Assignment) -> str:
        return assignment_link_token(assignment=assignment)


@pytest.fixture
def followed(make) -> Followed:
    """An enrolled patient with one questionnaire sent, one half answered and one to come."""
    version = make.published_version()
    study = version.questionnaire.study
    make.timepoint(version=version, code="t0", offset=0, window=7)
    make.timepoint(version=version, code="t0b", offset=0, window=7)
    make.timepoint(version=version, code="t30", offset=30, window=7)
    start = timezone.now() - dt.timedelta(hours=1)
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(name="Jeanne Martin", phone="06 12 34 56 78", consent_method="written", language="en"),
        by=None,
        now=start,
    )
    assignments_refresh(now=timezone.now())
    by_code = {a.timepoint.code: a for a in enrollment.participant.assignments.select_related("timepoint")}
    response_save_page(assignment=by_code["t0"], answers={"mood": "a1", "pain": 3}, page_index=0, advance=True)
    response_submit(assignment=by_code["t0"])
    response_save_page(assignment=by_code["t0b"], answers={"mood": "a2"}, page_index=0, advance=False)
    for a in by_code.values():
        a.refresh_from_db()
    assert [by_code[c].status for c in ("t0", "t0b", "t30")] == [S.COMPLETED, S.OPEN, S.PLANNED]
    return Followed(enrollment, by_code["t0"], by_code["t0b"], by_code["t30"], timezone.now())


def message(enrollment: Enrollment, assignment: Assignment, *, sequence: int, status: str) -> Message:
    """The message of that send in the given state (enrolment may already have planned the row)."""
    row, _created = Message.objects.update_or_create(
        assignment=assignment,
        sequence=sequence,
        channel="sms",
        resend=0,
        defaults={
            "enrollment": enrollment,
            "status": status,
            "scheduled_at": timezone.now(),
            "kind": "invitation" if sequence == 0 else "reminder",
        },
    )
    return row


def test_withdrawal_cancels_future_assignments_and_unsent_messages_at_once(followed, make):
    e = followed.enrollment
    planned = message(e, followed.later, sequence=0, status=Message.Status.PLANNED)
    queued = message(e, followed.started, sequence=1, status=Message.Status.QUEUED)
    sent = message(e, followed.started, sequence=0, status=Message.Status.SENT)
    delivered = message(e, followed.completed, sequence=0, status=Message.Status.DELIVERED)
    investigator = make.user()

    enrollment_withdraw(enrollment=e, by_user=investigator, delete_data=False, now=followed.now)

    statuses = dict(
        Assignment.objects.filter(participant=followed.participant).values_list("timepoint__code", "status")
    )
    assert statuses == {"t0": S.COMPLETED, "t0b": S.CANCELLED, "t30": S.CANCELLED}
    for row in (planned, queued, sent, delivered):
        row.refresh_from_db()
    assert (planned.status, queued.status) == (Message.Status.CANCELLED, Message.Status.CANCELLED)
    # Already handed to the provider: they stay as they are, a record of what was sent.
    assert (sent.status, delivered.status) == (Message.Status.SENT, Message.Status.DELIVERED)
    participant = Participant.objects.get(pk=followed.participant.pk)
    assert participant.status == Participant.Status.WITHDRAWN and participant.withdrawn_at == followed.now
    e.refresh_from_db()
    assert (e.withdrawn_at, e.withdrawn_by, e.withdrawal_data, e.responses_deleted) == (
        followed.now,
        Enrollment.WithdrawnBy.INVESTIGATOR,
        Enrollment.WithdrawalData.KEEP,
        0,
    )


def test_keeping_the_data_keeps_every_response_and_its_history(followed):
    before = HistoricalResponse.objects.count()
    enrollment_withdraw(enrollment=followed.enrollment, by_patient=True, delete_data=False, now=followed.now)
    answers = dict(
        Response.objects.filter(assignment__participant=followed.participant).values_list(
            "assignment__timepoint__code", "answers"
        )
    )
    assert answers == {"t0": {"mood": "a1", "pain": 3}, "t0b": {"mood": "a2"}}
    assert HistoricalResponse.objects.count() == before
    latest = followed.enrollment.history.first()
    assert latest.history_change_reason == "withdrawn by patient; data kept"


def test_deleting_the_data_removes_the_responses_and_every_trace_of_their_content(followed):
    ids = list(Response.objects.filter(assignment__participant=followed.participant).values_list("pk", flat=True))
    assert len(ids) == 2 and HistoricalResponse.objects.filter(id__in=ids).count() >= 3

    enrollment_withdraw(enrollment=followed.enrollment, by_patient=True, delete_data=True, now=followed.now)

    assert not Response.objects.filter(pk__in=ids).exists()
    # Deleting makes simple-history write a last row with the content; it must be gone too.
    assert not HistoricalResponse.objects.filter(id__in=ids).exists()
    assert not HistoricalResponse.objects.filter(
        assignment_id__in=[followed.completed.pk, followed.started.pk]
    ).exists()
    e = Enrollment.objects.get(pk=followed.enrollment.pk)
    assert (e.withdrawal_data, e.responses_deleted) == (Enrollment.WithdrawalData.DELETE, 2)
    # The audit says that it happened and how much, never what.
    latest = e.history.first()
    assert latest.history_change_reason == "withdrawn by patient; 2 responses deleted"
    assert latest.responses_deleted == 2 and latest.withdrawal_data == "delete"
    reasons = " ".join(h.history_change_reason or "" for h in e.history.all())
    assert "a1" not in reasons and "mood" not in reasons


def test_investigator_withdrawal_is_in_the_enrolment_history_with_who_and_the_count(followed, make):
    investigator = make.user()
    enrollment_withdraw(
        enrollment=followed.enrollment,
        by_user=investigator,
        delete_data=True,
        now=followed.now,
        reason="  moved   abroad ",
    )
    latest = followed.enrollment.history.first()
    assert latest.history_user == investigator
    assert latest.history_change_reason == "withdrawn by investigator; 2 responses deleted; reason: moved abroad"
    assert latest.withdrawn_by == Enrollment.WithdrawnBy.INVESTIGATOR


def test_withdrawing_again_changes_nothing_but_data_kept_can_still_be_deleted(followed, make):
    e = followed.enrollment
    enrollment_withdraw(enrollment=e, by_patient=True, delete_data=False, now=followed.now)
    rows = e.history.count()
    enrollment_withdraw(enrollment=e, by_patient=True, delete_data=False, now=followed.now + dt.timedelta(days=1))
    assert e.history.count() == rows
    investigator = make.user()
    enrollment_withdraw(enrollment=e, by_user=investigator, delete_data=True, now=followed.now + dt.timedelta(days=2))
    e.refresh_from_db()
    assert e.withdrawn_at == followed.now and e.withdrawn_by == Enrollment.WithdrawnBy.PATIENT
    assert (e.withdrawal_data, e.responses_deleted) == (Enrollment.WithdrawalData.DELETE, 2)
    assert e.history.first().history_change_reason == (
        "data deletion asked by investigator after withdrawal; 2 responses deleted"
    )
    assert not Response.objects.filter(assignment__participant=followed.participant).exists()
    # Deleted data stays deleted: asking to keep it afterwards changes nothing.
    enrollment_withdraw(enrollment=e, by_patient=True, delete_data=False, now=followed.now + dt.timedelta(days=3))
    e.refresh_from_db()
    assert e.withdrawal_data == Enrollment.WithdrawalData.DELETE and e.history.count() == rows + 1


def test_the_service_needs_to_know_who_withdraws(followed, make):
    with pytest.raises(ValueError):
        enrollment_withdraw(enrollment=followed.enrollment, delete_data=False, now=followed.now)
    with pytest.raises(ValueError):
        enrollment_withdraw(
            enrollment=followed.enrollment, by_user=make.user(), by_patient=True, delete_data=False, now=followed.now
        )
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE


def test_a_withdrawn_participants_assignments_never_open_again(followed, make):
    participant_withdraw(participant=followed.participant, delete_data=False, now=followed.now)
    # A row left planned (say, added by a schedule edit) stays shut: MAY_OPEN wants an active participant.
    extra = make.assignment(
        participant=followed.participant, timepoint=followed.later.timepoint, occurrence=2, due_at=followed.now
    )
    assert extra.status == S.PLANNED
    assert assignments_refresh(now=followed.now + dt.timedelta(days=1))["opened"] == 0
    extra.refresh_from_db()
    assert extra.status == S.PLANNED
    assert assignments_refresh(now=followed.now + dt.timedelta(days=31))["opened"] == 0
    assert not Assignment.objects.filter(participant=followed.participant, status=S.OPEN).exists()


def test_the_questionnaire_link_is_no_longer_available_after_withdrawal(followed, client):
    token = followed.token(followed.started)
    enrollment_withdraw(enrollment=followed.enrollment, by_patient=True, delete_data=False, now=followed.now)
    page = client.get(reverse("surveys:respond", args=[token]))
    assert page.status_code == 410
    assert "This questionnaire is no longer available" in page.content.decode()


# --- patient page -----------------------------------------------------------------------------------


def test_patient_page_explains_and_keeps_the_data_by_default(followed, client):
    url = reverse("patients:withdraw", args=[followed.token(followed.started)])
    assert url.endswith("/withdraw")
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Leave the study" in html and "no more questionnaires or messages" in html
    assert 'value="keep" checked' in html and 'value="delete" checked' not in html
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE


def test_patient_withdraws_from_the_link_and_a_second_post_is_harmless(followed, client):
    url = reverse("patients:withdraw", args=[followed.token(followed.started)])
    first = client.post(url, {"data": "delete"})
    assert first.status_code == 302 and first["Location"] == url
    e = Enrollment.objects.get(pk=followed.enrollment.pk)
    assert (e.withdrawn_by, e.withdrawal_data, e.responses_deleted) == ("patient", "delete", 2)
    rows = e.history.count()

    again = client.post(url, {"data": "keep"})
    assert again.status_code == 302
    assert e.history.count() == rows
    assert Enrollment.objects.get(pk=e.pk).withdrawal_data == "delete"

    done = client.get(url)
    html = done.content.decode()
    assert done.status_code == 200 and "You have left the study" in html and "have been deleted" in html
    assert "<form" not in html


def test_patient_can_withdraw_from_a_completed_or_not_yet_open_link(followed, client):
    for assignment in (followed.completed, followed.later):
        page = client.get(reverse("patients:withdraw", args=[followed.token(assignment)]))
        assert page.status_code == 200 and "Leave the study" in page.content.decode()
    response = client.post(reverse("patients:withdraw", args=[followed.token(followed.later)]), {"data": "keep"})
    assert response.status_code == 302
    assert Enrollment.objects.get(pk=followed.enrollment.pk).withdrawal_data == "keep"
    assert Response.objects.filter(assignment__participant=followed.participant).count() == 2


def test_patient_page_refuses_an_unknown_link(db, client):
    page = client.get(reverse("patients:withdraw", args=["not-a-real-token-at-all"]))
    assert page.status_code == 404
    assert client.post(reverse("patients:withdraw", args=["x" * 22]), {"data": "delete"}).status_code == 404


def test_patient_page_without_a_choice_says_so_and_changes_nothing(followed, client):
    url = reverse("patients:withdraw", args=[followed.token(followed.started)])
    page = client.post(url, {"data": "maybe"})
    html = page.content.decode()
    assert page.status_code == 422
    assert "Choose what should happen to your answers." in html
    assert 'aria-describedby="data-help data-err"' in html
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE


def test_patient_page_speaks_the_patients_language(followed, client):
    followed.participant.language = "fr"
    followed.participant.save()
    page = client.get(reverse("patients:withdraw", args=[followed.token(followed.started)]))
    assert '<html lang="fr">' in page.content.decode()
    english = client.get(reverse("patients:withdraw", args=[followed.token(followed.started)]) + "?lang=en")
    assert '<html lang="en">' in english.content.decode() and "Leave the study" in english.content.decode()


def test_patient_page_asks_the_year_of_birth_first_when_the_study_does(make, client):
    version = make.published_version()
    study = version.questionnaire.study
    study.link_check = "birth_year"
    study.save()
    make.timepoint(version=version, code="t0", offset=0)
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(name="Jeanne Martin", phone="0612345678", birth_date="03/02/1951", consent_method="written"),
        by=None,
        now=timezone.now(),
    )
    url = reverse(
        "patients:withdraw", args=[assignment_link_token(assignment=enrollment.participant.assignments.get())]
    )
    wrong = client.post(url, {"action": "check", "birth_year": "1960"})
    assert wrong.status_code == 422
    assert client.post(url, {"data": "delete"}).status_code == 200  # the check again, not a withdrawal
    assert Participant.objects.get(pk=enrollment.participant.pk).status == Participant.Status.ACTIVE
    assert client.post(url, {"action": "check", "birth_year": "1951"}).status_code == 302
    assert client.post(url, {"data": "delete"}).status_code == 302
    assert Participant.objects.get(pk=enrollment.participant.pk).status == Participant.Status.WITHDRAWN


# --- investigator page ---------------------------------------------------------------------------------


def staff(make, followed, role: str, **kw):
    user = make.user()
    make.member(user=user, study=followed.participant.study, role=role, **kw)
    return user


def test_investigator_withdraws_from_the_staff_page(followed, make, client):
    client.force_login(staff(make, followed, "investigator"))
    url = reverse("patients:staff_withdraw", args=[followed.participant.pk])
    form = client.get(url)
    assert form.status_code == 200 and 'value="keep" checked' in form.content.decode()

    refused = client.post(url, {"data": "delete", "reason": "asked by phone"})
    assert refused.status_code == 422
    assert "Tick this box to confirm" in refused.content.decode()
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE

    done = client.post(url, {"data": "delete", "confirm_delete": "yes", "reason": "asked by phone"}, follow=True)
    assert done.status_code == 200
    html = done.content.decode()
    assert "is withdrawn" in html and "2 responses deleted" in html
    e = Enrollment.objects.get(pk=followed.enrollment.pk)
    assert (e.withdrawn_by, e.withdrawal_data, e.responses_deleted) == ("investigator", "delete", 2)
    assert e.history.first().history_change_reason.endswith("reason: asked by phone")


def test_investigator_can_delete_data_kept_at_an_earlier_withdrawal(followed, make, client):
    enrollment_withdraw(enrollment=followed.enrollment, by_patient=True, delete_data=False, now=followed.now)
    client.force_login(staff(make, followed, "investigator"))
    url = reverse("patients:staff_withdraw", args=[followed.participant.pk])
    page = client.get(url).content.decode()
    assert "Withdrawn on" in page and "Delete the data" in page
    client.post(url, {"confirm_delete": "yes"})
    assert Enrollment.objects.get(pk=followed.enrollment.pk).responses_deleted == 2


@pytest.mark.parametrize("role, status", [("data_manager", 403), ("designer", 404), ("reviewer", 404)])
def test_other_roles_cannot_withdraw(followed, make, client, role, status):
    client.force_login(staff(make, followed, role))
    url = reverse("patients:staff_withdraw", args=[followed.participant.pk])
    assert client.get(url).status_code == status
    assert client.post(url, {"data": "delete", "confirm_delete": "yes"}).status_code == status
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE


def test_investigator_of_another_site_cannot_withdraw(followed, make, client):
    study = followed.participant.study
    here, there = make.site(study=study), make.site(study=study)
    Participant.objects.filter(pk=followed.participant.pk).update(site=here)
    client.force_login(staff(make, followed, "investigator", site=there))
    url = reverse("patients:staff_withdraw", args=[followed.participant.pk])
    assert client.post(url, {"data": "keep"}).status_code == 404
    assert Participant.objects.get(pk=followed.participant.pk).status == Participant.Status.ACTIVE
