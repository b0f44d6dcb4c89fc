"""Display conditions: the server (surveys/questionnaires/conditions.py, values.py) and the page
script (static/patient/patient.js) agree on what a patient is shown, in real Chromium.

Each case renders a page on the server (rendering.page_context + "patient/page.html", as the view
does), loads it in Chromium with JavaScript on and the repository's patient.js and patient.css
inlined in place of their tags (no live server; the `shown` field is preset to a marker the script
must overwrite, proof that it ran), acts as a patient (check, uncheck, fill, move the slider, type
on the keyboard: Playwright actions, so the script gets real input and change events; a hidden
question cannot be reached and is left alone), then reads (a) which `[data-link]` boxes Chromium
shows and (b) what the form would post (`new FormData(form)`: a date or time field posts only what
it holds after sanitizing, never the text tried on it). That post goes through the server's reading
of a page (rendering.page_submission: parse_page, merged with the answers stored for the earlier
pages, pruned), then conditions.enabled_ids. Asserted for every case: the boxes shown equal the
server's enabled items of the page, in page order; the hidden `shown` field equals them; the server
finds no question "revealed" by the post (with the script running, a page never comes back for a
question the patient did not see). Except for boxes decided by the server (their conditions hold a
FHIRPath expression or read a calculated value, which the script cannot evaluate: plan
`[{"b": "server"}]`): those stay as the server rendered them for the stored answers, and the post
"reveals" exactly the questions among them that the server now shows and the browser kept hidden.

1. The table (`TABLE`: 140 cases, i.e. page loads, checking 4157 conditions; `test_table_size`
   keeps these numbers true). 101 cases on a grid: every operator (=, !=, <, >, <=, >=, exists true
   and exists false) x every answer type (single and multiple choice, yes/no, integer, integer
   against values beyond a double, decimal, decimal 0.1+0.2, NRS, VAS, date, time, short text, long
   text) x answers given, not given and invalid (letters in a number, out of range, not whole,
   exponents, 16 digits, 2024-02-31 and 31/02/2024 in a date field, on the keyboard too, 25:00,
   14:30:15.5, white space only, cleared after typing), each against the condition's value written
   several ways (answerCoding and answerString codes, codes differing only in case, "oui", " TRUE "
   and 1 for true, 12.0 and "12,0" for 12, "71,5", 0.1+0.2 against 0.3, "0.30000000000000000001",
   10**400, partial dates "2022-09" and "2022", day-first dates, "14h30") and against values of an
   unfitting type. The grid's expected outcome is written by hand (`truth`): it checks the meaning
   as well as the agreement. Then 39 cases on structure, each with the boxes expected: enableBehavior
   any/all and a range of two conditions; a chain A -> B -> C (B hidden: what follows sees no answer,
   so "!=" holds and "exists" does not, even with a value still typed in B); a group inside a page
   with its own condition (its title and children hide with it, a nested group without a title too);
   conditions on questions of an earlier page (resolved by the server, alone or mixed with live ones
   under "any", a hidden earlier question counting as unanswered even when stored); a question with
   nested items; a condition on a later question; answers stored for the page itself (prefilled,
   then changed or made invalid); five with FHIRPath (a calculated total, an enableWhenExpression on it,
   an enableWhen on the total and one on that question: decided by the server, with what the server
   shows after the post written by hand).
2. A property test (hypothesis, 150 derandomized examples, one Chromium page reused): generated
   questionnaires (an optional earlier page with stored answers, a page of 2-6 items of random types
   and bounds, an optional group over part of it with or without a title and a condition, 0-2
   conditions per item mostly on earlier questions of the page, else of the earlier page, a later
   item or an unknown linkId, random operators, expected values of fitting and unfitting types,
   any/all) and generated patients (prefilled answers, then a pass down the page and a few returns:
   valid, invalid, empty, white space, no-break and narrow no-break spaces, commas, signs, leading
   zeros, long digit strings, unicode text, the values the conditions test).

The other half, that a page can always be left whatever the script did (JavaScript off, a
tampered `shown`), is tests/surveys/questionnaires/test_condition_agreement.py (Django test client, no browser).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import translation
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Error as PlaywrightError

from surveys.answering import rendering
from surveys.questionnaires import conditions, expressions, fhir, values
from tests.browser.conftest import PHONE, ROOT

pytestmark = pytest.mark.browser

T = values.T
STATIC = ROOT / "static"
OP_NAMES = {"=": "eq", "!=": "ne", "<": "lt", ">": "gt", "<=": "le", ">=": "ge"}


# --- building definitions (the FHIR that fhir.definition_from_draft writes, plus imported shapes) ---


def item(
    link: str,
    kind: str,
    *,
    low: float | None = None,
    high: float | None = None,
    options: list[str] | None = None,
    **extra: Any,
) -> dict:
    node: dict[str, Any] = {
        "linkId": link,
        "type": fhir.FHIR_TYPE[kind],
        "text": extra.pop("text", f"Question {link}"),
        "extension": [{"url": fhir.EXT_ITEM_TYPE, "valueCode": kind}],
    }
    key = "valueDecimal" if kind == T.DECIMAL else "valueInteger"
    if low is not None:
        node["extension"].append({"url": fhir.EXT_MIN, key: low})
    if high is not None:
        node["extension"].append({"url": fhir.EXT_MAX, key: high})
    if kind in (T.NRS, T.VAS):
        node["extension"] += [
            {
                "url": fhir.EXT_ITEM_CONTROL,
                "valueCodeableConcept": {"coding": [{"system": fhir.ITEM_CONTROL_SYSTEM, "code": "slider"}]},
            },
            {"url": fhir.EXT_SLIDER_STEP, "valueInteger": 1},
        ]
    if kind == T.MULTIPLE:
        node["repeats"] = True
    if options is not None:
        node["answerOption"] = [{"valueCoding": {"code": c, "display": f"Option {c}"}} for c in options]
    node.update(extra)
    return node


def display(link: str, *when: dict, behavior: str | None = None, **extra: Any) -> dict:
    node = item(link, T.DISPLAY, text=extra.pop("text", f"Shown {link}"), **extra)
    return conditional(node, *when, behavior=behavior)


def conditional(node: dict, *when: dict, behavior: str | None = None) -> dict:
    if when:
        node["enableWhen"] = list(when)
    if behavior:
        node["enableBehavior"] = behavior
    return node


def when(question: str, operator: str, key: str, value: Any) -> dict:
    return {"question": question, "operator": operator, key: value}


def group(link: str, items: list[dict], *, text: str | None = None, **extra: Any) -> dict:
    node: dict[str, Any] = {"linkId": link, "type": "group", "item": items}
    if text:
        node["text"] = text
    node.update(extra)
    return node


def questionnaire(*pages: list[dict]) -> dict:
    return {
        "resourceType": "Questionnaire",
        "status": "active",
        "language": "en",
        "title": "Agreement",
        "item": [group(f"page{i}", items, text=f"Page {i}") for i, items in enumerate(pages)],
    }


# --- the browser side ------------------------------------------------------------------------------

READ_STATE = """() => {
  const form = document.getElementById('answers'), entries = {};
  for (const [name, value] of new FormData(form)) (entries[name] = entries[name] || []).push(value);
  const visible = [...form.querySelectorAll('[data-link]')].filter(b => b.checkVisibility())
    .map(b => b.getAttribute('data-link'));
  const server = [...form.querySelectorAll('[data-when]')]
    .filter(b => (JSON.parse(b.getAttribute('data-when'))[0] || {}).b === 'server').map(b => b.getAttribute('data-link'));
  return {entries, visible, server, shown: form.querySelector('input[name=shown]').value};
}"""
# What a browser does with text it cannot hold (a date or time field sanitizes it to ""), once set.
SET_VALUE = """(el, text) => { el.focus(); el.value = text;
  el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); }"""


def css(text: str) -> str:
    """A CSS string literal's content."""
    return "".join(f"\\{ord(c):x} " if c in '"\\\n\r\f' or ord(c) < 32 else c for c in text)


