"""Display conditions (FHIR enableWhen / enableBehavior): which items a patient is shown.

The server is the authority: `conditions_evaluate` walks the definition once, in order, and says
which items are enabled for a set of answers. The patient page script (static/patient/patient.js)
only re-evaluates, live, the conditions on questions of the page being shown: `browser_plan` hands
it each such condition already typed (`values.browser_expected`) and every other condition already
resolved to true or false, so the script guesses nothing. Comparisons are `values.compare`.

An item is enabled when its parent is, and its own conditions hold (all of them, or any with
enableBehavior "any"). A condition reads its question's answer only when that question came before
it and is enabled itself: a hidden question counts as unanswered for the items that depend on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from surveys.questionnaires import fhir, values

EXT_HIDDEN = "http://hl7.org/fhir/StructureDefinition/questionnaire-hidden"
EXT_CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"


def hidden_from_patient(node: dict) -> bool:
    """Flagged questionnaire-hidden (a scoring key, a clinician's note): kept in the definition and
    its exports, never shown to a patient, and nor is anything inside it."""
    return fhir.ext_value(node, EXT_HIDDEN) is True


def not_asked(node: dict) -> bool:
    """Kept in the definition, never put to a patient: hidden items, and read-only or calculated
    questions (imported FHIR: nothing here evaluates FHIRPath, and a read-only value is not the
    patient's to give)."""
    if hidden_from_patient(node):
        return True
    if node.get("type") == "group":
        return False
    return bool(node.get("readOnly")) or any(e.get("url") == EXT_CALCULATED for e in node.get("extension", ()))


def condition_expected(condition: dict) -> Any:
    """The answer[x] value of an enableWhen (a Coding, a bool, a number, a text)."""
    return next((v for k, v in condition.items() if k.startswith("answer")), None)


@dataclass
class Clause:
    """One item's own enableWhen list, with its behaviour: all of them, or any."""

    owner: str
    behaviour: str
    conditions: list[dict]


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

    def seen_value(self, question: str, owner: str) -> Any:
        """The answer a condition of `owner` reads: only an earlier, enabled question has one."""
        if question in self.enabled and self.position.get(question, -1) < self.position.get(owner, -1):
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
        return {k: v for k, v in self.answers.items() if k in self.enabled and not values.is_missing(v)}

    def missing_required(self) -> list[str]:
        """linkIds of required questions that are shown and unanswered, in questionnaire order."""
        return [
            str(node.get("linkId"))
            for node in fhir.iter_items(self.definition.get("item", []))
            if node.get("required")
            and node.get("type") != "group"
            and values.kind_of(node) in values.QUESTION_TYPES
            and node.get("linkId") in self.enabled
            and values.is_missing(self.answers.get(node.get("linkId")))
        ]

    def browser_plan(self, link_id: str, on_page: set[str]) -> list[dict] | None:
        """The conditions the page script evaluates for `link_id` on a page holding `on_page`, as JSON
        clauses {"b": "all"|"any", "c": [...]} whose entries are a typed comparison {"q", "o", "v"} on a
        question of the page, or a condition already resolved here (true/false). None when nothing on
        the page can change whether the item shows: the server's answer is final."""
        plan: list[dict] = []
        live = False
        for clause in self.chains.get(link_id, []):
            entries: list[Any] = []
            for condition in clause.conditions:
                question = str(condition.get("question", ""))
                if question in on_page and self.position.get(question, -1) < self.position.get(clause.owner, -1):
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
    results = [evaluation.holds(c, clause.owner) for c in clause.conditions]
    return any(results) if clause.behaviour == "any" else all(results)


def conditions_evaluate(definition: dict, answers: dict) -> Evaluation:
    """One pass in document order: conditions only look backwards, so each is decided when reached."""
    evaluation = Evaluation(definition=definition, answers=answers or {})
    for index, node in enumerate(_all_nodes(definition.get("item", []))):
        link_id = str(node.get("linkId", ""))
        evaluation.position.setdefault(link_id, index)
        evaluation.kinds.setdefault(link_id, values.kind_of(node))

    def walk(nodes: list[dict], parent_on: bool, chain: list[Clause]) -> None:
        for node in nodes:
            link_id = str(node.get("linkId", ""))
            conditions = [c for c in node.get("enableWhen") or [] if isinstance(c, dict)]
            here = chain
            on = parent_on
            if conditions:
                clause = Clause(link_id, "any" if node.get("enableBehavior") == "any" else "all", conditions)
                here = [*chain, clause]
                on = on and _clause_holds(evaluation, clause)
            evaluation.chains[link_id] = here
            if on and not not_asked(node):
                evaluation.enabled.add(link_id)
            walk(node.get("item") or [], on and not hidden_from_patient(node), here)

    walk(definition.get("item", []), True, [])
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
