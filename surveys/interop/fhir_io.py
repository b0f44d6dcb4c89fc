"""FHIR R4 in and out: Questionnaire import and export, QuestionnaireResponse export and import.

Validation uses fhir.resources' R4B models: the package ships R5 (its default), R4B and STU3,
and no plain R4; R4B's Questionnaire and QuestionnaireResponse are R4's. Every export is
validated before it leaves (a failure is our bug and raises with the path); every import is
validated too, so that what we keep of a file can always be exported again.

An imported Questionnaire is kept whole (surveys.interop.imports stores it in
`Questionnaire.source_definition`): unknown extensions and elements we do not use travel
with it. The parser only refuses what it cannot represent, naming the item and the element.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify
from django.utils.translation import gettext as _
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirQuestionnaireResponse
from pydantic import ValidationError

from surveys import signals
from surveys.answering import rendering
from surveys.interop import uploads
from surveys.interop.imports import ImportedQuestionnaire, ImportResult, definition_json
from surveys.models import (
    Assignment,
    Item,
    Participant,
    Questionnaire,
    QuestionnaireVersion,
    Response,
    Site,
    Study,
    Timepoint,
)
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.validation import Problem
from surveys.scoring import alerts, compute

T = Item.Type
FHIR_RELEASE = "R4 (checked with the R4B models of fhir.resources)"

EXT_VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
EXT_CALCULATED = conditions.EXT_CALCULATED
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"
EXT_ANSWER_EXPRESSION = SDC + "answerExpression"
EXT_ENABLE_WHEN_EXPRESSION = SDC + "enableWhenExpression"
EXT_INITIAL_EXPRESSION = SDC + "initialExpression"
# Scores stored with a response, exported as one JSON string (same shape as Response.scores).
EXT_SCORES = "urn:ressenti:fhir:extension:scores"

SUPPORTED_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "time", "string", "text", "choice",
                   "open-choice"}
CHOICE_FHIR_TYPES = {"choice", "open-choice"}
OPERATORS = {"exists", "=", "!=", ">", "<", ">=", "<="}
# enableWhen answer[x] accepted for each FHIR item type of the item tested.
CONDITION_KEYS = {
    "choice": {"answerCoding", "answerString", "answerInteger", "answerDate"},
    "open-choice": {"answerCoding", "answerString", "answerInteger", "answerDate"},
    "boolean": {"answerBoolean"},
    "integer": {"answerInteger", "answerDecimal"},
    "decimal": {"answerInteger", "answerDecimal"},
    "date": {"answerDate"},
    "time": {"answerTime"},
    "string": {"answerString"},
    "text": {"answerString"},
}
OPTION_KEYS = {"valueCoding", "valueString", "valueInteger", "valueDate"}
# Item elements whose meaning is true or false (read by truthiness everywhere after the import).
BOOLEAN_ELEMENTS = ("repeats", "required", "readOnly")
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CODE_MAX = Questionnaire._meta.get_field("code").max_length


class FhirInvalid(Exception):
    """Something we built is not valid FHIR R4: a bug, reported with the path of each error."""

    def __init__(self, resource_type: str, errors: list[str]):
        self.errors = errors
        super().__init__(f"{resource_type} is not valid FHIR R4: " + "; ".join(errors))


# --- validation with fhir.resources ------------------------------------------------------------

def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _item_at(resource: dict, loc: tuple) -> str | None:
    """linkId of the deepest item a validation error's location passes through."""
    node: Any = resource
    found = None
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and "linkId" in node:
            found = str(node["linkId"])
    return found


def fhir_errors(resource: dict, model: type) -> list[tuple[str | None, str, str]]:
    """(linkId or None, path, message) for each way `resource` breaks the FHIR model."""
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [(_item_at(resource, tuple(e["loc"])), _path(e["loc"]), e["msg"]) for e in exc.errors()]
    except (ValueError, TypeError) as exc:  # raised by fhir.resources' own root validators
        return [(None, "", str(exc))]
    return []


def _validated(resource: dict, model: type) -> dict:
    errors = fhir_errors(resource, model)
    if errors:
        raise FhirInvalid(resource.get("resourceType", "?"), [f"{path or '(root)'}: {msg}" for _i, path, msg in errors])
    return resource


# --- Questionnaire import ------------------------------------------------------------------------

def _where(prefix: str, link_id: str | None = None) -> str:
    item = _("item %(code)s") % {"code": link_id} if link_id is not None else ""
    return ", ".join(part for part in (prefix, item) if part) or _("questionnaire")


def _has_ext(node: dict, url: str) -> bool:
    return any(e.get("url") == url for e in node.get("extension", ()) if isinstance(e, dict))


