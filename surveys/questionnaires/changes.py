"""What changes between two questionnaire definitions: what the publish confirmation shows.

One function, `definition_changes(before, after)`, over two FHIR definitions (a published version's
and the draft's `fhir.definition_from_draft`), so the page says what a new version would change for
patients and for exports: items added or removed, reworded, retyped, options recoded or relabelled,
display conditions changed, scoring and alert rules changed, other settings changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from surveys.questionnaires import fhir
from surveys.questionnaires.values import option_score

# What the confirmation page calls each kind.
KIND_LABELS = {
    "item_added": gettext_lazy("Items added"),
    "item_removed": gettext_lazy("Items removed"),
    "item_reworded": gettext_lazy("Items reworded"),
    "item_retyped": gettext_lazy("Items of another type"),
    "item_moved": gettext_lazy("Items moved"),
    "item_settings": gettext_lazy("Items' settings changed"),
    "options_recoded": gettext_lazy("Options recoded (codes or scores)"),
    "options_relabelled": gettext_lazy("Options reworded"),
    "conditions_changed": gettext_lazy("Display conditions changed"),
    "score_added": gettext_lazy("Scores added"),
    "score_removed": gettext_lazy("Scores removed"),
    "score_changed": gettext_lazy("Scores changed"),
    "alert_added": gettext_lazy("Alerts added"),
    "alert_removed": gettext_lazy("Alerts removed"),
    "alert_changed": gettext_lazy("Alerts changed"),
    "questionnaire_changed": gettext_lazy("Questionnaire changed"),
}
# Kinds of change, in the order the page lists them.
KINDS = tuple(KIND_LABELS)


@dataclass(frozen=True)
class Change:
    """One change: its kind (one of KINDS), what it concerns (a linkId, score or alert code), in words."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}" if self.where else self.detail


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _languages(*definitions: dict) -> list[str]:
    found: set[str] = set()
    for definition in definitions:
        found.update(fhir.definition_languages(definition))
    return sorted(found)


def _texts(node: dict, key: str, languages: list[str], base: str) -> dict[str, str]:
    return {lang: fhir.text_in(node, key, lang, base) for lang in languages}


def _items(definition: dict) -> list[tuple[str, dict, str]]:
    """(linkId, node, parent linkId) of every item, groups included, in order."""
    found: list[tuple[str, dict, str]] = []

    def walk(nodes: list[dict], parent: str) -> None:
        for node in nodes:
            if node.get("type") == "display" and fhir.item_control(node) == "help":
                continue
            link_id = str(node.get("linkId", ""))
            found.append((link_id, node, parent))
            walk(node.get("item", []), link_id)

    walk(definition.get("item", []), "")
    return found


def _help_texts(node: dict, languages: list[str], base: str) -> dict[str, str]:
    for child in node.get("item", []):
        if child.get("type") == "display" and fhir.item_control(child) == "help":
            return _texts(child, "text", languages, base)
    return {}


def _options(node: dict, languages: list[str], base: str) -> list[tuple[str, str, Any]]:
    rows = []
    for option in node.get("answerOption", []):
        coding = option.get("valueCoding", {})
        score = option_score(option)
        rows.append((fhir.option_code(option), _canonical(_texts(coding, "display", languages, base)), score))
    return rows


# Keys of an item node compared elsewhere or not shown to the designer as "settings".
OWN_KEYS = frozenset({"linkId", "text", "_text", "type", "item", "answerOption", "enableWhen", "enableBehavior"})


def _settings(node: dict) -> str:
    rest = {k: v for k, v in node.items() if k not in OWN_KEYS}
    # The item type extension is reported as a type change.
    rest["extension"] = [e for e in node.get("extension", []) if e.get("url") != fhir.EXT_ITEM_TYPE]
    return _canonical(rest)


