"""A study's own SMS wording: checked the way GSM-7 counts it, and used when sending."""

from django.urls import reverse

from patients.models import SmsTemplate


def designer_client(client, make):
    study = make.study()
    user = make.user()
    make.member(user=user, study=study, role="designer")
    client.force_login(user)
    return study


def post(client, study, text, kind="invitation", language="fr"):
    return client.post(
        reverse("admin:patients_smstemplate_add"), {"study": study.pk, "kind": kind, "language": language, "text": text}
    )


def test_the_editor_counts_gsm7_segments_and_saves_a_good_template(client, make):
    study = designer_client(client, make)
    response = post(client, study, "Cabinet {{ sender }} : questionnaire {{ link }} Stop {{ withdraw_link }}")
    assert response.status_code == 302
    shown = [str(m) for m in response.wsgi_request._messages]
    assert any("GSM-7" in m and "1 SMS" in m for m in shown), shown
    assert SmsTemplate.objects.filter(study=study).count() == 1


def test_a_template_naming_the_study_or_missing_a_link_is_refused(client, make):
    study = designer_client(client, make)
    for text, expected in [
        ("Étude {{ study.title }} {{ link }} {{ withdraw_link }}", "may only use"),
        ("Questionnaire {{ link }}", "withdrawal link"),
        ("{% include 'x.html' %} {{ link }} {{ withdraw_link }}", "no {% tags %}"),
    ]:
        response = post(client, study, text)
        assert response.status_code == 200 and expected in response.content.decode(), text
    assert not SmsTemplate.objects.exists()


def test_a_long_template_is_saved_with_a_warning(client, make):
    study = designer_client(client, make)
    response = post(client, study, "Bonjour, " + "merci de répondre " * 10 + "{{ link }} {{ withdraw_link }}")
    shown = [str(m) for m in response.wsgi_request._messages]
    assert any("2 SMS" in m or "3 SMS" in m for m in shown), shown
