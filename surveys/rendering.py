"""From a FHIR definition to the pages a patient sees, and from a POST back to answers.

Pure functions over the definition: the same code renders a draft preview,
a published version, or an imported questionnaire. Display conditions are
evaluated here on the server, so the pages work with JavaScript off.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import override

from . import fhir
from .models import Item

T = Item.Type
QUESTION_TYPES = set(T.values) - {T.DISPLAY}
NUMBER_TYPES = {T.INTEGER, T.DECIMAL, T.NRS, T.VAS}
EXT_CALCULATED = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-calculatedExpression"


def not_asked(node: dict) -> bool:
    """A read-only or calculated item (imported FHIR): kept in the definition, never put to a patient.
    Nothing here evaluates FHIRPath, and a read-only value is not the patient's to give."""
    if node.get("type") == "group":
        return False
    return bool(node.get("readOnly")) or any(e.get("url") == EXT_CALCULATED for e in node.get("extension", ()))


@dataclass
class PageSpec:
    """A page of the questionnaire: its title and the item nodes on it, in order."""

    title: str
    nodes: list[dict]


@dataclass
class Field:
    link_id: str
    kind: str
    text: str
    help: str
    required: bool
    shown: bool
    value: Any = None
    error: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    minimum: Any = None
    maximum: Any = None
    max_length: int | None = None
    conditions: str = ""  # JSON for the progressive script

    @property
    def dom_id(self) -> str:
        return "f-" + "".join(c if c.isalnum() else "-" for c in self.link_id)

    @property
    def has_range(self) -> bool:
        return self.kind in (T.INTEGER, T.DECIMAL, T.VAS) and self.minimum is not None and self.maximum is not None

    @property
    def describedby(self) -> str:
        """ids of the hint, format, range and error texts, for aria-describedby."""
        parts = [
            ("help", bool(self.help)),
            ("fmt", self.kind == T.DATE),
            ("rng", self.has_range),
            ("err", bool(self.error)),
        ]
        return " ".join(f"{self.dom_id}-{suffix}" for suffix, present in parts if present)

    @property
    def is_question(self) -> bool:
        return self.kind in QUESTION_TYPES

    @property
    def scale_points(self) -> list[int]:
        return list(range(int(self.minimum), int(self.maximum) + 1)) if self.kind == T.NRS else []

    @property
    def selected(self) -> set[str]:
        if isinstance(self.value, list):
            return {str(v) for v in self.value}
        return set() if self.value in (None, "") else {str(self.value)}


# --- structure ----------------------------------------------------------------------

def _questions(nodes: list[dict]) -> list[dict]:
    """Items that go on pages (groups are pages, help texts belong to their item)."""
    out = []
    for node in nodes:
        if node.get("type") == "group":
            if node.get("text"):
                # A group inside a page shows its title as a text, hidden with the group.
                keep = ("linkId", "text", "_text", "enableWhen", "enableBehavior")
                out.append({"type": "display", **{k: node[k] for k in keep if k in node}})
            out.extend(_questions(node.get("item", [])))
        elif not (node.get("type") == "display" and fhir.item_control(node) == "help") and not not_asked(node):
            out.append(node)
    return out


def build_pages(definition: dict, language: str) -> list[PageSpec]:
    base = definition.get("language", language)
    pages: list[PageSpec] = []
    loose: list[dict] = []
    for node in definition.get("item", []):
        if node.get("type") == "group":
            if loose:
                pages.append(PageSpec("", loose))
                loose = []
            pages.append(PageSpec(fhir.localized(node, "text", language, base), _questions(node.get("item", []))))
        elif not not_asked(node):
            loose.append(node)
    if loose:
        pages.append(PageSpec("", loose))
    if fhir.ext_value(definition, fhir.EXT_ONE_PER_PAGE, False):
        single: list[PageSpec] = []
        for page in pages:
            pending: list[dict] = []
            for node in page.nodes:
                pending.append(node)
                # A display text travels with the question after it.
                if fhir.item_type(node) != T.DISPLAY:
                    single.append(PageSpec(page.title, pending))
                    pending = []
            if pending:
                single.append(PageSpec(page.title, pending))
        pages = single
    return [p for p in pages if p.nodes]