SCRIPT_TAG = re.compile(r'<script src="[^"]*/patient/patient\.js" defer></script>')
STYLE_TAG = re.compile(r'<link rel="stylesheet" href="[^"]*/patient/patient\.css">')
# Put in the `shown` field before the script runs, which always rewrites it: proof that it ran.
NOT_RUN = "(patient.js did not run)"


def with_real_files(html: str) -> str:
    """The page with the repository's patient.js and patient.css inlined in place of their tags."""
    script = (STATIC / "patient" / "patient.js").read_text()
    style = (STATIC / "patient" / "patient.css").read_text()
    assert "</script" not in script and "</style" not in style
    html, scripts = SCRIPT_TAG.subn(lambda _m: f"<script>{script}</script>", html)
    html, styles = STYLE_TAG.subn(lambda _m: f"<style>{style}</style>", html)
    html, fields = re.subn(r'(<input type="hidden" name="shown" value=")[^"]*"', rf'\g<1>{NOT_RUN}"', html)
    assert (scripts, styles, fields) == (1, 1, 1), "the page template changed: update with_real_files"
    return html


class Tab:
    """One Chromium page at a phone viewport, reused for every case: each load replaces its document."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport=PHONE, locale="fr-FR", is_mobile=True, has_touch=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(5000)

    def load(self, html: str) -> dict:
        """Show `html`; the state before the patient does anything."""
        self.page.set_content(with_real_files(html))
        state = self.state()
        assert state["shown"] != NOT_RUN, "patient.js did not run"
        return state

    def box(self, link: str):
        return self.page.locator(f'[data-link="{css(link)}"]')

    def act(self, step: tuple[str, str, str]) -> bool:
        """One patient action; False when the question is hidden (nothing a patient can do). Playwright's
        own waiting is skipped (force): the box was just seen visible, and nothing on these pages moves."""
        verb, link, value = step
        box = self.box(link)
        if not box.is_visible():
            return False
        field_ = box.locator("input[name]:not([type=radio]):not([type=checkbox]), textarea")
        if verb == "check":
            box.locator(f'input[value="{css(value)}"]').check(force=True)
        elif verb == "uncheck":
            box.locator(f'input[value="{css(value)}"]').uncheck(force=True)
        elif verb == "slide":
            box.locator("input.vas").fill(value, force=True)
        elif verb == "type":
            field_.click(force=True)
            self.page.keyboard.type(value)
        elif verb == "fill":
            try:
                field_.fill(value, force=True)
            except PlaywrightError as error:
                # A date or time field refuses malformed text: what it keeps is what a browser posts.
                if "Malformed value" not in str(error):
                    raise
                field_.evaluate(SET_VALUE, value)
        else:
            raise AssertionError(verb)
        return True

    def state(self) -> dict:
        return self.page.evaluate(READ_STATE)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def tab(browser):
    one = Tab(browser)
    yield one
    one.close()


# --- one case, both sides ------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    definition: dict
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    # Answers stored for the earlier pages (what the server merges the post with), and for this page (prefilled).
    earlier: dict = field(default_factory=dict)
    stored: dict = field(default_factory=dict)
    page: int = 0
    # The boxes a patient should see, written by hand; None: agreement only.
    expect: list[str] | None = None
    # The boxes the server shows once the page is posted, by hand (items decided by the server); None: unchecked.
    after: list[str] | None = None

    def __str__(self) -> str:
        return self.name


def render_page(definition: dict, pages: list[rendering.PageSpec], index: int, answers: dict) -> str:
    with translation.override("en"):
        context = rendering.page_context(
            definition=definition, pages=pages, index=index, language="en", answers=answers
        )
        return render_to_string("patient/page.html", {**context, "token": ""})


def server_reading(definition: dict, page: rendering.PageSpec, earlier: dict, entries: dict) -> tuple[list, list]:
    """(boxes of the page the server shows after this post, questions it would say the post revealed)."""
    post = QueryDict(mutable=True)
    for name, posted in entries.items():
        post.setlist(name, posted)
    with translation.override("en"):
        sub = rendering.page_submission(
            definition=definition, page=page, language="en", answers=earlier, post=post, check_required=False
        )
    enabled = conditions.enabled_ids(definition, sub.merged)
    return [str(n.get("linkId")) for n in page.nodes if n.get("linkId") in enabled], sub.revealed


def run_case(tab: Tab, case: Case) -> tuple[str, dict, dict, int]:
    """(the page, its state before the patient acts, after, how many actions reached a question)."""
    pages = rendering.build_pages(case.definition, "en")
    html = render_page(case.definition, pages, case.page, {**case.earlier, **case.stored})
    before = tab.load(html)
    acted = sum(tab.act(step) for step in case.steps)
    state = tab.state()
    shown, revealed = server_reading(case.definition, pages[case.page], case.earlier, state["entries"])
    detail = f"{case}: posted {state['entries']}"
    # Boxes decided by the server (an expression or a calculated value in their conditions) stay as rendered;
    # every other box shows exactly when the server, reading the post, shows it.
    decided = set(state["server"])
    assert decided == set(before["server"]), detail
    on_page = [str(n.get("linkId")) for n in pages[case.page].nodes]
    browser = [link for link in on_page if (link in before["visible"] if link in decided else link in shown)]
    assert state["visible"] == browser, detail
    assert state["shown"].split() == state["visible"], detail
    # The server has the last word on those: a question it now shows that the browser kept hidden comes back
    # once (`revealed`), never one the script decided.
    nodes = {str(n.get("linkId")): n for n in pages[case.page].nodes}
    assert revealed == [
        link
        for link in shown
        if link not in state["visible"]
        and values.kind_of(nodes[link]) in values.QUESTION_TYPES
        and not conditions.not_asked(nodes[link])
    ], detail
    assert set(revealed) <= decided, detail
    if case.expect is not None:
        assert state["visible"] == case.expect, detail
    if case.after is not None:
        assert shown == case.after, detail
    return html, before, state, acted


# --- 1. the table ------------------------------------------------------------------------------------


def truth(operator: str, relation: str, answered: bool, *, wanted: bool = True, ordered: bool = True) -> bool:
    """What a condition means (FHIR R4 enableWhen, as values.compare documents it), by hand: `relation`
    is how the answer stands to the condition's value (eq, lt, gt; ne for anything else: unanswered,
    another code, a partial date of other precision, a value of another type); codes, yes/no and texts
    have no order."""
    if operator == "exists":
        return answered == wanted
    if operator in values.ORDER_OPERATORS and not ordered:
        return False
    return {
        "=": relation == "eq",
        "!=": relation != "eq",
        "<": relation == "lt",
        ">": relation == "gt",
        "<=": relation in ("lt", "eq"),
        ">=": relation in ("gt", "eq"),
    }[operator]


@dataclass
class Answer:
    label: str
    steps: list[tuple[str, str]]
    answered: bool | None  # None: depends on the browser (keyboard typing); agreement only
    relations: dict[str, str] = field(default_factory=dict)  # value group -> eq / lt / gt (default ne)


@dataclass
class Grid:
    """One answer type: question "x", one follower per operator and per way of writing the value."""

    label: str
    question: dict
    groups: dict[str, list[tuple[str, Any]]]  # value group -> [(answer[x] key, value)]
    answers: list[Answer]

    def followers(self) -> list[tuple[dict, str, str]]:
        out = []
        for name, written in self.groups.items():
            for j, (key, value) in enumerate(written):
                for operator, op_name in OP_NAMES.items():
                    out.append((display(f"{op_name}.{name}{j}", when("x", operator, key, value)), operator, name))
        for wanted in (True, False):
            out.append(
                (
                    display(f"exists.{str(wanted).lower()}", when("x", "exists", "answerBoolean", wanted)),
                    "exists",
                    str(wanted),
                )
            )
        return out

    def cases(self) -> list[Case]:
        followers = self.followers()
        definition = questionnaire([self.question, *(node for node, _op, _group in followers)])
        out = []
        for answer in self.answers:
            expect = None
            if answer.answered is not None:
                expect = ["x"] + [
                    node["linkId"]
                    for node, operator, name in followers
                    if truth(
                        operator,
                        answer.relations.get(name, "ne"),
                        answer.answered,
                        wanted=name != "False",
                        ordered=values.kind_of(self.question) in values.ORDERED_TYPES,
                    )
                ]
            out.append(
                Case(
                    f"{self.label}: {answer.label}",
                    definition,
                    [(verb, "x", value) for verb, value in answer.steps],
                    expect=expect,
                )
            )
        return out

    @property
    def conditions(self) -> int:
        return len(self.followers()) * len(self.answers)


def fills(*texts: str) -> list[tuple[str, str]]:
    return [("fill", t) for t in texts]


NO_ANSWER = Answer("unanswered", [], False)
GRIDS = [
    Grid(
        "single choice",
        item("x", T.SINGLE, options=["a", "A", "b"]),
        {
            "V": [
                ("answerCoding", {"code": "a"}),
                ("answerCoding", {"system": "urn:x", "code": "a", "display": "A"}),
                ("answerString", "a"),
            ],
            "caps": [("answerCoding", {"code": "A"})],
            "bad": [("answerCoding", {"display": "a"}), ("answerInteger", 1), ("answerBoolean", True)],
        },
        [
            Answer("a", [("check", "a")], True, {"V": "eq"}),
            Answer("A (only the case differs)", [("check", "A")], True, {"caps": "eq"}),
            Answer("a, then b", [("check", "a"), ("check", "b")], True),
            NO_ANSWER,
        ],
    ),
    Grid(
        "multiple choice",
        item("x", T.MULTIPLE, options=["a", "A", "b"]),
        {
            "V": [("answerCoding", {"code": "a"}), ("answerString", "a")],
            "caps": [("answerCoding", {"code": "A"})],
            "bad": [("answerCoding", {}), ("answerDecimal", 1.5)],
        },
        [
            Answer("a", [("check", "a")], True, {"V": "eq"}),
            Answer("a and b", [("check", "a"), ("check", "b")], True, {"V": "eq"}),
            Answer("A and b", [("check", "A"), ("check", "b")], True, {"caps": "eq"}),
            Answer("every option", [("check", "a"), ("check", "A"), ("check", "b")], True, {"V": "eq", "caps": "eq"}),
            Answer("a ticked then unticked", [("check", "a"), ("uncheck", "a")], False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "yes/no",
        item("x", T.YES_NO),
        {
            "yes": [("answerBoolean", True), ("answerString", "oui"), ("answerString", " TRUE "), ("answerInteger", 1)],
            "no": [("answerBoolean", False), ("answerString", "non"), ("answerDecimal", 0.0)],
            "bad": [("answerString", "maybe"), ("answerInteger", 2), ("answerCoding", {"code": "true"})],
        },
        [
            Answer("yes", [("check", "true")], True, {"yes": "eq"}),
            Answer("no", [("check", "false")], True, {"no": "eq"}),
            Answer("yes, then no", [("check", "true"), ("check", "false")], True, {"no": "eq"}),
            NO_ANSWER,
        ],
    ),
    Grid(
        "integer",
        item("x", T.INTEGER, low=0, high=100),
        {
            "V": [("answerInteger", 12), ("answerDecimal", 12.0), ("answerString", "12"), ("answerString", "12,0")],
            "half": [("answerDecimal", 12.5), ("answerString", "12,5")],
            "bad": [("answerString", "douze"), ("answerCoding", {"code": "12"}), ("answerBoolean", True)],
        },
        [
            Answer("12", fills("12"), True, {"V": "eq", "half": "lt"}),
            Answer("12 written otherwise", fills("\u00a0+012,0 "), True, {"V": "eq", "half": "lt"}),
            Answer("1\u202f2 (narrow no-break space)", fills("1\u202f2"), True, {"V": "eq", "half": "lt"}),
            Answer("13", fills("13"), True, {"V": "gt", "half": "gt"}),
            Answer("0", fills("0"), True, {"V": "lt", "half": "lt"}),
            Answer("-0", fills("-0"), True, {"V": "lt", "half": "lt"}),
            Answer("100", fills("100"), True, {"V": "gt", "half": "gt"}),
            Answer("101 (out of range)", fills("101"), False),
            Answer("-1 (out of range)", fills("-1"), False),
            Answer("12.5 (not whole)", fills("12.5"), False),
            Answer("letters", fills("abc"), False),
            Answer("1e1 (no exponents)", fills("1e1"), False),
            Answer("16 digits", fills("0000000000000000000012"), True, {"V": "eq", "half": "lt"}),
            Answer("12, then cleared", fills("12", ""), False),
            Answer("white space", fills("\u00a0 \u202f"), False),
            NO_ANSWER,
        ],
    ),
    # Values beyond a double (JSON integers of any length): compared as the largest double, and kept out
    # of Infinity, which JSON cannot carry to the script.
    Grid(
        "integer, beyond a double",
        item("x", T.INTEGER, low=-(10**400), high=10**400),
        {
            "huge": [("answerInteger", 10**400)],
            "big": [("answerInteger", 2**53 + 1)],
            "tiny": [("answerInteger", -(10**400))],
            "bad": [("answerString", "9" * 30)],
        },
        [
            Answer("12", fills("12"), True, {"huge": "lt", "big": "lt", "tiny": "gt"}),
            # The lowest whole number an answer can be (a FHIR integer: 32 bits); 15 digits are refused below.
            Answer("lowest whole number", fills("-2 147 483 648"), True, {"huge": "lt", "big": "lt", "tiny": "gt"}),
            Answer("15 digits", fills("1000000000000000"), False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "decimal",
        item("x", T.DECIMAL, low=0, high=300),
        {
            "V": [("answerDecimal", 71.5), ("answerString", "71,5"), ("answerString", "71.50")],
            "whole": [("answerInteger", 71)],
            "bad": [("answerString", "71,5 kg"), ("answerCoding", {"code": "71.5"})],
        },
        [
            Answer("71,5", fills("71,5"), True, {"V": "eq", "whole": "gt"}),
            Answer("71.5", fills("71.5"), True, {"V": "eq", "whole": "gt"}),
            Answer("71.50 with spaces", fills(" 7 1.50\u00a0"), True, {"V": "eq", "whole": "gt"}),
            Answer("71", fills("71"), True, {"V": "lt", "whole": "eq"}),
            Answer(",5", fills(",5"), True, {"V": "lt", "whole": "lt"}),
            Answer("300", fills("300"), True, {"V": "gt", "whole": "gt"}),
            Answer("300.01 (out of range)", fills("300.01"), False),
            Answer("1.2.3", fills("1.2.3"), False),
            Answer("1 250,5 (out of range)", fills("1 250,5"), False),
            Answer("letters", fills("abc"), False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "decimal, 0.1+0.2",
        item("x", T.DECIMAL),
        {
            "V": [("answerDecimal", 0.3), ("answerString", "0,3")],
            "sum": [("answerDecimal", 0.1 + 0.2)],
            # More digits than a double holds: compared as the double it stands for, like every answer.
            "long": [("answerString", "0.30000000000000000001"), ("answerString", "0.29999999999999999999")],
        },
        [
            Answer("0.3", fills("0.3"), True, {"V": "eq", "sum": "lt", "long": "eq"}),
            Answer("0,30", fills("0,30"), True, {"V": "eq", "sum": "lt", "long": "eq"}),
            Answer("0.30000000000000004", fills("0.30000000000000004"), True, {"V": "gt", "sum": "eq", "long": "gt"}),
            Answer(
                "0.299999999999999999 (a double: 0.3)",
                fills("0.299999999999999999"),
                True,
                {"V": "eq", "sum": "lt", "long": "eq"},
            ),
            Answer("0.1", fills("0.1"), True, {"V": "lt", "sum": "lt", "long": "lt"}),
            Answer("-0.3", fills("-0.3"), True, {"V": "lt", "sum": "lt", "long": "lt"}),
            NO_ANSWER,
        ],
    ),
    Grid(
        "NRS",
        item("x", T.NRS, low=0, high=10),
        {
            "V": [("answerInteger", 7), ("answerString", "7")],
            "half": [("answerDecimal", 6.5)],
            "bad": [("answerString", "sept")],
        },
        [
            Answer("7", [("check", "7")], True, {"V": "eq", "half": "gt"}),
            Answer("0", [("check", "0")], True, {"V": "lt", "half": "lt"}),
            Answer("10", [("check", "10")], True, {"V": "gt", "half": "gt"}),
            Answer("7, then 6", [("check", "7"), ("check", "6")], True, {"V": "lt", "half": "lt"}),
            NO_ANSWER,
        ],
    ),
    Grid(
        "VAS",
        item("x", T.VAS, low=0, high=100),
        {"V": [("answerInteger", 50), ("answerDecimal", 50.0)], "bad": [("answerString", "half")]},
        [
            Answer("slider at 50", [("slide", "50")], True, {"V": "eq"}),
            Answer("50 typed", fills("50"), True, {"V": "eq"}),
            Answer("slider at 20", [("slide", "20")], True, {"V": "lt"}),
            Answer("slider at 90, then 80 typed", [("slide", "90"), ("fill", "80")], True, {"V": "gt"}),
            Answer("slider moved, then its box cleared", [("slide", "80"), ("fill", "")], False),
            Answer("150 (out of range)", fills("150"), False),
            Answer("50,5 (not whole)", fills("50,5"), False),
            Answer("letters", fills("abc"), False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "date",
        item("x", T.DATE),
        {
            "V": [("answerDate", "2022-09-20"), ("answerString", "20/09/2022"), ("answerString", "20.09.2022")],
            "month": [("answerDate", "2022-09")],
            "year": [("answerDate", "2022")],
            "bad": [("answerDate", "2022-13"), ("answerString", "20220920"), ("answerInteger", 2022)],
        },
        [
            Answer("2022-09-20", fills("2022-09-20"), True, {"V": "eq"}),
            Answer("2022-09-01", fills("2022-09-01"), True, {"V": "lt"}),
            Answer("2022-10-01", fills("2022-10-01"), True, {"V": "gt", "month": "gt"}),
            Answer("2021-12-31", fills("2021-12-31"), True, {"V": "lt", "month": "lt", "year": "lt"}),
            Answer("2024-02-29 (leap day)", fills("2024-02-29"), True, {"V": "gt", "month": "gt", "year": "gt"}),
            Answer("2024-02-31 (sanitized away)", fills("2024-02-31"), False),
            Answer("31/02/2024 as text (sanitized away)", fills("31/02/2024"), False),
            Answer("31/02/2024 on the keyboard", [("type", "31022024")], None),
            Answer("20/09/2022 on the keyboard", [("type", "20092022")], None),
            Answer("2022-09-20, then cleared", fills("2022-09-20", ""), False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "time",
        item("x", T.TIME),
        {
            "V": [("answerTime", "14:30"), ("answerTime", "14:30:00"), ("answerString", "14h30")],
            "bad": [("answerTime", "25:00"), ("answerTime", "14:30:00.5"), ("answerInteger", 1430)],
        },
        [
            Answer("14:30", fills("14:30"), True, {"V": "eq"}),
            Answer("14:30:00", fills("14:30:00"), True, {"V": "eq"}),
            Answer("09:05", fills("09:05"), True, {"V": "lt"}),
            Answer("14:30:01", fills("14:30:01"), True, {"V": "gt"}),
            Answer("23:59:59", fills("23:59:59"), True, {"V": "gt"}),
            Answer("14:30:15.5 (the server reads no fractions)", fills("14:30:15.5"), False),
            Answer("25:00 (sanitized away)", fills("25:00"), False),
            Answer("1430 on the keyboard", [("type", "1430")], None),
            NO_ANSWER,
        ],
    ),
    Grid(
        "short text",
        item("x", T.SHORT_TEXT, maxLength=12),
        {
            "V": [("answerString", "Oui")],
            "lower": [("answerString", "oui")],
            "spaced": [("answerString", " Oui")],
            "bad": [("answerInteger", 5), ("answerCoding", {"code": "Oui"}), ("answerBoolean", True)],
        },
        [
            Answer("Oui", fills("Oui"), True, {"V": "eq"}),
            Answer("oui", fills("oui"), True, {"lower": "eq"}),
            Answer("Oui between spaces", fills("\u00a0 Oui\u202f\t"), True, {"V": "eq"}),
            Answer("OUI", fills("OUI"), True),
            Answer("white space only", fills(" \u00a0\u3000"), False),
            Answer("13 characters (maxlength stops at 12)", fills("Oui oui oui !"), True),
            Answer("Oui, then cleared", fills("Oui", ""), False),
            NO_ANSWER,
        ],
    ),
    Grid(
        "long text",
        item("x", T.LONG_TEXT, maxLength=40),
        {
            "V": [("answerString", "line one\nline two")],
            "one": [("answerString", "line one")],
            "bad": [("answerDecimal", 1.0)],
        },
        [
            Answer("two lines", fills("line one\nline two"), True, {"V": "eq"}),
            Answer("two lines, CR LF", fills("line one\r\nline two"), True, {"V": "eq"}),
            Answer("two lines between spaces", fills("\n line one\nline two \u00a0\n"), True, {"V": "eq"}),
            Answer("one line", fills("line one"), True, {"one": "eq"}),
            Answer("é, emoji", fills("\u00e9t\u00e9 \U0001f600"), True),
            Answer("white space only", fills("\n\u202f\n"), False),
            NO_ANSWER,
        ],
    ),
]


def _structure_cases() -> list[Case]:
    cases: list[Case] = []

    # enableBehavior all / any, and a range made of two conditions on one question.
    both = questionnaire(
        [
            item("x", T.INTEGER),
            item("y", T.INTEGER),
            display("all", when("x", ">", "answerInteger", 5), when("y", ">", "answerInteger", 5), behavior="all"),
            display("any", when("x", ">", "answerInteger", 5), when("y", ">", "answerInteger", 5), behavior="any"),
            display("any-ne", when("x", "!=", "answerInteger", 5), when("y", "!=", "answerInteger", 5), behavior="any"),
            display("range", when("x", ">=", "answerInteger", 3), when("x", "<=", "answerInteger", 7)),
        ]
    )
    for x, y, expect in [
        ("7", "7", ["x", "y", "all", "any", "any-ne", "range"]),
        ("7", "", ["x", "y", "any", "any-ne", "range"]),
        ("", "7", ["x", "y", "any", "any-ne"]),
        ("", "", ["x", "y", "any-ne"]),
        ("5", "5", ["x", "y", "range"]),
        ("3", "abc", ["x", "y", "any-ne", "range"]),
        ("8", "9", ["x", "y", "all", "any", "any-ne"]),
    ]:
        cases.append(Case(f"any/all: x={x!r} y={y!r}", both, [("fill", "x", x), ("fill", "y", y)], expect=expect))

    # A chain: a -> b -> c. With b hidden, what follows b sees no answer, even the 3 still typed in b.
    chain = questionnaire(
        [
            item("a", T.YES_NO),
            conditional(item("b", T.INTEGER), when("a", "=", "answerBoolean", True)),
            display("c", when("b", "exists", "answerBoolean", True)),
            display("d", when("b", "!=", "answerInteger", 3)),
            display("e", when("b", "=", "answerInteger", 3)),
            display("f", when("c", "exists", "answerBoolean", False), when("e", "exists", "answerBoolean", False)),
            conditional(item("g", T.SHORT_TEXT), when("b", ">", "answerInteger", 1)),
            display("h", when("g", "=", "answerString", "go")),
        ]
    )
    for label, steps, expect in [
        ("nothing", [], ["a", "d", "f"]),
        ("a yes", [("check", "a", "true")], ["a", "b", "d", "f"]),
        ("a yes, b 3", [("check", "a", "true"), ("fill", "b", "3")], ["a", "b", "c", "e", "f", "g"]),
        (
            "a yes, b 4, g go",
            [("check", "a", "true"), ("fill", "b", "4"), ("fill", "g", "go")],
            ["a", "b", "c", "d", "f", "g", "h"],
        ),
        (
            "a yes, b 4, g go, then a no",
            [("check", "a", "true"), ("fill", "b", "4"), ("fill", "g", "go"), ("check", "a", "false")],
            ["a", "d", "f"],
        ),
        (
            "a yes, b 3, then b cleared",
            [("check", "a", "true"), ("fill", "b", "3"), ("fill", "b", "")],
            ["a", "b", "d", "f"],
        ),
        ("a yes, b invalid", [("check", "a", "true"), ("fill", "b", "3,5")], ["a", "b", "d", "f"]),
    ]:
        cases.append(Case(f"chain: {label}", chain, steps, expect=expect))

    # A group inside the page with its own condition: its title and children hide with it; a nested group
    # without a title; an item after the group reading a question inside it.
    grouped = questionnaire(
        [
            item("a", T.SINGLE, options=["y", "n"]),
            group(
                "g",
                [
                    item("g1", T.SHORT_TEXT),
                    item("g2", T.INTEGER),
                    group(
                        "h",
                        [display("h1"), item("h2", T.YES_NO)],
                        **{"enableWhen": [when("g2", ">", "answerInteger", 5)]},
                    ),
                ],
                text="About it",
                enableWhen=[when("a", "=", "answerCoding", {"code": "y"})],
            ),
            display("z", when("g2", "exists", "answerBoolean", True)),
            display(
                "w",
                when("h2", "=", "answerBoolean", True),
                when("a", "=", "answerCoding", {"code": "n"}),
                behavior="any",
            ),
        ]
    )
    for label, steps, expect in [
        ("nothing", [], ["a"]),
        ("a y", [("check", "a", "y")], ["a", "g", "g1", "g2"]),
        ("a y, g2 7", [("check", "a", "y"), ("fill", "g2", "7")], ["a", "g", "g1", "g2", "h1", "h2", "z"]),
        (
            "a y, g2 7, h2 yes",
            [("check", "a", "y"), ("fill", "g2", "7"), ("check", "h2", "true")],
            ["a", "g", "g1", "g2", "h1", "h2", "z", "w"],
        ),
        (
            "a y, g2 7, h2 yes, g2 2",
            [("check", "a", "y"), ("fill", "g2", "7"), ("check", "h2", "true"), ("fill", "g2", "2")],
            ["a", "g", "g1", "g2", "z"],
        ),
        (
            "a y, g2 7, h2 yes, then a n",
            [("check", "a", "y"), ("fill", "g2", "7"), ("check", "h2", "true"), ("check", "a", "n")],
            ["a", "w"],
        ),
    ]:
        cases.append(Case(f"group: {label}", grouped, steps, expect=expect))

    # Conditions on questions of an earlier page: resolved by the server, alone or with live ones.
    earlier = questionnaire(
        [
            item("p", T.INTEGER, low=0, high=10),
            item("s", T.YES_NO),
            conditional(item("hidden", T.INTEGER), when("s", "=", "answerBoolean", False)),
        ],
        [
            display("q", when("p", ">", "answerInteger", 5)),
            conditional(item("r", T.INTEGER), when("s", "=", "answerBoolean", True)),
            display("t", when("p", ">", "answerInteger", 5), when("r", "=", "answerInteger", 2), behavior="any"),
            display("u", when("p", "exists", "answerBoolean", True), when("r", "exists", "answerBoolean", True)),
            display("v", when("hidden", "!=", "answerInteger", 4)),
            display("v2", when("hidden", "exists", "answerBoolean", True)),
        ],
    )
    for stored, steps, expect in [
        ({"p": 7, "s": True}, [], ["q", "r", "t", "v"]),
        ({"p": 7, "s": True}, [("fill", "r", "2")], ["q", "r", "t", "u", "v"]),
        ({"p": 3, "s": True}, [("fill", "r", "2")], ["r", "t", "u", "v"]),
        ({"p": 3, "s": True}, [("fill", "r", "3")], ["r", "u", "v"]),
        ({}, [], ["v"]),
        ({"p": 9, "s": False, "hidden": 4}, [], ["q", "t", "v2"]),
        ({"p": 9, "s": False, "hidden": 5}, [], ["q", "t", "v", "v2"]),
        # Stored before s changed (never pruned): a hidden question counts as unanswered.
        ({"p": 9, "s": True, "hidden": 4}, [("fill", "r", "1")], ["q", "r", "t", "u", "v"]),
    ]:
        cases.append(
            Case(f"earlier page: {stored} then {steps}", earlier, steps, earlier=stored, page=1, expect=expect)
        )

    # A question with nested items (they hide with it), a condition on a later question (never holds).
    nested = questionnaire(
        [
            item("w", T.SINGLE, options=["go", "stop"]),
            display("before", when("x", "exists", "answerBoolean", True)),
            conditional(
                item("x", T.INTEGER, item=[display("y", when("x", ">", "answerInteger", 5)), item("z", T.SHORT_TEXT)]),
                when("w", "=", "answerCoding", {"code": "go"}),
            ),
            display("after", when("z", "=", "answerString", "ok")),
        ]
    )
    for label, steps, expect in [
        ("go, 7, ok", [("check", "w", "go"), ("fill", "x", "7"), ("fill", "z", "ok")], ["w", "x", "y", "z", "after"]),
        ("go, 3", [("check", "w", "go"), ("fill", "x", "3")], ["w", "x", "z"]),
        (
            "go, 7, ok, stop",
            [("check", "w", "go"), ("fill", "x", "7"), ("fill", "z", "ok"), ("check", "w", "stop")],
            ["w"],
        ),
    ]:
        cases.append(Case(f"nested items: {label}", nested, steps, expect=expect))

    # Answers stored for this page are prefilled: the first view already agrees, then the patient changes them.
    prefilled = questionnaire(
        [
            item("m", T.MULTIPLE, options=["a", "b"]),
            item("n", T.DECIMAL),
            item("d", T.DATE),
            item("k", T.TIME),
            display("m-b", when("m", "=", "answerCoding", {"code": "b"})),
            display("n-big", when("n", ">=", "answerDecimal", 71.5)),
            display("d-sept", when("d", "=", "answerDate", "2022-09-20")),
            display("k-late", when("k", ">", "answerTime", "12:00")),
        ]
    )
    answers = {"m": ["a", "b"], "n": 71.5, "d": "2022-09-20", "k": "14:30:15"}
    for label, steps, expect in [
        ("as stored", [], ["m", "n", "d", "k", "m-b", "n-big", "d-sept", "k-late"]),
        (
            "changed",
            [("uncheck", "m", "b"), ("fill", "n", "71,4"), ("fill", "d", "2022-09-21"), ("fill", "k", "11:00")],
            ["m", "n", "d", "k"],
        ),
        (
            "made invalid",
            [("fill", "n", "7l,5"), ("fill", "d", "2022-02-30"), ("fill", "k", "")],
            ["m", "n", "d", "k", "m-b"],
        ),
    ]:
        cases.append(Case(f"prefilled: {label}", prefilled, steps, stored=answers, expect=expect))

    # FHIRPath (surveys/questionnaires/expressions.py), which the script cannot evaluate: a calculated total,
    # an item shown by an enableWhenExpression on it, a question whose enableWhen tests the total and one
    # testing that question are decided by the server; the script leaves them as rendered for the answers
    # saved, and only "e" (a = 1) is its own.
    def answer(link: str) -> str:
        return f"%resource.descendants().where(linkId='{link}').answer.value"

    total = item("total", T.INTEGER, text="Total")
    total["extension"].append(
        {
            "url": expressions.EXT_CALCULATED,
            "valueExpression": {
                "language": "text/fhirpath",
                "expression": f"iif({answer('a')}.exists(), {answer('a')}, 0) + iif({answer('b')}.exists(), {answer('b')}, 0)",
            },
        }
    )
    big = display("big")
    big["extension"].append(
        {
            "url": expressions.EXT_ENABLE_WHEN_EXPRESSION,
            "valueExpression": {"language": "text/fhirpath", "expression": f"{answer('total')} > 5"},
        }
    )
    computed = questionnaire(
        [
            item("a", T.INTEGER),
            item("b", T.INTEGER),
            total,
            big,
            conditional(item("c", T.SHORT_TEXT), when("total", ">", "answerInteger", 5)),
            display("d", when("c", "exists", "answerBoolean", True)),
            display("e", when("a", "=", "answerInteger", 1)),
        ]
    )
    assert expressions.expression_problems(computed) == []
    for label, stored, steps, expect, after in [
        ("nothing", {}, [], ["a", "b", "total"], ["a", "b", "total"]),
        # The server shows c and big once it reads 3 + 4; c is a question: the page comes back with it.
        (
            "3 + 4 typed",
            {},
            [("fill", "a", "3"), ("fill", "b", "4")],
            ["a", "b", "total"],
            ["a", "b", "total", "big", "c"],
        ),
        # Rendered for 3 + 4 saved; a changed to 1 makes 5: the server hides big and c (c's answer is dropped).
        (
            "3 + 4 saved, a changed to 1",
            {"a": 3, "b": 4},
            [("fill", "a", "1")],
            ["a", "b", "total", "big", "c", "e"],
            ["a", "b", "total", "e"],
        ),
        ("3 + 4 and c saved", {"a": 3, "b": 4, "c": "x"}, [], ["a", "b", "total", "big", "c", "d"], None),
        (
            "3 + 4 and c saved, c cleared",
            {"a": 3, "b": 4, "c": "x"},
            [("fill", "c", "")],
            ["a", "b", "total", "big", "c", "d"],
            ["a", "b", "total", "big", "c"],
        ),
    ]:
        cases.append(
            Case(f"decided by the server: {label}", computed, steps, stored=stored, expect=expect, after=after)
        )
    return cases


TABLE: list[Case] = [case for grid in GRIDS for case in grid.cases()] + _structure_cases()
STRUCTURE_CONDITIONS = sum(
    len(node.get("enableWhen", [])) for case in _structure_cases() for node in fhir.iter_items(case.definition["item"])
)


def test_table_size():
    """The counts the module docstring gives."""
    grid_cases = sum(len(grid.answers) for grid in GRIDS)
    assert (len(TABLE), grid_cases, len(TABLE) - grid_cases) == (140, 101, 39)
    assert sum(grid.conditions for grid in GRIDS) + STRUCTURE_CONDITIONS == 4157


@pytest.mark.parametrize("case", TABLE, ids=str)
def test_server_and_browser_show_the_same_items(tab, case):
    run_case(tab, case)


# --- 2. generated questionnaires and patients --------------------------------------------------------
# Answers and conditions' values draw on the same small pools (so that conditions often hold, and flip
# as the patient goes), written in many ways, with wild values mixed in.

ASKED = [T.SINGLE, T.MULTIPLE, T.YES_NO, T.INTEGER, T.DECIMAL, T.NRS, T.VAS, T.DATE, T.TIME, T.SHORT_TEXT, T.LONG_TEXT]
CODES = ["a", "A", "b", "B", "1", "01", "oui", "x y", "\u00e9"]
SPACES = ["", "", " ", "\u00a0", "\u202f", "\t", "\u3000", "\u2009"]
NUMBERS = ["0", "3", "5", "7", "12", "50", "71.5", "100", "0.3", "0.1", "0.30000000000000004", "-1", "300", "6.5"]
WILD_NUMBERS = [
    "abc",
    "1e3",
    "1.2.3",
    "",
    " ",
    "\u00a0",
    "\u202f",
    ",",
    "-",
    "+",
    ".5",
    "5.",
    "\u0663",
    "\uff11\uff12",
    "0x10",
    "NaN",
    "Infinity",
    "--1",
    "1-",
    "12 kg",
    "\u00bd",
    "1,250.5",
    "0" * 20 + "7",
    "1" * 16,
    "123456789012345",
    "0.30000000000000000001",
    "9" * 400,
]
DATES = ["2022-09-20", "2022-09-01", "2022-08-31", "2022-10-01", "2021-12-31", "2024-02-29"]
WILD_DATES = [
    "2023-02-29",
    "2024-02-31",
    "31/12/2022",
    "20/09/2022",
    "abc",
    "",
    "0000-01-01",
    "9999-12-31",
    "2022-9-20",
    "275760-09-13",
]
TIMES = ["14:30", "14:30:00", "09:05", "12:00", "23:59:59", "00:00", "14:30:01"]
WILD_TIMES = ["25:00", "14:30:15.5", "", "1430", "14h30", "24:00", "9:05"]
TEXTS = ["Oui", "oui", "go", "ok", "line one\nline two", "12", "a"]
WILD_TEXTS = [
    "",
    " Oui",
    "Oui\u00a0",
    "\u202fgo\t",
    "OUI",
    "\u00a0",
    "\n",
    "Oui\u200b",
    "\U0001f600",
    "\u00e9t\u00e9",
    "tr\u00e8s long texte ici",
]


@st.composite
def number_texts(draw) -> str:
    """What a patient types in a number box: the pool's numbers as people write them, or anything."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from(WILD_NUMBERS) | st.text("0123456789.,-+ \u00a0e", max_size=6))
    text = draw(st.sampled_from(NUMBERS))
    if draw(st.booleans()):
        text = text.replace(".", ",")
    if draw(st.integers(0, 3)) == 0:
        text = ("+" + text) if not text.startswith("-") else text
    if draw(st.integers(0, 4)) == 0:
        text = "00" + text.lstrip("-")
    if draw(st.integers(0, 4)) == 0:
        text += (
            draw(st.sampled_from([".0", ",00", ".", "0" * 18 + "1"]))
            if "." not in text and "," not in text
            else draw(st.sampled_from(["0", "000000000000000000001"]))
        )
    if len(text) > 1 and draw(st.integers(0, 3)) == 0:
        cut = draw(st.integers(1, len(text) - 1))
        text = text[:cut] + draw(st.sampled_from(SPACES[2:])) + text[cut:]
    return draw(st.sampled_from(SPACES)) + text + draw(st.sampled_from(SPACES))


