"""Consent and non-opposition: which notice was given, on what legal basis, when and by whom.

`consent_record` is the one place that records consent: it sets the enrolment's consent
fields, the research-side fact `Participant.consented_at` (which lets questionnaires open:
surveys.scheduling.planning.MAY_OPEN, surveys.answering.access NEEDS_CONSENT) and writes the immutable
ConsentRecord with a hash over what was shown and what was signed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from patients.enrolment.enrol import EnrolmentData, EnrolmentInvalid, enrollment_create
from patients.models import ConsentRecord, Enrollment
from surveys.models import ConsentNotice, Participant, Study

Method = Enrollment.ConsentMethod
TYPED_NAME_MAX = 200


class ConsentInvalid(Exception):
    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


def notice_current(*, study: Study, language: str) -> ConsentNotice | None:
    """The latest notice of the study in `language`, else in the study's fallback language, else any."""
    notices = ConsentNotice.objects.filter(study=study).order_by("-created_at", "-pk")
    return (
        notices.filter(language=language).first()
        or notices.filter(language=study.fallback_language).first()
        or notices.first()
    )


def typed_name_clean(value: str) -> str:
    return " ".join(value.split())


def consent_problems(*, study: Study, method: str, agreed: bool, typed_name: str) -> dict[str, str]:
    """What is wrong with a patient's answer on a consent page, by field. Writes nothing."""
    problems: dict[str, str] = {}
    if method == Method.NON_OPPOSITION:
        # Not objecting is an act in itself: no box to tick, no name to type.
        if study.legal_basis != Study.LegalBasis.NON_OPPOSITION:
            problems["agree"] = _("This study needs your consent.")
        return problems
    if not agreed:
        problems["agree"] = _("Tick the box to say you agree to take part.")
    name = typed_name_clean(typed_name)
    if not name:
        problems["typed_name"] = _("Type your first name and last name.")
    elif len(name) > TYPED_NAME_MAX:
        problems["typed_name"] = _("Write at most %(n)s characters.") % {"n": TYPED_NAME_MAX}
    return problems


def record_hash_of(
    *, notice: ConsentNotice, method: str, typed_name: str, recorded_at: dt.datetime, pseudonym: str
) -> str:
    """SHA-256 over a canonical JSON of what was shown and signed.

    Built from the plain typed name, never its ciphertext: key rotation re-encrypts the
    column, and the hash must survive it.
    """
    canonical = json.dumps(
        {
            "notice_hash": notice.content_hash,
            "notice_version": notice.version,
            "language": notice.language,
            "method": method,
            "typed_name": typed_name,
            "recorded_at": recorded_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "pseudonym": pseudonym,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def consent_record_verify(record: ConsentRecord) -> bool:
    """True when the record still matches its hash (notice, name, time and pseudonym unchanged)."""
    expected = record_hash_of(
        notice=record.notice,
        method=record.method,
        typed_name=record.typed_name,
        recorded_at=record.recorded_at,
        pseudonym=record.enrollment.participant.pseudonym,
    )
    return hmac.compare_digest(expected, record.record_hash)


@transaction.atomic
def consent_record(
    *,
    enrollment: Enrollment,
    notice: ConsentNotice,
    method: str,
    typed_name: str = "",
    by: AbstractBaseUser | None = None,
    now: dt.datetime,
) -> ConsentRecord:
    """Record consent (or non-opposition) given on `notice`; `by` is the staff member, None when
    the patient gave it electronically. Idempotent: once a record exists, it is returned unchanged
    and nothing is written (a double tap, a second tab)."""
    locked = Enrollment.objects.select_for_update().select_related("participant").get(pk=enrollment.pk)
    existing = locked.consent_records.order_by("-recorded_at", "-pk").first()
    if existing is not None:
        return existing
    participant = locked.participant
    if notice.study_id != participant.study_id:
        raise ConsentInvalid({"notice": _("This notice belongs to another study.")})
    if method not in Method.values or method == Method.PENDING:
        raise ConsentInvalid({"method": _("Unknown consent %(value)s.") % {"value": method}})
    if method == Method.NON_OPPOSITION and participant.study.legal_basis != Study.LegalBasis.NON_OPPOSITION:
        raise ConsentInvalid({"method": _("This study's legal basis is consent: non-opposition is not enough.")})
    if locked.withdrawn_at is not None or participant.status == Participant.Status.WITHDRAWN:
        raise ConsentInvalid({"method": _("This patient has withdrawn from the study.")})
    typed_name = typed_name_clean(typed_name)

    locked.consent_method = method
    locked.consent_document_version = notice.version
    locked.consent_recorded_at = locked.consent_recorded_at or now
    locked.consent_recorded_by = by
    locked._change_reason = "consent recorded" if by else "consent given by the patient from their link"
    locked.save(
        update_fields=["consent_method", "consent_document_version", "consent_recorded_at", "consent_recorded_by"]
    )
    if participant.consented_at is None:
        participant.consented_at = now
        participant._change_reason = "consent recorded"
        participant.save(update_fields=["consented_at"])
    enrollment.refresh_from_db()
    return ConsentRecord.objects.create(
        enrollment=locked,
        notice=notice,
        method=method,
        typed_name=typed_name,
        recorded_at=now,
        recorded_by=by,
        record_hash=record_hash_of(
            notice=notice, method=method, typed_name=typed_name, recorded_at=now, pseudonym=participant.pseudonym
        ),
    )


def consent_record_staff(
    *, enrollment: Enrollment, version: str, by: AbstractBaseUser | None, now: dt.datetime
) -> ConsentRecord | None:
    """The record of consent collected by staff at enrolment (written, non-opposition).

    The notice is the named version in the patient's language (else any language of that
    version); with no version named, the study's current notice. A study with no notice
    keeps only the enrolment's fields: there is no document to point to.
    """
    study = enrollment.participant.study
    language = enrollment.patient.language
    if version:
        of_version = ConsentNotice.objects.filter(study=study, version=version).order_by("-created_at")
        notice = of_version.filter(language=language).first() or of_version.first()
    else:
        notice = notice_current(study=study, language=language)
    if notice is None:
        return None
    return consent_record(enrollment=enrollment, notice=notice, method=enrollment.consent_method, by=by, now=now)


@transaction.atomic
def enrollment_self_create(
    *, study: Study, data: EnrolmentData, notice: ConsentNotice, method: str, typed_name: str, now: dt.datetime
) -> Enrollment:
    """A patient who passed pre-screening enrols themselves, with the consent they gave online.
    All or nothing: a bad field leaves no patient, participant or record behind."""
    if notice.study_id != study.pk:
        raise EnrolmentInvalid({"notice": _("This notice belongs to another study.")})
    data.consent_method = Method.PENDING  # recorded just below, with the notice and the typed name
    data.notice_version = notice.version
    enrollment = enrollment_create(study=study, data=data, by=None, now=now)
    consent_record(enrollment=enrollment, notice=notice, method=method, typed_name=typed_name, by=None, now=now)
    enrollment.refresh_from_db()
    return enrollment
