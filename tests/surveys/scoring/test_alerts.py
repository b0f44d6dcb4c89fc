"""Alert rules: publish checks, evaluation, raising at submit, e-mail once, staff page, safety message."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation

from config.celery import app as celery_app
from surveys.answering.links import assignment_link_token
from surveys.answering.submit import response_save_page, response_submit
from surveys.models import Alert, Response, StudyMembership
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import PublishError, questionnaire_publish
from surveys.scoring.alerts import (
    alert_acknowledge,
    alert_problems,
    alert_recipients,
    alerts_fired,
    alerts_notify,
    alerts_raise,
    alerts_unnotified,
    response_safety_message,
    safety_message_html,
)
from surveys.tasks import alerts_notify_task, alerts_sweep
from tests import factories
from tests.conftest import need_service
from tests.factories import review_send

SCORED = [
    ("a0", "Jamais", "Not at all", 0),
    ("a1", "Plusieurs jours", "Several days", 1),
    ("a2", "Plus de la moitié", "More than half", 2),
    ("a3", "Presque tous les jours", "Nearly every day", 3),
]
SAFETY_FR = "Si vous pensez à vous faire du mal, appelez le 3114 (24h/24)."
SAFETY_EN = "If you think of harming yourself, call Samaritans on 116 123."
SCORE_RULE = {
    "name": "total",
    "label": {"fr": "Total", "en": "Total"},
    "items": ["q1", "q9"],
    "method": "sum",
    "bands": [
        {"code": "low", "min": 0, "max": 2, "label": {"fr": "Bas", "en": "Low"}},
        {"code": "high", "min": 3, "max": 6, "label": {"fr": "Haut", "en": "High"}},
    ],
}
ITEM9 = {
    "code": "item9",
    "label": {"fr": "Idées noires (item 9)", "en": "Dark thoughts (item 9)"},
    "when": {"answer": "q9", "operator": ">", "value": 0},
    "safety_message": True,
}
SEVERE = {
    "code": "severe",
    "label": {"fr": "Score sévère", "en": "Severe score"},
    "when": {"score": "total", "operator": ">=", "value": 5},
    "safety_message": False,
}
RULES = {"scores": [SCORE_RULE], "alerts": [ITEM9, SEVERE]}


def build(make, *, study=None, rules=None, safety_fr=SAFETY_FR, safety_en=SAFETY_EN):
    """A draft with a question of every kind an alert can test."""
    q = make.questionnaire(
        study=study, safety_message_fr=safety_fr, safety_message_en=safety_en, rules=RULES if rules is None else rules
    )
    s = make.section(questionnaire=q, link_id="p1", order=1)
    make.item(questionnaire=q, link_id="intro", type="display", section=s)
    make.item(questionnaire=q, link_id="q1", section=s, options=SCORED, required=True)
    make.item(questionnaire=q, link_id="q9", section=s, options=SCORED, required=True)
    make.item(
        questionnaire=q,
        link_id="help",
        type="multiple",
        section=s,
        options=[("fam", "Famille", "Family", None), ("gp", "Médecin", "Doctor", None)],
    )
    make.item(
        questionnaire=q, link_id="tick", type="multiple", section=s, options=[("x", "X", "X", 1), ("y", "Y", "Y", 2)]
    )
    make.item(questionnaire=q, link_id="smoker", type="yes_no", section=s)
    make.item(questionnaire=q, link_id="pain", type="nrs", section=s, min_value=0, max_value=10)
    make.item(questionnaire=q, link_id="visit", type="date", section=s)
    make.item(questionnaire=q, link_id="note", type="short_text", section=s, max_length=80)
    return q


def problems_of(q, languages=("fr", "en")) -> list[str]:
    return [str(p) for p in alert_problems(fhir.definition_from_draft(q), languages=list(languages))]


# --- publish checks ------------------------------------------------------------------------------


def test_valid_rules_have_no_problem(make):
    assert problems_of(build(make)) == []


def test_every_rule_problem_names_the_rule_and_what_it_tests(make):
    bad = [
        {"code": "ghost", "label": {"fr": "a", "en": "a"}, "when": {"answer": "nope", "operator": ">", "value": 0}},
        {"code": "noscore", "label": {"fr": "a", "en": "a"}, "when": {"score": "nope", "operator": ">=", "value": 3}},
        {"code": "textgt", "label": {"fr": "a", "en": "a"}, "when": {"answer": "note", "operator": ">", "value": "b"}},
        {"code": "badopt", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q9", "operator": "=", "value": "a7"}},
        {"code": "codegt", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q9", "operator": ">", "value": "a1"}},
        {"code": "unscored", "label": {"fr": "a", "en": "a"}, "when": {"answer": "help", "operator": ">", "value": 0}},
        {"code": "yesno", "label": {"fr": "a", "en": "a"}, "when": {"answer": "smoker", "operator": ">", "value": 0}},
        {"code": "numtext", "label": {"fr": "a", "en": "a"}, "when": {"answer": "pain", "operator": ">", "value": "x"}},
        {
            "code": "baddate",
            "label": {"fr": "a", "en": "a"},
            "when": {"answer": "visit", "operator": "<", "value": "1/2"},
        },
        {"code": "display", "label": {"fr": "a", "en": "a"}, "when": {"answer": "intro", "operator": "exists"}},
        {
            "code": "noband",
            "label": {"fr": "a", "en": "a"},
            "when": {"score": "total", "operator": "=", "value": "mid"},
        },
        {"code": "ghost", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q1", "operator": "exists"}},
        {"code": "nolabel", "label": {"fr": "seulement"}, "when": {"answer": "q1", "operator": "exists"}},
        {"code": "op", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q1", "operator": "~", "value": 1}},
        {"code": "novalue", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q1", "operator": ">"}},
        {
            "code": "both",
            "label": {"fr": "a", "en": "a"},
            "when": {"answer": "q1", "score": "total", "operator": "exists"},
        },
        {"code": "empty", "label": {"fr": "a", "en": "a"}, "when": {"any": []}},
        {
            "code": "nested",
            "label": {"fr": "a", "en": "a"},
            "when": {
                "all": [{"answer": "q1", "operator": "exists"}, {"answer": "gone", "operator": "=", "value": "a1"}]
            },
        },
        {
            "code": "flag",
            "label": {"fr": "a", "en": "a"},
            "when": {"answer": "q1", "operator": "exists"},
            "safety_message": "yes",
        },
        {"code": "x" * 41, "label": {"fr": "a", "en": "a"}, "when": {"answer": "q1", "operator": "exists"}},
        {"label": {"fr": "a", "en": "a"}},
    ]
    found = problems_of(build(make, rules={"scores": [SCORE_RULE], "alerts": bad}))
    expected = [
        "alert ghost: tests item nope, which does not exist",
        "alert noscore: tests score nope, which does not exist",
        "alert textgt: item note is a text: operator > cannot compare it (use =, != or exists)",
        "alert badopt: item q9 does not offer option a7",
        "alert codegt: item q9: an option code is compared with = or != only, not >",
        "alert unscored: item help is compared with the number 0, but its options have no score",
        "alert yesno: item smoker is a yes/no question: test it with = or != and true or false",
        "alert numtext: item pain is a number, but is compared with x",
        "alert baddate: item visit is a date: compare it with a date written YYYY-MM-DD, not 1/2",
        "alert display: tests item intro, which is not a question",
        "alert noband: score total has no band mid",
        "alert ghost: code ghost is used by more than one alert (codes must be unique)",
        "alert nolabel: label is missing in English",
        "alert op: operator ~ is unknown",
        "alert novalue: operator > needs a value",
        'alert both: a test names either an "answer" (item code) or a "score" (score name), not both or neither',
        'alert empty: "any" needs a non-empty list of tests',
        "alert nested: tests item gone, which does not exist",
        'alert flag: "safety_message" must be true or false',
        f"alert {'x' * 41}: needs a code of 1 to 40 letters, digits or _",
        "alert #21: needs a code of 1 to 40 letters, digits or _",
        'alert #21: needs "when": the test that fires it',
    ]
    for message in expected:
        assert any(f.startswith(message) for f in found), f"missing {message!r} in {found}"


def test_safety_flag_needs_a_safety_message_in_every_study_language(make):
    assert problems_of(build(make, safety_en="")) == [
        "alert item9: shows the safety message, but the questionnaire has none in English"
    ]
    assert problems_of(build(make, safety_fr="", safety_en="")) == [
        "alert item9: shows the safety message, but the questionnaire has none in French",
        "alert item9: shows the safety message, but the questionnaire has none in English",
    ]
    # A study in French only asks for French only.
    fr_only = make.study(languages=["fr"])
    assert problems_of(build(make, study=fr_only, safety_en=""), languages=["fr"]) == []


def test_publish_refuses_bad_alert_rules_and_names_them(make):
    q = build(
        make,
        rules={
            "alerts": [
                {"code": "a", "label": {"fr": "a", "en": "a"}, "when": {"answer": "q9", "operator": "=", "value": "zz"}}
            ]
        },
    )
    with pytest.raises(PublishError) as error:
        questionnaire_publish(questionnaire=q, by=None)
    assert [str(p) for p in error.value.problems] == ["alert a: item q9 does not offer option zz"]
    assert not q.versions.exists()


# --- evaluation ------------------------------------------------------------------------------------


def fired(make, when, answers, scores=None, **rule):
    q = build(
        make,
        rules={
            "scores": [SCORE_RULE],
            "alerts": [{"code": "r", "label": {"fr": "r", "en": "r"}, "when": when, **rule}],
        },
    )
    return alerts_fired(fhir.definition_from_draft(q), answers, scores or {}) == ["r"]


def test_answer_equal_to_an_option_code(make):
    when = {"answer": "q9", "operator": "=", "value": "a2"}
    assert fired(make, when, {"q9": "a2"})
    assert not fired(make, when, {"q9": "a3"})
    assert fired(make, {"answer": "q9", "operator": "!=", "value": "a0"}, {"q9": "a1"})


def test_answer_score_compared_with_a_number(make):
    when = {"answer": "q9", "operator": ">", "value": 0}
    assert fired(make, when, {"q9": "a1"})
    assert not fired(make, when, {"q9": "a0"})
    assert fired(make, {"answer": "q9", "operator": "<=", "value": 1}, {"q9": "a1"})
    assert fired(make, {"answer": "q9", "operator": "=", "value": 3}, {"q9": "a3"})


def test_multiple_choice_code_is_among_the_ticked_and_number_sums_their_scores(make):
    assert fired(make, {"answer": "help", "operator": "=", "value": "gp"}, {"help": ["fam", "gp"]})
    assert not fired(make, {"answer": "help", "operator": "=", "value": "gp"}, {"help": ["fam"]})
    assert fired(make, {"answer": "help", "operator": "!=", "value": "gp"}, {"help": ["fam"]})
    assert fired(make, {"answer": "tick", "operator": ">=", "value": 3}, {"tick": ["x", "y"]})
    assert not fired(make, {"answer": "tick", "operator": ">=", "value": 3}, {"tick": ["y"]})


def test_number_yes_no_date_and_text_items(make):
    assert fired(make, {"answer": "pain", "operator": ">=", "value": 8}, {"pain": 8})
    assert not fired(make, {"answer": "pain", "operator": ">=", "value": 8}, {"pain": 7})
    assert fired(make, {"answer": "smoker", "operator": "=", "value": True}, {"smoker": True})
    assert not fired(make, {"answer": "smoker", "operator": "=", "value": True}, {"smoker": False})
    assert fired(make, {"answer": "visit", "operator": "<", "value": "2026-01-01"}, {"visit": "2025-12-31"})
    assert not fired(make, {"answer": "visit", "operator": "<", "value": "2026-01-01"}, {"visit": "2026-01-01"})
    assert fired(make, {"answer": "note", "operator": "=", "value": "help"}, {"note": "help"})


def test_score_threshold_and_band(make):
    when = {"score": "total", "operator": ">=", "value": 5}
    assert fired(make, when, {}, {"total": {"value": 5, "band": "high"}})
    assert not fired(make, when, {}, {"total": {"value": 4, "band": "high"}})
    assert fired(
        make, {"score": "total", "operator": "=", "value": "high"}, {}, {"total": {"value": 4, "band": "high"}}
    )
    assert not fired(
        make, {"score": "total", "operator": "=", "value": "high"}, {}, {"total": {"value": 1, "band": "low"}}
    )


def test_exists_fires_on_answered_or_unanswered(make):
    assert fired(make, {"answer": "note", "operator": "exists"}, {"note": "x"})
    assert not fired(make, {"answer": "note", "operator": "exists"}, {})
    assert fired(make, {"answer": "note", "operator": "exists", "value": False}, {})
    assert fired(make, {"score": "total", "operator": "exists"}, {}, {"total": {"value": 0}})
    assert not fired(
        make, {"score": "total", "operator": "exists"}, {}, {"total": {"value": None, "reason": "too_few_answers"}}
    )


def test_any_and_all(make):
    tests = [{"answer": "q9", "operator": ">", "value": 0}, {"answer": "pain", "operator": ">=", "value": 8}]
    assert fired(make, {"any": tests}, {"q9": "a0", "pain": 9})
    assert not fired(make, {"all": tests}, {"q9": "a0", "pain": 9})
    assert fired(make, {"all": tests}, {"q9": "a1", "pain": 9})
    assert fired(make, {"all": [{"any": tests}, {"answer": "note", "operator": "exists"}]}, {"pain": 9, "note": "n"})


def test_missing_answers_and_absent_scores_fire_no_comparison_but_not_equal(make):
    assert not fired(make, {"answer": "q9", "operator": ">", "value": 0}, {})
    assert not fired(make, {"answer": "q9", "operator": "<", "value": 1}, {})
    assert not fired(make, {"answer": "q9", "operator": "=", "value": "a0"}, {})
    assert not fired(make, {"answer": "pain", "operator": "<", "value": 3}, {"pain": None})
    # != means "no answer equals it", as in display conditions (FHIR R4): true when unanswered.
    assert fired(make, {"answer": "q9", "operator": "!=", "value": "a0"}, {})
    assert fired(make, {"answer": "help", "operator": "!=", "value": "gp"}, {"help": []})
    assert fired(make, {"score": "total", "operator": "!=", "value": 3}, {}, {})
    # To need an answer, say so.
    answered_and_not_a0 = {
        "all": [{"answer": "q9", "operator": "exists"}, {"answer": "q9", "operator": "!=", "value": "a0"}]
    }
    assert not fired(make, answered_and_not_a0, {})
    assert fired(make, answered_and_not_a0, {"q9": "a1"})
    # An option without a score stands for no number: it never counts as 0.
    assert not fired(make, {"answer": "help", "operator": "<", "value": 1}, {"help": ["fam"]})
    assert not fired(make, {"score": "total", "operator": "<", "value": 3}, {}, {})
    assert not fired(
        make,
        {"score": "total", "operator": "<", "value": 3},
        {},
        {"total": {"value": None, "reason": "too_few_answers"}},
    )


def test_malformed_rules_fire_nothing_and_never_raise(make):
    q = build(make)
    definition = fhir.definition_from_draft(q)
    for ext in definition["extension"]:
        if ext["url"] == fhir.EXT_RULES:
            ext["valueString"] = (
                '{"alerts": [{"code": "x", "when": {"answer": "q9", "operator": ">", "value": "a"}},'
                ' {"code": "y", "when": 3}, 7, {"when": {"answer": "q9", "operator": "exists"}}]}'
            )
    assert alerts_fired(definition, {"q9": "a3"}, {}) == []


# --- raising at submit -------------------------------------------------------------------------------


@pytest.fixture
def eager_tasks():
    """Tasks enqueued after commit run at once, in this process (mail.outbox)."""
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


def setup_study(make, *, site_for_participant=True):
    study = make.study(title="Humeur en soins primaires")
    site = make.site(study=study, code="nord")
    other_site = make.site(study=study, code="sud")
    version = questionnaire_publish(questionnaire=build(make, study=study), by=None)
    everyone = make.user(username="inv_all")
    make.member(user=everyone, study=study, role="investigator")
    limited = make.user(username="inv_nord")
    factories.member(user=limited, study=study, role="investigator", site=site)
    elsewhere = make.user(username="inv_sud")
    factories.member(user=elsewhere, study=study, role="investigator", site=other_site)
    data_manager = make.user(username="dm")
    make.member(user=data_manager, study=study, role="data_manager")
    participant = make.participant(study=study, site=site if site_for_participant else None, language="en")
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    return {
        "study": study,
        "version": version,
        "site": site,
        "other_site": other_site,
        "participant": participant,
        "assignment": assignment,
        "everyone": everyone,
        "limited": limited,
        "elsewhere": elsewhere,
        "data_manager": data_manager,
    }


def answer(assignment, **answers):
    response_save_page(assignment=assignment, answers={"q1": "a1", "q9": "a0", **answers}, page_index=0, advance=True)


def submit(assignment):
    return response_submit(assignment=assignment)


def test_submit_raises_each_alert_once_even_if_submitted_twice(make, django_capture_on_commit_callbacks):
    s = setup_study(make)
    answer(s["assignment"], q9="a2", note="Mon voisin Jean")
    with django_capture_on_commit_callbacks() as first:
        response = submit(s["assignment"])
    assert list(Alert.objects.values_list("rule", "study_id", "response_id")) == [("item9", s["study"].pk, response.pk)]
    with django_capture_on_commit_callbacks() as second:
        submit(s["assignment"])
    assert Alert.objects.count() == 1
    # The e-mail task is enqueued once, by the submit that raised the alert.
    assert len(second) < len(first)
    assert alerts_raise(response=Response.objects.get(pk=response.pk)) == []
    assert Alert.objects.count() == 1


def test_scores_stored_at_submit_can_fire_an_alert(make):
    s = setup_study(make)
    answer(s["assignment"])
    response = submit(s["assignment"])
    Alert.objects.all().delete()
    # Whatever surveys.scoring.compute computed, an alert reads the stored scores.
    Response.objects.filter(pk=response.pk).update(scores={"total": {"value": 6, "band": "high"}})
    created = alerts_raise(response=Response.objects.get(pk=response.pk))
    assert [a.rule for a in created] == ["severe"]


def test_no_alert_when_no_rule_fires(make):
    s = setup_study(make)
    answer(s["assignment"])
    submit(s["assignment"])
    assert not Alert.objects.exists()


# --- e-mail --------------------------------------------------------------------------------------------


def test_submit_emails_the_investigators_after_commit(make, eager_tasks, django_capture_on_commit_callbacks):
    s = setup_study(make)
    answer(s["assignment"], q9="a3", note="Mon voisin Jean", pain=9)
    with django_capture_on_commit_callbacks(execute=True):
        submit(s["assignment"])
    assert len(mail.outbox) == 2
    email = mail.outbox[0]
    pseudonym = s["participant"].pseudonym
    assert sorted(m.to[0] for m in mail.outbox) == ["inv_all@example.org", "inv_nord@example.org"]
    assert s["study"].code in email.subject and "item9" not in email.subject and pseudonym not in email.subject
    html = email.alternatives[0][0]
    for body in (email.body, html):
        assert s["study"].code in body and "Humeur en soins primaires" in body
        assert pseudonym in body
        assert "Dark thoughts (item 9)" in body and "Idées noires (item 9)" in body  # French and English
        assert "http://testserver" not in body
        assert reverse("surveys:alerts", args=[s["study"].code]) in body
        # Never the answers: no option code, option label, free text or number of the patient.
        for leaked in ("a3", "Nearly every day", "Presque tous les jours", "Mon voisin", "Jean"):
            assert leaked not in body, leaked
    assert re.search(r"lang=\"fr\".*lang=\"en\"", html, re.S)
    assert Alert.objects.get().notified_at is not None


def test_email_holds_no_score(make):
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    response = submit(s["assignment"])
    Alert.objects.all().delete()
    Response.objects.filter(pk=response.pk).update(scores={"total": {"value": 987654, "raw": 987654, "band": "high"}})
    alerts = alerts_raise(response=Response.objects.get(pk=response.pk))
    alerts_notify(alert_ids=[a.pk for a in alerts])
    assert len(mail.outbox) == 2  # one message per investigator (two reach this site)
    body = mail.outbox[0].body + mail.outbox[0].alternatives[0][0]
    assert "Severe score" in body and "Score sévère" in body
    assert "987654" not in body and "Haut" not in body and ">=" not in body


def test_email_is_sent_once_when_the_task_runs_twice(make):
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])
    ids = list(Alert.objects.values_list("pk", flat=True))
    alerts_notify_task.apply(args=[ids])
    alerts_notify_task.apply(args=[ids])
    alerts_sweep.apply()
    assert len(mail.outbox) == 2  # one message per investigator (two reach this site)


class FailingBackend(BaseEmailBackend):
    """An e-mail provider that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP server down")


