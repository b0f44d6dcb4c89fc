"""REDCap data dictionary export: a published version as a dictionary REDCap accepts (docs/redcap.md)."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

from surveys.interop.redcap.dictionary import HEADER, KEYS
from surveys.interop.redcap.fields import (
    CHARLIMIT,
    CHOICE_KINDS,
    EXPORT_TYPE,
    HIDDEN_TAG,
    NUMBER_KINDS,
    READONLY_TAG,
    REDCAP_CODE,
    WHOLE_NUMBER,
    codebook_lines,
    redcap_facts,
)
from surveys.interop.redcap.texts import plain_text, slider_help
from surveys.models import Item
from surveys.questionnaires import conditions, fhir, values

T = Item.Type


def _variable_names(nodes: list[dict], reserved: set[str]) -> dict[str, str]:
    """linkId -> a REDCap variable name (lower-case letters, digits and _, starting with a letter), unique."""
    names: dict[str, str] = {}
    used = set(reserved)
    for node in nodes:
        link_id = str(node.get("linkId", ""))
        name = re.sub(r"[^a-z0-9_]", "_", link_id.lower()).strip("_") or "item"
        if not name[0].isalpha():
            name = f"v_{name}"
        candidate, n = name, 2
        while candidate in used:
            candidate, n = f"{name}_{n}", n + 1
        used.add(candidate)
        names[link_id] = candidate
    return names


def redcap_choice_codes(node: dict) -> dict[str, str]:
    """Our option code -> the raw code REDCap gets: ours when REDCap takes them all, else new ones.

    New codes are the options' scores when those are distinct whole numbers (REDCap's calculations add raw
    codes, so they add the scores), else 1, 2, 3... in order. The annotation keeps the mapping (codebook_lines).
    """
    codes = [fhir.option_code(o) for o in node.get("answerOption", [])]
    if all(REDCAP_CODE.fullmatch(c) for c in codes):
        return {c: c for c in codes}
    scores = [values.option_score(o) for o in node.get("answerOption", [])]
    whole = [int(s) for s in scores if s is not None and s == s.to_integral_value()]
    if len(whole) == len(codes) and len(set(whole)) == len(whole):
        return {c: str(score) for c, score in zip(codes, whole, strict=True)}
    return {c: str(n) for n, c in enumerate(codes, start=1)}


def _export_nodes(items: list[dict], inherited: list[dict], header: str = "") -> list[tuple[dict, str, list[dict]]]:
    """(item, section header above it, conditions of the groups around it), in questionnaire order.

    REDCap has pages (section headers) but no nested groups: a group's title becomes the section header
    of its first field, and its conditions are added to each of its fields; so are a question's to the
    items nested under it.
    """
    out: list[tuple[dict, str, list[dict]]] = []
    for node in items:
        if node.get("type") == "display" and fhir.item_control(node) == "help":
            continue
        if node.get("type") == "group":
            scope = inherited + ([node] if node.get("enableWhen") else [])
            inner = _export_nodes(node.get("item", []), scope, node.get("text", "") or header)
            out += inner
            header = "" if inner else header
            continue
        out.append((node, header, inherited))
        header = ""
        # Items nested under a question follow it, shown only when it is (its conditions, as a group's).
        if node.get("item"):
            scope = inherited + ([node] if node.get("enableWhen") else [])
            out += _export_nodes(node["item"], scope)
    return out


def _logic_value(value: Any) -> str:
    return "'" + str(value).replace("'", "") + "'"


def _condition_logic(cond: dict, target: dict | None, names: dict[str, str], recoded: dict[str, dict]) -> str:
    question = str(cond.get("question", ""))
    var = names.get(question, question)
    codes_out = recoded.get(question, {})
    operator = cond.get("operator", "=")
    key, value = next(((k, v) for k, v in cond.items() if k.startswith("answer")), ("", None))
    kind = fhir.item_type(target) if target else T.SHORT_TEXT
    codes = [codes_out.get(c, c) for c in (fhir.option_code(o) for o in (target or {}).get("answerOption", []))]
    if operator == "exists":
        present = bool(value)
        if kind == T.MULTIPLE and codes:
            joiner = " or " if present else " and "
            tick = "'1'" if present else "'0'"
            return "(" + joiner.join(f"[{var}({c})] = {tick}" for c in codes) + ")"
        return f"[{var}] {'<>' if present else '='} ''"
    if isinstance(value, dict):
        value = value.get("code", "")
    if kind in CHOICE_KINDS:
        value = codes_out.get(str(value), value)
    if kind == T.MULTIPLE:
        return f"[{var}({value})] = '{1 if operator == '=' else 0}'"
    if kind == T.YES_NO or isinstance(value, bool):
        value = "1" if values.to_bool(value) else "0"
    op = {"=": "=", "!=": "<>"}.get(operator, operator)
    if op in ("<", ">", "<=", ">=") and key in ("answerInteger", "answerDecimal"):
        return f"[{var}] {op} {value}"
    return f"[{var}] {op} {_logic_value(value)}"


def _branching(
    node: dict, scopes: list[dict], by_link: dict[str, dict], names: dict[str, str], recoded: dict[str, dict]
) -> str:
    parts = []
    for holder in [*scopes, node]:
        conditions = holder.get("enableWhen", [])
        if not conditions:
            continue
        joiner = " or " if holder.get("enableBehavior") == "any" else " and "
        logic = joiner.join(
            _condition_logic(c, by_link.get(str(c.get("question"))), names, recoded) for c in conditions
        )
        parts.append(logic)
    if len(parts) > 1:
        return " and ".join(f"({p})" for p in parts)
    return parts[0] if parts else ""


def _calc_of(
    score: dict, by_link: dict[str, dict], names: dict[str, str], exported: dict[str, str], recoded: dict[str, dict]
) -> str | None:
    """A REDCap equation giving the same value as this score rule, or None when REDCap's own rules differ."""
    if score.get("reverse") or score.get("lookup"):
        return None
    transform = score.get("transform") or {}
    if set(transform) - {"multiply"}:
        return None
    terms: list[str] = []
    for link_id in score.get("items", []):
        node = by_link.get(link_id)
        if node is None:
            return None
        kind = fhir.item_type(node)
        if kind == T.SINGLE:
            # REDCap adds raw codes: only when every option's score is its code.
            for option in node.get("answerOption", []):
                code = recoded.get(link_id, {}).get(fhir.option_code(option), fhir.option_code(option))
                weight = values.option_score(option)
                if not WHOLE_NUMBER.match(code) or weight is None or weight != Decimal(code):
                    return None
        elif kind not in NUMBER_KINDS | {T.YES_NO}:
            return None
        terms.append(f"[{names[link_id]}]")
    for name in score.get("scores", []):
        if name not in exported:
            return None
        terms.append(f"[{exported[name]}]")
    if not terms:
        return None
    count = len(terms)
    min_answered = score.get("min_answered", count)
    missing = score.get("missing", "none")
    if score.get("method") == "mean":
        if min_answered == 1 and missing == "prorate":
            equation = "mean(" + ",".join(terms) + ")"
        elif min_answered == count:
            equation = "(" + "+".join(terms) + f")/{count}"
        else:
            return None
    elif score.get("method") == "sum" and min_answered == count:
        equation = "+".join(terms)
    else:
        return None
    if "multiply" in transform:
        equation = f"({equation})*{transform['multiply']}"
    if score.get("round") is not None:
        equation = f"round({equation},{int(score['round'])})"
    return equation


