"""Erasure on withdrawal: open alerts stay as content-free traces, acknowledged ones go with the answers."""

from __future__ import annotations

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from surveys.models import Alert, Response
from surveys.participants.withdrawal import participant_withdraw
from surveys.questionnaires.publish import questionnaire_publish
from surveys.scoring.alerts import alerts_notify


def world(make):
    study = make.study(code="wd-1")
    version = questionnaire_publish(questionnaire=make.valid_questionnaire(study=study), by=None)
    investigator = make.user(username="inv-wd")
    investigator.email = "inv@example.org"
    investigator.save()
    make.member(user=investigator, study=study, role="investigator")
    participant = make.participant(study=study, pseudonym="WD-PSEUDO")
    response = make.response(
        assignment=make.assignment(participant=participant, timepoint=make.timepoint(version=version)),
        status="completed",
        answers={"mood": "a1"},
    )
    return study, investigator, participant, response


def test_erasure_keeps_an_open_alert_as_a_trace_listed_mailed_and_acknowledgeable(client, make):
    study, investigator, participant, response = world(make)
    alert = make.alert(response=response, rule="item9")
    participant_withdraw(participant=participant, delete_data=True, now=timezone.now())
    assert not Response.objects.filter(pk=response.pk).exists()
    alert.refresh_from_db()
    assert alert.response_id is None and alert.participant_id == participant.pk
    alerts_notify(alert_ids=[alert.pk])
    assert len(mail.outbox) == 1 and "item9" not in mail.outbox[0].subject
    client.force_login(investigator)
    page = client.get(reverse("surveys:alerts", args=[study.code]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "WD-PSEUDO" in text, text[text.find("<table") : text.find("</table>")]
    assert "response erased at the patient" in text
    done = client.post(reverse("surveys:alert_acknowledge", args=[study.code, alert.pk]))
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None  # kept, acknowledged: it holds no content
    assert client.get(reverse("surveys:alerts", args=[study.code])).status_code == 200


def test_erasure_deletes_an_acknowledged_alert(make):
    study, investigator, participant, response = world(make)
    alert = make.alert(response=response, rule="item9", acknowledged_at=timezone.now(), acknowledged_by=investigator)
    participant_withdraw(participant=participant, delete_data=True, now=timezone.now())
    assert not Alert.objects.filter(pk=alert.pk).exists()