def pooled(pool: list[str], wild: list[str], extra: st.SearchStrategy | None = None) -> st.SearchStrategy:
    strategies = [st.sampled_from(pool), st.sampled_from(pool), st.sampled_from(wild)]
    return st.one_of(*strategies, *([extra] if extra is not None else []))


date_texts = pooled(DATES, WILD_DATES, st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat))
time_texts = pooled(TIMES, WILD_TIMES, st.times().map(lambda t: t.strftime("%H:%M:%S" if t.second else "%H:%M")))
plain_texts = pooled(
    TEXTS,
    WILD_TEXTS,
    st.text(
        st.sampled_from(["O", "u", "i", " ", "\u00a0", "\u202f", "\n", "\t", "\u00e9", "\U0001f600", "1"]), max_size=10
    ),
)


def expected_values(kind: str | None, codes: list[str]) -> st.SearchStrategy:
    """(answer[x] key, value) of a condition on an item of `kind`: its own FHIR type mostly, any type sometimes."""
    by_kind = {
        "code": st.tuples(st.just("answerCoding"), st.sampled_from(codes or CODES).map(lambda c: {"code": c}))
        | st.tuples(st.just("answerString"), st.sampled_from(codes or CODES))
        | st.tuples(st.just("answerCoding"), st.sampled_from([{}, {"code": ""}, {"display": "a"}, {"code": "zz"}])),
        "bool": st.tuples(st.just("answerBoolean"), st.booleans())
        | st.tuples(
            st.sampled_from(["answerString", "answerInteger", "answerDecimal"]),
            st.sampled_from(["oui", "non", "true", " FALSE", "1", "maybe", ""]) | st.sampled_from([0, 1, 2, 0.0]),
        ),
        "num": st.tuples(st.just("answerInteger"), st.sampled_from([0, 3, 5, 7, 12, 50, 100, -1, 2**53 + 1, 10**400]))
        | st.tuples(st.just("answerDecimal"), st.sampled_from([0.3, 0.1 + 0.2, 71.5, 12.0, -0.0, 6.5, 1e-7, 99.99]))
        | st.tuples(st.just("answerString"), number_texts()),
        "date": st.tuples(
            st.sampled_from(["answerDate", "answerDate", "answerString"]),
            date_texts | st.sampled_from(["2022-09", "2022", "2022-13", "2022-02-30", "20.09.2022"]),
        ),
        "time": st.tuples(st.sampled_from(["answerTime", "answerTime", "answerString"]), time_texts),
        "text": st.tuples(st.just("answerString"), plain_texts)
        | st.tuples(st.sampled_from(["answerInteger", "answerCoding"]), st.sampled_from([5, {"code": "Oui"}])),
    }
    own = by_kind[values.browser_kind(kind)] if kind and kind != T.DISPLAY else by_kind["text"]
    return st.one_of(*[own] * 30, *by_kind.values())


