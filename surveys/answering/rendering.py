"""From a FHIR definition to the pages a patient sees, and from a POST back to answers.

Pure functions over the definition: the same code renders a draft preview,
a published version, or an imported questionnaire. Display conditions are
evaluated on the server (surveys/questionnaires/conditions.py), so the pages work
with JavaScript off; values are read and shown by surveys/questionnaires/values.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from surveys.answering.field_html import field_html
from surveys.models import Item
from surveys.questionnaires import conditions, expressions, fhir, values

T = Item.Type


@dataclass
class PageSpec:
    """A page of the questionnaire: its title and the item nodes on it, in order."""

    title: str
    nodes: list[dict]
    # _field_static of each node, by language (and the language of the messages, "Yes", "No"): built
    # once per page object; the pages of a published version are built once per process (version_forms).
    _statics: dict[tuple, list[dict]] = field(default_factory=dict, repr=False, compare=False)

    def statics(self, language: str, base: str) -> list[dict]:
        key = (language, base, get_language())
        statics = self._statics.get(key)
        if statics is None:
            statics = self._statics[key] = [_field_static(node, language, base) for node in self.nodes]
        return statics


@dataclass
class Field:
    link_id: str
    kind: str
    text: str
    help: str
    required: bool
    shown: bool
    value: Any = None
    # The strings the form shows and posts back (values.form_values), or what was typed.
    posted: list[str] = field(default_factory=list)
    error: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    # A string, integer, date or time item offering answer options: shown as a choice (values.offered_options).
    offers: bool = False
    # The item's prefix ("1.", "a)"): shown as the start of its label, so it is read with it.
    prefix: str = ""
    minimum: Any = None
    maximum: Any = None
    max_length: int | None = None
    # The typed answer's format (values.answer_format): the `pattern` attribute and the example shown.
    pattern: str = ""
    entry_format: str = ""
    # For the page script: the conditions it re-evaluates (JSON), and how to read this field (JSON).
    conditions: str = ""
    reading: str = ""
    # A calculated item (shown read-only, never posted): its text and value, "Total score: 12".
    calculated: str = ""

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
            ("fmt", (self.kind in (T.DATE, T.TIME, T.DATETIME) or bool(self.entry_format)) and not self.offers),
            ("rng", self.has_range),
            ("err", bool(self.error)),
        ]
        return " ".join(f"{self.dom_id}-{suffix}" for suffix, present in parts if present)

    @property
    def is_question(self) -> bool:
        return self.kind in values.QUESTION_TYPES

    @property
    def scale_points(self) -> list[int]:
        if self.kind != T.NRS or self.minimum is None or self.maximum is None:
            return []
        return list(range(int(Decimal(self.minimum)), int(Decimal(self.maximum)) + 1))

    @property
    def selected(self) -> set[str]:
        return set(self.posted)

    @property
    def text_value(self) -> str:
        return self.posted[0] if self.posted else ""

    @property
    def html(self) -> SafeString:
        return field_html(self)

    @property
    def short_text(self) -> str:
        """The question in a few words, to name it in the error summary."""
        return Truncator(self.text).words(8)


# --- structure ----------------------------------------------------------------------


def _is_help(node: dict) -> bool:
    return node.get("type") == "display" and fhir.item_control(node) == "help"


def _page_nodes(node: dict) -> list[dict]:
    """The nodes one item puts on a page: a question and the questions nested under it, or the
    title and items of a group inside a page. Help texts belong to their item; items never asked
    (hidden, read-only) are left out, with anything inside them; a calculated item is shown as a value."""
    if conditions.hidden_from_patient(node):
        return []
    out: list[dict] = []
    if node.get("type") == "group":
        if node.get("text"):
            # A group inside a page shows its title as a text, hidden with the group.
            keep = ("linkId", "text", "_text", "prefix", "_prefix", "enableWhen", "enableBehavior")
            out.append({"type": "display", **{k: node[k] for k in keep if k in node}})
    elif not (_is_help(node) or (conditions.not_asked(node) and not conditions.shown_as_value(node))):
        out.append(
            {k: v for k, v in node.items() if k != "item"} | {"item": [c for c in node.get("item", []) if _is_help(c)]}
        )
    for child in node.get("item", []):
        if not _is_help(child):
            out.extend(_page_nodes(child))
    return out


def build_pages(definition: dict, language: str) -> list[PageSpec]:
    base = definition.get("language", language)
    pages: list[PageSpec] = []
    loose: list[dict] = []
    for node in definition.get("item", []):
        if node.get("type") == "group" and not conditions.hidden_from_patient(node):
            if loose:
                pages.append(PageSpec("", loose))
                loose = []
            nodes = [n for child in node.get("item", []) if not _is_help(child) for n in _page_nodes(child)]
            # An untitled group (FHIR allows it) is a page without a heading.
            title = fhir.localized(node, "text", language, base)
            prefix = fhir.prefix(node, language, base)
            pages.append(PageSpec(f"{prefix} {title}" if prefix and title else title, nodes))
        else:
            loose.extend(_page_nodes(node))
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


def visible_page(definition: dict, pages: list[PageSpec], answers: dict, start: int, step: int) -> int | None:
    """The first page from `start` in direction `step` that shows anything for these answers.
    Pages whose every item is hidden are skipped, as if they did not exist."""
    shown = conditions.enabled_ids(definition, answers)
    index = start
    while 0 <= index < len(pages):
        if any(node.get("linkId") in shown for node in pages[index].nodes):
            return index
        index += step
    return None


# --- fields -------------------------------------------------------------------------------


def _field_static(node: dict, language: str, base: str) -> dict:
    """What a field shows that depends only on its item and the language (not on any answer)."""
    kind = fhir.item_type(node)
    help_node = next((c for c in node.get("item", []) if _is_help(c)), None)
    low, high = values.accepted_range(node)
    offered = values.offered_options(node)
    if kind in values.CHOICE_TYPES:
        options = [
            (fhir.option_code(o), values.option_label(node, o, language=language, base=base))
            for o in node.get("answerOption", [])
        ]
    else:
        options = [(code, values.option_label(node, o, language=language, base=base)) for code, _v, o in offered]
    if kind == T.YES_NO:
        options = [(values.YES, _("Yes")), (values.NO, _("No"))]
    answer_format = values.answer_format(node)
    return {
        "link_id": str(node.get("linkId", "")),
        "kind": kind,
        "text": fhir.localized(node, "text", language, base),
        "help": fhir.localized(help_node, "text", language, base) if help_node else "",
        "required": bool(node.get("required")),
        "options": options,
        "offers": bool(offered),
        "prefix": fhir.prefix(node, language, base),
        "minimum": None if low is None else values.plain(low),
        "maximum": None if high is None else values.plain(high),
        "max_length": node.get("maxLength") if kind in values.TEXT_TYPES else None,
        "pattern": answer_format[0] if answer_format else "",
        "entry_format": answer_format[1] if answer_format else "",
    }


def _field(
    node: dict,
    static: dict,
    language: str,
    base: str,
    answers: dict,
    evaluation: conditions.Evaluation,
    plans: dict[str, list[dict] | None],
) -> Field:
    link_id = static["link_id"]
    value = answers.get(link_id)
    return Field(
        **static,
        shown=link_id in evaluation.enabled,
        value=value,
        posted=values.form_values(node, value),
        conditions=conditions.plan_json(plans[link_id]),
        calculated=expressions.display_label(node, evaluation.calculated.get(link_id), language=language, base=base)
        if conditions.shown_as_value(node)
        else "",
    )


def page_fields(definition: dict, page: PageSpec, language: str, answers: dict) -> list[Field]:
    base = definition.get("language", language)
    evaluation = conditions.conditions_evaluate(definition, answers)
    statics = page.statics(language, base)
    on_page = {static["link_id"] for static in statics if static["kind"] != T.DISPLAY}
    plans = {static["link_id"]: evaluation.browser_plan(static["link_id"], on_page) for static in statics}
    fields = [
        _field(node, static, language, base, answers, evaluation, plans)
        for node, static in zip(page.nodes, statics, strict=True)
    ]
    # The script reads only the questions that a condition on this page tests.
    tested = {
        entry["q"]
        for plan in plans.values()
        for clause in plan or ()
        for entry in clause["c"]
        if isinstance(entry, dict)
    }
    for node, f in zip(page.nodes, fields, strict=True):
        if f.link_id in tested and f.is_question:
            f.reading = json.dumps(values.browser_reading(node), separators=(",", ":"))
    return fields


# --- parsing a POST ---------------------------------------------------------------------------


def parse_page(page: PageSpec, data) -> tuple[dict, dict[str, str], dict[str, list[str]]]:
    """Read one page's POST: (answers for its questions, errors by linkId, raw text to redisplay)."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw_values: dict[str, list[str]] = {}
    for node in page.nodes:
        if fhir.item_type(node) not in values.QUESTION_TYPES or conditions.not_asked(node):
            continue
        link_id = str(node.get("linkId", ""))
        raw = data.getlist(link_id)
        raw_values[link_id] = raw
        value, error = values.parse(node, raw)
        if error:
            errors[link_id] = error
        answers[link_id] = value
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
        context = page_context(
            definition=definition,
            pages=pages,
            index=index,
            language=language,
            answers=self.merged,
            errors=errors,
            raw={k: v for k, v in self.raw.items() if k in errors},
            notice="revealed" if self.revealed and not errors else "",
        )
        context["revealed_ids"] = " ".join(self.revealed)
        return context


