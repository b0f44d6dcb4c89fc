"""FHIR R4 Questionnaire shape: the frozen form of a questionnaire.

`definition_from_draft` turns the draft rows into the definition that gets
published; `draft_spec_from_definition` goes back (copying a version into a
draft). Patient pages, previews, scoring and exports read only definitions, so
they work the same on a draft preview, a published version or an imported file.

Our own item type rides in an extension so the round trip is exact; the
standard FHIR fields (type, answerOption, minValue, itemControl) are filled too
so that other FHIR tools read the file correctly.
"""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from typing import Any

from surveys.models import Item, Questionnaire

EXT_ITEM_TYPE = "urn:ressenti:fhir:extension:item-type"
EXT_KIND = "urn:ressenti:fhir:extension:questionnaire-kind"
EXT_ONE_PER_PAGE = "urn:ressenti:fhir:extension:one-item-per-page"
EXT_INTRO = "urn:ressenti:fhir:extension:introduction"
# Rules frozen with each version (written from the draft's fields, read by
# surveys.scoring.compute and surveys.scoring.alerts): scores/alerts JSON, safety message, instrument.
EXT_RULES = "urn:ressenti:fhir:extension:rules"
EXT_SAFETY = "urn:ressenti:fhir:extension:safety-message"
EXT_INSTRUMENT = "urn:ressenti:fhir:extension:instrument"
EXT_LICENCE_REF = "urn:ressenti:fhir:extension:licence-reference"
# Written from draft fields, so an imported definition's copies are replaced, not doubled.
DRAFT_EXTENSIONS = frozenset(
    {
        "urn:ressenti:fhir:extension:questionnaire-kind",
        "urn:ressenti:fhir:extension:one-item-per-page",
        EXT_RULES,
        EXT_SAFETY,
        EXT_INSTRUMENT,
        EXT_LICENCE_REF,
    }
)
EXT_TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
EXT_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
EXT_SLIDER_STEP = "http://hl7.org/fhir/StructureDefinition/questionnaire-sliderStepValue"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
EXT_OPTION_PREFIX = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionPrefix"
# Where an option's score sits on a value set's concept: R4's ordinalValue, its older valueset-
# name, and itemWeight (the extensions pack's new name).
VALUE_SET_SCORE_EXTENSIONS = (
    EXT_ORDINAL,
    "http://hl7.org/fhir/StructureDefinition/valueset-ordinalValue",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
)
# The answerValueSet an item's answerOption list was read from (a ValueSet contained in the file):
# FHIR R4 forbids an item to carry both (que-4), and the reference keeps the contained ValueSet in use.
EXT_OPTIONS_FROM = "urn:ressenti:fhir:extension:options-from-value-set"

T = Item.Type
# Our item type -> FHIR R4 item type.
FHIR_TYPE: dict[str, str] = {
    T.DISPLAY: "display",
    T.SINGLE: "choice",
    T.MULTIPLE: "choice",
    T.YES_NO: "boolean",
    T.INTEGER: "integer",
    T.DECIMAL: "decimal",
    T.NRS: "integer",
    T.VAS: "integer",
    T.DATE: "date",
    T.TIME: "time",
    T.DATETIME: "dateTime",
    T.SHORT_TEXT: "string",
    T.LONG_TEXT: "text",
}
# How a condition's answer is typed in enableWhen, by the FHIR type of the item it tests.
ANSWER_KEY: dict[str, str] = {
    "choice": "answerCoding",
    "boolean": "answerBoolean",
    "integer": "answerInteger",
    "decimal": "answerDecimal",
    "date": "answerDate",
    "time": "answerTime",
    "dateTime": "answerDateTime",
    "string": "answerString",
    "text": "answerString",
}


# --- reading any definition --------------------------------------------------------


def ext_value(node: dict, url: str, default: Any = None) -> Any:
    for ext in node.get("extension", ()):
        if ext.get("url") == url:
            for key, value in ext.items():
                if key.startswith("value"):
                    return value
    return default


def translation(node: dict, key: str, language: str) -> str:
    """The translation of node[key] into `language` (FHIR translation extension), or ""."""
    for ext in node.get(f"_{key}", {}).get("extension", ()):
        if ext.get("url") != EXT_TRANSLATION:
            continue
        parts = {e.get("url"): e for e in ext.get("extension", ())}
        if parts.get("lang", {}).get("valueCode") == language:
            return parts.get("content", {}).get("valueString") or ""
    return ""


