"""Hostile files through every upload path: a clear refusal (form error, 400, CommandError), nothing written.

The files are built here: a zip bomb workbook, XXE and billion-laughs workbooks, a truncated zip,
a non-zip named .xlsx, 100,000-deep JSON, invalid UTF-8. Valid public fixtures still import.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from openpyxl import Workbook

from patients.models import Enrollment, Patient
from surveys.interop import uploads
from surveys.models import ExportJob, Questionnaire, Response
from tests.api_world import world_build
from tests.paths import ROOT
from tests.surveys.interop.test_fhir_questionnaire import imported, rich
from tests.surveys.interop.test_import import HEADER, csv_bytes, investigator, scheduled_study

FIXTURES = Path("/work/shared/fixtures")
SHEET = "xl/worksheets/sheet1.xml"
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


# --- hostile files ------------------------------------------------------------------------------------


def workbook(*rows) -> bytes:
    book = Workbook()
    for row in rows or (["name", "consent_method"], ["Jeanne Martin", "written"]):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_part(content: bytes, name: str, data: bytes) -> bytes:
    """The workbook with one part replaced (or added)."""
    source = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename != name:
                target.writestr(member, source.read(member))
        target.writestr(name, data)
    return out.getvalue()


def bomb(rows: int) -> bytes:
    """A sheet of `rows` identical rows: a few hundred KB that expand a thousand times."""
    row = b'<row><c t="inlineStr"><is><t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</t></is></c></row>'
    sheet = b"<worksheet " + NS.encode() + b"><sheetData>" + row * rows + b"</sheetData></worksheet>"
    return with_part(workbook(), SHEET, sheet)


def sheet_with(prolog: str, cell: str) -> bytes:
    return with_part(
        workbook(),
        SHEET,
        (
            f'<?xml version="1.0"?>{prolog}<worksheet {NS}><sheetData><row r="1">'
            f'<c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>consent_method</t></is></c>'
            f'</row><row r="2"><c r="A2" t="inlineStr"><is><t>{cell}</t></is></c>'
            f'<c r="B2" t="inlineStr"><is><t>written</t></is></c></row></sheetData></worksheet>'
        ).encode(),
    )


XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE x [<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>"
)
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
BAD_UTF8_CSV = b"name,consent_method\nJeanne Martin,written\nRen\xe9 Durand,written\n"

XLSX_FILES = {
    "zip bomb": (lambda: bomb(800_000), "expands to"),
    "xxe": (lambda: sheet_with(XXE, "&e;"), "declares a DTD"),
    "billion laughs": (lambda: sheet_with(LAUGHS, "&l9;"), "declares a DTD"),
    "truncated zip": (lambda: workbook()[:-200], "truncated"),
    "not a zip": (lambda: b"name,consent_method\nJeanne,written\n", "not a readable zip archive"),
}
JSON_FILES = {
    "100k-deep json": (DEEP_JSON, "nested deeper than 64 levels"),
    "invalid utf-8": (b'{"resourceType": "Questionnaire", "title": "Caf\xe9"}', "is not UTF-8 text"),
    "truncated json": (b'{"resourceType": "Questionnaire",\n "item": [', "line 2, column"),
}


# --- the rules themselves -------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_central_directory_before_any_parse():
    content = bomb(800_000)  # 67 MB of XML in well under 1 MB
    assert len(content) < 1024 * 1024
    with pytest.raises(uploads.UploadRefused, match=r"expands to 6\d\.\d MB, more than 50\.0 MB"):
        uploads.zip_check(content)


def test_an_absurd_ratio_or_too_many_parts_is_refused(settings):
    with pytest.raises(uploads.UploadRefused, match=r"part xl/worksheets/sheet1.xml expands \d+ times"):
        uploads.zip_check(bomb(100_000))  # 8 MB, under the total cap
    settings.RESSENTI_UPLOAD_MAX_MEMBERS = 5
    with pytest.raises(uploads.UploadRefused, match=r"holds \d+ parts, more than 5"):
        uploads.zip_check(workbook())


def test_a_central_directory_that_understates_sizes_is_caught_while_decompressing(settings):
    content = bytearray(bomb(20_000))  # 1.7 MB of sheet, declared as 1 KB below
    settings.RESSENTI_UPLOAD_MAX_UNCOMPRESSED_BYTES = 1024 * 1024
    archive = zipfile.ZipFile(io.BytesIO(bytes(content)))
    info = archive.getinfo(SHEET)
    # Rewrite the sheet's uncompressed size in its central directory entry (offset 24 of the entry).
    entry = None
    for found in re.finditer(rb"PK\x01\x02", bytes(content)):
        start = found.start()
        name_length = int.from_bytes(content[start + 28 : start + 30], "little")
        if bytes(content[start + 46 : start + 46 + name_length]) == SHEET.encode():
            entry = start
    assert entry is not None and info.file_size > 1024 * 1024
    content[entry + 24 : entry + 28] = (1024).to_bytes(4, "little")
    with pytest.raises(uploads.UploadRefused):
        uploads.zip_check(bytes(content))


def test_defusedxml_guards_openpyxl_past_the_prolog_check():
    # A DTD after a long comment is past the first chunk the check reads: openpyxl's parser
    # (defusedxml, installed from requirements.lock) still refuses the entity.
    padded = sheet_with("<!--" + "x" * 300_000 + "-->" + XXE, "&e;")
    with pytest.raises(uploads.UploadRefused, match="declares entities or external references|cannot be read"):
        uploads.xlsx_rows(padded)


def test_json_depth_is_refused_without_recursion_and_valid_nesting_passes():
    with pytest.raises(uploads.UploadRefused, match="nested deeper than 64") as refused:
        uploads.json_parse(DEEP_JSON.decode())
    assert refused.value.where == "line 1, column 65"
    assert uploads.json_parse('{"a": "' + "[" * 72 + '"}') == {"a": "[" * 72}
    deepest = uploads.json_parse("[" * 64 + "]" * 64)
    for _level in range(63):
        deepest = deepest[0]
    assert deepest == []


def test_invalid_utf8_says_the_line_and_column():
    with pytest.raises(uploads.UploadRefused, match=r"line 3, column 4") as refused:
        uploads.text_decode(BAD_UTF8_CSV)
    assert refused.value.line == 3


# --- every path that takes a file ---------------------------------------------------------------------------


def test_every_upload_path_is_one_this_file_sends_hostile_files_to():
    """A new form field for files, or a command reading a file, must be added to the paths below."""
    readers = set()
    for path in [*ROOT.glob("surveys/**/*.py"), *ROOT.glob("patients/**/*.py"), *ROOT.glob("config/**/*.py")]:
        text = path.read_text()
        if any(word in text for word in ("request.FILES", "forms.FileField", ".read_bytes()", "file_content(")):
            readers.add(str(path.relative_to(ROOT)))
    assert readers == {
        "surveys/admin/imports.py",  # questionnaire (FHIR, REDCap) and responses import pages
        "patients/enrolment/views.py",  # staff patient import page
        "surveys/management/arguments.py",  # file_content(): what the commands below read a file with
        "surveys/management/commands/import_questionnaire.py",
        "surveys/management/commands/import_responses_fhir.py",
        "patients/management/commands/import_patients.py",
    }
    # The API's only request body is the export spec, parsed behind the same limits.
    from surveys.api.exports import ExportViewSet

    assert ExportViewSet.parser_classes == [uploads.BoundedJSONParser]


def admin_user(make, client, study, role):
    user = make.user()
    make.member(user=user, study=study, role=role)
    client.force_login(user)
    return user


def file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


@pytest.mark.parametrize("case", sorted(JSON_FILES))
def test_admin_questionnaire_import_refuses_hostile_json_with_a_clear_400(make, client, case):
    content, message = JSON_FILES[case]
    study = make.study()
    admin_user(make, client, study, "designer")
    page = client.post(
        reverse("admin:surveys_questionnaire_import"),
        {"action": "check", "study": study.pk, "format": "fhir", "file": file("q.json", content)},
    )
    assert page.status_code == 400
    assert message in " ".join(f"{p.where} {p.message}" for p in page.context["problems"])
    assert message in page.content.decode()
    assert "token" not in page.context and not Questionnaire.objects.exists()


def test_admin_redcap_import_says_which_line_is_not_utf8(make, client):
    study = make.study()
    admin_user(make, client, study, "designer")
    page = client.post(
        reverse("admin:surveys_questionnaire_import"),
        {"action": "check", "study": study.pk, "format": "redcap", "file": file("d.csv", BAD_UTF8_CSV)},
    )
    assert page.status_code == 400 and "line 3, column 4" in page.content.decode()
    assert not Questionnaire.objects.exists()


@pytest.fixture
def timepoint(make):
    from surveys.questionnaires.publish import questionnaire_publish

    study = make.study(code="wb-study", languages=["en", "fr"], fallback_language="en")
    version = questionnaire_publish(questionnaire=imported(study, rich()), by=None)
    point = make.timepoint(version=version, code="baseline")
    make.participant(study=study, pseudonym="ST01-AAAAA")
    return point


@pytest.mark.parametrize("case", sorted(JSON_FILES))
def test_admin_responses_import_refuses_hostile_json_with_a_clear_400(make, client, timepoint, case):
    content, message = JSON_FILES[case]
    admin_user(make, client, timepoint.study, "data_manager")
    page = client.post(
        reverse("admin:surveys_response_import"),
        {"action": "check", "timepoint": timepoint.pk, "file": file("r.ndjson", content)},
    )
    assert page.status_code == 400
    assert message in " ".join(f"{p.where} {p.message}" for p in page.context["result"].problems)
    assert "token" not in page.context and not Response.objects.exists()


@pytest.mark.parametrize("case", sorted(XLSX_FILES))
def test_staff_patient_import_refuses_hostile_workbooks_with_a_clear_400(make, client, case):
    build, message = XLSX_FILES[case]
    study = scheduled_study(make)
    investigator(client, make, study)
    page = client.post(
        reverse("patients:import", args=[study.code]), {"action": "check", "file": file("patients.xlsx", build())}
    )
    assert page.status_code == 400
    assert message in " ".join(p.message for p in page.context["problems"])
    assert not Patient.objects.exists() and not Enrollment.objects.exists()


def test_staff_patient_import_says_which_csv_line_is_not_utf8(make, client):
    study = scheduled_study(make)
    investigator(client, make, study)
    page = client.post(
        reverse("patients:import", args=[study.code]), {"action": "check", "file": file("patients.csv", BAD_UTF8_CSV)}
    )
    assert page.status_code == 400 and [p.line for p in page.context["problems"]] == [3]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("case", sorted(XLSX_FILES))
def test_import_patients_command_refuses_hostile_workbooks(make, tmp_path, capsys, case):
    build, message = XLSX_FILES[case]
    study = scheduled_study(make)
    path = tmp_path / "patients.xlsx"
    path.write_bytes(build())
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_patients", study.code, str(path))
    assert message in capsys.readouterr().err
    assert not Patient.objects.exists()


@pytest.mark.parametrize("case", sorted(JSON_FILES))
def test_import_commands_refuse_hostile_json(make, tmp_path, capsys, timepoint, case):
    content, message = JSON_FILES[case]
    path = tmp_path / "file.json"
    path.write_bytes(content)
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_questionnaire", timepoint.study.code, str(path), "--format", "fhir")
    assert message in capsys.readouterr().err
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_responses_fhir", timepoint.study.code, "baseline", str(path))
    assert message in capsys.readouterr().err
    assert Questionnaire.objects.count() == 1 and not Response.objects.exists()


def test_import_commands_refuse_a_file_above_the_size_cap(make, tmp_path, capsys, settings):
    settings.RESSENTI_UPLOAD_MAX_BYTES = 1000
    study = scheduled_study(make)
    path = tmp_path / "patients.csv"
    path.write_bytes(csv_bytes(HEADER, *["Jeanne Martin,0612345678,,fr,written"] * 100))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_patients", study.code, str(path))
    assert "larger than 1000 bytes" in capsys.readouterr().err
    assert not Patient.objects.exists()


@pytest.fixture
def world(db, settings, tmp_path):
    settings.API_THROTTLE_RATE = ""
    settings.EXPORTS_ROOT = str(tmp_path / "exports")
    return world_build()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (DEEP_JSON, "nested deeper than 64 levels"),
        (b'{"format": "wide_csv", "language": "\xe9"}', "not utf-8 text"),
        (b'{"format": "wide_csv",\n "labels": tru', "line 2, column"),
        (b'{"format": "wide_csv", "n": ' + b"9" * 5000 + b"}", "invalid JSON"),
    ],
)
def test_api_export_body_refuses_hostile_json_with_a_400(client, world, body, message):
    answer = client.post(
        "/api/studies/alpha/exports/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world.tokens['dm']}",
    )
    assert answer.status_code == 400
    assert message in json.dumps(answer.json()).lower() or message in json.dumps(answer.json())
    assert not ExportJob.objects.exists()


def test_api_export_body_above_the_request_cap_is_a_400(world, settings):
    from django.test import Client

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"format": "wide_csv", "questionnaires": ["x" * 2000]}).encode()
    answer = Client(raise_request_exception=False).post(
        "/api/studies/alpha/exports/",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world.tokens['dm']}",
    )
    assert answer.status_code == 400
    assert not ExportJob.objects.exists()


# --- valid files still import -------------------------------------------------------------------------------


def test_public_fixtures_and_ordinary_workbooks_still_import(make, client, tmp_path, capsys):
    study = make.study(languages=["en", "fr"], fallback_language="en")
    for path in sorted((FIXTURES / "fhir").glob("*.json")):
        call_command("import_questionnaire", study.code, str(path), "--format", "fhir", "--dry-run")
    for path in sorted((FIXTURES / "redcap").glob("*.csv")):
        call_command("import_questionnaire", study.code, str(path), "--format", "redcap", "--dry-run")
    assert "ready to import" in capsys.readouterr().out
    enrol = scheduled_study(make)
    sheet = tmp_path / "patients.xlsx"
    sheet.write_bytes(
        workbook(
            ["name", "phone", "consent_method"],
            ["Jeanne Martin", 612345678, "written"],
            *[[f"Patient {i}", f"0622{i:06d}", "written"] for i in range(2000)],
        )
    )
    call_command("import_patients", enrol.code, str(sheet))
    assert Patient.objects.count() == 2001