def dictionary_export(version) -> str:
    """A published version as a REDCap data dictionary (CSV text, header as REDCap writes it).

    Texts are the version's base language (a dictionary holds one). Score rules that REDCap computes the
    same way (a plain sum or mean of fields whose scores are their codes) become calc fields; others are
    not written (docs/redcap.md).
    """
    definition = version.definition
    base = definition.get("language", "fr")
    form = re.sub(r"[^a-z0-9_]", "_", version.questionnaire.code.lower())
    entries = _export_nodes(definition.get("item", []), [])
    by_link = {str(n.get("linkId")): n for n in fhir.iter_items(definition.get("item", []))}
    record_id = "record_id"
    while record_id in {str(node.get("linkId", "")).lower() for node, _h, _s in entries}:
        record_id += "_"
    names = _variable_names([node for node, _h, _s in entries], {record_id})
    recoded = {
        str(node.get("linkId")): redcap_choice_codes(node)
        for node, _h, _s in entries
        if fhir.item_type(node) in CHOICE_KINDS
    }

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    # REDCap takes the first field as the record ID: keep every question out of that place.
    writer.writerow(_row(name=record_id, form=form, ftype="text", label="Record ID"))
    hidden = _hidden_link_ids(definition.get("item", []), inside_hidden=False)
    for node, header, scopes in entries:
        row = _export_row(node, header, scopes, form, base, by_link, names, recoded)
        row[KEYS.index("annotation")] = _with_action_tags(
            row[KEYS.index("annotation")], node, hidden=str(node.get("linkId")) in hidden
        )
        writer.writerow(row)
    exported: dict[str, str] = {}
    taken = set(names.values()) | {record_id}
    for score in fhir.rules_of(definition).get("scores", []):
        equation = _calc_of(score, by_link, names, exported, recoded)
        if equation is None:
            continue
        name = re.sub(r"[^a-z0-9_]", "_", str(score.get("name", "score")).lower())
        while name in taken:
            name += "_score"
        taken.add(name)
        exported[str(score.get("name"))] = name
        label = (score.get("label") or {}).get(base) or next(iter((score.get("label") or {}).values()), name)
        writer.writerow(_row(name=name, form=form, ftype="calc", label=label, choices=equation))
    return out.getvalue()


