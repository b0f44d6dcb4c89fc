"""A saved answer survives its page: what the form shows for a stored value is what it posts back.

Unit level, for every item type: `values.parse(node, values.form_values(node, v)) == (v, "")`, for
generated stored values and for values parsed from strings as patients type them (Unicode spaces,
"71,5", signs, grouped digits, CRLF line breaks, NUL characters). Compared as JSON: 0.0 and -0.0,
1 and 1.0, True and 1 are equal in Python, not in Response.answers.

Page level: answers saved into a Response (submit.response_save_page, or the real POST of each page
with typed strings), the page fetched again the three ways a patient comes back to it (Previous,
the review page's "Change the answers on page N" links, resume without ?p= from another browser),
its form read as a browser submits it (`browser_form`: checked radios and boxes, input values after
the browser's value sanitization, textarea text without the newline the HTML parser drops, hidden
inputs, the pressed button; CRLF line breaks and urlencoded as a browser does), posted back: the
page goes on without an error and Response.answers is the same JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from urllib.parse import urlencode, urljoin

import lxml.html
import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from surveys.answering import rendering, submit
from surveys.answering.links import assignment_link_token
from surveys.models import Response
from surveys.questionnaires import conditions, fhir, values
from surveys.questionnaires.publish import questionnaire_publish
from tests.factories import YES_NO_SOMETIMES

T = values.T
UNIT_EXAMPLES = 100
PAGE_EXAMPLES = 50
PROPERTY = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# A page-level example takes a dozen requests: a failure is reported as drawn, not shrunk (shrinking
# would take minutes); the unit-level property of the same type gives the smallest value.
PAGE_PROPERTY = dict(PROPERTY, max_examples=PAGE_EXAMPLES, phases=[Phase.explicit, Phase.generate])

# --- the questionnaire -----------------------------------------------------------------------------

# linkId -> type, on three pages; "cigs" shows only when smoker = yes (same page, so its box is in
# the form either way). Two integers and two decimals: with and without bounds (15 digits).
PAGES = {
    "p1": {"mood": T.SINGLE, "help": T.MULTIPLE, "smoker": T.YES_NO, "cigs": T.INTEGER},
    "p2": {"count": T.INTEGER, "weight": T.DECIMAL, "temp": T.DECIMAL, "pain": T.NRS, "health": T.VAS},
    "p3": {"visit": T.DATE, "woke": T.TIME, "drug": T.SHORT_TEXT, "notes": T.LONG_TEXT},
}
ITEMS = {link_id: kind for page in PAGES.values() for link_id, kind in page.items()}


def round_trip_version(make):
    """Every item type over three pages, published: the definition patients get."""
    q = make.questionnaire()
    sections = {code: make.section(questionnaire=q, link_id=code, order=n) for n, code in enumerate(PAGES, start=1)}
    options = {
        "mood": [*YES_NO_SOMETIMES, ("-1", "Ne sait pas", "Don't know", None)],
        "help": [
            ("fam", "Famille", "Family", None),
            ("gp", "Médecin", "Doctor", None),
            ("none", "Personne", "Nobody", None),
        ],
    }
    extra = {
        "cigs": {"min_value": 0, "max_value": 100},
        "temp": {"min_value": Decimal("34.5"), "max_value": Decimal("42.5")},
        "pain": {"min_value": 0, "max_value": 10},
        "health": {"min_value": 0, "max_value": 100},
        "drug": {"max_length": 80},
        "notes": {"max_length": 500},
    }
    for code, page in PAGES.items():
        for link_id, kind in page.items():
            row = make.item(
                questionnaire=q,
                link_id=link_id,
                type=kind,
                section=sections[code],
                options=options.get(link_id),
                text_en=f"Question {link_id}",
                **extra.get(link_id, {}),
            )
            if link_id == "cigs":
                make.condition(item=row, question="smoker", operator="=", answer="true")
    return questionnaire_publish(questionnaire=q, by=None)


@pytest.fixture
def version(make):
    return round_trip_version(make)


@pytest.fixture
def nodes(version) -> dict[str, dict]:
    return fhir.items_by_link(version.definition)


def as_json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --- strategies: stored values ----------------------------------------------------------------------

LIMIT = 10**values.MAX_DIGITS  # numbers have at most 15 digits before the point
SPACE_CHARS = values.SPACES
# Any character a page can carry: no lone surrogates (no UTF-8 request or page holds one).
ANY_CHAR = st.characters(exclude_categories=("Cs",))


def _text_limit(node: dict) -> int:
    return node.get("maxLength") or 200


def stored_text(node: dict) -> st.SearchStrategy[str]:
    """A stored text: trimmed, no NUL, no CR; a short text holds no line break at all."""
    forbidden = "\x00\r" + ("\n" if values.kind_of(node) == T.SHORT_TEXT else "")
    chars = st.characters(exclude_categories=("Cs",), exclude_characters=forbidden)
    lines = st.sampled_from(["\n", "\n\n", " \n", "\u00a0"]) if values.kind_of(node) == T.LONG_TEXT else st.just(" ")
    pieces = st.lists(st.one_of(st.text(chars, min_size=1, max_size=12), lines), min_size=1, max_size=16)
    return pieces.map(lambda parts: "".join(parts).strip(SPACE_CHARS)).filter(
        lambda text: 0 < len(text) <= _text_limit(node)
    )


def _time_text(t: dt.time) -> str:
    return f"{t.hour:02d}:{t.minute:02d}" + (f":{t.second:02d}" if t.second else "")


def _number_range(node: dict) -> tuple[Decimal, Decimal]:
    low, high = values.accepted_range(node)
    return (low if low is not None else Decimal(-LIMIT), high if high is not None else Decimal(LIMIT))


def stored_value(node: dict) -> st.SearchStrategy:
    kind = values.kind_of(node)
    codes = values.option_codes(node)
    if kind == T.SINGLE:
        return st.sampled_from(codes)
    if kind == T.MULTIPLE:
        return st.sets(st.sampled_from(codes), min_size=1).map(lambda picked: [c for c in codes if c in picked])
    if kind == T.YES_NO:
        return st.booleans()
    low, high = _number_range(node)
    if kind in values.WHOLE_NUMBER_TYPES:
        return st.integers(min_value=max(int(low), -LIMIT + 1), max_value=min(int(high), LIMIT - 1))
    if kind == T.DECIMAL:
        # Any double under 10**15 in size; -0.0 is not a stored form (it is written 0).
        return st.floats(
            min_value=float(low),
            max_value=float(high),
            allow_nan=False,
            allow_infinity=False,
            exclude_min=low == -LIMIT,
            exclude_max=high == LIMIT,
        ).filter(lambda x: low <= Decimal(str(x)) <= high and math.copysign(1, x) > 0)
    if kind == T.DATE:
        return st.dates(*values.date_range(node)).map(dt.date.isoformat)
    if kind == T.TIME:
        return st.times().map(_time_text)
    return stored_text(node)


# --- strategies: what patients type -----------------------------------------------------------------

PADDING = st.text(st.sampled_from(SPACE_CHARS + "\x00"), max_size=3)
NUMBER_SPACES = st.sampled_from(" \u00a0\u202f\u2009")


@st.composite
def _padded(draw, text: str) -> str:
    """Unicode spaces and NUL characters around, and a NUL anywhere inside (what clean_text removes)."""
    if text and draw(st.booleans()):
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + "\x00" + text[cut:]
    return draw(PADDING) + text + draw(PADDING)


@st.composite
def _digits(draw, number: int) -> str:
    """An integer's digits as typed: maybe leading zeros, maybe spaces between groups of three."""
    text = str(number)
    if draw(st.booleans()):
        groups = []
        while text:
            groups.insert(0, text[-3:])
            text = text[:-3]
        text = draw(NUMBER_SPACES).join(groups)
    return draw(st.sampled_from(["", "", "0", "00"])) + text


