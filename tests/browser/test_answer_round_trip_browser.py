"""Answers survive every way back to a page, in Chromium at a phone's size, with JavaScript on and off.

One questionnaire with every item type over three pages and a follow-up for each operator (=, !=,
exists, >=, >, <, <=), a yes/no revealing one of them. The patient answers it, leaves half-way and
resumes on another phone, goes Previous and Next without changing anything, opens each page from the
review page's "Change" links and goes on, leaves and comes back again, then changes two answers so
that their follow-ups are hidden, and sends. After every step Response.answers is exactly what was
last entered on each question shown, and nothing for the hidden ones.

With the script, a follow-up appears (and disappears) at once; without it, the page comes back once
with "Your answer added a question on this page" (tests/surveys/answering/test_answer_round_trip.py holds the same
for generated answers, through the test client).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from surveys.answering.links import assignment_link_token
from surveys.models import Response
from surveys.questionnaires.publish import questionnaire_publish
from tests.factories import YES_NO_SOMETIMES

pytestmark = pytest.mark.browser

PAGES = 3


@pytest.fixture
def link(make):
    q = make.questionnaire()
    p1, p2, p3 = (
        make.section(questionnaire=q, link_id=code, order=n, title_en=title, title_fr=title)
        for n, (code, title) in enumerate([("p1", "About you"), ("p2", "Your health"), ("p3", "Your night")], start=1)
    )

    def item(link_id, kind, section, text, **kw):
        return make.item(questionnaire=q, link_id=link_id, type=kind, section=section, text_en=text, text_fr=text, **kw)

    def when(row, question, operator, answer):
        make.condition(item=row, question=question, operator=operator, answer=answer)

    item("smoker", "yes_no", p1, "Do you smoke?")
    when(item("cigs", "integer", p1, "Cigarettes a day", min_value=0, max_value=100), "smoker", "=", "true")
    item("mood", "single", p1, "Have you felt sad?", options=YES_NO_SOMETIMES)
    # != holds while the question is unanswered (FHIR R4): shown from the start, hidden by "Never".
    when(item("why", "long_text", p1, "What made you sad?", max_length=500), "mood", "!=", "a0")
    item(
        "help",
        "multiple",
        p1,
        "Who helps you?",
        options=[
            ("fam", "Famille", "Family", None),
            ("gp", "Médecin", "Doctor", None),
            ("none", "Personne", "Nobody", None),
        ],
    )
    when(item("helpers", "short_text", p1, "Their first names", max_length=80), "help", "exists", "true")

    item("weight", "decimal", p2, "Your weight (kg)", min_value=20, max_value=300)
    when(item("diet", "short_text", p2, "Your diet"), "weight", ">=", "100")
    item("pain", "nrs", p2, "Your pain", min_value=0, max_value=10)
    when(item("where", "long_text", p2, "Where does it hurt?"), "pain", ">", "6")
    item("health", "vas", p2, "Your health today (0 to 100)", min_value=0, max_value=100)
    when(item("call", "yes_no", p2, "Shall we call you?"), "health", "<", "30")

    item("woke", "time", p3, "When did you wake up?")
    when(
        item(
            "woken",
            "single",
            p3,
            "What woke you?",
            options=[("noise", "Bruit", "A noise", None), ("bladder", "Vessie", "My bladder", None)],
        ),
        "woke",
        "<=",
        "05:30",
    )
    item("visit", "date", p3, "Date of your last visit")
    item("note", "long_text", p3, "Anything else?")

    version = questionnaire_publish(questionnaire=q, by=None)
    participant = make.participant(study=q.study, language="en")
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    return f"/s/{assignment_link_token(assignment=assignment)}", assignment


# --- acting as the patient ----------------------------------------------------------------------------


def box(page, link_id: str):
    return page.locator(f"#q-f-{link_id}")


def group(page, name: str):
    return page.get_by_role("radiogroup", name=name)


def on_page(page, number: int) -> None:
    expect(page.locator("#progress")).to_have_text(f"Page {number} of {PAGES}")


def on_review(page) -> None:
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()


def next_button(page):
    return page.locator("button[name=action][value=next]")  # "Next", or "Check my answers" on the last page


def press_next(page, then: int | str) -> None:
    next_button(page).click()
    on_review(page) if then == "review" else on_page(page, then)


def press_previous(page, then: int) -> None:
    page.get_by_role("button", name="Previous").click()
    on_page(page, then)


def follow_up_appears(phone, page, link_id: str) -> None:
    """The follow-up of the answer just given: the script shows it at once; without the script the
    server shows it once the answer is sent, on the same page, before going on."""
    if phone.javascript:
        expect(box(page, link_id)).to_be_visible()
        return
    expect(box(page, link_id)).to_be_hidden()
    number = int(re.search(r"Page (\d+)", page.locator("#progress").inner_text()).group(1))
    next_button(page).click()
    expect(page.get_by_role("status")).to_have_text(re.compile("Your answer added a question on this page"))
    on_page(page, number)
    expect(box(page, link_id)).to_be_visible()


def follow_up_disappears(phone, page, link_id: str) -> None:
    # Without the script the box stays until the page is sent; the server then drops its answer.
    if phone.javascript:
        expect(box(page, link_id)).to_be_hidden()
    else:
        expect(box(page, link_id)).to_be_visible()


def stored(assignment) -> dict:
    response = Response.objects.filter(assignment=assignment).first()
    return response.answers if response else {}


def answer_page_one(phone, page) -> None:
    group(page, "Do you smoke?").get_by_label("Yes").check()
    follow_up_appears(phone, page, "cigs")
    page.get_by_label("Cigarettes a day").fill("12")
    expect(box(page, "why")).to_be_visible()  # "!=" on an unanswered question
    page.get_by_label("Often").check()
    page.get_by_label("What made you sad?").fill("my knee\nand my back")
    page.get_by_label("Doctor", exact=True).check()
    page.get_by_label("Family", exact=True).check()
    follow_up_appears(phone, page, "helpers")
    page.get_by_label("Their first names").fill("Anne, Paul")
    press_next(page, 2)


def answer_page_two(phone, page) -> None:
    page.get_by_label("Your weight (kg)").fill("104,5")
    follow_up_appears(phone, page, "diet")
    page.get_by_label("Your diet").fill("  no salt\u00a0")
    group(page, "Your pain").get_by_label("8", exact=True).check()
    follow_up_appears(phone, page, "where")
    page.get_by_label("Where does it hurt?").fill("lower back")
    page.get_by_role("textbox", name="Your health today (0 to 100)").fill("25")
    follow_up_appears(phone, page, "call")
    group(page, "Shall we call you?").get_by_label("Yes").check()
    press_next(page, 3)


def answer_page_three(phone, page) -> None:
    page.get_by_label("When did you wake up?").fill("05:15")
    follow_up_appears(phone, page, "woken")
    page.get_by_label("A noise").check()
    page.get_by_label("Date of your last visit").fill("2026-11-02")
    page.get_by_label("Anything else?").fill("Nothing else.\nThank you")


PAGE_ONE = {
    "smoker": True,
    "cigs": 12,
    "mood": "a2",
    "why": "my knee\nand my back",
    "help": ["fam", "gp"],
    "helpers": "Anne, Paul",
}
PAGE_TWO = {"weight": 104.5, "diet": "no salt", "pain": 8, "where": "lower back", "health": 25, "call": True}
PAGE_THREE = {"woke": "05:15", "woken": "noise", "visit": "2026-11-02", "note": "Nothing else.\nThank you"}


def assert_shown_as_stored(page) -> None:
    """What the fields of page 2 show, once saved: the stored values, written as the form posts them."""
    expect(page.get_by_label("Your weight (kg)")).to_have_value("104.5")
    expect(page.get_by_label("Your diet")).to_have_value("no salt")
    expect(group(page, "Your pain").get_by_label("8", exact=True)).to_be_checked()
    expect(page.get_by_label("Where does it hurt?")).to_have_value("lower back")
    expect(page.get_by_role("textbox", name="Your health today (0 to 100)")).to_have_value("25")
    expect(group(page, "Shall we call you?").get_by_label("Yes")).to_be_checked()


def test_answers_survive_previous_review_links_and_resume_and_hidden_follow_ups_are_dropped(phone, link):
    url, assignment = link
    page = phone()
    page.goto(url)
    on_page(page, 1)
    answer_page_one(phone, page)
    assert stored(assignment) == PAGE_ONE
    answer_page_two(phone, page)
    assert stored(assignment) == PAGE_ONE | PAGE_TWO

    # Leave on page 3 without sending it; on another phone the link opens page 3, page 2 as saved.
    page.context.close()
    page = phone()
    page.goto(url)
    on_page(page, 3)
    press_previous(page, 2)
    assert_shown_as_stored(page)
    press_next(page, 3)
    assert stored(assignment) == PAGE_ONE | PAGE_TWO
    answer_page_three(phone, page)

    # Previous down to page 1 (each page sent as it is, page 3 included), then Next up to the review.
    everything = PAGE_ONE | PAGE_TWO | PAGE_THREE
    press_previous(page, 2)
    assert stored(assignment) == everything
    assert_shown_as_stored(page)
    press_previous(page, 1)
    expect(group(page, "Do you smoke?").get_by_label("Yes")).to_be_checked()
    expect(page.get_by_label("What made you sad?")).to_have_value("my knee\nand my back")
    press_next(page, 2)
    press_next(page, 3)
    expect(page.get_by_label("When did you wake up?")).to_have_value("05:15")
    expect(page.get_by_label("A noise")).to_be_checked()
    press_next(page, "review")
    assert stored(assignment) == everything

    # Each page from the review page's change link, Next through to the review again: nothing changes.
    review = page.locator("main").inner_text()
    assert "104.5" in review and "Family, Doctor" in review and "02/11/2026" in review and "05:15" in review
    for number in range(1, PAGES + 1):
        page.get_by_role("link", name=f"Change the answers on page {number}").click()
        on_page(page, number)
        # A page opened from the review goes back to the review.
        press_next(page, "review")
        assert stored(assignment) == everything, f"page {number}"

    # Leave and come back: every page was sent, so the link opens the review page, as it was.
    page.context.close()
    page = phone()
    page.goto(url)
    on_review(page)
    assert page.locator("main").inner_text() == review

    # Answers that hide follow-ups: the follow-ups' answers go.
    page.get_by_role("link", name="Change the answers on page 1").click()
    group(page, "Do you smoke?").get_by_label("No").check()
    follow_up_disappears(phone, page, "cigs")
    page.get_by_label("Never").check()
    follow_up_disappears(phone, page, "why")
    press_next(page, "review")
    page.get_by_role("link", name="Change the answers on page 2").click()
    page.get_by_role("textbox", name="Your health today (0 to 100)").fill("60")
    follow_up_disappears(phone, page, "call")
    press_next(page, "review")
    changed = {k: v for k, v in everything.items() if k not in ("cigs", "why", "call")}
    changed |= {"smoker": False, "mood": "a0", "health": 60}
    assert stored(assignment) == changed
    review = page.locator("main").inner_text()
    assert (
        "Cigarettes a day" not in review and "What made you sad?" not in review and "Shall we call you?" not in review
    )

    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    response = Response.objects.get(assignment=assignment)
    assert response.status == Response.Status.COMPLETED
    assert response.answers == changed


def test_the_script_refuses_a_decimal_whose_double_has_16_digits_as_the_server_does(browser, live_server, make):
    """999999999999999.99 is the double 1e15: values.parse refuses it (its form would show 16 digits, which
    parse refuses), and patient.js must too, or it would show a follow-up the server does not."""
    q = make.questionnaire()
    section = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="big", type="decimal", section=section, text_en="A big number")
    more = make.item(questionnaire=q, link_id="more", type="short_text", section=section, text_en="Tell us more")
    make.condition(item=more, question="big", operator=">", answer="0")
    version = questionnaire_publish(questionnaire=q, by=None)
    assignment = make.assignment(
        participant=make.participant(study=q.study, language="en"), timepoint=make.timepoint(version=version)
    )
    ctx = browser.new_context(base_url=live_server.url)
    try:
        page = ctx.new_page()
        page.goto(f"/s/{assignment_link_token(assignment=assignment)}")
        number = page.get_by_label("A big number")
        number.fill("999999999999999.9")
        expect(box(page, "more")).to_be_visible()
        number.fill("999999999999999.99")
        expect(box(page, "more")).to_be_hidden()
        next_button(page).click()
        expect(page.get_by_text("Enter a number, for example 12.").last).to_be_visible()
        expect(box(page, "more")).to_be_hidden()
    finally:
        ctx.close()
