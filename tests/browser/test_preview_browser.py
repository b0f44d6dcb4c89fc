"""The designer's preview in Chromium: display conditions work live with JavaScript, and with the
"Apply the answers" button without it; answers ride along from page to page; nothing is saved."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from surveys.models import Response
from tests.browser.conftest import check_page
from tests.surveys.questionnaires.test_patient_values import yes_no_questionnaire

pytestmark = pytest.mark.browser


def test_the_preview_runs_the_conditions(phone, make, live_server):
    study = make.study(code="preview-b")
    user = make.user()
    make.member(user=user, study=study, role="designer")
    q = yes_no_questionnaire(make)
    q.study = study
    q.save()
    page = phone(locale="en-GB")
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    page.goto(reverse("admin:surveys_questionnaire_preview_frame", args=[q.pk]) + "?lang=en&page=1")
    follow_up = page.get_by_label("How many cigarettes a day, on average, over the last month?")
    assert not follow_up.is_visible()
    page.get_by_role("radiogroup", name="Do you smoke?").get_by_label("Yes").check()
    if not phone.javascript:
        page.get_by_role("button", name="Apply the answers").click()
    assert follow_up.is_visible()
    check_page(page, "preview-condition", javascript=phone.javascript)
    follow_up.fill("4")
    page.get_by_role("radiogroup", name="Do you smoke?").get_by_label("No").check()
    if not phone.javascript:
        page.get_by_role("button", name="Apply the answers").click()
    assert not follow_up.is_visible()

    page.get_by_role("radiogroup", name="Do you smoke?").get_by_label("Yes").check()
    page.get_by_role("button", name="Next").click()
    assert page.get_by_text("Page 2 of 2").is_visible()
    page.get_by_role("button", name="Previous").click()
    # Page 1's answer came back from the carried answers.
    assert page.get_by_role("radiogroup", name="Do you smoke?").get_by_label("Yes").is_checked()
    assert not Response.objects.exists()
