"""The data dictionary file: its 18 standard columns (with older spellings) and its rows, as read from CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from surveys.interop import uploads
from surveys.questionnaires.validation import Problem

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
                warnings.append(
                    Problem(
                        where, _("column %(name)s is not a data dictionary column: ignored") % {"name": cell.strip()}
                    )
                )
            keys.append("")
            continue
        key, title, api = COLUMNS[index]
        accepted = {_normalised(title), _normalised(api)} | _ALIASES.get(key, set())
        if _normalised(cell) not in accepted:
            problems.append(
                Problem(
                    where,
                    _("expected the column %(expected)s, found %(found)s")
                    % {"expected": title, "found": cell.strip() or _("an empty cell")},
                )
            )
        keys.append(key)
    missing = [key for key in KEYS[len(header) :] if key not in _OPTIONAL_TAIL]
    for key in missing:
        index = KEYS.index(key)
        problems.append(
            Problem(
                _("line 1, column %(n)s") % {"n": index + 1},
                _("the column %(expected)s is missing") % {"expected": COLUMNS[index][1]},
            )
        )
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
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys) :]):
                problems.append(
                    Problem(
                        _("line %(line)s") % {"line": line},
                        _("%(found)s cells where the header has %(expected)s (a comma outside quotes?)")
                        % {"found": len(cells), "expected": len(keys)},
                    )
                )
                continue
            fields = {key: cell.strip() for key, cell in zip(keys, cells, strict=False) if key}
            rows.append(Row(line=line, **fields))
    except csv.Error as exc:
        problems.append(
            Problem(_("line %(line)s") % {"line": start}, _("the CSV cannot be read: %(error)s") % {"error": exc})
        )
    if not keys:
        problems.append(Problem(_("file"), _("is empty")))
    return rows, problems, warnings
