"""E-consent and pre-screening in Chromium at 360×740, JavaScript on and off, with axe checks."""

import pytest

from patients.models import ConsentRecord, Enrollment
from tests.browser.conftest import check_page
from tests.patients.consent.test_consent import enrolled
from tests.surveys.participants.test_screening import code_sent, fresh_limits_and_outboxes, screening_study  # noqa: F401

pytestmark = pytest.mark.browser


def test_e_consent_page_then_the_questionnaire(phone, make):
    enrollment, token, _a = enrolled(make)
    page = phone(locale="en-GB")
    page.goto(f"/s/{token}")
    assert page.get_by_role("heading", name="About the study").is_visible()
    check_page(page, "consent", javascript=phone.javascript)
    page.get_by_role("button", name="I agree").click()
    assert page.get_by_role("alert").is_visible()
    check_page(page, "consent-error", javascript=phone.javascript)
    assert not ConsentRecord.objects.exists()
    page.get_by_label("I have read the information notice").check()
    page.get_by_label("Your first name and last name").fill("Jeanne Martin")
    page.get_by_role("button", name="I agree").click()
    assert page.get_by_text("Question mood").is_visible()
    record = ConsentRecord.objects.get(enrollment=enrollment)
    assert record.typed_name == "Jeanne Martin"


def test_non_opposition_page(phone, make):
    _enrollment, token, _a = enrolled(make, legal_basis="non_opposition")
    page = phone(locale="en-GB")
    page.goto(f"/s/{token}")
    check_page(page, "consent-non-opposition", javascript=phone.javascript)
    page.get_by_role("button", name="I do not object").click()
    assert page.get_by_text("Question mood").is_visible()


def test_pre_screening_consent_and_self_enrolment(phone, make):
    _study, token = screening_study(make)
    page = phone(locale="en-GB")
    page.goto(f"/e/{token}")
    check_page(page, "screening-start", javascript=phone.javascript)
    page.get_by_role("link", name="Start").click()
    check_page(page, "screening-page", javascript=phone.javascript)
    page.get_by_label("Your age").fill("34")
    page.get_by_role("radiogroup", name="Are you pregnant?").get_by_label("No").check()
    page.get_by_role("button", name="Check my answers").click()
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_role("heading", name="About the study").is_visible()
    check_page(page, "screening-consent", javascript=phone.javascript)
    page.get_by_label("I have read the information notice").check()
    page.get_by_label("Your first name and last name").fill("Jeanne Martin")
    page.get_by_role("button", name="I agree").click()
    assert page.get_by_role("heading", name="How can we reach you?").is_visible()
    check_page(page, "screening-enrol", javascript=phone.javascript)
    page.get_by_label("Mobile phone").fill("12")
    page.get_by_role("button", name="Join the study").click()
    check_page(page, "screening-enrol-error", javascript=phone.javascript)
    page.get_by_label("Mobile phone").fill("06 12 34 56 78")
    page.get_by_role("button", name="Join the study").click()
    assert page.get_by_role("heading", name="Enter the code we sent you").is_visible()
    check_page(page, "screening-code", javascript=phone.javascript)
    assert Enrollment.objects.count() == 0
    code = code_sent("+33612345678")
    page.get_by_label("Code received").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Confirm").click()
    check_page(page, "screening-code-error", javascript=phone.javascript)
    page.get_by_label("Code received").fill(code)
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_role("heading", name="Welcome to the study").is_visible()
    check_page(page, "screening-welcome", javascript=phone.javascript)
    assert Enrollment.objects.count() == 1
    page.get_by_role("link", name="Start my first questionnaire").click()
    assert page.get_by_text("Question mood").is_visible()


def test_pre_screening_not_eligible(phone, make):
    _study, token = screening_study(make)
    page = phone(locale="en-GB")
    page.goto(f"/e/{token}?p=1")
    page.get_by_label("Your age").fill("15")
    page.get_by_role("radiogroup", name="Are you pregnant?").get_by_label("No").check()
    page.get_by_role("button", name="Check my answers").click()
    page.get_by_role("button", name="Send my answers").click()
    assert page.get_by_text("looking for other profiles").is_visible()
    check_page(page, "screening-not-eligible", javascript=phone.javascript)
    assert Enrollment.objects.count() == 0
