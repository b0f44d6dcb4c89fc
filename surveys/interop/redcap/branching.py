"""REDCap branching logic into display conditions (enableWhen), or Unsupported naming what has no equivalent."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from surveys.interop.redcap.dictionary import Row
from surveys.interop.redcap.fields import NUMBER_KINDS
from surveys.interop.redcap.logic import ExpressionParser, Unsupported, flatten_logic
from surveys.interop.redcap.texts import parse_decimal
from surveys.interop.redcap.variables import Known
from surveys.models import Item

T = Item.Type

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def branching_conditions(row: Row, *, form_name: str, known: dict[str, Known]) -> tuple[list[dict], str]:
    """The enableWhen conditions and enableBehavior of a field's branching logic (Unsupported when they cannot be expressed)."""
    kind, comparisons = flatten_logic(ExpressionParser(row.branching).logic())
    behaviour = "any" if kind == "or" else "all"
    out: list[dict] = []
    for _cmp, (name, code), operator, value in comparisons:
        target = known.get(name)
        if target is None:
            raise Unsupported(_("%(name)s is not a field of this dictionary") % {"name": name})
        if target.form != form_name:
            raise Unsupported(_("%(name)s is in another instrument (%(form)s)") % {"name": name, "form": target.form})
        if target.state == "left_out":
            raise Unsupported(_("%(name)s is left out of the import (see its warning)") % {"name": name})
        if target.state == "score":
            raise Unsupported(
                _("%(name)s is a calculated field, which becomes a score, not a question") % {"name": name}
            )
        if target.position >= known[row.name].position:
            raise Unsupported(_("%(name)s does not come before this field") % {"name": name})
        if target.kind == T.DISPLAY:
            raise Unsupported(_("%(name)s is a descriptive text, not a question") % {"name": name})
        found = _condition(name, code, operator, value, target)
        if len(found) > 1 and behaviour == "all" and len(comparisons) > 1:
            raise Unsupported(
                _('[%(name)s] %(op)s %(value)s needs several options joined by "or" inside an "and"')
                % {"name": name, "op": operator, "value": value}
            )
        if len(found) > 1:
            behaviour = "any"
        out += found
    return out, behaviour


def _condition(name: str, code: str | None, operator: str, value: str, target: Known) -> list[dict]:
    def one(op: str, key: str, answer: Any) -> list[dict]:
        return [{"question": name, "operator": op, key: answer}]

    ours = {"=": "=", "<>": "!="}.get(operator, operator)
    if code is not None:
        if target.kind != T.MULTIPLE:
            raise Unsupported(
                _("[%(name)s(%(code)s)] is the checkbox form, but %(name)s is not a checkbox")
                % {"name": name, "code": code}
            )
        if code not in target.codes:
            raise Unsupported(_("%(name)s has no choice %(code)s") % {"name": name, "code": code})
        if operator not in ("=", "<>") or value not in ("0", "1"):
            raise Unsupported(_("a checkbox choice is compared with '1' (ticked) or '0' (not ticked)"))
        # "Not ticked" is != here, true when the field is blank, as REDCap has it (values.compare).
        ticked = (operator == "=") == (value == "1")
        return one("=" if ticked else "!=", "answerCoding", {"code": code})
    if value == "":
        if operator not in ("=", "<>"):
            raise Unsupported(_("only = and <> compare with an empty value"))
        return one("exists", "answerBoolean", operator == "<>")
    if target.kind == T.MULTIPLE:
        raise Unsupported(_("a checkbox is tested choice by choice: [%(name)s(code)] = '1'") % {"name": name})
    if target.kind == T.SINGLE:
        if operator in ("=", "<>"):
            if value not in target.codes:
                raise Unsupported(_("%(name)s has no choice %(code)s") % {"name": name, "code": value})
            return one(ours, "answerCoding", {"code": value})
        bound = parse_decimal(value)
        if bound is None or not target.numeric_codes:
            raise Unsupported(
                _("%(op)s compares numbers, but the choices of %(name)s are not all numbers")
                % {"op": operator, "name": name}
            )
        # A choice list has no order here: the codes that pass the test, any of them.
        tests = {"<": bound.__gt__, ">": bound.__lt__, "<=": bound.__ge__, ">=": bound.__le__}
        codes = [c for c in target.codes if tests[operator](Decimal(c))]
        if not codes:
            raise Unsupported(
                _("no choice of %(name)s is %(op)s %(value)s") % {"name": name, "op": operator, "value": value}
            )
        return [{"question": name, "operator": "=", "answerCoding": {"code": c}} for c in codes]
    if target.kind == T.YES_NO:
        if operator not in ("=", "<>") or value not in ("0", "1"):
            raise Unsupported(_("a yes/no field is compared with '1' (yes) or '0' (no)"))
        return one(ours, "answerBoolean", value == "1")
    if target.kind in NUMBER_KINDS:
        number = parse_decimal(value)
        if number is None:
            raise Unsupported(_("%(name)s is a number, but %(value)s is not") % {"name": name, "value": value})
        if target.kind == T.DECIMAL:
            return one(ours, "answerDecimal", float(number))
        if number == number.to_integral_value():
            return one(ours, "answerInteger", int(number))
        return one(ours, "answerDecimal", float(number))
    if target.kind == T.DATE:
        if not _ISO_DATE.match(value):
            raise Unsupported(_("a date is compared with a date written YYYY-MM-DD, not %(value)s") % {"value": value})
        return one(ours, "answerDate", value)
    if operator not in ("=", "<>"):
        raise Unsupported(_("%(op)s needs a number or a date, but %(name)s is a text") % {"op": operator, "name": name})
    return one(ours, "answerString", value)