def _hidden_link_ids(items: list[dict], *, inside_hidden: bool) -> set[str]:
    """The linkIds of the items flagged questionnaire-hidden or inside a hidden group (REDCap has no groups:
    each field carries the flag of the groups around it)."""
    found: set[str] = set()
    for node in items:
        hidden = inside_hidden or conditions.hidden_from_patient(node)
        if hidden:
            found.add(str(node.get("linkId")))
        found |= _hidden_link_ids(node.get("item") or [], inside_hidden=hidden)
    return found


def _with_action_tags(annotation: str, node: dict, *, hidden: bool) -> str:
    """The field annotation with the action tags that keep a never-asked item from REDCap's survey: @HIDDEN
    for a hidden item, @READONLY for a read-only or calculated one (its expression is FHIRPath, which REDCap
    does not run: the value comes from the record). Tags already there (an imported REDCap field) stay once."""
    calculated = any(e.get("url") == conditions.EXT_CALCULATED for e in node.get("extension", ()))
    tags = []
    if hidden and not HIDDEN_TAG.search(annotation):
        tags.append("@HIDDEN")
    if (node.get("readOnly") or calculated) and node.get("type") != "display" and not READONLY_TAG.search(annotation):
        tags.append("@READONLY")
    if not tags:
        return annotation
    # First, on their own line: the codebook lines below keep their place for whoever reads them.
    return "\n".join(filter(None, [" ".join(tags), annotation]))


def _row(**values: str) -> list[str]:
    return [values.get(key, "") for key in KEYS]


def _export_row(
    node: dict,
    header: str,
    scopes: list[dict],
    form: str,
    base: str,
    by_link: dict[str, dict],
    names: dict[str, str],
    recoded: dict[str, dict],
) -> list[str]:
    link_id = str(node.get("linkId"))
    codes_out = recoded.get(link_id, {})
    kind = fhir.item_type(node)
    facts = redcap_facts(node)
    ftype, validation = EXPORT_TYPE.get(kind, ("text", ""))
    ftype = facts.get("fieldType") or ftype
    validation = facts.get("validation", validation) or ""
    low, high = fhir.ext_value(node, fhir.EXT_MIN), fhir.ext_value(node, fhir.EXT_MAX)
    vmin = "" if low is None else str(low)
    vmax = "" if high is None else str(high)
    if kind not in NUMBER_KINDS:
        vmin, vmax = facts.get("validationMin", vmin), facts.get("validationMax", vmax)
    choices = ""
    if kind in CHOICE_KINDS:
        choices = " | ".join(
            f"{code}, {label or code}".replace("|", "/")
            for code, label in (
                (
                    codes_out.get(fhir.option_code(o), fhir.option_code(o)),
                    fhir.localized(o.get("valueCoding", {}), "display", base, base),
                )
                for o in node.get("answerOption", [])
            )
        )
    help_node = next((c for c in node.get("item", []) if fhir.item_control(c) == "help"), None)
    note = help_node.get("text", "") if help_node else ""
    if facts.get("sliderLabels"):
        choices = facts["sliderLabels"]
        anchors = slider_help(plain_text(choices)[0], low if low is not None else 0, high if high is not None else 100)
        note = note.removesuffix(anchors).rstrip("\n")
    annotation = facts.get("annotation") or ""
    if node.get("maxLength") and not CHARLIMIT.search(annotation):
        annotation = " ".join(filter(None, [annotation, f"@CHARLIMIT={node['maxLength']}"]))
    # What was changed to fit REDCap, for whoever reads the dictionary and for the import that undoes it.
    codebook = codebook_lines(
        link_id=link_id if names[link_id] != link_id else None,
        codes={redcap: ours for ours, redcap in codes_out.items() if redcap != ours},
    )
    annotation = "\n".join(filter(None, [annotation, *codebook]))
    return _row(
        name=names[link_id],
        form=form,
        section=header,
        ftype=ftype,
        label=node.get("text", ""),
        choices=choices,
        note=note,
        validation=validation,
        vmin=vmin,
        vmax=vmax,
        branching=_branching(node, scopes, by_link, names, recoded),
        required="y" if node.get("required") else "",
        alignment=facts.get("customAlignment") or "",
        qnum=facts.get("questionNumber") or "",
        matrix=facts.get("matrixGroup") or "",
        ranking="y" if facts.get("matrixRanking") else "",
        annotation=annotation,
    )