@st.composite
def typed_number(draw, node: dict) -> str:
    kind = values.kind_of(node)
    low, high = _number_range(node)
    top = min(max(abs(low), abs(high)), Decimal(LIMIT - 1))
    if low < 0 < high:
        top = min(top, high, -low)  # a whole number's range is one wider below zero than above
    # Biased to the edges: the largest whole part, fractions of nines (which round up to the next whole).
    whole = draw(st.integers(min_value=int(low) if low > 0 else 0, max_value=int(top)) | st.just(int(top)))
    negative = (low < 0 or whole == 0) and draw(st.booleans())  # "-0" too
    if kind in values.WHOLE_NUMBER_TYPES:
        fraction = draw(st.text("0", max_size=3))
    else:
        fraction = draw(st.text("0123456789", max_size=20) | st.text("9", min_size=1, max_size=20))
    digits = "" if whole == 0 and fraction and draw(st.booleans()) else draw(_digits(whole))  # ".5"
    sign = "-" if negative else draw(st.sampled_from(["", "", "+"]))
    point = draw(st.sampled_from(".,")) if fraction or draw(st.booleans()) else ""  # "12." too
    return draw(_padded(f"{sign}{digits}{point}{fraction}"))


@st.composite
def typed_date(draw) -> str:
    day = draw(st.dates(*values.DATE_RANGE))  # the items of this questionnaire keep the default range
    if draw(st.booleans()):
        text = day.isoformat()
    else:
        d = f"{day.day:02d}" if draw(st.booleans()) else str(day.day)
        m = f"{day.month:02d}" if draw(st.booleans()) else str(day.month)
        seps = draw(st.lists(st.sampled_from("/.-"), min_size=2, max_size=2))
        text = f"{d}{seps[0]}{m}{seps[1]}{day.year:04d}"
    return draw(_padded(text))


