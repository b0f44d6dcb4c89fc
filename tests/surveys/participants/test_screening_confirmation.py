"""The public pre-screening link cannot be scripted: rate limits, and a one-time code sent to the
phone or address before anything about the person is stored or any message is planned."""

import datetime as dt
import json
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from patients.enrolment import screening_codes
from patients.identity import crypto
from patients.messaging.sms import locmem
from patients.models import ConsentRecord, Enrollment, Message, Patient
from surveys.models import ConsentNotice, Participant
from surveys.participants import screening
from tests.fakes.twilio_server import FakeTwilio, use_fake_twilio
from tests.surveys.participants.test_screening import (  # noqa: F401
    answer,
    code_sent,
    confirm,
    fresh_limits_and_outboxes,
    screening_study,
)

PHONE = "+33612345678"


def rows() -> tuple[int, ...]:
    return (
        Patient.objects.count(),
        Participant.objects.count(),
        Enrollment.objects.count(),
        ConsentRecord.objects.count(),
        Message.objects.count(),
    )


def eligible_and_consented(client, token, name="Jeanne Martin"):
    answer(client, token, age=30, pregnant=False)
    notice = ConsentNotice.objects.get(study=screening.study_by_screening_token(token))
    given = client.post(
        reverse("patients:screening_consent", args=[token]), {"notice": notice.pk, "agree": "yes", "typed_name": name}
    )
    assert given.status_code == 302


def enrol(client, token, *, phone="06 12 34 56 78", channel="sms", email="", language="en"):
    return client.post(
        reverse("patients:screening_enrol", args=[token]),
        {"name": "Jeanne Martin", "phone": phone, "email": email, "preferred_channel": channel, "language": language},
    )


