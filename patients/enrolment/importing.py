"""Bulk enrolment from a spreadsheet (CSV or XLSX): a dry run that reports every bad row,
then an import that is all or nothing.

Each row is checked by patients.enrolment.enrol.enrolment_problems, the one place for the
rules of an enrolment, against the study's existing email and phone digests read once;
what only a file can have (the same person twice in it) is checked here, citing the
other line. Lines are counted as a spreadsheet shows them: the header is line 1.

Writing is in bulk inside one transaction, one COPY per table on PostgreSQL
(config/bulk_rows.py), with the history rows the audit trail gets for any single enrolment:
10,000 rows take seconds, not minutes.
The file never touches the disk here: callers pass its bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.bulk_rows import HistoryStamp, objects_insert
from patients.consent.records import record_hash_of
from patients.enrolment.enrol import (
    EnrolmentData,
    duplicates_told_in_full,
    enrolment_problems,
    existing_digests,
    patient_from_record,
)
from patients.messaging.planning import messages_plan_many
from patients.models import ConsentRecord, Enrollment, Patient
from surveys.answering.access import link_check_digest
from surveys.interop import uploads
from surveys.models import ConsentNotice, Participant, Site, Study
from surveys.participants import pseudonyms
from surveys.scheduling.planning import assignments_plan_many

# Column headers, in the order a template file shows them; `name` and `consent_method`
# must be present (an empty consent cell then means "pending", as on the enrolment page).
HEADERS = (
    "name",
    "email",
    "phone",
    "birth_date",
    "language",
    "time_zone",
    "preferred_channel",
    "site",
    "consent_method",
    "notice_version",
    "external_id",
)
REQUIRED_HEADERS = ("name", "consent_method")


@dataclass(frozen=True)
class RowProblem:
    line: int  # 1 = the header line
    field: str
    message: str


@dataclass
class ImportRow:
    line: int
    data: EnrolmentData


@dataclass(frozen=True)
class ImportResult:
    enrolled: int
    assignments: int


class ImportInvalid(Exception):
    def __init__(self, problems: list[RowProblem]):
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s), first: line {problems[0].line}, {problems[0].field}: {problems[0].message}"
            if problems
            else "no problems"
        )


# --- reading ----------------------------------------------------------------------------------


def import_read(*, filename: str, content: bytes) -> list[ImportRow]:
    """The rows of a .csv (UTF-8, with or without BOM; `,` or `;`) or .xlsx file (first sheet).

    Raises ImportInvalid for what makes the file unusable as a whole: unreadable,
    unknown or missing headers. Blank lines are skipped but still counted."""
    try:
        uploads.upload_size_check(content)
    except uploads.UploadRefused as refused:
        raise ImportInvalid([RowProblem(1, "file", refused.message)]) from None
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        table = _xlsx_table(content)
    elif lower.endswith((".csv", ".txt")):
        table = _csv_table(content)
    else:
        raise ImportInvalid([RowProblem(1, "file", _("Send a .csv or .xlsx file."))])
    if not table:
        raise ImportInvalid([RowProblem(1, "file", _("The file is empty."))])
    header = [_header_name(cell) for cell in table[0]]
    problems = []
    for index, name in enumerate(header):
        if name and name not in HEADERS:
            problems.append(
                RowProblem(
                    1,
                    name,
                    _("Unknown column %(name)s (known: %(known)s).") % {"name": name, "known": ", ".join(HEADERS)},
                )
            )
        elif name and header.index(name) != index:
            problems.append(RowProblem(1, name, _("Column %(name)s appears twice.") % {"name": name}))
    for name in REQUIRED_HEADERS:
        if name not in header:
            problems.append(RowProblem(1, name, _("Column %(name)s is missing.") % {"name": name}))
    if problems:
        raise ImportInvalid(problems)

    rows = []
    for line, cells in enumerate(table[1:], start=2):
        values = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header) if name}
        if not any(value.strip() for value in values.values()):
            continue
        data = EnrolmentData(name=values.pop("name"))
        for name, value in values.items():
            if value.strip():
                setattr(data, name, value)
        rows.append(ImportRow(line=line, data=data))
    return rows


def _header_name(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


def _csv_table(content: bytes) -> list[list[str]]:
    try:
        text = uploads.text_decode(content)
    except uploads.UploadRefused as refused:
        raise ImportInvalid(
            [RowProblem(refused.line, "file", _('The file is not UTF-8 text: in Excel, save it as "CSV UTF-8".'))]
        ) from None
    first_line = text.split("\n", 1)[0]
    # French Excel writes `;` (the comma is the decimal mark); headers never hold either.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error as exc:  # a cell above csv's field size limit, a stray quote...
        raise ImportInvalid(
            [RowProblem(reader.line_num or 1, "file", _("The CSV cannot be read: %(error)s") % {"error": exc})]
        ) from None


def _xlsx_table(content: bytes) -> list[list[str]]:
    try:
        rows = uploads.xlsx_rows(content)
    except uploads.UploadRefused as refused:
        raise ImportInvalid(
            [
                RowProblem(
                    1,
                    "file",
                    _("The file cannot be read as an .xlsx workbook: %(reason)s.") % {"reason": refused.message},
                )
            ]
        ) from None
    return [[_cell_text(value) for value in row] for row in rows]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        # A phone or identifier typed as a number: 612345678.0 → "612345678".
        return str(int(value))
    return str(value)


# --- checking ---------------------------------------------------------------------------------


@dataclass
class _Checked:
    problems: list[RowProblem]
    rows: list[ImportRow]


def _check(*, study: Study, rows: Sequence[ImportRow], only_site: Site | None, by=None) -> _Checked:
    known = existing_digests(study)  # one read for the whole file
    told_in_full = duplicates_told_in_full(by, study)
    sites = {site.code: site for site in study.sites.all()}
    first_line_of: dict[tuple[str, str], int] = {}
    problems: list[RowProblem] = []
    for row in rows:
        data = row.data
        if only_site is not None:
            if not data.site.strip():
                data.site = only_site.code
            elif data.site.strip() != only_site.code:
                problems.append(
                    RowProblem(
                        row.line, "site", _("You may only enrol patients at site %(site)s.") % {"site": only_site.code}
                    )
                )
                continue
        found = enrolment_problems(study=study, data=data, known=known, sites=sites, told_in_full=told_in_full)
        cleaned = data.cleaned
        for field, key, message in (
            ("phone", cleaned.get("phone_digest"), _("Same phone number as line %(line)s.")),
            ("email", cleaned.get("email_digest"), _("Same email address as line %(line)s.")),
            ("external_id", cleaned.get("pseudonym"), _("Same identifier as line %(line)s.")),
        ):
            if not key or field in found:
                continue
            first = first_line_of.setdefault((field, key), row.line)
            if first != row.line:
                found[field] = message % {"line": first}
        for field in HEADERS:
            if field in found:
                problems.append(RowProblem(row.line, field, found.pop(field)))
        problems.extend(RowProblem(row.line, field, message) for field, message in found.items())
    return _Checked(problems=problems, rows=list(rows))


def import_check(
    *, study: Study, rows: Sequence[ImportRow], only_site: Site | None = None, by: AbstractBaseUser | None = None
) -> list[RowProblem]:
    """Dry run: every problem of every row, in file order; writes nothing.

    `only_site`: the importing investigator is limited to that site; rows without a
    site go there and rows for another site are refused."""
    return _check(study=study, rows=rows, only_site=only_site, by=by).problems


def _notice_given(study: Study, notices: list[ConsentNotice], *, version: str, language: str) -> ConsentNotice | None:
    """The notice consent_record_staff would pick, from the study's notices read once (newest
    first): the named version in the patient's language, else in any language; with no
    version named, the current notice in the patient's language, else the fallback, else any."""
    if version:
        of_version = [n for n in notices if n.version == version]
        return next((n for n in of_version if n.language == language), of_version[0] if of_version else None)
    if not notices:
        return None
    return (
        next((n for n in notices if n.language == language), None)
        or next((n for n in notices if n.language == study.fallback_language), None)
        or notices[0]
    )