@dataclass
class Generated:
    definition: dict
    earlier: dict
    stored: dict
    steps: list[tuple[str, str, str]]


def _action(draw, node: dict, hints: list[str] = ()) -> tuple[str, str] | None:
    """One patient action on `node`: (verb, value); half the time, when conditions test `node`, the text of
    a value they test (`hints`), so that they flip."""
    kind = values.kind_of(node)
    hinted = [h for h in hints if isinstance(h, str)]
    if kind in (T.SINGLE, T.YES_NO, T.NRS, T.MULTIPLE):
        low, high = values.bounds(node)
        choices = values.option_codes(node) if kind != T.NRS else [str(n) for n in range(int(low), int(high) + 1)]
        if not choices:
            return None
        likely = [c for c in choices if c in hinted]
        code = draw(st.sampled_from(likely)) if likely and draw(st.booleans()) else draw(st.sampled_from(choices))
        return (draw(st.sampled_from(["check", "check", "uncheck"])) if kind == T.MULTIPLE else "check"), code
    if hinted and draw(st.booleans()):
        return "fill", draw(st.sampled_from(hinted))
    if kind == T.VAS and draw(st.integers(0, 2)) == 0:
        return "slide", str(draw(st.sampled_from([0, 3, 5, 7, 12, 50, 100]) | st.integers(0, 100)))
    if kind in values.NUMBER_TYPES:
        return "fill", draw(number_texts())
    if kind == T.DATE:
        return "fill", draw(date_texts)
    if kind == T.TIME:
        return "fill", draw(time_texts)
    return "fill", draw(plain_texts)


