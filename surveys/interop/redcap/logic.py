"""REDCap branching logic and calculations read into trees, or Unsupported naming the part that has no equivalent."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.translation import gettext as _


class Unsupported(Exception):
    """A part of a REDCap expression with no equivalent here; the message says which."""


_TOKEN = re.compile(
    r"""\s*(?:(?P<ref>\[[^\[\]]*\])|(?P<str>'[^']*'|"[^"]*")|(?P<num>\d+(?:\.\d+)?|\.\d+)"""
    r"""|(?P<op><>|!=|>=|<=|==|=|<|>)|(?P<lp>\()|(?P<rp>\))|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"""
    r"""|(?P<comma>,)|(?P<arith>[-+*/^]))"""
)
_REF = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\(([^()]*)\))?$")
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    text = text.strip()
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise Unsupported(_("cannot read %(part)s") % {"part": text[pos : pos + 30].strip()})
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


class ExpressionParser:
    """Recursive descent over tokens: branching logic (and/or of comparisons) and calculations."""

    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> tuple[str | None, str]:
        index = self.i + ahead
        return self.tokens[index] if index < len(self.tokens) else (None, "")

    def take(self) -> tuple[str | None, str]:
        token = self.peek()
        self.i += 1
        return token

    def expect(self, kind: str) -> str:
        got, value = self.take()
        if got != kind:
            raise Unsupported(_("cannot read %(part)s") % {"part": value or _("the end")})
        return value

    def done(self) -> None:
        if self.i < len(self.tokens):
            raise Unsupported(_("cannot read %(part)s") % {"part": self.tokens[self.i][1]})

    def ref(self, raw: str) -> tuple[str, str | None]:
        if self.peek()[0] == "ref":
            raise Unsupported(
                _("%(ref)s%(next)s refers to another event or to a repeating instance")
                % {"ref": raw, "next": self.peek()[1]}
            )
        match = _REF.match(raw[1:-1].strip())
        if match is None:
            raise Unsupported(
                _("%(ref)s is a smart variable or a piping option, which Ressenti does not have") % {"ref": raw}
            )
        return match.group(1), (match.group(2).strip() if match.group(2) is not None else None)

    def function(self, name: str) -> None:
        if self.peek()[0] == "lp":
            raise Unsupported(_("the function %(name)s() has no equivalent") % {"name": name})

    # Branching logic: or_ := and_ ("or" and_)* ; and_ := atom ("and" atom)* ; atom := "(" or_ ")" | comparison

    def logic(self) -> tuple:
        node = self.or_()
        self.done()
        return node

    def _word(self, word: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.lower() == word:
            self.i += 1
            return True
        return False

    def or_(self) -> tuple:
        parts = [self.and_()]
        while self._word("or"):
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def and_(self) -> tuple:
        parts = [self.atom()]
        while self._word("and"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def atom(self) -> tuple:
        if self.peek()[0] == "lp":
            self.take()
            node = self.or_()
            self.expect("rp")
            return node
        left = self.operand()
        kind, operator = self.take()
        if kind != "op":
            raise Unsupported(_("cannot read %(part)s") % {"part": operator or _("the end")})
        operator = {"==": "=", "!=": "<>"}.get(operator, operator)
        right = self.operand()
        if left[0] == "ref" and right[0] == "ref":
            raise Unsupported(_("compares two fields, which a display condition cannot do"))
        if left[0] != "ref" and right[0] != "ref":
            raise Unsupported(_("compares two values without a field"))
        if left[0] != "ref":
            left, right, operator = right, left, _MIRROR[operator]
        return ("cmp", left[1], operator, right[1])

    def operand(self) -> tuple:
        kind, value = self.take()
        if kind == "ref":
            return ("ref", self.ref(value))
        if kind == "str":
            return ("val", value[1:-1])
        if kind == "num":
            return ("val", value)
        if kind == "arith" and value == "-" and self.peek()[0] == "num":
            return ("val", "-" + self.take()[1])
        if kind == "word":
            self.function(value)
        raise Unsupported(_("cannot read %(part)s") % {"part": value or _("the end")})

    # Calculations: expr := term (("+"|"-") term)* ; term := power (("*"|"/") power)* ; power := unary ("^" power)?

    def calc(self) -> tuple:
        node = self.expr()
        self.done()
        return node

    def expr(self) -> tuple:
        node = self.term()
        while self.peek() in (("arith", "+"), ("arith", "-")):
            operator = self.take()[1]
            right = self.term()
            if operator == "-":
                node = ("sub", node, right)
            else:
                node = ("add", (node[1] if node[0] == "add" else [node]) + [right])
        return node

    def term(self) -> tuple:
        node = self.power()
        while self.peek() in (("arith", "*"), ("arith", "/")):
            operator = self.take()[1]
            node = ("mul" if operator == "*" else "div", node, self.power())
        return node

    def power(self) -> tuple:
        node = self.unary()
        if self.peek() == ("arith", "^"):
            self.take()
            return ("pow", node, self.power())
        return node

    def unary(self) -> tuple:
        kind, value = self.take()
        if kind == "arith" and value == "-":
            return ("neg", self.unary())
        if kind == "num":
            return ("num", Decimal(value))
        if kind == "str":
            return ("str", value[1:-1])
        if kind == "ref":
            return ("ref", self.ref(value))
        if kind == "lp":
            node = self.expr()
            self.expect("rp")
            return ("paren", node)
        if kind == "word" and self.peek()[0] == "lp":
            self.take()
            args = []
            if self.peek()[0] != "rp":
                args.append(self.expr())
                while self.peek()[0] == "comma":
                    self.take()
                    args.append(self.expr())
            self.expect("rp")
            return ("call", value.lower(), args)
        raise Unsupported(_("cannot read %(part)s") % {"part": value or _("the end")})


def flatten_logic(node: tuple) -> tuple[str | None, list[tuple]]:
    """(connective, comparisons) of a logic tree with one connective; mixing them cannot be expressed."""
    if node[0] == "cmp":
        return None, [node]
    kind, leaves = node[0], []
    for child in node[1]:
        child_kind, child_leaves = flatten_logic(child)
        if child_kind not in (None, kind) and len(child_leaves) > 1:
            raise Unsupported(_('mixes "and" with "or", which display conditions cannot nest'))
        leaves += child_leaves
    return kind, leaves
