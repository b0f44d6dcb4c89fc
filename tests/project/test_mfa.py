"""Two-factor sign-in for staff who can see identities (lockout after failed sign-ins: test_login_lockout.py)."""

from __future__ import annotations

import random
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.urls import reverse

from config.staff_invites import INVITED_SESSION_KEY

PASSWORD = "pw-123456789"


@pytest.fixture(autouse=True)
def own_address(client):
    # allauth limits sign-ins per IP address in the cache, which parallel test workers share
    # (Redis): each test signs in from an address of its own.
    client.defaults["REMOTE_ADDR"] = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def mfa_required(settings):
    settings.RESSENTI_REQUIRE_MFA = True


def staff_member(make, role: str):
    study = make.study()
    user = make.user()
    make.member(user=user, study=study, role=role)
    return user


def patient_admin_page(make, investigator) -> str:
    """The admin page of a patient enrolled in the investigator's study."""
    study = investigator.study_memberships.get().study
    enrollment = make.enrollment(patient=make.patient(), participant=make.participant(study=study))
    return reverse("admin:patients_patient_change", args=[enrollment.patient_id])


def sign_in(client, user, password: str = PASSWORD, next_url: str = "/admin/"):
    return client.post(f"{reverse('account_login')}?next={next_url}", {"login": user.username, "password": password})


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def test_investigator_without_totp_is_sent_to_activation_and_cannot_reach_a_patient(make, client, mfa_required):
    investigator = staff_member(make, "investigator")
    page = patient_admin_page(make, investigator)
    assert sign_in(client, investigator).status_code == 302
    activation = reverse("mfa_activate_totp")
    for path in ("/admin/", page, reverse("patients:staff_reidentify", args=[1])):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(activation), path

    # A password-only session may not enrol the first authenticator (tests/project/test_staff_invites.py);
    # an invitation session may: allauth asks the password again, then shows the secret.
    session = client.session
    session[INVITED_SESSION_KEY] = investigator.pk
    session.save()
    asked = client.get(activation)
    assert asked["Location"].startswith(reverse("account_reauthenticate"))
    client.post(asked["Location"], {"password": PASSWORD})
    assert client.get(activation).status_code == 200
    secret = client.session["mfa.totp.secret"]
    client.post(activation, {"code": current_code(secret)})
    assert Authenticator.objects.filter(user=investigator, type=Authenticator.Type.TOTP).exists()
    assert client.get(page).status_code == 200


def test_activating_totp_then_signing_in_asks_the_code(make, client, mfa_required):
    investigator = staff_member(make, "investigator")
    page = patient_admin_page(make, investigator)
    secret = generate_totp_secret()
    TOTP.activate(investigator, secret)

    asked = sign_in(client, investigator, next_url=page)
    assert asked.status_code == 302 and asked["Location"] == reverse("mfa_authenticate")
    # Password alone is not a sign-in.
    assert "_auth_user_id" not in client.session
    assert client.get(page, follow=True).redirect_chain[-1][0] == reverse("mfa_authenticate")

    wrong = client.post(
        reverse("mfa_authenticate"), {"code": "000000" if current_code(secret) != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session

    passed = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert passed.status_code == 302 and passed["Location"] == page
    assert client.get(page).status_code == 200


def test_admin_login_goes_through_allauth_so_the_second_factor_is_asked(db, client):
    response = client.get(reverse("admin:login") + "?next=/admin/patients/patient/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2Fpatients%2Fpatient%2F"
    # A next pointing elsewhere is not followed.
    assert "evil" not in client.get(reverse("admin:login") + "?next=https://evil.example/")["Location"]


def test_superusers_are_held_to_the_same_rule(make, client, mfa_required):
    admin = make.user(superuser=True)
    client.force_login(admin)
    assert client.get("/admin/")["Location"].startswith(reverse("mfa_activate_totp"))


@pytest.mark.parametrize("role", ["designer", "data_manager", "reviewer"])
def test_staff_who_cannot_see_identities_are_not_forced(make, client, mfa_required, role):
    user = staff_member(make, role)
    assert sign_in(client, user).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert not Authenticator.objects.filter(user=user).exists()


def test_with_the_setting_off_nothing_changes(make, client, settings):
    settings.RESSENTI_REQUIRE_MFA = False
    investigator = staff_member(make, "investigator")
    page = patient_admin_page(make, investigator)
    client.force_login(investigator)
    assert client.get("/admin/").status_code == 200
    assert client.get(page).status_code == 200


def test_logout_stays_reachable_before_activation(make, client, mfa_required):
    investigator = staff_member(make, "investigator")
    client.force_login(investigator)
    client.post(reverse("admin:logout"))
    assert "_auth_user_id" not in client.session


def test_production_requires_mfa():
    source = pytest.importorskip("config.settings").__path__[0] + "/production.py"
    with open(source, encoding="utf-8") as handle:
        assert "RESSENTI_REQUIRE_MFA = True" in handle.read()


def first_segments() -> list[str]:
    """One sample path per first path segment that the resolver serves (every URL prefix of the site)."""
    import re

    from django.urls import URLResolver, get_resolver

    samples: dict[str, str] = {}

    def walk(resolver, prefix):
        for p in resolver.url_patterns:
            text = prefix + str(p.pattern).replace("^", "").replace("$", "")
            if isinstance(p, URLResolver):
                walk(p, text)
                continue
            sample = re.sub(r"\(\?P<\w+>[^)]*\)", "1", text)
            sample = re.sub(r"<int:\w+>", "1", sample)
            sample = re.sub(r"<(?:\w+:)?\w+>", "sample", sample)
            if "(" in sample or "\\" in sample:
                continue  # another regex route of the same prefix gives the sample
            samples.setdefault(sample.split("/", 1)[0], "/" + sample)

    walk(get_resolver(), "")
    return sorted(samples.values())


@pytest.mark.parametrize("path", first_segments())
def test_every_prefix_of_the_site_holds_a_session_without_the_factor(make, client, mfa_required, path):
    from config.mfa import reachable_without_factor

    investigator = staff_member(make, "investigator")
    client.force_login(investigator)
    response = client.get(path)
    if reachable_without_factor(path):
        return
    if path.startswith("/api/"):
        assert response.status_code == 403, path
        assert "detail" in response.json()
    else:
        assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_activate_totp")), path


def test_the_api_refuses_a_session_without_the_factor_and_serves_it_once_activated(make, client, mfa_required):
    investigator = staff_member(make, "investigator")
    client.force_login(investigator)
    refused = client.get("/api/")
    assert refused.status_code == 403 and refused.json()["detail"]
    TOTP.activate(investigator, generate_totp_secret())
    assert client.get("/api/").status_code != 403


@pytest.mark.parametrize("header", ["Basic aW52ZXN0aWdhdG9yOng=", "Digest x", "nonsense", "Bearer", "Token"])
def test_a_header_that_is_not_a_token_does_not_open_the_api_to_a_session_without_the_factor(
    make, client, mfa_required, header
):
    client.force_login(staff_member(make, "investigator"))
    answer = client.get("/api/studies/", HTTP_AUTHORIZATION=header)
    assert answer.status_code in (401, 403), (header, answer.status_code)