def test_a_failed_send_releases_the_claim_and_the_sweep_sends_later(make, settings):
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])
    alert = Alert.objects.get()
    settings.EMAIL_BACKEND = "tests.surveys.scoring.test_alerts.FailingBackend"
    report = alerts_notify(alert_ids=[alert.pk])
    assert report.failed == [alert.pk]
    alert.refresh_from_db()
    assert alert.notified_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = timezone.now() + timedelta(minutes=2)
    assert alerts_unnotified(now=later) == [alert.pk]
    alerts_notify(alert_ids=alerts_unnotified(now=later), now=later)
    assert len(mail.outbox) == 2  # one message per investigator (two reach this site)
    alert.refresh_from_db()
    assert alert.notified_at == later


def test_sweep_sends_alerts_whose_task_was_lost(make):
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])  # no on_commit here: the task was never enqueued, as with Redis down
    alert = Alert.objects.get()
    assert alerts_unnotified(now=timezone.now()) == []  # too young: its own task may be on its way
    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    result = alerts_sweep.apply().get()
    assert result == {"sent": 1, "failed": 0, "skipped": 0}
    assert len(mail.outbox) == 2  # one message per investigator (two reach this site)
    assert alerts_sweep.apply().get() == {"sent": 0, "failed": 0, "skipped": 0}


