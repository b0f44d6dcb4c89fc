"""A first authenticator only from a session that came through a staff invitation link."""

import random

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from config.staff_invites import staff_invitation_path
from tests.project.test_mfa import PASSWORD, current_code

NEW_PASSWORD = "a-new-long-passphrase-2026"


@pytest.fixture(autouse=True)
def own_address(client, settings):
    client.defaults["REMOTE_ADDR"] = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    settings.RESSENTI_REQUIRE_MFA = True


def investigator(make):
    user = make.user()
    make.member(user=user, study=make.study(), role="investigator")
    return user


def test_a_password_only_session_cannot_enrol_an_authenticator(make, client):
    user = investigator(make)
    assert client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD}).status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 403
    assert "Ask for a new invitation link" in page.content.decode()
    assert "mfa.totp.secret" not in client.session
    client.post(reverse("mfa_activate_totp"), {"code": "123456"})
    assert not Authenticator.objects.filter(user=user).exists()


def test_the_invitation_sets_the_password_and_allows_enrolling_the_authenticator(make, client):
    user = investigator(make)
    link = staff_invitation_path(user)
    assert client.get(link).status_code == 200
    set_password = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert set_password.status_code == 302 and set_password["Location"] == reverse("mfa_activate_totp")
    activation = reverse("mfa_activate_totp")
    asked = client.get(activation)
    if asked.status_code == 302:  # allauth asks the password again before showing the secret
        client.post(asked["Location"], {"password": NEW_PASSWORD})
    assert client.get(activation).status_code == 200
    client.post(activation, {"code": current_code(client.session["mfa.totp.secret"])})
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def test_an_invitation_works_once(make, client):
    user = investigator(make)
    link = staff_invitation_path(user)
    client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    client.logout()
    assert client.get(link).status_code == 404
    assert (
        client.post(link, {"new_password1": "x" + NEW_PASSWORD, "new_password2": "x" + NEW_PASSWORD}).status_code == 404
    )


def test_an_expired_or_forged_invitation_is_refused(make, client, settings):
    user = investigator(make)
    link = staff_invitation_path(user)
    settings.STAFF_INVITATION_TIMEOUT = -1
    assert client.get(link).status_code == 404
    settings.STAFF_INVITATION_TIMEOUT = 3600
    assert client.get(link[:-3] + "xx/").status_code == 404


def test_a_superuser_emails_the_invitation_from_the_user_list(make, client):
    import re

    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.core import mail

    admin = make.user(superuser=True)
    TOTP.activate(admin, generate_totp_secret())
    client.force_login(admin)
    user = investigator(make)
    client.post(
        reverse("admin:auth_user_changelist"), {"action": "send_staff_invitation", "_selected_action": [user.pk]}
    )
    assert [m.to for m in mail.outbox] == [[user.email]]
    path = re.search(r"https?://[^/]+(/staff-invitation/\S+/)", mail.outbox[0].body).group(1)
    client.logout()
    assert client.get(path).status_code == 200
