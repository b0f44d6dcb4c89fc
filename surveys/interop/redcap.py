"""REDCap data dictionary (CSV, the 18 standard columns) in and out.

Import (`dictionary_parse`): one questionnaire per instrument ("Form Name"),
each a FHIR R4 Questionnaire in the shape `fhir.definition_from_draft` writes,
handed to `imports.questionnaire_import`, which writes all of them or none.
Export (`dictionary_export`): a published version as a dictionary REDCap
accepts. docs/redcap.md has the full mapping; the choices that are not obvious:

- REDCap raw codes are our option codes. A calc field adds the raw codes, so an
  option whose code is a whole number gets that number as its score
  (`ordinalValue`): a score rule then adds what REDCap added.
- A calc field is not an item here: when it is a sum or a mean of fields of its
  instrument it becomes a score rule (docs/scoring.md) named after the
  variable; a missing answer is never 0, so `sum()` (which skips blanks in
  REDCap) needs every item answered, with a warning.
- Identities stay in the patient register: fields marked "Identifier?", fields
  that plainly hold one (date of birth, name, e-mail, phone, address), and the
  record ID (the pseudonym plays its role) are left out with a warning.
- Fields with no equivalent (file upload, signature, SQL list, a calc that is
  not a sum or mean) are left out with a warning naming variable and line;
  REDCap projects nearly always have some. What would change what is asked or
  to whom (branching logic we cannot express, a condition on a field left out,
  unreadable choices, a wrong header) is a problem, and nothing is imported.
- A section header starts a page (a group with the page item control). A matrix
  sits inside one section in REDCap, so it is on one page already: its rows
  stay items of that page and keep their group name in the REDCap extension.
- REDCap facts with no place in FHIR (original field and validation type,
  slider labels, alignment, question number, matrix, annotation) ride in one
  extension per item (EXT_REDCAP), so an export gives back what was imported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from surveys.interop import uploads
from surveys.interop.imports import ImportedQuestionnaire, ImportResult
from surveys.models import Item, Study
from surveys.models.questionnaire import code_validator, option_code_validator
from surveys.questionnaires import fhir, values
from surveys.questionnaires.validation import LANGUAGE_NAMES, Problem, definition_problems
from surveys.scoring.compute import NAME_RE as SCORE_NAME_RE
from surveys.scoring.compute import scoring_problems

T = Item.Type
EXT_REDCAP = "urn:ressenti:fhir:extension:redcap-field"

# (key, header as REDCap writes it in the data dictionary, name in the API's metadata export)
COLUMNS: list[tuple[str, str, str]] = [
    ("name", "Variable / Field Name", "field_name"),
    ("form", "Form Name", "form_name"),
    ("section", "Section Header", "section_header"),
    ("ftype", "Field Type", "field_type"),
    ("label", "Field Label", "field_label"),
    ("choices", "Choices, Calculations, OR Slider Labels", "select_choices_or_calculations"),
    ("note", "Field Note", "field_note"),
    ("validation", "Text Validation Type OR Show Slider Number", "text_validation_type_or_show_slider_number"),
    ("vmin", "Text Validation Min", "text_validation_min"),
    ("vmax", "Text Validation Max", "text_validation_max"),
    ("identifier", "Identifier?", "identifier"),
    ("branching", "Branching Logic (Show field only if...)", "branching_logic"),
    ("required", "Required Field?", "required_field"),
    ("alignment", "Custom Alignment", "custom_alignment"),
    ("qnum", "Question Number (surveys only)", "question_number"),
    ("matrix", "Matrix Group Name", "matrix_group_name"),
    ("ranking", "Matrix Ranking?", "matrix_ranking"),
    ("annotation", "Field Annotation", "field_annotation"),
]
HEADER = [header for _key, header, _api in COLUMNS]
KEYS = [key for key, _header, _api in COLUMNS]
# Older REDCap versions and hand-made files: other spellings of the same columns.
_ALIASES = {
    "choices": {"choicesorcalculations", "choicescalculations"},
    "validation": {"textvalidationtype", "validationtype"},
    "branching": {"branchinglogic"},
    "qnum": {"questionnumber"},
    "name": {"variablename", "fieldname"},
}
# Files written before matrix ranking and field annotations existed end earlier.
_OPTIONAL_TAIL = ("ranking", "annotation")

# Our type -> (REDCap field type, validation) written by the export when the item came from nowhere else.
EXPORT_TYPE: dict[str, tuple[str, str]] = {
    T.DISPLAY: ("descriptive", ""),
    T.SINGLE: ("radio", ""),
    T.MULTIPLE: ("checkbox", ""),
    T.YES_NO: ("yesno", ""),
    T.INTEGER: ("text", "integer"),
    T.DECIMAL: ("text", "number"),
    T.NRS: ("slider", ""),
    T.VAS: ("slider", ""),
    T.DATE: ("text", "date_ymd"),
    T.SHORT_TEXT: ("text", ""),
    T.LONG_TEXT: ("notes", ""),
}
NUMBER_KINDS = values.NUMBER_TYPES
CHOICE_KINDS = {T.SINGLE, T.MULTIPLE}
LEFT_OUT_TYPES = {"file", "sql"}
KNOWN_TYPES = {"text", "notes", "radio", "dropdown", "checkbox", "yesno", "truefalse", "slider", "descriptive",
               "calc"} | LEFT_OUT_TYPES

_NUMBER_VALIDATION = re.compile(r"^(number|float)(_\ddp)?(_comma_decimal)?$")
_DATETIME_VALIDATION = re.compile(r"^datetime(_seconds)?(_ymd|_dmy|_mdy)?$")
_DATE_VALIDATION = {"date_ymd", "date_dmy", "date_mdy", "date"}
# Validation types that only hold an identity: the field is left out like a marked identifier.
_IDENTITY_VALIDATION = re.compile(r"^(email|phone(_\w+)?|ssn|v?mrn(_\w+)?)$")
_IDENTITY_NAME = re.compile(
    r"^(dob|date_?of_?birth|birth_?date|date_?naissance|(first|last|family|given|full|middle|maiden)_?name"
    r"|name_?(first|last|full)|surname|prenom|nom|e_?mail|courriel|(tele)?phone(_?number)?|tel|mobile_?phone"
    r"|address|adresse|street_?address|postal_?address|nir|ssn)(_?\d+)?$"
)
_IDENTITY_LABEL = re.compile(r"date of birth|birth date|date de naissance", re.IGNORECASE)
_ACTION_TAG = re.compile(r"@[A-Z][A-Z0-9_-]*")
_CHARLIMIT = re.compile(r"@CHARLIMIT\s*=\s*['\"]?(\d+)")
_PIPING = re.compile(r"\[[a-z][a-z0-9_]*(\([^)]*\))?(:[a-z-]+)?\]")
_HTML = re.compile(r"<[A-Za-z/!][^>]*>")
_INTEGER = re.compile(r"^-?\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _control(code: str) -> dict:
    return {"url": fhir.EXT_ITEM_CONTROL,
            "valueCodeableConcept": {"coding": [{"system": fhir.ITEM_CONTROL_SYSTEM, "code": code}]}}


def _lang_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


# --- reading the file ------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the dictionary (line = where it starts in the file, the header being line 1)."""

    line: int
    name: str = ""
    form: str = ""
    section: str = ""
    ftype: str = ""
    label: str = ""
    choices: str = ""
    note: str = ""
    validation: str = ""
    vmin: str = ""
    vmax: str = ""
    identifier: str = ""
    branching: str = ""
    required: str = ""
    alignment: str = ""
    qnum: str = ""
    matrix: str = ""
    ranking: str = ""
    annotation: str = ""

    @property
    def where(self) -> str:
        if self.name:
            return _("line %(line)s, variable %(name)s") % {"line": self.line, "name": self.name}
        return _("line %(line)s") % {"line": self.line}


