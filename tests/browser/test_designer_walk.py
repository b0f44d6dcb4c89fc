"""A designer, in Chromium at 1280×800, builds a questionnaire from nothing in the admin: three items of
different types, a display condition, a score with bands and an alert; checks the condition in the
preview beside the form, publishes after the page of changes, and sets a timepoint with two reminders.
Every click, fill, check and select is counted: the walk must take at most 30."""

from __future__ import annotations

import pytest

from surveys.models import Questionnaire, Timepoint
from surveys.questionnaires import fhir
from tests.browser.conftest import ARTIFACTS, axe_violations

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
MOST_INTERACTIONS = 30


class Counted:
    """The page's interactions, counted: clicks, fills, checks and selects (navigation by link is a click)."""

    def __init__(self, page) -> None:
        self.page, self.count = page, 0

    def click(self, locator) -> None:
        self.count += 1
        locator.click()

    def fill(self, locator, value: str) -> None:
        self.count += 1
        locator.fill(value)

    def check(self, locator) -> None:
        self.count += 1
        locator.check()

    def select(self, locator, value: str) -> None:
        self.count += 1
        locator.select_option(value)


def test_a_designer_builds_publishes_and_schedules_in_at_most_30_interactions(browser, live_server, make):
    study = make.study(code="walk", languages=["fr"], fallback_language="fr")
    user = make.user(username="walker", password="walk-pass-2026")
    make.member(user=user, study=study, role="designer")
    # axe-core is injected as a script: the site's CSP would block it.
    context = browser.new_context(viewport=DESKTOP, locale="en-GB", base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    walk = Counted(page)
    try:
        page.goto("/admin/")
        walk.fill(page.locator("input[name=login]"), "walker")
        walk.fill(page.locator("input[name=password]"), "walk-pass-2026")
        walk.click(page.locator("form button[type=submit]").last)
        walk.click(page.locator("a[href='/admin/surveys/questionnaire/add/']").first)

        # One page: the questionnaire and its items, codes and orders filled in by position.
        walk.fill(page.locator("input[name=code]"), "sommeil")
        walk.fill(page.locator("input[name=title_fr]"), "Sommeil")
        for row, (kind, text) in enumerate(
            [("nrs", "Douleur cette nuit"), ("yes_no", "Vous êtes-vous réveillé ?"), ("long_text", "Racontez")]
        ):
            walk.select(page.locator(f"select[name=items-{row}-type]"), kind)
            walk.fill(page.locator(f"textarea[name=items-{row}-text_fr]"), text)
        walk.click(page.locator("input[name=_continue]").first)
        page.locator("#designer-preview").wait_for()
        questionnaire = Questionnaire.objects.get(study=study, code="sommeil")
        assert list(questionnaire.items.values_list("link_id", "order")) == [("q1", 10), ("q2", 20), ("q3", 30)]

        # The condition, chosen among q2's answers; a score over q1 with two bands, and an alert on it.
        walk.select(page.locator("select[name=items-2-show_when]"), "q2=true")
        walk.check(page.locator("input[name=rules-scores-0-items][value=q1]"))
        for band, (label, low, high) in enumerate([("Faible", "0", "4"), ("Forte", "5", "10")]):
            walk.fill(page.locator(f"input[name=rules-scores-0-bands-{band}-label_fr]"), label)
            walk.fill(page.locator(f"input[name=rules-scores-0-bands-{band}-min]"), low)
            walk.fill(page.locator(f"input[name=rules-scores-0-bands-{band}-max]"), high)
        walk.fill(page.locator("input[name=rules-alerts-0-label_fr]"), "Douleur forte")
        walk.fill(page.locator("input[name=rules-alerts-0-value]"), "8")
        walk.click(page.locator("input[name=_continue]").first)
        page.locator(".messagelist").wait_for()
        errors = page.locator(".errornote, .errorlist").all_inner_texts()
        assert not errors, errors
        questionnaire.refresh_from_db()
        assert questionnaire.rules == {
            "scores": [
                {
                    "name": "total",
                    "label": {"fr": "Score total"},
                    "items": ["q1"],
                    "method": "sum",
                    "bands": [
                        {"code": "faible", "min": 0, "max": 4, "label": {"fr": "Faible"}},
                        {"code": "forte", "min": 5, "max": 10, "label": {"fr": "Forte"}},
                    ],
                }
            ],
            "alerts": [
                {
                    "code": "douleur_forte",
                    "label": {"fr": "Douleur forte"},
                    "when": {"score": "total", "operator": ">=", "value": 8},
                }
            ],
        }

        # The preview beside the form shows the saved draft: answering yes to q2 reveals q3.
        preview = page.frame_locator("#designer-preview")
        follow_up = preview.get_by_label("Racontez")
        assert not follow_up.is_visible()
        walk.click(preview.get_by_role("radiogroup", name="Vous êtes-vous réveillé ?").get_by_label("Oui"))
        assert follow_up.is_visible()

        designer_pages = {"questionnaire": axe_violations(page)}
        # Publish: first the changes since the last version (none yet: all is new), then confirm.
        walk.click(page.get_by_role("button", name="Publish…"))
        assert "q3" in page.locator("#content-main").inner_text()
        designer_pages["publish confirmation"] = axe_violations(page)
        # The designer's own pages pass axe (WCAG 2.2 A/AA). One rule is left out: Django's tabular inline
        # writes an empty header cell above the rows' "original" column (admin/edit_inline/tabular.html).
        found = {
            name: [v for v in violations if v["id"] != "empty-table-header"]
            for name, violations in designer_pages.items()
        }
        assert not any(found.values()), found
        walk.click(page.get_by_role("button", name="Publish, then add a timepoint"))
        page.wait_for_url("**/surveys/timepoint/add/**")
        version = questionnaire.versions.get()
        assert fhir.rules_of(version.definition) == questionnaire.rules

        # The timepoint page comes filled in for this version: only the reminders are left.
        walk.fill(page.locator("input[name=reminders]"), "2, 5")
        walk.click(page.locator("input[name=_save]"))
        page.wait_for_url("**/surveys/timepoint/")
        timepoint = Timepoint.objects.get(study=study)
        assert (timepoint.version, timepoint.reminders, timepoint.channels) == (version, [2, 5], ["sms", "email"])
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "designer-walk.png"), full_page=True)
        context.close()
    print(f"designer walk: {walk.count} interactions")
    assert walk.count <= MOST_INTERACTIONS
