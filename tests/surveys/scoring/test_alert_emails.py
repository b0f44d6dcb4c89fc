"""Alert e-mails: one message per investigator, and nothing clinical in the subject line."""

from __future__ import annotations

import json

from django.core import mail

from surveys.questionnaires.publish import questionnaire_publish
from surveys.scoring.alerts import alert_rules, alerts_notify
from tests.paths import ROOT

INSTRUMENTS = ROOT / "surveys" / "interop" / "instruments"


def shipped_alert_rules() -> list[dict]:
    found = []
    for path in sorted(INSTRUMENTS.glob("*.json")):
        data = json.loads(path.read_text())
        definition = data.get("definition", data) if isinstance(data, dict) else {}
        found += alert_rules(definition) if isinstance(definition, dict) else []
        found += (
            [r for r in (data.get("rules", {}) or {}).get("alerts", [])] if isinstance(data.get("rules"), dict) else []
        )
    return found


def words_of(rule: dict) -> set[str]:
    label = rule.get("label") or {}
    texts = list(label.values()) if isinstance(label, dict) else [str(label)]
    return {str(rule.get("code", ""))} | {t for t in texts if t}


def test_three_investigators_get_three_messages_with_one_recipient_each_and_a_neutral_subject(make):
    study = make.study(code="mail-1")
    q = make.valid_questionnaire(study=study)
    version = questionnaire_publish(questionnaire=q, by=None)
    for n in range(3):
        make.member(user=make.user(username=f"inv{n}"), study=study, role="investigator")
    for n, user in enumerate(study.memberships.select_related("user")):
        user.user.email = f"inv{n}@example.org"
        user.user.save()
    participant = make.participant(study=study)
    response = make.response(
        assignment=make.assignment(participant=participant, timepoint=make.timepoint(version=version)),
        status="completed",
    )
    rules = shipped_alert_rules()
    assert rules, "the shipped instruments hold alert rules"
    codes = [r["code"] for r in rules][:1] or ["suicide"]
    alerts = [make.alert(response=response, rule=code[:40]) for code in codes]
    alerts_notify(alert_ids=[a.pk for a in alerts])
    assert len(mail.outbox) == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["inv0@example.org", "inv1@example.org", "inv2@example.org"]
    for message in mail.outbox:
        assert len(message.to) == 1 and not message.cc and not message.bcc
        assert "mail-1" in message.subject
        for rule in rules + [{"code": "suicide", "label": {"en": "suicide"}}]:
            for word in words_of(rule):
                assert word.lower() not in message.subject.lower(), (word, message.subject)
