"""The safety message on the closing page, in Chromium at phone size, with JavaScript on and off."""

import pytest

from config.celery import app as celery_app
from surveys.answering.links import assignment_link_token
from surveys.models import Alert
from surveys.questionnaires.publish import questionnaire_publish
from tests.browser.conftest import check_page
from tests.surveys.scoring.test_alerts import build

pytestmark = pytest.mark.browser

TEXTS = {
    "en": {
        "question": "Question q9",
        "option": "Nearly every day",
        "check": "Check my answers",
        "send": "Send my answers",
        "thanks": "Thank you",
        "help": "If you need help now",
        "tel": "tel:116123",
    },
}


@pytest.fixture
def eager_tasks():
    # The live server commits for real: the alert e-mail task runs in-process (mail.outbox), not
    # left on a broker that no worker of this test reads.
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


@pytest.mark.parametrize("language", ["en"])
def test_safety_message_after_an_alerting_answer(phone, make, language, eager_tasks):
    texts = TEXTS[language]
    version = questionnaire_publish(questionnaire=build(make), by=None)
    participant = make.participant(study=version.questionnaire.study, language=language)
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    page = phone(locale="en-GB")
    page.goto(f"/s/{assignment_link_token(assignment=assignment)}")
    page.get_by_role("radiogroup", name="Question q1").get_by_label("Several days").check()
    page.get_by_role("radiogroup", name=texts["question"]).get_by_label(texts["option"]).check()
    page.get_by_role("button", name=texts["check"]).click()
    page.get_by_role("button", name=texts["send"]).click()
    assert page.get_by_role("heading", name=texts["thanks"]).is_visible()
    help_box = page.get_by_role("region", name=texts["help"])
    assert help_box.is_visible()
    assert help_box.get_by_role("link", name="116 123").get_attribute("href") == texts["tel"]
    check_page(page, f"safety-message-{language}", javascript=phone.javascript)
    assert list(Alert.objects.values_list("rule", flat=True)) == ["item9"]
