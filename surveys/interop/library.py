"""The instrument library, shipped as data: one FHIR R4 Questionnaire per file in surveys/interop/instruments/.

Free instruments (PHQ-9, PHQ-2, GAD-7, WHO-5) carry their items in French and
English, their scoring and alert rules and their safety message, in the shape
`surveys.questionnaires.fhir.definition_from_draft` produces, so importing one is an import
like any other (`surveys.interop.imports.questionnaire_import`, format "library").
Licensed instruments (EQ-5D-5L, SF-36, PROMIS, Oxford scores) are metadata
only: their text is not ours to ship. A study holding a licence defines the
items itself, names the instrument in `Questionnaire.instrument` and must give
its licence reference before publishing (`licence_problems`).

Library metadata sits where FHIR R4 Questionnaire has elements (`publisher`,
`copyright` with its English translation, `version`, `description`; an imported
copy points back with `derivedFrom`), the rest in our extension EXT_LIBRARY:
licence kind, licence holder and URL, source publications, missing-data rule,
what a study must hold. Every file is checked when first read, and a test reads
them all, so a broken file fails the test suite instead of a user.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core import checks
from django.db import IntegrityError, transaction
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from surveys.interop.imports import ImportedQuestionnaire, ImportRefused, ImportResult, questionnaire_import
from surveys.models import Questionnaire, Study
from surveys.questionnaires import fhir
from surveys.questionnaires.validation import Problem, definition_problems
from surveys.scoring import alerts, compute

INSTRUMENTS_DIR = Path(__file__).resolve().parent / "instruments"
EXT_LIBRARY = "urn:ressenti:fhir:extension:library"
LIBRARY_URL = "urn:ressenti:instrument:"
LANGUAGES = ("fr", "en")
FREE, LICENSED = "free", "licensed"
IMPORT_FORMAT = "library"
# The file name is the questionnaire code a study gets (Questionnaire.code, a slug of 40 at most).
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class LibraryError(Exception):
    """A library data file is broken: which file, and what is wrong with it."""


@dataclass(frozen=True)
class Instrument:
    code: str
    title: dict[str, str]
    licence: dict[str, str]  # the licence / copyright notice, per language
    free: bool  # False: licensed, metadata only
    licence_holder: str
    licence_url: str
    version: str
    source: tuple[str, ...]
    publisher: str = ""
    description: str = ""
    missing_data: dict[str, str] = field(default_factory=dict)
    # What a study must hold to use a licensed instrument (empty for free ones).
    requirement: dict[str, str] = field(default_factory=dict)
    item_count: int = 0
    rules: dict = field(default_factory=dict)

    @property
    def licensed(self) -> bool:
        return not self.free

    @property
    def canonical(self) -> str:
        """The library entry as a FHIR canonical reference (url|version), kept in an import's derivedFrom."""
        return f"{LIBRARY_URL}{self.code}|{self.version}"

    def in_language(self, texts: dict[str, str], language: str) -> str:
        return texts.get(language) or texts.get("fr") or ""

    def title_in(self, language: str) -> str:
        return self.in_language(self.title, language)

    def licence_in(self, language: str) -> str:
        return self.in_language(self.licence, language)

    def requirement_in(self, language: str) -> str:
        return self.in_language(self.requirement, language)

    def missing_data_in(self, language: str) -> str:
        return self.in_language(self.missing_data, language)

    def scores_in(self, language: str) -> list[tuple[str, list[str]]]:
        """[(score label, ["0–4 Minimal", ...])] for a summary of the scoring."""
        summary = []
        for score in self.rules.get("scores", []):
            bands = [
                f"{band.get('min')}–{band.get('max')} {self.in_language(band.get('label') or {}, language)}"
                for band in score.get("bands", [])
            ]
            summary.append((self.in_language(score.get("label") or {}, language) or score.get("name", ""), bands))
        return summary


def language_now() -> str:
    """The active language among the library's (fr-ca reads fr); English otherwise."""
    code = (get_language() or "en").split("-")[0]
    return code if code in LANGUAGES else "en"


# --- reading the files ----------------------------------------------------------------------------


def _texts(node: dict, key: str, base: str) -> dict[str, str]:
    return {lang: fhir.text_in(node, key, lang, base) for lang in LANGUAGES}


def _library_parts(definition: dict) -> dict[str, list[dict]]:
    ext = next((e for e in definition.get("extension", ()) if e.get("url") == EXT_LIBRARY), None)
    parts: dict[str, list[dict]] = {}
    for part in (ext or {}).get("extension", ()):
        parts.setdefault(part.get("url", ""), []).append(part)
    return parts


