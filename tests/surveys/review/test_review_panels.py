"""Review panels: invitations, the reviewer's home page and access, deadline reminders."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from surveys.models import Panel, PanelMember, ReviewReminder, ReviewRound, StudyMembership
from surveys.review import panels
from surveys.review.panels import access_round, invitation_accept, reminders_send, reviewer_invite, rounds_for_reviewer

PASSWORD = "Lentilles-et-Cerises-42"
LINK = re.compile(r"/review/invitation/([A-Za-z0-9_-]+)/")


@pytest.fixture
def designer(make):
    return make.user(username="designer")


@pytest.fixture
def study(make, designer):
    s = make.study(code="panelstudy", time_zone="America/Montreal")
    make.member(user=designer, study=s, role=StudyMembership.Role.DESIGNER)
    return s


@pytest.fixture
def panel(make, study):
    return make.panel(study=study, code="patients", title="Patient partners")


def _round(*, panel, study, by, make, deadline=None, title="Round one", **kw) -> ReviewRound:
    q = make.questionnaire(study=study, title_fr="Humeur", title_en="Mood")
    return make.review_round(
        questionnaire=q,
        panel=panel,
        title=title,
        definition={"title": "x", "item": []},
        content_hash="0" * 64,
        opened_by=by,
        deadline=deadline or timezone.now() + timedelta(days=10),
        **kw,
    )


def _token_from(message) -> str:
    return LINK.search(message.body).group(1)


def _accepted_reviewer(panel, designer, email="ana@example.net", language="en"):
    _member, token = reviewer_invite(panel=panel, email=email, kind="expert_patient", language=language, by=designer)
    return invitation_accept(token=token, password=PASSWORD)


# --- invitations ------------------------------------------------------------------------------


def test_invitation_end_to_end_through_the_admin(make, designer, panel):
    admin_client = Client(HTTP_ACCEPT_LANGUAGE="en")
    admin_client.force_login(designer)
    page = admin_client.get(f"/admin/surveys/panel/{panel.pk}/change/")
    assert page.status_code == 200 and f"/admin/surveys/panel/{panel.pk}/invite/" in page.content.decode()
    sent = admin_client.post(
        f"/admin/surveys/panel/{panel.pk}/invite/",
        {"email": "Ana@Example.net", "kind": "expert_patient", "language": "en"},
    )
    assert sent.status_code == 302

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["Ana@Example.net"]
    token = _token_from(message)
    assert f"/review/invitation/{token}/" in message.alternatives[0][0]

    member = PanelMember.objects.get(panel=panel)
    user = member.user
    # Only the hash is stored; the account holds nothing but the address, and cannot sign in yet.
    assert member.invitation_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(PanelMember.objects.filter(pk=member.pk).values().first())
    assert not user.is_active and not user.is_staff and not user.has_usable_password()
    assert (user.first_name, user.last_name) == ("", "")

    reviewer = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = reviewer.get(f"/review/invitation/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<main" in html and 'type="password"' in html and "Patient partners" in html

    weak = reviewer.post(f"/review/invitation/{token}/", {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert 'aria-invalid="true"' in weak.content.decode() and "There is a problem" in weak.content.decode()
    member.refresh_from_db()
    assert member.accepted_at is None and member.invitation_hash  # nothing changed

    done = reviewer.post(f"/review/invitation/{token}/", {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/review/"
    member.refresh_from_db()
    user.refresh_from_db()
    assert member.accepted_at is not None and member.invitation_hash == ""
    assert user.is_active and user.check_password(PASSWORD)
    home = reviewer.get("/review/")
    assert home.status_code == 200 and "Your reviews" in home.content.decode()

    # Used: the same link now shows the kind page, and a fresh browser can sign in with the password.
    again = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/review/invitation/{token}/")
    assert again.status_code == 404 and "does not work any more" in again.content.decode()
    assert Client().login(username="ana@example.net", password=PASSWORD)


def test_invalid_expired_and_replaced_links_show_the_same_kind_page(make, designer, panel):
    member, old = reviewer_invite(panel=panel, email="bo@example.net", kind="practitioner", language="en", by=designer)
    _member, new = reviewer_invite(panel=panel, email="bo@example.net", kind="practitioner", language="en", by=designer)
    assert PanelMember.objects.filter(panel=panel).count() == 1  # reused by e-mail
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    pages = [client.get(f"/review/invitation/{t}/") for t in (old, "nonsense-token")]
    assert all(p.status_code == 404 for p in pages)
    assert pages[0].content == pages[1].content  # nothing tells which case it was
    refused = client.post(f"/review/invitation/{old}/", {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert refused.status_code == 404
    member.refresh_from_db()
    assert member.accepted_at is None

    # Expired: the newest link stops working after INVITATION_DAYS.
    PanelMember.objects.filter(pk=member.pk).update(
        invited_at=timezone.now() - timedelta(days=panels.INVITATION_DAYS, minutes=1)
    )
    assert client.get(f"/review/invitation/{new}/").status_code == 404
    with pytest.raises(ValidationError):
        invitation_accept(token=new, password=PASSWORD)


def test_token_works_once(make, designer, panel):
    _member, token = reviewer_invite(
        panel=panel, email="cy@example.net", kind="expert_patient", language="en", by=designer
    )
    invitation_accept(token=token, password=PASSWORD)
    with pytest.raises(ValidationError):
        invitation_accept(token=token, password="Another-Long-Password-9")
    user = PanelMember.objects.get(panel=panel).user
    assert user.check_password(PASSWORD)


def test_staff_address_cannot_be_invited(make, designer, panel):
    with pytest.raises(ValidationError):
        reviewer_invite(panel=panel, email=designer.email, kind="expert_patient", language="en", by=designer)
    assert not PanelMember.objects.exists() and not mail.outbox


def test_no_self_signup():
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/signup/")
    assert page.status_code != 200 or "closed" in page.content.decode().lower()


# --- access -----------------------------------------------------------------------------------


def test_reviewer_sees_only_their_panels_rounds_and_never_the_admin(make, designer, study, panel):
    mine = _round(panel=panel, study=study, by=designer, make=make)
    other_panel = make.panel(study=study, code="others", title="Other panel")
    theirs = _round(panel=other_panel, study=study, by=designer, make=make, title="Not yours")
    user = _accepted_reviewer(panel, designer)

    assert list(rounds_for_reviewer(user=user)) == [mine]
    assert access_round(user=user, round_id=mine.pk) == mine
    from django.http import Http404

    with pytest.raises(Http404):
        access_round(user=user, round_id=theirs.pk)

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    home = client.get("/review/").content.decode()
    assert "Round one" in home and "Not yours" not in home
    assert "America/Montreal" in home and "Mood" in home
    assert "0 questions commented" in home and "Not submitted yet" in home
    assert client.get(f"/review/rounds/{theirs.pk}/").status_code == 404
    assert client.get("/admin/").status_code == 302  # the admin sends non-staff to its login page
    assert client.get("/admin/surveys/panel/").status_code == 302

    # An inactive membership opens nothing.
    PanelMember.objects.filter(user=user).update(active=False)
    with pytest.raises(Http404):
        access_round(user=user, round_id=mine.pk)


def test_home_needs_sign_in_and_sends_staff_to_the_admin(make, designer):
    assert Client().get("/review/")["Location"].startswith("/accounts/login/")
    client = Client()
    client.force_login(designer)
    assert client.get("/review/")["Location"] == "/admin/"


def test_submitted_and_closed_rounds_on_home(make, designer, study, panel):
    user = _accepted_reviewer(panel, designer)
    done = _round(panel=panel, study=study, by=designer, make=make, title="Done one")
    make.review_submission(round=done, reviewer=user, submitted_at=timezone.now())
    _round(panel=panel, study=study, by=designer, make=make, title="Closed one", closed_at=timezone.now())
    lines_open, lines_closed = panels.reviewer_home(user=user, language="en")
    assert [line.round.title for line in lines_open] == ["Done one"]
    assert lines_open[0].submitted_at is not None
    assert [line.round.title for line in lines_closed] == ["Closed one"]


def test_site_wide_panel_is_for_superusers(make, designer, study):
    root = make.user(username="root", superuser=True)
    site_panel = make.panel(study=None, code="site", title="Site-wide panel")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(designer)
    assert client.get(f"/admin/surveys/panel/{site_panel.pk}/change/").status_code == 404
    assert client.get(f"/admin/surveys/panel/{site_panel.pk}/invite/").status_code == 404
    # A designer must pick one of their studies.
    refused = client.post(
        "/admin/surveys/panel/add/",
        {"code": "mine", "title": "Mine", "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"},
    )
    assert refused.status_code == 200 and not Panel.objects.filter(code="mine").exists()

    root_client = Client(HTTP_ACCEPT_LANGUAGE="en")
    root_client.force_login(root)
    created = root_client.post(
        "/admin/surveys/panel/add/",
        {"code": "site2", "title": "Everywhere", "members-TOTAL_FORMS": "0", "members-INITIAL_FORMS": "0"},
    )
    assert created.status_code == 302 and Panel.objects.get(code="site2").study is None
    # A site-wide panel reviews drafts of any study.
    user = _accepted_reviewer(site_panel, root, email="site@example.net")
    round_ = _round(panel=site_panel, study=study, by=root, make=make)
    assert access_round(user=user, round_id=round_.pk) == round_


def test_reinvite_action_replaces_the_link(make, designer, panel):
    member, old = reviewer_invite(
        panel=panel, email="di@example.net", kind="expert_patient", language="fr", by=designer
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(designer)
    response = client.post("/admin/surveys/panelmember/", {"action": "reinvite", "_selected_action": [member.pk]})
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    new = _token_from(mail.outbox[1])
    assert new != old
    assert panels.invitation_member(token=old) is None
    assert panels.invitation_member(token=new).pk == member.pk


# --- French -----------------------------------------------------------------------------------


def test_french_invitation_e_mail_and_page(make, designer, panel):
    reviewer_invite(panel=panel, email="fr@example.net", kind="expert_patient", language="fr", by=designer)
    message = mail.outbox[0]
    assert "Invitation à relire des questionnaires" in message.subject
    assert "Bonjour" in message.body
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(f"/review/invitation/{_token_from(message)}/")
    html = page.content.decode()
    assert '<html lang="fr">' in html and "Rejoindre le panel de relecture" in html
    english = Client().get(f"/review/invitation/{_token_from(message)}/?lang=en")
    assert "Join the review panel" in english.content.decode()


# --- reminders --------------------------------------------------------------------------------


def test_reminders_once_each_then_none_after_submission_or_closing(make, designer, study, panel):
    now = timezone.now()
    ana = _accepted_reviewer(panel, designer, email="ana@example.net", language="fr")
    bo = _accepted_reviewer(panel, designer, email="bo@example.net", language="en")
    round_ = _round(panel=panel, study=study, by=designer, make=make, deadline=now + timedelta(days=5))
    mail.outbox.clear()

    assert reminders_send(now=now) == 0  # five days left: nothing yet
    at_3 = now + timedelta(days=2, hours=1)
    assert reminders_send(now=at_3) == 2
    assert reminders_send(now=at_3 + timedelta(hours=1)) == 0  # never twice
    by_address = {m.to[0]: m for m in mail.outbox}
    assert f"/review/rounds/{round_.pk}/" in by_address["ana@example.net"].body
    assert "Rappel" in by_address["ana@example.net"].subject and "3 jours" in by_address["ana@example.net"].subject
    assert "3 days" in by_address["bo@example.net"].subject
    assert "America/Montreal" in by_address["bo@example.net"].body

    # Bo submits; only Ana gets the 1-day reminder, once.
    make.review_submission(round=round_, reviewer=bo, submitted_at=now)
    mail.outbox.clear()
    at_1 = now + timedelta(days=4, hours=1)
    assert reminders_send(now=at_1) == 1
    assert reminders_send(now=at_1 + timedelta(hours=2)) == 0
    assert [m.to for m in mail.outbox] == [["ana@example.net"]]
    assert "1 jour" in mail.outbox[0].subject
    assert set(ReviewReminder.objects.values_list("reviewer_id", "days_before")) == {
        (ana.pk, 3),
        (bo.pk, 3),
        (ana.pk, 1),
    }

    # Past the deadline: nothing.
    assert reminders_send(now=now + timedelta(days=5, minutes=1)) == 0


def test_closed_round_gets_no_reminder(make, designer, study, panel):
    now = timezone.now()
    _accepted_reviewer(panel, designer)
    _round(panel=panel, study=study, by=designer, make=make, deadline=now + timedelta(hours=20), closed_at=now)
    mail.outbox.clear()
    assert reminders_send(now=now) == 0 and not mail.outbox


def test_late_opened_round_sends_only_the_one_day_reminder(make, designer, study, panel):
    now = timezone.now()
    _accepted_reviewer(panel, designer)
    _round(panel=panel, study=study, by=designer, make=make, deadline=now + timedelta(hours=20))
    mail.outbox.clear()
    assert reminders_send(now=now) == 1
    assert reminders_send(now=now + timedelta(hours=1)) == 0
    assert "1 day" in mail.outbox[0].subject


def test_reminder_task_runs(make, designer, study, panel):
    from surveys.tasks import review_reminders_send

    _accepted_reviewer(panel, designer)
    _round(panel=panel, study=study, by=designer, make=make, deadline=timezone.now() + timedelta(hours=20))
    mail.outbox.clear()
    assert review_reminders_send.apply().get() == 1
    assert len(mail.outbox) == 1


def test_reviewer_sign_in_lands_on_the_review_page(make, designer, panel):
    _accepted_reviewer(panel, designer, email="eve@example.net")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    signed_in = client.post("/accounts/login/", {"login": "eve@example.net", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/review/"
    staff = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/login/", {"login": "designer", "password": "pw-123456789"}
    )
    assert staff["Location"] == "/admin/"