@st.composite
def typed_time(draw) -> str:
    t = draw(st.times())
    hours = f"{t.hour:02d}" if t.hour >= 10 or draw(st.booleans()) else str(t.hour)
    seconds = f":{t.second:02d}" if t.second or draw(st.booleans()) else ""
    return draw(_padded(f"{hours}{draw(st.sampled_from(':hH'))}{t.minute:02d}{seconds}"))


def typed_text(node: dict) -> st.SearchStrategy[str]:
    breaks = st.sampled_from(["\r\n", "\n", "\r", "\r\n\r\n", "\x00", "\u00a0", "\u202f", "\t", "\ufeff", " "])
    pieces = st.lists(st.one_of(st.text(ANY_CHAR, max_size=12), breaks), max_size=14)
    return pieces.map("".join).filter(lambda text: len(text) <= _text_limit(node) + 10)


def typed_strings(node: dict) -> st.SearchStrategy[list[str]]:
    """The strings a page may post for one item (browser or not), parsed or refused by values.parse."""
    kind = values.kind_of(node)
    codes = values.option_codes(node)
    if kind == T.MULTIPLE:
        # Any order, repeated, with empty entries among them.
        return st.lists(st.one_of(st.sampled_from(codes).flatmap(_padded), PADDING), max_size=6)
    if kind in (T.SINGLE, T.YES_NO):
        return st.sampled_from(codes).flatmap(_padded).map(lambda text: [text])
    if kind in values.NUMBER_TYPES:
        text = typed_number(node)
    elif kind == T.DATE:
        text = typed_date()
    elif kind == T.TIME:
        text = typed_time()
    else:
        text = typed_text(node)
    return text.map(lambda t: [t])


# Strings at the edges, tried on every run.
TYPED_EXAMPLES = {
    "weight": [
        ["999999999999999.99"],
        ["-999999999999999,96"],
        ["-0"],
        ["-0,000"],
        ["71,5"],
        ["1\u202f250,5"],
        ["-.5"],
        ["+3."],
        ["\u00a0-0.000000000000000000001\x00 "],
    ],
    "count": [["999\u00a0999 999 999 999"], ["-0"], ["+12,000"]],
    "temp": [["34,5"], ["42.50"]],
    "drug": [["first line\r\nsecond"], ["a\rb\nc"], ["\x00 metformine \u202f"]],
    "notes": [["line one\r\nline two\r\n\r\nthree"], ["\r\n\r\n  text after blank lines\r\n"], ["a\x00b"]],
    "woke": [["7h05"], ["23:59:59"], ["00:00:00"]],
    "visit": [["1/2/0001"], ["31.12.9999"], ["2024-02-29"]],
    "mood": [["\u00a0-1\u3000"]],
    "help": [["none", "fam", "none", " "]],
}


