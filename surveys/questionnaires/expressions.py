"""FHIRPath in questionnaires (SDC): variables, calculated items and display conditions as expressions.

The one place that reads and evaluates a questionnaire's expressions, with fhirpathpy (the FHIRPath
engine, R4 model, so that choice elements such as `answer.value` resolve):

- `variable` (http://hl7.org/fhir/StructureDefinition/variable) on the questionnaire and on items;
- `sdc-questionnaire-calculatedExpression`: the item's value, computed here, never typed by a patient;
- `sdc-questionnaire-enableWhenExpression`: the item is shown when the expression gives true (an
  empty result, or anything but a single true, hides it: FHIRPath's boolean reading).

Each expression sees, as SDC says: `%resource` (the QuestionnaireResponse built from the answers, by
the same shaping as the FHIR export, `response_export._answer_items`), `%questionnaire` (the
definition), `%context` (the item's QuestionnaireResponse item, or the response at questionnaire
level), and the variables in scope: the questionnaire's, then those of the item's ancestors and of the
item itself, each evaluated in document order, an item's variables visible only to it and to the items
inside it. The input of an item's expression is its `%context`.

`expression_problems` says, per item, what the engine cannot evaluate (a syntax error, a function
fhirpathpy lacks such as SDC's `answerOption()` / `ordinal()`, an unknown `%variable` such as
`%scores`): the import refuses those, so what reaches a patient always evaluates. A published
definition is immutable, so each expression text is compiled once and kept (`compiled`, by text).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from antlr4.error.ErrorListener import ErrorListener
from django.utils.translation import gettext as _
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from surveys.interop.fhir.response_export import _answer_items
from surveys.models import Item
from surveys.questionnaires import fhir, values

logger = logging.getLogger(__name__)
T = Item.Type

EXT_VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
EXT_CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"
EXT_ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
FHIRPATH = "text/fhirpath"
R4 = models["r4"]
# The environment every expression gets (SDC: %resource, %questionnaire, %context; FHIRPath: %ucum;
# %rootResource is the response too, since nothing here is contained).
STANDARD_VARIABLES = frozenset({"resource", "rootResource", "questionnaire", "context", "ucum"})
# More passes than this over calculated items means a cycle (a calculation feeding itself): stop.
MAX_PASSES = 50


class Unevaluable(ValueError):
    """An expression fhirpathpy cannot evaluate, with the reason in words."""


# --- compiling ------------------------------------------------------------------------------------------


class _Raising(ErrorListener):
    # fhirpathpy's own parser listens with a silent ErrorListener: "1 +" or "foo(" would parse into
    # something. Parsing again with this one is how a syntax error is seen.
    def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):  # noqa: N802 (ANTLR's name)
        raise Unevaluable(_("syntax error at character %(n)s (%(what)s)") % {"n": column + 1, "what": msg})


def _ast(text: str) -> dict:
    lexer = FHIRPathLexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raising())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raising())
    listener = ASTPathListener()
    ParseTreeWalker().walk(listener, parser.expression())
    return listener.parentStack[0]


def _nodes(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("children") or ():
        if isinstance(child, dict):
            yield from _nodes(child)


def _identifier(node: dict) -> str:
    ident = next((c for c in node.get("children") or () if c.get("type") == "Identifier"), None)
    return str((ident or {}).get("text") or "").strip("`")


@dataclass(frozen=True)
class Compiled:
    """One expression, parsed and checked: the function to run and the %variables it reads."""

    run: Callable
    reads: frozenset[str]


@lru_cache(maxsize=4096)
def compiled(text: str) -> Compiled:
    """The expression compiled by fhirpathpy (R4 model), once per text; Unevaluable when it cannot run:
    a syntax error, or a function the engine lacks (it would only fail when reached)."""
    if not text.strip():
        raise Unevaluable(_("the expression is empty"))
    tree = _ast(text)
    reads: set[str] = set()
    for node in _nodes(tree):
        if node.get("type") == "Functn":
            name = _identifier(node)
            if name not in invocation_registry:
                raise Unevaluable(_("function %(name)s() is not available here") % {"name": name})
        elif node.get("type") == "ExternalConstant":
            # %name, %`name` or %'name' (the last has no Identifier child, only its text).
            reads.add(_identifier(node) or "".join(node.get("terminalNodeText") or [])[1:].strip("'"))
    return Compiled(run=fhirpathpy.compile(text, model=R4), reads=frozenset(reads))


# --- where the expressions are ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """One expression of a definition: a variable (with its name), a calculation or a display condition."""

    url: str
    text: str
    language: str
    name: str = ""


def expressions_of(node: dict, url: str) -> list[Expression]:
    out = []
    for ext in node.get("extension", ()):
        if isinstance(ext, dict) and ext.get("url") == url:
            given = ext.get("valueExpression")
            value: dict = given if isinstance(given, dict) else {}
            out.append(
                Expression(
                    url=url,
                    text=str(value.get("expression") or ""),
                    language=str(value.get("language") or ""),
                    name=str(value.get("name") or ""),
                )
            )
    return out


def calculation(node: dict) -> Expression | None:
    found = expressions_of(node, EXT_CALCULATED)
    return found[0] if found else None


def is_calculated(node: dict) -> bool:
    return node.get("type") not in ("group", "display") and calculation(node) is not None


def enable_expression(node: dict) -> Expression | None:
    found = expressions_of(node, EXT_ENABLE_WHEN_EXPRESSION)
    return found[0] if found else None


def _all_nodes(nodes: list[dict]) -> Iterator[dict]:
    for node in nodes:
        if isinstance(node, dict):
            yield node
            yield from _all_nodes(node.get("item") or [])


def has_expressions(definition: dict) -> bool:
    """Anything here to evaluate: a calculated item or a display condition written as an expression."""
    return any(
        is_calculated(node) or enable_expression(node) is not None for node in _all_nodes(definition.get("item") or [])
    )


def expression_problems(definition: dict) -> list[tuple[str | None, str]]:
    """(linkId or None for the questionnaire, message) for each expression that cannot be evaluated here,
    in document order, at most one per item (the first found), each quoting the expression."""
    problems: list[tuple[str | None, str]] = []

    def check(where: str | None, found: list[Expression], scope: set[str] | frozenset[str]) -> set[str]:
        scope = set(scope)
        for expression in found:
            problem = _problem(expression, scope)
            if problem:
                problems.append((where, problem))
                return scope
            if expression.url == EXT_VARIABLE:
                scope.add(expression.name)
        return scope

    def walk(nodes: list[dict], scope: set[str]) -> None:
        for node in nodes:
            link_id = str(node.get("linkId", ""))
            urls = [EXT_VARIABLE, EXT_ENABLE_WHEN_EXPRESSION]
            if node.get("type") not in ("group", "display"):
                urls.append(EXT_CALCULATED)
            # In the order the item writes them: a variable is known to what follows it.
            own = [
                found
                for ext in node.get("extension", ())
                if isinstance(ext, dict) and ext.get("url") in urls
                for found in expressions_of({"extension": [ext]}, ext["url"])
            ]
            walk(node.get("item") or [], check(link_id, own, scope))

    walk(definition.get("item") or [], check(None, expressions_of(definition, EXT_VARIABLE), STANDARD_VARIABLES))
    return problems


def _problem(expression: Expression, scope: set[str] | frozenset[str]) -> str:
    label = {EXT_VARIABLE: "variable", EXT_CALCULATED: "calculatedExpression"}.get(
        expression.url, "enableWhenExpression"
    )
    if expression.url == EXT_VARIABLE:
        label = f"variable {expression.name or '?'}"
    quoted = f"{label} {expression.text!r}"
    if expression.language != FHIRPATH:
        return _("%(expression)s: only FHIRPath (text/fhirpath) is evaluated here, not %(language)s") % {
            "expression": quoted,
            "language": expression.language or "?",
        }
    if expression.url == EXT_VARIABLE and not expression.name:
        return _("%(expression)s: a variable needs a name") % {"expression": quoted}
    try:
        unknown = sorted(compiled(expression.text).reads - scope)
    except Unevaluable as error:
        return f"{quoted}: {error}"
    if unknown:
        return _("%(expression)s: %(names)s is not a variable known here") % {
            "expression": quoted,
            "names": ", ".join(f"%{n}" for n in unknown),
        }
    return ""


# --- evaluating ---------------------------------------------------------------------------------------


def response_resource(definition: dict, answers: dict) -> dict:
    """The QuestionnaireResponse these answers make, items nested as the questionnaire's (the export's
    shaping), for %resource."""
    base = definition.get("language", "en")
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "in-progress",
        "item": _answer_items(definition.get("item") or [], answers or {}, base),
    }


def _response_items(items: list[dict], out: dict[str, dict]) -> dict[str, dict]:
    for entry in items:
        out.setdefault(str(entry.get("linkId")), entry)
        _response_items(entry.get("item") or [], out)
    return out


@dataclass
class Outcome:
    """What a definition's expressions give for some answers."""

    # linkId -> the computed value in its stored form (values.py), for calculated items that have one.
    calculated: dict[str, Any] = field(default_factory=dict)
    # linkId -> whether its enableWhenExpression holds.
    enabled: dict[str, bool] = field(default_factory=dict)