def _stored(draw, node: dict, hints: list[str]) -> Any:
    """An answer as stored, or None: what the server kept of something once typed."""
    kind = values.kind_of(node)
    if kind == T.MULTIPLE:
        codes = values.option_codes(node)
        raw = draw(st.lists(st.sampled_from(codes), max_size=len(codes))) if codes else []
    else:
        action = _action(draw, node, hints)
        raw = [action[1]] if action else []
    value, error = values.parse(node, raw)
    return None if error else value


def _new_item(draw, link: str) -> dict:
    kind = draw(st.sampled_from([*ASKED, *ASKED, T.DISPLAY]))
    extra: dict[str, Any] = {}
    if kind in values.CHOICE_TYPES:
        extra["options"] = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=3, unique=True))
    if kind in (T.INTEGER, T.DECIMAL) and draw(st.booleans()):
        extra["low"], extra["high"] = draw(
            st.sampled_from(
                [(0, 10), (0, 100), (1, 300), (-10, 10)]
                + ([(0.5, 99.5), (0.1 + 0.2, 71.5)] if kind == T.DECIMAL else [])
            )
        )
    if kind == T.NRS and draw(st.booleans()):
        extra["low"], extra["high"] = draw(st.sampled_from([(0, 5), (1, 7), (0, 10)]))
    if kind in values.TEXT_TYPES and draw(st.booleans()):
        extra["maxLength"] = draw(st.integers(1, 8))
    return item(link, kind, **extra)