# --- unit level ---------------------------------------------------------------------------------------


def _same(node: dict, value) -> None:
    shown = values.form_values(node, value)
    assert all(isinstance(s, str) for s in shown)
    again, error = values.parse(node, shown)
    assert error == "", (value, shown, error)
    assert as_json(again) == as_json(value), (value, shown, again)


@pytest.mark.parametrize("link_id", list(ITEMS), ids=[f"{kind}-{link}" for link, kind in ITEMS.items()])
def test_a_stored_value_comes_back_from_its_form_values(nodes, link_id):
    node = nodes[link_id]

    @settings(max_examples=UNIT_EXAMPLES, **PROPERTY)
    @given(stored_value(node))
    def check(value):
        _same(node, value)

    check()


@pytest.mark.parametrize("link_id", list(ITEMS), ids=[f"{kind}-{link}" for link, kind in ITEMS.items()])
def test_a_typed_value_comes_back_from_its_form_values(nodes, link_id):
    node = nodes[link_id]

    def body(raw):
        value, error = values.parse(node, raw)
        if error or value is None:
            return
        _same(node, value)

    check = given(typed_strings(node))(body)
    for raw in TYPED_EXAMPLES.get(link_id, []):
        check = example(raw)(check)
    settings(max_examples=UNIT_EXAMPLES, **PROPERTY)(check)()


def _parse_rate(node: dict) -> float:
    results: list[bool] = []

    @settings(max_examples=100, **PROPERTY)
    @given(typed_strings(node))
    def count(raw):
        value, error = values.parse(node, raw)
        results.append(not error and value is not None)

    count()
    return sum(results) / len(results)


@pytest.mark.parametrize("link_id", list(ITEMS))
def test_the_typed_strings_mostly_parse(nodes, link_id):
    """The typed strategies exercise parse, not only its error messages."""
    # A bounded decimal (34.5 to 42.5) refuses about half its drawn fractions: 0.4 over 100 draws.
    assert _parse_rate(nodes[link_id]) >= 0.4


# --- a browser's form submission ----------------------------------------------------------------------

VALID_DATE = re.compile(r"^([0-9]{4,})-([0-9]{2})-([0-9]{2})$")
VALID_TIME = re.compile(r"^([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,3})?)?$")
# Input types whose value sanitization strips line breaks (HTML: "strip newlines from the value").
SINGLE_LINE = {"text", "search", "tel", "password"}


def _valid_date(text: str) -> bool:
    match = VALID_DATE.match(text)
    if not match:
        return False
    year, month, day = (int(p) for p in match.groups())
    try:
        return year > 0 and dt.date(year, month, day) is not None
    except ValueError:
        return False


def _valid_time(text: str) -> bool:
    match = VALID_TIME.match(text)
    return bool(match) and int(match.group(1)) < 24 and int(match.group(2)) < 60 and int(match.group(3) or 0) < 60


def _sanitized(kind: str, value: str) -> str:
    """An input's value as the browser holds it (HTML value sanitization algorithm)."""
    if kind in SINGLE_LINE:
        return value.replace("\r", "").replace("\n", "")
    if kind == "date":
        return value if _valid_date(value) else ""
    if kind == "time":
        return value if _valid_time(value) else ""
    if kind in ("number", "range", "email", "url", "color", "datetime-local", "month", "week"):
        raise AssertionError(f"browser_form does not model input type={kind}")
    return value  # hidden


def _crlf(text: str) -> str:
    """Form submission writes every line break as CRLF (HTML: converting an entry list)."""
    return re.sub(r"\r\n|\r|\n", "\r\n", text)