def _walk_dicts(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk_dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_dicts(value)


def _repair_variable_names(definition: dict, prefix: str) -> list[Problem]:
    """FHIR R4 types Expression.name as an id (letters, digits, '-', '.'); SDC forms often use '_'.

    Such names are renamed, with their uses in the definition's expressions, so the file
    becomes valid R4 and exports stay valid; the meaning is unchanged (names are local).
    """
    names = {
        d["valueExpression"]["name"]
        for d in _walk_dicts(definition)
        if isinstance(d.get("valueExpression"), dict) and isinstance(d["valueExpression"].get("name"), str)
    }
    renames: dict[str, str] = {}
    for name in sorted(n for n in names if not _ID_RE.match(n)):
        base = re.sub(r"[^A-Za-z0-9\-.]", "", name)[:60] or "v"
        new, n = base, 1
        while new in names or new in renames.values():
            n += 1
            new = f"{base}{n}"
        renames[name] = new
    if not renames:
        return []
    pattern = re.compile(r"%(`?)(" + "|".join(map(re.escape, renames)) + r")\1(?![A-Za-z0-9_])")
    where_renamed: dict[str | None, list[str]] = {}

    def visit(node: Any, link_id: str | None) -> None:
        if isinstance(node, dict):
            link_id = node.get("linkId", link_id) if "linkId" in node else link_id
            expression = node.get("valueExpression")
            if isinstance(expression, dict):
                if expression.get("name") in renames:
                    where_renamed.setdefault(link_id, []).append(expression["name"])
                    expression["name"] = renames[expression["name"]]
                if isinstance(expression.get("expression"), str):
                    expression["expression"] = pattern.sub(lambda m: "%" + renames[m.group(2)], expression["expression"])
            for value in node.values():
                visit(value, link_id)
        elif isinstance(node, list):
            for value in node:
                visit(value, link_id)

    visit(definition, None)
    return [
        Problem(_where(prefix, link_id), _(
            "variable names %(names)s are not valid FHIR R4 names (letters, digits, - and . only): renamed "
            "%(new)s, with their uses in expressions"
        ) % {"names": ", ".join(old), "new": ", ".join(renames[o] for o in old)})
        for link_id, old in where_renamed.items()
    ]


def _language_code(code: Any) -> str:
    """"en-US" -> "en" when that is one of our languages; other codes unchanged."""
    text = str(code or "").strip()
    primary = text.split("-")[0].lower()
    known = {c for c, _name in settings.LANGUAGES}
    return primary if primary in known else text


def _normalise_languages(definition: dict) -> None:
    for node in _walk_dicts(definition):
        if node.get("url") == fhir.EXT_TRANSLATION:
            for part in node.get("extension", ()):
                if part.get("url") == "lang" and isinstance(part.get("valueCode"), str):
                    part["valueCode"] = _language_code(part["valueCode"])


def code_from(definition: dict) -> str:
    """A questionnaire code (SlugField of 40) from the file's name, id or title."""
    for key in ("name", "id", "title"):
        value = definition.get(key)
        if isinstance(value, str):
            code = slugify(value)[:_CODE_MAX].strip("-_")
            if code:
                return code
    return "questionnaire"


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


class _Checker:
    """Walks one Questionnaire and records problems and warnings, each naming the item."""

    def __init__(self, definition: dict, prefix: str):
        self.definition = definition
        self.prefix = prefix
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.seen: dict[str, dict] = {}  # linkId -> node, in document order
        self.not_asked: set[str] = set()

    def problem(self, link_id: str | None, message: str) -> None:
        self.problems.append(Problem(_where(self.prefix, link_id), message))

    def warn(self, link_id: str | None, message: str) -> None:
        self.warnings.append(Problem(_where(self.prefix, link_id), message))

    def run(self) -> None:
        items = self.definition.get("item", [])
        if not isinstance(items, list) or not items:
            self.problem(None, _("item: the questionnaire has no items"))
            return
        self.walk(items, depth=0)
        for ext in self.definition.get("extension", ()):
            if ext.get("url") == EXT_VARIABLE:
                self.warn(None, _("variable %(name)s is kept but not computed here") % {
                    "name": (ext.get("valueExpression") or {}).get("name", "?")})

    def walk(self, nodes: list[dict], depth: int) -> None:
        for node in nodes:
            self.item(node, depth)

    def item(self, node: dict, depth: int) -> None:
        link_id = str(node.get("linkId", ""))
        fhir_type = node.get("type")
        if not link_id:
            self.problem(None, _("an item has no linkId"))
            return
        if link_id in self.seen:
            self.problem(link_id, _("linkId %(code)s is used more than once (linkIds must be unique)")
                         % {"code": link_id})
        # FHIR JSON writes these as true or false. fhir.resources accepts the texts "true" and "false" too, but the
        # definition is kept as written, where the text "false" is truthy: a choice would become a multiple choice.
        for element in BOOLEAN_ELEMENTS:
            if element in node and not isinstance(node[element], bool):
                self.problem(link_id, _("%(element)s: %(value)s is not true or false (FHIR JSON writes a boolean, "
                                        "without quotes)") % {"element": element, "value": json.dumps(node[element])})
        # Conditions may only test earlier items: this one joins them once its own are checked.
        self.conditions(node, link_id)
        self.seen[link_id] = node
        if fhir_type not in SUPPORTED_TYPES:
            self.problem(link_id, _("type %(type)s: answers of this type cannot be collected here (supported: "
                                    "%(known)s)") % {"type": fhir_type, "known": ", ".join(sorted(SUPPORTED_TYPES))})
            return
        ours = fhir.ext_value(node, fhir.EXT_ITEM_TYPE)
        if ours is not None and ours not in T.values:
            self.problem(link_id, _("extension item-type: unknown item type %(type)s") % {"type": ours})
        if _has_ext(node, EXT_ENABLE_WHEN_EXPRESSION):
            self.problem(link_id, _("enableWhenExpression: display conditions written as expressions cannot be "
                                    "evaluated here; use enableWhen"))
        if fhir_type == "group":
            if node.get("repeats") is True:
                self.problem(link_id, _("repeats: a group answered several times cannot be represented"))
            children = node.get("item", [])
            if not children:
                self.warn(link_id, _("group without items: it shows nothing"))
            self.walk(children, depth + 1)
            return
        calculated = _has_ext(node, EXT_CALCULATED)
        if calculated:
            self.not_asked.add(link_id)
            self.warn(link_id, _(
                "calculatedExpression: calculated items cannot be computed here; the item is kept but not shown "
                "to patients. Express the score as a scoring rule (docs/scoring.md)"))
        elif node.get("readOnly"):
            self.not_asked.add(link_id)
            self.warn(link_id, _("readOnly: kept, but read-only items are not shown to patients"))
        if _has_ext(node, EXT_INITIAL_EXPRESSION):
            self.warn(link_id, _("initialExpression: kept but not evaluated"))
        if node.get("initial") and not calculated and not node.get("readOnly"):
            self.warn(link_id, _("initial: the initial answer is kept but not filled in for patients"))
        children = [c for c in node.get("item", []) if not (c.get("type") == "display"
                                                            and fhir.item_control(c) == "help")]
        if children:
            self.problem(link_id, _("item: questions nested under a %(type)s item cannot be shown; put them in a "
                                    "group") % {"type": fhir_type})
        if fhir_type == "display":
            return
        if node.get("repeats") is True and fhir_type not in CHOICE_FHIR_TYPES:
            self.problem(link_id, _("repeats: several answers to a %(type)s item cannot be collected (only a choice "
                                    "may have several answers)") % {"type": fhir_type})
        if fhir_type in CHOICE_FHIR_TYPES:
            self.options(node, link_id, fhir_type)
        elif node.get("answerOption") or node.get("answerValueSet"):
            self.problem(link_id, _("answerOption: options on a %(type)s item cannot be shown; use a choice item")
                         % {"type": fhir_type})
        self.limits(node, link_id, fhir_type)

    def options(self, node: dict, link_id: str, fhir_type: str) -> None:
        if fhir_type == "open-choice":
            self.warn(link_id, _("open-choice: offered as a closed choice; answers typed in are not collected"))
        if _has_ext(node, EXT_ANSWER_EXPRESSION):
            self.problem(link_id, _("answerExpression: options computed by an expression cannot be listed here"))
        options = node.get("answerOption", [])
        if not options:
            if node.get("answerValueSet"):
                self.problem(link_id, _("answerValueSet: options from a value set (%(vs)s) cannot be listed here; "
                                        "give them as answerOption") % {"vs": node["answerValueSet"]})
            else:
                self.problem(link_id, _("answerOption: a choice item needs its answer options"))
            return
        if node.get("answerValueSet"):
            self.warn(link_id, _("answerValueSet is kept, but only the answerOption list is offered"))
        codes: set[str] = set()
        for index, option in enumerate(options):
            keys = OPTION_KEYS & set(option)
            if not keys:
                self.problem(link_id, _("answerOption[%(n)s]: only valueCoding, valueString, valueInteger or "
                                        "valueDate options can be offered") % {"n": index})
                continue
            code = fhir.option_code(option)
            if not code:
                self.problem(link_id, _("answerOption[%(n)s]: the option has no code") % {"n": index})
            elif code in codes:
                self.problem(link_id, _("answerOption[%(n)s]: option code %(code)s is used more than once")
                             % {"n": index, "code": code})
            codes.add(code)
            for url in (fhir.EXT_ORDINAL, values.EXT_ITEM_WEIGHT):
                value = fhir.ext_value(option, url)
                if value is not None and not _number(value):
                    self.problem(link_id, _("answerOption[%(n)s]: the score (%(url)s) is not a number")
                                 % {"n": index, "url": url.rsplit("/", 1)[-1]})
            if option.get("initialSelected"):
                self.warn(link_id, _("initialSelected: kept, but no option is ticked in advance for patients"))

    def limits(self, node: dict, link_id: str, fhir_type: str) -> None:
        low, high = fhir.ext_value(node, fhir.EXT_MIN), fhir.ext_value(node, fhir.EXT_MAX)
        kind = fhir.item_type(node)
        for name, value in (("minValue", low), ("maxValue", high)):
            if value is None:
                continue
            if kind in values.NUMBER_TYPES and not _number(value):
                self.problem(link_id, _("%(ext)s: %(value)s is not a number") % {"ext": name, "value": value})
            elif kind not in values.NUMBER_TYPES:
                self.warn(link_id, _("%(ext)s: kept, but limits are checked only on number items") % {"ext": name})
        if node.get("maxLength") is not None and fhir_type not in ("string", "text", "open-choice"):
            self.warn(link_id, _("maxLength: kept, but it applies only to text answers"))

    def conditions(self, node: dict, link_id: str) -> None:
        behaviour = node.get("enableBehavior")
        if behaviour is not None and behaviour not in ("all", "any"):
            self.problem(link_id, _("enableBehavior: %(value)s is not all or any") % {"value": behaviour})
        for index, cond in enumerate(node.get("enableWhen", [])):
            where = f"enableWhen[{index}]"
            question = str(cond.get("question", ""))
            operator = cond.get("operator")
            target = self.seen.get(question)
            if operator not in OPERATORS:
                self.problem(link_id, _("%(where)s: operator %(op)s is unknown") % {"where": where, "op": operator})
                continue
            if target is None:
                self.problem(link_id, _("%(where)s: refers to %(code)s, which is not an item before this one")
                             % {"where": where, "code": question})
                continue
            if question in self.not_asked:
                self.problem(link_id, _("%(where)s: depends on %(code)s, which is calculated or read-only and never "
                                        "answered here") % {"where": where, "code": question})
                continue
            keys = {k for k in cond if k.startswith("answer")}
            key = next(iter(keys), None)
            target_type = target.get("type")
            if operator == "exists":
                if key != "answerBoolean":
                    self.problem(link_id, _("%(where)s: exists needs answerBoolean") % {"where": where})
                continue
            if target_type in ("group", "display"):
                self.problem(link_id, _("%(where)s: %(code)s is not a question") % {"where": where, "code": question})
                continue
            if key not in CONDITION_KEYS.get(target_type, set()):
                self.problem(link_id, _("%(where)s: %(key)s cannot be compared with the answer to %(code)s "
                                        "(%(type)s)") % {"where": where, "key": key, "code": question,
                                                        "type": target_type})
                continue
            if target_type in CHOICE_FHIR_TYPES:
                value = cond[key]
                code = value.get("code") if isinstance(value, dict) else value
                if operator not in ("=", "!="):
                    self.problem(link_id, _("%(where)s: operator %(op)s cannot compare choices") % {
                        "where": where, "op": operator})
                elif str(code) not in {fhir.option_code(o) for o in target.get("answerOption", [])}:
                    self.problem(link_id, _("%(where)s: %(code)s has no option %(answer)s") % {
                        "where": where, "code": question, "answer": code})
            elif target_type in ("boolean", "string", "text") and operator not in ("=", "!="):
                self.problem(link_id, _("%(where)s: operator %(op)s cannot compare %(type)s answers") % {
                    "where": where, "op": operator, "type": target_type})


def _missing_language_warnings(definition: dict, study: Study, prefix: str) -> list[Problem]:
    base = definition.get("language")
    warnings = []
    for lang in study.languages:
        missing = 0
        for node in [definition, *fhir.iter_items(definition.get("item", []))]:
            key = "title" if node is definition else "text"
            if node.get(key) and not fhir.text_in(node, key, lang, base):
                missing += 1
        if missing:
            warnings.append(Problem(_where(prefix), _(
                "%(count)s texts have no %(lang)s version; the study asks for %(lang)s, so publishing will need "
                "them (add translations to the file, or copy the draft into editable rows)"
            ) % {"count": missing, "lang": lang}))
    return warnings


def _one_questionnaire(resource: dict, *, study: Study, prefix: str, language: str) -> tuple[
        ImportedQuestionnaire | None, list[Problem]]:
    definition = copy.deepcopy(resource)
    warnings = _repair_variable_names(definition, prefix)
    problems = [
        Problem(_where(prefix, link_id), f"{path}: {message}")
        for link_id, path, message in fhir_errors(definition, FhirQuestionnaire)
    ]
    if problems:
        return None, problems
    chosen = _language_code(language or definition.get("language") or "en")
    known = [c for c, _name in settings.LANGUAGES]
    if chosen not in known:
        return None, [Problem(_where(prefix), _(
            "language %(lang)s: texts can be in %(known)s only; choose the language of the file's texts"
        ) % {"lang": chosen, "known": ", ".join(known)})]
    definition["language"] = chosen
    _normalise_languages(definition)
    checker = _Checker(definition, prefix)
    checker.run()
    if checker.problems:
        return None, checker.problems
    warnings += checker.warnings + _missing_language_warnings(definition, study, prefix)
    return ImportedQuestionnaire(code=code_from(definition), definition=definition, warnings=warnings), []


def questionnaire_parse(content: bytes, *, study: Study, language: str = "") -> ImportResult:
    """Parse a FHIR R4 Questionnaire (or a Bundle of them) in JSON; writes nothing.

    `language` is the language of the texts when the file does not say it (default "en").
    """
    data, problems = definition_json(content)
    if data is None:
        return ImportResult(problems=problems)
    kind = data.get("resourceType")
    if kind == "Questionnaire":
        resources = [("", data)]
    elif kind == "Bundle":
        resources = []
        for index, entry in enumerate(data.get("entry") or [], start=1):
            resource = (entry or {}).get("resource") or {}
            where = _("entry %(n)s") % {"n": index}
            if resource.get("resourceType") != "Questionnaire":
                problems.append(Problem(where, _("resourceType is %(type)s; only Questionnaire entries can be imported")
                                        % {"type": resource.get("resourceType")}))
            else:
                resources.append((where, resource))
    else:
        return ImportResult(problems=[Problem(_("resourceType"), _(
            "is %(type)s; a Questionnaire or a Bundle of Questionnaires is expected") % {"type": kind})])
    result = ImportResult(problems=problems)
    used: set[str] = set()
    for prefix, resource in resources:
        found, found_problems = _one_questionnaire(resource, study=study, prefix=prefix, language=language)
        result.problems += found_problems
        if found is None:
            continue
        code, n = found.code, 1
        while found.code in used:  # two questionnaires of one Bundle with the same name
            n += 1
            suffix = f"-{n}"
            found.code = code[:_CODE_MAX - len(suffix)] + suffix
        used.add(found.code)
        result.questionnaires.append(found)
    return result


def question_count(definition: dict) -> int:
    return sum(1 for n in fhir.iter_items(definition.get("item", []))
               if n.get("type") not in ("group", "display") and not conditions.not_asked(n))


# --- Questionnaire export --------------------------------------------------------------------------

def canonical_url(version: QuestionnaireVersion) -> str:
    """The questionnaire's canonical URL: the imported one if any, else ours."""
    questionnaire = version.questionnaire
    return version.definition.get("url") or f"urn:ressenti:questionnaire:{questionnaire.study.code}:{questionnaire.code}"


def questionnaire_export(version: QuestionnaireVersion) -> dict:
    """The version as a FHIR R4 Questionnaire: canonical url, our version number, status active. Validated."""
    definition = copy.deepcopy(version.definition)
    definition["resourceType"] = "Questionnaire"
    definition["url"] = canonical_url(version)
    definition["version"] = str(version.number)
    definition["status"] = "active"
    definition["date"] = version.published_at.isoformat() if version.published_at else timezone.now().isoformat()
    return _validated(definition, FhirQuestionnaire)


def questionnaire_export_text(version: QuestionnaireVersion) -> str:
    return json.dumps(questionnaire_export(version), indent=2, ensure_ascii=False) + "\n"


# --- QuestionnaireResponse export ---------------------------------------------------------------------

def pseudonym_system(study: Study) -> str:
    return f"urn:ressenti:study:{study.code}:pseudonym"


def response_system(study: Study) -> str:
    return f"urn:ressenti:study:{study.code}:response"


def _option_by_code(node: dict) -> dict[str, dict]:
    return {fhir.option_code(o): o for o in node.get("answerOption", [])}


def _answer_values(node: dict, value: Any, base: str) -> list[dict]:
    fhir_type = node.get("type")
    given = value if isinstance(value, list) else [value]
    out = []
    if fhir_type in CHOICE_FHIR_TYPES:
        options = _option_by_code(node)
        for code in given:
            option = options.get(str(code))
            if option is None:
                out.append({"valueString": str(code)})
            elif "valueCoding" in option:
                coding = {k: v for k, v in option["valueCoding"].items() if k in ("system", "version", "code")}
                display = fhir.localized(option["valueCoding"], "display", base, base)
                out.append({"valueCoding": {**coding, **({"display": display} if display else {})}})
            else:
                key = next(k for k in option if k in OPTION_KEYS)
                out.append({key: option[key]})
        return out
    key = {"boolean": "valueBoolean", "integer": "valueInteger", "decimal": "valueDecimal", "date": "valueDate",
           "time": "valueTime"}.get(fhir_type, "valueString")
    return [_fhir_answer(key, v) for v in given]


FHIR_DATE_RE = re.compile(r"^(?!0000)[0-9]{4}(-(0[1-9]|1[0-2]))?$")


def _fhir_date(value: Any) -> bool:
    """A date FHIR can write: a real calendar day, or a year or year-month (FHIR date precision)."""
    if not isinstance(value, str):
        return False
    if len(value) == 10:
        try:
            return date.fromisoformat(value).year >= 1
        except ValueError:
            return False
    return bool(FHIR_DATE_RE.match(value))


def _fhir_answer(key: str, value: Any) -> dict:
    """One stored value as the answer type of its item, or, for a value that type cannot hold (stored
    before today's limits, or imported: an integer beyond 32 bits, a date FHIR cannot write), the
    closest type that holds it unchanged, so that one value never fails a whole export."""
    if key == "valueBoolean":
        truth = values.to_bool(value)
        return {key: truth} if truth is not None else {"valueString": str(value)}
    if key in ("valueInteger", "valueDecimal"):
        number = values.to_decimal(value)
        if number is None or not number.is_finite():
            return {"valueString": str(value)}
        floor, ceiling = values.WHOLE_NUMBER_RANGE
        if key == "valueInteger" and number == number.to_integral_value() and floor <= number <= ceiling:
            return {key: int(number)}
        return {"valueDecimal": float(number)} if abs(number) < Decimal("1e300") else {"valueString": str(value)}
    if key == "valueDate":
        return {key: value} if _fhir_date(value) else {"valueString": str(value)}
    if key == "valueTime":
        time = values.fhir_time(value)
        return {key: time} if time else {"valueString": str(value)}
    return {"valueString": str(value)}


def _answer_items(nodes: list[dict], answers: dict, base: str) -> list[dict]:
    out = []
    for node in nodes:
        link_id = node.get("linkId")
        if node.get("type") == "group":
            children = _answer_items(node.get("item", []), answers, base)
            if children:
                group = {"linkId": link_id}
                text = fhir.localized(node, "text", base, base)
                if text:
                    group["text"] = text
                out.append({**group, "item": children})
            continue
        if node.get("type") == "display" or values.is_missing(answers.get(link_id)):
            continue
        entry: dict[str, Any] = {"linkId": link_id}
        text = fhir.localized(node, "text", base, base)
        if text:
            entry["text"] = text
        entry["answer"] = _answer_values(node, answers[link_id], base)
        out.append(entry)
    return out


SOURCE_SYSTEM = "urn:ressenti:fhir:response-source"


def response_export(response: Response) -> dict:
    """One response as a FHIR R4 QuestionnaireResponse, by pseudonym only. Validated."""
    version = response.version
    assignment = response.assignment
    participant = assignment.participant
    study = participant.study
    definition = version.definition
    base = definition.get("language", study.fallback_language)
    authored = response.submitted_at or response.updated_at
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": response_system(study),
                       "value": f"{participant.pseudonym}/{assignment.timepoint.code}/{assignment.occurrence}"},
        "questionnaire": f"{canonical_url(version)}|{version.number}",
        "status": "completed" if response.status == Response.Status.COMPLETED else "in-progress",
        "subject": {"identifier": {"system": pseudonym_system(study), "value": participant.pseudonym}},
        "authored": authored.isoformat(),
        # Where the answers come from (patient, imported, corrected), as in every export.
        "meta": {"tag": [{"system": SOURCE_SYSTEM, "code": response.source}]},
    }
    if response.scores:
        resource["extension"] = [{"url": EXT_SCORES, "valueString": json.dumps(
            response.scores, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)}]
    items = _answer_items(definition.get("item", []), response.answers or {}, base)
    if items:
        resource["item"] = items
    return _validated(resource, FhirQuestionnaireResponse)