def _texts_of(parts: list[dict]) -> dict[str, str]:
    """{language: text} of repeated parts, each holding `lang` and `content` (as the translation extension)."""
    found: dict[str, str] = {}
    for part in parts:
        inner = {p.get("url"): p for p in part.get("extension", ())}
        lang, content = _value(inner.get("lang")), _value(inner.get("content"))
        if lang and content:
            found[lang] = content
    return found


def _value(part: dict | None) -> str:
    if not part:
        return ""
    return next((str(v) for k, v in part.items() if k.startswith("value")), "")


def _count_questions(definition: dict) -> int:
    return sum(1 for n in fhir.iter_items(definition.get("item", [])) if n.get("type") not in ("group", "display"))


def instrument_from_definition(code: str, definition: dict) -> Instrument:
    """The library entry a definition describes; raises LibraryError naming what is missing."""

    def broken(message: str) -> LibraryError:
        return LibraryError(f"surveys/interop/instruments/{code}.json: {message}")

    if not CODE_RE.match(code):
        raise broken("the file name must be a questionnaire code: a-z, then a-z, 0-9 or _ (40 at most)")
    if definition.get("resourceType") != "Questionnaire":
        raise broken("resourceType must be Questionnaire")
    base = definition.get("language")
    if base not in LANGUAGES:
        raise broken(f"language must be one of {', '.join(LANGUAGES)}")
    if fhir.ext_value(definition, fhir.EXT_INSTRUMENT) != code:
        raise broken(f"the instrument extension ({fhir.EXT_INSTRUMENT}) must be the file name, {code}")
    if definition.get("url") != f"{LIBRARY_URL}{code}":
        raise broken(f"url must be {LIBRARY_URL}{code}")
    parts = _library_parts(definition)
    if not parts:
        raise broken(f"no library extension ({EXT_LIBRARY})")
    kind = _value(parts.get("licence", [None])[0])
    if kind not in (FREE, LICENSED):
        raise broken(f"library licence must be {FREE} or {LICENSED}, not {kind!r}")
    try:
        rules = fhir.rules_of(definition)
    except (ValueError, TypeError) as exc:
        raise broken(f"the rules extension ({fhir.EXT_RULES}) is not valid JSON: {exc}") from exc
    title = _texts(definition, "title", base)
    instrument = Instrument(
        code=code,
        title=title,
        licence=_texts(definition, "copyright", base),
        free=kind == FREE,
        licence_holder=_value(parts.get("licence-holder", [None])[0]),
        licence_url=_value(parts.get("licence-url", [None])[0]),
        version=str(definition.get("version") or ""),
        source=tuple(_value(p) for p in parts.get("source", ()) if _value(p)),
        publisher=definition.get("publisher", ""),
        description=definition.get("description", ""),
        missing_data=_texts_of(parts.get("missing-data", [])),
        requirement=_texts_of(parts.get("requirement", [])),
        item_count=_count_questions(definition),
        rules=rules if isinstance(rules, dict) else {},
    )
    for lang in LANGUAGES:
        if not instrument.title.get(lang):
            raise broken(f"title is missing in {lang}")
        if not instrument.licence.get(lang):
            raise broken(f"copyright (licence text) is missing in {lang}")
    for name in ("licence_holder", "licence_url", "version", "publisher"):
        if not getattr(instrument, name):
            raise broken(f"{name.replace('_', ' ')} is missing")
    if not instrument.source:
        raise broken("no source publication (library extension part 'source')")
    if instrument.licensed:
        if definition.get("item"):
            raise broken("a licensed instrument is metadata only: its copyrighted items are not shipped")
        if any(not instrument.requirement.get(lang) for lang in LANGUAGES):
            raise broken("a licensed instrument must say, in fr and en, what a study must hold (part 'requirement')")
    else:
        if not instrument.item_count:
            raise broken("a free instrument must carry its items")
        if any(not instrument.missing_data.get(lang) for lang in LANGUAGES):
            raise broken("a free instrument must state its missing-data rule, in fr and en (part 'missing-data')")
        problems = instrument_problems(definition)
        if problems:
            raise broken("; ".join(map(str, problems)))
    return instrument