# --- display conditions ---------------------------------------------------------------

def _condition_met(cond: dict, answer: Any) -> bool:
    operator = cond.get("operator")
    expected = next((v for k, v in cond.items() if k.startswith("answer")), None)
    present = answer not in (None, "", [])
    if operator == "exists":
        return present == bool(expected)
    if not present:
        # No answer meets no comparison: a follow-up appears only once the
        # question it depends on has been answered.
        return False
    if isinstance(expected, dict):
        expected = expected.get("code")
    values = answer if isinstance(answer, list) else [answer]
    if operator == "=":
        return any(_same(v, expected) for v in values)
    if operator == "!=":
        return not any(_same(v, expected) for v in values)
    try:
        left, right = _comparable(values[0]), _comparable(expected)
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[operator]
    except (TypeError, KeyError, InvalidOperation, ValueError):
        return False


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected or str(value).lower() == str(expected).lower()
    try:
        return _comparable(value) == _comparable(expected)
    except (InvalidOperation, ValueError, TypeError):
        return str(value) == str(expected)


def _comparable(value: Any) -> Any:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    text = str(value)
    try:
        return Decimal(text)
    except InvalidOperation:
        return text  # ISO dates compare correctly as text


def enabled_ids(definition: dict, answers: dict) -> set[str]:
    """linkIds shown for these answers. Conditions only look backwards, so one pass in order is enough;
    an item that is hidden counts as unanswered for the items that depend on it."""
    enabled: set[str] = set()

    def walk(nodes: list[dict], parent_enabled: bool) -> None:
        for node in nodes:
            link_id = node.get("linkId")
            conditions = node.get("enableWhen", [])
            results = [
                _condition_met(c, answers.get(c.get("question")) if c.get("question") in enabled else None)
                for c in conditions
            ]
            behaviour = node.get("enableBehavior", "all")
            on = parent_enabled and (not results or (any(results) if behaviour == "any" else all(results)))
            if on and not not_asked(node):
                enabled.add(link_id)
            walk(node.get("item", []), on)

    walk(definition.get("item", []), True)
    return enabled


def visible_page(definition: dict, pages: list[PageSpec], answers: dict, start: int, step: int) -> int | None:
    """The first page from `start` in direction `step` that shows anything for these answers.
    Pages whose every item is hidden are skipped, as if they did not exist."""
    shown = enabled_ids(definition, answers)
    index = start
    while 0 <= index < len(pages):
        if any(node.get("linkId") in shown for node in pages[index].nodes):
            return index
        index += step
    return None


def prune_answers(definition: dict, answers: dict) -> dict:
    """Drop answers of items that are hidden now: they would mislead the analysis."""
    shown = enabled_ids(definition, answers)
    return {k: v for k, v in answers.items() if k in shown}


# --- fields -------------------------------------------------------------------------------

def _field(node: dict, language: str, base: str, answers: dict, shown: set[str]) -> Field:
    kind = fhir.item_type(node)
    help_node = next((c for c in node.get("item", []) if fhir.item_control(c) == "help"), None)
    low, high = fhir.ext_value(node, fhir.EXT_MIN), fhir.ext_value(node, fhir.EXT_MAX)
    options = [
        (fhir.option_code(o), fhir.localized(o.get("valueCoding", {}), "display", language, base) or fhir.option_code(o))
        for o in node.get("answerOption", [])
    ]
    if kind == T.YES_NO:
        options = [("true", _("Yes")), ("false", _("No"))]
    link_id = node.get("linkId", "")
    conditions = node.get("enableWhen", [])
    return Field(
        link_id=link_id,
        kind=kind,
        text=fhir.localized(node, "text", language, base),
        help=fhir.localized(help_node, "text", language, base) if help_node else "",
        required=bool(node.get("required")),
        shown=link_id in shown,
        value=answers.get(link_id),
        options=options,
        minimum=low if low is not None else (0 if kind in (T.NRS, T.VAS) else None),
        maximum=high if high is not None else ({T.NRS: 10, T.VAS: 100}.get(kind)),
        max_length=node.get("maxLength"),
        conditions=json.dumps({"b": node.get("enableBehavior", "all"), "c": conditions}, separators=(",", ":"))
        if conditions else "",
    )


