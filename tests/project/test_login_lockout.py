"""Sign-in lockout (django-axes) counts the account reached, whatever spelling of it was typed, and the
address, each on its own: tried through allauth's real login view."""

import random

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

PASSWORD = "pw-123456789"


@pytest.fixture(autouse=True)
def axes_on(settings, db):
    settings.AXES_ENABLED = True
    # allauth's own limit on failed sign-ins would answer first: off, so these tests prove axes' lockout.
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": False}
    # Axes keeps its state in the database (rolled back per test); start each test clean anyway.
    AccessAttempt.objects.all().delete()


def address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def sign_in(client, login: str, password: str = PASSWORD, ip: str | None = None):
    return client.post(
        reverse("account_login"),
        {"login": login, "password": password},
        REMOTE_ADDR=ip or client.defaults.get("REMOTE_ADDR", "127.0.0.1"),
    )


def lock(client, login: str, ip: str, settings):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, login, password="wrong-password", ip=ip)


def test_a_locked_account_is_refused_under_every_spelling_and_from_every_address(make, client, settings):
    designer = make.user(username="designer")
    lock(client, "designer", address(), settings)
    assert AccessAttempt.objects.filter(username="designer").exists()
    for login in ("designer", "DESIGNER", "Designer", designer.email, designer.email.upper()):
        refused = sign_in(client, login, ip=address())
        assert refused.status_code == 429, login
        assert "_auth_user_id" not in client.session, login


def test_failures_typed_in_other_spellings_add_up_on_the_account(make, client, settings):
    designer = make.user(username="designer")
    spellings = ["DESIGNER", "Designer", designer.email, "designer", "DeSiGnEr"]
    for login in spellings[: settings.AXES_FAILURE_LIMIT]:
        sign_in(client, login, password="wrong-password", ip=address())
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"designer"}
    assert sign_in(client, "designer", ip=address()).status_code == 429


def test_an_address_that_failed_on_many_accounts_is_locked_for_every_account(make, client, settings):
    ip = address()
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, make.user().username, password="wrong-password", ip=ip)
    untouched = make.user()
    assert sign_in(client, untouched.username, ip=ip).status_code == 429
    assert "_auth_user_id" not in client.session
    # The same account from another address signs in: the lock was the address's.
    assert sign_in(client, untouched.username, ip=address()).status_code == 302


def test_unknown_logins_are_counted_lower_cased(make, client, settings):
    lock(client, "Nobody@Example.org", address(), settings)
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"nobody@example.org"}


def test_a_correct_password_before_any_lock_signs_in_under_any_spelling(make, client):
    designer = make.user(username="designer")
    assert sign_in(client, designer.email.upper(), ip=address()).status_code == 302
