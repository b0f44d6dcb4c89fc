"""Every export format of a study: long and wide (CSV, Excel), .sav/.dta read back with pyreadstat,
the codebook (CSV, HTML) and FHIR NDJSON; scores and response metadata in each; codes or labels."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
import zipfile

import pytest

from surveys.exports.spec import FORMATS, ExportSpec, ExportSpecError
from surveys.exports.writers import export_count, export_filename, export_media_type, export_write
from surveys.questionnaires.publish import questionnaire_publish

RULES = {
    "scores": [
        {
            "name": "total",
            "label": {"fr": "Score total", "en": "Total score"},
            "items": ["mood"],
            "method": "sum",
            "bands": [
                {"code": "low", "min": 0, "max": 1, "label": {"fr": "Bas", "en": "Low"}},
                {"code": "high", "min": 2, "max": 2, "label": {"fr": "Haut", "en": "High"}},
            ],
        }
    ]
}


def build_study(make, *, participants: int = 2):
    """A study with the every-type questionnaire (scored), one timepoint, answered responses."""
    study = make.study(code="exp-study", languages=["fr", "en"], fallback_language="fr")
    q = make.every_type_questionnaire(study=study)
    q.rules = RULES
    q.save()
    version = questionnaire_publish(questionnaire=q, by=None)
    tp = make.timepoint(version=version, code="t0")
    site = make.site(study=study, code="nord")
    due = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    responses = []
    for n in range(participants):
        p = make.participant(study=study, pseudonym=f"EXP-{n:04d}", site=site)
        a = make.assignment(participant=p, timepoint=tp, due_at=due, invitation_channel="sms")
        answers = {
            "mood": "a2",
            "why": "tired, see note",
            "help": ["fam", "gp"],
            "smoker": True,
            "cigs": 3,
            "weight": 71.5,
            "pain": 4 + n,
            "health": 80,
            "visit": "2026-02-20",
            "drug": "paracetamol",
        }
        responses.append(
            make.response(
                assignment=a,
                status="completed",
                answers=answers,
                submitted_at=due + dt.timedelta(hours=30),
                scores={"total": {"value": 2, "band": "high"}},
            )
        )
    return study, q, version, responses


def write(spec: ExportSpec) -> tuple[bytes, object]:
    out = io.BytesIO()
    stats = export_write(spec=spec, out=out)
    return out.getvalue(), stats


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def read_stat(data: bytes, fmt: str):
    import pyreadstat

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"f.{fmt}")
        with open(path, "wb") as f:
            f.write(data)
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        return reader(path)


def test_long_csv_has_one_row_per_answer_and_score_with_metadata(make):
    study, _q, _v, _responses = build_study(make)
    data, stats = write(ExportSpec(study_id=study.pk, format="long_csv"))
    assert not data.startswith(b"\xef\xbb\xbf")  # no byte-order mark: see writers.py
    rows = read_csv(data)
    first = [r for r in rows if r["pseudonym"] == "EXP-0000"]
    by_item = {r["item"]: r["value"] for r in first}
    assert by_item["mood"] == "a2"
    assert by_item["help"] == "fam;gp"
    assert by_item["smoker"] == "1"
    assert by_item["weight"] == "71.5"
    assert by_item["visit"] == "2026-02-20"
    assert by_item["score_total"] == "2" and by_item["band_total"] == "high"
    assert "intro" not in by_item  # display items are not answers
    row = first[0]
    assert row["site"] == "nord" and row["timepoint"] == "t0" and row["occurrence"] == "1"
    assert row["version"] == "1" and row["status"] == "completed" and row["channel"] == "sms"
    assert row["due_at"] == "2026-03-02T10:00:00+01:00"  # study time zone (Europe/Paris)
    assert row["submitted_at"] == "2026-03-03T16:00:00+01:00"
    assert row["completion_delay_hours"] == "30"
    assert stats.responses == 2 and stats.participants == 2 and stats.rows == len(rows)


def test_labels_instead_of_codes_in_the_chosen_language(make):
    study, *_ = build_study(make)
    fr = {
        r["item"]: r["value"]
        for r in read_csv(write(ExportSpec(study_id=study.pk, labels=True))[0])
        if r["pseudonym"] == "EXP-0000"
    }
    assert fr["mood"] == "Souvent" and fr["help"] == "Famille;Médecin" and fr["smoker"] == "Oui"
    assert fr["band_total"] == "Haut"
    en = {
        r["item"]: r["value"]
        for r in read_csv(write(ExportSpec(study_id=study.pk, labels=True, language="en"))[0])
        if r["pseudonym"] == "EXP-0000"
    }
    assert (
        en["mood"] == "Often" and en["help"] == "Family;Doctor" and en["smoker"] == "Yes" and en["band_total"] == "High"
    )


def test_wide_csv_has_one_row_per_participant_and_timepoint(make):
    study, *_ = build_study(make)
    data, stats = write(ExportSpec(study_id=study.pk, format="wide_csv"))
    rows = read_csv(data)
    assert [r["pseudonym"] for r in rows] == ["EXP-0000", "EXP-0001"]
    header = list(rows[0])
    assert header[:11] == [
        "pseudonym",
        "site",
        "questionnaire",
        "version",
        "timepoint",
        "occurrence",
        "due_at",
        "submitted_at",
        "completion_delay_hours",
        "channel",
        "status",
    ]
    assert {"help___fam", "help___gp", "help___none", "score_total", "band_total"} <= set(header)
    assert "help" not in header  # a multiple choice is one 0/1 column per option
    r = rows[1]
    assert (r["help___fam"], r["help___gp"], r["help___none"]) == ("1", "1", "0")
    assert r["mood"] == "a2" and r["pain"] == "5" and r["smoker"] == "1" and r["score_total"] == "2"
    assert stats.rows == 2 and stats.files == 1


def test_xlsx_long_and_wide(make):
    from openpyxl import load_workbook

    study, *_ = build_study(make)
    long_book = load_workbook(io.BytesIO(write(ExportSpec(study_id=study.pk, format="long_xlsx"))[0]))
    rows = list(long_book["long"].values)
    assert rows[0][:2] == ("pseudonym", "site")
    values = {(r[0], r[-2]): r[-1] for r in rows[1:]}
    assert values[("EXP-0000", "weight")] == 71.5
    assert values[("EXP-0000", "score_total")] == 2
    due = rows[1][6]
    assert isinstance(due, dt.datetime) and due == dt.datetime(2026, 3, 2, 10, 0)  # local time of the study
    wide_book = load_workbook(io.BytesIO(write(ExportSpec(study_id=study.pk, format="wide_xlsx"))[0]))
    sheet = wide_book[wide_book.sheetnames[0]]
    header, *data = list(sheet.values)
    assert len(data) == 2 and data[0][header.index("help___fam")] == 1


def test_xlsx_keeps_typed_text_as_text_never_a_formula(make):
    from openpyxl import load_workbook

    study, _q, _v, responses = build_study(make, participants=1)
    responses[0].answers = {
        **responses[0].answers,
        "drug": '=HYPERLINK("http://x.invalid","y")',
        "why": "line\x0bbreak from a phone",
    }
    responses[0].save()
    book = load_workbook(io.BytesIO(write(ExportSpec(study_id=study.pk, format="wide_xlsx"))[0]))
    sheet = book[book.sheetnames[0]]
    header, row = list(sheet.iter_rows(values_only=False))[:2]
    cell = row[[c.value for c in header].index("drug")]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    assert row[[c.value for c in header].index("why")].value == "linebreak from a phone"  # control character dropped


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_statistics_files_carry_variable_and_value_labels(make, fmt):
    study, *_ = build_study(make)
    data, stats = write(ExportSpec(study_id=study.pk, format=fmt, labels=True, language="en"))
    frame, meta = read_stat(data, fmt)
    assert list(frame["pseudonym"]) == ["EXP-0000", "EXP-0001"]
    labels = meta.column_names_to_labels
    assert labels["mood"] == "Have you felt sad?"
    assert labels["help___gp"] == "Who helps you?: Doctor"
    assert labels["score_total"] == "Total score"
    values = meta.variable_value_labels
    assert values["mood"] == {1: "Never", 2: "Sometimes", 3: "Often"}
    assert values["smoker"] == {1: "Yes", 0: "No"}
    assert values["band_total"] == {1: "Low", 2: "High"}
    assert (
        list(frame["mood"]) == [3, 3] and list(frame["help___fam"]) == [1, 1] and list(frame["help___none"]) == [0, 0]
    )
    assert list(frame["weight"]) == [71.5, 71.5] and list(frame["score_total"]) == [2, 2]
    assert frame["due_at"][0] == dt.datetime(2026, 3, 2, 10, 0)
    assert str(frame["visit"][0])[:10] == "2026-02-20"
    assert frame["drug"][0] == "paracetamol"
    assert stats.rows == 2


def test_statistics_value_labels_show_codes_when_raw_codes_are_asked(make):
    study, *_ = build_study(make)
    _frame, meta = read_stat(write(ExportSpec(study_id=study.pk, format="sav"))[0], "sav")
    assert meta.variable_value_labels["mood"] == {1: "a0", 2: "a1", 3: "a2"}


def test_several_questionnaires_in_wide_format_are_one_file_each_in_a_zip(make):
    study, *_ = build_study(make)
    other = make.valid_questionnaire(study=study, code="short")
    version = questionnaire_publish(questionnaire=other, by=None)
    tp = make.timepoint(version=version, code="t1")
    p = study.participants.get(pseudonym="EXP-0000")
    make.response(
        assignment=make.assignment(participant=p, timepoint=tp), status="completed", answers={"mood": "a1", "pain": 2}
    )
    for fmt in ("wide_csv", "sav", "dta"):
        spec = ExportSpec(study_id=study.pk, format=fmt)
        data, stats = write(spec)
        assert export_filename(spec).endswith(".zip") and export_media_type(spec) == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert len(names) == 2 and stats.files == 2, names
        assert any("short" in n for n in names)
    one = ExportSpec(study_id=study.pk, format="wide_csv", questionnaires=["short"])
    assert export_filename(one) == "exp-study_short_wide.csv"
    rows = read_csv(write(one)[0])
    assert [r["mood"] for r in rows] == ["a1"]


def test_codebook_lists_every_variable_with_labels_options_versions_and_rules(make):
    study, *_ = build_study(make)
    rows = read_csv(write(ExportSpec(study_id=study.pk, format="codebook_csv"))[0])
    by_name = {r["variable"]: r for r in rows}
    mood = by_name["mood"]
    assert mood["label_fr"] == "Vous êtes-vous senti triste ?" and mood["label_en"] == "Have you felt sad?"
    assert mood["options"] == "a0 [1] = Jamais / Never | a1 [2] = Parfois / Sometimes | a2 [3] = Souvent / Often"
    assert mood["versions"] == "1" and mood["item_type"] == "single"
    assert by_name["help___gp"]["value_type"].startswith("0/1")
    assert "sum of mood" in by_name["score_total"]["rule"]
    assert "high: v1 2–2" in by_name["band_total"]["rule"]
    assert by_name["pseudonym"]["kind"] == "meta"
    assert by_name["pain"]["rule"] == "range 0–10" and by_name["pain"]["value_type"] == "integer"
    html = write(ExportSpec(study_id=study.pk, format="codebook_html"))[0].decode()
    assert html.startswith("<!DOCTYPE html>") and "<code>help___gp</code>" in html and "Souvent" in html


def test_fhir_ndjson_has_one_response_per_line_with_scores_and_metadata(make):
    pytest.importorskip("fhir.resources")
    study, *_ = build_study(make)
    data, stats = write(ExportSpec(study_id=study.pk, format="fhir_ndjson"))
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert len(lines) == 2 and stats.rows == 2
    resource = lines[0]
    assert resource["resourceType"] == "QuestionnaireResponse"
    assert resource["subject"]["identifier"]["value"] == "EXP-0000"
    extensions = {e["url"]: e for e in resource["extension"]}
    scores = next(json.loads(e["valueString"]) for url, e in extensions.items() if "score" in url)
    assert scores["total"]["value"] == 2
    assert extensions["urn:ressenti:fhir:extension:export-timepoint"]["valueCode"] == "t0"
    assert extensions["urn:ressenti:fhir:extension:export-channel"]["valueCode"] == "sms"
    assert extensions["urn:ressenti:fhir:extension:export-completion-delay-hours"]["valueDecimal"] == 30


def test_every_format_writes_and_counts(make):
    study, *_ = build_study(make)
    for fmt in FORMATS:
        spec = ExportSpec(study_id=study.pk, format=fmt)
        data, stats = write(spec)
        assert data and stats.bytes == len(data), fmt
        assert export_count(spec) == (0 if fmt.startswith("codebook") else 2)


def test_progress_is_reported_up_to_the_total(make):
    study, *_ = build_study(make, participants=3)
    seen = []
    export_write(
        spec=ExportSpec(study_id=study.pk, format="wide_csv"),
        out=io.BytesIO(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_a_spec_survives_a_round_trip_through_a_dict_and_refuses_nonsense():
    spec = ExportSpec(study_id=3, format="sav", questionnaires=["b", "a"], dates="shifted", sites=[2, 1])
    assert ExportSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.questionnaires == ("a", "b") and spec.sites == (1, 2)
    with pytest.raises(ExportSpecError) as caught:
        ExportSpec(study_id=3, format="pdf", dates="fuzzy").check()
    assert set(caught.value.problems) == {"format", "dates"}
    with pytest.raises(ExportSpecError) as caught:
        ExportSpec(study_id=3, format="fhir_ndjson", dates="days_since_enrolment").check()
    assert "dates" in caught.value.problems
    with pytest.raises(ExportSpecError):
        ExportSpec.from_dict({"study_id": 3, "colour": "red"})


def test_unknown_questionnaire_code_is_refused_by_name(make):
    study, *_ = build_study(make)
    with pytest.raises(ExportSpecError) as caught:
        write(ExportSpec(study_id=study.pk, questionnaires=["nope"]))
    assert "nope" in caught.value.problems["questionnaires"]


def test_a_long_excel_export_past_the_sheet_limit_goes_on_to_another_sheet(make, monkeypatch):
    from openpyxl import load_workbook

    from surveys.exports import writers

    study, *_ = build_study(make, participants=2)
    monkeypatch.setattr(writers, "XLSX_MAX_ROWS", 10)
    data, stats = write(ExportSpec(study_id=study.pk, format="long_xlsx"))
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[:2] == ["long", "long_2"]
    sheets = [list(book[name].values) for name in book.sheetnames]
    assert all(rows[0][0] == "pseudonym" and len(rows) <= 11 for rows in sheets)
    assert sum(len(rows) - 1 for rows in sheets) == stats.rows


def test_a_study_without_a_published_questionnaire_has_nothing_to_export(make):
    study = make.study()
    with pytest.raises(ExportSpecError) as caught:
        write(ExportSpec(study_id=study.pk, format="sav"))
    assert "questionnaires" in caught.value.problems
    assert write(ExportSpec(study_id=study.pk, format="codebook_csv"))[0].startswith(b"questionnaire,variable")


def test_the_file_name_says_study_questionnaire_and_format(make):
    study, *_ = build_study(make)
    q = study.questionnaires.get().code
    for fmt, name in (
        ("sav", f"exp-study_{q}_spss.sav"),
        ("dta", f"exp-study_{q}_stata.dta"),
        ("long_csv", "exp-study_long.csv"),
        ("wide_xlsx", "exp-study_wide.xlsx"),
        ("fhir_ndjson", "exp-study_fhir.ndjson"),
        ("codebook_html", "exp-study_codebook.html"),
    ):
        spec = ExportSpec(study_id=study.pk, format=fmt)
        assert export_filename(spec) == name
        assert write(spec)[1].file_names == [name]
    assert export_media_type(ExportSpec(study_id=study.pk, format="fhir_ndjson")) == "application/fhir+ndjson"


def test_responses_in_progress_are_exported_with_their_status_unless_completed_only(make):
    study, _q, _v, responses = build_study(make, participants=2)
    started = responses[1]
    started.status, started.submitted_at = "in_progress", None
    started.answers = {"mood": "a0"}  # nothing else answered yet
    started.save()
    rows = {r["pseudonym"]: r for r in read_csv(write(ExportSpec(study_id=study.pk, format="wide_csv"))[0])}
    partial = rows["EXP-0001"]
    assert partial["status"] == "in_progress" and partial["submitted_at"] == ""
    assert partial["completion_delay_hours"] == "" and partial["mood"] == "a0"
    # Unanswered is empty, never 0: a number, a yes/no, and every column of a multiple choice.
    assert partial["pain"] == "" and partial["smoker"] == ""
    assert (partial["help___fam"], partial["help___gp"], partial["help___none"]) == ("", "", "")
    done = read_csv(write(ExportSpec(study_id=study.pk, format="wide_csv", completed_only=True))[0])
    assert [r["pseudonym"] for r in done] == ["EXP-0000"]
