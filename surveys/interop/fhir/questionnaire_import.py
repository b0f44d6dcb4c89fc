"""FHIR R4 Questionnaire import: a file (one Questionnaire or a Bundle of them) into draft definitions.

An imported Questionnaire is kept whole (surveys.interop.imports stores it in
`Questionnaire.source_definition`): unknown extensions and elements we do not use travel
with it. The parser only refuses what it cannot represent, naming the item and the element.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cached_property
from typing import Any

from django.conf import settings
from django.utils.text import slugify
from django.utils.translation import gettext as _
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

from surveys.interop.fhir.common import CHOICE_FHIR_TYPES, OPTION_KEYS, is_number, problem_where, walk_dicts
from surveys.interop.fhir.validation import fhir_errors
from surveys.interop.imports import ImportedQuestionnaire, ImportResult, definition_json
from surveys.models import Item, Questionnaire, Study
from surveys.questionnaires import conditions, expressions, fhir, values
from surveys.questionnaires.validation import Problem, definition_problems

T = Item.Type

EXT_VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
EXT_CALCULATED = conditions.EXT_CALCULATED
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"
EXT_ANSWER_EXPRESSION = SDC + "answerExpression"
EXT_ENABLE_WHEN_EXPRESSION = SDC + "enableWhenExpression"
EXT_INITIAL_EXPRESSION = SDC + "initialExpression"

SUPPORTED_TYPES = {
    "group",
    "display",
    "boolean",
    "decimal",
    "integer",
    "date",
    "time",
    "dateTime",
    "string",
    "text",
    "choice",
    "open-choice",
}
# The answerOption value[x] a string, integer, date or time item may offer (FHIR R4): picked as a
# choice, stored in the item's own type (surveys.questionnaires.values.offered_options).
TYPED_OPTION_KEYS = {"string": "valueString", "integer": "valueInteger", "date": "valueDate", "time": "valueTime"}
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
    "dateTime": {"answerDateTime", "answerDate"},
    "string": {"answerString"},
    "text": {"answerString"},
}
# Item elements whose meaning is true or false (read by truthiness everywhere after the import).
BOOLEAN_ELEMENTS = ("repeats", "required", "readOnly")
_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_CODE_MAX = Questionnaire._meta.get_field("code").max_length


def _has_ext(node: dict, url: str) -> bool:
    return any(e.get("url") == url for e in node.get("extension", ()) if isinstance(e, dict))


def _repair_variable_names(definition: dict, prefix: str) -> list[Problem]:
    """FHIR R4 types Expression.name as an id (letters, digits, '-', '.'); SDC forms often use '_'.

    Such names are renamed, with their uses in the definition's expressions, so the file
    becomes valid R4 and exports stay valid; the meaning is unchanged (names are local).
    """
    names = {
        d["valueExpression"]["name"]
        for d in walk_dicts(definition)
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
                    expression["expression"] = pattern.sub(
                        lambda m: "%" + renames[m.group(2)], expression["expression"]
                    )
            for value in node.values():
                visit(value, link_id)
        elif isinstance(node, list):
            for value in node:
                visit(value, link_id)

    visit(definition, None)
    return [
        Problem(
            problem_where(prefix, link_id),
            _(
                "variable names %(names)s are not valid FHIR R4 names (letters, digits, - and . only): renamed "
                "%(new)s, with their uses in expressions"
            )
            % {"names": ", ".join(old), "new": ", ".join(renames[o] for o in old)},
        )
        for link_id, old in where_renamed.items()
    ]


def _repair_publication_elements(definition: dict, prefix: str) -> list[Problem]:
    """Elements R4 requires that say nothing about the questions, often missing in published forms:
    supplied or left out, with a warning, so such a file imports (its export writes both afresh).

    `status` is required: a file without it is taken as a draft (the export says "active" once published).
    `text` (the narrative) must carry an XHTML `div`: one without it is left out, as pages never show it."""
    warnings = []
    if "status" not in definition:
        definition["status"] = "draft"
        warnings.append(Problem(problem_where(prefix), _("status: missing (FHIR R4 requires it); taken as draft")))
    text = definition.get("text")
    if isinstance(text, dict) and not text.get("div"):
        del definition["text"]
        warnings.append(
            Problem(problem_where(prefix), _("text: the narrative has no div (FHIR R4 requires one); left out"))
        )
    return warnings


def _language_code(code: Any) -> str:
    """ "en-US" -> "en" when that is one of our languages; other codes unchanged."""
    text = str(code or "").strip()
    primary = text.split("-")[0].lower()
    known = {c for c, _name in settings.LANGUAGES}
    return primary if primary in known else text


def _normalise_languages(definition: dict) -> None:
    for node in walk_dicts(definition):
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


class _Checker:
    """Walks one Questionnaire and records problems and warnings, each naming the item."""

    def __init__(self, definition: dict, prefix: str, *, skip: frozenset[str] = frozenset()):
        self.definition = definition
        self.prefix = prefix
        # Items whose structure FHIR validation already refused: their own checks would say nothing true.
        self.skip = skip
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.seen: dict[str, dict] = {}  # linkId -> node, in document order
        self.not_asked: set[str] = set()

    def problem(self, link_id: str | None, message: str) -> None:
        found = Problem(problem_where(self.prefix, link_id), message)
        if found not in self.problems:  # one item, one cause: said once
            self.problems.append(found)

    def warn(self, link_id: str | None, message: str) -> None:
        found = Problem(problem_where(self.prefix, link_id), message)
        if found not in self.warnings:
            self.warnings.append(found)

    def run(self) -> None:
        items = self.definition.get("item", [])
        if not isinstance(items, list) or not items:
            self.problem(None, _("item: the questionnaire has no items"))
            return
        self.walk(items, depth=0)
        # The questionnaire's own variables (FHIRPath): refused when the engine cannot evaluate one.
        if None in self.expression_problems:
            self.problem(None, self.expression_problems[None])

    @cached_property
    def expression_problems(self) -> dict[str | None, str]:
        """linkId (None: the questionnaire) -> the first of its expressions fhirpathpy cannot evaluate."""
        found: dict[str | None, str] = {}
        for link_id, message in expressions.expression_problems(self.definition):
            found.setdefault(link_id, message)
        return found

    def walk(self, nodes: list[dict], depth: int) -> None:
        for node in nodes if isinstance(nodes, list) else ():
            if not isinstance(node, dict):
                continue  # FHIR validation named it
            link_id = str(node.get("linkId", ""))
            if link_id in self.skip:
                # Refused by FHIR validation: known to the conditions after it, its children checked.
                self.seen.setdefault(link_id, node)
                children = node.get("item")
                self.walk(children if isinstance(children, list) else [], depth + 1)
                continue
            try:
                self.item(node, depth)
            except (AttributeError, TypeError, KeyError, ValueError):
                # A shape FHIR validation let through but the checks cannot read: said once, not a crash.
                self.problem(
                    link_id or None, _("the item cannot be read (its elements are not as FHIR R4 writes them)")
                )

    def item(self, node: dict, depth: int) -> None:
        self.item_itself(node, depth)
        # Items nested under a question (R4 allows it: a follow-up, an instruction) come on the same page,
        # right after it, and are shown only while it is: checked after it, as conditions test earlier items.
        if node.get("type") != "group" and node.get("linkId"):
            nested = [
                c for c in node.get("item", []) if not (c.get("type") == "display" and fhir.item_control(c) == "help")
            ]
            self.walk(nested, depth + 1)

    def item_itself(self, node: dict, depth: int) -> None:
        link_id = str(node.get("linkId", ""))
        fhir_type = node.get("type")
        if not link_id:
            self.problem(None, _("an item has no linkId"))
            return
        if link_id in self.seen:
            self.problem(
                link_id, _("linkId %(code)s is used more than once (linkIds must be unique)") % {"code": link_id}
            )
        # FHIR JSON writes these as true or false. fhir.resources accepts the texts "true" and "false" too, but the
        # definition is kept as written, where the text "false" is truthy: a choice would become a multiple choice.
        for element in BOOLEAN_ELEMENTS:
            if element in node and not isinstance(node[element], bool):
                self.problem(
                    link_id,
                    _("%(element)s: %(value)s is not true or false (FHIR JSON writes a boolean, without quotes)")
                    % {"element": element, "value": json.dumps(node[element])},
                )
        # Conditions may only test earlier items: this one joins them once its own are checked.
        self.conditions(node, link_id)
        self.seen[link_id] = node
        # A quantity the patient never gives (a calculated total, a read-only value) is kept: only its number is read.
        if fhir_type not in SUPPORTED_TYPES and not (fhir_type == "quantity" and conditions.not_asked(node)):
            self.problem(
                link_id,
                _("type %(type)s: answers of this type cannot be collected here (supported: %(known)s)")
                % {"type": fhir_type, "known": ", ".join(sorted(SUPPORTED_TYPES))},
            )
            return
        ours = fhir.ext_value(node, fhir.EXT_ITEM_TYPE)
        if ours is not None and ours not in T.values:
            self.problem(link_id, _("extension item-type: unknown item type %(type)s") % {"type": ours})
        # Its expressions (variables, enableWhenExpression, calculatedExpression), once per item.
        if link_id in self.expression_problems:
            self.problem(link_id, self.expression_problems[link_id])
        if fhir_type == "group":
            if node.get("repeats") is True:
                self.problem(link_id, _("repeats: a group answered several times cannot be represented"))
            children = node.get("item", [])
            if not children:
                self.warn(link_id, _("group without items: it shows nothing"))
            self.walk(children, depth + 1)
            return
        # A calculated item is computed from the answers and shown read-only (expressions.py); conditions
        # may test it. A read-only item that is not calculated has no value here.
        calculated = _has_ext(node, EXT_CALCULATED)
        if node.get("readOnly") and not calculated:
            self.not_asked.add(link_id)
            self.warn(link_id, _("readOnly: kept, but read-only items are not shown to patients"))
        if _has_ext(node, EXT_INITIAL_EXPRESSION):
            self.warn(link_id, _("initialExpression: kept but not evaluated"))
        if node.get("initial") and not calculated and not node.get("readOnly"):
            self.warn(link_id, _("initial: the initial answer is kept but not filled in for patients"))
        if fhir_type == "display":
            return
        if node.get("repeats") is True and fhir_type not in CHOICE_FHIR_TYPES:
            self.problem(
                link_id,
                _(
                    "repeats: several answers to a %(type)s item cannot be collected (only a choice "
                    "may have several answers)"
                )
                % {"type": fhir_type},
            )
        if fhir_type in CHOICE_FHIR_TYPES:
            self.options(node, link_id, fhir_type)
        elif node.get("answerOption") or node.get("answerValueSet"):
            self.typed_options(node, link_id, fhir_type)
        self.limits(node, link_id, fhir_type)

    def options(self, node: dict, link_id: str, fhir_type: str) -> None:
        if fhir_type == "open-choice":
            self.warn(link_id, _("open-choice: offered as a closed choice; answers typed in are not collected"))
        if _has_ext(node, EXT_ANSWER_EXPRESSION):
            self.problem(link_id, _("answerExpression: options computed by an expression cannot be listed here"))
        options = node.get("answerOption", [])
        if not options and node.get("answerValueSet"):
            options = self.value_set_options(node, link_id)
            if not options:
                return
        if not options:
            self.problem(link_id, _("answerOption: a choice item needs its answer options"))
            return
        if node.get("answerValueSet"):
            self.warn(link_id, _("answerValueSet is kept, but only the answerOption list is offered"))
        codes: set[str] = set()
        for index, option in enumerate(options):
            keys = OPTION_KEYS & set(option)
            if not keys:
                self.problem(
                    link_id,
                    _(
                        "answerOption[%(n)s]: only valueCoding, valueString, valueInteger, "
                        "valueDate or valueTime options can be offered"
                    )
                    % {"n": index},
                )
                continue
            code = fhir.option_code(option)
            if not code:
                self.problem(link_id, _("answerOption[%(n)s]: the option has no code") % {"n": index})
            elif code in codes:
                self.problem(
                    link_id,
                    _("answerOption[%(n)s]: option code %(code)s is used more than once") % {"n": index, "code": code},
                )
            codes.add(code)
            for url in (fhir.EXT_ORDINAL, values.EXT_ITEM_WEIGHT):
                value = fhir.ext_value(option, url)
                if value is not None and not is_number(value):
                    self.problem(
                        link_id,
                        _("answerOption[%(n)s]: the score (%(url)s) is not a number")
                        % {"n": index, "url": url.rsplit("/", 1)[-1]},
                    )
            if option.get("initialSelected"):
                self.warn(link_id, _("initialSelected: kept, but no option is ticked in advance for patients"))

    def value_set_options(self, node: dict, link_id: str) -> list[dict]:
        """The options of a ValueSet the file contains ("#id"), written into the item's answerOption (the
        one list every reader uses: pages, validation, scores, exports); [] with a problem otherwise.

        The item then names its value set in EXT_OPTIONS_FROM instead of answerValueSet (FHIR R4 forbids
        both on one item), and the contained ValueSet stays in the definition: the export carries both."""
        reference = node["answerValueSet"]
        value_set = fhir.contained_value_set(self.definition, reference)
        if value_set is None:
            self.problem(
                link_id,
                _(
                    "answerValueSet: the value set %(vs)s is not in the file (only a ValueSet in the "
                    "questionnaire's contained, named #id, can be read); give its options as answerOption"
                )
                % {"vs": reference},
            )
            return []
        options, missing = fhir.value_set_options(value_set)
        if not options:
            self.problem(
                link_id,
                _("answerValueSet: the options of %(vs)s cannot be listed from the file (%(part)s)")
                % {"vs": reference, "part": missing or "expansion.contains"},
            )
            return []
        node["answerOption"] = options
        del node["answerValueSet"]
        node.setdefault("extension", []).append({"url": fhir.EXT_OPTIONS_FROM, "valueCanonical": reference})
        return options

    def typed_options(self, node: dict, link_id: str, fhir_type: str) -> None:
        """answerOption on a string, integer, date or time item: offered as a choice, stored in its type."""
        key = TYPED_OPTION_KEYS.get(fhir_type)
        if key is None or node.get("answerValueSet"):
            self.problem(
                link_id,
                _(
                    "answerOption: options on a %(type)s item cannot be offered here (only on choice, string, integer, date and time items, as answerOption)"
                )
                % {"type": fhir_type},
            )
            return
        codes: set[str] = set()
        kind = fhir.item_type(node)
        for index, option in enumerate(node.get("answerOption", [])):
            stored = values.offered_value(kind, option.get(key)) if isinstance(option, dict) else None
            if stored is None:
                self.problem(
                    link_id,
                    _("answerOption[%(n)s]: the options of an item of type %(type)s are %(key)s values")
                    % {"n": index, "type": fhir_type, "key": key},
                )
                continue
            code = values.option_form_text(kind, stored)
            if code in codes:
                self.problem(
                    link_id,
                    _("answerOption[%(n)s]: option %(code)s is given more than once") % {"n": index, "code": code},
                )
            codes.add(code)
            if option.get("initialSelected"):
                self.warn(link_id, _("initialSelected: kept, but no option is ticked in advance for patients"))

    def limits(self, node: dict, link_id: str, fhir_type: str) -> None:
        low, high = fhir.ext_value(node, fhir.EXT_MIN), fhir.ext_value(node, fhir.EXT_MAX)
        kind = fhir.item_type(node)
        for name, value in (("minValue", low), ("maxValue", high)):
            if value is None:
                continue
            if kind in values.NUMBER_TYPES and not is_number(value):
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
                self.problem(
                    link_id,
                    _("%(where)s: refers to %(code)s, which is not an item before this one")
                    % {"where": where, "code": question},
                )
                continue
            if question in self.not_asked:
                self.problem(
                    link_id,
                    _("%(where)s: depends on %(code)s, which is read-only and never answered here")
                    % {"where": where, "code": question},
                )
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
                self.problem(
                    link_id,
                    _("%(where)s: %(key)s cannot be compared with the answer to %(code)s (%(type)s)")
                    % {"where": where, "key": key, "code": question, "type": target_type},
                )
                continue
            if target_type in CHOICE_FHIR_TYPES:
                value = cond[key]
                code = value.get("code") if isinstance(value, dict) else value
                if operator not in ("=", "!="):
                    self.problem(
                        link_id,
                        _("%(where)s: operator %(op)s cannot compare choices") % {"where": where, "op": operator},
                    )
                elif str(code) not in {fhir.option_code(o) for o in target.get("answerOption", [])}:
                    self.problem(
                        link_id,
                        _("%(where)s: %(code)s has no option %(answer)s")
                        % {"where": where, "code": question, "answer": code},
                    )
            elif target_type in ("boolean", "string", "text") and operator not in ("=", "!="):
                self.problem(
                    link_id,
                    _("%(where)s: operator %(op)s cannot compare %(type)s answers")
                    % {"where": where, "op": operator, "type": target_type},
                )


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
            warnings.append(
                Problem(
                    problem_where(prefix),
                    _(
                        "%(count)s texts have no %(lang)s version; the study asks for %(lang)s, so publishing will need "
                        "them (add translations to the file, or copy the draft into editable rows)"
                    )
                    % {"count": missing, "lang": lang},
                )
            )
    return warnings


def _untitled_warnings(definition: dict, prefix: str) -> list[Problem]:
    """Texts publishing needs that the file does not give at all (a group's title is optional)."""
    warnings = []
    if not definition.get("title") and not (definition.get("_title") or {}).get("extension"):
        warnings.append(
            Problem(
                problem_where(prefix),
                _(
                    "title: the questionnaire has no title; publishing will need one (copy the draft into editable rows)"
                ),
            )
        )
    for node in fhir.iter_items(definition.get("item", [])):
        if node.get("type") != "group" and not conditions.not_asked(node) and not node.get("text"):
            warnings.append(
                Problem(
                    problem_where(prefix, str(node.get("linkId", ""))),
                    _("text: the item has no text; publishing will need one (copy the draft into editable rows)"),
                )
            )
    return warnings


def _file_language(
    definition: dict, *, language: str, language_override: str, prefix: str
) -> tuple[str, list[Problem], list[Problem]]:
    """(language of the texts, problems, warnings). The file's own `language` wins: `language` only says
    what the texts are in when the file says nothing; `language_override` relabels a file that says
    otherwise (its texts are known to be in that language), and says so."""
    known = [c for c, _name in settings.LANGUAGES]
    stated = definition.get("language")
    stated_code = _language_code(stated) if isinstance(stated, str) and stated.strip() else ""
    if language_override:
        chosen = _language_code(language_override)
        warnings = []
        if stated_code and stated_code != chosen:
            warnings.append(
                Problem(
                    problem_where(prefix),
                    _("language: the file says %(stated)s; its texts are taken as %(lang)s, as the override asks")
                    % {"stated": stated, "lang": chosen},
                )
            )
        if chosen in known:
            return chosen, [], warnings
        return (
            "",
            [
                Problem(
                    problem_where(prefix),
                    _("language override %(lang)s: texts can be in %(known)s only")
                    % {"lang": chosen, "known": ", ".join(known)},
                )
            ],
            warnings,
        )
    chosen = stated_code or _language_code(language or "en")
    if chosen in known:
        return chosen, [], []
    return (
        "",
        [
            Problem(
                problem_where(prefix),
                _(
                    "language %(lang)s: the file says its texts are in %(lang)s, and texts can be in %(known)s only; "
                    "if they are in fact in one of these, give it as the language override"
                )
                % {"lang": stated if stated_code else chosen, "known": ", ".join(known)},
            )
        ],
        [],
    )


def _publish_problems(definition: dict, study: Study, prefix: str, said: set[str]) -> list[Problem]:
    """What publishing would refuse in the definition as imported, other than texts (the import warns
    about those: they can be given once the draft is copied into editable rows). An imported draft keeps
    its definition whole, so these cannot be fixed after the import: they refuse it now, each named as
    the import names an item. Items the import already refused (`said`, where-texts) are left out: one
    item, one cause, said once."""
    # publish validation names an item "item X" and a group "section X"; the import says "item X" for both.
    names: dict[str, str] = {}
    for node in fhir.iter_items(definition.get("item", [])):
        link_id = str(node.get("linkId", ""))
        for label in (_("item %(code)s"), _("section %(code)s")):
            names[label % {"code": link_id or "?"}] = problem_where(prefix, link_id or None)
    found: list[Problem] = []
    try:
        publish = definition_problems(definition, languages=list(study.languages), texts=False)
    except (AttributeError, TypeError, KeyError, ValueError):
        # A shape FHIR validation refused elsewhere in the file, which publish validation cannot read:
        # the structure errors already refuse the file and name it.
        return []
    for problem in publish:
        where = names.get(problem.where) or (f"{prefix}, {problem.where}" if prefix else problem.where)
        candidate = Problem(where, problem.message)
        if where not in said and candidate not in found:
            found.append(candidate)
    return found


def _one_questionnaire(
    resource: dict, *, study: Study, prefix: str, language: str, language_override: str = ""
) -> tuple[ImportedQuestionnaire | None, list[Problem]]:
    """Every problem of one Questionnaire in one pass: FHIR structure, language, content, and what publishing
    would refuse. An item that FHIR validation refuses is not checked further (its checks would say
    nothing true); everything else still is."""
    definition = copy.deepcopy(resource)
    warnings = _repair_variable_names(definition, prefix) + _repair_publication_elements(definition, prefix)
    structure = fhir_errors(definition, FhirQuestionnaire)
    problems = [Problem(problem_where(prefix, link_id), f"{path}: {message}") for link_id, path, message in structure]
    refused_items = frozenset(link_id for link_id, _path, _message in structure if link_id is not None)
    chosen, language_problems, language_warnings = _file_language(
        definition, language=language, language_override=language_override, prefix=prefix
    )
    problems += language_problems
    warnings += language_warnings
    # The checks after this read the texts in the language chosen; with none, in the file's own.
    definition["language"] = chosen or _language_code(definition.get("language") or language or "en")
    _normalise_languages(definition)
    checker = _Checker(definition, prefix, skip=refused_items)
    checker.run()
    problems += [p for p in checker.problems if p not in problems]
    # Items FHIR validation refused are named already: what publishing says of them is left out.
    said = {p.where for p in problems} | {problem_where(prefix, link_id) for link_id in refused_items}
    problems += _publish_problems(definition, study, prefix, said)
    if problems:
        return None, problems
    warnings += (
        checker.warnings
        + _untitled_warnings(definition, prefix)
        + _missing_language_warnings(definition, study, prefix)
    )
    return ImportedQuestionnaire(code=code_from(definition), definition=definition, warnings=warnings), []


def questionnaire_parse(
    content: bytes, *, study: Study, language: str = "", language_override: str = ""
) -> ImportResult:
    """Parse a FHIR R4 Questionnaire (or a Bundle of them) in JSON; writes nothing.

    `language` is the language of the texts when the file does not say it (default "en"): a file's own
    `language` element wins. `language_override` relabels the texts of every questionnaire of the file,
    whatever it says (a file that states a wrong language), with a warning naming what it said.
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
                problems.append(
                    Problem(
                        where,
                        _("resourceType is %(type)s; only Questionnaire entries can be imported")
                        % {"type": resource.get("resourceType")},
                    )
                )
            else:
                resources.append((where, resource))
    else:
        return ImportResult(
            problems=[
                Problem(
                    _("resourceType"),
                    _("is %(type)s; a Questionnaire or a Bundle of Questionnaires is expected") % {"type": kind},
                )
            ]
        )
    result = ImportResult(problems=problems)
    used: set[str] = set()
    for prefix, resource in resources:
        found, found_problems = _one_questionnaire(
            resource, study=study, prefix=prefix, language=language, language_override=language_override
        )
        result.problems += found_problems
        if found is None:
            continue
        code, n = found.code, 1
        while found.code in used:  # two questionnaires of one Bundle with the same name
            n += 1
            suffix = f"-{n}"
            found.code = code[: _CODE_MAX - len(suffix)] + suffix
        used.add(found.code)
        result.questionnaires.append(found)
    return result


def question_count(definition: dict) -> int:
    return sum(
        1
        for n in fhir.iter_items(definition.get("item", []))
        if n.get("type") not in ("group", "display") and not conditions.not_asked(n)
    )
