"""Display conditions (FHIR enableWhen / enableBehavior): which items a patient is shown.

The server is the authority: `conditions_evaluate` walks the definition once, in order, and says
which items are enabled for a set of answers. The patient page script (static/patient/patient.js)
only re-evaluates, live, the conditions on questions of the page being shown: `browser_plan` hands
it each such condition already typed (`values.browser_expected`) and every other condition already
resolved to true or false, so the script guesses nothing. Comparisons are `values.compare`.

An item is enabled when its parent is, and its own conditions hold (all of them, or any with
enableBehavior "any"). A condition reads its question's answer only when that question came before
it and is enabled itself: a hidden question counts as unanswered for the items that depend on it.

Expressions (SDC, surveys/questionnaires/expressions.py): an enableWhenExpression is one more clause
of its item, true when the FHIRPath gives true; a calculated item is shown as a value (never asked),
computed here from the other answers and kept with them (`pruned`). An expression may read any answer,
later ones too, so a definition with expressions is evaluated again on the answers it keeps until they
stop changing (they only shrink). The page script cannot evaluate FHIRPath: an item that depends on an
expression or on a calculated value is decided by the server (`browser_plan` gives SERVER_DECIDED). The
script leaves it as the server rendered it for the answers saved; when the page is sent the server
decides, as it does with JavaScript off: an item that this post shows comes back once to be seen
(`revealed`), an item that it hides has its answer dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from surveys.questionnaires import expressions, fhir, values

EXT_HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
EXT_CALCULATED = expressions.EXT_CALCULATED
# The plan of an item the page script must leave as the server rendered it (static/patient/patient.js).
SERVER_DECIDED = [{"b": "server", "c": []}]


def hidden_from_patient(node: dict) -> bool:
    """Flagged questionnaire-hidden (a scoring key, a clinician's note): kept in the definition and
    its exports, never shown to a patient, and nor is anything inside it."""
    return fhir.ext_value(node, EXT_HIDDEN) is True


def not_asked(node: dict) -> bool:
    """Kept in the definition, never put to a patient as a question: hidden items, and read-only or
    calculated questions (a read-only value is not the patient's to give; a calculated one is computed,
    and shown as a value: `shown_as_value`)."""
    if hidden_from_patient(node):
        return True
    if node.get("type") == "group":
        return False
    return bool(node.get("readOnly")) or any(e.get("url") == EXT_CALCULATED for e in node.get("extension", ()))


def shown_as_value(node: dict) -> bool:
    """A calculated item a patient sees, read-only ("Total score: 12"), unless flagged hidden."""
    return expressions.is_calculated(node) and not hidden_from_patient(node)


def condition_expected(condition: dict) -> Any:
    """The answer[x] value of an enableWhen (a Coding, a bool, a number, a text)."""
    return next((v for k, v in condition.items() if k.startswith("answer")), None)


@dataclass
class Clause:
    """One item's own enableWhen list, with its behaviour: all of them, or any."""

    owner: str
    behaviour: str
    conditions: list[dict]
    # An enableWhenExpression's result (behaviour "expression", no conditions); None for enableWhen.
    expression: bool | None = None


@dataclass
class Evaluation:
    """Which items these answers enable, and why (for the page script)."""

    definition: dict
    answers: dict
    enabled: set[str] = field(default_factory=set)
    # linkId -> document position; kinds and the clauses that decide each item (its ancestors' and its own).
    position: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[Clause]] = field(default_factory=dict)
    # Calculated items whose conditions hold (shown or flagged hidden), with their computed values.
    calculated: dict[str, Any] = field(default_factory=dict)
    calculated_ids: set[str] = field(default_factory=set)

    def seen_value(self, question: str, owner: str) -> Any:
        """The answer a condition of `owner` reads: only an earlier, enabled question has one."""
        known = question in self.enabled or question in self.calculated
        if known and self.position.get(question, -1) < self.position.get(owner, -1):
            return self.answers.get(question)
        return None

    def holds(self, condition: dict, owner: str) -> bool:
        question = str(condition.get("question", ""))
        return values.compare(
            self.kinds.get(question, values.T.DISPLAY),
            self.seen_value(question, owner),
            str(condition.get("operator", "")),
            condition_expected(condition),
        )

    def pruned(self) -> dict:
        """The answers without those of hidden items, nor empty ones: they would mislead the analysis.
        Enablement reads only enabled questions, so the pruned answers enable exactly the same items."""
        kept = {
            k: v
            for k, v in self.answers.items()
            if k in self.enabled and k not in self.calculated_ids and not values.is_missing(v)
        }
        return kept | self.calculated

    def missing_required(self) -> list[str]:
        """linkIds of required questions that are shown and unanswered, in questionnaire order."""
        return [
            str(node.get("linkId"))
            for node in fhir.iter_items(self.definition.get("item", []))
            if node.get("required")
            and node.get("type") != "group"
            and not not_asked(node)
            and values.kind_of(node) in values.QUESTION_TYPES
            and node.get("linkId") in self.enabled
            and values.is_missing(self.answers.get(node.get("linkId")))
        ]

    def browser_plan(self, link_id: str, on_page: set[str]) -> list[dict] | None:
        """The conditions the page script evaluates for `link_id` on a page holding `on_page`, as JSON
        clauses {"b": "all"|"any", "c": [...]} whose entries are a typed comparison {"q", "o", "v"} on a
        question of the page, or a condition already resolved here (true/false). None when nothing on
        the page can change whether the item shows: the server's answer is final. SERVER_DECIDED when
        something on the page can, but the script cannot tell: an expression in the item's chain, or a
        condition on a calculated item of the page or on a question decided by the server."""
        plan: list[dict] = []
        live = False
        for clause in self.chains.get(link_id, []):
            if clause.expression is not None:
                if on_page:
                    return SERVER_DECIDED
                plan.append({"b": "all", "c": [clause.expression]})
                continue
            entries: list[Any] = []
            for condition in clause.conditions:
                question = str(condition.get("question", ""))
                if question in on_page and self.position.get(question, -1) < self.position.get(clause.owner, -1):
                    # A question whose value, or whose being shown, only the server knows.
                    if question in self.calculated_ids or self.browser_plan(question, on_page) == SERVER_DECIDED:
                        return SERVER_DECIDED
                    kind = self.kinds.get(question, values.T.DISPLAY)
                    operator = str(condition.get("operator", ""))
                    expected = condition_expected(condition)
                    entries.append(
                        {
                            "q": question,
                            "o": operator,
                            "v": values.to_bool(expected)
                            if operator == "exists"
                            else values.browser_expected(kind, expected),
                        }
                    )
                    live = True
                else:
                    entries.append(self.holds(condition, clause.owner))
            plan.append({"b": clause.behaviour, "c": entries})
        return plan if live else None


