"""The API docs page in Chromium, under the site's own CSP: Swagger UI loads from our static files,
nothing is refused, no request leaves the site; a signed-in session reaches the API as the docs page does."""

from __future__ import annotations

import pytest

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_runs_under_the_csp_with_local_files_only(browser, live_server, make, settings):
    settings.API_THROTTLE_RATE = ""
    study = make.study(code="docs-study", title="Docs")
    user = make.user(username="docs_dm")
    factories.member(user=user, study=study, role="data_manager")
    # Keep the CSP on (no bypass): the point is that the page works under it.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems, outside = [], []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith(live_server.url) and not req.url.startswith("data:")
            else None
        ),
    )

    page.goto("/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/studies/{study}/responses/" in p for p in paths)
    assert not outside, outside
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems

    # Signed in, "Try it out" calls the API with the session.
    from django.conf import settings as django_settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": live_server.url}]
    )
    response = page.request.get(live_server.url + "/api/studies/")
    assert response.status == 200 and response.json()["results"][0]["code"] == "docs-study"
    context.close()