def responses_for_export(*, study: Study, questionnaire: Questionnaire | None = None) -> QuerySet[Response]:
    queryset = Response.objects.filter(assignment__participant__study=study).select_related(
        "version__questionnaire__study", "assignment__participant__study", "assignment__timepoint",
    ).order_by("pk")
    if questionnaire is not None:
        queryset = queryset.filter(version__questionnaire=questionnaire)
    return queryset


def responses_export_ndjson(*, study: Study, questionnaire: Questionnaire | None = None) -> Iterator[str]:
    """One QuestionnaireResponse per line, read from the database in chunks (never all in memory)."""
    for response in responses_for_export(study=study, questionnaire=questionnaire).iterator(chunk_size=500):
        yield json.dumps(response_export(response), ensure_ascii=False, separators=(",", ":")) + "\n"


# --- QuestionnaireResponse import -------------------------------------------------------------------------

@dataclass
class _Row:
    where: str
    participant: Participant
    occurrence: int
    answers: dict
    authored: datetime


@dataclass
class ResponsesImport:
    """What a responses file holds and what importing it did (or would do, on a dry run)."""

    total: int = 0
    created: int = 0
    unchanged: int = 0  # imported before, with the same answers
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _resources(content: bytes) -> tuple[list[tuple[str, dict]], list[Problem]]:
    """(where, resource) for each QuestionnaireResponse of an NDJSON file, a Bundle or one resource."""
    try:
        text = uploads.text_decode(content)
        uploads.json_depth_check(text)  # NDJSON lines too: each is balanced, so the whole text bounds them
    except uploads.UploadRefused as refused:
        return [], [Problem(refused.where, refused.message)]
    lines = text.splitlines()
    try:
        whole = uploads.json_parse(text)
    except uploads.UploadRefused:
        whole = None
    if isinstance(whole, dict):
        if whole.get("resourceType") == "Bundle":
            return [(_("entry %(n)s") % {"n": i}, (e or {}).get("resource") or {})
                    for i, e in enumerate(whole.get("entry") or [], start=1)], []
        one_line = sum(1 for line in lines if line.strip()) == 1
        return [(_("line %(n)s") % {"n": 1} if one_line else _("file"), whole)], []
    found: list[tuple[str, dict]] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = _("line %(n)s") % {"n": number}
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(_("line %(line)s, column %(col)s") % {"line": number, "col": exc.colno},
                                    _("invalid JSON: %(msg)s") % {"msg": exc.msg}))
            continue
        except ValueError as exc:  # an integer of more than 4,300 digits
            problems.append(Problem(where, _("invalid JSON: %(msg)s") % {"msg": exc}))
            continue
        if not isinstance(resource, dict):
            problems.append(Problem(where, _("a JSON object is expected")))
            continue
        found.append((where, resource))
    return found, problems