def _clause_holds(evaluation: Evaluation, clause: Clause) -> bool:
    if clause.expression is not None:
        return clause.expression
    results = [evaluation.holds(c, clause.owner) for c in clause.conditions]
    return any(results) if clause.behaviour == "any" else all(results)


def conditions_evaluate(definition: dict, answers: dict) -> Evaluation:
    """Which items these answers enable. Without expressions, one pass in document order (conditions only
    look backwards, so each is decided when reached). With expressions, which may read any answer: the
    pass is repeated on the answers it keeps, patient's answers only shrinking, until they stay the same,
    so that hidden answers feed no expression and `pruned` answers enable exactly the same items."""
    answers = answers or {}
    if not expressions.has_expressions(definition):
        return _evaluate(definition, answers, None)
    calculated_ids = {
        str(n.get("linkId")) for n in _all_nodes(definition.get("item", [])) if expressions.is_calculated(n)
    }
    current = {k: v for k, v in answers.items() if k not in calculated_ids and not values.is_missing(v)}
    stored = {k: v for k, v in answers.items() if k in calculated_ids}
    while True:
        outcome = expressions.expressions_evaluate(definition, current, seed=stored)
        evaluation = _evaluate(definition, {**current, **outcome.calculated}, outcome)
        kept = {k: v for k, v in evaluation.pruned().items() if k not in calculated_ids}
        if kept == current:
            return evaluation
        current = kept


def _evaluate(definition: dict, answers: dict, outcome: expressions.Outcome | None) -> Evaluation:
    evaluation = Evaluation(definition=definition, answers=answers)
    for index, node in enumerate(_all_nodes(definition.get("item", []))):
        link_id = str(node.get("linkId", ""))
        evaluation.position.setdefault(link_id, index)
        evaluation.kinds.setdefault(link_id, values.kind_of(node))

    def walk(nodes: list[dict], parent_on: bool, visible: bool, chain: list[Clause]) -> None:
        # `on`: the conditions of the item and its ancestors hold; `visible`: nothing above is flagged hidden.
        for node in nodes:
            link_id = str(node.get("linkId", ""))
            conditions = [c for c in node.get("enableWhen") or [] if isinstance(c, dict)]
            here = chain
            on = parent_on
            if conditions:
                clause = Clause(link_id, "any" if node.get("enableBehavior") == "any" else "all", conditions)
                here = [*here, clause]
                on = on and _clause_holds(evaluation, clause)
            if outcome is not None and link_id in outcome.enabled:
                clause = Clause(link_id, "expression", [], outcome.enabled[link_id])
                here = [*here, clause]
                on = on and _clause_holds(evaluation, clause)
            evaluation.chains[link_id] = here
            shown = visible and not hidden_from_patient(node)
            if on and shown and (not not_asked(node) or shown_as_value(node)):
                evaluation.enabled.add(link_id)
            if outcome is not None and expressions.is_calculated(node):
                evaluation.calculated_ids.add(link_id)
                if on and link_id in outcome.calculated:
                    evaluation.calculated[link_id] = outcome.calculated[link_id]
            walk(node.get("item") or [], on, shown, here)

    walk(definition.get("item", []), True, True, [])
    return evaluation


def _all_nodes(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _all_nodes(node.get("item") or [])


def enabled_ids(definition: dict, answers: dict) -> set[str]:
    """linkIds shown for these answers."""
    return conditions_evaluate(definition, answers).enabled


def prune_answers(definition: dict, answers: dict) -> dict:
    return conditions_evaluate(definition, answers).pruned()


def missing_required(definition: dict, answers: dict) -> list[str]:
    return conditions_evaluate(definition, answers).missing_required()


def plan_json(plan: list[dict] | None) -> str:
    return json.dumps(plan, separators=(",", ":"), ensure_ascii=False) if plan else ""
