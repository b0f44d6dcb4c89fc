"""Library instruments score as published, at every band edge (surveys.scoring.compute.scores_compute).

Answers are built from the instruments' own files: for each item the option code whose score is
wanted, as a patient's page would store it, so the test also checks the option scores.
"""

from __future__ import annotations

import pytest

from surveys.answering.submit import response_save_page, response_submit
from surveys.interop import library
from surveys.models import Alert
from surveys.questionnaires import fhir
from surveys.questionnaires.publish import questionnaire_publish
from surveys.scoring.compute import scores_compute


def scored_items(code: str) -> list[dict]:
    rules = fhir.rules_of(library.instrument_definition(code))
    wanted = rules["scores"][0]["items"]
    nodes = {n["linkId"]: n for n in fhir.iter_items(library.instrument_definition(code)["item"])}
    return [nodes[link_id] for link_id in wanted]


def option_for(node: dict, score: int) -> str:
    """The code of the option scoring `score` on this item (ordinalValue)."""
    found = [fhir.option_code(o) for o in node["answerOption"] if fhir.ext_value(o, fhir.EXT_ORDINAL) == score]
    assert len(found) == 1, (node["linkId"], score)
    return found[0]


def answers(code: str, values: list[int | None]) -> dict:
    """{linkId: option code} for these item scores, in item order; None leaves the item unanswered."""
    items = scored_items(code)
    assert len(values) == len(items)
    return {node["linkId"]: option_for(node, v) for node, v in zip(items, values, strict=True) if v is not None}


def spread(total: int, n_items: int, top: int) -> list[int]:
    """Item scores (each 0..top) adding up to `total`: the highest first, as a patient might answer."""
    assert 0 <= total <= n_items * top
    values = []
    for _index in range(n_items):
        values.append(min(top, total))
        total -= values[-1]
    return values


def total_of(code: str, values: list[int | None]) -> dict:
    return scores_compute(library.instrument_definition(code), answers(code, values))["total"]


# --- PHQ-9: Kroenke 2001, 0-4 / 5-9 / 10-14 / 15-19 / 20-27 --------------------------------------

PHQ9_EDGES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately_severe"),
    (19, "moderately_severe"),
    (20, "severe"),
    (27, "severe"),
]


@pytest.mark.parametrize(("total", "band"), PHQ9_EDGES)
def test_phq9_band_edges(total, band):
    for values in (spread(total, 9, 3), list(reversed(spread(total, 9, 3)))):
        score = total_of("phq9", values)
        assert (score["value"], score["band"]) == (total, band)
        assert score["answered"] == 9 and score["of"] == 9 and not score["prorated"]


def test_phq9_band_labels_are_the_published_severities():
    bands = fhir.rules_of(library.instrument_definition("phq9"))["scores"][0]["bands"]
    assert [(b["min"], b["max"], b["label"]["en"]) for b in bands] == [
        (0, 4, "None to minimal"),
        (5, 9, "Mild"),
        (10, 14, "Moderate"),
        (15, 19, "Moderately severe"),
        (20, 27, "Severe"),
    ]


def test_phq9_difficulty_question_is_not_scored():
    values = spread(12, 9, 3)
    with_difficulty = {**answers("phq9", values), "phq9_10": "d3"}
    assert scores_compute(library.instrument_definition("phq9"), with_difficulty)["total"]["value"] == 12


# Proration (Arrieta 2017): up to 2 of 9 missing, sum x 9 / answered, rounded half away from zero.
@pytest.mark.parametrize(
    ("values", "value", "band"),
    [
        ([1, 1, 1, 1, 1, 1, 1, 1, None], 9, "mild"),  # 8 x 9 / 8
        ([1, 1, 1, 1, 0, 0, 0, 0, None], 5, "mild"),  # 4 x 9 / 8 = 4.5 -> 5: crosses the 4/5 edge
        ([3, 3, 3, 3, 0, 0, 0, 0, None], 14, "moderate"),  # 12 x 9 / 8 = 13.5 -> 14
        ([3, 3, 3, 3, 3, 3, 2, None, None], 26, "severe"),  # 20 x 9 / 7 = 25.71 -> 26
        ([3, 3, 3, 3, 3, 3, 3, None, None], 27, "severe"),  # 21 x 9 / 7
        ([None, 2, 2, 2, 1, 1, 1, 1, None], 13, "moderate"),  # 10 x 9 / 7 = 12.86 -> 13
        ([0, 0, 0, 0, 0, 0, 0, None, None], 0, "minimal"),
    ],
)
def test_phq9_prorates_up_to_two_missing_items(values, value, band):
    score = total_of("phq9", values)
    assert (score["value"], score["band"], score["prorated"]) == (value, band, True)
    assert score["answered"] == sum(v is not None for v in values) and score["of"] == 9