def _normalised(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def _header_problems(header: list[str]) -> tuple[list[str], list[Problem], list[Problem]]:
    """(column keys in file order, problems, warnings) for the header line, each named by column."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    keys: list[str] = []
    for index, cell in enumerate(header):
        where = _("line 1, column %(n)s") % {"n": index + 1}
        if index >= len(COLUMNS):
            if cell.strip():
                warnings.append(Problem(where, _("column %(name)s is not a data dictionary column: ignored")
                                        % {"name": cell.strip()}))
            keys.append("")
            continue
        key, title, api = COLUMNS[index]
        accepted = {_normalised(title), _normalised(api)} | _ALIASES.get(key, set())
        if _normalised(cell) not in accepted:
            problems.append(Problem(where, _("expected the column %(expected)s, found %(found)s")
                                    % {"expected": title, "found": cell.strip() or _("an empty cell")}))
        keys.append(key)
    missing = [key for key in KEYS[len(header):] if key not in _OPTIONAL_TAIL]
    for key in missing:
        index = KEYS.index(key)
        problems.append(Problem(_("line 1, column %(n)s") % {"n": index + 1},
                                _("the column %(expected)s is missing") % {"expected": COLUMNS[index][1]}))
    return keys, problems, warnings


def dictionary_rows(content: bytes) -> tuple[list[Row], list[Problem], list[Problem]]:
    """The rows of a dictionary file, with the problems (and warnings) of its text and header."""
    try:
        text = uploads.text_decode(content)
    except uploads.UploadRefused as refused:
        return [], [Problem(refused.where, refused.message)], []
    first_line = text.split("\n", 1)[0]
    # Spreadsheets set to French write semicolons.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[Row] = []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    keys: list[str] = []
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not keys:
                keys, problems, warnings = _header_problems(cells)
                if problems:
                    return [], problems, warnings
                continue
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
                problems.append(Problem(_("line %(line)s") % {"line": line},
                                        _("%(found)s cells where the header has %(expected)s (a comma outside quotes?)")
                                        % {"found": len(cells), "expected": len(keys)}))
                continue
            fields = {key: cell.strip() for key, cell in zip(keys, cells, strict=False) if key}
            rows.append(Row(line=line, **fields))
    except csv.Error as exc:
        problems.append(Problem(_("line %(line)s") % {"line": start},
                                _("the CSV cannot be read: %(error)s") % {"error": exc}))
    if not keys:
        problems.append(Problem(_("file"), _("is empty")))
    return rows, problems, warnings


# --- texts ------------------------------------------------------------------------------------


class _TextOnly(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(value: str) -> tuple[str, bool]:
    """(text without HTML, whether there was any): our pages show text, never markup from a file."""
    if not _HTML.search(value):
        return value.strip(), False
    parser = _TextOnly()
    parser.feed(value)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(line for line in lines if line)
    return text, True


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def slider_help(labels: str, low: int | float, high: int | float) -> str:
    """The slider's anchor labels as a line of help: REDCap shows them at the left, middle and right."""
    parts = [p.strip() for p in labels.split("|")]
    if len(parts) == 1:
        parts = [parts[0], "", ""]
    elif len(parts) == 2:
        parts = [parts[0], "", parts[1]]
    middle = (Decimal(str(low)) + Decimal(str(high))) / 2
    points = [low, _number(middle), high]
    return " · ".join(f"{point} = {label}" for point, label in zip(points, parts[:3], strict=True) if label)


# --- branching logic and calculations -------------------------------------------------------------


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
            raise Unsupported(_("cannot read %(part)s") % {"part": text[pos:pos + 30].strip()})
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


class _Parser:
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
            raise Unsupported(_("%(ref)s%(next)s refers to another event or to a repeating instance")
                              % {"ref": raw, "next": self.peek()[1]})
        match = _REF.match(raw[1:-1].strip())
        if match is None:
            raise Unsupported(_("%(ref)s is a smart variable or a piping option, which Ressenti does not have")
                              % {"ref": raw})
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


def _flatten(node: tuple) -> tuple[str | None, list[tuple]]:
    """(connective, comparisons) of a logic tree with one connective; mixing them cannot be expressed."""
    if node[0] == "cmp":
        return None, [node]
    kind, leaves = node[0], []
    for child in node[1]:
        child_kind, child_leaves = _flatten(child)
        if child_kind not in (None, kind) and len(child_leaves) > 1:
            raise Unsupported(_("mixes \"and\" with \"or\", which display conditions cannot nest"))
        leaves += child_leaves
    return kind, leaves


# --- import ------------------------------------------------------------------------------------


@dataclass
class _Known:
    """What became of a variable, for the conditions and calculations that name it."""

    form: str
    state: str  # "item", "score", "left_out"
    kind: str = ""
    position: int = 0
    codes: list[str] = field(default_factory=list)
    numeric_codes: bool = False


@dataclass
class _Form:
    name: str
    first_line: int
    rows: list[Row] = field(default_factory=list)
    items: list[tuple[Row, dict]] = field(default_factory=list)
    pages: list[tuple[int, str, Row]] = field(default_factory=list)  # (index of first item, title, row)
    scores: list[dict] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


class _Import:
    def __init__(self, rows: list[Row], study: Study, base: str):
        self.rows = rows
        self.study = study
        self.base = base
        self.problems: list[Problem] = []
        self.known: dict[str, _Known] = {}
        self.forms: list[_Form] = []

    def problem(self, row: Row, message: str) -> None:
        self.problems.append(Problem(row.where, message))

    @staticmethod
    def warn(form: _Form, row: Row, message: str) -> None:
        form.warnings.append(Problem(row.where, message))

    # pass 1: rows -> forms, basic checks

    def group_forms(self) -> None:
        seen_names: dict[str, int] = {}
        by_name: dict[str, _Form] = {}
        for row in self.rows:
            row.ftype = row.ftype.lower()
            if not row.name:
                self.problem(row, _("the variable name is empty"))
                continue
            if row.name in seen_names:
                self.problem(row, _("variable %(name)s is already on line %(line)s")
                             % {"name": row.name, "line": seen_names[row.name]})
                continue
            seen_names[row.name] = row.line
            if not row.form:
                self.problem(row, _("the form name is empty"))
                continue
            form = by_name.get(row.form)
            if form is None:
                if not re.fullmatch(r"[a-z0-9_-]{1,40}", row.form):
                    self.problem(row, _("form name %(form)s does not fit a questionnaire code: lower-case letters, "
                                        "digits or _, 40 characters at most") % {"form": row.form})
                form = by_name[row.form] = _Form(row.form, row.line)
                self.forms.append(form)
            elif form is not self.forms[-1]:
                # REDCap itself refuses a dictionary whose instruments are interleaved.
                self.problem(row, _("the rows of form %(form)s are not together (it started on line %(line)s)")
                             % {"form": row.form, "line": form.first_line})
            form.rows.append(row)

    # pass 2: each row -> an item, a score (later), or left out

    def left_out_reason(self, row: Row, first: bool) -> str | None:
        if first and row.ftype == "text" and not row.branching:
            return _("the record ID is left out: the participant's pseudonym plays its role")
        if row.identifier.lower() in ("y", "yes", "1"):
            return _("marked as an identifier: left out, since identities are kept in the patient register, "
                     "never in questionnaires")
        validation = row.validation.lower()
        if row.ftype == "text" and _IDENTITY_VALIDATION.match(validation):
            return _("holds an identity (validation %(validation)s) though not marked as an identifier: left out, "
                     "since identities are kept in the patient register") % {"validation": validation}
        if row.ftype in ("text", "notes") and (_IDENTITY_NAME.match(row.name.lower()) or _IDENTITY_LABEL.search(row.label)):
            return _("looks like an identity though not marked as an identifier: left out, since identities are "
                     "kept in the patient register")
        if row.ftype == "file" and validation == "signature":
            return _("a signature has no equivalent in Ressenti: left out")
        if row.ftype == "file":
            return _("a file upload has no equivalent in Ressenti: left out")
        if row.ftype == "sql":
            return _("a list filled by an SQL query has no equivalent in Ressenti: left out")
        return None

    def build_items(self) -> None:
        first_row = self.rows[0] if self.rows else None
        for form in self.forms:
            pending_header: tuple[str, Row] | None = None
            for row in form.rows:
                if row.section:
                    header, had_html = plain_text(row.section)
                    self.text_warnings(form, row, row.section, had_html, "section")
                    pending_header = (header, row)
                if row.ftype not in KNOWN_TYPES:
                    self.problem(row, _("unknown field type %(type)s") % {"type": row.ftype or _("(empty)")})
                    continue
                reason = self.left_out_reason(row, row is first_row)
                if reason:
                    self.warn(form, row, reason)
                    self.known[row.name] = _Known(form.name, "left_out")
                    continue
                if row.ftype == "calc":
                    self.known[row.name] = _Known(form.name, "score")
                    continue
                try:
                    code_validator(row.name)
                except ValidationError:
                    self.problem(row, _("the variable name does not fit an item code: a letter, then letters, digits "
                                        "or _, 40 characters at most"))
                    continue
                node = self.item_node(form, row)
                if node is None:
                    continue
                if pending_header is not None:
                    form.pages.append((len(form.items), pending_header[0], pending_header[1]))
                    pending_header = None
                kind = fhir.item_type(node)
                codes = [fhir.option_code(o) for o in node.get("answerOption", [])]
                self.known[row.name] = _Known(
                    form.name, "item", kind, len(form.items), codes,
                    bool(codes) and all(_INTEGER.match(c) for c in codes),
                )
                form.items.append((row, node))

    def text_warnings(self, form: _Form, row: Row, raw: str, had_html: bool, what: str) -> None:
        """Say what became of HTML and piping in a text (what: "label", "note" or "section")."""
        if had_html:
            self.warn(form, row, {
                "label": _("the HTML formatting of the label was removed"),
                "note": _("the HTML formatting of the field note was removed"),
                "section": _("the HTML formatting of the section header was removed"),
            }[what])
        if _PIPING.search(raw):
            self.warn(form, row, {
                "label": _("the label pipes another field's answer, which Ressenti does not do: it shows the brackets "
                           "as written"),
                "note": _("the field note pipes another field's answer, which Ressenti does not do: it shows the "
                          "brackets as written"),
                "section": _("the section header pipes another field's answer, which Ressenti does not do: it shows "
                             "the brackets as written"),
            }[what])

    def item_node(self, form: _Form, row: Row) -> dict | None:
        """The FHIR item of one field, or None after reporting why it cannot be one."""
        validation = row.validation.lower()
        redcap: dict[str, Any] = {}
        low = high = None
        slider_labels = ""
        if row.ftype == "text":
            if not validation:
                kind = T.SHORT_TEXT
            elif validation in ("integer", "int"):
                kind = T.INTEGER
            elif _NUMBER_VALIDATION.match(validation):
                kind = T.DECIMAL
            elif validation in _DATE_VALIDATION:
                kind = T.DATE
            elif _DATETIME_VALIDATION.match(validation):
                kind = T.DATE
                self.warn(form, row, _("a date and time: Ressenti asks the date only"))
            else:
                kind = T.SHORT_TEXT
                self.warn(form, row, _("the format %(validation)s is not checked: the answer is a short text")
                          % {"validation": validation})
        else:
            kind = {"notes": T.LONG_TEXT, "radio": T.SINGLE, "dropdown": T.SINGLE, "checkbox": T.MULTIPLE,
                    "yesno": T.YES_NO, "truefalse": T.YES_NO, "descriptive": T.DISPLAY}.get(row.ftype, T.VAS)
        if kind in NUMBER_KINDS or row.ftype == "slider":
            low, high = self.limits(row, kind)
            if low is False:
                return None
            if row.ftype == "slider":
                low = 0 if low is None else low
                high = 100 if high is None else high
                # A short slider is a row of points (NRS); a long one a line to drag (VAS).
                kind = T.NRS if high - low <= 10 else T.VAS
                slider_labels = row.choices
        elif row.vmin or row.vmax:
            redcap.update({"validationMin": row.vmin, "validationMax": row.vmax})
            self.warn(form, row, _("the minimum and maximum of this field are kept but not checked"))

        default_type, default_validation = EXPORT_TYPE[kind]
        if row.ftype != default_type:
            redcap["fieldType"] = row.ftype
        if validation != default_validation:
            redcap["validation"] = validation
        label, had_html = plain_text(row.label)
        self.text_warnings(form, row, row.label, had_html, "label")
        if not label:
            self.problem(row, _("the field label is empty"))
            return None

        node: dict[str, Any] = {"linkId": row.name, "type": fhir.FHIR_TYPE[kind], "text": label}
        ext: list[dict] = [{"url": fhir.EXT_ITEM_TYPE, "valueCode": kind}]
        value_key = "valueDecimal" if kind == T.DECIMAL else "valueInteger"
        if low is not None:
            ext.append({"url": fhir.EXT_MIN, value_key: low})
        if high is not None:
            ext.append({"url": fhir.EXT_MAX, value_key: high})
        if kind in (T.NRS, T.VAS):
            ext += [_control("slider"), {"url": fhir.EXT_SLIDER_STEP, "valueInteger": 1}]
        if slider_labels:
            redcap["sliderLabels"] = slider_labels
        for key, value in (("customAlignment", row.alignment), ("questionNumber", row.qnum),
                           ("matrixGroup", row.matrix), ("annotation", row.annotation)):
            if value:
                redcap[key] = value
        if row.ranking.lower() in ("y", "yes", "1"):
            redcap["matrixRanking"] = True
            self.warn(form, row, _("matrix ranking (each choice used once in the matrix) is not enforced"))
        if redcap:
            ext.append(redcap_extension(redcap))
        node["extension"] = ext
        if row.required.lower() in ("y", "yes", "1") and kind != T.DISPLAY:
            node["required"] = True
        if kind == T.MULTIPLE:
            node["repeats"] = True
        limit = _CHARLIMIT.search(row.annotation)
        if limit and kind in (T.SHORT_TEXT, T.LONG_TEXT):
            node["maxLength"] = int(limit.group(1))
        others = sorted({t for t in _ACTION_TAG.findall(row.annotation) if t != "@CHARLIMIT"})
        if others:
            self.warn(form, row, _("the action tags %(tags)s are kept with the field but not applied")
                      % {"tags": ", ".join(others)})
        if kind in CHOICE_KINDS:
            options = self.options(row)
            if options is None:
                return None
            node["answerOption"] = options
        help_text, had_html = plain_text(row.note)
        self.text_warnings(form, row, row.note, had_html, "note")
        if slider_labels:
            anchors = slider_help(plain_text(slider_labels)[0], low, high)
            help_text = "\n".join(t for t in (help_text, anchors) if t)
        if help_text:
            node["item"] = [{"linkId": f"{row.name}__help", "type": "display", "text": help_text,
                             "extension": [_control("help")]}]
        return node

    def limits(self, row: Row, kind: str) -> tuple[Any, Any]:
        """(min, max) as numbers of the item's kind, or (False, False) after reporting a problem."""
        whole = kind != T.DECIMAL
        bounds = []
        for raw, is_min in ((row.vmin, True), (row.vmax, False)):
            if not raw:
                bounds.append(None)
                continue
            value = _decimal(raw)
            if value is None or (whole and value != value.to_integral_value()):
                if whole:
                    message = (_("the minimum %(value)s is not a whole number") if is_min
                               else _("the maximum %(value)s is not a whole number"))
                else:
                    message = (_("the minimum %(value)s is not a number") if is_min
                               else _("the maximum %(value)s is not a number"))
                self.problem(row, message % {"value": raw})
                return False, False
            bounds.append(_number(value))
        low, high = bounds
        if low is not None and high is not None and low >= high:
            self.problem(row, _("the minimum (%(low)s) must be below the maximum (%(high)s)") % {"low": low, "high": high})
            return False, False
        return low, high

    def options(self, row: Row) -> list[dict] | None:
        if not row.choices.strip():
            self.problem(row, _("a %(type)s field needs choices written \"code, label | code, label\"")
                         % {"type": row.ftype})
            return None
        options: list[dict] = []
        seen: set[str] = set()
        for part in row.choices.split("|"):
            part = part.strip()
            if not part:
                continue
            code, comma, label = part.partition(",")
            code, label = code.strip(), plain_text(label)[0]
            if not comma:
                self.problem(row, _("the choice %(choice)s has no code: write \"code, label\"") % {"choice": part})
                return None
            try:
                option_code_validator(code)
            except ValidationError:
                self.problem(row, _("the choice code %(code)s does not fit an option code: letters, digits or _, "
                                    "optionally after a minus sign") % {"code": code})
                return None
            if code in seen:
                self.problem(row, _("the choice code %(code)s is used twice") % {"code": code})
                return None
            seen.add(code)
            option: dict[str, Any] = {"valueCoding": {"code": code, "display": label}}
            if _INTEGER.match(code):
                # REDCap's calculations add raw codes: the code is the option's score.
                option["extension"] = [{"url": fhir.EXT_ORDINAL, "valueDecimal": int(code)}]
            options.append(option)
        return options

    # pass 3: branching logic -> enableWhen

    def conditions(self) -> None:
        for form in self.forms:
            for row, node in form.items:
                if not row.branching:
                    continue
                try:
                    conditions, behaviour = self.condition_list(form, row)
                except Unsupported as exc:
                    self.problem(row, _("branching logic %(logic)s cannot be translated: %(reason)s")
                                 % {"logic": row.branching, "reason": exc})
                    continue
                node["enableWhen"] = conditions
                if len(conditions) > 1:
                    node["enableBehavior"] = behaviour

    def condition_list(self, form: _Form, row: Row) -> tuple[list[dict], str]:
        kind, comparisons = _flatten(_Parser(row.branching).logic())
        behaviour = "any" if kind == "or" else "all"
        out: list[dict] = []
        for _cmp, (name, code), operator, value in comparisons:
            target = self.known.get(name)
            if target is None:
                raise Unsupported(_("%(name)s is not a field of this dictionary") % {"name": name})
            if target.form != form.name:
                raise Unsupported(_("%(name)s is in another instrument (%(form)s)") % {"name": name, "form": target.form})
            if target.state == "left_out":
                raise Unsupported(_("%(name)s is left out of the import (see its warning)") % {"name": name})
            if target.state == "score":
                raise Unsupported(_("%(name)s is a calculated field, which becomes a score, not a question")
                                  % {"name": name})
            if target.position >= self.known[row.name].position:
                raise Unsupported(_("%(name)s does not come before this field") % {"name": name})
            if target.kind == T.DISPLAY:
                raise Unsupported(_("%(name)s is a descriptive text, not a question") % {"name": name})
            found = self.condition(form, row, name, code, operator, value, target)
            if len(found) > 1 and behaviour == "all" and len(comparisons) > 1:
                raise Unsupported(_("[%(name)s] %(op)s %(value)s needs several options joined by \"or\" inside "
                                    "an \"and\"") % {"name": name, "op": operator, "value": value})
            if len(found) > 1:
                behaviour = "any"
            out += found
        return out, behaviour

    def condition(self, form: _Form, row: Row, name: str, code: str | None, operator: str, value: str,
                  target: _Known) -> list[dict]:
        def one(op: str, key: str, answer: Any) -> list[dict]:
            return [{"question": name, "operator": op, key: answer}]

        ours = {"=": "=", "<>": "!="}.get(operator, operator)
        if code is not None:
            if target.kind != T.MULTIPLE:
                raise Unsupported(_("[%(name)s(%(code)s)] is the checkbox form, but %(name)s is not a checkbox")
                                  % {"name": name, "code": code})
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
            bound = _decimal(value)
            if bound is None or not target.numeric_codes:
                raise Unsupported(_("%(op)s compares numbers, but the choices of %(name)s are not all numbers")
                                  % {"op": operator, "name": name})
            # A choice list has no order here: the codes that pass the test, any of them.
            tests = {"<": bound.__gt__, ">": bound.__lt__, "<=": bound.__ge__, ">=": bound.__le__}
            codes = [c for c in target.codes if tests[operator](Decimal(c))]
            if not codes:
                raise Unsupported(_("no choice of %(name)s is %(op)s %(value)s")
                                  % {"name": name, "op": operator, "value": value})
            return [{"question": name, "operator": "=", "answerCoding": {"code": c}} for c in codes]
        if target.kind == T.YES_NO:
            if operator not in ("=", "<>") or value not in ("0", "1"):
                raise Unsupported(_("a yes/no field is compared with '1' (yes) or '0' (no)"))
            return one(ours, "answerBoolean", value == "1")
        if target.kind in NUMBER_KINDS:
            number = _decimal(value)
            if number is None:
                raise Unsupported(_("%(name)s is a number, but %(value)s is not") % {"name": name, "value": value})
            if target.kind == T.DECIMAL:
                return one(ours, "answerDecimal", float(number))
            if number == number.to_integral_value():
                return one(ours, "answerInteger", int(number))
            return one(ours, "answerDecimal", float(number))
        if target.kind == T.DATE:
            if not _ISO_DATE.match(value):
                raise Unsupported(_("a date is compared with a date written YYYY-MM-DD, not %(value)s")
                                  % {"value": value})
            return one(ours, "answerDate", value)
        if operator not in ("=", "<>"):
            raise Unsupported(_("%(op)s needs a number or a date, but %(name)s is a text") % {"op": operator, "name": name})
        return one(ours, "answerString", value)

    # pass 4: calc fields -> score rules

    def scores(self) -> None:
        for form in self.forms:
            for row in form.rows:
                known = self.known.get(row.name)
                if row.ftype != "calc" or known is None or known.state != "score":
                    continue
                try:
                    rule, notes = self.score_rule(form, row)
                except Unsupported as exc:
                    known.state = "left_out"
                    self.warn(form, row, _("the calculation %(calc)s is left out: %(reason)s (Ressenti computes sums "
                                           "and means of answers)") % {"calc": row.choices, "reason": exc})
                    continue
                for note in notes:
                    self.warn(form, row, note)
                form.scores.append(rule)

    def score_rule(self, form: _Form, row: Row) -> tuple[dict, list[str]]:
        if not row.choices.strip():
            raise Unsupported(_("it has no equation"))
        if not SCORE_NAME_RE.match(row.name):
            raise Unsupported(_("its name is longer than a score name may be (34 characters)"))
        node = _Parser(row.choices).calc()
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
            rule["transform"] = {"multiply": _number(factor[1])}
            while node[0] == "paren":
                node = node[1]
        refs: list[tuple] = []
        if node[0] == "call" and node[1] in ("sum", "mean"):
            refs = node[2]
            method = node[1]
            if method == "sum":
                notes.append(_("REDCap's sum() skips blank fields; this score needs every item answered, since a "
                               "missing answer is never counted as 0"))
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
            target = self.known.get(name)
            if name in items or name in scores:
                raise Unsupported(_("it counts %(name)s twice") % {"name": name})
            if code is not None:
                raise Unsupported(_("[%(name)s(%(code)s)] counts a checkbox choice") % {"name": name, "code": code})
            if target is None or target.form != form.name:
                raise Unsupported(_("%(name)s is not a field of this instrument") % {"name": name})
            if target.state == "score":
                if not any(s["name"] == name for s in form.scores):
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
        rule = {"name": row.name, "label": {self.base: label}, "method": method,
                **({"items": items} if items else {}), **({"scores": scores} if scores else {}), **rule}
        return rule, notes

    # pass 5: definitions

    def definition(self, form: _Form) -> dict:
        title = form.name.replace("_", " ").replace("-", " ").strip().capitalize()
        definition: dict[str, Any] = {
            "resourceType": "Questionnaire",
            "url": f"urn:ressenti:questionnaire:{self.study.code}:{form.name}",
            "name": form.name,
            "status": "active",
            "language": self.base,
            "subjectType": ["Patient"],
            "title": title,
        }
        if form.scores:
            text = fhir_rules_text({"scores": form.scores})
            definition["extension"] = [{"url": fhir.EXT_RULES, "valueString": text}]
        nodes = [node for _row, node in form.items]
        taken = {node["linkId"] for node in nodes}
        top: list[dict] = nodes[: form.pages[0][0]] if form.pages else nodes
        for number, (start, header, row) in enumerate(form.pages, start=1):
            end = form.pages[number][0] if number < len(form.pages) else len(nodes)
            link_id = f"page_{number}"
            while link_id in taken:
                link_id += "_"
            taken.add(link_id)
            if not header:
                header = title
                self.warn(form, row, _("the section header has no text left once its HTML is removed: the page is "
                                       "titled %(title)s") % {"title": title})
            top.append({"linkId": link_id, "type": "group", "text": header,
                        "extension": [_control("page")], "item": nodes[start:end]})
        definition["item"] = top
        return definition


def fhir_rules_text(rules: dict) -> str:
    """Rules as fhir.definition_from_draft writes them into EXT_RULES."""
    return json.dumps(rules, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def redcap_extension(values: dict[str, Any]) -> dict:
    parts = []
    for key, value in values.items():
        value_key = "valueBoolean" if isinstance(value, bool) else "valueString"
        parts.append({"url": key, value_key: value})
    return {"url": EXT_REDCAP, "extension": parts}


def redcap_facts(node: dict) -> dict[str, Any]:
    """The REDCap facts kept on an item by the import ({} for items from elsewhere)."""
    for ext in node.get("extension", ()):
        if ext.get("url") == EXT_REDCAP:
            return {part["url"]: next((v for k, v in part.items() if k.startswith("value")), None)
                    for part in ext.get("extension", ())}
    return {}


def dictionary_parse(content: bytes, *, study: Study, language: str = "") -> ImportResult:
    """Read a REDCap data dictionary: one questionnaire per instrument, or the problems that stop the import.

    `language` is the language of the file's texts (a dictionary does not say), by default the study's
    fallback language. Problems and warnings name the line (the header is line 1) and the variable.
    """
    base = language or study.fallback_language
    if base not in study.languages:
        return ImportResult(problems=[Problem(_("language"), _("the study is not in %(lang)s")
                                              % {"lang": _lang_name(base)})])
    rows, problems, header_warnings = dictionary_rows(content)
    if problems:
        return ImportResult(problems=problems)
    work = _Import(rows, study, base)
    work.group_forms()
    work.build_items()
    work.conditions()
    work.scores()
    if work.problems:
        return ImportResult(problems=sorted(work.problems, key=_line_of))

    others = [lang for lang in study.languages if lang != base]
    result = ImportResult()
    orphan_warnings: list[Problem] = list(header_warnings)
    for form in work.forms:
        if not any(fhir.item_type(node) != T.DISPLAY for _row, node in form.items):
            orphan_warnings += form.warnings
            orphan_warnings.append(Problem(_("form %(form)s") % {"form": form.name},
                                           _("no question is left to import: the instrument is left out")))
            continue
        definition = work.definition(form)
        lines = {row.name: row for row in form.rows}
        # The checks of publishing, so that what is imported can be published once translated.
        for found in definition_problems(definition, languages=[base]) + scoring_problems(definition, languages=[base]):
            code = found.where.rsplit(" ", 1)[-1]
            where = lines[code].where if code in lines else _("form %(form)s") % {"form": form.name}
            result.problems.append(Problem(where, found.message))
        warnings = list(form.warnings)
        if others:
            warnings.append(Problem(_("form %(form)s") % {"form": form.name}, _(
                "a REDCap dictionary holds one language: its texts are read as %(base)s; add the %(others)s "
                "translations before publishing") % {
                "base": _lang_name(base), "others": ", ".join(_lang_name(o) for o in others)}))
        result.questionnaires.append(ImportedQuestionnaire(
            code=form.name, definition=definition, warnings=sorted(warnings, key=_line_of)))
    if not result.questionnaires:
        result.problems.append(Problem(_("file"), _("no instrument has a question left to import")))
    elif orphan_warnings:
        first = result.questionnaires[0]
        first.warnings = sorted(orphan_warnings + first.warnings, key=_line_of)
    return result


def _line_of(problem: Problem) -> tuple[int, str]:
    match = re.search(r"(\d+)", problem.where)
    return (int(match.group(1)) if match else 0, problem.where)


# --- export ------------------------------------------------------------------------------------


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


def _export_nodes(items: list[dict], inherited: list[dict], header: str = "") -> list[tuple[dict, str, list[dict]]]:
    """(item, section header above it, conditions of the groups around it), in questionnaire order.

    REDCap has pages (section headers) but no nested groups: a group's title becomes the section header
    of its first field, and its conditions are added to each of its fields.
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
    return out


def _logic_value(value: Any) -> str:
    return "'" + str(value).replace("'", "") + "'"


def _condition_logic(cond: dict, target: dict | None, names: dict[str, str]) -> str:
    question = str(cond.get("question", ""))
    var = names.get(question, question)
    operator = cond.get("operator", "=")
    key, value = next(((k, v) for k, v in cond.items() if k.startswith("answer")), ("", None))
    kind = fhir.item_type(target) if target else T.SHORT_TEXT
    codes = [fhir.option_code(o) for o in (target or {}).get("answerOption", [])]
    if operator == "exists":
        present = bool(value)
        if kind == T.MULTIPLE and codes:
            joiner = " or " if present else " and "
            tick = "'1'" if present else "'0'"
            return "(" + joiner.join(f"[{var}({c})] = {tick}" for c in codes) + ")"
        return f"[{var}] {'<>' if present else '='} ''"
    if isinstance(value, dict):
        value = value.get("code", "")
    if kind == T.MULTIPLE:
        return f"[{var}({value})] = '{1 if operator == '=' else 0}'"
    if kind == T.YES_NO or isinstance(value, bool):
        value = "1" if values.to_bool(value) else "0"
    op = {"=": "=", "!=": "<>"}.get(operator, operator)
    if op in ("<", ">", "<=", ">=") and key in ("answerInteger", "answerDecimal"):
        return f"[{var}] {op} {value}"
    return f"[{var}] {op} {_logic_value(value)}"


def _branching(node: dict, scopes: list[dict], by_link: dict[str, dict], names: dict[str, str]) -> str:
    parts = []
    for holder in [*scopes, node]:
        conditions = holder.get("enableWhen", [])
        if not conditions:
            continue
        joiner = " or " if holder.get("enableBehavior") == "any" else " and "
        logic = joiner.join(_condition_logic(c, by_link.get(str(c.get("question"))), names) for c in conditions)
        parts.append(logic)
    if len(parts) > 1:
        return " and ".join(f"({p})" for p in parts)
    return parts[0] if parts else ""


def _calc_of(score: dict, by_link: dict[str, dict], names: dict[str, str], exported: dict[str, str]) -> str | None:
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
                code = fhir.option_code(option)
                weight = values.option_score(option)
                if not _INTEGER.match(code) or weight is None or weight != Decimal(code):
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

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    # REDCap takes the first field as the record ID: keep every question out of that place.
    writer.writerow(_row(name=record_id, form=form, ftype="text", label="Record ID"))
    for node, header, scopes in entries:
        writer.writerow(_export_row(node, header, scopes, form, base, by_link, names))
    exported: dict[str, str] = {}
    taken = set(names.values()) | {record_id}
    for score in fhir.rules_of(definition).get("scores", []):
        equation = _calc_of(score, by_link, names, exported)
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


def _row(**values: str) -> list[str]:
    return [values.get(key, "") for key in KEYS]


def _export_row(node: dict, header: str, scopes: list[dict], form: str, base: str, by_link: dict[str, dict],
                names: dict[str, str]) -> list[str]:
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
            for code, label in ((fhir.option_code(o), fhir.localized(o.get("valueCoding", {}), "display", base, base))
                                for o in node.get("answerOption", []))
        )
    help_node = next((c for c in node.get("item", []) if fhir.item_control(c) == "help"), None)
    note = help_node.get("text", "") if help_node else ""
    if facts.get("sliderLabels"):
        choices = facts["sliderLabels"]
        anchors = slider_help(plain_text(choices)[0], low if low is not None else 0, high if high is not None else 100)
        note = note.removesuffix(anchors).rstrip("\n")
    annotation = facts.get("annotation") or ""
    if node.get("maxLength") and not _CHARLIMIT.search(annotation):
        annotation = " ".join(filter(None, [annotation, f"@CHARLIMIT={node['maxLength']}"]))
    return _row(
        name=names[str(node.get("linkId"))], form=form, section=header, ftype=ftype, label=node.get("text", ""),
        choices=choices, note=note, validation=validation, vmin=vmin, vmax=vmax,
        branching=_branching(node, scopes, by_link, names), required="y" if node.get("required") else "",
        alignment=facts.get("customAlignment") or "", qnum=facts.get("questionNumber") or "",
        matrix=facts.get("matrixGroup") or "", ranking="y" if facts.get("matrixRanking") else "",
        annotation=annotation,
    )
