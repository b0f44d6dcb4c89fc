"""Facts about a definition for reviewers and designers: screens, completion time, readability.

Pure functions over a FHIR definition (a draft's, a round's frozen one, or a published version's).

Completion time model (a planning estimate, not a measurement):
    minutes = ceil(words / REVIEW_WORDS_PER_MINUTE + answers * seconds per answer / 60)
- Reading: 200 words per minute by default. Adults read non-fiction silently at about 238 words per minute on
  average (Brysbaert M., "How many words do we read per minute?", J. Memory and Language 109, 2019); older and
  less practised readers are slower, hence a lower default.
- Answering: a few seconds per closed answer (choice, number, scale, date), longer for free text
  (REVIEW_SECONDS_PER_ANSWER = 5, REVIEW_SECONDS_PER_TEXT_ANSWER = 20 by default).
Words are those a patient reads: item texts, help texts, answer labels and page titles, in each language.

Readability (higher = easier, roughly 0–100):
- English: Flesch reading ease = 206.835 − 1.015 × words/sentence − 84.6 × syllables/word (Flesch R.,
  "A new readability yardstick", J. Applied Psychology 32, 1948).
- French: Kandel & Moles = 207 − 1.015 × words/sentence − 73.6 × syllables/word (Kandel L., Moles A.,
  "Application de l'indice de Flesch à la langue française", Cahiers Études de Radio-Télévision 19, 1958).
Syllables are counted by vowel groups with a per-language rule for silent endings: a heuristic, good enough to
rank items, not a linguistic analysis. An item is flagged when its score is below REVIEW_READABILITY_MIN
(default 60 for both languages: "plain" text on the Flesch scale starts at 60).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from django.conf import settings

from surveys.answering import rendering
from surveys.models import Item
from surveys.questionnaires import conditions, fhir, values

T = Item.Type

# Elisions stay in the word ("l'humeur", "don't"); hyphens separate words ("dormez-vous", "well-being").
WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
SENTENCE_END_RE = re.compile(r"[.!?;…]+|\n+")
VOWELS = {
    "en": "aeiouy",
    "fr": "aeiouyàâäéèêëîïôöùûüÿœæ",
}


def _setting(name: str, default):
    return getattr(settings, name, default)


def words_per_minute() -> float:
    return float(_setting("REVIEW_WORDS_PER_MINUTE", 200))


def readability_min(language: str) -> float:
    limits = {"en": 60, "fr": 60, **_setting("REVIEW_READABILITY_MIN", {})}
    return float(limits.get(language, 60))


def words_of(text: str) -> list[str]:
    return WORD_RE.findall(text or "")


def sentence_count(text: str) -> int:
    """Sentences: runs of text between end marks; a question without a final mark is still one sentence."""
    parts = [p for p in SENTENCE_END_RE.split(text or "") if words_of(p)]
    return max(1, len(parts))


def syllables(word: str, language: str) -> int:
    w = word.lower().replace("’", "'")
    vowels = VOWELS.get(language, VOWELS["en"])
    groups = re.findall(f"[{vowels}]+", w)
    count = len(groups)
    if language == "fr":
        # Final mute e ("table", "tables") is not a syllable in ordinary speech; "-ent" of verbs neither,
        # but that cannot be told from adverbs/nouns ("souvent") without a dictionary, so it is left counted.
        if count > 1 and re.search(f"[^{vowels}]es?$", w):
            count -= 1
    else:
        # Silent final e ("make"), except consonant + "le" ("simple"); "-ed" after t/d is voiced ("wanted").
        if count > 1 and w.endswith("e") and not re.search(f"[^{vowels}]le$", w):
            count -= 1
        elif count > 1 and w.endswith("ed") and not re.search(r"[td]ed$", w):
            count -= 1
        # "-es" is silent except after s, x, z, ch, sh, g, c ("boxes", "changes").
        elif count > 1 and w.endswith("es") and not re.search(r"(s|x|z|ch|sh|g|c)es$", w):
            count -= 1
    return max(1, count)


def reading_ease(text: str, language: str) -> float | None:
    """Flesch reading ease (English) or Kandel & Moles (French); None when there is no word to score."""
    words = words_of(text)
    if not words:
        return None
    per_sentence = len(words) / sentence_count(text)
    per_word = sum(syllables(w, language) for w in words) / len(words)
    if language == "fr":
        return 207 - 1.015 * per_sentence - 73.6 * per_word
    return 206.835 - 1.015 * per_sentence - 84.6 * per_word


@dataclass
class ItemFacts:
    link_id: str
    kind: str
    texts: dict[str, str]  # language → item text (help text appended)
    ease: dict[str, float | None]  # language → readability score
    flagged: list[str] = field(default_factory=list)  # languages whose score is below the threshold

    def ease_rounded(self, language: str) -> int | None:
        value = self.ease.get(language)
        return None if value is None else round(value)


@dataclass
class ReviewFacts:
    screens: int
    questions: int
    words: dict[str, int]  # language → words read
    minutes_by_language: dict[str, int]
    minutes: int  # the longest of the languages, rounded up
    items: list[ItemFacts]
    languages: list[str]
    thresholds: dict[str, float]

    @property
    def flagged(self) -> list[ItemFacts]:
        return [i for i in self.items if i.flagged]

    def for_item(self, link_id: str) -> ItemFacts | None:
        return next((i for i in self.items if i.link_id == link_id), None)


def _help_text(node: dict, language: str, base: str) -> str:
    help_node = next((c for c in node.get("item", []) if fhir.item_control(c) == "help"), None)
    return fhir.text_in(help_node, "text", language, base) if help_node else ""


def _answer_seconds(node: dict) -> float:
    if fhir.item_type(node) in values.TEXT_TYPES:
        return float(_setting("REVIEW_SECONDS_PER_TEXT_ANSWER", 20))
    return float(_setting("REVIEW_SECONDS_PER_ANSWER", 5))


def review_facts(definition: dict) -> ReviewFacts:
    base = definition.get("language", "fr")
    languages = [lang for lang in ("fr", "en") if lang in fhir.definition_languages(definition)] or [base]
    pages = rendering.build_pages(definition, base)
    asked = [node for page in pages for node in page.nodes]
    questions = [n for n in asked if fhir.item_type(n) != T.DISPLAY]

    items: list[ItemFacts] = []
    for node in fhir.iter_items(definition.get("item", [])):
        if node.get("type") == "group" or conditions.not_asked(node):
            continue
        texts, ease, flagged = {}, {}, []
        for lang in languages:
            text = " ".join(t for t in (fhir.text_in(node, "text", lang, base), _help_text(node, lang, base)) if t)
            texts[lang] = text
            ease[lang] = reading_ease(text, lang)
            if ease[lang] is not None and ease[lang] < readability_min(lang):
                flagged.append(lang)
        items.append(ItemFacts(node.get("linkId", ""), fhir.item_type(node), texts, ease, flagged))

    words: dict[str, int] = {}
    minutes: dict[str, int] = {}
    answer_seconds = sum(_answer_seconds(n) for n in questions)
    for lang in languages:
        # Page titles are read once per page (one-item-per-page repeats them; they are glanced at, not reread).
        count = sum(len(words_of(title)) for title in {p.title for p in rendering.build_pages(definition, lang)})
        for node in asked:
            count += len(words_of(fhir.localized(node, "text", lang, base)))
            count += len(words_of(_help_text(node, lang, base)))
            for option in node.get("answerOption", []):
                count += len(words_of(fhir.localized(option.get("valueCoding", {}), "display", lang, base)))
        words[lang] = count
        minutes[lang] = max(1, math.ceil(count / words_per_minute() + answer_seconds / 60))
    return ReviewFacts(
        screens=len(pages),
        questions=len(questions),
        words=words,
        minutes_by_language=minutes,
        minutes=max(minutes.values()),
        items=items,
        languages=languages,
        thresholds={lang: readability_min(lang) for lang in languages},
    )
