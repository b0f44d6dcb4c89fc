"""REDCap calc fields into score rules: sums and means of fields, or Unsupported naming what has no equivalent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from surveys.interop.redcap.dictionary import Row
from surveys.interop.redcap.fields import NUMBER_KINDS
from surveys.interop.redcap.logic import ExpressionParser, Unsupported
from surveys.interop.redcap.texts import as_number, plain_text
from surveys.interop.redcap.variables import Known
from surveys.models import Item
from surveys.scoring.compute import NAME_RE as SCORE_NAME_RE

T = Item.Type


def score_rule(
    row: Row, *, form_name: str, earlier_rules: list[dict], known: dict[str, Known], base: str
) -> tuple[dict, list[str]]:
    """The score rule of a calc field (earlier_rules: its instrument's rules so far), with notes for the warnings."""
    if not row.choices.strip():
        raise Unsupported(_("it has no equation"))
    if not SCORE_NAME_RE.match(row.name):
        raise Unsupported(_("its name is longer than a score name may be (34 characters)"))
    node = ExpressionParser(row.choices).calc()
    notes: list[str] = []
    rule: dict[str, Any] = {}
    while node[0] == "paren":
        node = node[1]
    if node[0] == "call" and node[1] == "round":
        args = node[2]
        places = args[1] if len(args) == 2 else ("num", Decimal(0))
        if len(args) not in (1, 2) or places[0] != "num" or places[1] != places[1].to_integral_value():
            raise Unsupported(_("round() takes a value and a whole number of decimal places"))
        rule["round"] = int(places[1])
        node = args[0]
        while node[0] == "paren":
            node = node[1]
    if node[0] == "mul":
        left, right = node[1], node[2]
        factor, node = (left, right) if left[0] == "num" else (right, left)
        if factor[0] != "num":
            raise Unsupported(_("it multiplies fields together"))
        rule["transform"] = {"multiply": as_number(factor[1])}
        while node[0] == "paren":
            node = node[1]
    refs: list[tuple] = []
    if node[0] == "call" and node[1] in ("sum", "mean"):
        refs = node[2]
        method = node[1]
        if method == "sum":
            notes.append(
                _(
                    "REDCap's sum() skips blank fields; this score needs every item answered, since a "
                    "missing answer is never counted as 0"
                )
            )
        else:
            # mean() over the fields answered: our mean with proration from one answer on.
            rule.update({"min_answered": 1, "missing": "prorate"})
    elif node[0] == "div" and node[2][0] == "num":
        inner = node[1][1] if node[1][0] == "paren" else node[1]
        refs = inner[1] if inner[0] == "add" else [inner]
        if Decimal(len(refs)) != node[2][1]:
            raise Unsupported(_("it divides by a number other than the count of its fields"))
        method = "mean"
    elif node[0] in ("add", "ref"):
        refs = node[1] if node[0] == "add" else [node]
        method = "sum"
    elif node[0] == "call":
        raise Unsupported(_("the function %(name)s() has no equivalent") % {"name": node[1]})
    else:
        raise Unsupported(_("it is not a sum or a mean of fields"))
    items: list[str] = []
    scores: list[str] = []
    for ref in refs:
        while ref[0] == "paren":
            ref = ref[1]
        if ref[0] != "ref":
            raise Unsupported(_("it is not a sum or a mean of fields"))
        name, code = ref[1]
        target = known.get(name)
        if name in items or name in scores:
            raise Unsupported(_("it counts %(name)s twice") % {"name": name})
        if code is not None:
            raise Unsupported(_("[%(name)s(%(code)s)] counts a checkbox choice") % {"name": name, "code": code})
        if target is None or target.form != form_name:
            raise Unsupported(_("%(name)s is not a field of this instrument") % {"name": name})
        if target.state == "score":
            if not any(s["name"] == name for s in earlier_rules):
                raise Unsupported(_("the calculated field %(name)s comes later or is left out") % {"name": name})
            scores.append(name)
            continue
        if target.state != "item":
            raise Unsupported(_("%(name)s is left out of the import") % {"name": name})
        if target.kind == T.SINGLE and not target.numeric_codes:
            raise Unsupported(_("the choices of %(name)s are not all numbers") % {"name": name})
        if target.kind not in NUMBER_KINDS | {T.SINGLE, T.YES_NO}:
            raise Unsupported(_("%(name)s has no numeric value") % {"name": name})
        items.append(name)
    if scores and method == "mean":
        raise Unsupported(_("it averages other calculated fields"))
    label = plain_text(row.label)[0] or row.name
    rule = {
        "name": row.name,
        "label": {base: label},
        "method": method,
        **({"items": items} if items else {}),
        **({"scores": scores} if scores else {}),
        **rule,
    }
    return rule, notes
