"""Patient link pages through the Django test client (the browser tests cover the same in Chromium)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from surveys.models import Assignment, Participant, Response


def url(token: str, page=None) -> str:
    base = reverse("surveys:respond", args=[token])
    return f"{base}?p={page}" if page else base


def test_link_token_is_short_and_stored_hashed(make):
    token, a = make.open_link()
    a.refresh_from_db()
    assert len(token) >= 22  # 16 random bytes = 128 bits
    assert token not in a.token_hash and len(a.token_hash) == 64
    assert len("https://ressenti.example.fr" + url(token)) <= 160


def test_open_link_shows_first_page_with_every_question(client, make):
    token, _a = make.open_link()
    page = client.get(url(token))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Question mood" in html and "Question pain" in html
    # The follow-up depends on an answer not given yet: in the page, but hidden.
    assert 'id="q-f-why" hidden' in html
    assert "checked" not in html  # nothing pre-selected


@pytest.mark.parametrize(
    ("change", "status", "text"),
    [
        (
            {"expires_at": timezone.now() - timedelta(minutes=1), "due_at": timezone.now() - timedelta(days=2)},
            410,
            "This questionnaire is closed",
        ),
        (
            {"due_at": timezone.now() + timedelta(days=2), "expires_at": timezone.now() + timedelta(days=9)},
            200,
            "Not open yet",
        ),
        ({"status": Assignment.Status.CANCELLED}, 410, "no longer available"),
    ],
)
def test_closed_links_show_a_kind_page_without_data(client, make, change, status, text):
    token, a = make.open_link()
    Assignment.objects.filter(pk=a.pk).update(**change)
    page = client.get(url(token), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == status
    html = page.content.decode()
    assert text in html
    assert "Question" not in html and a.participant.pseudonym not in html


def test_unknown_and_withdrawn_links(client, make):
    assert client.get(url("x" * 22), HTTP_ACCEPT_LANGUAGE="en").status_code == 404
    token, a = make.open_link()
    Participant.objects.filter(pk=a.participant_id).update(status=Participant.Status.WITHDRAWN)
    assert client.get(url(token)).status_code == 410


def test_required_error_is_linked_to_its_field_and_keeps_typed_text(client, make):
    token, _a = make.open_link()
    page = client.post(url(token), {"page": "1", "action": "next", "pain": "12", "shown": "mood pain"})
    assert page.status_code == 422
    html = page.content.decode()
    assert 'aria-describedby="f-mood-err"' in html  # fieldset of the missing choice
    assert "Answer this question to continue." in html
    assert "Enter a number between 0 and 10." in html
    assert 'href="#f-pain"' in html  # error summary links to the field


def test_invalid_text_is_kept_in_the_form(client, make):
    token, _a = make.open_link()
    long = "fatigue " * 70
    page = client.post(url(token), {"page": "1", "mood": "a2", "why": long, "pain": "1", "shown": "mood why pain"})
    html = page.content.decode()
    assert "Write at most 500 characters (you wrote 559)." in html
    assert long.strip() in html
    assert 'aria-describedby="f-why-err"' in html and 'aria-invalid="true"' in html


def test_page_in_french_by_participant_language(client, make):
    token, a = make.open_link()
    Participant.objects.filter(pk=a.participant_id).update(language="fr")
    html = client.get(url(token)).content.decode()
    assert '<html lang="fr">' in html and "Vérifier mes réponses" in html and "(obligatoire)" in html
    errors = client.post(url(token), {"page": "1", "shown": "mood pain"}).content.decode()
    assert "Répondez à cette question pour continuer." in errors


def test_language_can_be_switched_on_the_page_and_is_remembered(client, make):
    token, a = make.open_link()
    Participant.objects.filter(pk=a.participant_id).update(language="fr")
    switched = client.get(url(token) + "?lang=en")
    assert switched.status_code == 302 and "lang" not in switched["Location"]
    html = client.get(switched["Location"]).content.decode()
    assert '<html lang="en">' in html and "Check my answers" in html


def test_without_javascript_a_revealed_question_is_shown_before_moving_on(client, make):
    token, a = make.open_link()
    first = client.post(url(token), {"page": "1", "action": "next", "mood": "a2", "pain": "3", "shown": "p1 mood pain"})
    # "why" appears when mood = a2: the page comes back with it instead of skipping it.
    assert first.status_code == 200
    assert 'id="q-f-why" hidden' not in first.content.decode()
    second = client.post(
        url(token), {"page": "1", "action": "next", "mood": "a2", "pain": "3", "why": "tired", "shown": "mood why pain"}
    )
    assert second.status_code == 302 and second["Location"].endswith("?p=review")
    assert Response.objects.get(assignment=a).answers == {"mood": "a2", "why": "tired", "pain": 3}


def test_answers_of_items_that_become_hidden_are_discarded(client, make):
    token, a = make.open_link()
    client.post(url(token), {"page": "1", "mood": "a2", "pain": "3", "why": "tired", "shown": "mood why pain"})
    client.post(url(token), {"page": "1", "mood": "a0", "pain": "3", "why": "tired", "shown": "mood why pain"})
    assert Response.objects.get(assignment=a).answers == {"mood": "a0", "pain": 3}


def test_submit_twice_makes_one_completed_response(client, make):
    token, a = make.open_link()
    client.post(url(token), {"page": "1", "mood": "a1", "pain": "0", "shown": "mood pain"})
    for _ in range(2):
        done = client.post(url(token), make.review_send(a))
        assert done.status_code == 302
    assert Response.objects.filter(assignment=a).count() == 1
    response = Response.objects.get(assignment=a)
    assert response.status == Response.Status.COMPLETED and response.answers == {"mood": "a1", "pain": 0}
    a.refresh_from_db()
    assert a.status == Assignment.Status.COMPLETED
    # A late resubmission of a page (back button) changes nothing.
    client.post(url(token), {"page": "1", "mood": "a2", "pain": "9", "shown": "mood pain"})
    assert Response.objects.get(assignment=a).answers == {"mood": "a1", "pain": 0}
    assert "Thank you" in client.get(url(token), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_submit_with_a_missing_required_answer_goes_back_to_review(client, make):
    token, a = make.open_link()
    client.post(url(token), {"page": "1", "action": "back", "pain": "4", "shown": "mood pain"})
    assert client.post(url(token), make.review_send(a))["Location"].endswith("?p=review")
    review = client.get(url(token, "review")).content.decode()
    assert "Not answered (required)" in review
    assert Response.objects.get(assignment=a).status == Response.Status.IN_PROGRESS


def test_resume_opens_first_unsaved_page(client, make):
    version = make.published_version()
    q = version.questionnaire
    page2 = make.section(questionnaire=q, link_id="p2", order=2)
    make.item(questionnaire=q, link_id="sleep", type="yes_no", section=page2, required=True)
    from surveys.questionnaires.publish import questionnaire_publish

    v2 = questionnaire_publish(questionnaire=q, by=None)
    token, _a = make.open_link(version=v2)
    client.post(url(token), {"page": "1", "mood": "a1", "pain": "2", "shown": "mood pain"})
    # A new browser (no cookies) opens the same link: it lands on page 2.
    from django.test import Client

    again = Client().get(url(token)).content.decode()
    assert "Question sleep" in again and "Question mood" not in again


def _with_birth_year_check(a, year: int) -> None:
    from surveys.answering.access import link_check_digest
    from surveys.models import Study

    Study.objects.filter(pk=a.participant.study_id).update(link_check="birth_year")
    a.participant.refresh_from_db()
    Participant.objects.filter(pk=a.participant_id).update(
        link_check_digest=link_check_digest(participant=a.participant, birth_year=year)
    )


def test_year_of_birth_is_asked_before_any_question(client, make):
    token, a = make.open_link()
    _with_birth_year_check(a, 1956)
    first = client.get(url(token)).content.decode()
    assert "Year of birth" in first and "Question mood" not in first
    wrong = client.post(url(token), {"action": "check", "birth_year": "1957"})
    assert wrong.status_code == 422 and "does not match" in wrong.content.decode()
    right = client.post(url(token), {"action": "check", "birth_year": "1956"})
    assert right.status_code == 302
    assert "Question mood" in client.get(url(token)).content.decode()
    # The pass is tied to this link: another browser is asked again.
    from django.test import Client

    assert "Year of birth" in Client(HTTP_ACCEPT_LANGUAGE="en").get(url(token)).content.decode()


def test_year_of_birth_attempts_are_limited_per_link_and_per_address(client, make, settings):
    from django.core.cache import cache

    cache.clear()
    settings.LINK_CHECK_MAX_PER_LINK = 3
    settings.LINK_CHECK_MAX_PER_IP = 5
    token, a = make.open_link()
    _with_birth_year_check(a, 1956)
    statuses = [client.post(url(token), {"action": "check", "birth_year": str(1900 + i)}).status_code for i in range(4)]
    assert statuses == [422, 422, 429, 429]
    # Locked even with the right year, until the window passes.
    assert client.post(url(token), {"action": "check", "birth_year": "1956"}).status_code == 429
    # Another link from the same address: two more tries before the address is locked too.
    other, b = make.open_link(study=a.participant.study)
    _with_birth_year_check(b, 1960)
    assert [client.post(url(other), {"action": "check", "birth_year": "1"}).status_code for _ in range(2)] == [422, 429]
    cache.clear()


def test_one_item_per_screen_option_puts_each_question_on_its_own_page(client, make):
    from surveys.questionnaires.publish import questionnaire_publish

    version = questionnaire_publish(questionnaire=make.every_type_questionnaire(one_item_per_page=True), by=None)
    token, _a = make.open_link(version=version)
    first = client.get(url(token)).content.decode()
    # The display text travels with the first question; 10 questions make 10 screens.
    assert "Think of the last 7 days." in first and "Have you felt sad?" in first
    assert "Who helps you?" not in first
    assert "Page 1 of 10" in first
    second = client.post(url(token), {"page": "1", "mood": "a2", "shown": "intro mood"})
    assert second["Location"].endswith("?p=2")


def test_pages_whose_questions_are_all_hidden_are_skipped(client, make):
    from surveys.questionnaires.publish import questionnaire_publish

    version = questionnaire_publish(questionnaire=make.every_type_questionnaire(one_item_per_page=True), by=None)
    token, a = make.open_link(version=version)
    # "why" (page 2) shows only for "often": answering "never" goes straight to page 3.
    assert client.post(url(token), {"page": "1", "mood": "a0", "shown": "intro mood"})["Location"].endswith("?p=3")
    assert client.post(url(token), {"page": "3", "action": "back", "shown": "help"})["Location"].endswith("?p=1")
    assert client.post(url(token), {"page": "1", "mood": "a2", "shown": "intro mood"})["Location"].endswith("?p=2")


def test_every_questionnaire_page_offers_to_stop_taking_part(client, make):
    token, _a = make.open_link()
    withdraw = reverse("patients:withdraw", args=[token])
    assert f'href="{withdraw}"' in client.get(url(token)).content.decode()
    assert f'href="{withdraw}"' in client.get(url(token, "review")).content.decode()


def test_a_page_opened_from_the_review_goes_back_to_the_review(client, make):
    version = make.published_version()
    q = version.questionnaire
    page2 = make.section(questionnaire=q, link_id="p2", order=2)
    make.item(questionnaire=q, link_id="sleep", type="yes_no", section=page2, required=True)
    from surveys.questionnaires.publish import questionnaire_publish

    token, a = make.open_link(version=questionnaire_publish(questionnaire=q, by=None))
    assert client.post(url(token), {"page": "1", "mood": "a1", "pain": "2", "shown": "mood pain"})["Location"].endswith(
        "?p=2"
    )
    assert client.post(url(token), {"page": "2", "sleep": "true", "shown": "sleep"})["Location"].endswith("?p=review")
    review = client.get(url(token, "review")).content.decode()
    assert 'href="?p=1&amp;back=review"' in review
    page1 = client.get(url(token, 1) + "&back=review").content.decode()
    assert '<input type="hidden" name="back" value="review">' in page1
    # Progress counts the pages done before this one: page 1 of 2 is not half done yet.
    assert '<progress max="2" value="0"' in page1
    changed = client.post(url(token), {"page": "1", "mood": "a1", "pain": "3", "shown": "mood pain", "back": "review"})
    assert changed.status_code == 302, changed.content.decode()[-1500:]
    assert changed["Location"].endswith("?p=review")
    # An error keeps the way back to the review.
    wrong = client.post(url(token), {"page": "1", "mood": "a1", "pain": "99", "shown": "mood pain", "back": "review"})
    assert wrong.status_code == 422
    assert '<input type="hidden" name="back" value="review">' in wrong.content.decode()
    # Without the marker, Next goes on to page 2 as before.
    assert client.post(url(token), {"page": "1", "mood": "a1", "pain": "4", "shown": "mood pain"})["Location"].endswith(
        "?p=2"
    )
    assert '<progress max="2" value="1"' in client.get(url(token, 2)).content.decode()
