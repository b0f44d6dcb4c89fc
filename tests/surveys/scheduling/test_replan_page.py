"""The schedule re-planning page: designers see what an edit would move, then apply exactly that."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.messaging.planning import messages_plan
from patients.models import Message
from surveys.models import Assignment, Participant, Timepoint
from surveys.scheduling.planning import assignments_plan
from surveys.scheduling.replan import schedule_replan_preview
from surveys.scheduling.views import preview_fingerprint

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def study(make):
    version = make.published_version()
    make.timepoint(version=version, code="t0", offset=0, window=7, order=1)
    make.timepoint(version=version, code="t30", offset=30, window=7, order=2, reminders=[2])
    return version.questionnaire.study


@pytest.fixture
def enrolled(make, study):
    """A participant enrolled now, as enrollment_create does: assignments and messages planned."""
    at = timezone.now()
    participant = make.participant(study=study)
    Participant.objects.filter(pk=participant.pk).update(created_at=at)
    participant.refresh_from_db()
    assignments = {a.timepoint.code: a for a in assignments_plan(participant=participant, anchor=at)}
    enrollment = make.enrollment(patient=make.patient(), participant=participant, enrolled_at=at)
    messages_plan(enrollment=enrollment, assignments=assignments.values(), now=at)
    return participant, assignments, at


def url(study) -> str:
    return reverse("surveys:schedule_replan", args=[study.code])


def member(make, study, role: str):
    user = make.user()
    make.member(user=user, study=study, role=role)
    return user


def edit_t30(study, offset: int = 45) -> None:
    Timepoint.objects.filter(study=study, code="t30").update(offset=offset)


def t30_window(assignments) -> tuple:
    a = Assignment.objects.get(pk=assignments["t30"].pk)
    return a.due_at, a.expires_at


def local(instant) -> str:
    return instant.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def test_designers_see_the_change_in_the_study_time_zone_before_anything_moves(make, client, study, enrolled):
    participant, assignments, at = enrolled
    edit_t30(study)
    before = t30_window(assignments)
    client.force_login(member(make, study, "designer"))

    response = client.get(url(study))

    assert response.status_code == 200
    html = response.content.decode()
    assert participant.pseudonym in html and "t30" in html and "Moved" in html
    assert local(at + timedelta(days=30)) in html and local(at + timedelta(days=45)) in html
    assert local(at + timedelta(days=52)) in html  # new closing time
    assert "Apply this change" in html
    assert t30_window(assignments) == before


def test_applying_moves_the_assignments_and_replans_their_messages(make, client, study, enrolled):
    _participant, assignments, at = enrolled
    edit_t30(study)
    designer = member(make, study, "designer")
    client.force_login(designer)
    fingerprint = preview_fingerprint(schedule_replan_preview(study=study))

    response = client.post(url(study), {"fingerprint": fingerprint}, follow=True)

    assert response.redirect_chain[-1] == (url(study), 302)
    html = response.content.decode()
    assert "1 assignment moved or created" in html
    assert "Nothing to do" in html  # the page now shows an empty preview
    due, expires = t30_window(assignments)
    assert abs(due - (at + timedelta(days=45))) < timedelta(seconds=1)
    assert Assignment.history.filter(id=assignments["t30"].pk).first().history_user == designer
    invitation = Message.objects.get(assignment=assignments["t30"], sequence=0, status="planned")
    assert invitation.scheduled_at >= due


def test_an_unedited_schedule_says_there_is_nothing_to_do(make, client, study, enrolled):
    client.force_login(member(make, study, "designer"))

    html = client.get(url(study)).content.decode()

    assert "Nothing to do" in html
    assert 'name="fingerprint"' not in html
    applied = client.post(url(study), {"fingerprint": preview_fingerprint([])}, follow=True)
    assert "Nothing to apply" in applied.content.decode()


def test_a_preview_gone_stale_is_not_applied(make, client, study, enrolled):
    _participant, assignments, _at = enrolled
    edit_t30(study, offset=45)
    client.force_login(member(make, study, "designer"))
    shown = preview_fingerprint(schedule_replan_preview(study=study))
    edit_t30(study, offset=60)  # another designer edits meanwhile
    before = t30_window(assignments)

    response = client.post(url(study), {"fingerprint": shown})

    assert response.status_code == 409
    assert "nothing was applied" in response.content.decode()
    assert t30_window(assignments) == before
    # The page shows the new preview, with a fingerprint that applies it.
    assert preview_fingerprint(schedule_replan_preview(study=study)) in response.content.decode()


@pytest.mark.parametrize("role", ["investigator", "data_manager", "reviewer"])
def test_other_members_of_the_study_are_refused(make, client, study, enrolled, role):
    _participant, assignments, _at = enrolled
    edit_t30(study)
    before = t30_window(assignments)
    client.force_login(member(make, study, role))
    fingerprint = preview_fingerprint(schedule_replan_preview(study=study))

    assert client.get(url(study)).status_code == 403
    assert client.post(url(study), {"fingerprint": fingerprint}).status_code == 403
    assert t30_window(assignments) == before


def test_designers_of_another_study_and_strangers_find_nothing(make, client, study, enrolled):
    _participant, assignments, _at = enrolled
    edit_t30(study)
    before = t30_window(assignments)
    client.force_login(member(make, make.study(), "designer"))
    fingerprint = preview_fingerprint(schedule_replan_preview(study=study))

    assert client.get(url(study)).status_code == 404
    assert client.post(url(study), {"fingerprint": fingerprint}).status_code == 404
    assert client.get(reverse("surveys:schedule_replan", args=["no-such-study"])).status_code == 404
    assert t30_window(assignments) == before


def test_signed_out_visitors_are_sent_to_sign_in(client, study):
    response = client.get(url(study))
    assert response.status_code == 302 and "login" in response["Location"]


def test_superusers_may_apply(make, client, study, enrolled):
    _participant, assignments, at = enrolled
    edit_t30(study)
    client.force_login(make.user(superuser=True))
    fingerprint = preview_fingerprint(schedule_replan_preview(study=study))

    assert client.post(url(study), {"fingerprint": fingerprint}).status_code == 302
    assert abs(t30_window(assignments)[0] - (at + timedelta(days=45))) < timedelta(seconds=1)