def _hint(value: Any) -> str | None:
    """The text a patient would give for a condition's value."""
    if isinstance(value, dict):
        return value.get("code")
    if isinstance(value, bool):
        return values.YES if value else values.NO
    if isinstance(value, int | float):
        return (
            values.plain(values.as_double(values.to_decimal(value))) if values.to_decimal(value) is not None else None
        )
    return value if isinstance(value, str) else None


def _conditions(draw, live: list[dict], resolved: list[dict], later: list[str], hints: dict) -> list[dict]:
    """0-2 conditions: mostly on a question earlier on the page, else on the earlier page, a later item,
    an unknown linkId."""
    out = []
    for _ in range(draw(st.sampled_from([1, 0, 1, 2, 0, 1, 2]))):
        pick = draw(st.integers(0, 19))
        pool = (
            live
            if pick < 15
            else [n for n in resolved if values.kind_of(n) in values.QUESTION_TYPES]
            if pick < 19
            else []
        )
        if not pool and pick < 19:
            continue
        if not pool:
            target, kind, codes = draw(st.sampled_from([*later, "nowhere"])), None, []
        else:
            node = draw(st.sampled_from(pool))
            target, kind, codes = node["linkId"], values.kind_of(node), values.option_codes(node)
        operator = draw(st.sampled_from([*values.OPERATORS, "=", "!=", "exists"]))
        if operator == "exists":
            key, value = draw(
                st.tuples(st.just("answerBoolean"), st.booleans())
                | st.tuples(st.just("answerString"), st.sampled_from(["false", "non", "?"]))
            )
        else:
            key, value = draw(expected_values(kind, codes))
            hints.setdefault(target, []).append(_hint(value))
        out.append(when(target, operator, key, value))
    return out


