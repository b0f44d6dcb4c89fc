"""Two windows of one link: Send stores what the review page showed, or shows the new review instead."""

import re

from django.urls import reverse

from surveys.models import Assignment, Response


def _url(token, page=None):
    base = reverse("surveys:respond", args=[token])
    return f"{base}?p={page}" if page else base


def _digest_of(page_html: str) -> str:
    return re.search(r'name="answers_digest" value="([0-9a-f]{64})"', page_html).group(1)


def test_send_from_a_review_overtaken_by_another_window_stores_nothing_and_shows_the_new_review(client, make):
    token, a = make.open_link()
    client.post(_url(token), {"page": "1", "mood": "a1", "pain": "0", "shown": "mood pain"})
    window_a = _digest_of(client.get(_url(token, "review")).content.decode())
    # The other window changes an answer after window A showed its review.
    client.post(_url(token), {"page": "1", "mood": "a1", "pain": "9", "shown": "mood pain"})
    sent = client.post(_url(token), {"action": "submit", "answers_digest": window_a})
    assert sent.status_code == 409
    html = sent.content.decode()
    assert "changed in another window" in html
    assert _digest_of(html) != window_a
    response = Response.objects.get(assignment=a)
    assert response.status == Response.Status.IN_PROGRESS and response.scores in ({}, None)
    assert Assignment.objects.get(pk=a.pk).status != Assignment.Status.COMPLETED
    # Sending the review now shown stores those answers, once, and a second Send changes nothing.
    for _ in range(2):
        assert client.post(_url(token), {"action": "submit", "answers_digest": _digest_of(html)}).status_code == 302
    response.refresh_from_db()
    assert response.status == Response.Status.COMPLETED and response.answers == {"mood": "a1", "pain": 9}


def test_a_send_that_did_not_come_from_a_review_page_goes_to_the_review_first(client, make):
    token, a = make.open_link()
    client.post(_url(token), {"page": "1", "mood": "a1", "pain": "0", "shown": "mood pain"})
    for missing in ({"action": "submit"}, {"action": "submit", "answers_digest": ""}):
        sent = client.post(_url(token), missing)
        assert sent.status_code == 302 and sent["Location"].endswith("?p=review")
    assert Response.objects.get(assignment=a).status == Response.Status.IN_PROGRESS
    review = client.get(_url(token, "review")).content.decode()
    assert client.post(_url(token), {"action": "submit", "answers_digest": _digest_of(review)}).status_code == 302
    assert Response.objects.get(assignment=a).status == Response.Status.COMPLETED
