"""Bulk import from CSV or XLSX: a dry run that names every bad line, then all or nothing."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from patients.consent.records import consent_record_verify
from patients.enrolment.importing import ImportInvalid, RowProblem, import_check, import_read, import_run
from patients.models import ConsentRecord, Enrollment, Patient
from surveys.models import Assignment, Participant

HEADER = "name,phone,email,language,consent_method"


def csv_bytes(*lines: str, sep: str = ",", bom: bool = False) -> bytes:
    text = "\n".join(line.replace(",", sep) for line in lines) + "\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def scheduled_study(make, **kw):
    version = make.published_version(study=make.study(consent_required=False, **kw))
    make.timepoint(version=version, code="t0", offset=0, window=7)
    make.timepoint(version=version, code="t30", offset=30, window=7)
    return version.questionnaire.study


def problems_of(study, content: bytes, filename: str = "patients.csv") -> list[tuple[int, str, str]]:
    try:
        rows = import_read(filename=filename, content=content)
    except ImportInvalid as invalid:
        return [(p.line, p.field, p.message) for p in invalid.problems]
    return [(p.line, p.field, p.message) for p in import_check(study=study, rows=rows)]


@pytest.mark.parametrize(("sep", "bom"), [(",", False), (";", False), (";", True), (",", True)])
def test_csv_with_comma_or_semicolon_with_or_without_bom_imports(make, sep, bom):
    study = scheduled_study(make)
    content = csv_bytes(
        HEADER,
        "Jeanne Martin,06 12 34 56 78,,fr,written",
        "Paul Durand,+33 7 81 22 33 44,paul@example.org,en,written",
        sep=sep,
        bom=bom,
    )
    rows = import_read(filename="export.csv", content=content)
    assert [row.line for row in rows] == [2, 3]
    result = import_run(study=study, rows=rows, by=None, now=timezone.now())
    assert (result.enrolled, result.assignments) == (2, 4)
    phones = {p.phone for p in Patient.objects.all()}
    assert phones == {"+33612345678", "+33781223344"}
    assert set(Participant.objects.values_list("language", flat=True)) == {"fr", "en"}


def test_xlsx_imports_with_dates_and_numbers_as_cells(make):
    study = scheduled_study(make)
    import datetime as dt

    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Phone", "Birth date", "Consent_method", "Site"])
    make.site(study=study, code="cab1")
    sheet.append(["Jeanne Martin", 612345678, dt.datetime(1951, 2, 3), "written", "cab1"])
    sheet.append([None, None, None, None, None])  # Excel's trailing blank lines are skipped
    buffer = io.BytesIO()
    book.save(buffer)
    rows = import_read(filename="Patients.XLSX", content=buffer.getvalue())
    assert len(rows) == 1 and rows[0].line == 2
    import_run(study=study, rows=rows, by=None, now=timezone.now())
    patient = Patient.objects.get()
    assert (patient.phone, patient.birth_date) == ("+33612345678", "1951-02-03")
    assert Participant.objects.get().site.code == "cab1"


def test_dry_run_reports_each_problem_with_its_line_and_writes_nothing(make):
    study = scheduled_study(make)
    make.site(study=study, code="cab1")
    content = csv_bytes(
        "name,phone,email,language,consent_method,site,birth_date",
        "Good One,0612345678,,fr,written,cab1,",
        "Bad Phone,12,,fr,written,,",
        "Unknown Language,0612345679,,de,written,,",
        ",0612345670,,fr,written,,",
        "No Consent Possible,0612345671,,fr,maybe,,",
        "Unknown Site,0612345672,,fr,written,nowhere,",
        "Bad Birth,0612345673,,fr,written,,31/02/1950",
        "Same Phone As Line 2,06 12 34 56 78,,fr,written,,",
    )
    assert problems_of(study, content) == [
        (3, "phone", "12 is not a valid phone number."),
        (4, "language", "Unknown language de (this study uses fr, en)."),
        (5, "name", "The name is missing."),
        (6, "consent_method", "Unknown consent maybe."),
        (7, "site", "Unknown site nowhere."),
        (8, "birth_date", "31/02/1950 is not a date of birth (use DD/MM/YYYY)."),
        (9, "phone", "Same phone number as line 2."),
    ]
    assert not Patient.objects.exists() and not Participant.objects.exists()


def test_missing_consent_is_reported_when_the_patient_cannot_consent_online(make):
    study = make.study(consent_required=True)  # no information notice to sign online
    content = csv_bytes(HEADER, "Jeanne Martin,0612345678,,fr,")
    assert problems_of(study, content) == [
        (2, "consent_method", "Consent is missing, and the study has no information notice to sign online."),
    ]


def test_duplicates_within_the_file_and_with_the_study_are_reported(make):
    study = scheduled_study(make)
    first = import_read(
        filename="a.csv", content=csv_bytes(HEADER, "Already There,0611111111,a@example.org,fr,written")
    )
    import_run(study=study, rows=first, by=None, now=timezone.now())
    content = csv_bytes(
        HEADER,
        "Same Phone As Enrolled,06 11 11 11 11,,fr,written",
        "New Person,0622222222,b@example.org,fr,written",
        "Same Email As Line 3,0633333333,B@Example.org,fr,written",
        "Same Phone As Line 3,+33622222222,,fr,written",
    )
    assert problems_of(study, content) == [
        (2, "phone", "This phone number cannot be enrolled."),
        (4, "email", "Same email address as line 3."),
        (5, "phone", "Same phone number as line 3."),
    ]


def test_same_external_identifier_twice_in_a_file_is_a_duplicate(make, settings):
    settings.PSEUDONYM_KEYS = {"ext": "key-of-ext-0123456789"}
    study = make.study(code="ext", consent_required=False, pseudonym_mode="external_id")
    content = csv_bytes(
        "name,phone,consent_method,external_id",
        "A One,0611111111,written,185057800608436",
        "B Two,0622222222,written,1 85 05 78 006 084 36",
        "C Three,0633333333,written,",
    )
    assert problems_of(study, content) == [
        (3, "external_id", "Same identifier as line 2."),
        (4, "external_id", "This study derives pseudonyms from an identifier: it is missing."),
    ]


def test_unknown_and_missing_headers_are_reported_on_line_1(make):
    study = make.study()
    assert problems_of(study, csv_bytes("nom,phone,colour", "Jeanne,0612345678,red")) == [
        (
            1,
            "nom",
            "Unknown column nom (known: name, email, phone, birth_date, language, time_zone, "
            "preferred_channel, site, consent_method, notice_version, external_id).",
        ),
        (
            1,
            "colour",
            "Unknown column colour (known: name, email, phone, birth_date, language, time_zone, "
            "preferred_channel, site, consent_method, notice_version, external_id).",
        ),
        (1, "name", "Column name is missing."),
        (1, "consent_method", "Column consent_method is missing."),
    ]
    assert problems_of(study, b"\xff\xfeJ\x00", "x.csv") == [
        (1, "file", 'The file is not UTF-8 text: in Excel, save it as "CSV UTF-8".')
    ]
    assert problems_of(study, b"not a zip", "x.xlsx") == [
        (
            1,
            "file",
            "The file cannot be read as an .xlsx workbook: "
            "the file is not an .xlsx workbook (not a readable zip "
            "archive; truncated?).",
        )
    ]
    assert problems_of(study, b"", "x.pdf") == [(1, "file", "Send a .csv or .xlsx file.")]


def test_a_file_with_one_bad_row_imports_nothing(make):
    study = scheduled_study(make)
    content = csv_bytes(HEADER, *[f"Person {i},06123400{i:02d},,fr,written" for i in range(20)], "Bad,12,,fr,written")
    rows = import_read(filename="x.csv", content=content)
    with pytest.raises(ImportInvalid) as caught:
        import_run(study=study, rows=rows, by=None, now=timezone.now())
    assert caught.value.problems == [RowProblem(22, "phone", "12 is not a valid phone number.")]
    assert not Patient.objects.exists()
    assert not Participant.objects.exists()
    assert not Patient.history.exists()


def test_import_records_who_and_keeps_the_audit_trail(make):
    study = scheduled_study(make, legal_basis="non_opposition")
    notice = make.consent_notice(study=study, version="2.0", language="fr", title="Notice", text="Text")
    user = make.user()
    content = csv_bytes(HEADER + ",notice_version", "Jeanne Martin,0612345678,,fr,non_opposition,2.0")
    now = timezone.now()
    import_run(study=study, rows=import_read(filename="x.csv", content=content), by=user, now=now)
    enrollment = Enrollment.objects.get()
    assert enrollment.consent_method == "non_opposition" and enrollment.consent_document_version == "2.0"
    assert enrollment.consent_recorded_by == user and enrollment.consent_recorded_at == now
    assert enrollment.participant.consented_at == now
    for model in (Patient, Participant, Enrollment, Assignment):
        record = model.history.get() if model is not Assignment else model.history.first()
        assert record.history_user == user and record.history_type == "+", model
    assert Assignment.history.count() == 2
    # The history row holds the same identity, encrypted like the live row.
    assert Patient.history.get().name == "Jeanne Martin"
    # Consent collected by staff leaves the same immutable record as a single enrolment.
    record = ConsentRecord.objects.get()
    assert (record.enrollment, record.notice, record.method, record.recorded_by) == (
        enrollment,
        notice,
        "non_opposition",
        user,
    )
    assert consent_record_verify(record)


@pytest.mark.services
@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="10,000 rows: run on PostgreSQL (DATABASE_URL), as CI does",
)
def test_ten_thousand_rows_import_completely(make):
    study = scheduled_study(make)
    lines = [f"Patient {i},+3361{i:07d},p{i}@example.org,fr,written" for i in range(10_000)]
    rows = import_read(filename="big.csv", content=csv_bytes(HEADER, *lines, sep=";"))
    # Completeness only: speed is measured by bench/import_patients.py.
    result = import_run(study=study, rows=rows, by=None, now=timezone.now())
    assert (result.enrolled, result.assignments) == (10_000, 20_000)
    assert Enrollment.objects.filter(participant__study=study).count() == 10_000
    assert Assignment.objects.filter(participant__study=study, status="planned").count() == 20_000
    assert Participant.objects.filter(study=study).values("pseudonym").distinct().count() == 10_000


def test_import_command_dry_run_then_import(make, tmp_path, capsys):
    study = scheduled_study(make)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(HEADER, "Jeanne Martin,12,,fr,written"))
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_patients", study.code, str(bad), "--dry-run")
    assert "line 2, phone: 12 is not a valid phone number." in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes(HEADER, "Jeanne Martin,0612345678,,fr,written"))
    call_command("import_patients", study.code, str(good), "--dry-run")
    assert "1 rows ready" in capsys.readouterr().out and not Patient.objects.exists()
    call_command("import_patients", study.code, str(good))
    assert Enrollment.objects.filter(participant__study=study).count() == 1


def investigator(client, make, study, site=None):
    user = make.user()
    membership = make.member(user=user, study=study, role="investigator")
    if site is not None:
        membership.site = site
        membership.save()
    client.force_login(user)
    return user


def upload(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_import_page_checks_first_then_imports_the_same_file(client, make):
    study = scheduled_study(make)
    investigator(client, make, study)
    url = reverse("patients:import", args=[study.code])
    page = client.get(url)
    assert page.status_code == 200 and "consent_method" in page.content.decode()

    bad = csv_bytes(HEADER, "Jeanne Martin,12,,fr,written")
    report = client.post(url, {"action": "check", "file": upload("p.csv", bad)})
    assert report.status_code == 400
    assert [(p.line, p.field) for p in report.context["problems"]] == [(2, "phone")]
    assert "12 is not a valid phone number." in report.content.decode()

    good = csv_bytes(HEADER, "Jeanne Martin,0612345678,,fr,written", "Paul Durand,0781223344,,fr,written")
    checked = client.post(url, {"action": "check", "file": upload("p.csv", good)})
    assert checked.status_code == 200 and "2 rows ready to import" in checked.content.decode()
    assert not Patient.objects.exists()
    digest = checked.context["confirm"]["checked"].value()

    # Another file than the one checked is checked, not imported.
    other = client.post(
        url, {"action": "import", "checked": digest, "file": upload("p.csv", good + b"X Y,0733333333,,fr,written\n")}
    )
    assert other.context["mismatch"] and not Patient.objects.exists()

    done = client.post(url, {"action": "import", "checked": digest, "file": upload("p.csv", good)}, follow=True)
    assert "2 patients enrolled, 4 questionnaires planned." in done.content.decode()
    assert Enrollment.objects.filter(participant__study=study).count() == 2


def test_import_page_is_for_investigators_of_the_study_only(client, make):
    study, other = make.study(), make.study()
    user = investigator(client, make, other)
    assert client.get(reverse("patients:import", args=[study.code])).status_code == 404
    # A data manager of the study knows it exists: refused for the role (403), not "not found".
    make.member(user=user, study=study, role="data_manager")
    assert client.get(reverse("patients:import", args=[study.code])).status_code == 403


def test_imported_patients_get_their_invitations_planned(make):
    from patients.models import Message

    version = make.published_version()
    study = version.questionnaire.study
    study.consent_required = False
    study.save()
    make.timepoint(version=version, code="t0", reminders=[2])
    rows = import_read(
        filename="p.csv",
        content=(b"name,phone,consent_method\nAnne Un,06 11 22 33 44,written\nBruno Deux,06 11 22 33 55,written\n"),
    )
    import_run(study=study, rows=rows, by=None, now=timezone.now())
    assert Message.objects.filter(kind="invitation").count() == 2
    assert Message.objects.filter(kind="reminder").count() == 2