def _flat_answers(items: list[dict], out: list[tuple[str, list[dict]]]) -> None:
    for item in items or []:
        answers = item.get("answer") or []
        out.append((str(item.get("linkId", "")), answers))
        _flat_answers(item.get("item", []), out)
        for answer in answers:
            _flat_answers(answer.get("item", []), out)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _answer_value(node: dict, answer: dict, problem) -> Any:
    """Our stored value for one FHIR answer, or None after reporting a problem."""
    kind = fhir.item_type(node)
    keys = [k for k in answer if k.startswith("value")]
    key = keys[0] if keys else None
    value = answer.get(key) if key else None
    if kind in (T.SINGLE, T.MULTIPLE):
        options = _option_by_code(node)
        code = value.get("code") if key == "valueCoding" and isinstance(value, dict) else value
        option = options.get(str(code)) if code is not None else None
        if option is None or (key not in OPTION_KEYS):
            problem(_("%(value)s is not one of the options") % {"value": code if code is not None else key})
            return None
        if key == "valueCoding":
            ours, theirs = option.get("valueCoding", {}).get("system"), value.get("system")
            if ours and theirs and ours != theirs:
                problem(_("option %(code)s comes from %(theirs)s, not %(ours)s") % {
                    "code": code, "theirs": theirs, "ours": ours})
                return None
        return str(code)
    if kind == T.YES_NO:
        if key != "valueBoolean":
            problem(_("a yes/no answer (valueBoolean) is expected"))
            return None
        return value
    expected = {T.DATE: ("valueDate", _("a full date (valueDate, YYYY-MM-DD) is expected")),
                T.TIME: ("valueTime", _("a time (valueTime, hh:mm:ss) is expected")),
                T.SHORT_TEXT: ("valueString", _("a text answer (valueString) is expected")),
                T.LONG_TEXT: ("valueString", _("a text answer (valueString) is expected"))}
    if kind in values.NUMBER_TYPES:
        if key not in ("valueInteger", "valueDecimal") or not _number(value):
            problem(_("a number is expected"))
            return None
        text = values.plain(Decimal(str(value)))
    elif kind in expected:
        if key != expected[kind][0] or not isinstance(value, str) or (kind == T.DATE and not _ISO_DATE.match(value)):
            problem(expected[kind][1])
            return None
        text = value
    else:
        problem(_("this item takes no answer"))
        return None
    # The same reading as a patient's page: ranges, whole numbers, lengths, the stored form.
    stored, error = values.parse(node, [text])
    if error or stored is None:
        problem(f"{text}: {error or _('the answer is empty')}")
        return None
    return stored


