"""The staff page of API tokens: make one (shown once), list, revoke; one's own tokens only."""

from __future__ import annotations

import re

import pytest

from surveys.models import ApiToken
from tests import factories

URL = "/staff/api/tokens/"


@pytest.fixture
def member(make):
    study = make.study(code="gamma")
    other = make.study(code="delta")
    user = make.user(username="dm_gamma")
    factories.member(user=user, study=study, role="data_manager")
    factories.member(user=user, study=other, role="reviewer")
    return user


def _made_token(html: str) -> str:
    return re.search(r'id="api-token-made"[^>]*value="(rst_[^"]+)"', html).group(1)


def test_a_token_is_shown_once_then_only_its_prefix(client, member, settings):
    settings.API_THROTTLE_RATE = ""
    client.force_login(member)
    page = client.get(URL)
    assert page.status_code == 200 and "no-cache" in page["Cache-Control"]
    made = client.post(URL, {"label": "R analysis", "expires": "30"})
    assert made.status_code == 200
    html = made.content.decode()
    raw = _made_token(html)
    token = ApiToken.objects.get(user=member)
    assert token.label == "R analysis" and token.expires_at is not None and raw.startswith(token.prefix)
    # It works at once, as its maker.
    assert client.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    again = client.get(URL).content.decode()
    assert raw not in again and token.prefix in again and "R analysis" in again


def test_a_token_may_be_narrowed_to_some_studies(client, member, settings):
    settings.API_THROTTLE_RATE = ""
    client.force_login(member)
    gamma = member.study_memberships.get(study__code="gamma").study
    html = client.post(URL, {"label": "gamma only", "expires": "", "studies": [gamma.pk]}).content.decode()
    raw = _made_token(html)
    token = ApiToken.objects.get(user=member)
    assert token.expires_at is None and list(token.studies.values_list("code", flat=True)) == ["gamma"]
    response = client.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert [s["code"] for s in response.json()["results"]] == ["gamma"]


def test_revoking_from_the_page_refuses_the_token(client, member, settings):
    settings.API_THROTTLE_RATE = ""
    client.force_login(member)
    raw = _made_token(client.post(URL, {"label": "x", "expires": "90"}).content.decode())
    token = ApiToken.objects.get(user=member)
    response = client.post(URL, {"action": "revoke", "token": token.pk})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/api/studies/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert "revoked" in client.get(URL).content.decode()


def test_one_cannot_revoke_or_see_anothers_token(client, member, make):
    from surveys.api.tokens import api_token_create

    other = make.user(username="someone_else")
    factories.member(user=other, study=member.study_memberships.first().study, role="data_manager")
    token, _raw = api_token_create(user=other, label="theirs")
    client.force_login(member)
    assert "theirs" not in client.get(URL).content.decode()
    assert client.post(URL, {"action": "revoke", "token": token.pk}).status_code == 404
    assert client.post(URL, {"action": "revoke", "token": "abc"}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_bad_forms_say_what_is_wrong_and_make_nothing(client, member):
    client.force_login(member)
    response = client.post(URL, {"label": "", "expires": "30"})
    assert response.status_code == 400 and not ApiToken.objects.exists()
    response = client.post(URL, {"label": "x", "expires": "7000"})
    assert response.status_code == 400 and not ApiToken.objects.exists()


def test_someone_without_a_study_role_gets_no_form(client, make):
    user = make.user(username="nobody_here")
    client.force_login(user)
    html = client.get(URL).content.decode()
    assert "a token would reach nothing" in html and 'name="label"' not in html
    assert client.post(URL, {"label": "x", "expires": "30"}).status_code == 400
    assert not ApiToken.objects.exists()


def test_the_page_needs_a_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
