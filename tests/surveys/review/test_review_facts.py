"""Facts shown to reviewers and designers: screens, completion time, readability in French and English."""

from __future__ import annotations

import pytest
from django.test import override_settings

from surveys.questionnaires import fhir
from surveys.review.facts import reading_ease, review_facts, syllables

EASY_EN = "Do you sleep well?"
HARD_EN = (
    "Considering the multidimensional characteristics of your psychological wellbeing, "
    "evaluate the intensity of your generalised anxiety symptomatology."
)
EASY_FR = "Dormez-vous bien ?"
HARD_FR = (
    "Considérant les caractéristiques multidimensionnelles de votre bien-être psychologique, "
    "évaluez l'intensité de votre symptomatologie anxieuse généralisée."
)


@pytest.mark.parametrize(
    ("word", "language", "expected"),
    [
        ("make", "en", 1),
        ("simple", "en", 2),
        ("wanted", "en", 2),
        ("jumped", "en", 1),
        ("boxes", "en", 2),
        ("yesterday", "en", 3),
        ("table", "fr", 1),
        ("tables", "fr", 1),
        ("humeur", "fr", 2),
        ("généralisée", "fr", 5),
        ("anxieuse", "fr", 2),
    ],
)
def test_syllables(word, language, expected):
    assert syllables(word, language) == expected


def test_reading_ease_known_sentences():
    # Short plain questions sit at the top of both scales; long technical ones far below 30 ("very difficult").
    assert reading_ease(EASY_EN, "en") > 90
    assert reading_ease(HARD_EN, "en") < 10
    assert reading_ease(EASY_FR, "fr") > 80
    assert reading_ease(HARD_FR, "fr") < 30
    # Classic Flesch example: "The cat sat on the mat." = 116 (1 sentence, 6 words, 6 syllables).
    assert reading_ease("The cat sat on the mat.", "en") == pytest.approx(206.835 - 1.015 * 6 - 84.6, abs=0.01)
    # Kandel & Moles with the same counts uses 207 and 73.6.
    assert reading_ease("Le chat dort sur le lit.", "fr") == pytest.approx(207 - 1.015 * 6 - 73.6, abs=0.01)
    assert reading_ease("", "fr") is None


def _draft(make, *, one_per_page=False):
    q = make.questionnaire(one_item_per_page=one_per_page) if one_per_page else make.questionnaire()
    s1 = make.section(questionnaire=q, link_id="p1", order=1)
    s2 = make.section(questionnaire=q, link_id="p2", order=2)
    make.item(
        questionnaire=q, link_id="sleep", section=s1, text_en=EASY_EN, text_fr=EASY_FR, options=make.YES_NO_SOMETIMES
    )
    make.item(
        questionnaire=q, link_id="anx", section=s1, text_en=HARD_EN, text_fr=HARD_FR, options=make.YES_NO_SOMETIMES
    )
    make.item(
        questionnaire=q,
        link_id="free",
        type="long_text",
        section=s2,
        text_en="Is there anything else you want to say?",
        text_fr="Voulez-vous ajouter autre chose ?",
    )
    return fhir.definition_from_draft(q)


def test_facts_of_a_draft(make):
    facts = review_facts(_draft(make))
    assert facts.screens == 2
    assert facts.questions == 3
    assert set(facts.languages) == {"fr", "en"}
    assert [i.link_id for i in facts.items] == ["sleep", "anx", "free"]
    assert facts.for_item("sleep").flagged == []
    assert facts.for_item("anx").flagged == ["fr", "en"]
    assert facts.for_item("anx").texts["fr"] == HARD_FR
    assert [i.link_id for i in facts.flagged] == ["anx"]
    # Words: ~40 in English; answers 5 + 5 + 20 s: well under two minutes, rounded up to one or two.
    assert 30 < facts.words["en"] < 60
    assert facts.minutes in (1, 2)
    assert facts.minutes == max(facts.minutes_by_language.values())


def test_one_item_per_page_counts_screens(make):
    facts = review_facts(_draft(make, one_per_page=True))
    assert facts.screens == 3


@override_settings(
    REVIEW_WORDS_PER_MINUTE=10,
    REVIEW_SECONDS_PER_ANSWER=60,
    REVIEW_SECONDS_PER_TEXT_ANSWER=60,
    REVIEW_READABILITY_MIN={"en": -1000, "fr": 110},
)
def test_settings_change_minutes_and_thresholds(make):
    definition = _draft(make)
    facts = review_facts(definition)
    # 3 answers × 1 min + words / 10 per minute, rounded up: ceil((words + 30) / 10).
    assert facts.minutes_by_language["en"] == -(-(facts.words["en"] + 30) // 10)
    assert facts.for_item("anx").flagged == ["fr"]
    assert facts.for_item("sleep").flagged == ["fr"]  # easy but the French bar is set at 110