def confirm_with(client, token, code):
    return client.post(reverse("patients:screening_confirm", args=[token]), {"code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- nothing is stored before the code ----------------------------------------------------------------


def test_nothing_about_the_person_is_stored_or_planned_before_the_code(client, make):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    sent = enrol(client, token)
    assert sent.status_code == 302 and sent.url == reverse("patients:screening_confirm", args=[token])
    assert rows() == (0, 0, 0, 0, 0)
    (sms,) = locmem.outbox
    assert sms.to == PHONE and "your code is" in sms.body and "study" not in sms.body.lower()
    # The cache entry holds the details encrypted, and even decrypted not the code itself (its HMAC).
    stored = cache.get(f"screening:pending:{pending_of(client, token)}")
    assert stored and PHONE not in stored and "Jeanne" not in stored
    entry = json.loads(crypto.decrypt(stored))
    assert entry["data"]["name"] == "Jeanne Martin"
    assert code_sent(PHONE) not in {str(value) for value in entry.values()} and len(entry["digest"]) == 64


def pending_of(client, token) -> str:
    """The pending entry's id, as the patient's signed cookie carries it."""
    study = screening.study_by_screening_token(token)
    return screening.state_load(cookies={screening.COOKIE: client.cookies[screening.COOKIE].value}, study=study)[
        "pending"
    ]


def test_the_right_code_enrols_once_with_its_planned_messages(client, make):
    study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    done = confirm(client, token, PHONE)
    assert done.status_code == 302 and done.url == reverse("patients:screening_done", args=[token])
    enrollment = Enrollment.objects.get()
    assert enrollment.participant.study == study and enrollment.patient.phone == PHONE
    assert enrollment.participant.consented_at is not None and ConsentRecord.objects.count() == 1
    # Its invitation is planned (the day-0 questionnaire), and no message for anyone else.
    planned = Message.objects.filter(enrollment=enrollment, kind="invitation")
    assert planned.count() == 1 and Message.objects.exclude(enrollment=enrollment).count() == 0
    assert "Start my first questionnaire" in client.get(done.url).content.decode()


def test_the_code_goes_by_email_to_who_chose_email(client, make):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    assert enrol(client, token, phone="", channel="email", email="JM@Example.org").status_code == 302
    (message,) = mail.outbox
    assert message.to == ["jm@example.org"] and not locmem.outbox  # the address as it will be stored
    assert Patient.objects.count() == 0
    assert confirm(client, token, "jm@example.org").status_code == 302
    assert Enrollment.objects.get().patient.email == "jm@example.org"


def test_a_reused_code_enrols_nobody_a_second_time(client, make):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    code = code_sent(PHONE)
    cookie_before = dict(client.cookies.items())
    assert confirm_with(client, token, code).status_code == 302
    # The same code posted again, from the browser state as it was before (a replay, a second tab).
    replay = Client(HTTP_ACCEPT_LANGUAGE="en")
    replay.cookies.update(cookie_before)
    again = confirm_with(replay, token, code)
    assert again.status_code == 410 and "no longer valid" in again.content.decode()
    assert Enrollment.objects.count() == 1 and Patient.objects.count() == 1


def test_a_wrong_code_says_how_many_attempts_are_left_then_starts_again(client, make, settings):
    settings.SCREENING_CODE_MAX_ATTEMPTS = 3
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    code = code_sent(PHONE)
    first = confirm_with(client, token, wrong(code))
    assert first.status_code == 422 and "This code is not right" in first.content.decode()
    assert "2 attempts left" in first.content.decode()
    assert "1 attempt left" in confirm_with(client, token, wrong(code)).content.decode()
    last = confirm_with(client, token, wrong(code))
    assert last.status_code == 410 and "Too many wrong codes" in last.content.decode()
    # Even the right code no longer works: the details must be entered again.
    after = confirm_with(client, token, code)
    assert after.status_code == 302 and after.url == reverse("patients:screening_enrol", args=[token])
    assert rows() == (0, 0, 0, 0, 0)


def test_an_expired_code_enrols_nobody(client, make):
    study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    pending = pending_of(client, token)
    later = timezone.now() + dt.timedelta(seconds=screening_codes.code_setting("SCREENING_CODE_TTL") + 1)
    result = screening_codes.pending_enrolment_confirm(
        study=study, pending_id=pending, code=code_sent(PHONE), now=later
    )
    assert result.outcome is screening_codes.Outcome.EXPIRED
    assert rows() == (0, 0, 0, 0, 0)
    # And the entry is gone: the page says so and offers a new code.
    page = client.get(reverse("patients:screening_confirm", args=[token]))
    assert page.status_code == 410 and "Get a new code" in page.content.decode()


def test_a_code_is_bound_to_its_own_study(client, make):
    _study, token = screening_study(make)
    other, _other_token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    pending = pending_of(client, token)
    result = screening_codes.pending_enrolment_confirm(
        study=other, pending_id=pending, code=code_sent(PHONE), now=timezone.now()
    )
    assert result.outcome is screening_codes.Outcome.EXPIRED and rows() == (0, 0, 0, 0, 0)


# --- rate limits -----------------------------------------------------------------------------------------


def test_a_script_enrolling_many_numbers_from_one_address_is_refused_after_the_limit(client, make, settings):
    settings.SCREENING_MAX_CODES_PER_IP = 3
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    numbers = [f"06 12 34 56 {n:02d}" for n in range(10, 16)]
    statuses = [enrol(client, token, phone=number).status_code for number in numbers]
    assert statuses[:3] == [302, 302, 302]
    assert statuses[3:] == [429, 429, 429]
    refused = enrol(client, token, phone="06 99 99 99 99")
    html = refused.content.decode()
    assert "Please try again later" in html and "Nothing you entered has been kept" in html
    assert refused["Retry-After"]
    # Codes went to the first three numbers only, and nothing is stored for anyone.
    assert len(locmem.outbox) == 3
    assert rows() == (0, 0, 0, 0, 0)
    # Another address still gets through (the limit is per address, the study's own is higher).
    other = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.9.8.7")
    eligible_and_consented(other, token)
    assert enrol(other, token, phone="06 99 99 99 99").status_code == 302


def test_codes_to_one_number_are_limited_whatever_the_address(make, settings):
    settings.SCREENING_MAX_CODES_PER_CONTACT = 2
    _study, token = screening_study(make)
    statuses = []
    for n in range(4):
        browser = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=f"10.0.0.{n + 1}")
        eligible_and_consented(browser, token)
        statuses.append(enrol(browser, token).status_code)
    assert statuses == [302, 302, 429, 429] and len(locmem.outbox) == 2


def test_codes_for_one_study_are_limited_across_addresses(make, settings):
    settings.SCREENING_MAX_CODES_PER_STUDY = 2
    _study, token = screening_study(make)
    _other_study, other_token = screening_study(make)
    statuses = []
    for n in range(3):
        browser = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=f"10.0.1.{n + 1}")
        eligible_and_consented(browser, token)
        statuses.append(enrol(browser, token, phone=f"06 12 34 56 {n + 20}").status_code)
    assert statuses == [302, 302, 429]
    # Another study's link is not affected.
    browser = Client(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="10.0.1.9")
    eligible_and_consented(browser, other_token)
    assert enrol(browser, other_token, phone="06 12 34 56 30").status_code == 302