def browser_form(html: str, action: str, *, form_id: str = "answers") -> list[tuple[str, str]]:
    """The (name, value) pairs a browser posts when the button named action with value `action` of
    the form `form_id` is pressed, for the page as served (nothing typed)."""
    # The HTML parser's input stream: CR and CRLF become LF, NUL becomes U+FFFD.
    html = html.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    doc = lxml.html.document_fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    form = doc.get_element_by_id(form_id)
    assert form.tag == "form"

    def owned(el) -> bool:
        if el.get("form"):
            return el.get("form") == form_id
        return next((a for a in el.iterancestors("form")), None) is form

    def disabled(el) -> bool:
        return el.get("disabled") is not None or any(
            f.get("disabled") is not None for f in el.iterancestors("fieldset")
        )

    entries: list[tuple[object, str, str]] = []
    checked_radio: dict[str, object] = {}
    pressed = []
    for el in doc.iter("input", "textarea", "select", "button"):
        if not owned(el):
            continue
        assert el.tag != "select", "browser_form does not model <select>"
        name = el.get("name")
        if el.tag == "button":
            if (el.get("type") or "submit") == "submit" and name == "action" and el.get("value") == action:
                pressed.append(el)
                if not disabled(el):
                    entries.append((el, name, el.get("value", "")))
            continue
        if not name or disabled(el):
            continue
        if el.tag == "textarea":
            text = el.text_content()
            # HTML: a newline right after the <textarea> start tag is dropped by the parser.
            entries.append((el, name, text[1:] if text.startswith("\n") else text))
            continue
        kind = (el.get("type") or "text").lower()
        if kind in ("submit", "button", "reset", "image", "file"):
            continue
        if kind in ("radio", "checkbox"):
            if el.get("checked") is None:
                continue
            if kind == "radio":
                # Of a radio group with several `checked`, the last one parsed stays checked.
                checked_radio[name] = el
            entries.append((el, name, el.get("value", "on")))
            continue
        entries.append((el, name, _sanitized(kind, el.get("value", ""))))
    assert len(pressed) == 1, f"no single button action={action} in the form"
    pairs = [
        (name, value)
        for el, name, value in entries
        if not (el.tag == "input" and (el.get("type") or "").lower() == "radio" and checked_radio[name] is not el)
    ]
    return [(_crlf(name), _crlf(value)) for name, value in pairs]


# --- a patient's browser, through the test client --------------------------------------------------------


class Patient:
    """One browser (its own cookies, CSRF enforced) on a patient link."""

    def __init__(self, token: str):
        self.client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
        self.start = reverse("surveys:respond", args=[token])
        self.url = ""
        self.html = ""

    def open(self, url: str) -> str:
        url = urljoin(self.url or self.start, url)
        page = self.client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        self.url, self.html = url, page.content.decode()
        return self.html

    def press(self, action: str, *, replace: dict[str, list[str]] | None = None) -> str:
        """Submit the page's form with the button `action`, after typing `replace` into its fields;
        expect a redirect (no error, nothing revealed) and follow it. Returns where it went."""
        pairs = browser_form(self.html, action)
        if replace:
            pairs = [p for p in pairs if p[0] not in replace] + [
                (name, _crlf(text)) for name, texts in replace.items() for text in texts
            ]
        sent = self.client.post(self.url, data=urlencode(pairs), content_type="application/x-www-form-urlencoded")
        assert sent.status_code == 302, (self.url, sent.status_code, _errors(sent.content.decode()))
        location = sent["Location"]
        self.open(location)
        return location

    @property
    def page_number(self) -> int | str:
        if "Check your answers</h1>" in self.html:
            return "review"
        match = re.search(r'id="progress">Page ([0-9]+) of', self.html)
        assert match, self.html[:500]
        return int(match.group(1))


def _errors(html: str) -> list[str]:
    return re.findall(r'<p class="err"[^>]*>(.*?)</p>', html) + (
        ["(revealed a question)"] if "added a question on this page" in html else []
    )


# --- page level ------------------------------------------------------------------------------------------