def text_in(node: dict, key: str, language: str, base_language: str) -> str:
    """node[key] in `language` exactly, without fallback: "" when it is missing."""
    if language == base_language:
        return node.get(key, "") or ""
    return translation(node, key, language)


def localized(node: dict, key: str, language: str, base_language: str) -> str:
    """node[key] in `language`, falling back to the base text when it has no translation."""
    return text_in(node, key, language, base_language) or node.get(key, "") or ""


def item_type(node: dict) -> str:
    """Our item type for any FHIR item, ours or imported."""
    ours = ext_value(node, EXT_ITEM_TYPE)
    if ours:
        return ours
    fhir_type = node.get("type")
    if fhir_type in ("choice", "open-choice", "coding"):
        return T.MULTIPLE if node.get("repeats") else T.SINGLE
    reverse = {
        "display": T.DISPLAY,
        "boolean": T.YES_NO,
        "integer": T.INTEGER,
        "decimal": T.DECIMAL,
        "date": T.DATE,
        "time": T.TIME,
        "dateTime": T.DATETIME,
        "string": T.SHORT_TEXT,
        "text": T.LONG_TEXT,
        "quantity": T.DECIMAL,
    }
    return reverse.get(fhir_type, T.SHORT_TEXT)


def item_control(node: dict) -> str | None:
    concept = ext_value(node, EXT_ITEM_CONTROL) or {}
    for coding in concept.get("coding", ()):
        return coding.get("code")
    return None


def iter_items(items: list[dict]):
    """Every item, depth first, in questionnaire order (groups included, help texts excluded)."""
    for node in items:
        if node.get("type") == "display" and item_control(node) == "help":
            continue
        yield node
        yield from iter_items(node.get("item", []))


def items_by_link(definition: dict) -> dict[str, dict]:
    """Every item of a definition by linkId (groups included, help texts excluded)."""
    return {str(node.get("linkId")): node for node in iter_items(definition.get("item", [])) if node.get("linkId")}


def option_code(option: dict) -> str:
    if "valueCoding" in option:
        return str(option["valueCoding"].get("code", ""))
    for key, value in option.items():
        if key.startswith("value"):
            return str(value)
    return ""


def prefix(node: dict, language: str, base_language: str) -> str:
    """An item's prefix ("1.", "a)") in `language` (translation on _prefix), or ""."""
    return localized(node, "prefix", language, base_language).strip()


def option_prefix(option: dict, language: str, base_language: str) -> str:
    """An answer option's questionnaire-optionPrefix ("A", "0") in `language`, or ""."""
    for ext in option.get("extension", ()):
        if ext.get("url") == EXT_OPTION_PREFIX and isinstance(ext.get("valueString"), str):
            return localized(ext, "valueString", language, base_language).strip()
    return ""


def contained_value_set(definition: dict, reference: str) -> dict | None:
    """The ValueSet of the definition's `contained` that `reference` names, or None: "#id" (a local
    reference), or the canonical url (with or without |version) of a ValueSet the file contains."""
    if not isinstance(reference, str):
        return None
    url = reference.split("|", 1)[0]
    for resource in definition.get("contained") or ():
        if isinstance(resource, dict) and resource.get("resourceType") == "ValueSet":
            if reference == f"#{resource.get('id')}" or (url and resource.get("url") == url):
                return resource
    return None


