"""REDCap field types and validations, and the REDCap facts an imported item keeps for the export."""

from __future__ import annotations

import json
import re
from typing import Any

from surveys.models import Item
from surveys.questionnaires import values

T = Item.Type
# REDCap facts with no place in FHIR, kept on the item so that an export gives back what was imported.
EXT_REDCAP = "urn:ressenti:fhir:extension:redcap-field"

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
    T.TIME: ("text", "time"),
    T.DATETIME: ("text", "datetime_ymd"),
    T.SHORT_TEXT: ("text", ""),
    T.LONG_TEXT: ("notes", ""),
}
NUMBER_KINDS = values.NUMBER_TYPES
CHOICE_KINDS = {T.SINGLE, T.MULTIPLE}
LEFT_OUT_TYPES = {"file", "sql"}
KNOWN_TYPES = {
    "text",
    "notes",
    "radio",
    "dropdown",
    "checkbox",
    "yesno",
    "truefalse",
    "slider",
    "descriptive",
    "calc",
} | LEFT_OUT_TYPES

NUMBER_VALIDATION = re.compile(r"^(number|float)(_\ddp)?(_comma_decimal)?$")
DATETIME_VALIDATION = re.compile(r"^datetime(_seconds)?(_ymd|_dmy|_mdy)?$")
DATE_VALIDATION = {"date_ymd", "date_dmy", "date_mdy", "date"}
# A time of day (REDCap's H:MM or HH:MM up to 23:59, with seconds for time_hh_mm_ss): our time item, which
# the page asks with the browser's time control and the server reads (values.read_time) the same way.
TIME_VALIDATION = {"time", "time_hh_mm_ss"}
# REDCap validations that are a format of the typed text, kept as a check: validation -> (pattern, example).
# The patterns are REDCap's own (its redcap_validation_types table), written for both Python and the HTML
# `pattern` attribute. Decimal places are exact, as in REDCap (number_1dp takes 3.1, not 3 or 3.14); a decimal
# comma is taken too, as patients in France type it.
TEXT_FORMATS: dict[str, tuple[str, str]] = {
    "time_mm_ss": ("[0-5][0-9]:[0-5][0-9]", "MM:SS"),
    "zipcode": ("[0-9]{5}(-[0-9]{4})?", "12345 / 12345-6789"),
    "postalcode_french": ("(0[1-9]|[1-8][0-9]|9[0-8])[0-9]{3}", "75011"),
    "postalcode_germany": ("[0-9]{5}", "10115"),
    "postalcode_australia": ("[0-9]{4}", "2000"),
    "postalcode_canada": ("[ABCEGHJ-NPRSTVXYabceghj-nprstvxy][0-9][A-Za-z] *[0-9][A-Za-z][0-9]", "K1A 0B1"),
    "alpha_only": ("[A-Za-z]+", "abc"),
    "number_comma_decimal": ("-?[0-9]+([.,][0-9]+)?", "3,14"),
}
for _places in range(1, 5):
    for _suffix in ("", "_comma_decimal"):
        TEXT_FORMATS[f"number_{_places}dp{_suffix}"] = (
            f"-?[0-9]+[.,][0-9]{{{_places}}}",
            "0" + (",", ".")[not _suffix] + "0" * _places,
        )
# The action tag that limits a text answer's length: read as maxLength, written back from it.
CHARLIMIT = re.compile(r"@CHARLIMIT\s*=\s*['\"]?(\d+)")
# REDCap's action tags that keep a field from a participant's survey (upper case, as REDCap reads them):
# @HIDDEN hides it everywhere and @HIDDEN-SURVEY on the survey page (our questionnaire-hidden; @HIDDEN-FORM,
# -APP and -PDF leave the survey alone); @READONLY and @READONLY-SURVEY show it without letting it be changed,
# as REDCap shows the value @CALCTEXT and @CALCDATE compute (our readOnly).
HIDDEN_TAG = re.compile(r"(?<![\w@-])@HIDDEN(?:-SURVEY)?(?![\w-])")
READONLY_TAG = re.compile(r"(?<![\w@-])(?:@READONLY(?:-SURVEY)?(?![\w-])|@CALC(?:TEXT|DATE)\s*\()")
# A raw choice code that REDCap's calculations add as a number.
WHOLE_NUMBER = re.compile(r"^-?\d+$")
# A raw choice code REDCap takes: a whole number, or letters, digits and _ (REDCap turns a "-" of a checkbox
# code into "_" in its column names, and refuses dots, dashes and spaces in codes: LOINC's LA6568-5, a date).
REDCAP_CODE = re.compile(r"-?[0-9]+|[A-Za-z0-9_]+")

# What the export had to change to fit REDCap, written in the field's annotation (REDCap's documentation
# column, which REDCap shows and keeps but does not act on) so a person reads it and an import undoes it.
CODEBOOK_CODES = "Ressenti codes (REDCap = Ressenti): "
CODEBOOK_LINK_ID = "Ressenti linkId: "


def codebook_lines(*, link_id: str | None, codes: dict[str, str]) -> list[str]:
    """The annotation lines of a field whose variable name or choice codes differ from ours."""
    lines = []
    if link_id is not None:
        lines.append(CODEBOOK_LINK_ID + json.dumps(link_id, ensure_ascii=False))
    if codes:
        lines.append(CODEBOOK_CODES + json.dumps(codes, ensure_ascii=False, separators=(", ", ": ")))
    return lines


def codebook_read(annotation: str) -> tuple[str, str | None, dict[str, str]]:
    """(the annotation without the codebook lines, our linkId, REDCap code -> our option code)."""
    kept: list[str] = []
    link_id: str | None = None
    codes: dict[str, str] = {}
    for line in annotation.splitlines():
        stripped = line.strip()
        try:
            if stripped.startswith(CODEBOOK_LINK_ID):
                found = json.loads(stripped.removeprefix(CODEBOOK_LINK_ID))
                if isinstance(found, str) and found:
                    link_id = found
                    continue
            elif stripped.startswith(CODEBOOK_CODES):
                found = json.loads(stripped.removeprefix(CODEBOOK_CODES))
                if isinstance(found, dict) and all(isinstance(v, str) and v for v in found.values()):
                    codes = {str(k): v for k, v in found.items()}
                    continue
        except json.JSONDecodeError:
            pass  # someone's own text that starts the same way: kept as written
        kept.append(line)
    return "\n".join(kept).strip(), link_id, codes


def redcap_extension(values: dict[str, Any]) -> dict:
    """The EXT_REDCAP extension holding these facts (the reverse of redcap_facts)."""
    parts = []
    for key, value in values.items():
        value_key = "valueBoolean" if isinstance(value, bool) else "valueString"
        parts.append({"url": key, value_key: value})
    return {"url": EXT_REDCAP, "extension": parts}


def redcap_facts(node: dict) -> dict[str, Any]:
    """The REDCap facts kept on an item by the import ({} for items from elsewhere)."""
    for ext in node.get("extension", ()):
        if ext.get("url") == EXT_REDCAP:
            return {
                part["url"]: next((v for k, v in part.items() if k.startswith("value")), None)
                for part in ext.get("extension", ())
            }
    return {}