def test_recipients_follow_role_site_and_activity(make):
    s = setup_study(make)
    other = make.study()
    stranger = make.user(username="inv_other")
    make.member(user=stranger, study=other, role="investigator")
    inactive = make.user(username="inv_gone")
    make.member(user=inactive, study=s["study"], role="investigator")
    inactive.is_active = False
    inactive.save()
    designer = make.user(username="designer1")
    make.member(user=designer, study=s["study"], role="designer")
    study_id = s["study"].pk
    assert alert_recipients(study_id=study_id, site_id=s["site"].pk) == ["inv_all@example.org", "inv_nord@example.org"]
    assert alert_recipients(study_id=study_id, site_id=s["other_site"].pk) == [
        "inv_all@example.org",
        "inv_sud@example.org",
    ]
    assert alert_recipients(study_id=study_id, site_id=None) == ["inv_all@example.org"]


def test_nobody_to_notify_marks_the_alert_and_sends_nothing(make):
    s = setup_study(make)
    StudyMembership.objects.filter(study=s["study"], role="investigator").delete()
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])
    report = alerts_notify(alert_ids=Alert.objects.values_list("pk", flat=True))
    assert report.nobody and not report.sent and not mail.outbox
    assert alerts_unnotified(now=timezone.now() + timedelta(hours=1)) == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_one_email(make):
    need_service(
        "PostgreSQL",
        connection.vendor == "postgresql",
        "threads need their own connections to a real database; set DATABASE_URL=postgres://...",
    )
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])
    ids = list(Alert.objects.values_list("pk", flat=True))
    barrier = threading.Barrier(4)
    reports = []

    def worker():
        try:
            barrier.wait()
            reports.append(alerts_notify(alert_ids=ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.sent) for r in reports) == 1
    # One e-mail per investigator who may see it (one recipient each), none twice.
    recipients = [tuple(message.to) for message in mail.outbox]
    assert recipients and all(len(to) == 1 for to in recipients)
    assert len(set(recipients)) == len(recipients)


