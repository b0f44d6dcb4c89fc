"""A page's answers sent after the link closed: nothing stored, and the page says they were not saved."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from surveys.models import Assignment, Response


def test_answers_sent_after_the_window_closed_are_refused_and_the_page_says_so(client, make):
    token, a = make.open_link()
    url = reverse("surveys:respond", args=[token])
    client.post(url, {"page": "1", "mood": "a1", "pain": "0", "shown": "mood pain"})
    past = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=a.pk).update(due_at=past - timedelta(days=1), expires_at=past)
    late = client.post(url, {"page": "1", "mood": "a2", "pain": "9", "shown": "mood pain"})
    assert late.status_code == 410
    assert "Your last answers could not be saved: this questionnaire closed on" in late.content.decode()
    assert Response.objects.get(assignment=a).answers == {"mood": "a1", "pain": 0}
    french = client.post(url, {"page": "1", "mood": "a2", "pain": "9", "shown": "mood pain"}, HTTP_ACCEPT_LANGUAGE="fr")
    assert "9" not in Response.objects.get(assignment=a).answers.values()
    assert french.status_code == 410


def test_answers_sent_after_completion_in_another_window_are_refused_and_the_page_says_so(client, make):
    token, a = make.open_link()
    url = reverse("surveys:respond", args=[token])
    client.post(url, {"page": "1", "mood": "a1", "pain": "0", "shown": "mood pain"})
    client.post(url, make.review_send(a))
    late = client.post(url, {"page": "1", "mood": "a2", "pain": "9", "shown": "mood pain"})
    assert "Your last answers could not be saved" in late.content.decode()
    assert Response.objects.get(assignment=a).answers == {"mood": "a1", "pain": 0}