def page_fields(definition: dict, page: PageSpec, language: str, answers: dict) -> list[Field]:
    base = definition.get("language", language)
    shown = enabled_ids(definition, answers)
    return [_field(node, language, base, answers, shown) for node in page.nodes]


# --- parsing a POST ---------------------------------------------------------------------------

def _parse(field_: Field, raw: list[str]) -> tuple[Any, str]:
    """(value, error) for one field's submitted strings; value None means unanswered."""
    raw = [r.strip() for r in raw if r.strip()]
    if not raw:
        return None, ""
    kind = field_.kind
    codes = [c for c, _label in field_.options]
    if kind == T.MULTIPLE:
        if any(r not in codes for r in raw):
            return None, _("Choose among the options shown.")
        return [c for c in codes if c in raw], ""
    value = raw[0]
    if kind in (T.SINGLE, T.YES_NO):
        if value not in codes:
            return None, _("Choose one of the options shown.")
        return (value == "true") if kind == T.YES_NO else value, ""
    if kind in NUMBER_TYPES:
        try:
            number = Decimal(value.replace(",", ".").replace(" ", ""))
        except InvalidOperation:
            return None, _("Enter a number, for example 12.")
        if kind != T.DECIMAL and number != number.to_integral_value():
            return None, _("Enter a whole number, without decimals.")
        low, high = field_.minimum, field_.maximum
        if (low is not None and number < Decimal(str(low))) or (high is not None and number > Decimal(str(high))):
            if low is not None and high is not None:
                return None, _("Enter a number between %(low)s and %(high)s.") % {"low": low, "high": high}
            if low is not None:
                return None, _("Enter a number of at least %(low)s.") % {"low": low}
            return None, _("Enter a number of at most %(high)s.") % {"high": high}
        return (float(number) if kind == T.DECIMAL else int(number)), ""
    if kind == T.DATE:
        try:
            return dt.date.fromisoformat(value).isoformat(), ""
        except ValueError:
            for fmt in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
                try:
                    return dt.datetime.strptime(value, fmt).date().isoformat(), ""
                except ValueError:
                    continue
            return None, _("Enter a date as day/month/year, for example 31/12/2025.")
    if field_.max_length and len(value) > field_.max_length:
        return None, _("Write at most %(n)s characters (you wrote %(m)s).") % {"n": field_.max_length, "m": len(value)}
    return value, ""