# --- staff page ---------------------------------------------------------------------------------------


@pytest.fixture
def alerted(make):
    """Two alerted responses: one of site nord, one of site sud."""
    s = setup_study(make)
    answer(s["assignment"], q9="a3")
    submit(s["assignment"])
    sud = make.participant(study=s["study"], site=s["other_site"], pseudonym="P-SUD-0001")
    a2 = make.assignment(participant=sud, timepoint=s["assignment"].timepoint)
    answer(a2, q9="a1")
    submit(a2)
    return s


def page(client, user, study):
    client.force_login(user)
    return client.get(reverse("surveys:alerts", args=[study.code]))


def test_investigator_sees_open_alerts_with_labels_and_no_answers(client, alerted):
    s = alerted
    response = page(client, s["everyone"], s["study"])
    assert response.status_code == 200
    html = response.content.decode()
    assert s["participant"].pseudonym in html and "P-SUD-0001" in html
    assert "Dark thoughts (item 9)" in html and "Acknowledge" in html
    assert "Nearly every day" not in html
    assert '<th scope="col">' in html and "<caption>" in html
    assert reverse("admin:surveys_response_change", args=[Alert.objects.first().response_id]) in html


def test_site_limited_investigator_sees_only_their_site(client, alerted):
    s = alerted
    html = page(client, s["limited"], s["study"]).content.decode()
    assert s["participant"].pseudonym in html and "P-SUD-0001" not in html
    sud_alert = Alert.objects.get(response__assignment__participant__pseudonym="P-SUD-0001")
    url = reverse("surveys:alert_acknowledge", args=[s["study"].code, sud_alert.pk])
    assert client.post(url).status_code == 404
    assert Alert.objects.get(pk=sud_alert.pk).acknowledged_at is None