class _ResponseChecker:
    def __init__(self, *, study: Study, timepoint: Timepoint, sites: QuerySet[Site] | None,
                 warnings: list[Problem]):
        self.study = study
        self.timepoint = timepoint
        self.version = timepoint.version
        self.definition = self.version.definition
        self.nodes = {n["linkId"]: n for n in fhir.iter_items(self.definition.get("item", [])) if "linkId" in n}
        self.canonical = canonical_url(self.version)
        source = self.version.questionnaire.source_definition or {}
        self.versions = {str(self.version.number)} | ({str(source["version"])} if source.get("version") else set())
        self.sites = sites
        self.warned: set[str] = set()
        self.warnings = warnings  # the result's: one warning per item, whatever the number of responses

    def check(self, where: str, resource: dict, result: ResponsesImport) -> _Row | None:
        problems: list[Problem] = []

        def problem(message: str, link_id: str | None = None) -> None:
            problems.append(Problem(_where(where, link_id), message))

        if resource.get("resourceType") != "QuestionnaireResponse":
            problem(_("resourceType is %(type)s; a QuestionnaireResponse is expected")
                    % {"type": resource.get("resourceType")})
            result.problems += problems
            return None
        for link_id, path, message in fhir_errors(resource, FhirQuestionnaireResponse):
            problem(f"{path}: {message}", link_id)
        if problems:
            result.problems += problems
            return None
        if resource.get("status") not in ("completed", "amended"):
            problem(_("status %(status)s: only completed responses can be imported") % {"status": resource.get("status")})
        url, _bar, version = str(resource.get("questionnaire", "")).partition("|")
        if url != self.canonical:
            problem(_("questionnaire %(url)s: the timepoint %(tp)s asks %(ours)s") % {
                "url": url or "—", "tp": self.timepoint.code, "ours": self.canonical})
        elif version and version not in self.versions:
            problem(_("questionnaire version %(version)s: the timepoint %(tp)s uses version %(ours)s") % {
                "version": version, "tp": self.timepoint.code, "ours": self.version.number})
        authored = parse_datetime(str(resource.get("authored", ""))) if resource.get("authored") else None
        if authored is None:
            problem(_("authored: the date and time of the answers is needed (with a time zone)"))
        elif timezone.is_naive(authored):
            problem(_("authored: give the time zone of %(value)s") % {"value": resource["authored"]})
        participant = self.participant(resource, problem)
        occurrence = self.occurrence(resource, problem)
        answers = self.answers(resource, problem)
        if answers is not None and not problems:
            shown = conditions.enabled_ids(self.definition, answers)
            for link_id in answers:
                if link_id not in shown:
                    problem(_("answered, but its display conditions hide it for these answers"), link_id)
            for link_id in conditions.missing_required(self.definition, answers):
                problem(_("a required question is not answered"), link_id)
        if problems:
            result.problems += problems
            return None
        return _Row(where=where, participant=participant, occurrence=occurrence, answers=answers, authored=authored)

    def participant(self, resource: dict, problem) -> Participant | None:
        identifier = ((resource.get("subject") or {}).get("identifier")) or {}
        system = pseudonym_system(self.study)
        if identifier.get("system") != system or not identifier.get("value"):
            problem(_("subject.identifier: the participant's pseudonym is expected, with system %(system)s")
                    % {"system": system})
            return None
        participants = Participant.objects.filter(study=self.study, pseudonym=identifier["value"])
        if self.sites is not None:
            participants = participants.filter(site__in=self.sites)
        participant = participants.first()
        if participant is None:
            problem(_("no participant %(pseudonym)s in this study (participants are never created by an import)")
                    % {"pseudonym": identifier["value"]})
            return None
        if participant.status == Participant.Status.WITHDRAWN:
            problem(_("participant %(pseudonym)s has withdrawn") % {"pseudonym": participant.pseudonym})
            return None
        return participant

    def occurrence(self, resource: dict, problem) -> int:
        identifier = resource.get("identifier") or {}
        if identifier.get("system") != response_system(self.study):
            return 1
        parts = str(identifier.get("value", "")).split("/")
        if len(parts) != 3 or not parts[2].isdigit():
            problem(_("identifier %(value)s: expected pseudonym/timepoint/occurrence") % {"value": identifier.get("value")})
            return 1
        if parts[1] != self.timepoint.code:
            problem(_("identifier: this response was given at timepoint %(theirs)s, not %(ours)s") % {
                "theirs": parts[1], "ours": self.timepoint.code})
        occurrence = int(parts[2])
        if not 1 <= occurrence <= self.timepoint.repeat_count:
            problem(_("identifier: occurrence %(n)s does not exist (the timepoint has %(count)s)") % {
                "n": occurrence, "count": self.timepoint.repeat_count})
        return occurrence

    def answers(self, resource: dict, problem) -> dict | None:
        flat: list[tuple[str, list[dict]]] = []
        _flat_answers(resource.get("item", []), flat)
        answers: dict[str, Any] = {}
        seen: set[str] = set()
        ok = True
        for link_id, given in flat:
            node = self.nodes.get(link_id)
            if node is None:
                problem(_("linkId %(code)s is not in the questionnaire") % {"code": link_id})
                ok = False
                continue
            if link_id in seen and given:
                problem(_("answered twice"), link_id)
                ok = False
                continue
            if not given:
                continue
            seen.add(link_id)
            if conditions.not_asked(node):
                if link_id not in self.warned:
                    self.warned.add(link_id)
                    self.warnings.append(Problem(_where("", link_id), _(
                        "answers to this calculated or read-only item are not imported: scores come from the "
                        "scoring rules")))
                continue
            if node.get("type") in ("group", "display"):
                problem(_("a %(type)s takes no answer") % {"type": node.get("type")}, link_id)
                ok = False
                continue
            kind = fhir.item_type(node)
            if len(given) > 1 and kind != T.MULTIPLE:
                problem(_("several answers to a question that takes one"), link_id)
                ok = False
                continue
            read = []
            for answer in given:
                value = _answer_value(node, answer, lambda message, lid=link_id: problem(message, lid))
                if value is None:
                    ok = False
                else:
                    read.append(value)
            if kind == T.MULTIPLE:
                order = list(_option_by_code(node))
                answers[link_id] = sorted(set(read), key=order.index)
            elif read:
                answers[link_id] = read[0]
        return answers if ok else None


