"""Consent and non-opposition: records, hashes, the e-consent page and the gate on questionnaires."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.consent.records import ConsentInvalid, consent_record, consent_record_verify, notice_current
from patients.enrolment.enrol import EnrolmentData, enrollment_create
from patients.identity.key_rotation import encrypted_fields_rotate
from patients.models import ConsentRecord, Enrollment
from surveys.answering.links import assignment_link_token
from surveys.models import Assignment, ConsentNotice
from surveys.scheduling.planning import assignments_refresh
from tests import factories


def notice(study, *, version="1.0", language="en", title="About the study", text="Why.\n\nWhat we ask."):
    return factories.consent_notice(study=study, version=version, language=language, title=title, text=text)


def enrolled(make, *, legal_basis="consent", language="en", **study_kw):
    """A study that requires consent, its notice, one patient enrolled without consent and an open link."""
    version = make.published_version(study=make.study(legal_basis=legal_basis, **study_kw))
    study = version.questionnaire.study
    notice(study)
    make.timepoint(version=version, code="t0", offset=0, window=7)
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(name="Jeanne Martin", phone="06 12 34 56 78", language=language),
        by=None,
        now=timezone.now() - timedelta(minutes=1),
    )
    assignment = enrollment.participant.assignments.get()
    return enrollment, assignment_link_token(assignment=assignment), assignment


def consent_url(token):
    return reverse("patients:consent", args=[token])


# --- the service ---------------------------------------------------------------------------------


def test_electronic_consent_sets_the_enrolment_the_participant_and_a_verifiable_record(make):
    enrollment, _token, _a = enrolled(make)
    now = timezone.now()
    record = consent_record(
        enrollment=enrollment,
        notice=notice_current(study=enrollment.participant.study, language="en"),
        method="electronic",
        typed_name="  Jeanne   Martin ",
        now=now,
    )
    enrollment.refresh_from_db()
    assert enrollment.consent_method == "electronic" and enrollment.consent_document_version == "1.0"
    assert enrollment.consent_recorded_at == now and enrollment.consent_recorded_by is None
    assert enrollment.participant.consented_at == now
    record = ConsentRecord.objects.get(pk=record.pk)  # as stored, decrypted again
    assert record.typed_name == "Jeanne Martin" and record.recorded_by is None
    assert len(record.record_hash) == 64 and consent_record_verify(record)


def test_a_second_consent_changes_nothing(make):
    enrollment, _token, _a = enrolled(make)
    n = ConsentNotice.objects.get()
    first = consent_record(enrollment=enrollment, notice=n, method="electronic", typed_name="J M", now=timezone.now())
    again = consent_record(
        enrollment=enrollment,
        notice=n,
        method="electronic",
        typed_name="Other",
        now=timezone.now() + timedelta(hours=1),
    )
    assert again.pk == first.pk and ConsentRecord.objects.count() == 1


def test_a_tampered_record_fails_verification(make):
    enrollment, _token, _a = enrolled(make)
    record = consent_record(
        enrollment=enrollment,
        notice=ConsentNotice.objects.get(),
        method="electronic",
        typed_name="Jeanne Martin",
        now=timezone.now(),
    )
    # Bypass the model's guard the way someone with database access would.
    ConsentRecord.objects.filter(pk=record.pk).update(recorded_at=record.recorded_at - timedelta(days=1))
    assert not consent_record_verify(ConsentRecord.objects.get(pk=record.pk))


def test_the_hash_survives_key_rotation(make, settings):
    from cryptography.fernet import Fernet

    enrollment, _token, _a = enrolled(make)
    record = consent_record(
        enrollment=enrollment,
        notice=ConsentNotice.objects.get(),
        method="electronic",
        typed_name="Jeanne Martin",
        now=timezone.now(),
    )
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    # The typed name is re-encrypted under the new key; the hash, over the plain name, still holds.
    assert encrypted_fields_rotate()["patients.ConsentRecord"] == 1
    after = ConsentRecord.objects.get(pk=record.pk)
    assert after.typed_name == "Jeanne Martin" and consent_record_verify(after)


def test_consent_records_cannot_be_changed_or_deleted(make):
    enrollment, _token, _a = enrolled(make)
    record = consent_record(
        enrollment=enrollment,
        notice=ConsentNotice.objects.get(),
        method="electronic",
        typed_name="Jeanne Martin",
        now=timezone.now(),
    )
    record.typed_name = "Someone Else"
    with pytest.raises(ValueError, match="cannot be changed"):
        record.save()
    with pytest.raises(ValueError, match="cannot be deleted"):
        record.delete()
    assert ConsentRecord.objects.get(pk=record.pk).typed_name == "Jeanne Martin"


def test_notices_cannot_be_changed(make):
    n = notice(make.study())
    n.text = "Something else"
    with pytest.raises(ValueError, match="cannot be changed"):
        n.save()


def test_non_opposition_is_refused_when_the_study_needs_consent(make):
    enrollment, _token, _a = enrolled(make)
    with pytest.raises(ConsentInvalid):
        consent_record(
            enrollment=enrollment, notice=ConsentNotice.objects.get(), method="non_opposition", now=timezone.now()
        )
    assert not ConsentRecord.objects.exists()


def test_the_notice_of_the_patients_language_else_the_fallback(make):
    study = make.study(fallback_language="fr")
    fr = notice(study, language="fr", version="1")
    assert notice_current(study=study, language="en") == fr
    en = notice(study, language="en", version="1")
    assert notice_current(study=study, language="en") == en
    fr2 = notice(study, language="fr", version="2")
    assert notice_current(study=study, language="fr") == fr2


def test_staff_recorded_consent_is_kept_as_a_record_too(make):
    study = make.study(legal_basis="non_opposition")
    notice(study, version="2.1")
    staff = make.user()
    enrollment = enrollment_create(
        study=study,
        data=EnrolmentData(
            name="Paul Durand", phone="0611223344", language="en", consent_method="non_opposition", notice_version="2.1"
        ),
        by=staff,
        now=timezone.now(),
    )
    record = enrollment.consent_records.get()
    assert record.method == "non_opposition" and record.recorded_by == staff and record.notice.version == "2.1"
    assert consent_record_verify(record)


# --- gating ----------------------------------------------------------------------------------------


def test_beat_leaves_assignments_of_participants_without_consent_planned(make):
    enrollment, _token, assignment = enrolled(make)
    assert assignments_refresh(now=timezone.now())["opened"] == 0
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.PLANNED
    consent_record(
        enrollment=enrollment,
        notice=ConsentNotice.objects.get(),
        method="electronic",
        typed_name="Jeanne Martin",
        now=timezone.now(),
    )
    assert assignments_refresh(now=timezone.now())["opened"] == 1
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.OPEN


def test_link_goes_to_consent_then_the_questionnaire_opens(client, make):
    enrollment, token, _a = enrolled(make)
    questionnaire = reverse("surveys:respond", args=[token])
    assert client.get(questionnaire).url == consent_url(token)
    page = client.get(consent_url(token))
    html = page.content.decode()
    assert page.status_code == 200
    assert "About the study" in html and "<p>Why.</p>" in html and "version 1.0" in html
    assert 'name="typed_name"' in html and 'type="checkbox"' in html
    n = ConsentNotice.objects.get()
    done = client.post(consent_url(token), {"notice": n.pk, "agree": "yes", "typed_name": "Jeanne Martin"})
    assert done.status_code == 302 and done.url == questionnaire
    assert ConsentRecord.objects.filter(enrollment=enrollment, method="electronic").count() == 1
    opened = client.get(questionnaire)
    assert opened.status_code == 200 and "Question mood" in opened.content.decode()
    # A second POST (double tap, second tab) changes nothing.
    again = client.post(consent_url(token), {"notice": n.pk, "agree": "yes", "typed_name": "Other"})
    assert again.status_code == 302 and ConsentRecord.objects.count() == 1
    assert client.get(consent_url(token)).url == questionnaire


def test_consent_page_errors_are_next_to_their_fields_and_nothing_is_saved(client, make):
    enrollment, token, _a = enrolled(make)
    page = client.post(consent_url(token), {"notice": ConsentNotice.objects.get().pk, "typed_name": " "})
    html = page.content.decode()
    assert page.status_code == 422
    assert 'id="agree-err"' in html and "Tick the box to say you agree to take part." in html
    assert 'id="typed_name-err"' in html and "Type your first name and last name." in html
    assert 'aria-describedby="typed_name-help typed_name-err"' in html
    assert not ConsentRecord.objects.exists()
    enrollment.refresh_from_db()
    assert enrollment.consent_method == "pending" and enrollment.participant.consented_at is None


def test_non_opposition_page_offers_i_do_not_object(client, make):
    enrollment, token, _a = enrolled(make, legal_basis="non_opposition")
    html = client.get(consent_url(token)).content.decode()
    assert "I do not object" in html and 'name="typed_name"' not in html
    done = client.post(consent_url(token), {"notice": ConsentNotice.objects.get().pk, "action": "no_objection"})
    assert done.status_code == 302
    record = ConsentRecord.objects.get(enrollment=enrollment)
    assert record.method == Enrollment.ConsentMethod.NON_OPPOSITION and consent_record_verify(record)


def test_consent_page_speaks_french_with_the_french_notice(client, make):
    enrollment, token, _a = enrolled(make, language="fr")
    notice(enrollment.participant.study, language="fr", title="Notice d'information", text="Pourquoi.")
    html = client.get(consent_url(token)).content.decode()
    assert '<html lang="fr">' in html and "Notice d&#x27;information" in html and "Pourquoi." in html


def test_a_study_without_notice_says_so(client, make):
    enrollment, token, _a = enrolled(make)
    ConsentNotice.objects.all().delete()
    page = client.get(consent_url(token))
    assert page.status_code == 503 and "not available" in page.content.decode()
