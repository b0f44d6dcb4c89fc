"""The sign-in pages (allauth's) in the admin's frame, in the visitor's language, with no sign-up offer."""

from __future__ import annotations

import pytest

PAGES = ["/accounts/login/", "/accounts/password/reset/"]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_sign_in_pages_look_like_the_admin_and_offer_no_sign_up(db, client, url, language):
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<html lang="{language}"' in html
    assert "admin/css/base.css" in html and 'id="site-name"' in html
    assert "/accounts/signup/" not in html
    assert "sign up" not in html.lower() and "inscri" not in html.lower()


def test_the_sign_in_page_signs_staff_in(client, django_user_model):
    django_user_model.objects.create_user("staffer", "staffer@example.org", "a long pass phrase", is_staff=True)
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr")
    assert "Connexion" in page.content.decode()
    signed = client.post("/accounts/login/", {"login": "staffer", "password": "a long pass phrase"})
    assert signed.status_code == 302 and signed["Location"] == "/admin/"