def responses_import(*, study: Study, timepoint: Timepoint, content: bytes, by: AbstractBaseUser | None,
                     dry_run: bool = False, sites: QuerySet[Site] | None = None) -> ResponsesImport:
    """Load legacy answers (FHIR QuestionnaireResponses, NDJSON or a Bundle) into a timepoint: all or nothing.

    Each response is checked with fhir.resources and against the timepoint's version; the
    participant is found by pseudonym and must exist. The key is participant + timepoint +
    occurrence (from our identifier, else 1): a response imported again with the same answers
    is counted unchanged, one with other answers is a problem. `sites` limits the participants
    to those sites (a member limited to one site). Writes nothing on any problem or dry run.
    """
    result = ResponsesImport(dry_run=dry_run)
    if timepoint.study_id != study.pk:
        result.problems.append(Problem(_("timepoint"), _("%(tp)s is not a timepoint of %(study)s")
                                       % {"tp": timepoint.code, "study": study.code}))
        return result
    resources, result.problems = _resources(content)
    result.total = len(resources)
    if not resources and not result.problems:
        result.problems.append(Problem(_("file"), _("no QuestionnaireResponse found")))
    checker = _ResponseChecker(study=study, timepoint=timepoint, sites=sites, warnings=result.warnings)
    rows: list[_Row] = []
    keys: dict[tuple[int, int], str] = {}
    for where, resource in resources:
        row = checker.check(where, resource, result)
        if row is None:
            continue
        key = (row.participant.pk, row.occurrence)
        if key in keys:
            result.problems.append(Problem(where, _(
                "%(pseudonym)s, occurrence %(n)s, is already answered at %(other)s of this file") % {
                "pseudonym": row.participant.pseudonym, "n": row.occurrence, "other": keys[key]}))
            continue
        keys[key] = where
        rows.append(row)
    existing = {
        (a.participant_id, a.occurrence): a
        for a in Assignment.objects.filter(
            timepoint=timepoint, participant_id__in={r.participant.pk for r in rows}
        ).select_related("response")
    }
    for row in rows:
        assignment = existing.get((row.participant.pk, row.occurrence))
        response = getattr(assignment, "response", None) if assignment else None
        if response is None:
            refusal = _import_refusal(assignment)
            if refusal:
                result.problems.append(Problem(row.where, refusal % {
                    "pseudonym": row.participant.pseudonym, "n": row.occurrence, "status": assignment.status}))
                row.answers = None
            continue
        if response.status != Response.Status.COMPLETED:
            result.problems.append(Problem(row.where, _(
                "%(pseudonym)s has a response in progress for this timepoint; it is left to the participant")
                % {"pseudonym": row.participant.pseudonym}))
        elif response.answers != row.answers:
            result.problems.append(Problem(row.where, _(
                "%(pseudonym)s already has a completed response for this timepoint, with other answers; "
                "nothing is replaced") % {"pseudonym": row.participant.pseudonym}))
        else:
            result.unchanged += 1
        row.answers = None  # nothing to write for this one
    if result.problems:
        return result
    if dry_run:
        result.created = sum(1 for r in rows if r.answers is not None)
        return result
    with transaction.atomic():
        for row in rows:
            if row.answers is None:
                continue
            _response_create(timepoint=timepoint, row=row, existing=existing.get((row.participant.pk, row.occurrence)))
            result.created += 1
    return result