@transaction.atomic
def import_run(
    *,
    study: Study,
    rows: Sequence[ImportRow],
    by: AbstractBaseUser | None,
    now: dt.datetime,
    only_site: Site | None = None,
) -> ImportResult:
    """Enrol every row, or none: any problem raises ImportInvalid and nothing is written."""
    # Two imports of the same study wait for each other, so neither misses the other's people.
    Study.objects.select_for_update().filter(pk=study.pk).first()
    checked = _check(study=study, rows=rows, only_site=only_site, by=by)
    if checked.problems:
        raise ImportInvalid(checked.problems)
    if not checked.rows:
        return ImportResult(enrolled=0, assignments=0)

    taken = set(Participant.objects.filter(study=study).values_list("pseudonym", flat=True))
    notices = list(ConsentNotice.objects.filter(study=study).order_by("-created_at", "-pk"))
    user = by or Patient.history.model.get_default_history_user(None)
    history = HistoryStamp(user_id=user.pk if user else None, date=now, change_reason="import")
    patients, participants, consents = [], [], []
    for row in checked.rows:
        c = row.data.cleaned
        patients.append(patient_from_record(c))
        consented = c["consent_method"] != Enrollment.ConsentMethod.PENDING
        participant = Participant(
            study=study,
            pseudonym=c.get("pseudonym") or pseudonyms.pseudonym_random(study=study, taken=taken),
            site=c["site"],
            language=c["language"],
            consented_at=now if consented else None,
        )
        if study.link_check == Study.LinkCheck.BIRTH_YEAR:
            participant.link_check_digest = link_check_digest(
                participant=participant, birth_year=int(c["birth_date"][:4])
            )
        participants.append(participant)
        version = row.data.notice_version.strip()
        notice = _notice_given(study, notices, version=version, language=c["language"]) if consented else None
        # As consent_record does: the enrolment names the version of the notice recorded.
        consents.append((consented, notice.version if notice else version, c["consent_method"], notice))

    # Each table in one COPY with its history rows (config/bulk_rows.py): every contact field
    # is encrypted once, and the history row keeps that ciphertext.
    written = timezone.now()  # created_at, as bulk_create would set it
    objects_insert(patients, now=written, history=history)
    objects_insert(participants, now=written, history=history)
    enrollments = [
        Enrollment(
            patient=patient,
            participant=participant,
            consent_method=method,
            consent_document_version=version,
            consent_recorded_at=now if consented else None,
            consent_recorded_by=by if consented else None,
            enrolled_at=now,
        )
        for patient, participant, (consented, version, method, _notice) in zip(
            patients, participants, consents, strict=True
        )
    ]
    objects_insert(enrollments, now=written, history=history)
    # The immutable record of consent collected by staff, as enrollment_create writes it through
    # patients.consent.records.consent_record_staff; no notice, no record (no document to point to).
    objects_insert(
        [
            ConsentRecord(
                enrollment=enrollment,
                notice=notice,
                method=method,
                typed_name="",
                recorded_at=now,
                recorded_by=by,
                record_hash=record_hash_of(
                    notice=notice,
                    method=method,
                    typed_name="",
                    recorded_at=now,
                    pseudonym=enrollment.participant.pseudonym,
                ),
            )
            for enrollment, (_consented, _version, method, notice) in zip(enrollments, consents, strict=True)
            if notice is not None
        ],
        now=written,
    )

    # The schedule and the messages by the same rules as a single enrolment, in bulk; every
    # assignment is new (so are the participants), hence its messages go in by COPY too.
    by_participant, created = assignments_plan_many(
        anchors=[(participant, now) for participant in participants], by=by, reason="import"
    )
    messages_plan_many(
        enrollments=enrollments,
        assignments_by_participant=by_participant,
        now=now,
        created={assignment.pk for assignment in created},
    )
    return ImportResult(enrolled=len(enrollments), assignments=sum(map(len, by_participant.values())))
