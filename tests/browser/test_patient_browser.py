"""Patient journeys in Chromium at 360×740, with JavaScript on and off."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from surveys.answering.links import assignment_link_token
from surveys.models import Assignment, Response
from surveys.questionnaires.publish import questionnaire_publish
from tests.browser.conftest import check_page

pytestmark = pytest.mark.browser


@pytest.fixture
def link(make):
    """An open link to a two-page questionnaire with every item type, for an English-speaking patient."""
    version = questionnaire_publish(questionnaire=make.every_type_questionnaire(), by=None)
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study, language="en")
    assignment = make.assignment(participant=participant, timepoint=tp)
    return f"/s/{assignment_link_token(assignment=assignment)}", assignment


def answer_page_one(page, *, mood: str, why: str | None = None) -> None:
    page.get_by_label(mood).check()
    if why is not None:
        box = page.get_by_label("What made you sad?")
        if not box.is_visible():  # without JavaScript the server shows it after a round trip
            page.get_by_role("button", name="Next").click()
            assert "Your answer added a question" in page.content()
        box.fill(why)
    page.get_by_label("Doctor").check()
    page.get_by_role("radiogroup", name="Do you smoke?").get_by_label("No").check()
    page.get_by_role("button", name="Next").click()


def answer_page_two(page) -> None:
    page.get_by_label("Cigarettes a day").fill("0")
    page.get_by_label("Your weight (kg)").fill("71,5")
    page.get_by_role("radiogroup", name="Your pain").get_by_label("4", exact=True).check()
    page.get_by_label("Your health today (0 to 100)", exact=True).first.fill("80")
    page.get_by_label("Date of your last visit").fill("2026-11-02")
    page.get_by_label("Your main treatment").fill("metformine")
    page.get_by_role("button", name="Check my answers").click()


def test_fill_a_whole_questionnaire_with_a_conditional_item(phone, link):
    url, assignment = link
    page = phone()
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "en"
    check_page(page, "question-page", javascript=phone.javascript)
    why = page.get_by_label("What made you sad?")
    assert not why.is_visible()
    if phone.javascript:
        # The progressive script reveals the follow-up at once, and hides it again.
        page.get_by_label("Often").check()
        assert why.is_visible()
        page.get_by_label("Never").check()
        assert not why.is_visible()
    answer_page_one(page, mood="Often", why="my knee")
    answer_page_two(page)
    assert page.get_by_role("heading", name="Check your answers").is_visible()
    assert "my knee" in page.content() and "71.5" in page.content()
    check_page(page, "review", javascript=phone.javascript)
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_role("heading", name="Thank you").is_visible()
    check_page(page, "thank-you", javascript=phone.javascript)
    response = Response.objects.get(assignment=assignment)
    assert response.status == Response.Status.COMPLETED
    assert response.answers == {
        "mood": "a2",
        "why": "my knee",
        "help": ["gp"],
        "smoker": False,
        "cigs": 0,
        "weight": 71.5,
        "pain": 4,
        "health": 80,
        "visit": "2026-11-02",
        "drug": "metformine",
    }


def test_errors_are_shown_next_to_their_fields(phone, link):
    url, _assignment = link
    page = phone()
    page.goto(url)
    page.get_by_role("button", name="Next").click()
    error = page.get_by_text("Answer this question to continue.").last
    assert error.is_visible()
    assert page.get_by_role("link", name="Answer this question to continue.").count() == 1
    check_page(page, "question-page-error", javascript=phone.javascript)


def test_leave_midway_and_resume_on_another_device(phone, link):
    url, _assignment = link
    first = phone()
    first.goto(url)
    answer_page_one(first, mood="Never")
    first.context.close()
    # Same link on a second phone: same state, on page 2.
    second = phone()
    second.goto(url)
    assert second.get_by_text("Page 2 of 2").is_visible()
    second.get_by_role("button", name="Previous").click()
    assert second.get_by_label("Never").is_checked()


def test_double_submit_makes_one_response(phone, link):
    url, assignment = link
    page = phone()
    page.goto(url)
    answer_page_one(page, mood="Sometimes")
    answer_page_two(page)
    page.get_by_role("button", name="Send my answers").dblclick()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    # The back button and a re-send of the old form change nothing either.
    page.go_back()
    if page.get_by_role("button", name="Send my answers").count():
        page.get_by_role("button", name="Send my answers").click()
    assert Response.objects.filter(assignment=assignment).count() == 1
    assert Response.objects.get(assignment=assignment).answers["mood"] == "a1"


def test_go_back_and_change_an_answer(phone, link):
    url, assignment = link
    page = phone()
    page.goto(url)
    answer_page_one(page, mood="Often", why="work")
    answer_page_two(page)
    page.get_by_role("link", name="Change the answers on page 1").click()
    page.get_by_label("Never").check()
    # Opened from the review, the page goes back to it.
    page.get_by_role("button", name="Check my answers").click()
    content = page.content()
    assert "Never" in content and "work" not in content  # the hidden follow-up's answer is gone
    page.get_by_role("button", name="Send my answers").click()
    answers = Response.objects.get(assignment=assignment).answers
    assert answers["mood"] == "a0" and "why" not in answers


@pytest.mark.parametrize("state", ["expired", "unknown", "not-yet-open"])
def test_closed_link_pages(phone, make, link, state):
    url, assignment = link
    now = timezone.now()
    if state == "expired":
        Assignment.objects.filter(pk=assignment.pk).update(
            due_at=now - timedelta(days=9), expires_at=now - timedelta(days=1)
        )
    elif state == "not-yet-open":
        Assignment.objects.filter(pk=assignment.pk).update(
            due_at=now + timedelta(days=1), expires_at=now + timedelta(days=8)
        )
    else:
        url = "/s/AAAAAAAAAAAAAAAAAAAAAA"
    page = phone()
    page.goto(url)
    assert page.locator("h1").count() == 1
    check_page(page, f"state-{state}", javascript=phone.javascript)


def test_visual_analogue_scale_works_by_keyboard(phone, link):
    url, assignment = link
    page = phone()
    page.goto(url)
    answer_page_one(page, mood="Never")
    if phone.javascript:
        slider = page.get_by_role("slider", name="Your health today (0 to 100)")
        slider.focus()
        for _ in range(3):
            slider.press("ArrowRight")
        assert page.get_by_role("textbox", name="Your health today (0 to 100)").input_value() == "3"
    else:
        assert page.get_by_role("slider").count() == 0
        page.get_by_role("textbox", name="Your health today (0 to 100)").fill("3")
    page.get_by_role("radiogroup", name="Your pain").get_by_label("0", exact=True).check()
    page.get_by_role("button", name="Check my answers").click()
    assert Response.objects.get(assignment=assignment).answers["health"] == 3


def test_year_of_birth_check_page(phone, link):
    from surveys.answering.access import link_check_digest
    from surveys.models import Participant, Study

    url, assignment = link
    participant = assignment.participant
    Study.objects.filter(pk=participant.study_id).update(link_check="birth_year")
    Participant.objects.filter(pk=participant.pk).update(
        link_check_digest=link_check_digest(participant=participant, birth_year=1948)
    )
    page = phone()
    page.goto(url)
    page.get_by_label("Year of birth").fill("1949")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("This year does not match.")).to_be_visible()
    check_page(page, "birth-year-check-error", javascript=phone.javascript)
    page.get_by_label("Year of birth").fill("1948")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Have you felt sad?")).to_be_visible()


TARGETS_TOO_SMALL = """() => {
  const small = [];
  for (const el of document.querySelectorAll('a, button, label.opt, label.pt, input:not([type=radio]):not([type=checkbox]):not([type=hidden]), textarea')) {
    if (el.classList.contains('skip')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // hidden follow-up
    if (r.height < 44 || r.width < 44) small.push(`${el.tagName} ${el.textContent.trim().slice(0, 30)} ${r.width}x${r.height}`);
  }
  return small;
}"""


@pytest.mark.parametrize("width", [320, 360])
def test_pages_reflow_without_sideways_scrolling_and_targets_are_44px(browser, live_server, link, width):
    url, _assignment = link
    # 320 CSS px is WCAG's reflow width; it is also what a 640 px wide screen shows at 200% zoom.
    ctx = browser.new_context(viewport={"width": width, "height": 640}, base_url=live_server.url)
    page = ctx.new_page()
    try:
        page.goto(url)
        for step in ("page 1", "page 2", "review"):
            assert page.evaluate("document.documentElement.scrollWidth") <= width, step
            assert page.evaluate(TARGETS_TOO_SMALL) == [], step
            if step == "page 1":
                answer_page_one(page, mood="Never")
            elif step == "page 2":
                page.get_by_role("radiogroup", name="Your pain").get_by_label("2", exact=True).check()
                page.get_by_role("button", name="Check my answers").click()
    finally:
        ctx.close()