def test_other_study_and_other_roles(client, make, alerted):
    s = alerted
    stranger = make.user()
    make.member(user=stranger, study=make.study(), role="investigator")
    assert page(client, stranger, s["study"]).status_code == 404
    designer = make.user()
    make.member(user=designer, study=s["study"], role="designer")
    # A member of the study knows it exists: their role, not the study, is what is missing.
    assert page(client, designer, s["study"]).status_code == 403
    # Data managers read the alerts, but acknowledging is the investigators' act.
    response = page(client, s["data_manager"], s["study"])
    assert response.status_code == 200 and "P-SUD-0001" in response.content.decode()
    assert "Acknowledge<" not in response.content.decode()
    alert = Alert.objects.first()
    assert client.post(reverse("surveys:alert_acknowledge", args=[s["study"].code, alert.pk])).status_code == 403
    client.logout()
    assert client.get(reverse("surveys:alerts", args=[s["study"].code])).status_code == 302


def test_acknowledge_records_who_and_when_once(client, alerted):
    s = alerted
    alert = Alert.objects.get(response__assignment__participant=s["participant"])
    client.force_login(s["limited"])
    url = reverse("surveys:alert_acknowledge", args=[s["study"].code, alert.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert response.status_code == 200
    alert.refresh_from_db()
    assert alert.acknowledged_by == s["limited"] and alert.acknowledged_at is not None
    first_at = alert.acknowledged_at
    html = response.content.decode()
    assert "acknowledged" in html and "inv_nord" in html
    client.force_login(s["everyone"])
    client.post(url)
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at) == (s["limited"], first_at)
    assert alert_acknowledge(alert=alert, by=s["everyone"]) is False


def test_alerts_page_in_french(client, alerted):
    s = alerted
    client.force_login(s["everyone"])
    with translation.override("fr"):
        response = client.get(reverse("surveys:alerts", args=[s["study"].code]), HTTP_ACCEPT_LANGUAGE="fr")
    html = response.content.decode()
    assert "Idées noires (item 9)" in html


def test_admin_lists_alerts_by_scope_and_study_shows_open_count(client, alerted, make):
    s = alerted
    client.force_login(s["limited"])
    listing = client.get(reverse("admin:surveys_alert_changelist")).content.decode()
    assert s["participant"].pseudonym in listing and "P-SUD-0001" not in listing
    study_page = client.get(reverse("admin:surveys_study_change", args=[s["study"].pk])).content.decode()
    assert reverse("surveys:alerts", args=[s["study"].code]) in study_page
    assert "1 open alert" in study_page
    client.force_login(s["everyone"])
    studies = client.get(reverse("admin:surveys_study_changelist")).content.decode()
    assert "2 open alerts" in studies
    alert = Alert.objects.first()
    change = client.get(reverse("admin:surveys_alert_change", args=[alert.pk]))
    assert change.status_code == 200 and 'name="rule"' not in change.content.decode()
    stranger = make.user()
    make.member(user=stranger, study=make.study(), role="investigator")
    client.force_login(stranger)
    assert client.get(reverse("admin:surveys_alert_change", args=[alert.pk])).status_code in (302, 404)


# --- the patient's closing page ----------------------------------------------------------------------


def patient_link(make, *, language="en", **study_kw):
    study = make.study(**study_kw)
    version = questionnaire_publish(questionnaire=build(make, study=study), by=None)
    participant = make.participant(study=study, language=language)
    assignment = make.assignment(participant=participant, timepoint=make.timepoint(version=version))
    return f"/s/{assignment_link_token(assignment=assignment)}", assignment


def closing_page(client, url, assignment, **answers):
    answer(assignment, **answers)
    response = client.post(url, review_send(assignment), follow=True)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("language", "expected", "tel"), [("en", "Samaritans on", "tel:116123"), ("fr", "appelez le", "tel:3114")]
)
def test_closing_page_shows_the_safety_message_when_a_flagged_rule_fired(client, make, language, expected, tel):
    url, assignment = patient_link(make, language=language)
    html = closing_page(client, url, assignment, q9="a2")
    assert expected in html and f'href="{tel}"' in html
    assert 'aria-labelledby="safety-title"' in html
    # A later visit of the same link shows it again.
    again = client.get(url).content.decode()
    assert expected in again


