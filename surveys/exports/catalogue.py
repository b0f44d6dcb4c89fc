"""The variables of an export: every questionnaire over all its published versions.

Columns come from the frozen definitions only, never from the data, so two exports of the same
study have the same columns whatever was answered. Items are keyed by linkId and options by code
(both frozen once created): an item or an option added or removed in a later version adds its own
column and never shifts another. The order is questionnaire order, an item new in a later version
placed after the item it follows there. Options and bands are numbered once, in order of first
appearance over the versions (or by their own value when every code is a whole number, as REDCap
codes are): these numbers are the values of .sav/.dta files and never change when a version is added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from surveys.exports.spec import ExportSpec, ExportSpecError
from surveys.models import Item, Questionnaire, QuestionnaireVersion, Study
from surveys.questionnaires import fhir, values

T = Item.Type
FREE_TEXT_TYPES = frozenset({T.SHORT_TEXT, T.LONG_TEXT})
SKIPPED_FHIR_TYPES = frozenset({"group", "display"})


def _labels(node: dict, key: str, languages: list[str], base: str) -> dict[str, str]:
    return {lang: fhir.localized(node, key, lang, base) for lang in languages}


def _numbering(codes: list[str]) -> dict[str, int]:
    """Numbers for codes in order of first appearance; their own value when all are whole numbers."""
    try:
        own = {code: int(code) for code in codes}
    except ValueError:
        return {code: i for i, code in enumerate(codes, start=1)}
    return own if len(set(own.values())) == len(own) else {code: i for i, code in enumerate(codes, start=1)}


def _insert_after(order: list[str], new: str, previous: str | None) -> None:
    order.insert(order.index(previous) + 1 if previous in order else len(order), new)


@dataclass
class OptionVar:
    code: str
    labels: dict[str, str]
    versions: list[int] = field(default_factory=list)
    number: int = 0
    score: Any = None


@dataclass
class ItemVar:
    link_id: str
    type: str
    labels: dict[str, str]
    versions: list[int] = field(default_factory=list)
    options: dict[str, OptionVar] = field(default_factory=dict)
    option_order: list[str] = field(default_factory=list)
    # Option codes of each version (version id -> codes): an option absent from a version is empty
    # in that version's rows, not 0.
    codes_by_version: dict[int, frozenset[str]] = field(default_factory=dict)
    open_choice: bool = False
    minimum: Any = None
    maximum: Any = None

    @property
    def is_choice(self) -> bool:
        return self.type in (T.SINGLE, T.MULTIPLE)

    @property
    def is_multiple(self) -> bool:
        return self.type == T.MULTIPLE

    @property
    def is_free_text(self) -> bool:
        return self.type in FREE_TEXT_TYPES

    def ordered_options(self) -> list[OptionVar]:
        return [self.options[code] for code in self.option_order]

    def option_column(self, code: str) -> str:
        # As REDCap does: a minus sign in a code (-99) becomes "_", so the column name stays a name.
        return f"{self.link_id}___{code.replace('-', '_')}"

    @property
    def other_column(self) -> str:
        return f"{self.link_id}_other"


@dataclass
class BandVar:
    code: str
    labels: dict[str, str]
    number: int = 0
    # "min–max" by version number, as the rules said.
    limits: dict[int, str] = field(default_factory=dict)


@dataclass
class ScoreVar:
    name: str
    labels: dict[str, str]
    versions: list[int] = field(default_factory=list)
    bands: dict[str, BandVar] = field(default_factory=dict)
    band_order: list[str] = field(default_factory=list)
    # Rule summary by version number.
    rules: dict[int, str] = field(default_factory=dict)

    @property
    def column(self) -> str:
        return f"score_{self.name}"

    @property
    def band_column(self) -> str:
        return f"band_{self.name}"

    def ordered_bands(self) -> list[BandVar]:
        return [self.bands[code] for code in self.band_order]


@dataclass
class QuestionnaireCatalogue:
    code: str
    questionnaire_id: int
    titles: dict[str, str]
    languages: list[str]
    # (version id, version number), oldest first.
    versions: list[tuple[int, int]] = field(default_factory=list)
    items: dict[str, ItemVar] = field(default_factory=dict)
    item_order: list[str] = field(default_factory=list)
    scores: dict[str, ScoreVar] = field(default_factory=dict)
    score_order: list[str] = field(default_factory=list)
    # linkIds of each version (version id -> linkIds).
    items_by_version: dict[int, frozenset[str]] = field(default_factory=dict)
    number_of_version: dict[int, int] = field(default_factory=dict)

    def ordered_items(self, *, exclude_free_text: bool = False) -> list[ItemVar]:
        items = [self.items[code] for code in self.item_order]
        return [i for i in items if not (exclude_free_text and i.is_free_text)]

    def ordered_scores(self) -> list[ScoreVar]:
        return [self.scores[name] for name in self.score_order]


def _rule_summary(rule: dict, languages: list[str]) -> str:
    """One line a statistician can check against the instrument's manual."""
    parts = [f"{rule.get('method', 'sum')} of {', '.join(rule.get('items', []) + rule.get('scores', []))}"]
    if rule.get("reverse"):
        parts.append(f"reversed: {', '.join(rule['reverse'])}")
    if "min_answered" in rule:
        parts.append(f"at least {rule['min_answered']} answered")
    parts.append(f"missing: {rule.get('missing', 'none')}")
    if rule.get("lookup"):
        parts.append(f"lookup table of {len(rule['lookup'])} values")
    if rule.get("transform"):
        t = rule["transform"]
        parts.append(f"× {t.get('multiply', 1)} + {t.get('add', 0)}")
    if "round" in rule:
        parts.append(f"rounded to {rule['round']} decimals")
    return "; ".join(parts)


