"""A server error and a refused form show a page in the reader's language that says what to do next,
in the patient layout, with nothing of the request on it; the 500 page renders without the database."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import path

from config import urls as site_urls
from surveys.answering.error_views import server_error


def boom(request):
    raise RuntimeError("secret-token-in-traceback Jeanne Martin")


# The site's routes and its handler500, with two views that fail first in line.
urlpatterns = [path("s/<str:token>", boom), path("admin/boom", boom), *site_urls.urlpatterns]
handler500 = site_urls.handler500


@pytest.fixture
def failing():
    return Client(raise_request_exception=False)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
@pytest.mark.parametrize(
    "cookie, accept, words",
    [
        ("fr", "", "Vos réponses précédentes sont enregistrées"),
        ("en", "fr", "Your earlier answers are saved"),
        ("", "en-GB,en;q=0.9", "Your earlier answers are saved"),
        ("", "", "Vos réponses précédentes sont enregistrées"),
    ],
)
def test_a_server_error_on_a_patient_page_is_in_their_language(failing, cookie, accept, words):
    if cookie:
        failing.cookies["ressenti_lang"] = cookie
    page = failing.get("/s/abc123secret", HTTP_ACCEPT_LANGUAGE=accept)
    assert page.status_code == 500
    html = page.content.decode()
    assert words in html and '<main id="main"' in html
    for leak in ("abc123secret", "secret-token-in-traceback", "Jeanne", "Traceback"):
        assert leak not in html


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_a_staff_page_error_says_try_again_without_patient_wording(failing):
    html = failing.get("/admin/boom", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "try again in a few minutes" in html and "answers are saved" not in html


def test_the_server_error_page_renders_without_the_database(rf):
    # No database fixture: any query would raise here (pytest-django blocks database access).
    request = rf.get("/s/anything", HTTP_ACCEPT_LANGUAGE="en")
    page = server_error(request)
    assert page.status_code == 500 and "Something went wrong" in page.content.decode()


@pytest.mark.django_db
def test_a_refused_patient_form_says_reload_and_answers_are_kept(make):
    token, _assignment = make.open_link(language="fr")
    strict = Client(enforce_csrf_checks=True)
    strict.cookies["ressenti_lang"] = "fr"
    page = strict.post(f"/s/{token}", {"action": "next", "page": "1"})
    assert page.status_code == 403
    html = page.content.decode()
    assert "Cette page a expiré" in html and "Vos réponses précédentes sont enregistrées" in html
    assert token not in html
