"""Every page a demo account can reach by following links, as each demo account: none is a server error.

The crawl starts where each role starts (the admin index, the study's staff pages, the review home) and
follows every same-site link of every page it gets, GET only, once per path (query strings are kept for
the first link to a path: a filter or a page of a list is the same view). A page may refuse the role
(403, 404, a redirect to the sign-in page): that is the permission matrix's business and its own tests.
Here the rule is only that no page, for any role, fails with a 500 or raises.
"""

from __future__ import annotations

import re
from collections import deque
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from surveys import demo

HREF = re.compile(r"""href=["']([^"'#]+)""")
# Links that end the session or only serve files: following them would stop the crawl or prove nothing.
SKIP = re.compile(r"^/(accounts/logout|static/|media/|s/|e/|hooks/)|/download$|/logout/$")
PAGES_PER_ROLE = 400


def _links(base: str, html: str) -> list[str]:
    found = []
    for raw in HREF.findall(html):
        url = urljoin(base, unescape(raw))
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc not in ("", "testserver"):
            continue
        if parts.scheme not in ("", "http", "https"):
            continue
        path = parts.path
        if SKIP.search(path):
            continue
        found.append(path + (f"?{parts.query}" if parts.query else ""))
    return found


def crawl(client: Client, starts: list[str]) -> tuple[dict[str, int], list[str]]:
    """Status of each page reached from `starts`, and the pages that failed."""
    seen_paths: set[str] = set()
    statuses: dict[str, int] = {}
    failures: list[str] = []
    queue = deque(starts)
    while queue and len(statuses) < PAGES_PER_ROLE:
        url = queue.popleft()
        path = url.split("?", 1)[0]
        if path in seen_paths:
            continue
        seen_paths.add(path)
        try:
            response = client.get(url)
        except Exception as exc:  # noqa: BLE001 - a crash is what this test looks for
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        statuses[url] = response.status_code
        if response.status_code >= 500:
            failures.append(f"{url}: {response.status_code}")
            continue
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            queue.extend(_links(path, response.content.decode("utf-8", "replace")))
    return statuses, failures


@pytest.fixture
def demo_loaded(db):
    call_command("load_demo", "--force", verbosity=0)


@pytest.mark.parametrize("username", [demo.SUPERUSER, *(str(role) for role in demo.STAFF_ROLES), demo.EXPERT])
def test_no_page_reached_by_a_demo_account_is_a_server_error(demo_loaded, client, username):
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    study = demo.STUDY_CODE
    starts = [
        "/admin/",
        f"/staff/studies/{study}/alerts/",
        f"/staff/studies/{study}/exports/",
        f"/staff/studies/{study}/outbox/",
        f"/staff/studies/{study}/enrol/",
        f"/staff/studies/{study}/import/",
        f"/staff/studies/{study}/schedule/replan/",
        "/staff/api/tokens/",
        "/review/",
    ]
    if not user.is_staff:
        starts = ["/review/", "/admin/", f"/staff/studies/{study}/outbox/"]
    statuses, failures = crawl(client, starts)
    assert not failures, "\n".join(failures)
    # The crawl really followed links: every role reaches pages beyond its start pages.
    reached = [url for url, status in statuses.items() if status == 200]
    assert set(reached) - set(starts), sorted(statuses.items())
    # Staff work in the admin; the expert reviewer (not staff) on the review pages, round included.
    where = "/review/rounds/" if username == demo.EXPERT else "/admin/surveys/"
    assert any(url.startswith(where) for url in reached), reached