def page_submission(
    *, definition: dict, page: PageSpec, language: str, answers: dict, post, check_required: bool
) -> PageSubmission:
    """Read one page's POST against the answers so far (questionnaire and pre-screening alike)."""
    page_answers, errors, raw = parse_page(page, post)
    valid = {k: v for k, v in page_answers.items() if k not in errors}
    # Conditions read this post as the page script does: a value that does not parse is no answer
    # (the stored one is kept until a valid one replaces it: `valid` leaves it out).
    evaluation = conditions.conditions_evaluate(definition, {**answers, **page_answers})
    merged = evaluation.pruned()
    shown_now = evaluation.enabled
    # An error on a question this post hides is moot: its answer is dropped with it.
    errors = {k: v for k, v in errors.items() if k in shown_now}
    if check_required:
        after = required_errors(page, evaluation)
        errors |= {k: v for k, v in after.items() if k not in errors}
    # Without JavaScript a follow-up appears only once the answer revealing it is sent: the page
    # comes back with it rather than skipping a question the patient never saw. The form posts
    # the questions it showed, and those already revealed once: a question is revealed at most
    # once, so whatever a browser does, the second post of a page goes on or names what is missing.
    shown_before = set(post.get("shown", "").split()) | set(post.get("revealed", "").split())
    on_page = [
        str(node.get("linkId", ""))
        for node in page.nodes
        if fhir.item_type(node) in values.QUESTION_TYPES and not conditions.not_asked(node)
    ]
    newly_shown = shown_now - shown_before
    revealed = [link_id for link_id in on_page if link_id in newly_shown]
    return PageSubmission(valid=valid, merged=merged, errors=errors, raw=raw, revealed=revealed)


