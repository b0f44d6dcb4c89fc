"""REDCap data dictionary import: one questionnaire per instrument ("Form Name"),
each a FHIR R4 Questionnaire in the shape `fhir.definition_from_draft` writes,
handed to `imports.questionnaire_import`, which writes all of them or none.
docs/redcap.md has the full mapping; the choices that are not obvious:

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

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from surveys.interop.imports import ImportedQuestionnaire, ImportResult
from surveys.interop.redcap.branching import branching_conditions
from surveys.interop.redcap.calculations import score_rule
from surveys.interop.redcap.dictionary import Row, dictionary_rows
from surveys.interop.redcap.fields import (
    CHARLIMIT,
    CHOICE_KINDS,
    DATE_VALIDATION,
    DATETIME_VALIDATION,
    EXPORT_TYPE,
    HIDDEN_TAG,
    KNOWN_TYPES,
    NUMBER_KINDS,
    NUMBER_VALIDATION,
    READONLY_TAG,
    TEXT_FORMATS,
    TIME_VALIDATION,
    WHOLE_NUMBER,
    codebook_read,
    redcap_extension,
)
from surveys.interop.redcap.logic import Unsupported
from surveys.interop.redcap.texts import as_number, parse_decimal, plain_text, slider_help
from surveys.interop.redcap.variables import Known
from surveys.models import Item, Study
from surveys.models.questionnaire import code_validator, option_code_validator
from surveys.questionnaires import fhir, values
from surveys.questionnaires.conditions import EXT_HIDDEN
from surveys.questionnaires.validation import LANGUAGE_NAMES, Problem, definition_problems
from surveys.scoring.compute import scoring_problems

T = Item.Type

# Validation types that only hold an identity: the field is left out like a marked identifier.
_IDENTITY_VALIDATION = re.compile(r"^(email|phone(_\w+)?|ssn|v?mrn(_\w+)?)$")
_IDENTITY_NAME = re.compile(
    r"^(dob|date_?of_?birth|birth_?date|date_?naissance|(first|last|family|given|full|middle|maiden)_?name"
    r"|name_?(first|last|full)|surname|prenom|nom|e_?mail|courriel|(tele)?phone(_?number)?|tel|mobile_?phone"
    r"|address|adresse|street_?address|postal_?address|nir|ssn)(_?\d+)?$"
)
_IDENTITY_LABEL = re.compile(r"date of birth|birth date|date de naissance", re.IGNORECASE)
_ACTION_TAG = re.compile(r"@[A-Z][A-Z0-9_-]*")
_PIPING = re.compile(r"\[[a-z][a-z0-9_]*(\([^)]*\))?(:[a-z-]+)?\]")


def _control(code: str) -> dict:
    return {
        "url": fhir.EXT_ITEM_CONTROL,
        "valueCodeableConcept": {"coding": [{"system": fhir.ITEM_CONTROL_SYSTEM, "code": code}]},
    }


def _lang_name(code: str) -> str:
    return str(LANGUAGE_NAMES.get(code, code))


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
        self.known: dict[str, Known] = {}
        self.forms: list[_Form] = []
        # variable -> (our linkId, REDCap code -> our option code) read from the annotation of a field that an
        # export had to rename or recode (fields.codebook_lines); given back once conditions and scores are read.
        self.origins: dict[str, tuple[str | None, dict[str, str]]] = {}

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
                self.problem(
                    row,
                    _("variable %(name)s is already on line %(line)s")
                    % {"name": row.name, "line": seen_names[row.name]},
                )
                continue
            seen_names[row.name] = row.line
            if not row.form:
                self.problem(row, _("the form name is empty"))
                continue
            form = by_name.get(row.form)
            if form is None:
                if not re.fullmatch(r"[a-z0-9_-]{1,40}", row.form):
                    self.problem(
                        row,
                        _(
                            "form name %(form)s does not fit a questionnaire code: lower-case letters, "
                            "digits or _, 40 characters at most"
                        )
                        % {"form": row.form},
                    )
                form = by_name[row.form] = _Form(row.form, row.line)
                self.forms.append(form)
            elif form is not self.forms[-1]:
                # REDCap itself refuses a dictionary whose instruments are interleaved.
                self.problem(
                    row,
                    _("the rows of form %(form)s are not together (it started on line %(line)s)")
                    % {"form": row.form, "line": form.first_line},
                )
            form.rows.append(row)

    # pass 2: each row -> an item, a score (later), or left out

    def left_out_reason(self, row: Row, first: bool) -> str | None:
        if first and row.ftype == "text" and not row.branching:
            return _("the record ID is left out: the participant's pseudonym plays its role")
        if row.identifier.lower() in ("y", "yes", "1"):
            return _(
                "marked as an identifier: left out, since identities are kept in the patient register, "
                "never in questionnaires"
            )
        validation = row.validation.lower()
        if row.ftype == "text" and _IDENTITY_VALIDATION.match(validation):
            return _(
                "holds an identity (validation %(validation)s) though not marked as an identifier: left out, "
                "since identities are kept in the patient register"
            ) % {"validation": validation}
        if row.ftype in ("text", "notes") and (
            _IDENTITY_NAME.match(row.name.lower()) or _IDENTITY_LABEL.search(row.label)
        ):
            return _(
                "looks like an identity though not marked as an identifier: left out, since identities are "
                "kept in the patient register"
            )
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
                    self.known[row.name] = Known(form.name, "left_out")
                    continue
                if row.ftype == "calc":
                    self.known[row.name] = Known(form.name, "score")
                    continue
                try:
                    code_validator(row.name)
                except ValidationError:
                    self.problem(
                        row,
                        _(
                            "the variable name does not fit an item code: a letter, then letters, digits "
                            "or _, 40 characters at most"
                        ),
                    )
                    continue
                node = self.item_node(form, row)
                if node is None:
                    continue
                if pending_header is not None:
                    form.pages.append((len(form.items), pending_header[0], pending_header[1]))
                    pending_header = None
                kind = fhir.item_type(node)
                codes = [fhir.option_code(o) for o in node.get("answerOption", [])]
                self.known[row.name] = Known(
                    form.name,
                    "item",
                    kind,
                    len(form.items),
                    codes,
                    bool(codes) and all(WHOLE_NUMBER.match(c) for c in codes),
                )
                form.items.append((row, node))

    def text_warnings(self, form: _Form, row: Row, raw: str, had_html: bool, what: str) -> None:
        """Say what became of HTML and piping in a text (what: "label", "note" or "section")."""
        if had_html:
            self.warn(
                form,
                row,
                {
                    "label": _("the HTML formatting of the label was removed"),
                    "note": _("the HTML formatting of the field note was removed"),
                    "section": _("the HTML formatting of the section header was removed"),
                }[what],
            )
        if _PIPING.search(raw):
            self.warn(
                form,
                row,
                {
                    "label": _(
                        "the label pipes another field's answer, which Ressenti does not do: it shows the brackets "
                        "as written"
                    ),
                    "note": _(
                        "the field note pipes another field's answer, which Ressenti does not do: it shows the "
                        "brackets as written"
                    ),
                    "section": _(
                        "the section header pipes another field's answer, which Ressenti does not do: it shows "
                        "the brackets as written"
                    ),
                }[what],
            )

    def item_node(self, form: _Form, row: Row) -> dict | None:
        """The FHIR item of one field, or None after reporting why it cannot be one."""
        annotation, original_link_id, original_codes = codebook_read(row.annotation)
        if original_link_id or original_codes:
            self.origins[row.name] = (original_link_id, original_codes)
        validation = row.validation.lower()
        redcap: dict[str, Any] = {}
        low = high = None
        slider_labels = ""
        if row.ftype == "text":
            if not validation:
                kind = T.SHORT_TEXT
            elif validation in ("integer", "int"):
                kind = T.INTEGER
            elif NUMBER_VALIDATION.match(validation):
                kind = T.DECIMAL
            elif validation in DATE_VALIDATION:
                kind = T.DATE
            elif DATETIME_VALIDATION.match(validation):
                kind = T.DATETIME
            elif validation in TIME_VALIDATION:
                kind = T.TIME
            else:
                kind = T.SHORT_TEXT
                if validation not in TEXT_FORMATS:
                    self.warn(
                        form,
                        row,
                        _("the format %(validation)s is not checked: the answer is a short text")
                        % {"validation": validation},
                    )
        else:
            kind = {
                "notes": T.LONG_TEXT,
                "radio": T.SINGLE,
                "dropdown": T.SINGLE,
                "checkbox": T.MULTIPLE,
                "yesno": T.YES_NO,
                "truefalse": T.YES_NO,
                "descriptive": T.DISPLAY,
            }.get(row.ftype, T.VAS)
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
        if row.ftype == "text" and validation in TEXT_FORMATS:
            # Checked as REDCap checks it, on the page and on the server (values.answer_format).
            pattern, example = TEXT_FORMATS[validation]
            ext += [
                {"url": values.EXT_REGEX, "valueString": pattern},
                {"url": values.EXT_ENTRY_FORMAT, "valueString": example},
            ]
        if slider_labels:
            redcap["sliderLabels"] = slider_labels
        for key, value in (
            ("customAlignment", row.alignment),
            ("questionNumber", row.qnum),
            ("matrixGroup", row.matrix),
            ("annotation", annotation),
        ):
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
        limit = CHARLIMIT.search(annotation)
        if limit and kind in (T.SHORT_TEXT, T.LONG_TEXT):
            node["maxLength"] = int(limit.group(1))
        # Never asked of a patient, as REDCap never asks them on a survey (the value stays a field of the record).
        if HIDDEN_TAG.search(annotation):
            ext.append({"url": EXT_HIDDEN, "valueBoolean": True})
        if READONLY_TAG.search(annotation) and kind != T.DISPLAY:
            node["readOnly"] = True
        applied = {"@CHARLIMIT", "@HIDDEN", "@HIDDEN-SURVEY", "@READONLY", "@READONLY-SURVEY"}
        others = sorted({t for t in _ACTION_TAG.findall(annotation) if t not in applied})
        if others:
            self.warn(
                form,
                row,
                _("the action tags %(tags)s are kept with the field but not applied") % {"tags": ", ".join(others)},
            )
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
            node["item"] = [
                {"linkId": f"{row.name}__help", "type": "display", "text": help_text, "extension": [_control("help")]}
            ]
        return node

    def limits(self, row: Row, kind: str) -> tuple[Any, Any]:
        """(min, max) as numbers of the item's kind, or (False, False) after reporting a problem."""
        whole = kind != T.DECIMAL
        bounds = []
        for raw, is_min in ((row.vmin, True), (row.vmax, False)):
            if not raw:
                bounds.append(None)
                continue
            value = parse_decimal(raw)
            if value is None or (whole and value != value.to_integral_value()):
                if whole:
                    message = (
                        _("the minimum %(value)s is not a whole number")
                        if is_min
                        else _("the maximum %(value)s is not a whole number")
                    )
                else:
                    message = (
                        _("the minimum %(value)s is not a number")
                        if is_min
                        else _("the maximum %(value)s is not a number")
                    )
                self.problem(row, message % {"value": raw})
                return False, False
            bounds.append(as_number(value))
        low, high = bounds
        if low is not None and high is not None and low >= high:
            self.problem(
                row, _("the minimum (%(low)s) must be below the maximum (%(high)s)") % {"low": low, "high": high}
            )
            return False, False
        return low, high

    def options(self, row: Row) -> list[dict] | None:
        if not row.choices.strip():
            self.problem(
                row, _('a %(type)s field needs choices written "code, label | code, label"') % {"type": row.ftype}
            )
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
                self.problem(row, _('the choice %(choice)s has no code: write "code, label"') % {"choice": part})
                return None
            try:
                option_code_validator(code)
            except ValidationError:
                self.problem(
                    row,
                    _(
                        "the choice code %(code)s does not fit an option code: letters, digits or _, "
                        "optionally after a minus sign"
                    )
                    % {"code": code},
                )
                return None
            if code in seen:
                self.problem(row, _("the choice code %(code)s is used twice") % {"code": code})
                return None
            seen.add(code)
            option: dict[str, Any] = {"valueCoding": {"code": code, "display": label}}
            if WHOLE_NUMBER.match(code):
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
                    conditions, behaviour = branching_conditions(row, form_name=form.name, known=self.known)
                except Unsupported as exc:
                    self.problem(
                        row,
                        _("branching logic %(logic)s cannot be translated: %(reason)s")
                        % {"logic": row.branching, "reason": exc},
                    )
                    continue
                node["enableWhen"] = conditions
                if len(conditions) > 1:
                    node["enableBehavior"] = behaviour

    # pass 4: calc fields -> score rules

    def scores(self) -> None:
        for form in self.forms:
            for row in form.rows:
                known = self.known.get(row.name)
                if row.ftype != "calc" or known is None or known.state != "score":
                    continue
                try:
                    rule, notes = score_rule(
                        row, form_name=form.name, earlier_rules=form.scores, known=self.known, base=self.base
                    )
                except Unsupported as exc:
                    known.state = "left_out"
                    self.warn(
                        form,
                        row,
                        _(
                            "the calculation %(calc)s is left out: %(reason)s (Ressenti computes sums "
                            "and means of answers)"
                        )
                        % {"calc": row.choices, "reason": exc},
                    )
                    continue
                for note in notes:
                    self.warn(form, row, note)
                form.scores.append(rule)

    # pass 5: what an export changed to fit REDCap, given back (the annotation's codebook)

    def restore_origins(self, form: _Form) -> None:
        if not self.origins:
            return
        taken = {row.name for row, _node in form.items}
        renamed = {
            name: link_id
            for name, (link_id, _codes) in self.origins.items()
            if link_id and name in taken and link_id not in taken
        }
        for row, node in form.items:
            codes = self.origins.get(row.name, (None, {}))[1]
            for option in node.get("answerOption", []):
                coding = option["valueCoding"]
                coding["code"] = codes.get(coding["code"], coding["code"])
            for condition in node.get("enableWhen", []):
                question = str(condition.get("question", ""))
                asked = self.origins.get(question, (None, {}))[1]
                if "answerCoding" in condition:
                    code = condition["answerCoding"]["code"]
                    condition["answerCoding"]["code"] = asked.get(code, code)
                condition["question"] = renamed.get(question, question)
            if row.name in renamed:
                node["linkId"] = renamed[row.name]
                for child in node.get("item", []):
                    if child.get("linkId") == f"{row.name}__help":
                        child["linkId"] = f"{renamed[row.name]}__help"
        for rule in form.scores:
            if "items" in rule:
                rule["items"] = [renamed.get(name, name) for name in rule["items"]]

    # pass 6: definitions

    def definition(self, form: _Form) -> dict:
        self.restore_origins(form)
        title = form.name.replace("_", " ").replace("-", " ").strip().capitalize()
        definition: dict[str, Any] = {
            "resourceType": "Questionnaire",
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
                self.warn(
                    form,
                    row,
                    _("the section header has no text left once its HTML is removed: the page is titled %(title)s")
                    % {"title": title},
                )
            top.append(
                {
                    "linkId": link_id,
                    "type": "group",
                    "text": header,
                    "extension": [_control("page")],
                    "item": nodes[start:end],
                }
            )
        definition["item"] = top
        return definition


def fhir_rules_text(rules: dict) -> str:
    """Rules as fhir.definition_from_draft writes them into EXT_RULES."""
    return json.dumps(rules, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def dictionary_parse(content: bytes, *, study: Study, language: str = "") -> ImportResult:
    """Read a REDCap data dictionary: one questionnaire per instrument, or the problems that stop the import.

    `language` is the language of the file's texts (a dictionary does not say), by default the study's
    fallback language. Problems and warnings name the line (the header is line 1) and the variable.
    """
    base = language or study.fallback_language
    if base not in study.languages:
        return ImportResult(
            problems=[Problem(_("language"), _("the study is not in %(lang)s") % {"lang": _lang_name(base)})]
        )
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
            orphan_warnings.append(
                Problem(
                    _("form %(form)s") % {"form": form.name},
                    _("no question is left to import: the instrument is left out"),
                )
            )
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
            warnings.append(
                Problem(
                    _("form %(form)s") % {"form": form.name},
                    _(
                        "a REDCap dictionary holds one language: its texts are read as %(base)s; add the %(others)s "
                        "translations before publishing"
                    )
                    % {"base": _lang_name(base), "others": ", ".join(_lang_name(o) for o in others)},
                )
            )
        result.questionnaires.append(
            ImportedQuestionnaire(code=form.name, definition=definition, warnings=sorted(warnings, key=_line_of))
        )
    if not result.questionnaires:
        result.problems.append(Problem(_("file"), _("no instrument has a question left to import")))
    elif orphan_warnings:
        first = result.questionnaires[0]
        first.warnings = sorted(orphan_warnings + first.warnings, key=_line_of)
    return result


def _line_of(problem: Problem) -> tuple[int, str]:
    match = re.search(r"(\d+)", problem.where)
    return (int(match.group(1)) if match else 0, problem.where)