def _item_changes(before: dict, after: dict, languages: list[str]) -> list[Change]:
    base_before = before.get("language", "fr")
    base_after = after.get("language", "fr")
    old = {link: (node, parent) for link, node, parent in _items(before)}
    new_items = _items(after)
    new = {link: (node, parent) for link, node, parent in new_items}
    changes: list[Change] = []
    for link in old:
        if link not in new:
            changes.append(Change("item_removed", link, _("item removed")))
    for link, node, parent in new_items:
        if link not in old:
            changes.append(Change("item_added", link, _("item added (%(type)s)") % {"type": fhir.item_type(node)}))
            continue
        was, was_parent = old[link]
        if _texts(was, "text", languages, base_before) != _texts(node, "text", languages, base_after) or _help_texts(
            was, languages, base_before
        ) != _help_texts(node, languages, base_after):
            changes.append(Change("item_reworded", link, _("text or help reworded")))
        if fhir.item_type(was) != fhir.item_type(node) or was.get("type") != node.get("type"):
            changes.append(
                Change(
                    "item_retyped",
                    link,
                    _("type %(before)s → %(after)s") % {"before": fhir.item_type(was), "after": fhir.item_type(node)},
                )
            )
        if was_parent != parent:
            changes.append(
                Change(
                    "item_moved",
                    link,
                    _("moved from %(before)s to %(after)s") % {"before": was_parent or "—", "after": parent or "—"},
                )
            )
        if _settings(was) != _settings(node):
            changes.append(Change("item_settings", link, _("required, limits or display settings changed")))
        old_options = _options(was, languages, base_before)
        new_options = _options(node, languages, base_after)
        old_codes = [(code, score) for code, _label, score in old_options]
        new_codes = [(code, score) for code, _label, score in new_options]
        if old_codes != new_codes:
            changes.append(
                Change(
                    "options_recoded",
                    link,
                    _("options %(before)s → %(after)s")
                    % {"before": _codes_text(old_codes), "after": _codes_text(new_codes)},
                )
            )
        if [label for _code, label, _score in old_options] != [label for _code, label, _score in new_options]:
            changes.append(Change("options_relabelled", link, _("option labels reworded")))
        if _canonical(was.get("enableWhen", [])) != _canonical(node.get("enableWhen", [])) or was.get(
            "enableBehavior", "all"
        ) != node.get("enableBehavior", "all"):
            changes.append(
                Change(
                    "conditions_changed",
                    link,
                    _("display conditions %(before)s → %(after)s")
                    % {"before": _conditions_text(was), "after": _conditions_text(node)},
                )
            )
    old_order = [link for link, _node, _parent in _items(before) if link in new]
    new_order = [link for link, _node, _parent in new_items if link in old]
    if old_order != new_order:
        changes.append(Change("item_moved", "", _("items reordered")))
    return changes


def _codes_text(codes: list[tuple[str, Any]]) -> str:
    return ", ".join(code if score is None else f"{code} ({score})" for code, score in codes) or "—"


def _conditions_text(node: dict) -> str:
    parts = []
    for cond in node.get("enableWhen", []):
        value = next((v for k, v in cond.items() if k.startswith("answer")), None)
        if isinstance(value, dict):
            value = value.get("code")
        parts.append(f"{cond.get('question')} {cond.get('operator')} {value}")
    joiner = f" {node.get('enableBehavior', 'all')} "
    return joiner.join(parts) or _("none")


def _rule_changes(before: dict, after: dict) -> list[Change]:
    old_rules, new_rules = fhir.rules_of(before), fhir.rules_of(after)
    changes: list[Change] = []
    for key, name_key, kind in (("scores", "name", "score"), ("alerts", "code", "alert")):
        old = {str(r.get(name_key)): r for r in old_rules.get(key, []) if isinstance(r, dict)}
        new = {str(r.get(name_key)): r for r in new_rules.get(key, []) if isinstance(r, dict)}
        for name in old:
            if name not in new:
                changes.append(Change(f"{kind}_removed", name, _("removed")))
        for name, rule in new.items():
            if name not in old:
                changes.append(Change(f"{kind}_added", name, _("added")))
            elif _canonical(old[name]) != _canonical(rule):
                keys = sorted(
                    k for k in set(old[name]) | set(rule) if _canonical(old[name].get(k)) != _canonical(rule.get(k))
                )
                changes.append(Change(f"{kind}_changed", name, _("changed: %(keys)s") % {"keys": ", ".join(keys)}))
        if [str(r.get(name_key)) for r in old_rules.get(key, []) if isinstance(r, dict)] != [
            str(r.get(name_key)) for r in new_rules.get(key, []) if isinstance(r, dict)
        ] and set(old) == set(new):
            changes.append(Change(f"{kind}_changed", "", _("order changed")))
    return changes


# Top-level keys that are not content: identity and publication bookkeeping.
NOT_CONTENT = frozenset({"version", "id", "meta", "date", "status", "item", "extension"})


def _questionnaire_changes(before: dict, after: dict) -> list[Change]:
    def extensions(definition: dict) -> str:
        return _canonical([e for e in definition.get("extension", []) if e.get("url") != fhir.EXT_RULES])

    def rest(definition: dict) -> str:
        return _canonical({k: v for k, v in definition.items() if k not in NOT_CONTENT})

    if rest(before) != rest(after) or extensions(before) != extensions(after):
        return [Change("questionnaire_changed", "", _("title, introduction, safety message or settings changed"))]
    return []


def definition_changes(before: dict | None, after: dict) -> list[Change]:
    """Every change from `before` (None: nothing published yet) to `after`, in KINDS order."""
    if before is None:
        return (
            [
                Change("item_added", link, _("item added (%(type)s)") % {"type": fhir.item_type(node)})
                for link, node, _p in _items(after)
            ]
            + [Change("score_added", str(r.get("name")), _("added")) for r in fhir.rules_of(after).get("scores", [])]
            + [Change("alert_added", str(r.get("code")), _("added")) for r in fhir.rules_of(after).get("alerts", [])]
        )
    languages = _languages(before, after)
    changes = (
        _item_changes(before, after, languages) + _rule_changes(before, after) + _questionnaire_changes(before, after)
    )
    rank = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(changes, key=lambda c: rank[c.kind])


def changes_by_kind(changes: list[Change]) -> dict[str, list[Change]]:
    grouped: dict[str, list[Change]] = {}
    for change in changes:
        grouped.setdefault(change.kind, []).append(change)
    return grouped
