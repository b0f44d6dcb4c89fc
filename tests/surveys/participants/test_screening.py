"""Pre-screening: eligibility rules, the anonymous questionnaire, then consent and self-enrolment."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from patients.consent.records import consent_record_verify
from patients.messaging.sms import locmem
from patients.models import ConsentRecord, Enrollment, Patient
from surveys.models import ConsentNotice, EligibilityRule, Participant, Study
from surveys.participants import screening
from surveys.questionnaires import conditions
from surveys.questionnaires.publish import questionnaire_publish


def forget_screening_cache() -> None:
    """Drop the link's rate-limit counters and pending codes, and only them: under REDIS_URL the
    cache shares its server with the broker and with other test runs."""
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is None:
        cache.clear()  # this process's own memory cache
        return
    client = client_of(write=True)
    for key in client.scan_iter(match="*screening:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def fresh_limits_and_outboxes():
    """Rate-limit counters and pending codes live in the cache; sent codes in the outboxes."""
    forget_screening_cache()
    locmem.outbox.clear()
    yield
    forget_screening_cache()
    locmem.outbox.clear()


def code_sent(to: str) -> str:
    """The one-time code of the last SMS or e-mail to `to`."""
    bodies = [sms.body for sms in locmem.outbox if sms.to == to] + [m.body for m in mail.outbox if to in m.to]
    assert bodies, f"no code sent to {to}"
    return re.search(r"\b(\d{6})\b", bodies[-1]).group(1)


def confirm(client, token, to: str):
    return client.post(reverse("patients:screening_confirm", args=[token]), {"code": code_sent(to)})


def rule(study, kind, question, operator, answer=""):
    return EligibilityRule(study=study, kind=kind, question=question, operator=operator, answer=answer)


def question(link_id: str, fhir_type: str, **extra) -> dict:
    return {"linkId": link_id, "type": fhir_type, "text": link_id, **extra}


# One eligibility questionnaire with a question of each type the rules test.
SCREENING = {
    "item": [
        question("choice", "choice", answerOption=[{"valueCoding": {"code": "a1"}}, {"valueCoding": {"code": "a2"}}]),
        question(
            "many",
            "choice",
            repeats=True,
            answerOption=[{"valueCoding": {"code": "a1"}}, {"valueCoding": {"code": "a2"}}],
        ),
        question("age", "integer"),
        question("yes", "boolean"),
        question("day", "date"),
        question("note", "string"),
        question("diabetes", "boolean"),
        question("pregnant", "boolean"),
    ]
}


@pytest.mark.parametrize(
    ("question_", "operator", "expected", "answer", "holds"),
    [
        ("choice", "=", "a1", "a1", True),
        ("choice", "=", "a1", "a2", False),
        ("many", "=", "a1", ["a2", "a1"], True),
        ("choice", "!=", "a1", "a2", True),
        ("choice", "!=", "a1", "a1", False),
        ("age", "<", "18", 17, True),
        ("age", "<", "18", 18, False),
        ("age", ">", "18", 19, True),
        ("age", ">", "18", 18, False),
        ("age", "<=", "18", 18, True),
        ("age", "<=", "18", 19, False),
        ("age", ">=", "18", 18, True),
        ("age", ">=", "18", 17, False),
        ("age", "=", "18", 18, True),
        ("yes", "=", "true", True, True),
        ("yes", "=", "true", False, False),
        ("yes", "=", "oui", True, True),
        ("day", "<", "2000-01-01", "1999-12-31", True),
        ("day", ">", "2000-01-01", "1999-12-31", False),
        # The rule's text is read as the question's type: codes and texts exactly, not as numbers or words.
        ("note", "=", "Abc", "abc", False),
        ("note", "=", "1.0", "1", False),
        ("choice", "=", "A1", "a1", False),
        ("note", "exists", "true", "x", True),
        ("note", "exists", "true", None, False),
        ("note", "exists", "false", None, True),
        ("note", "exists", "false", "x", False),
        # An unanswered question meets no comparison but != (FHIR R4: no answer equals the value).
        ("choice", "=", "a1", None, False),
        ("choice", "!=", "a1", None, True),
        ("age", ">", "18", None, False),
    ],
)
def test_each_operator_compares_like_display_conditions(question_, operator, expected, answer, holds):
    r = rule(None, "inclusion", question_, operator, expected)
    assert screening.rule_holds(rule=r, answers={question_: answer}, definition=SCREENING) is holds
    # The same meaning as a display condition on that question.
    definition = {
        "item": [
            *SCREENING["item"],
            question(
                "follow", "string", enableWhen=[{"question": question_, "operator": operator, "answerString": expected}]
            ),
        ]
    }
    assert ("follow" in conditions.enabled_ids(definition, {question_: answer})) is holds


def test_eligible_when_every_inclusion_holds_and_no_exclusion_does():
    rules = [
        rule(None, "inclusion", "age", ">=", "18"),
        rule(None, "inclusion", "diabetes", "=", "true"),
        rule(None, "exclusion", "pregnant", "=", "true"),
    ]
    ok = {"age": 40, "diabetes": True, "pregnant": False}

    def eligible(answers: dict) -> bool:
        return screening.eligibility_evaluate(rules=rules, answers=answers, definition=SCREENING)

    assert eligible(ok)
    assert not eligible({**ok, "age": 17})
    assert not eligible({**ok, "diabetes": False})
    assert not eligible({**ok, "pregnant": True})
    # Exclusion on an unanswered question does not apply; inclusion on one fails.
    assert eligible({"age": 40, "diabetes": True})
    assert not eligible({"diabetes": True})
    assert screening.eligibility_evaluate(rules=[], answers={}, definition=SCREENING)


# --- the public flow ---------------------------------------------------------------------------


def screening_study(make, *, legal_basis="consent", **kw):
    """An active study with a two-question eligibility questionnaire, rules, a notice, a day-0 timepoint."""
    study = make.study(status="active", legal_basis=legal_basis, **kw)
    q = make.questionnaire(study=study, code="elig")
    make.item(
        questionnaire=q,
        link_id="age",
        type="integer",
        min_value=0,
        max_value=120,
        required=True,
        text_en="Your age",
        text_fr="Votre âge",
    )
    make.item(
        questionnaire=q,
        link_id="pregnant",
        type="yes_no",
        required=True,
        text_en="Are you pregnant?",
        text_fr="Êtes-vous enceinte ?",
    )
    study.screening_version = questionnaire_publish(questionnaire=q, by=None)
    study.save()
    make.eligibility_rule(study=study, kind="inclusion", question="age", operator=">=", answer="18")
    make.eligibility_rule(study=study, kind="exclusion", question="pregnant", operator="=", answer="true")
    make.consent_notice(study=study, version="1.0", language="en", title="About the study", text="What we ask of you.")
    make.timepoint(version=make.published_version(study=study), code="t0", offset=0, window=7)
    return study, screening.screening_link_open(study=study)


def answer(client, token, *, age, pregnant):
    url = reverse("surveys:screening", args=[token])
    start = client.get(url)
    assert start.status_code == 200 and "Can I take part?" in start.content.decode()
    page = client.get(f"{url}?p=1")
    assert page.status_code == 200 and "Your age" in page.content.decode()
    sent = client.post(
        f"{url}?p=1",
        {
            "page": "1",
            "shown": "age pregnant",
            "age": str(age),
            "pregnant": "true" if pregnant else "false",
            "action": "next",
        },
    )
    assert sent.status_code == 302 and sent.url.endswith("?p=review")
    review = client.get(sent.url)
    assert "Check your answers" in review.content.decode()
    return client.post(sent.url, {"action": "submit"})


def counts():
    return (
        Patient.objects.count(),
        Participant.objects.count(),
        Enrollment.objects.count(),
        ConsentRecord.objects.count(),
    )


def test_a_patient_who_fails_sees_a_kind_page_and_nothing_is_stored(client, make):
    _study, token = screening_study(make)
    before = counts()
    done = answer(client, token, age=30, pregnant=True)
    assert done.status_code == 302 and done.url == reverse("surveys:screening_end", args=[token])
    page = client.get(done.url)
    html = page.content.decode()
    assert "looking for other profiles" in html
    assert "pregnant" not in html.lower() and "Your age" not in html  # no reason given
    assert counts() == before
    # The answers are gone from the browser too: starting again shows an empty page.
    assert screening.COOKIE not in client.cookies or not client.cookies[screening.COOKIE].value
    assert client.get(reverse("patients:screening_consent", args=[token])).status_code == 302


def test_required_answers_and_bad_input_are_shown_on_the_page(client, make):
    _study, token = screening_study(make)
    url = reverse("surveys:screening", args=[token])
    page = client.post(f"{url}?p=1", {"page": "1", "shown": "age pregnant", "age": "old", "action": "next"})
    html = page.content.decode()
    assert page.status_code == 422
    assert "Enter a whole number" in html or "Enter a number" in html
    assert "Answer this question to continue." in html


def test_a_patient_who_passes_consents_enrols_and_gets_the_first_link(client, make):
    study, token = screening_study(make)
    done = answer(client, token, age=30, pregnant=False)
    consent = reverse("patients:screening_consent", args=[token])
    assert done.status_code == 302 and done.url == consent
    assert counts() == (0, 0, 0, 0)
    page = client.get(consent)
    assert "About the study" in page.content.decode()
    notice = ConsentNotice.objects.get()
    bad = client.post(consent, {"notice": notice.pk, "typed_name": "Jeanne Martin"})
    assert bad.status_code == 422 and "Tick the box" in bad.content.decode()
    given = client.post(consent, {"notice": notice.pk, "agree": "yes", "typed_name": "Jeanne Martin"})
    enrol = reverse("patients:screening_enrol", args=[token])
    assert given.url == enrol
    assert counts() == (0, 0, 0, 0)  # nothing stored before the enrolment form is sent
    form = client.get(enrol)
    assert 'value="Jeanne Martin"' in form.content.decode()
    wrong = client.post(enrol, {"name": "Jeanne Martin", "phone": "12", "preferred_channel": "sms", "language": "en"})
    assert wrong.status_code == 422 and "12 is not a valid phone number." in wrong.content.decode()
    assert counts() == (0, 0, 0, 0)
    sent = client.post(
        enrol, {"name": "Jeanne Martin", "phone": "06 12 34 56 78", "preferred_channel": "sms", "language": "en"}
    )
    assert sent.status_code == 302 and sent.url == reverse("patients:screening_confirm", args=[token])
    assert counts() == (0, 0, 0, 0)  # nothing stored before the code sent to the phone is typed back
    code_page = client.get(sent.url).content.decode()
    assert 'autocomplete="one-time-code"' in code_page and "•••78" in code_page
    sent = confirm(client, token, "+33612345678")
    assert sent.status_code == 302 and sent.url == reverse("patients:screening_done", args=[token])
    enrollment = Enrollment.objects.get()
    assert enrollment.participant.study == study and enrollment.patient.phone == "+33612345678"
    assert enrollment.consent_method == "electronic" and enrollment.participant.consented_at is not None
    record = ConsentRecord.objects.get()
    assert record.typed_name == "Jeanne Martin" and record.recorded_by is None and consent_record_verify(record)
    welcome = client.get(sent.url).content.decode()
    assert "Start my first questionnaire" in welcome
    link = welcome.split('class="btn" href="', 1)[1].split('"', 1)[0]
    questionnaire = client.get(link)
    assert questionnaire.status_code == 200 and "Question mood" in questionnaire.content.decode()
    # Sending the form again cannot enrol twice.
    assert (
        client.post(
            enrol, {"name": "Jeanne Martin", "phone": "0612345678", "preferred_channel": "sms", "language": "en"}
        ).status_code
        == 302
    )
    assert Enrollment.objects.count() == 1


def test_a_later_first_questionnaire_means_a_message_will_come(client, make):
    study, token = screening_study(make)
    study.timepoints.update(offset=7)
    answer(client, token, age=30, pregnant=False)
    client.post(
        reverse("patients:screening_consent", args=[token]),
        {"notice": ConsentNotice.objects.get().pk, "agree": "yes", "typed_name": "J M"},
    )
    client.post(
        reverse("patients:screening_enrol", args=[token]),
        {"name": "J M", "email": "jm@example.org", "preferred_channel": "email", "language": "en"},
    )
    assert confirm(client, token, "jm@example.org").status_code == 302
    welcome = client.get(reverse("patients:screening_done", args=[token])).content.decode()
    assert "We will send you a message" in welcome
    assert Enrollment.objects.get().participant.assignments.get().token_hash is None


def test_consent_and_enrolment_pages_need_a_passed_screening(client, make):
    _study, token = screening_study(make)
    for name in ("screening_consent", "screening_enrol", "screening_confirm", "screening_done"):
        response = client.get(reverse(f"patients:{name}", args=[token]))
        assert response.status_code == 302 and response.url == reverse("surveys:screening", args=[token])


def test_unknown_closed_or_inactive_screening_links(client, make):
    study, token = screening_study(make)
    assert client.get(reverse("surveys:screening", args=["nope"])).status_code == 404
    Study.objects.filter(pk=study.pk).update(status="closed")
    assert client.get(reverse("surveys:screening", args=[token])).status_code == 404
    Study.objects.filter(pk=study.pk).update(status="active")
    screening.screening_link_close(study=Study.objects.get(pk=study.pk))
    assert client.get(reverse("surveys:screening", args=[token])).status_code == 404


def test_the_link_needs_a_questionnaire_and_a_notice(make):
    study = make.study()
    with pytest.raises(screening.ScreeningUnavailable) as caught:
        screening.screening_link_open(study=study)
    assert "choose an eligibility questionnaire first" in str(caught.value)
    assert "add an information notice first" in str(caught.value)
    assert Study.objects.get(pk=study.pk).screening_token == ""


def test_rules_are_checked_against_the_eligibility_questionnaire(make):
    study, _token = screening_study(make)
    assert screening.rule_problems(study=study, question="age", operator=">=", answer="18") == {}
    problems = screening.rule_problems(study=study, question="weight", operator="~", answer="")
    assert set(problems) == {"question", "operator"}
    assert screening.rule_problems(study=study, question="age", operator=">", answer="") == {
        "answer": "Give the answer to compare with."
    }


def test_designers_open_the_link_from_the_study_list(client, make):
    study, _token = screening_study(make)
    screening.screening_link_close(study=study)
    designer = make.user()
    make.member(user=designer, study=study, role="designer")
    client.force_login(designer)
    page = client.post(
        reverse("admin:surveys_study_changelist"),
        {"action": "screening_link_open", "_selected_action": [study.pk]},
        follow=True,
    )
    study.refresh_from_db()
    assert study.screening_token and f"/e/{study.screening_token}" in page.content.decode()


def test_notices_are_read_only_once_saved_in_the_admin(client, make):
    study, _token = screening_study(make)
    designer = make.user()
    make.member(user=designer, study=study, role="designer")
    client.force_login(designer)
    notice = ConsentNotice.objects.get()
    change = client.get(reverse("admin:surveys_consentnotice_change", args=[notice.pk]))
    assert change.status_code == 200 and 'name="text"' not in change.content.decode()
    added = client.post(
        reverse("admin:surveys_consentnotice_add"),
        {"study": study.pk, "version": "2.0", "language": "en", "title": "About the study", "text": "New text."},
    )
    assert added.status_code == 302 and ConsentNotice.objects.count() == 2
    rule_add = client.post(
        reverse("admin:surveys_eligibilityrule_add"),
        {"study": study.pk, "kind": "inclusion", "question": "nope", "operator": "=", "answer": "x"},
    )
    assert rule_add.status_code == 200 and "is not a question of the eligibility questionnaire" in (
        rule_add.content.decode()
    )


def test_the_public_form_never_confirms_that_a_number_takes_part(client, make):
    study, token = screening_study(make)
    from django.utils import timezone

    from patients.enrolment.enrol import EnrolmentData, enrollment_create

    enrollment_create(
        study=study,
        data=EnrolmentData(name="Already In", phone="06 12 34 56 78", consent_method="written"),
        by=None,
        now=timezone.now(),
    )
    answer(client, token, age=30, pregnant=False)
    client.post(
        reverse("patients:screening_consent", args=[token]),
        {"notice": ConsentNotice.objects.get().pk, "agree": "yes", "typed_name": "Someone Else"},
    )
    page = client.post(
        reverse("patients:screening_enrol", args=[token]),
        {"name": "Someone Else", "phone": "0612345678", "preferred_channel": "sms", "language": "en"},
    )
    html = page.content.decode()
    assert page.status_code == 422
    assert "We cannot register these details." in html and "Another patient" not in html
    assert Enrollment.objects.count() == 1
