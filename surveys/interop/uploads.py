"""Upload limits and safe parsing: every uploaded or imported file goes through here before a parser.

A hostile file must cost little and end in a clear refusal, never a 500 or a long parse:
the raw size is capped; an .xlsx (a zip) is refused from its central directory when its
members would expand past a cap, expand absurdly or are too many, and is then decompressed
once, counting, because a central directory can lie about sizes; XML inside it is parsed by
openpyxl through defusedxml (entities refused); JSON is refused above a nesting depth before
the recursive decoder runs; text must be UTF-8, and the refusal says on which line.

Callers turn `UploadRefused` into their own answer: a form error, a 400, a CommandError.
The caps are settings (RESSENTI_UPLOAD_*, config/settings/base.py).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MB = 1024 * 1024
# Members smaller than this may be very repetitive (styles, empty sheets) without being a bomb.
RATIO_MIN_BYTES = 1 * MB
_JSON_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class UploadRefused(Exception):
    """A file refused before or while parsing; `where` and `message` are shown to the person."""

    def __init__(self, message: str, where: str = "", line: int = 1):
        self.message = message
        self.where = where or _("file")
        self.line = line  # for callers that report problems by line
        super().__init__(f"{self.where}: {message}")


def _limit(name: str) -> int:
    """A cap of config/settings/base.py (RESSENTI_UPLOAD_*), read at call time so tests can change it."""
    return int(getattr(settings, name))


def max_bytes() -> int:
    return _limit("RESSENTI_UPLOAD_MAX_BYTES")


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n} bytes"


def upload_size_check(content: bytes) -> None:
    """The raw file size cap, for paths that get bytes without Django's upload limits (commands)."""
    if len(content) > max_bytes():
        raise UploadRefused(_("the file is larger than %(size)s") % {"size": _size(max_bytes())})


# --- zip / xlsx ---------------------------------------------------------------------------------


def zip_check(content: bytes) -> None:
    """Refuse a zip that would expand too far, before anything decompresses it for real."""
    upload_size_check(content)
    total_cap = _limit("RESSENTI_UPLOAD_MAX_UNCOMPRESSED_BYTES")
    ratio_cap = _limit("RESSENTI_UPLOAD_MAX_RATIO")
    members_cap = _limit("RESSENTI_UPLOAD_MAX_MEMBERS")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadRefused(_("the file is not an .xlsx workbook (not a readable zip archive; truncated?)")) from None
    with archive:
        members = archive.infolist()
        if len(members) > members_cap:
            raise UploadRefused(
                _("the workbook holds %(count)s parts, more than %(cap)s") % {"count": len(members), "cap": members_cap}
            )
        declared = sum(member.file_size for member in members)
        if declared > total_cap:
            raise UploadRefused(
                _("the workbook expands to %(size)s, more than %(cap)s")
                % {"size": _size(declared), "cap": _size(total_cap)}
            )
        for member in members:
            if member.file_size >= RATIO_MIN_BYTES and member.file_size > ratio_cap * max(member.compress_size, 1):
                raise UploadRefused(
                    _("the part %(name)s expands %(ratio)s times: refused as a zip bomb")
                    % {"name": member.filename, "ratio": member.file_size // max(member.compress_size, 1)}
                )
        # The central directory may understate sizes: decompress once, counting, and stop at the cap.
        seen = 0
        try:
            for member in members:
                with archive.open(member) as stream:
                    first = True
                    while chunk := stream.read(256 * 1024):
                        # Office parts never declare a DTD; one is an entity attack (XXE, billion laughs).
                        # Only the prolog may hold it; defusedxml still guards openpyxl past this.
                        if first and b"<!DOCTYPE" in chunk.upper():
                            raise UploadRefused(
                                _("the part %(name)s declares a DTD (XML entities), which is refused")
                                % {"name": member.filename}
                            )
                        first = False
                        seen += len(chunk)
                        if seen > total_cap:
                            raise UploadRefused(
                                _("the workbook expands to more than %(cap)s") % {"cap": _size(total_cap)}
                            )
        except UploadRefused:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise UploadRefused(_("the workbook is damaged (%(error)s)") % {"error": exc}) from None


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    """The cell values of the first sheet of a checked .xlsx, row by row."""
    zip_check(content)
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            if not workbook.worksheets:
                raise UploadRefused(_("the workbook has no sheet"))
            return list(workbook.worksheets[0].iter_rows(values_only=True))
        finally:
            workbook.close()
    except UploadRefused:
        raise
    except DefusedXmlException:
        raise UploadRefused(
            _("the workbook's XML declares entities or external references, which are refused")
        ) from None
    except Exception as exc:  # noqa: BLE001 - openpyxl and lxml raise many types on a malformed workbook
        raise UploadRefused(
            _("the file cannot be read as an .xlsx workbook (%(error)s)") % {"error": type(exc).__name__}
        ) from None


# --- text and JSON -----------------------------------------------------------------------------


def text_decode(content: bytes) -> str:
    """UTF-8 text (a BOM allowed), or a refusal naming the line and column of the first bad byte."""
    upload_size_check(content)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = content.count(b"\n", 0, start) + 1
        column = start - (content.rfind(b"\n", 0, start) + 1) + 1
        raise UploadRefused(
            _("is not UTF-8 text (first bad byte at line %(line)s, column %(col)s): save it as UTF-8")
            % {"line": line, "col": column},
            line=line,
        ) from None


def _where(text: str, index: int) -> str:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return _("line %(line)s, column %(col)s") % {"line": line, "col": column}


def json_depth_check(text: str) -> None:
    """Refuse nesting deeper than the cap without recursing (json.loads would hit RecursionError)."""
    cap = _limit("RESSENTI_UPLOAD_MAX_JSON_DEPTH")
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > cap:
                raise UploadRefused(
                    _("JSON nested deeper than %(cap)s levels") % {"cap": cap}, _where(text, match.start())
                )
        elif token in "]}":
            depth -= 1


def json_parse(text: str) -> Any:
    """json.loads behind the depth cap; any malformed JSON is an UploadRefused saying where."""
    json_depth_check(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UploadRefused(_("invalid JSON: %(msg)s") % {"msg": exc.msg}, _where(exc.doc, exc.pos)) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits
        raise UploadRefused(_("invalid JSON: %(msg)s") % {"msg": exc}) from None


def json_file(content: bytes) -> Any:
    return json_parse(text_decode(content))


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser behind the same depth cap: a deep body is a 400, not a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        # The size is capped before this: DRF reads request.body, which Django refuses (400) above
        # DATA_UPLOAD_MAX_MEMORY_SIZE.
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise ParseError(
                _("JSON parse error - the body is not %(encoding)s text") % {"encoding": encoding}
            ) from None
        try:
            return json_parse(text)
        except UploadRefused as refused:
            raise ParseError(
                _("JSON parse error - %(where)s: %(message)s") % {"where": refused.where, "message": refused.message}
            ) from None