def instrument_problems(definition: dict) -> list[Problem]:
    """What would stop this definition from being published in French and English (items, scores, alerts)."""
    languages = list(LANGUAGES)
    return (
        definition_problems(definition, languages=languages)
        + compute.scoring_problems(definition, languages=languages)
        + alerts.alert_problems(definition, languages=languages)
    )


@cache
def _library() -> dict[str, tuple[Instrument, dict]]:
    found: dict[str, tuple[Instrument, dict]] = {}
    for path in sorted(INSTRUMENTS_DIR.glob("*.json")):
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LibraryError(f"surveys/interop/instruments/{path.name}: not valid UTF-8 JSON: {exc}") from exc
        found[path.stem] = (instrument_from_definition(path.stem, definition), definition)
    return found


def instruments_list() -> list[Instrument]:
    """Every library instrument: free ones first, then licensed ones, each by code."""
    return sorted((entry for entry, _definition in _library().values()), key=lambda i: (i.licensed, i.code))


def instrument_get(code: str) -> Instrument | None:
    entry = _library().get(code)
    return entry[0] if entry else None


def instrument_definition(code: str) -> dict:
    """A copy of the instrument's FHIR Questionnaire (the caller may change it). KeyError when unknown."""
    return copy.deepcopy(_library()[code][1])


# --- import into a study -----------------------------------------------------------------------


def instrument_import(
    *, study: Study, code: str, by: AbstractBaseUser | None, questionnaire_code: str | None = None
) -> Questionnaire:
    """Create a draft of a free library instrument in `study` (the library code is its questionnaire code).

    Goes through `questionnaire_import` like every other import. Raises ImportRefused, nothing written,
    when the instrument is unknown or licensed, or when the study already uses the code.
    """
    target = questionnaire_code or code
    where = _("instrument %(code)s") % {"code": code}
    instrument = instrument_get(code)
    if instrument is None:
        raise ImportRefused([Problem(where, _("is not in the instrument library"))])
    if instrument.licensed:
        raise ImportRefused(
            [
                Problem(
                    where,
                    _(
                        "is licensed: the library does not hold its text. A study holding a licence defines the items "
                        "itself, sets its library instrument to %(code)s and gives its licence reference."
                    )
                    % {"code": code},
                )
            ]
        )
    definition = instrument_definition(code)
    # The draft's own canonical URL, as for a designed questionnaire; the library entry stays in derivedFrom.
    definition["url"] = f"urn:ressenti:questionnaire:{study.code}:{target}"
    definition["derivedFrom"] = [instrument.canonical]
    result = ImportResult(questionnaires=[ImportedQuestionnaire(code=target, definition=definition)])
    taken = Problem(
        _("questionnaire %(code)s") % {"code": target}, _("the study already has a questionnaire with this code")
    )
    if study.questionnaires.filter(code=target).exists():
        result.problems.append(taken)
    try:
        with transaction.atomic():
            (questionnaire,) = questionnaire_import(study=study, result=result, format_=IMPORT_FORMAT, by=by)
    except IntegrityError:
        # Two clicks at once: the unique (study, code) constraint lets one through.
        raise ImportRefused([taken]) from None
    return questionnaire


# --- publish rule ----------------------------------------------------------------------------


def licence_problems(definition: dict) -> list[Problem]:
    """A licensed instrument cannot be published without a licence reference."""
    code = fhir.ext_value(definition, fhir.EXT_INSTRUMENT)
    if not code:
        return []
    where = _("library instrument")
    instrument = instrument_get(str(code))
    if instrument is None:
        known = ", ".join(i.code for i in instruments_list())
        return [
            Problem(
                where,
                _(
                    "%(code)s is not in the instrument library (known: %(known)s); leave it empty "
                    "for a questionnaire of your own"
                )
                % {"code": code, "known": known},
            )
        ]
    reference = str(fhir.ext_value(definition, fhir.EXT_LICENCE_REF) or "").strip()
    if instrument.licensed and not reference:
        return [
            Problem(
                where,
                _(
                    "%(title)s is a licensed instrument (licence holder: %(holder)s): enter the study's licence reference "
                    "before publishing. Terms: %(url)s"
                )
                % {
                    "title": instrument.title_in(language_now()),
                    "holder": instrument.licence_holder,
                    "url": instrument.licence_url,
                },
            )
        ]
    return []


@checks.register("ressenti")
def library_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check` (and runserver) read every library file: a broken one is reported at start."""
    try:
        _library.cache_clear()
        _library()
    except LibraryError as exc:
        return [checks.Error(str(exc), id="surveys.E101")]
    return []