def _run(expression: Expression, focus: Any, env: dict) -> list:
    """The expression's result; [] when it fails on these data (a type clash the import could not see)."""
    try:
        return list(compiled(expression.text).run(focus, env))
    except Unevaluable:
        return []
    except Exception:  # fhirpathpy raises bare Exceptions for type errors met while evaluating
        logger.warning("FHIRPath expression failed on these answers: %s", expression.text, exc_info=True)
        return []


def _one_pass(definition: dict, answers: dict) -> Outcome:
    resource = response_resource(definition, answers)
    by_link = _response_items(resource["item"], {})
    outcome = Outcome()
    env: dict[str, Any] = {"resource": resource, "rootResource": resource, "questionnaire": definition}
    env["context"] = resource
    for variable in expressions_of(definition, EXT_VARIABLE):
        env[variable.name] = _run(variable, resource, env)

    def walk(nodes: list[dict], outer: dict) -> None:
        for node in nodes:
            link_id = str(node.get("linkId", ""))
            focus = ResourceNode.create_node(by_link.get(link_id) or {"linkId": link_id}, "QuestionnaireResponse.item")
            scope = {**outer, "context": focus}
            for variable in expressions_of(node, EXT_VARIABLE):
                scope[variable.name] = _run(variable, focus, scope)
            condition = enable_expression(node)
            if condition is not None:
                outcome.enabled[link_id] = _run(condition, focus, scope) == [True]
            formula = calculation(node) if is_calculated(node) else None
            if formula is not None:
                value = stored_form(node, _run(formula, focus, scope))
                if not values.is_missing(value):
                    outcome.calculated[link_id] = value
            walk(node.get("item") or [], scope)

    walk(definition.get("item") or [], env)
    return outcome


