"""De-identification: dates shifted by a secret offset per participant, or days since enrolment;
free-text answers (short and long text, "other" texts) left out on request."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.test import override_settings

from surveys.exports.deid import MAX_SHIFT_DAYS, date_shift_days
from surveys.exports.spec import ExportSpec
from surveys.exports.writers import export_write
from surveys.models import Participant
from tests.surveys.exports.test_exports_formats import build_study, read_csv, read_stat

DUE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def export(spec: ExportSpec) -> bytes:
    out = io.BytesIO()
    export_write(spec=spec, out=out)
    return out.getvalue()


def wide(study, **choices) -> list[dict[str, str]]:
    return read_csv(export(ExportSpec(study_id=study.pk, format="wide_csv", **choices)))


def enrol_at(study, when: dt.datetime) -> None:
    # Participant.created_at is the enrolment instant the research side knows (auto_now_add: set it after).
    Participant.objects.filter(study=study).update(created_at=when)


def test_shifted_dates_move_every_date_of_a_participant_by_the_same_secret_offset(make):
    study, *_ = build_study(make, participants=2)
    exact = {r["pseudonym"]: r for r in wide(study)}
    shifted = {r["pseudonym"]: r for r in wide(study, dates="shifted")}
    for pseudonym in exact:
        offset = date_shift_days(study_id=study.pk, pseudonym=pseudonym)
        assert offset != 0 and abs(offset) <= MAX_SHIFT_DAYS
        for column in ("due_at", "submitted_at"):
            true = dt.datetime.fromisoformat(exact[pseudonym][column])
            moved = dt.datetime.fromisoformat(shifted[pseudonym][column])
            assert moved.date() - true.date() == dt.timedelta(days=offset)
            assert moved.time() == true.time()  # the wall clock is kept
        # A date answered by the patient moves too; intervals stay.
        assert dt.date.fromisoformat(shifted[pseudonym]["visit"]) == dt.date(2026, 2, 20) + dt.timedelta(days=offset)
        assert shifted[pseudonym]["completion_delay_hours"] == exact[pseudonym]["completion_delay_hours"]
        # No true date is left anywhere in the row.
        assert not {"2026-03-02", "2026-03-03", "2026-02-20"} & {v[:10] for v in shifted[pseudonym].values()}


def test_the_shift_is_stable_across_exports_differs_between_participants_and_needs_the_key(make):
    offsets = {date_shift_days(study_id=1, pseudonym=f"P-{n:04d}") for n in range(200)}
    assert len(offsets) > 100 and 0 not in offsets
    assert {o > 0 for o in offsets} == {True, False}
    assert date_shift_days(study_id=1, pseudonym="P-0001") == date_shift_days(study_id=1, pseudonym="P-0001")
    assert date_shift_days(study_id=1, pseudonym="P-0001") != date_shift_days(
        study_id=2, pseudonym="P-0001"
    ) or date_shift_days(study_id=1, pseudonym="P-0002") != date_shift_days(study_id=2, pseudonym="P-0002")
    before = [date_shift_days(study_id=1, pseudonym=f"P-{n}") for n in range(20)]
    with override_settings(EXPORT_DATE_SHIFT_KEY="another-secret"):
        after = [date_shift_days(study_id=1, pseudonym=f"P-{n}") for n in range(20)]
    assert before != after


def test_shifted_dates_are_the_same_in_every_format(make):
    study, *_ = build_study(make, participants=1)
    csv_row = wide(study, dates="shifted")[0]
    frame, _meta = read_stat(export(ExportSpec(study_id=study.pk, format="dta", dates="shifted")), "dta")
    assert str(frame["visit"][0])[:10] == csv_row["visit"]
    assert frame["due_at"][0] == dt.datetime.fromisoformat(csv_row["due_at"]).replace(tzinfo=None)
    pytest.importorskip("fhir.resources")
    line = json.loads(export(ExportSpec(study_id=study.pk, format="fhir_ndjson", dates="shifted")).decode())
    assert line["authored"][:10] == csv_row["submitted_at"][:10]
    answers = {i["linkId"]: i["answer"][0] for page in line["item"] for i in page.get("item", [page])}
    assert answers["visit"]["valueDate"] == csv_row["visit"]


def test_days_since_enrolment_replace_every_date(make):
    study, *_ = build_study(make, participants=1)
    enrol_at(study, dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC))
    row = wide(study, dates="days_since_enrolment")[0]
    assert "due_at" not in row and "submitted_at" not in row
    assert row["due_day"] == "29" and row["submitted_day"] == "30"
    assert row["visit"] == "19"  # 2026-02-20 is day 19 after 1 February
    long = read_csv(export(ExportSpec(study_id=study.pk, format="long_csv", dates="days_since_enrolment")))
    assert {r["due_day"] for r in long} == {"29"}
    assert {r["value"] for r in long if r["item"] == "visit"} == {"19"}
    frame, meta = read_stat(export(ExportSpec(study_id=study.pk, format="sav", dates="days_since_enrolment")), "sav")
    assert frame["due_day"][0] == 29 and frame["visit"][0] == 19
    codebook = {
        r["variable"]: r
        for r in read_csv(export(ExportSpec(study_id=study.pk, format="codebook_csv", dates="days_since_enrolment")))
    }
    assert codebook["visit"]["value_type"] == "days since enrolment" and "due_day" in codebook


FREE_TEXT = ("why", "drug")


def test_free_text_is_left_out_on_request_in_every_format(make):
    study, *_ = build_study(make, participants=1)
    secret_words = ("tired, see note", "paracetamol")
    kept = export(ExportSpec(study_id=study.pk, format="long_csv"))
    assert all(w.encode() in kept for w in secret_words)
    for fmt in ("long_csv", "wide_csv", "long_xlsx", "wide_xlsx", "sav", "dta", "codebook_csv", "fhir_ndjson"):
        if fmt == "fhir_ndjson":
            pytest.importorskip("fhir.resources")
        data = export(ExportSpec(study_id=study.pk, format=fmt, exclude_free_text=True))
        text = _readable(data, fmt)
        assert not any(w in text for w in secret_words), fmt
        if fmt in ("wide_csv", "codebook_csv"):
            assert not any(f"\n{item}," in text or f",{item}," in text for item in FREE_TEXT), fmt


def _readable(data: bytes, fmt: str) -> str:
    if fmt.endswith("xlsx"):
        import zipfile

        archive = zipfile.ZipFile(io.BytesIO(data))
        return "".join(archive.read(n).decode() for n in archive.namelist())
    if fmt in ("sav", "dta"):
        frame, meta = read_stat(data, fmt)
        return frame.to_csv() + json.dumps(meta.column_names_to_labels)
    return data.decode()


def test_other_please_specify_texts_are_free_text(make):
    """An open choice (FHIR open-choice, e.g. an imported form) keeps its typed "other" in <item>_other."""
    study = make.study(code="open")
    q = make.questionnaire(study=study, code="oc")
    definition = {
        "resourceType": "Questionnaire",
        "status": "active",
        "language": "fr",
        "item": [
            {
                "linkId": "where",
                "type": "open-choice",
                "text": "Où ?",
                "answerOption": [{"valueCoding": {"code": "home", "display": "Maison"}}],
            }
        ],
    }
    version = make.questionnaire_version(questionnaire=q, number=1, definition=definition, content_hash="x")
    tp = make.timepoint(version=version, code="t")
    for n, answer in enumerate(["home", "chez ma soeur à Lille"]):
        p = make.participant(study=study, pseudonym=f"O-{n}")
        make.response(
            assignment=make.assignment(participant=p, timepoint=tp), status="completed", answers={"where": answer}
        )
    rows = wide(study)
    assert [(r["where"], r["where_other"]) for r in rows] == [("home", ""), ("", "chez ma soeur à Lille")]
    long = read_csv(export(ExportSpec(study_id=study.pk, format="long_csv")))
    assert ("where_other", "chez ma soeur à Lille") in {(r["item"], r["value"]) for r in long}
    hidden = wide(study, exclude_free_text=True)
    assert "where_other" not in hidden[0] and [r["where"] for r in hidden] == ["home", ""]
    assert b"Lille" not in export(ExportSpec(study_id=study.pk, format="long_csv", exclude_free_text=True))