def _option_from_concept(concept: dict, system: Any, version: Any) -> dict:
    """One answerOption (valueCoding) from a value set concept, its score and translations kept."""
    coding: dict[str, Any] = {}
    if isinstance(system, str):
        coding["system"] = system
    if isinstance(version, str):
        coding["version"] = version
    coding["code"] = concept.get("code")
    if isinstance(concept.get("display"), str):
        coding["display"] = concept["display"]
        translations = [
            e for e in (concept.get("_display") or {}).get("extension", ()) if e.get("url") == EXT_TRANSLATION
        ]
        # A designation in another language is that language's label (ValueSet designation.language).
        known = {p.get("valueCode") for e in translations for p in e.get("extension", ()) if p.get("url") == "lang"}
        for designation in concept.get("designation") or ():
            lang, text = designation.get("language"), designation.get("value")
            if isinstance(lang, str) and isinstance(text, str) and lang not in known:
                known.add(lang)
                translations.append(
                    {
                        "url": EXT_TRANSLATION,
                        "extension": [{"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text}],
                    }
                )
        if translations:
            coding["_display"] = {"extension": translations}
    option: dict[str, Any] = {"valueCoding": coding}
    scores = [
        {"url": EXT_ORDINAL, "valueDecimal": ext["valueDecimal"]}
        for ext in concept.get("extension", ())
        if ext.get("url") in VALUE_SET_SCORE_EXTENSIONS and "valueDecimal" in ext
    ][:1]
    others = [e for e in concept.get("extension", ()) if e.get("url") == EXT_OPTION_PREFIX]
    if scores or others:
        option["extension"] = others + scores
    return option


def value_set_options(value_set: dict) -> tuple[list[dict], str]:
    """(answerOption list, "") read from a ValueSet's expansion, else its compose; ([], why) when its
    options cannot be listed from the file alone (a whole code system, a filter, another value set)."""
    expansion = value_set.get("expansion") or {}
    if expansion.get("contains"):
        options: list[dict] = []

        def walk(entries: list[dict]) -> None:
            for entry in entries:
                if not entry.get("abstract") and not entry.get("inactive") and entry.get("code") is not None:
                    options.append(_option_from_concept(entry, entry.get("system"), entry.get("version")))
                walk(entry.get("contains") or [])

        walk(expansion["contains"])
        return options, ""
    compose = value_set.get("compose") or {}
    if compose.get("exclude"):
        return [], "compose.exclude"
    options = []
    for include in compose.get("include") or ():
        if include.get("filter") or include.get("valueSet") or not include.get("concept"):
            return [], "compose.include (a whole code system, a filter or another value set)"
        options += [_option_from_concept(c, include.get("system"), include.get("version")) for c in include["concept"]]
    return options, "" if options else "compose"


def rules_of(definition: dict) -> dict:
    """The scoring and alert rules frozen in a definition ({"scores": [...], "alerts": [...]}), or {}."""
    raw = ext_value(definition, EXT_RULES)
    return json.loads(raw) if raw else {}


def texts_extension(url: str, texts: dict[str, str]) -> dict | None:
    """One of our texts in every language: a part per language code.

    Not valueString + translations: FHIR validators refuse `_valueString` inside an extension.
    """
    parts = [{"url": lang, "valueString": text} for lang, text in texts.items() if text]
    return {"url": url, "extension": parts} if parts else None


def extension_text(definition: dict, url: str, language: str, *, exact: bool = False) -> str:
    """The text of one of our text extensions in `language` (else the base language, unless `exact`), or ""."""
    ext = next((e for e in definition.get("extension", ()) if e.get("url") == url), None)
    if ext is None:
        return ""
    base = definition.get("language", language)
    if "extension" in ext:
        found = {part.get("url"): part.get("valueString") or "" for part in ext["extension"]}
        return found.get(language, "") if exact else found.get(language) or found.get(base, "")
    # Versions published before texts had a part per language.
    return text_in(ext, "valueString", language, base) if exact else localized(ext, "valueString", language, base)


def safety_message(definition: dict, language: str) -> str:
    """The safety message (helplines) to show a patient when an alert asks for it, or ""."""
    return extension_text(definition, EXT_SAFETY, language)


def content_hash(definition: dict) -> str:
    """SHA-256 of the definition without its version label: same content, same hash."""
    body = {k: v for k, v in definition.items() if k not in ("version", "date", "meta")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- draft rows -> definition -----------------------------------------------------------


def _num(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _texts(base: str, translations: dict[str, str]) -> tuple[str, dict | None]:
    exts = [
        {
            "url": EXT_TRANSLATION,
            "extension": [{"url": "lang", "valueCode": lang}, {"url": "content", "valueString": text}],
        }
        for lang, text in translations.items()
        if text
    ]
    return base, ({"extension": exts} if exts else None)


def _put_text(node: dict, key: str, row: Any, field: str, languages: list[str], base: str) -> None:
    values = {lang: getattr(row, f"{field}_{lang}", "") or "" for lang in languages}
    text, translations = _texts(values.get(base, ""), {k: v for k, v in values.items() if k != base})
    if text or translations:
        node[key] = text
    if translations:
        node[f"_{key}"] = translations


def _put_missing_titles(definition: dict, questionnaire: Questionnaire, languages: list[str]) -> None:
    """An imported draft's title in the languages its file leaves without one, from the draft's title fields
    (the one text of an imported draft the designer edits in the admin); the file's own titles are kept."""
    base = definition["language"]
    # A file with no title at all is named by its machine name (or the questionnaire's code) until then.
    untitled = str(definition.get("name") or questionnaire.code)
    values = {
        lang: text_in(definition, "title", lang, base) or getattr(questionnaire, f"title_{lang}", "") or untitled
        for lang in languages
    }
    if values == {lang: text_in(definition, "title", lang, base) for lang in languages}:
        return
    # Translations into languages the study does not use stay as the file wrote them.
    others = [
        ext
        for ext in (definition.pop("_title", None) or {}).get("extension", ())
        if not (
            ext.get("url") == EXT_TRANSLATION
            and any(part.get("valueCode") in values for part in ext.get("extension", ()) if part.get("url") == "lang")
        )
    ]
    text, translations = _texts(
        definition.get("title") or values.get(base, "") or untitled,
        {k: v for k, v in values.items() if k != base},
    )
    definition["title"] = text
    extensions = [*(translations or {}).get("extension", []), *others]
    if extensions:
        definition["_title"] = {"extension": extensions}


def _control(code: str) -> dict:
    return {
        "url": EXT_ITEM_CONTROL,
        "valueCodeableConcept": {"coding": [{"system": ITEM_CONTROL_SYSTEM, "code": code}]},
    }


def _answer_value(target_fhir_type: str | None, operator: str, raw: str, time_zone: str = "UTC") -> tuple[str, Any]:
    """A condition's answer as the designer typed it, in the answer[x] that suits the item it tests, read
    as patients' answers are (questionnaires.values); a text that does not read so stays a text, which
    publish validation names against the item."""
    from surveys.questionnaires import values  # values reads definitions through this module

    raw = raw.strip()
    if operator == "exists":
        return "answerBoolean", values.to_bool(raw) is not False
    key = ANSWER_KEY.get(target_fhir_type or "", "answerString")
    if key == "answerCoding":
        return key, {"code": raw}
    if key == "answerBoolean" and values.to_bool(raw) is not None:
        return key, values.to_bool(raw)
    number = values.read_number(raw) if key in ("answerInteger", "answerDecimal") else None
    if number is not None:
        whole = key == "answerInteger" and number == number.to_integral_value()
        return ("answerInteger", int(number)) if whole else ("answerDecimal", float(number))
    if key == "answerTime" and values.fhir_time(raw):
        return key, values.fhir_time(raw)
    if key == "answerDateTime":
        # FHIR writes a time of day with its offset: the study's, as for answers (values.fhir_datetime).
        if values.fhir_datetime(raw, time_zone):
            return key, values.fhir_datetime(raw, time_zone)
        if values.to_date(raw) is not None:
            return key, raw
    return (key if key in ("answerDate", "answerString") else "answerString"), raw


def _item_node(row: Item, languages: list[str], base: str, fhir_types: dict[str, str], time_zone: str = "UTC") -> dict:
    node: dict[str, Any] = {"linkId": row.link_id, "type": FHIR_TYPE.get(row.type, "string")}
    _put_text(node, "text", row, "text", languages, base)
    ext: list[dict] = [{"url": EXT_ITEM_TYPE, "valueCode": row.type}]
    if row.type in (T.INTEGER, T.NRS, T.VAS, T.DECIMAL):
        value_key = "valueDecimal" if row.type == T.DECIMAL else "valueInteger"
        if row.min_value is not None:
            ext.append({"url": EXT_MIN, value_key: _num(row.min_value)})
        if row.max_value is not None:
            ext.append({"url": EXT_MAX, value_key: _num(row.max_value)})
    if row.type in (T.NRS, T.VAS):
        ext += [_control("slider"), {"url": EXT_SLIDER_STEP, "valueInteger": 1}]
    node["extension"] = ext
    if row.required and row.type != T.DISPLAY:
        node["required"] = True
    if row.type == T.MULTIPLE:
        node["repeats"] = True
    if row.max_length and row.type in (T.SHORT_TEXT, T.LONG_TEXT):
        node["maxLength"] = row.max_length
    if row.has_options:
        options = []
        for opt in row.options.all():
            coding = {"code": opt.code}
            _put_text(coding, "display", opt, "label", languages, base)
            option: dict[str, Any] = {"valueCoding": coding}
            if opt.score is not None:
                option["extension"] = [{"url": EXT_ORDINAL, "valueDecimal": _num(opt.score)}]
            options.append(option)
        node["answerOption"] = options
    conditions = list(row.conditions.all())
    if conditions:
        node["enableWhen"] = []
        for cond in conditions:
            key, value = _answer_value(fhir_types.get(cond.question), cond.operator, cond.answer, time_zone)
            node["enableWhen"].append({"question": cond.question, "operator": cond.operator, key: value})
        if len(conditions) > 1:
            node["enableBehavior"] = row.enable_behavior
    if any(getattr(row, f"help_{lang}", "") for lang in languages):
        help_node: dict[str, Any] = {
            "linkId": f"{row.link_id}__help",
            "type": "display",
            "extension": [_control("help")],
        }
        _put_text(help_node, "text", row, "help", languages, base)
        node["item"] = [help_node]
    return node


def _field_texts(row: Any, field: str, languages: list[str], base: str) -> dict[str, str]:
    """{language: text} of a row's per-language field, base language first."""
    ordered = [base] + [lang for lang in languages if lang != base]
    return {lang: getattr(row, f"{field}_{lang}", "") or "" for lang in ordered}


def _put_draft_extensions(definition: dict, questionnaire: Questionnaire, languages: list[str], base: str) -> None:
    exts = [e for e in definition.get("extension", []) if e.get("url") not in DRAFT_EXTENSIONS]
    exts += [
        {"url": EXT_KIND, "valueCode": questionnaire.kind},
        {"url": EXT_ONE_PER_PAGE, "valueBoolean": questionnaire.one_item_per_page},
    ]
    if questionnaire.rules:
        text = json.dumps(questionnaire.rules, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        exts.append({"url": EXT_RULES, "valueString": text})
    safety = texts_extension(EXT_SAFETY, _field_texts(questionnaire, "safety_message", languages, base))
    if safety:
        exts.append(safety)
    if questionnaire.instrument:
        exts.append({"url": EXT_INSTRUMENT, "valueCode": questionnaire.instrument})
    if questionnaire.licence_reference:
        exts.append({"url": EXT_LICENCE_REF, "valueString": questionnaire.licence_reference})
    definition["extension"] = exts


def definition_from_draft(questionnaire: Questionnaire) -> dict:
    """The FHIR Questionnaire that publishing this draft would freeze (no version number yet).

    An imported draft is its imported definition, kept whole; a designed one is built from its rows.
    Either way the rules, safety message and instrument come from the draft's fields.
    """
    study = questionnaire.study
    languages = list(study.languages)
    base = study.fallback_language
    if questionnaire.source_definition:
        definition = copy.deepcopy(questionnaire.source_definition)
        definition.pop("version", None)
        definition.setdefault("language", base)
        _put_draft_extensions(definition, questionnaire, languages, definition["language"])
        _put_missing_titles(definition, questionnaire, languages)
        return definition
    sections = list(questionnaire.sections.all())
    items = list(questionnaire.items.select_related("section").prefetch_related("options", "conditions"))
    fhir_types = {row.link_id: FHIR_TYPE.get(row.type, "string") for row in items}
    section_rank = {s.pk: i for i, s in enumerate(sections)}
    # Unsectioned items come first, on a page of their own.
    items.sort(key=lambda r: (section_rank.get(r.section_id, -1), r.order, r.pk))

    definition: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "url": f"urn:ressenti:questionnaire:{study.code}:{questionnaire.code}",
        "name": questionnaire.code,
        "status": "active",
        "language": base,
        "subjectType": ["Patient"],
    }
    _put_draft_extensions(definition, questionnaire, languages, base)
    _put_text(definition, "title", questionnaire, "title", languages, base)
    intro = texts_extension(EXT_INTRO, _field_texts(questionnaire, "intro", languages, base))
    if intro:
        definition["extension"].append(intro)

    top: list[dict] = []
    groups: dict[int, dict] = {}
    for section in sections:
        group: dict[str, Any] = {
            "linkId": section.link_id,
            "type": "group",
            "extension": [_control("page")],
            "item": [],
        }
        _put_text(group, "text", section, "title", languages, base)
        groups[section.pk] = group
    loose = [r for r in items if r.section_id is None]
    zone = study.time_zone
    top.extend(_item_node(r, languages, base, fhir_types, zone) for r in loose)
    for row in items:
        if row.section_id is not None:
            groups[row.section_id]["item"].append(_item_node(row, languages, base, fhir_types, zone))
    top.extend(groups[s.pk] for s in sections)
    definition["item"] = top
    return definition


def definition_languages(definition: dict) -> list[str]:
    """The languages a definition carries: its base language and every translation found."""
    found = {definition.get("language", "fr")}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("url") == EXT_TRANSLATION:
                for part in node.get("extension", ()):
                    if part.get("url") == "lang":
                        found.add(part.get("valueCode"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(definition)
    return sorted(code for code in found if code)
