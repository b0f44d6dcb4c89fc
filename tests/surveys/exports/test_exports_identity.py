"""Only pseudonyms leave: every export format of the demo, decoded (Excel unzipped, .sav/.dta read back
with pyreadstat, zips opened), holds no name, email, phone or date of birth of the demo patients."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.utils import timezone

from patients import demo as patients_demo
from patients.models import Enrollment
from surveys.exports.spec import FORMATS, ExportSpec
from surveys.exports.writers import export_write
from surveys.models import Response
from surveys.scoring.compute import scores_compute
from tests import factories
from tests.surveys.exports.test_exports_formats import read_stat

BIRTH_DATES = {"DEMO-0001": "1949-03-17", "DEMO-0002": "1962-11-05", "DEMO-0003": "1956-02-29"}


def answers_for(definition: dict, n: int) -> dict:
    from surveys.questionnaires import fhir

    answers = {}
    for node in fhir.iter_items(definition.get("item", [])):
        kind = fhir.item_type(node)
        link_id = node["linkId"]
        if kind == "single":
            answers[link_id] = fhir.option_code(node["answerOption"][n % len(node["answerOption"])])
        elif kind == "yes_no":
            answers[link_id] = bool(n % 2)
        elif kind in ("nrs", "vas", "integer"):
            answers[link_id] = 3 + n
        elif kind == "date":
            answers[link_id] = "2026-01-15"
        elif kind in ("short_text", "long_text"):
            answers[link_id] = f"mal au dos depuis {n + 2} semaines"
    return answers


@pytest.fixture
def demo(db):
    loaded = patients_demo.demo_load()
    for enrollment in loaded.enrollments:
        patient = enrollment.patient
        patient.birth_date = BIRTH_DATES[enrollment.participant.pseudonym]
        patient.save()
        for n, assignment in enumerate(enrollment.participant.assignments.select_related("timepoint__version")):
            version = assignment.timepoint.version
            answers = answers_for(version.definition, n)
            factories.response(
                assignment=assignment,
                version=version,
                status="completed",
                answers=answers,
                scores=scores_compute(version.definition, answers),
                submitted_at=timezone.now(),
            )
    return loaded


def identity_strings() -> set[str]:
    found: set[str] = set()
    for spec in patients_demo.PATIENTS:
        e164 = spec.phone
        national = "0" + e164[3:]
        pairs = " ".join(national[i : i + 2] for i in range(0, 10, 2))
        born = BIRTH_DATES[spec.pseudonym]
        year, month, day = born.split("-")
        found |= {
            spec.name,
            *spec.name.split(),
            spec.email,
            e164,
            e164[1:],
            national,
            pairs,
            pairs.replace(" ", "."),
            f"+33 {national[1]} {pairs[3:]}",
            born,
            f"{day}/{month}/{year}",
            f"{day}.{month}.{year}",
            f"{year}{month}{day}",
        }
    return {s.lower() for s in found if len(s) >= 4}


def readable(data: bytes, fmt: str) -> str:
    """Every text a person or a program could read out of the file."""
    if data[:2] == b"PK" and fmt not in ("long_xlsx", "wide_xlsx"):
        archive = zipfile.ZipFile(io.BytesIO(data))
        return "\n".join(readable(archive.read(name), fmt) for name in archive.namelist())
    if fmt.endswith("xlsx"):
        archive = zipfile.ZipFile(io.BytesIO(data))
        return "\n".join(archive.read(name).decode() for name in archive.namelist())
    if fmt in ("sav", "dta"):
        frame, meta = read_stat(data, fmt)
        return "\n".join(
            [
                frame.to_csv(),
                json.dumps(meta.column_names_to_labels, ensure_ascii=False),
                json.dumps(meta.variable_value_labels, ensure_ascii=False, default=str),
                str(meta.file_label),
                data.decode("latin-1"),
                data.decode("utf-8", errors="replace"),
            ]
        )
    return data.decode("utf-8")


def every_export(study_id: int):
    for fmt in FORMATS:
        for labels in (False, True):
            spec = ExportSpec(study_id=study_id, format=fmt, labels=labels)
            out = io.BytesIO()
            export_write(spec=spec, out=out)
            yield fmt, labels, readable(out.getvalue(), fmt)


def test_no_export_format_holds_a_name_email_phone_or_birth_date_of_the_demo_patients(demo):
    study = demo.research.study
    assert Response.objects.filter(assignment__participant__study=study).count() >= 9
    forbidden = identity_strings()
    assert {"camille durand", "+33639980001", "06 39 98 00 01", "0639980001", "17/03/1949"} <= forbidden
    scanned = 0
    for fmt, labels, text in every_export(study.pk):
        lowered = text.lower()
        leaks = sorted(word for word in forbidden if word in lowered)
        assert leaks == [], (fmt, labels, leaks)
        if not fmt.startswith("codebook"):
            assert "demo-0001" in lowered, fmt  # the pseudonym is what identifies a row
        scanned += 1
    assert scanned == 2 * len(FORMATS)


def test_the_scan_finds_a_name_a_patient_typed_in_every_format(demo):
    # The guard above is only worth something if it can fail: a patient writes their own name and phone.
    study = demo.research.study
    enrollment = Enrollment.objects.select_related("participant").get(participant__pseudonym="DEMO-0001")
    response = Response.objects.filter(
        assignment__participant=enrollment.participant, version__questionnaire__code="visite"
    ).get()
    response.answers = {**response.answers, "visit_reason": "Camille Durand, rappeler au 06 39 98 00 01"}
    response.save()
    forbidden = identity_strings()
    for fmt, labels, text in every_export(study.pk):
        if fmt.startswith("codebook"):
            continue
        assert {"camille durand", "06 39 98 00 01"} <= {w for w in forbidden if w in text.lower()}, (fmt, labels)
    # Which is why free text can be left out of an export.
    out = io.BytesIO()
    export_write(spec=ExportSpec(study_id=study.pk, format="wide_csv", exclude_free_text=True), out=out)
    assert "camille" not in readable(out.getvalue(), "wide_csv").lower()
