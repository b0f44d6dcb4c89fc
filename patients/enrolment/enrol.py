"""Enrolment: a person, their contact details and consent become a study pseudonym.

`enrolment_problems` checks one person's data without writing (the enrolment page
and the import's dry run both use it); `enrollment_create` writes, all or nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patients.enrolment.record import CONTACT_NEEDED, EnrolmentRecord
from patients.identity.contacts import blind_index
from patients.messaging.planning import messages_plan
from patients.models import Enrollment, Patient
from surveys.answering.access import link_check_digest
from surveys.models import Assignment, Participant, Site, Study
from surveys.participants import pseudonyms
from surveys.rules import roles_for
from surveys.scheduling.planning import assignments_plan
from surveys.staff.selectors import sites_for_user

# Who is enrolled where is not everyone's to learn: anyone but a study-wide investigator (a
# site-limited one, a patient enrolling themselves) hears only that the value cannot be enrolled.
DUPLICATE_PHONE = gettext_lazy("This phone number cannot be enrolled.")
DUPLICATE_EMAIL = gettext_lazy("This email address cannot be enrolled.")
DUPLICATE_PHONE_DETAIL = gettext_lazy("Another patient of this study has this phone number.")
DUPLICATE_EMAIL_DETAIL = gettext_lazy("Another patient of this study has this email address.")
ENROL_PERM = "patients.add_enrollment"


def duplicates_told_in_full(user: AbstractBaseUser | None, study: Study) -> bool:
    """Whether `user` may hear that a phone or email is already enrolled in the study: superusers
    and investigators whose membership covers every site (site None), nobody else."""
    if user is None or not user.is_authenticated:
        return False
    return sites_for_user(user=user, study=study, roles=roles_for(ENROL_PERM)) is None and (
        user.is_superuser or user.has_perm(ENROL_PERM, study)
    )


@dataclass
class EnrolmentData:
    """What an investigator (or an import row) gives for one person. Strings as typed."""

    name: str
    email: str = ""
    phone: str = ""
    birth_date: str = ""
    language: str = "fr"
    time_zone: str = "Europe/Paris"
    preferred_channel: str = "sms"
    site: str = ""  # site code
    consent_method: str = Enrollment.ConsentMethod.PENDING
    notice_version: str = ""
    external_id: str = ""  # only for studies deriving pseudonyms from it; never stored
    # Filled by enrolment_problems: the cleaned values.
    cleaned: dict = field(default_factory=dict)


class EnrolmentInvalid(Exception):
    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))


def existing_digests(study: Study) -> tuple[set[str], set[str]]:
    """(email digests, phone digests) of the patients enrolled in the study and not withdrawn."""
    enrolled = Enrollment.objects.filter(participant__study=study, withdrawn_at__isnull=True)
    emails = set(enrolled.exclude(patient__email_digest="").values_list("patient__email_digest", flat=True))
    phones = set(enrolled.exclude(patient__phone_digest="").values_list("patient__phone_digest", flat=True))
    return emails, phones


def enrolment_problems(
    *,
    study: Study,
    data: EnrolmentData,
    known: tuple[set[str], set[str]] | None = None,
    sites: dict[str, Site] | None = None,
    told_in_full: bool = False,
) -> dict[str, str]:
    """Every problem with this person's data, by field; fills data.cleaned. Writes nothing.

    `known` (email and phone digests already in the study) and `sites` (the study's sites by
    code) let a bulk import check thousands of rows against one read instead of queries per
    row; the import adds each accepted row's digests to `known`, so duplicates inside the file
    are caught too.
    """
    # The record's own rules (patients/enrolment/record.py); here, what depends on the study's records.
    record = EnrolmentRecord(vars(data), languages=study.languages, time_zone=study.time_zone)
    record.is_valid()
    refused = record.problems()
    cleaned = {name: record.cleaned_data.get(name, "") for name in CLEANED}
    own = {name: error.messages[0] for name, error in refused.items() if error.code != CONTACT_NEEDED}
    if study.link_check == Study.LinkCheck.BIRTH_YEAR and not cleaned["birth_date"] and "birth_date" not in own:
        own["birth_date"] = _("This study asks patients their year of birth on their link: give the date of birth.")
    # Listed in the order people read the form: the contact a channel needs after the channel.
    problems = {name: own[name] for name in FIELD_ORDER if name in own}
    problems = _in_order(
        problems, {name: error.messages[0] for name, error in refused.items() if error.code == CONTACT_NEEDED}
    )
    for name in ("language", "time_zone", "preferred_channel", "consent_method"):
        cleaned[name] = record.cleaned_data.get(name) or _fallback(name, data, study)

    cleaned["site"] = None
    if record.cleaned_data["site"]:
        code = record.cleaned_data["site"]
        cleaned["site"] = sites.get(code) if sites is not None else Site.objects.filter(study=study, code=code).first()
        if cleaned["site"] is None:
            problems["site"] = _("Unknown site %(value)s.") % {"value": data.site}

    method = cleaned["consent_method"]
    if "consent_method" in refused:
        problems["consent_method"] = refused["consent_method"].messages[0]
    elif method == Enrollment.ConsentMethod.NON_OPPOSITION and study.legal_basis != Study.LegalBasis.NON_OPPOSITION:
        problems["consent_method"] = _("This study's legal basis is consent: non-opposition is not enough.")
    elif method == Enrollment.ConsentMethod.PENDING and study.consent_required and not _has_notice(study):
        problems["consent_method"] = _("Consent is missing, and the study has no information notice to sign online.")

    if study.pseudonym_mode == Study.PseudonymMode.EXTERNAL_ID:
        if not data.external_id.strip():
            problems["external_id"] = _("This study derives pseudonyms from an identifier: it is missing.")
        else:
            try:
                cleaned["pseudonym"] = pseudonyms.pseudonym_from_external_id(study=study, external_id=data.external_id)
            except pseudonyms.PseudonymKeyMissing as exc:
                problems["external_id"] = str(exc)
            else:
                if Participant.objects.filter(study=study, pseudonym=cleaned["pseudonym"]).exists():
                    problems["external_id"] = _("This person is already enrolled in this study.")

    emails, phones = known if known is not None else existing_digests(study)
    cleaned["email_digest"] = blind_index(cleaned["email"])
    cleaned["phone_digest"] = blind_index(cleaned["phone"])
    if cleaned["phone_digest"] and cleaned["phone_digest"] in phones:
        problems.setdefault("phone", str(DUPLICATE_PHONE_DETAIL if told_in_full else DUPLICATE_PHONE))
    if cleaned["email_digest"] and cleaned["email_digest"] in emails:
        problems.setdefault("email", str(DUPLICATE_EMAIL_DETAIL if told_in_full else DUPLICATE_EMAIL))
    data.cleaned = cleaned
    return problems


# The fields enrolment_problems reports in this order, then the contact details a channel needs.
FIELD_ORDER = ("name", "email", "phone", "birth_date", "language", "time_zone", "preferred_channel")
CLEANED = ("name", "email", "phone", "birth_date")


def _in_order(problems: dict[str, str], needed: dict[str, str]) -> dict[str, str]:
    """`problems` with the contact details the channel needs after the channel."""
    return {**problems, **{name: message for name, message in needed.items() if name not in problems}}


def _fallback(name: str, data: EnrolmentData, study: Study) -> str:
    """The value kept in data.cleaned for a refused field: as typed, cleaned as the record does."""
    raw = getattr(data, name).strip()
    if name == "time_zone":
        return raw or study.time_zone
    if name == "consent_method":
        return raw or Enrollment.ConsentMethod.PENDING
    return raw.lower() or {"language": "fr", "preferred_channel": Patient.Channel.SMS}[name]


def _has_notice(study: Study) -> bool:
    return study.consent_notices.exists()


def patient_from_record(cleaned: dict) -> Patient:
    """The (unsaved) patient row of a cleaned enrolment record: one page or one import line."""
    return Patient(
        name=cleaned["name"],
        email=cleaned["email"],
        phone=cleaned["phone"],
        birth_date=cleaned["birth_date"],
        language=cleaned["language"],
        time_zone=cleaned["time_zone"],
        preferred_channel=cleaned["preferred_channel"],
        email_digest=cleaned["email_digest"],
        phone_digest=cleaned["phone_digest"],
    )


def enrollment_create(
    *, study: Study, data: EnrolmentData, by: AbstractBaseUser | None, now: dt.datetime
) -> Enrollment:
    """Create the patient, the participant (new pseudonym), the enrolment and the planned assignments."""
    problems = enrolment_problems(study=study, data=data, told_in_full=duplicates_told_in_full(by, study))
    if problems:
        raise EnrolmentInvalid(problems)
    c = data.cleaned
    patient = patient_from_record(c)
    patient.save()
    consented = c["consent_method"] != Enrollment.ConsentMethod.PENDING
    try:
        participant = Participant.objects.create(
            study=study,
            pseudonym=c.get("pseudonym") or pseudonyms.pseudonym_new(study=study),
            site=c["site"],
            language=c["language"],
            consented_at=now if consented else None,
        )
    except IntegrityError as exc:
        raise EnrolmentInvalid({"external_id": _("This person is already enrolled in this study.")}) from exc
    if study.link_check == Study.LinkCheck.BIRTH_YEAR:
        # Keyed by the pseudonym, so it can only be computed once the participant exists.
        participant.link_check_digest = link_check_digest(participant=participant, birth_year=int(c["birth_date"][:4]))
        participant.save(update_fields=["link_check_digest"])
    enrollment = Enrollment.objects.create(
        patient=patient,
        participant=participant,
        consent_method=c["consent_method"],
        consent_document_version=data.notice_version.strip(),
        consent_recorded_at=now if consented else None,
        consent_recorded_by=by if consented else None,
        enrolled_at=now,
    )
    if consented:
        # Consent collected by staff is kept as an immutable record on its notice, like e-consent.
        from patients.consent.records import consent_record_staff  # consent.py builds on this module

        consent_record_staff(enrollment=enrollment, version=data.notice_version.strip(), by=by, now=now)
    assignments_plan(participant=participant, anchor=now)
    messages_plan(enrollment=enrollment, assignments=participant.assignments.all(), now=now)
    return enrollment


def planned_schedule(enrollment: Enrollment) -> list[Assignment]:
    return list(enrollment.participant.assignments.select_related("timepoint").order_by("due_at"))
