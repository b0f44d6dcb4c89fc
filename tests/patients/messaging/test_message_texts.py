"""Message bodies (patients/messaging/texts.py): languages, links, neutral SMS, GSM-7 length check."""

import datetime as dt

import pytest
from django.utils import translation

from patients.messaging.sms.gsm import GSM7, sms_segments
from patients.messaging.texts import (
    KINDS,
    email_render,
    message_links,
    shipped_sms_template,
    sms_render,
    sms_template_check,
    sms_template_problems,
)

TOKEN = "AbCdEfGhIjKlMnOpQrStUv"  # 22 characters, like assignment_link_token


@pytest.mark.parametrize("site_url", ["http://127.0.0.1:8000", "https://ressenti.chu-nantes.fr"])
@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_shipped_sms_fit_one_gsm7_segment_with_the_longest_links(settings, site_url, language, kind):
    # The default site URL, and a realistic https SITE_URL of 30 characters.
    settings.SITE_URL = site_url
    check = sms_template_check(shipped_sms_template(kind=kind, language=language))
    assert check.problems == () and check.warnings == (), check
    assert check.segments.encoding == GSM7 and check.segments.segments == 1
    assert len(site_url) in (21, 30)


def test_sms_carries_both_links_and_the_neutral_sender_only(make, settings):
    settings.SITE_URL = "https://ressenti.example.org"
    settings.RESSENTI_SMS_SENDER_NAME = "Dr Lenoir"
    study = make.study(title="Dépression post-partum (cohorte)")
    links = message_links(token=TOKEN)
    assert links.link == f"https://ressenti.example.org/s/{TOKEN}"
    assert links.withdraw == f"https://ressenti.example.org/s/{TOKEN}/withdraw"
    for language in ("fr", "en"):
        for kind in KINDS:
            text = sms_render(kind=kind, language=language, link=links.link, withdraw_link=links.withdraw)
            assert text.startswith("Dr Lenoir\n")
            assert links.link in text and links.withdraw in text
            assert study.title not in text and "post-partum" not in text.lower()
            assert sms_segments(text).segments == 1


def test_sms_language_follows_the_patient_and_falls_back_to_the_site_language():
    link = f"http://127.0.0.1:8000/s/{TOKEN}"
    assert "Quitter" in sms_render(kind="invitation", language="fr", link=link)
    assert "Withdraw" in sms_render(kind="invitation", language="en", link=link)
    # A language without templates (the site default is French).
    assert "Quitter" in sms_render(kind="invitation", language="de", link=link)
    # The active language of the request or the worker does not leak into the message.
    with translation.override("en"):
        assert "Rappel" in sms_render(kind="reminder", language="fr", link=link)


def test_sender_name_is_not_html_escaped_in_texts():
    text = sms_render(kind="invitation", language="fr", link="http://x/s/t", sender_name="Cabinet d'Alice & Co")
    assert text.startswith("Cabinet d'Alice & Co\n")
    email = email_render(kind="invitation", language="fr", link="http://x/s/t", sender_name="Cabinet d'Alice & Co")
    assert "Cabinet d'Alice & Co" in email.text and email.subject.startswith("Cabinet d'Alice & Co")
    assert "Cabinet d&#x27;Alice &amp; Co" in email.html


def test_withdraw_link_without_the_route_is_built_from_the_link():
    text = sms_render(kind="reminder", language="en", link="http://h/s/abc")
    assert "Withdraw http://h/s/abc/withdraw" in text


def test_email_in_both_languages_has_subject_text_html_links_and_local_expiry():
    links = message_links(token=TOKEN)
    # 30 March 2026 16:00 UTC is 18:00 in Paris (summer time since the 29th).
    expires = dt.datetime(2026, 3, 30, 16, 0, tzinfo=dt.UTC)
    fr = email_render(
        kind="invitation",
        language="fr",
        link=links.link,
        withdraw_link=links.withdraw,
        expires_at=expires,
        time_zone="Europe/Paris",
    )
    assert fr.subject == "Cabinet médical : un questionnaire vous attend"
    assert "jusqu'au 30 mars 2026 à 18:00" in fr.text
    assert links.link in fr.text and links.withdraw in fr.text
    assert f'href="{links.link}"' in fr.html and f'href="{links.withdraw}"' in fr.html
    assert '<html lang="fr">' in fr.html and "18:00" in fr.html
    en = email_render(
        kind="reminder",
        language="en",
        link=links.link,
        withdraw_link=links.withdraw,
        expires_at=expires,
        time_zone="America/New_York",
    )
    assert en.subject == "Cabinet médical: reminder, your questionnaire is waiting"
    # 16:00 UTC is noon in New York (EDT since 8 March).
    assert "until March 30, 2026 at noon." in en.text
    assert '<html lang="en">' in en.html and "\n" not in en.subject


def test_email_without_expiry_leaves_the_sentence_out():
    email = email_render(kind="invitation", language="en", link="http://h/s/abc")
    assert "until" not in email.text and "You can answer" not in email.html


def test_template_check_refuses_study_variables_and_missing_links():
    problems = sms_template_problems("{{ sender }} {{ study.title }}: {{ questionnaire }} {{ link }}")
    assert problems[0].startswith(
        "An SMS may only use {{ sender }}, {{ link }} and {{ withdraw_link }}, "
        "not {{ questionnaire }}, {{ study.title }}"
    )
    assert "The SMS must contain the withdrawal link {{ withdraw_link }}." in problems
    assert "The SMS must contain the questionnaire link {{ link }}." in sms_template_problems("{{ withdraw_link }}")


def test_template_check_reports_syntax_errors():
    check = sms_template_check("{% if %}{{ link }}")
    assert check.segments is None and check.problems[0].startswith("The template does not compile")


def test_template_check_warns_when_over_one_segment_or_leaving_gsm7(settings):
    settings.SITE_URL = "https://ressenti.chu-nantes.fr"
    long = "{{ sender }} : merci de bien vouloir remplir votre questionnaire {{ link }} Pour ne plus participer {{ withdraw_link }}"
    warnings = sms_template_problems(long)
    assert len(warnings) == 1 and "2 SMS instead of one" in warnings[0]
    unicode = sms_template_problems("Arrêt {{ link }} {{ withdraw_link }}")
    assert unicode[0].startswith("ê cannot be sent in GSM-7")
    # The caller may ask for another worst-case link length.
    assert sms_template_problems("{{ link }} {{ withdraw_link }}", link_length=60) == []
    assert "2 SMS" in sms_template_problems("{{ link }} {{ withdraw_link }}", link_length=80)[0]
