"""Staff sessions end after a working day idle; cookies are Secure in production; Permissions-Policy on
every page; the API's schema and docs need a signed-in user in production."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from config.sessions import LAST_SEEN
from tests.project.test_settings import PRODUCTION_ENV, run_manage


def test_production_settings_hold_the_cookie_and_docs_rules():
    code = (
        "from django.conf import settings as s; "
        "print(s.LANGUAGE_COOKIE_SECURE, s.SESSION_COOKIE_SECURE, s.RESSENTI_API_DOCS_PUBLIC, s.SESSION_COOKIE_AGE)"
    )
    result = run_manage("shell", "-c", code, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["True", "True", "False", str(8 * 3600)]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/login/", "/accounts/login/", "/api/", "/s/no-such-token"])
def test_every_kind_of_page_forbids_unused_browser_features(client, url):
    header = client.get(url).headers.get("Permissions-Policy", "")
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
        assert feature in header, (url, header)
    # WebAuthn and SMS one-time-code autofill stay allowed.
    assert "publickey-credentials" not in header and "otp-credentials" not in header


@override_settings(LANGUAGE_COOKIE_SECURE=True)
def test_the_patient_language_cookie_is_secure_when_asked(client, make):
    token, _ = make.open_link()
    switched = client.get(f"/s/{token}?lang=fr")
    assert switched.status_code == 302
    cookie = switched.cookies["ressenti_lang"]
    assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Lax"


def test_the_patient_language_cookie_is_plain_http_in_the_demo(client, make):
    token, _ = make.open_link()
    assert not client.get(f"/s/{token}?lang=fr").cookies["ressenti_lang"]["secure"]


def session_row(client) -> Session:
    return Session.objects.get(session_key=client.session.session_key)


def test_activity_moves_the_end_of_the_session_forward_at_most_every_few_minutes(client, make):
    client.force_login(make.user())
    client.get("/admin/")
    first = session_row(client).expire_date
    assert abs((first - timezone.now()) - timedelta(hours=8)) < timedelta(minutes=1)

    client.get("/admin/")
    assert session_row(client).expire_date == first  # within the refresh step: no write

    session = client.session
    session[LAST_SEEN] = int(time.time()) - 3600
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() + timedelta(hours=1))
    client.get("/admin/")
    assert session_row(client).expire_date > timezone.now() + timedelta(hours=7, minutes=59)


def test_a_session_idle_for_a_working_day_is_signed_out(client, make):
    client.force_login(make.user())
    assert client.get("/admin/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
@override_settings(RESSENTI_API_DOCS_PUBLIC=False)
@pytest.mark.parametrize("name", ["api-schema", "api-docs"])
def test_api_schema_and_docs_need_a_signed_in_user_in_production(client, make, name):
    assert client.get(reverse(name)).status_code in (401, 403)
    client.force_login(make.user())
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["api-schema", "api-docs"])
def test_api_schema_and_docs_are_open_in_the_demo(client, name):
    assert client.get(reverse(name)).status_code == 200