def _with_conditions(draw, node: dict, live: list[dict], resolved: list[dict], later: list[str], hints: dict) -> dict:
    conds = _conditions(draw, live, resolved, later, hints)
    return conditional(node, *conds, behavior=draw(st.sampled_from(["all", "any", None])) if len(conds) > 1 else None)


@st.composite
def generated(draw) -> Generated:
    first = [_new_item(draw, f"e{i}") for i in range(draw(st.integers(0, 3)))]
    kinds = [_new_item(draw, f"q{i}") for i in range(draw(st.integers(2, 6)))]
    links = [n["linkId"] for n in kinds]
    hints: dict[str, list] = {}
    for i, node in enumerate(first):
        _with_conditions(
            draw, node, [n for n in first[:i] if values.kind_of(n) in values.QUESTION_TYPES], [], [], hints
        )
    # An optional group over a slice of the page, with or without a title and a condition.
    span = None
    if draw(st.integers(0, 2)) == 0:
        start = draw(st.integers(0, len(kinds) - 1))
        span = (start, draw(st.integers(start + 1, len(kinds))))
    page: list[dict] = []
    inside: list[dict] = []
    live: list[dict] = []
    for i, node in enumerate(kinds):
        if span and i == span[0]:
            grp = group("g", inside, text=draw(st.sampled_from(["About it", None])))
            _with_conditions(draw, grp, live, first, links[i:], hints)
            page.append(grp)
        _with_conditions(draw, node, live, first, links[i + 1 :], hints)
        (inside if span and span[0] <= i < span[1] else page).append(node)
        if values.kind_of(node) in values.QUESTION_TYPES:
            live.append(node)
    definition = questionnaire(first, page) if first else questionnaire(page)
    stored = {
        n["linkId"]: _stored(draw, n, hints.get(n["linkId"], []))
        for n in first + kinds
        if values.kind_of(n) in values.QUESTION_TYPES and draw(st.integers(0, 3 if n in first else 1)) > 0
    }
    stored = conditions.prune_answers(definition, stored)
    asked = [n for n in kinds if values.kind_of(n) in values.QUESTION_TYPES]
    # The patient goes down the page (so that what an answer reveals can be answered), then comes back.
    steps = [
        (node["linkId"], _action(draw, node, hints.get(node["linkId"], [])))
        for node in asked
        if draw(st.integers(0, 4)) < 4
    ]
    for _ in range(draw(st.integers(0, 3)) if asked else 0):
        node = draw(st.sampled_from(asked))
        steps.append((node["linkId"], _action(draw, node, hints.get(node["linkId"], []))))
    first_links = {n["linkId"] for n in first}
    return Generated(
        definition,
        {k: v for k, v in stored.items() if k in first_links},
        {k: v for k, v in stored.items() if k not in first_links},
        [(action[0], link, action[1]) for link, action in steps if action],
    )


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(generated())
def test_generated_questionnaires_and_answers_agree(tab, example):
    pages = rendering.build_pages(example.definition, "en")
    index = len(pages) - 1
    case = Case(
        f"generated: {json.dumps(example.definition, ensure_ascii=False)} stored {example.stored} "
        f"earlier {example.earlier} steps {example.steps}",
        example.definition,
        example.steps,
        earlier=example.earlier,
        stored=example.stored,
        page=index,
    )
    html, before, after, acted = run_case(tab, case)
    event(f"live conditions on the page: {min(html.count('data-when='), 3)}+")
    event(f"actions that reached a question: {min(acted, 4)}+")
    event("the patient changed what is shown" if before["visible"] != after["visible"] else "what is shown stayed")
    hidden = html.count("data-link=") - len(after["visible"])
    event(f"boxes hidden at the end: {min(hidden, 3)}+")