def questionnaire_catalogue(questionnaire: Questionnaire, *, languages: list[str]) -> QuestionnaireCatalogue:
    versions = list(
        QuestionnaireVersion.objects.filter(questionnaire=questionnaire)
        .order_by("number")
        .values_list("pk", "number", "definition")
    )
    cat = QuestionnaireCatalogue(
        code=questionnaire.code,
        questionnaire_id=questionnaire.pk,
        languages=languages,
        titles={lang: getattr(questionnaire, f"title_{lang}", "") or questionnaire.code for lang in languages},
    )
    for version_id, number, definition in versions:
        cat.versions.append((version_id, number))
        cat.number_of_version[version_id] = number
        base = definition.get("language", languages[0])
        if definition.get("title"):
            cat.titles = _labels(definition, "title", languages, base)
        seen: list[str] = []
        previous: str | None = None
        for node in fhir.iter_items(definition.get("item", [])):
            if node.get("type") in SKIPPED_FHIR_TYPES:
                continue
            link_id = node.get("linkId", "")
            seen.append(link_id)
            kind = fhir.item_type(node)
            item = cat.items.get(link_id)
            if item is None:
                item = ItemVar(link_id=link_id, type=kind, labels={})
                cat.items[link_id] = item
                _insert_after(cat.item_order, link_id, previous)
            # The newest version's wording and type describe the variable.
            item.type = kind
            item.labels = _labels(node, "text", languages, base)
            item.versions.append(number)
            item.open_choice = item.open_choice or node.get("type") == "open-choice"
            item.minimum = fhir.ext_value(node, fhir.EXT_MIN, item.minimum)
            item.maximum = fhir.ext_value(node, fhir.EXT_MAX, item.maximum)
            codes = []
            option_previous: str | None = None
            for option in node.get("answerOption", []):
                code = fhir.option_code(option)
                codes.append(code)
                coding = option.get("valueCoding", {})
                labels = _labels(coding, "display", languages, base) if coding.get("display") else {}
                labels = {lang: labels.get(lang) or code for lang in languages}
                var = item.options.get(code)
                if var is None:
                    var = OptionVar(code=code, labels=labels)
                    item.options[code] = var
                    _insert_after(item.option_order, code, option_previous)
                var.labels = labels
                var.versions.append(number)
                score = values.option_score(option)
                if score is not None:
                    var.score = int(score) if score == score.to_integral_value() else float(score)
                option_previous = code
            item.codes_by_version[version_id] = frozenset(codes)
            previous = link_id
        cat.items_by_version[version_id] = frozenset(seen)
        for rule in fhir.rules_of(definition).get("scores", []):
            name = rule.get("name", "")
            score = cat.scores.get(name)
            if score is None:
                score = ScoreVar(name=name, labels={})
                cat.scores[name] = score
                cat.score_order.append(name)
            score.labels = {lang: (rule.get("label") or {}).get(lang) or name for lang in languages}
            score.versions.append(number)
            score.rules[number] = _rule_summary(rule, languages)
            for band in rule.get("bands", []):
                code = str(band.get("code", ""))
                var = score.bands.get(code)
                if var is None:
                    var = BandVar(code=code, labels={})
                    score.bands[code] = var
                    score.band_order.append(code)
                var.labels = {lang: (band.get("label") or {}).get(lang) or code for lang in languages}
                var.limits[number] = f"{band.get('min')}–{band.get('max')}"
    # Numbers by first appearance (the order of the dicts), not by display order.
    for item in cat.items.values():
        for code, number in _numbering(list(item.options)).items():
            item.options[code].number = number
    for score in cat.scores.values():
        for code, number in _numbering(list(score.bands)).items():
            score.bands[code].number = number
    return cat


def export_questionnaires(spec: ExportSpec) -> list[Questionnaire]:
    """The questionnaires of the export, in code order; unknown codes are refused by name."""
    study = Study.objects.get(pk=spec.study_id)
    published = Questionnaire.objects.filter(study=study, versions__isnull=False).distinct().order_by("code")
    if spec.questionnaires:
        found = list(published.filter(code__in=spec.questionnaires))
        missing = sorted(set(spec.questionnaires) - {q.code for q in found})
        if missing:
            raise ExportSpecError(
                {
                    "questionnaires": _("No published questionnaire %(codes)s in this study.")
                    % {"codes": ", ".join(missing)}
                }
            )
        return found
    # The eligibility questionnaire keeps no answers (pre-screening stores nothing): left out unless asked.
    screening = study.screening_version.questionnaire_id if study.screening_version_id else None
    return [q for q in published if q.pk != screening]


def yes_no_labels(language: str) -> dict[bool, str]:
    with translation.override(language):
        return {True: _("Yes"), False: _("No")}