def required_errors(page: PageSpec, evaluation: conditions.Evaluation) -> dict[str, str]:
    on_page = {str(node.get("linkId", "")) for node in page.nodes}
    return {
        link_id: _("Answer this question to continue.")
        for link_id in evaluation.missing_required()
        if link_id in on_page
    }


# --- preview -------------------------------------------------------------------------------------


def preview_answers(definition: dict, pages: list[PageSpec], data) -> tuple[dict, dict[str, str], dict]:
    """Answers typed in the preview (a GET form: nothing is saved), with errors and raw text of `data`."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, list[str]] = {}
    for page in pages:
        page_answers, page_errors, page_raw = parse_page(page, data)
        answers |= {k: v for k, v in page_answers.items() if k not in page_errors}
        errors |= page_errors
        raw |= {k: v for k, v in page_raw.items() if v}
    return conditions.prune_answers(definition, answers), errors, raw


def render_preview(request: HttpRequest, *, definition: dict, language: str, page: int = 1) -> HttpResponse:
    """Render a definition through the real patient template, nothing saved (admin preview).

    The form is a GET that carries every answer typed so far: "Apply" (and, with JavaScript, each
    change) shows the page again with its display conditions, Next and Previous keep the answers."""
    pages = build_pages(definition, language)
    if "go" in request.GET:
        page = _preview_page(request.GET.get("go"), page)
    index = min(max(page, 1), max(len(pages), 1)) - 1
    with override(language):
        answers, errors, raw = preview_answers(definition, pages, request.GET)
        on_page = {str(n.get("linkId", "")) for n in pages[index].nodes} if pages else set()
        context = page_context(
            definition=definition,
            pages=pages,
            index=index,
            language=language,
            answers=answers,
            errors={k: v for k, v in errors.items() if k in on_page},
            raw={k: v for k, v in raw.items() if k in on_page and k in errors},
        )
        nodes = {str(n.get("linkId", "")): n for p in pages for n in p.nodes}
        context["preview"] = True
        # Answers of the other pages ride along as hidden fields (calculated values are computed again).
        context["carried"] = [
            (link_id, text)
            for link_id, value in answers.items()
            if link_id not in on_page and link_id in nodes and not conditions.not_asked(nodes[link_id])
            for text in values.form_values(nodes[link_id], value)
        ]
        return render(request, "patient/page.html", context)


def _preview_page(requested: str | None, current: int) -> int:
    try:
        return int(requested or current)
    except ValueError:
        return current


def title_of(definition: dict, language: str) -> str:
    return fhir.localized(definition, "title", language, definition.get("language", language))


def page_context(
    *,
    definition: dict,
    pages: list[PageSpec],
    index: int,
    language: str,
    answers: dict,
    errors: dict[str, str] | None = None,
    raw: dict[str, list[str]] | None = None,
    notice: str = "",
) -> dict:
    errors = errors or {}
    fields = page_fields(definition, pages[index], language, answers) if pages else []
    for f in fields:
        if f.link_id in errors:
            f.error = errors[f.link_id]
        if raw and f.link_id in raw:
            # Keep what was typed, even when it did not parse.
            f.posted = [r for r in raw[f.link_id] if r.strip()]
    error_fields = [f for f in fields if f.error]
    intro = fhir.extension_text(definition, fhir.EXT_INTRO, language) if index == 0 else ""
    return {
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


def review_rows(definition: dict, page: PageSpec, language: str, answers: dict, missing: set[str]) -> list[dict]:
    """The review page's lines for one page: each question shown, its answer in words, missing or not."""
    base = definition.get("language", language)
    nodes = {str(n.get("linkId", "")): n for n in page.nodes}
    return [
        {
            "field": f,
            "answer": values.display(nodes[f.link_id], f.value, language=language, base=base),
            "missing": f.link_id in missing,
        }
        for f in page_fields(definition, page, language, answers)
        if f.is_question and f.shown
    ]


def review_summary(
    definition: dict, pages: list[PageSpec], language: str, answers: dict, missing: set[str]
) -> list[dict]:
    """The review page: each page by number and title, with its lines (review_rows)."""
    return [
        {"number": number, "title": page.title, "rows": review_rows(definition, page, language, answers, missing)}
        for number, page in enumerate(pages, start=1)
    ]