def _import_refusal(assignment: Assignment | None) -> str:
    """Why legacy answers may not go into this assignment ("" when they may).

    Only an assignment the patient can no longer answer takes imported answers: a new (legacy)
    one, or one whose window closed (expired). A planned or open one is the patient's to answer;
    a cancelled one was stopped on purpose (withdrawal, new schedule); a completed one is answered.
    """
    if assignment is None:
        return ""
    if assignment.status == Assignment.Status.CANCELLED:
        return _("%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s; nothing is imported into it")
    if assignment.status == Assignment.Status.COMPLETED:
        return _("%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s, already answered")
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= timezone.now():
        return ""
    return _("%(pseudonym)s, occurrence %(n)s: the assignment is %(status)s and its window still open; "
             "the participant answers it, an import may not")


def _response_create(*, timepoint: Timepoint, row: _Row, existing: Assignment | None) -> Response:
    definition = timepoint.version.definition
    if existing is None:
        span = timedelta(hours=timepoint.window) if timepoint.unit == Timepoint.Unit.HOURS else timedelta(
            days=timepoint.window)
        assignment = Assignment.objects.create(
            participant=row.participant, timepoint=timepoint, occurrence=row.occurrence, due_at=row.authored,
            expires_at=row.authored + span, status=Assignment.Status.COMPLETED,
        )
    else:
        assignment = existing
    response = Response(
        assignment=assignment, version=timepoint.version, status=Response.Status.COMPLETED, answers=row.answers,
        scores=compute.scores_compute(definition, row.answers), submitted_at=row.authored,
        next_page=len(rendering.build_pages(definition, definition.get("language", "fr"))),
        source=Response.Source.IMPORTED,
    )
    response._change_reason = "imported (FHIR QuestionnaireResponse)"
    response.save()
    # The same alert rules as a patient's submit: an imported answer that fires a rule is seen.
    alerts.alerts_raise(response=response)
    Assignment.objects.filter(pk=assignment.pk).exclude(status=Assignment.Status.COMPLETED).update(
        status=Assignment.Status.COMPLETED)
    # As a submit does: pending reminders of this assignment are cancelled in the same transaction.
    signals.response_completed.send(sender=Assignment, assignment_id=assignment.pk)
    return response


# --- an imported draft into editable rows -------------------------------------------------------------

class RowsRefused(Exception):
    def __init__(self, losses: list[Problem]):
        self.losses = losses
        super().__init__("; ".join(map(str, losses)))


_ROW_CONTROLS = {"page", "help", "slider"}
_ROW_ITEM_EXTENSIONS = {fhir.EXT_ITEM_TYPE, fhir.EXT_MIN, fhir.EXT_MAX, fhir.EXT_ITEM_CONTROL, fhir.EXT_SLIDER_STEP}
_ROW_ITEM_KEYS = {"linkId", "type", "text", "_text", "required", "repeats", "maxLength", "answerOption", "enableWhen",
                  "enableBehavior", "item", "extension"}
_ROW_TOP_KEYS = {"resourceType", "id", "meta", "language", "name", "title", "_title", "status", "subjectType", "item",
                 "extension", "version", "date", "url"}


