"""A reviewer reviews a round in Chromium at 360×740, JavaScript on and off: sign in, rate and comment an item,
send the overall review with approval; axe finds no violation on the round page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import ItemFeedback, ReviewSubmission
from tests.browser.conftest import check_page

pytestmark = pytest.mark.browser

PASSWORD = "a-long-pass-phrase-42"


@pytest.fixture
def round_and_reviewer(make):
    q = make.every_type_questionnaire()
    panel = make.panel(study=q.study, code="experts", title="Expert patients")
    round_ = make.review_round(
        questionnaire=q,
        panel=panel,
        title="First reading",
        instructions="Tell us what is unclear.",
        deadline=timezone.now() + timedelta(days=7),
    )
    reviewer = make.user(username="claire", staff=False, password=PASSWORD)
    make.panel_member(panel=panel, user=reviewer, accepted_at=timezone.now())
    return round_, reviewer


def test_reviewer_completes_a_review_on_a_phone(phone, round_and_reviewer):
    round_, reviewer = round_and_reviewer
    url = f"/review/rounds/{round_.pk}/"
    page = phone(locale="en-GB")
    page.goto(f"/accounts/login/?next={url}%3Flang%3Den")
    page.locator("input[name=login]").fill("claire")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"**{url}*")
    assert page.get_by_role("heading", name="First reading").is_visible()
    assert page.get_by_text("Shown only when “Have you felt sad?” = “Often”").is_visible()
    check_page(page, "review-round", javascript=phone.javascript)

    item = page.locator("#r-f-mood")
    item.get_by_role("group", name="Clarity").get_by_label("2", exact=True).check()
    item.get_by_role("group", name="Relevance").get_by_label("5", exact=True).check()
    item.get_by_role("group", name="Acceptability").get_by_label("4", exact=True).check()
    item.get_by_label("Comment").fill("Sad over which period?")
    item.get_by_label("Suggested wording").fill("In the last 7 days, have you felt sad?")
    item.get_by_role("button", name="Save feedback on mood").click()
    assert page.get_by_text("Your feedback on this item is saved.").is_visible()
    check_page(page, "review-item-saved", javascript=phone.javascript)
    fb = ItemFeedback.objects.get(round=round_, reviewer=reviewer, link_id="mood")
    assert (fb.clarity, fb.relevance, fb.acceptability) == (2, 5, 4)
    assert fb.suggestion == "In the last 7 days, have you felt sad?"

    overall = page.locator("#overall")
    overall.get_by_role("group", name="Burden: is it too long or too tiring?").get_by_label("2", exact=True).check()
    overall.get_by_label("Other comments").fill("Quick to answer.")
    overall.get_by_label("I approve this version").check()
    overall.get_by_role("button", name="Send my review").click()
    assert page.get_by_text("Your overall review is saved.").is_visible()
    check_page(page, "review-sent", javascript=phone.javascript)
    sub = ReviewSubmission.objects.get(round=round_, reviewer=reviewer)
    assert sub.approved and sub.approved_hash == round_.content_hash and sub.burden == 2

    page.goto(url + "?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_text("Vous êtes-vous senti triste ?").first.is_visible()
    check_page(page, "review-round-fr", javascript=phone.javascript)