def parse_page(fields: list[Field], data) -> tuple[dict, dict[str, str], dict[str, list[str]]]:
    """Read one page's POST: (answers for its questions, errors by linkId, raw text to redisplay)."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw_values: dict[str, list[str]] = {}
    for f in fields:
        if not f.is_question:
            continue
        raw = data.getlist(f.link_id)
        raw_values[f.link_id] = raw
        value, error = _parse(f, raw)
        if error:
            errors[f.link_id] = error
        answers[f.link_id] = value
    return answers, errors, raw_values


@dataclass
class PageSubmission:
    """One posted page, read: what parsed, every answer after it, and what to say."""

    valid: dict  # this page's answers that parsed (saved even when others did not: nothing typed is lost)
    merged: dict  # all answers after this page, those of hidden items dropped
    errors: dict[str, str]
    raw: dict[str, list[str]]
    # Questions this answer revealed on the same page, which the patient has not seen yet (no JavaScript).
    revealed: list[str]

    @property
    def complete(self) -> bool:
        return not self.errors and not self.revealed

    @property
    def shown_errors(self) -> dict[str, str]:
        # A question just revealed is shown as new, not as an error.
        return {k: v for k, v in self.errors.items() if k not in self.revealed}

    def page_again(self, *, definition: dict, pages: list[PageSpec], index: int, language: str) -> dict:
        """Context to show the same page again, keeping what was typed."""
        errors = self.shown_errors
        return page_context(definition=definition, pages=pages, index=index, language=language, answers=self.merged,
                            errors=errors, raw={k: v for k, v in self.raw.items() if k in errors},
                            notice="revealed" if self.revealed and not errors else "")


def page_submission(*, definition: dict, page: PageSpec, language: str, answers: dict, post,
                    check_required: bool) -> PageSubmission:
    """Read one page's POST against the answers so far (questionnaire and pre-screening alike)."""
    fields = page_fields(definition, page, language, answers)
    page_answers, errors, raw = parse_page(fields, post)
    valid = {k: v for k, v in page_answers.items() if k not in errors}
    merged = prune_answers(definition, {**answers, **valid})
    if check_required:
        after = required_errors(page_fields(definition, page, language, merged), merged)
        errors |= {k: v for k, v in after.items() if k not in errors}
    # Without JavaScript a follow-up appears only once the answer revealing it is sent: the page
    # comes back with it rather than skipping a question the patient never saw. The form posts
    # the questions it showed.
    shown_before = set(post.get("shown", "").split())
    newly_shown = enabled_ids(definition, merged) - shown_before
    revealed = [f.link_id for f in fields if f.is_question and f.link_id in newly_shown]
    return PageSubmission(valid=valid, merged=merged, errors=errors, raw=raw, revealed=revealed)


def required_errors(fields: list[Field], answers: dict) -> dict[str, str]:
    return {
        f.link_id: _("Answer this question to continue.")
        for f in fields
        if f.is_question and f.shown and f.required and answers.get(f.link_id) in (None, "", [])
    }


# --- preview -------------------------------------------------------------------------------------

def render_preview(request: HttpRequest, *, definition: dict, language: str, page: int = 1) -> HttpResponse:
    """Render a definition through the real patient template, nothing saved (admin preview)."""
    pages = build_pages(definition, language)
    index = min(max(page, 1), max(len(pages), 1)) - 1
    with override(language):
        context = page_context(definition=definition, pages=pages, index=index, language=language, answers={})
        context["preview"] = True
        return render(request, "patient/page.html", context)


def title_of(definition: dict, language: str) -> str:
    return fhir.localized(definition, "title", language, definition.get("language", language))


def page_context(*, definition: dict, pages: list[PageSpec], index: int, language: str, answers: dict,
                 errors: dict[str, str] | None = None, raw: dict[str, list[str]] | None = None,
                 notice: str = "") -> dict:
    errors = errors or {}
    fields = page_fields(definition, pages[index], language, answers) if pages else []
    for f in fields:
        if f.link_id in errors:
            f.error = errors[f.link_id]
        if raw and f.link_id in raw:
            # Keep what was typed, even when it did not parse.
            f.value = raw[f.link_id] if f.kind == T.MULTIPLE else (raw[f.link_id][0] if raw[f.link_id] else None)
    error_fields = [f for f in fields if f.error]
    intro = fhir.extension_text(definition, fhir.EXT_INTRO, language) if index == 0 else ""
    on_page = {f.link_id for f in fields}
    referenced = {c.get("question") for node in (pages[index].nodes if pages else []) for c in node.get("enableWhen", [])}
    return {
        # The progressive script needs earlier pages' answers that this page's conditions test.
        "earlier_answers": {k: answers[k] for k in referenced - on_page if k in answers},
        "title": title_of(definition, language),
        "intro": intro,
        "page_title": pages[index].title if pages else "",
        "fields": fields,
        "error_fields": error_fields,
        "page_index": index,
        "page_number": index + 1,
        "page_count": len(pages),
        "language": language,
        "notice": notice,
        "shown_ids": " ".join(f.link_id for f in fields if f.shown),
    }


# Public name of the enableWhen comparison: eligibility rules (surveys/screening.py) compare
# answers with exactly the same semantics as display conditions.
condition_met = _condition_met