def _fits(value: Any, digits: int, places: int) -> bool:
    """`value` fits a DecimalField(max_digits=digits, decimal_places=places)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    _sign, figures, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        return False
    return max(-exponent, 0) <= places and len(figures) + exponent <= digits - places


def rows_losses(questionnaire: Questionnaire) -> list[Problem]:
    """What copying an imported definition into draft rows would lose; [] when nothing."""
    from surveys.models.questionnaire import code_validator, option_code_validator

    definition = questionnaire.source_definition or {}
    known_languages = {c for c, _name in settings.LANGUAGES}
    losses: list[Problem] = []

    def lose(link_id: str | None, message: str) -> None:
        losses.append(Problem(_where("", link_id), message))

    def valid(validator, value: str) -> bool:
        try:
            validator(value)
        except Exception:  # noqa: BLE001 - a ValidationError, whatever its message
            return False
        return True

    def extensions(node: dict, link_id: str | None, allowed: set[str]) -> None:
        for ext in node.get("extension", ()):
            url = ext.get("url")
            if url not in allowed:
                lose(link_id, _("extension %(url)s") % {"url": url})
            elif url == fhir.EXT_ITEM_CONTROL and fhir.item_control(node) not in _ROW_CONTROLS:
                lose(link_id, _("display control %(code)s") % {"code": fhir.item_control(node)})

    def languages(node: dict, link_id: str | None) -> None:
        for d in _walk_dicts(node):
            if d.get("url") == fhir.EXT_TRANSLATION:
                for part in d.get("extension", ()):
                    if part.get("url") == "lang" and part.get("valueCode") not in known_languages:
                        lose(link_id, _("texts in %(lang)s") % {"lang": part.get("valueCode")})

    for key in sorted(set(definition) - _ROW_TOP_KEYS):
        lose(None, _("element %(key)s") % {"key": key})
    own_url = f"urn:ressenti:questionnaire:{questionnaire.study.code}:{questionnaire.code}"
    if definition.get("url") not in (None, own_url):
        lose(None, _("canonical url %(url)s (responses exported later would name ours)") % {"url": definition["url"]})
    extensions(definition, None, {fhir.EXT_INTRO} | set(fhir.DRAFT_EXTENSIONS))
    languages({k: v for k, v in definition.items() if k != "item"}, None)

    def item(node: dict, section: bool) -> None:
        link_id = str(node.get("linkId", ""))
        if not valid(code_validator, link_id):
            lose(link_id, _("code %(code)s: a row code is a letter, then letters, digits or _ (40 at most)")
                 % {"code": link_id})
        for key in sorted(set(node) - _ROW_ITEM_KEYS):
            lose(link_id, _("element %(key)s") % {"key": key})
        languages({k: v for k, v in node.items() if k != "item"}, link_id)
        if node.get("type") == "group":
            if not section:
                lose(link_id, _("a group inside a group"))
            for key in ("enableWhen", "required", "repeats"):
                if node.get(key):
                    lose(link_id, _("%(key)s on a section") % {"key": key})
            extensions(node, link_id, {fhir.EXT_ITEM_CONTROL})
            for child in node.get("item", []):
                item(child, section=False)
            return
        extensions(node, link_id, _ROW_ITEM_EXTENSIONS)
        kind = fhir.item_type(node)
        if node.get("type") == "open-choice":
            lose(link_id, _("answers typed in (open-choice)"))
        if node.get("maxLength") is not None and kind not in (T.SHORT_TEXT, T.LONG_TEXT):
            lose(link_id, _("maxLength on a %(type)s item") % {"type": node.get("type")})
        for name, value in (("minValue", fhir.ext_value(node, fhir.EXT_MIN)), ("maxValue", fhir.ext_value(node, fhir.EXT_MAX))):
            if value is not None and (not _number(value) or not _fits(value, 12, 4)):
                lose(link_id, _("%(ext)s %(value)s") % {"ext": name, "value": value})
        for child in node.get("item", []):
            if fhir.item_control(child) != "help":
                lose(link_id, _("items nested under a question"))
            elif child.get("linkId") != f"{link_id}__help" or set(child) - {"linkId", "type", "text", "_text",
                                                                             "extension"}:
                lose(link_id, _("help text %(code)s as written") % {"code": child.get("linkId")})
        for index, option in enumerate(node.get("answerOption", [])):
            code = fhir.option_code(option)
            where = f"answerOption[{index}]"
            if set(option) - {"valueCoding", "extension"}:
                lose(link_id, _("%(where)s: %(keys)s") % {"where": where, "keys": ", ".join(sorted(set(option) - {
                    "valueCoding", "extension"}))})
            coding = option.get("valueCoding", {})
            if set(coding) - {"code", "display", "_display"}:
                lose(link_id, _("%(where)s: %(keys)s") % {"where": where, "keys": ", ".join(sorted(set(coding) - {
                    "code", "display", "_display"}))})
            if not valid(option_code_validator, code):
                lose(link_id, _("%(where)s: option code %(code)s (letters, digits or _, 40 at most)")
                     % {"where": where, "code": code})
            if len(str(coding.get("display", ""))) > 300:
                lose(link_id, _("%(where)s: a label longer than 300 characters") % {"where": where})
            for ext in option.get("extension", ()):
                if ext.get("url") not in (fhir.EXT_ORDINAL, values.EXT_ITEM_WEIGHT):
                    lose(link_id, _("%(where)s: extension %(url)s") % {"where": where, "url": ext.get("url")})
            scores = {fhir.ext_value(option, fhir.EXT_ORDINAL), fhir.ext_value(option, values.EXT_ITEM_WEIGHT)} - {None}
            if len(scores) > 1:
                lose(link_id, _("%(where)s: two different scores (ordinalValue and itemWeight)") % {"where": where})
            elif scores and not _fits(next(iter(scores)), 8, 3):
                lose(link_id, _("%(where)s: score %(value)s") % {"where": where, "value": next(iter(scores))})
        for index, cond in enumerate(node.get("enableWhen", [])):
            where = f"enableWhen[{index}]"
            value = next((v for k, v in cond.items() if k.startswith("answer")), None)
            if isinstance(value, dict) and set(value) - {"code"}:
                lose(link_id, _("%(where)s: %(keys)s of the answer") % {"where": where, "keys": ", ".join(
                    sorted(set(value) - {"code"}))})
            if len(str(value)) > 100 or len(str(cond.get("question", ""))) > 40:
                lose(link_id, _("%(where)s: too long for a condition row") % {"where": where})

    items = definition.get("item", [])
    seen_group = False
    for node in items:
        if node.get("type") == "group":
            seen_group = True
        elif seen_group:
            lose(str(node.get("linkId")), _("its place after a section (items outside sections come first)"))
        item(node, section=True)
    return losses


@transaction.atomic
def questionnaire_rows_from_source(*, questionnaire: Questionnaire, by: AbstractBaseUser | None) -> Questionnaire:
    """Turn an imported draft into editable rows; refuses (RowsRefused, nothing written) when anything would be lost."""
    from surveys.questionnaires.publish import questionnaire_draft_from_version

    questionnaire = Questionnaire.objects.select_for_update().select_related("study").get(pk=questionnaire.pk)
    if not questionnaire.source_definition:
        return questionnaire
    losses = rows_losses(questionnaire)
    if losses:
        raise RowsRefused(losses)
    # Rows keep one score per option, read wherever FHIR lets it sit (values.option_score).
    definition = copy.deepcopy(questionnaire.source_definition)
    questionnaire_draft_from_version(version=QuestionnaireVersion(questionnaire=questionnaire, definition=definition),
                                     by=by)
    questionnaire.refresh_from_db()
    for lang, _name in settings.LANGUAGES:
        setattr(questionnaire, f"intro_{lang}", fhir.extension_text(definition, fhir.EXT_INTRO, lang, exact=True))
    questionnaire.source_definition = None
    questionnaire._change_reason = "imported definition copied into editable rows"
    questionnaire.save()
    return questionnaire