def _answers(assignment) -> str:
    response = Response.objects.filter(assignment=assignment).first()
    return as_json(response.answers if response else {})


def _page_of(pages: list[rendering.PageSpec]) -> dict[str, int]:
    return {str(n.get("linkId")): i for i, page in enumerate(pages) for n in page.nodes}


def stored_answers(nodes: dict) -> st.SearchStrategy[dict]:
    """Stored answers, any of them missing."""
    return st.fixed_dictionaries({link_id: st.none() | stored_value(nodes[link_id]) for link_id in ITEMS})


def typed_answers(nodes: dict) -> st.SearchStrategy[dict]:
    """What a patient types into each field (nothing, or strings that parse)."""

    def usable(node):
        return typed_strings(node).filter(lambda raw: not values.parse(node, raw)[1])

    return st.fixed_dictionaries({link_id: st.just([]) | usable(nodes[link_id]) for link_id in ITEMS})


def save(*, assignment, token: str, definition: dict, pages, source: str, drawn: dict, advanced: int) -> dict:
    """Put the drawn answers into a fresh Response, pages before `advanced` saved with Next and the
    others without moving on (Previous); return the answers expected in the Response."""
    Response.objects.filter(assignment=assignment).delete()
    where = _page_of(pages)
    if source == "stored":
        expected = conditions.prune_answers(definition, {k: v for k, v in drawn.items() if v is not None})
        for index in range(len(pages)):
            page_answers = {k: v for k, v in expected.items() if where[k] == index}
            submit.response_save_page(
                assignment=assignment, answers=page_answers, page_index=index, advance=index < advanced
            )
    else:
        nodes = fhir.items_by_link(definition)
        parsed = {k: values.parse(nodes[k], raw)[0] for k, raw in drawn.items()}
        expected = conditions.prune_answers(definition, parsed)
        patient = Patient(token)
        patient.open(patient.start)
        for index, page in enumerate(pages):
            typed = {k: raw for k, raw in drawn.items() if where[k] == index}
            # The real POST of the page, its fields typed in; the pages after `advanced` left with Previous
            # (page 1 has no Previous button: its answers are kept by the language switch instead).
            action = "next" if index < advanced else ("back" if index else "lang-fr")
            pairs = [
                ("csrfmiddlewaretoken", _csrf(patient.html)),
                ("page", str(index + 1)),
                ("shown", " ".join(str(n.get("linkId")) for n in page.nodes)),
                ("action", action),
            ]
            pairs += [(k, _crlf(text)) for k, raw in typed.items() for text in raw]
            sent = patient.client.post(
                patient.start, data=urlencode(pairs), content_type="application/x-www-form-urlencoded"
            )
            assert sent.status_code == 302, _errors(sent.content.decode())
    assert _answers(assignment) == as_json(expected)
    return expected