def expressions_evaluate(definition: dict, answers: dict, seed: dict | None = None) -> Outcome:
    """Calculated values and expression conditions for these answers (the patient's; calculated values in
    them are not taken, but computed). A calculation may read another: passes are repeated until the values
    stop changing, starting from `seed` (the values stored last time), so that answers whose stored values
    are right take one pass. Outcomes are kept for the last few (definition, answers): a page and its
    post evaluate the same answers several times, and some published expressions are slow in fhirpathpy
    (lforms' PHQ-9 variables search the answers once per option: about 50 ms a pass)."""
    calculated_ids = {str(n.get("linkId")) for n in _all_nodes(definition.get("item") or []) if is_calculated(n)}
    given = {k: v for k, v in (answers or {}).items() if k not in calculated_ids}
    start = {k: v for k, v in (seed or {}).items() if k in calculated_ids and not values.is_missing(v)}
    # The seed only saves passes (the values do not depend on it): it is not part of the key.
    key = (_content_key(definition), _canonical(given))
    with _OUTCOMES_LOCK:
        found = _OUTCOMES.get(key)
        if found is not None:
            _OUTCOMES.move_to_end(key)
            return copy.deepcopy(found)
    outcome = _one_pass(definition, {**given, **start})
    previous = start
    for _pass in range(MAX_PASSES):
        if outcome.calculated == previous:
            break
        previous = outcome.calculated
        outcome = _one_pass(definition, {**given, **outcome.calculated})
    else:
        logger.warning("calculated items of %r keep changing: a calculation reads itself", definition.get("title"))
    with _OUTCOMES_LOCK:
        _OUTCOMES[key] = copy.deepcopy(outcome)
        while len(_OUTCOMES) > OUTCOMES_KEPT:
            _OUTCOMES.popitem(last=False)
    return outcome


OUTCOMES_KEPT = 256
_OUTCOMES: OrderedDict[tuple[str, str], Outcome] = OrderedDict()
_OUTCOMES_LOCK = threading.Lock()


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _content_key(definition: dict) -> str:
    """What the definition holds (not which dict it is: a draft's definition may be built again, or changed)."""
    return hashlib.sha256(_canonical(definition).encode()).hexdigest()


# --- results as stored answers ------------------------------------------------------------------------


def _scalar(value: Any) -> Any:
    if isinstance(value, ResourceNode):
        value = value.data
    if isinstance(value, dict) and "code" in value:
        return str(value["code"])
    if isinstance(value, bool | int | float | str | Decimal):
        return value
    return str(value)  # FHIRPath dates and times


def stored_form(node: dict, result: list) -> Any:
    """A calculation's result as the item's stored answer (values.py); None when it has none, or one
    this item cannot hold (several values for a single answer, a text for a number)."""
    found = [_scalar(v) for v in result if v is not None]
    kind = values.kind_of(node)
    if not found:
        return None
    if kind == T.MULTIPLE:
        return [str(v) for v in found]
    if len(found) > 1:
        return None
    value = found[0]
    if kind in values.NUMBER_TYPES:
        number = values.to_decimal(value) if not isinstance(value, bool) else None
        if number is None or not number.is_finite():
            return None
        if kind in values.WHOLE_NUMBER_TYPES:
            return int(number) if number == number.to_integral_value() else None
        return float(number)
    if kind == T.YES_NO:
        return values.to_bool(value)
    if kind in (T.DATE, T.TIME):
        return str(value).lstrip("@").removeprefix("T")
    return str(value)


def display_label(node: dict, value: Any, *, language: str, base: str) -> str:
    """A calculated item as the patient reads it: "Total score: 12", its text and its value."""
    text = fhir.localized(node, "text", language, base) or str(node.get("linkId", ""))
    shown = values.display(node, value, language=language, base=base) if not values.is_missing(value) else "—"
    return _("%(text)s: %(value)s") % {"text": text.rstrip(" :"), "value": shown}
