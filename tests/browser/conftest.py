"""Real Chromium (Debian's) driven by Playwright, at a phone viewport, against a live server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import need_service

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make between page actions are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    need_service("Chromium", Path(CHROMIUM).exists(), f"install it: apt-get install -y chromium ({CHROMIUM})")
    need_service("axe-core", AXE.exists(), "run `npm ci` (package.json)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(params=[True, False], ids=["js", "nojs"])
def phone(request, browser, live_server):
    """A fresh phone-sized browser context (no cookies), JavaScript on or off."""
    contexts = []

    def new_page(*, javascript: bool | None = None, locale: str = "fr-FR"):
        ctx = browser.new_context(
            viewport=PHONE,
            java_script_enabled=request.param if javascript is None else javascript,
            locale=locale,
            is_mobile=True,
            has_touch=True,
            base_url=live_server.url,
            # axe-core is injected as a script; the pages' own CSP would block it.
            bypass_csp=True,
        )
        contexts.append(ctx)
        return ctx.new_page()

    new_page.javascript = request.param
    yield new_page
    for ctx in contexts:
        ctx.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core (WCAG 2.0–2.2 A and AA rules) on the current page."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
             values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]
    ]


def check_page(page, name: str, *, javascript: bool) -> None:
    """Screenshot the page as a test artifact, then fail on any accessibility violation.

    axe needs JavaScript; the server sends the same HTML either way, so the JS-on
    run of each scenario checks every page type."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{'js' if javascript else 'nojs'}.png"), full_page=True)
    if not javascript:
        return
    violations = axe_violations(page)
    assert not violations, f"{name}: " + json.dumps(violations, indent=1)
