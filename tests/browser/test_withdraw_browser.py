"""Leaving the study from a message link, in Chromium at 360×740, with JavaScript on and off."""

import pytest
from django.utils import timezone

from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.models import Enrollment
from surveys.answering.links import assignment_link_token
from surveys.answering.submit import response_save_page, response_submit
from surveys.models import Assignment, Participant, Response
from surveys.scheduling.planning import assignments_refresh
from tests.browser.conftest import check_page

pytestmark = pytest.mark.browser


@pytest.fixture
def links(make):
    """An English-speaking patient who answered the first questionnaire; the second is open."""
    version = make.published_version()
    study = version.questionnaire.study
    make.timepoint(version=version, code="t0", offset=0)
    make.timepoint(version=version, code="t1", offset=0)
    enrollment = enrollment_create(
        study=study,
        by=None,
        now=timezone.now(),
        data=EnrolmentData(name="Jeanne Martin", phone="0612345678", language="en", consent_method="written"),
    )
    assignments_refresh(now=timezone.now())
    first, second = enrollment.participant.assignments.order_by("timepoint__code")
    response_save_page(assignment=first, answers={"mood": "a0"}, page_index=0, advance=True)
    response_submit(assignment=first)
    return enrollment, assignment_link_token(assignment=first), assignment_link_token(assignment=second)


def test_leave_the_study_and_delete_the_answers(phone, links):
    enrollment, answered, still_open = links
    page = phone()
    # From the link of a questionnaire already answered: withdrawal works from any message.
    page.goto(f"/s/{answered}/withdraw")
    assert page.get_by_role("heading", name="Leave the study").is_visible()
    check_page(page, "withdraw", javascript=phone.javascript)
    group = page.get_by_role("radiogroup", name="What should happen to the answers you have already given?")
    assert group.get_by_label("Keep my answers for the research").is_checked()
    group.get_by_label("Delete my answers").check()
    page.get_by_role("button", name="Leave the study").click()

    assert page.get_by_role("heading", name="You have left the study").is_visible()
    assert "have been deleted" in page.content()
    check_page(page, "withdraw-done", javascript=phone.javascript)
    enrollment.refresh_from_db()
    assert (enrollment.withdrawn_by, enrollment.withdrawal_data, enrollment.responses_deleted) == (
        Enrollment.WithdrawnBy.PATIENT,
        Enrollment.WithdrawalData.DELETE,
        1,
    )
    assert not Response.objects.filter(assignment__participant=enrollment.participant).exists()

    # The questionnaire still open is closed for good.
    page.goto(f"/s/{still_open}")
    assert page.get_by_role("heading", name="This questionnaire is no longer available").is_visible()
    assert Assignment.objects.get(token_hash__isnull=False, status=Assignment.Status.CANCELLED)


def test_back_button_and_second_send_change_nothing(phone, links):
    enrollment, _answered, still_open = links
    page = phone()
    page.goto(f"/s/{still_open}/withdraw")
    page.get_by_role("button", name="Leave the study").click()
    assert page.get_by_role("heading", name="You have left the study").is_visible()
    assert "kept for the research" in page.content()
    rows = enrollment.history.count()
    page.go_back()
    # Whatever the browser shows after Back (the cached form or the done page), sending again is harmless.
    button = page.get_by_role("button", name="Leave the study")
    if button.count():
        button.click()
    else:
        page.reload()
    assert page.get_by_role("heading", name="You have left the study").is_visible()
    assert enrollment.history.count() == rows
    assert Participant.objects.get(pk=enrollment.participant_id).status == Participant.Status.WITHDRAWN
    assert Response.objects.filter(assignment__participant=enrollment.participant).count() == 1