def test_phq9_with_three_missing_items_has_no_score_never_a_zero():
    score = total_of("phq9", [3, 3, 3, 3, 3, 3, None, None, None])
    assert score["value"] is None and score["reason"] == "too_few_answers"
    assert score.get("band") is None and score["answered"] == 6


# --- GAD-7: Spitzer 2006, 0-4 / 5-9 / 10-14 / 15-21 ---------------------------------------------

GAD7_EDGES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]


@pytest.mark.parametrize(("total", "band"), GAD7_EDGES)
def test_gad7_band_edges(total, band):
    for values in (spread(total, 7, 3), list(reversed(spread(total, 7, 3)))):
        score = total_of("gad7", values)
        assert (score["value"], score["band"]) == (total, band)


def test_gad7_is_not_prorated():
    score = total_of("gad7", [3, 3, 3, 3, 3, 3, None])
    assert score["value"] is None and score["reason"] == "too_few_answers"


# --- PHQ-2: Kroenke 2003, 0-6, 3 or more is a positive screen ------------------------------------


@pytest.mark.parametrize(
    ("values", "band"),
    [
        ([0, 0], "negative"),
        ([1, 1], "negative"),
        ([2, 0], "negative"),
        ([0, 2], "negative"),
        ([2, 1], "positive"),
        ([0, 3], "positive"),
        ([3, 3], "positive"),
    ],
)
def test_phq2_cut_off_between_2_and_3(values, band):
    score = total_of("phq2", values)
    assert (score["value"], score["band"]) == (sum(values), band)


def test_phq2_uses_the_first_two_phq9_items():
    phq2 = scored_items("phq2")
    phq9 = scored_items("phq9")[:2]
    assert [n["text"] for n in phq2] == [n["text"] for n in phq9]
    assert total_of("phq2", [3, None])["value"] is None


# --- WHO-5: raw 0-25 x 4; <= 50 poor well-being, <= 28 likely depression (Topp 2015) --------------


@pytest.mark.parametrize(
    ("raw", "band"),
    [
        (0, "likely_depression"),
        (7, "likely_depression"),  # 28
        (8, "poor_wellbeing"),
        (12, "poor_wellbeing"),  # 32, 48: the WHO's "raw below 13"
        (13, "not_poor"),
        (25, "not_poor"),  # 52, 100
    ],
)
def test_who5_is_raw_times_four_with_its_cut_offs(raw, band):
    score = total_of("who5", spread(raw, 5, 5))
    assert (score["raw"], score["value"], score["band"]) == (raw, raw * 4, band)


def test_who5_options_score_5_for_all_of_the_time_down_to_0():
    node = scored_items("who5")[0]
    labels = [
        (
            o["valueCoding"]["_display"]["extension"][0]["extension"][1]["valueString"],
            fhir.ext_value(o, fhir.EXT_ORDINAL),
        )
        for o in node["answerOption"]
    ]
    assert labels == [
        ("All of the time", 5),
        ("Most of the time", 4),
        ("More than half of the time", 3),
        ("Less than half of the time", 2),
        ("Some of the time", 1),
        ("At no time", 0),
    ]
    assert total_of("who5", [5, 5, 5, 5, None])["value"] is None


# --- end to end: a patient answers an imported PHQ-9 ----------------------------------------------


def test_submitted_phq9_from_the_library_stores_its_score_and_raises_the_item9_alert(make):
    study = make.study()
    questionnaire = library.instrument_import(study=study, code="phq9", by=None)
    version = questionnaire_publish(questionnaire=questionnaire, by=None)
    _token, assignment = make.open_link(version=version)
    given = answers("phq9", [2, 2, 2, 2, 2, 2, 2, 2, 1])  # 17, item 9 "several days"
    response_save_page(assignment=assignment, answers=given, page_index=0, advance=True)
    response = response_submit(assignment=assignment)

    assert response.scores["total"]["value"] == 17
    assert response.scores["total"]["band"] == "moderately_severe"
    assert set(Alert.objects.filter(response=response).values_list("rule", flat=True)) == {"phq9_item9"}
