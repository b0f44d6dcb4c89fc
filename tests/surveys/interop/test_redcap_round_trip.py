"""FHIR questionnaires from the wild through REDCap and back: FHIR import, publish, REDCap dictionary export,
REDCap import. The same items come back, with their types and option codes (mapped back from REDCap's codes).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from surveys.interop.imports import import_parse, questionnaire_import
from surveys.interop.redcap.dictionary_export import dictionary_export, redcap_choice_codes
from surveys.interop.redcap.fields import REDCAP_CODE, codebook_lines, codebook_read
from surveys.questionnaires import fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.conftest import need_service
from tests.paths import DATA, PUBLIC_FIXTURES


def fhir_files() -> list[Path]:
    folders = [DATA / "public" / "fhir", PUBLIC_FIXTURES / "fhir"]
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*.json"))


def shape(definition: dict) -> list[tuple[str, str, list[str]]]:
    """(linkId, our item type, option codes) of every item a patient sees, help texts and groups aside."""
    return [
        (str(n["linkId"]), fhir.item_type(n), [fhir.option_code(o) for o in n.get("answerOption", [])])
        for n in fhir.iter_items(definition.get("item", []))
        if n.get("type") != "group" and fhir.item_control(n) != "help"
    ]


@pytest.mark.parametrize("path", fhir_files(), ids=lambda p: p.name)
def test_a_fhir_questionnaire_goes_to_redcap_and_back(make, path):
    study = make.study(code="trip", languages=["en"], fallback_language="en")
    parsed = import_parse(format_="fhir", content=path.read_bytes(), study=study, code="src")
    if not parsed.ok:
        pytest.skip(f"not importable as FHIR here: {parsed.problems[0]}")
    (source,) = questionnaire_import(study=study, result=parsed, format_="fhir", by=None)
    version = questionnaire_publish(questionnaire=source, by=None)
    exported = dictionary_export(version)
    rows = list(csv.reader(io.StringIO(exported)))
    for row in rows[1:]:
        if row[3] in ("radio", "dropdown", "checkbox"):
            for choice in row[5].split("|"):
                code = choice.split(",", 1)[0].strip()
                assert REDCAP_CODE.fullmatch(code), (row[0], code)
    back = import_parse(format_="redcap", content=exported.encode(), study=study, prefix="back_")
    assert back.ok, [str(p) for p in back.problems]
    (again,) = back.questionnaires
    assert shape(again.definition) == shape(version.definition)
    # An answer to the original is an answer to the questionnaire that came back, stored the same.
    returned = {str(n["linkId"]): n for n in fhir.iter_items(again.definition["item"])}
    for node in fhir.iter_items(version.definition.get("item", [])):
        for option in node.get("answerOption", []):
            code = fhir.option_code(option)
            assert values.parse(returned[node["linkId"]], [code]) == values.parse(node, [code]), (node["linkId"], code)


def test_recoded_choices_are_written_in_the_annotation(make):
    study = make.study(code="trip", languages=["en"], fallback_language="en")
    path = PUBLIC_FIXTURES / "fhir" / "phq9.json"
    need_service("public fixtures", path.exists(), f"{path} is absent (set RESSENTI_PUBLIC_FIXTURES)")
    parsed = import_parse(format_="fhir", content=path.read_bytes(), study=study)
    (source,) = questionnaire_import(study=study, result=parsed, format_="fhir", by=None)
    rows = {
        r[0]: r
        for r in csv.reader(io.StringIO(dictionary_export(questionnaire_publish(questionnaire=source, by=None))))
    }
    # LOINC answer codes (LA6568-5...) are not REDCap codes: each option's score (0-3) is its REDCap code, so
    # REDCap's sums add what the questionnaire scores.
    first = rows["v_44250_9"]
    assert first[5].startswith("0, Not at all | 1, Several days")
    assert 'Ressenti linkId: "/44250-9"' in first[17]
    assert 'Ressenti codes (REDCap = Ressenti): {"0": "LA6568-5", "1": "LA6569-3"' in first[17]


@pytest.mark.parametrize(
    ("codes", "scores", "redcap"),
    [
        (["a", "b_2", "-3"], [None, None, None], ["a", "b_2", "-3"]),  # REDCap takes them: unchanged
        (["LA6568-5", "LA6569-3"], [0, 1], ["0", "1"]),  # scores, distinct whole numbers
        (["2022-09", "2022-10"], [None, None], ["1", "2"]),  # dates: 1, 2... in order
        (["x.1", "x.2"], [1, 1], ["1", "2"]),  # shared scores cannot be codes
        (["a b", "c"], [0.5, 1], ["1", "2"]),
    ],
)
def test_choice_codes_that_redcap_refuses_are_recoded(codes, scores, redcap):
    node = {
        "linkId": "q",
        "type": "choice",
        "answerOption": [
            {
                "valueCoding": {"code": c},
                **({"extension": [{"url": fhir.EXT_ORDINAL, "valueDecimal": s}]} if s is not None else {}),
            }
            for c, s in zip(codes, scores, strict=True)
        ],
    }
    mapping = redcap_choice_codes(node)
    assert [mapping[c] for c in codes] == redcap
    assert all(REDCAP_CODE.fullmatch(c) for c in mapping.values())
    lines = codebook_lines(link_id="/q-1", codes={r: c for c, r in mapping.items() if r != c})
    assert codebook_read("@HIDDEN\n" + "\n".join(lines)) == (
        "@HIDDEN",
        "/q-1",
        {r: c for c, r in mapping.items() if r != c},
    )


def test_times_and_dates_with_times_go_to_redcap_and_back(make):
    # The public files with time and dateTime items (android-fhir's pickers) lack a status, which FHIR R4
    # requires, so the FHIR import refuses them: the same items, written here.
    study = make.study(code="trip", languages=["en"], fallback_language="en")
    definition = {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Times",
        "item": [
            {"linkId": "time-of-meal", "type": "time", "text": "When did you eat?"},
            {"linkId": "seen.at", "type": "dateTime", "text": "When were you seen?"},
            {"linkId": "day", "type": "date", "text": "Which day?"},
        ],
    }
    parsed = import_parse(format_="fhir", content=json.dumps(definition).encode(), study=study, code="src")
    assert parsed.ok, parsed.problems
    (source,) = questionnaire_import(study=study, result=parsed, format_="fhir", by=None)
    version = questionnaire_publish(questionnaire=source, by=None)
    exported = dictionary_export(version)
    rows = {r[0]: r for r in csv.reader(io.StringIO(exported))}
    assert rows["time_of_meal"][7] == "time" and rows["seen_at"][7] == "datetime_ymd" and rows["day"][7] == "date_ymd"
    back = import_parse(format_="redcap", content=exported.encode(), study=study, prefix="back_")
    assert back.ok, back.problems
    assert shape(back.questionnaires[0].definition) == shape(version.definition)