def test_eligibility_questionnaires_sent_from_one_address_are_limited(client, make, settings):
    settings.SCREENING_MAX_SUBMITS_PER_IP = 2
    _study, token = screening_study(make)
    # A fresh browser each time, as a script would start over (same address).
    assert answer(Client(HTTP_ACCEPT_LANGUAGE="en"), token, age=30, pregnant=False).status_code == 302
    assert answer(Client(HTTP_ACCEPT_LANGUAGE="en"), token, age=30, pregnant=False).status_code == 302
    refused = answer(Client(HTTP_ACCEPT_LANGUAGE="en"), token, age=30, pregnant=False)
    assert refused.status_code == 429 and "Please try again later" in refused.content.decode()
    assert screening.COOKIE not in refused.cookies  # not marked eligible


def test_the_refusal_speaks_the_patients_language(client, make, settings):
    settings.SCREENING_MAX_CODES_PER_IP = 0
    _study, token = screening_study(make, languages=["fr", "en"])
    eligible_and_consented(client, token)
    client.get(reverse("patients:screening_enrol", args=[token]) + "?lang=fr")  # the language switch
    refused = enrol(client, token, language="fr")
    html = refused.content.decode()
    with translation.override("fr"):
        polite = gettext("Please try again later")
    assert refused.status_code == 429 and '<html lang="fr">' in html and polite in html
    assert rows() == (0, 0, 0, 0, 0) and not locmem.outbox


# --- the code page -----------------------------------------------------------------------------------------


def test_the_code_page_is_an_accessible_form_without_javascript(client, make):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    html = client.get(reverse("patients:screening_confirm", args=[token])).content.decode()
    assert '<label for="f-code"' in html and 'id="f-code"' in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    assert "<script" not in html


def test_the_code_page_needs_a_code_sent(client, make):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    page = client.get(reverse("patients:screening_confirm", args=[token]))
    assert page.status_code == 302 and page.url == reverse("patients:screening_enrol", args=[token])


@pytest.mark.parametrize("code", ["", "abc", "1234567", "12345"])
def test_malformed_codes_are_wrong_codes(client, make, code):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    enrol(client, token)
    assert confirm_with(client, token, code).status_code == 422
    assert rows() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_code_text_is_one_plain_sms_in_the_patients_language(make, language):
    from patients.messaging.sms.gsm import sms_segments

    body, _subject = screening_codes._code_texts(language=language, code="123456", minutes=10)
    info = sms_segments(body)
    assert "123456" in body and info.segments == 1 and info.encoding == "GSM-7"


# --- through the real SMS provider protocol (fake Twilio over HTTP) -------------------------------------------


@pytest.fixture
def fake_twilio(settings):
    with FakeTwilio() as server:
        use_fake_twilio(settings, server)
        yield server


def test_the_code_reaches_the_sms_provider_and_confirms(client, make, fake_twilio):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    assert enrol(client, token).status_code == 302
    (sms,) = fake_twilio.messages
    assert sms.to == PHONE and Patient.objects.count() == 0
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    assert confirm_with(client, token, code).status_code == 302 and Enrollment.objects.count() == 1


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("reject", "We could not send a text message to this number."),
        ("fail", "We could not send the code just now."),
    ],
)
def test_a_code_the_provider_refuses_leaves_nothing_behind(client, make, fake_twilio, fault, message):
    _study, token = screening_study(make)
    eligible_and_consented(client, token)
    if fault == "reject":
        fake_twilio.reject_next(1, code=21211)
    else:
        fake_twilio.fail_next(5, status=503)
    page = enrol(client, token)
    assert page.status_code == 422 and message in page.content.decode()
    assert rows() == (0, 0, 0, 0, 0)
    assert (
        screening.state_load(
            cookies={screening.COOKIE: client.cookies[screening.COOKIE].value},
            study=screening.study_by_screening_token(token),
        ).get("pending")
        is None
    )
    assert client.get(reverse("patients:screening_confirm", args=[token])).status_code == 302