def _csrf(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


@pytest.fixture
def link(make, version):
    tp = make.timepoint(version=version)
    participant = make.participant(study=version.questionnaire.study, language="en")
    assignment = make.assignment(participant=participant, timepoint=tp)
    return assignment_link_token(assignment=assignment), assignment


SOURCES = ["stored", "typed"]


@pytest.mark.parametrize("source", SOURCES)
def test_previous_then_next_posts_every_page_back_unchanged(version, nodes, link, source):
    token, assignment = link
    definition = version.definition
    pages = rendering.build_pages(definition, "en")
    strategy = stored_answers(nodes) if source == "stored" else typed_answers(nodes)

    @settings(**PAGE_PROPERTY)
    @given(strategy)
    def check(drawn):
        save(
            assignment=assignment,
            token=token,
            definition=definition,
            pages=pages,
            source=source,
            drawn=drawn,
            advanced=len(pages),
        )
        before = _answers(assignment)
        patient = Patient(token)
        patient.open(f"?p={len(pages)}")
        # Previous from the last page down to the first (each a POST of the page as shown)...
        for number in range(len(pages), 1, -1):
            assert patient.page_number == number
            assert patient.press("back").endswith(f"?p={number - 1}")
            assert _answers(assignment) == before
        # ...then Next through every page, to the review page.
        for number in range(1, len(pages) + 1):
            assert patient.page_number == number
            patient.press("next")
            assert _answers(assignment) == before, f"page {number}"
        assert patient.page_number == "review"

    check()


@pytest.mark.parametrize("source", SOURCES)
def test_the_review_pages_change_links_post_every_page_back_unchanged(version, nodes, link, source):
    token, assignment = link
    definition = version.definition
    pages = rendering.build_pages(definition, "en")
    strategy = stored_answers(nodes) if source == "stored" else typed_answers(nodes)

    @settings(**PAGE_PROPERTY)
    @given(strategy)
    def check(drawn):
        save(
            assignment=assignment,
            token=token,
            definition=definition,
            pages=pages,
            source=source,
            drawn=drawn,
            advanced=len(pages),
        )
        before = _answers(assignment)
        patient = Patient(token)
        review = patient.open("?p=review")
        links = re.findall(r'<a href="([^"]+)">Change the answers on page ([0-9]+)</a>', review)
        assert [int(n) for _href, n in links] == list(range(1, len(pages) + 1))
        for href, number in links:
            patient.open("?p=review")
            patient.open(href.replace("&amp;", "&"))
            assert patient.page_number == int(number)
            following = patient.press("next")
            # A page opened from the review goes back to the review, whichever page it is.
            assert following.endswith("?p=review")
            assert _answers(assignment) == before, f"page {number}"

    check()


@pytest.mark.parametrize("source", SOURCES)
def test_resuming_on_another_browser_posts_the_page_back_unchanged(version, nodes, link, source):
    token, assignment = link
    definition = version.definition
    pages = rendering.build_pages(definition, "en")
    strategy = stored_answers(nodes) if source == "stored" else typed_answers(nodes)

    @settings(**PAGE_PROPERTY)
    @given(strategy, st.integers(0, len(pages) - 1))
    def check(drawn, left_on):
        # The patient left on page left_on + 1, having saved the pages after it with Previous.
        save(
            assignment=assignment,
            token=token,
            definition=definition,
            pages=pages,
            source=source,
            drawn=drawn,
            advanced=left_on,
        )
        before = _answers(assignment)
        patient = Patient(token)  # another browser: no cookies
        patient.open(patient.start)
        assert patient.page_number == left_on + 1
        patient.press("next")
        assert patient.page_number == (left_on + 2 if left_on + 1 < len(pages) else "review")
        assert _answers(assignment) == before

    check()


def test_browser_form_reads_a_page_as_a_browser_submits_it():
    """The emulation itself, on the HTML rules it models."""
    html = """<!doctype html><html><body><form id="answers" method="post">
<input type="hidden" name="shown" value="a b">
<input type="radio" name="r" value="1" checked><input type="radio" name="r" value="2" checked>
<input type="radio" name="r2" value="x">
<input type="checkbox" name="c" value="p" checked><input type="checkbox" name="c" value="q">
<input type="checkbox" name="c" value="s" checked>
<input type="text" name="t" value="one&#10;two">
<input type="date" name="d" value="2025-02-30"><input type="date" name="d2" value="0001-01-01">
<input type="time" name="h" value="7:05"><input type="time" name="h2" value="07:05:09">
<input type="text" name="off" value="x" disabled><input type="range" min="0" max="9">
<textarea name="long">

second line
third</textarea>
<button type="submit" name="action" value="next">Next</button><button type="submit" name="action" value="back">Back</button>
</form><button form="answers" type="submit" name="action" value="lang-fr">Fr</button>
<form id="other"><input name="no" value="no"></form></body></html>"""
    assert browser_form(html, "next") == [
        ("shown", "a b"),
        ("r", "2"),
        ("c", "p"),
        ("c", "s"),
        ("t", "onetwo"),
        ("d", ""),
        ("d2", "0001-01-01"),
        ("h", ""),
        ("h2", "07:05:09"),
        ("long", "\r\nsecond line\r\nthird"),
        ("action", "next"),
    ]
    assert ("action", "lang-fr") in browser_form(html, "lang-fr")