def test_closing_page_has_no_safety_message_without_a_flagged_alert(client, make):
    url, assignment = patient_link(make)
    html = closing_page(client, url, assignment, q9="a0")
    assert "Thank you" in html and "Samaritans" not in html and "safety-title" not in html
    # An alert that does not ask for the message does not show it either.
    response = Response.objects.get(assignment=assignment)
    factories.alert(response=response, rule="severe")
    assert "Samaritans" not in client.get(url).content.decode()
    assert response_safety_message(response=response, language="en") == ""


def test_safety_message_needs_the_year_of_birth_check_when_the_study_asks_it(client, make):
    url, assignment = patient_link(make, link_check="birth_year")
    response = make.response(assignment=assignment, status="completed", answers={"q1": "a1", "q9": "a3"})
    assignment.status = "completed"
    assignment.save()
    factories.alert(response=response, rule="item9")
    assert response_safety_message(response=response, language="en").startswith("If you think")
    # Another person holding the phone learns nothing from the link alone.
    html = client.get(url).content.decode()
    assert "Thank you" in html and "Samaritans" not in html


def test_safety_message_html_escapes_and_links_phone_numbers():
    html = safety_message_html(
        "Appelez le 3114 (24h/24).\n<b>SOS</b> : 09 72 39 40 50, le 15/03 à 15h.\n\nUrgence : 112"
    )
    assert html == (
        '<p>Appelez le <a href="tel:3114">3114</a> (24h/24).<br>&lt;b&gt;SOS&lt;/b&gt; : '
        '<a href="tel:0972394050">09 72 39 40 50</a>, le 15/03 à 15h.</p>'
        '<p>Urgence : <a href="tel:112">112</a></p>'
    )


def test_beat_sweeps_alerts_every_minute(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["alerts-sweep"]
    assert entry["task"] == "surveys.tasks.alerts_sweep" and entry["schedule"] == 60.0
    assert entry["task"] in celery_app.tasks
