"""The reviewer's page of a round: item feedback, overall review and approval, the designers' answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import ItemFeedback, PanelMember, ReviewRound, ReviewSubmission
from surveys.review.feedback import RoundClosed, item_feedback_save

pytestmark = pytest.mark.django_db


def review_round(make, *, study=None, panel=None, **kw) -> ReviewRound:
    q = make.every_type_questionnaire(study=study)
    panel = panel or make.panel(study=q.study, code=f"p{q.pk}", title="Panel")
    return make.review_round(
        questionnaire=q,
        panel=panel,
        title="Round 1",
        instructions="Read every question.",
        deadline=kw.pop("deadline", timezone.now() + timedelta(days=7)),
        **kw,
    )


def reviewer_of(make, round_: ReviewRound):
    user = make.user(staff=False)
    make.panel_member(panel=round_.panel, user=user, accepted_at=timezone.now())
    return user


@pytest.fixture
def setup(make, client):
    round_ = review_round(make)
    user = reviewer_of(make, round_)
    client.force_login(user)
    return round_, user, f"/review/rounds/{round_.pk}/"


def test_page_shows_every_item_as_patients_see_it_with_conditions(setup, client):
    round_, _user, url = setup
    page = client.get(url + "?lang=en").content.decode()
    assert "Read every question." in page
    assert "Have you felt sad?" in page and "Cigarettes a day" in page  # all pages in order
    # The conditional item is shown too, with its condition in words.
    assert "What made you sad?" in page
    assert "Shown only when “Have you felt sad?” = “Often”" in page
    assert '<fieldset class="rate" id="r-f-mood-clarity"' in page
    assert "<legend>Clarity</legend>" in page
    assert 'name="clarity" value="3" checked' not in page  # nothing pre-selected
    one = client.get(url + "?lang=en&p=2").content.decode()
    assert "Cigarettes a day" in one and "Have you felt sad?" not in one


def test_feedback_saved_once_and_updated(setup, client):
    round_, user, url = setup
    data = {
        "action": "item",
        "link_id": "mood",
        "clarity": "4",
        "relevance": "5",
        "acceptability": "3",
        "comment": "A bit vague",
        "suggestion": "Have you felt down?",
    }
    first = client.post(url + "?lang=en&p=all", data)
    assert first.status_code == 302 and first["Location"].endswith("saved=r-f-mood#r-f-mood")
    client.post(url + "?lang=en&p=all", data)  # the double click
    assert ItemFeedback.objects.filter(round=round_, reviewer=user, link_id="mood").count() == 1
    client.post(url, {**data, "clarity": "2", "comment": "Clearer now?"})
    fb = ItemFeedback.objects.get(round=round_, reviewer=user, link_id="mood")
    assert (fb.clarity, fb.relevance, fb.comment, fb.suggestion) == (2, 5, "Clearer now?", "Have you felt down?")
    page = client.get(first["Location"]).content.decode()
    assert "Your feedback on this item is saved." in page
    assert 'name="clarity" value="2" checked' in page and "Clearer now?" in page


@pytest.mark.parametrize("value", ["0", "6", "abc", "3.5"])
def test_ratings_outside_1_to_5_are_refused_next_to_the_field(setup, client, value):
    round_, _user, url = setup
    response = client.post(url + "?lang=en", {"action": "item", "link_id": "mood", "clarity": value, "comment": "kept"})
    assert response.status_code == 400
    page = response.content.decode()
    assert not ItemFeedback.objects.filter(round=round_).exists()
    # The message sits inside the clarity fieldset, linked to it, and what was typed stays.
    start = page.index('id="r-f-mood-clarity"')
    assert page.index('id="r-f-mood-clarity-err"') - start < 600
    assert "Choose a rating from 1 to 5." in page
    assert 'aria-describedby="r-f-mood-clarity-hint r-f-mood-clarity-err"' in page
    assert ">kept</textarea>" in page


def test_unknown_item_is_refused(setup):
    round_, user, _url = setup
    assert item_feedback_save(round_=round_, reviewer=user, link_id="nope", data={}).errors
    assert not ItemFeedback.objects.exists()


def test_other_reviewers_and_other_panels_get_not_found(make, client, setup):
    round_, _user, url = setup
    outsider = make.user(staff=False)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "item", "link_id": "mood", "clarity": "3"}).status_code == 404
    other = review_round(make)
    member_elsewhere = reviewer_of(make, other)
    client.force_login(member_elsewhere)
    assert client.get(url).status_code == 404
    assert client.get(f"/review/rounds/{other.pk}/").status_code == 200
    # An inactive member, or one who has not accepted, is no member.
    PanelMember.objects.filter(user=member_elsewhere).update(active=False)
    assert client.get(f"/review/rounds/{other.pk}/").status_code == 404
    assert ItemFeedback.objects.count() == 0


def test_anonymous_goes_to_sign_in(setup, client):
    _round, _user, url = setup
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_read_only_after_deadline_or_closing(setup, client):
    round_, user, url = setup
    client.post(url, {"action": "item", "link_id": "mood", "clarity": "4", "comment": "fine"})
    ReviewRound.objects.filter(pk=round_.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    page = client.get(url + "?lang=en").content.decode()
    assert "This round is closed" in page and '<form method="post" action="?lang' not in page
    assert "fine" in page  # their feedback is still there to read
    response = client.post(url, {"action": "item", "link_id": "mood", "clarity": "1"})
    assert response.status_code == 409
    assert ItemFeedback.objects.get(link_id="mood").clarity == 4
    client.post(url, {"action": "overall", "burden": "2", "approved": "on"})
    assert not ReviewSubmission.objects.exists()
    round_.refresh_from_db()
    round_.deadline = timezone.now() + timedelta(days=1)
    round_.closed_at = timezone.now()
    round_.save()
    with pytest.raises(RoundClosed):
        item_feedback_save(round_=round_, reviewer=user, link_id="mood", data={"clarity": "1"})


def test_approval_records_the_hash_and_resubmitting_updates(setup, client):
    round_, user, url = setup
    response = client.post(
        url + "?lang=en", {"action": "overall", "burden": "2", "comments": "Short enough", "approved": "on"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#overall")
    sub = ReviewSubmission.objects.get(round=round_, reviewer=user)
    assert sub.approved and sub.approved_hash == round_.content_hash and sub.submitted_at
    assert (sub.burden, sub.comments) == (2, "Short enough")
    client.post(url, {"action": "overall", "burden": "3"})
    sub.refresh_from_db()
    assert ReviewSubmission.objects.count() == 1
    assert (sub.burden, sub.approved, sub.approved_hash) == (3, False, "")
    bad = client.post(url + "?lang=en", {"action": "overall", "burden": "9", "comments": "kept"})
    assert bad.status_code == 400 and "Choose a rating from 1 to 5." in bad.content.decode()
    assert 'id="ov-burden-err"' in bad.content.decode()
    sub.refresh_from_db()
    assert sub.burden == 3


def test_schedule_and_notice_are_shown_when_included(make, client):
    round_ = review_round(make, includes_notice=True, includes_schedule=True)
    version = make.published_version(study=round_.questionnaire.study)
    make.timepoint(version=version, label="Three months", offset=90, window=14, reminders=[3, 7])
    make.consent_notice(
        study=round_.questionnaire.study,
        version="1.0",
        language="en",
        title="About the study",
        text="We ask you how you feel.",
    )
    client.force_login(reviewer_of(make, round_))
    page = client.get(f"/review/rounds/{round_.pk}/?lang=en").content.decode()
    assert "Three months: 90 day(s) after enrolment, open for 14 day(s), reminders after 3 day(s), 7 day(s)." in page
    assert "We ask you how you feel." in page and 'name="notice_comments"' in page
    assert 'name="timing" value="too_often"' in page
    client.post(
        f"/review/rounds/{round_.pk}/", {"action": "overall", "timing": "too_often", "notice_comments": "Too long"}
    )
    sub = ReviewSubmission.objects.get()
    assert (sub.timing, sub.notice_comments) == ("too_often", "Too long")


def test_designers_answers_appear(setup, client, make):
    round_, user, url = setup
    client.post(url, {"action": "item", "link_id": "mood", "clarity": "2", "comment": "Unclear"})
    client.post(url, {"action": "item", "link_id": "smoker", "comment": "Intrusive"})
    ItemFeedback.objects.filter(link_id="mood").update(status="resolved", reply="Reworded as you suggested.")
    ItemFeedback.objects.filter(link_id="smoker").update(status="declined", reason="Needed for the analysis.")
    page = client.get(url + "?lang=en").content.decode()
    assert "What happened to my comments" in page
    assert "Resolved" in page and "Reworded as you suggested." in page
    assert "Declined" in page and "Needed for the analysis." in page


def test_french_page(setup, client):
    _round, _user, url = setup
    page = client.get(url + "?lang=fr").content.decode()
    assert '<html lang="fr">' in page
    assert "Vous êtes-vous senti triste ?" in page and "Have you felt sad?" not in page
    assert "Clarté" in page
