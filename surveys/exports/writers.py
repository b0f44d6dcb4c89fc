"""Write an export in any format: `export_write(spec=..., out=...)`.

Every format streams the responses from the database (source.responses_stream) and writes as it
reads: CSV row by row (the wide CSV on PostgreSQL as PostgreSQL builds it, one COPY per table:
wide_sql.py, the same bytes), Excel through openpyxl's write-only mode (rows go to temporary files, not
memory), NDJSON line by line, zip entries as they are written (no seeking: `out` may be a pipe).
.sav/.dta declare text widths and the row count before the data: one questionnaire's rows are
spooled to a temporary file, then written row by row to a temporary .sav/.dta that is copied to
`out` (statfiles.py, spss.py, stata.py); memory stays flat, the disk holds the rows twice.

Wide formats make one table per questionnaire: CSV, .sav and .dta give one file, or a zip with one
file per questionnaire when the export holds several; Excel gives one sheet per questionnaire.
Prefixed columns in one table would leave most cells empty, since a timepoint asks one
questionnaire. Long formats make one table for all questionnaires (a questionnaire column).

CSV: UTF-8 without a byte-order mark, comma-separated, "." as decimal point, ISO 8601 dates: what
R, pandas, Stata and SPSS read by default. Excel users take the .xlsx, which opens correctly
whatever the language of Excel (a French Excel expects ";" and would split a CSV wrongly anyway).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from django.utils.translation import gettext as _
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from surveys.exports.catalogue import QuestionnaireCatalogue, export_questionnaires, questionnaire_catalogue
from surveys.exports.codebook import codebook_header, codebook_html_write, codebook_rows
from surveys.exports.source import ResponseRow, responses_queryset, responses_stream
from surveys.exports.spec import ExportSpec, ExportSpecError, ExportStats
from surveys.exports.statfiles import RowSpool, statfile_write
from surveys.exports.tables import Context, long_columns, long_rows, wall_clock, wide_columns, wide_values
from surveys.exports.wide_sql import wide_csv_rows_sql
from surveys.models import Study

Progress = Callable[[int, int], None]

# Excel's limit is 1,048,576 rows per sheet; a long export past it goes on to another sheet.
XLSX_MAX_ROWS = 1_048_575
PROGRESS_EVERY = 500

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
    "dta": "application/x-stata-dta",
    "zip": "application/zip",
    "html": "text/html; charset=utf-8",
    "ndjson": "application/fhir+ndjson",
}

EXT_META = "urn:ressenti:fhir:extension:export-"


# --- names --------------------------------------------------------------------------------


def _zipped(spec: ExportSpec) -> bool:
    return spec.format in ("wide_csv", "sav", "dta") and len(export_questionnaires(spec)) > 1


def _extension(spec: ExportSpec) -> str:
    if _zipped(spec):
        return "zip"
    return {
        "long_csv": "csv",
        "wide_csv": "csv",
        "long_xlsx": "xlsx",
        "wide_xlsx": "xlsx",
        "sav": "sav",
        "dta": "dta",
        "codebook_csv": "csv",
        "codebook_html": "html",
        "fhir_ndjson": "ndjson",
    }[spec.format]


def export_filename(spec: ExportSpec) -> str:
    """The file's name: study code, what it holds, the extension (".zip" for several wide files)."""
    study = Study.objects.only("code").get(pk=spec.study_id)
    questionnaires = export_questionnaires(spec)
    what = {
        "long_csv": "long",
        "long_xlsx": "long",
        "wide_csv": "wide",
        "wide_xlsx": "wide",
        "sav": "spss",
        "dta": "stata",
        "codebook_csv": "codebook",
        "codebook_html": "codebook",
        "fhir_ndjson": "fhir",
    }[spec.format]
    if spec.is_wide and spec.format != "wide_xlsx" and len(questionnaires) == 1:
        what = f"{questionnaires[0].code}_{what}"
    return f"{study.code}_{what}.{_extension(spec)}"


def export_media_type(spec: ExportSpec) -> str:
    return MEDIA_TYPES[_extension(spec)]


def export_count(spec: ExportSpec) -> int:
    """Responses the export reads (one COUNT query): to choose between streaming now and a background
    job, and the total of the progress bar. 0 for a codebook, which reads definitions only."""
    if spec.is_codebook:
        return 0
    codes = [q.code for q in export_questionnaires(spec)]
    return responses_queryset(spec, questionnaires=codes).count()


# --- cells ----------------------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _text_out(binary: BinaryIO) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=True)


class _Counter:
    """Counts responses and participants, and calls `progress` every PROGRESS_EVERY responses."""

    def __init__(self, spec: ExportSpec, progress: Progress | None, stats: ExportStats):
        self.progress = progress
        self.stats = stats
        self.total = export_count(spec) if progress else 0
        self._participants: set[int] = set()
        if progress:
            progress(0, self.total)

    def seen(self, row: ResponseRow) -> None:
        self.stats.responses += 1
        self._participants.add(row.participant_id)
        if self.progress and self.stats.responses % PROGRESS_EVERY == 0:
            self.progress(self.stats.responses, max(self.total, self.stats.responses))

    def seen_table(self, rows: int, participants: list[int]) -> None:
        """A table written without reading its rows here (wide_sql): its counts at once."""
        self.stats.responses += rows
        self._participants.update(participants)
        if self.progress:
            self.progress(self.stats.responses, max(self.total, self.stats.responses))

    def done(self) -> None:
        self.stats.participants = len(self._participants)
        if self.progress:
            self.progress(self.stats.responses, max(self.total, self.stats.responses))


def _stream(
    spec: ExportSpec, cats: dict[str, QuestionnaireCatalogue], counter: _Counter, codes: list[str] | None = None
) -> Iterator[tuple[ResponseRow, QuestionnaireCatalogue]]:
    for row in responses_stream(spec, questionnaires=codes if codes is not None else list(cats)):
        counter.seen(row)
        yield row, cats[row.questionnaire]


# --- formats ----------------------------------------------------------------------------------


def _long_csv(spec, ctx, cats, out, counter, stats) -> None:
    text = _text_out(out)
    writer = csv.writer(text)
    writer.writerow(long_columns(ctx))
    for row, cat in _stream(spec, cats, counter):
        for values in long_rows(row, cat, ctx):
            writer.writerow([csv_cell(v) for v in values])
            stats.rows += 1
    text.flush()
    text.detach()


def _wide_csv_one(spec, ctx, cat, binary, counter, stats, *, use_sql: bool = True) -> None:
    """The header, then the rows: built by PostgreSQL when it can (wide_sql.py, the same bytes),
    else here, row by row (the reference, and the writer on SQLite)."""
    text = _text_out(binary)
    writer = csv.writer(text)
    columns = wide_columns(cat, ctx)
    writer.writerow([c.name for c in columns])
    text.flush()
    if use_sql:
        done_before = stats.responses
        progress = None
        if counter.progress:

            def progress(rows: int) -> None:
                done = done_before + rows
                counter.progress(done, max(counter.total, done))

        built = wide_csv_rows_sql(spec=spec, ctx=ctx, cat=cat, columns=columns, out=binary, progress=progress)
        if built is not None:
            counter.seen_table(built.rows, built.participants)
            stats.rows += built.rows
            text.detach()
            return
    for row, _cat in _stream(spec, {cat.code: cat}, counter):
        writer.writerow([csv_cell(v) for v in wide_values(row, cat, columns, ctx)])
        stats.rows += 1
    text.flush()
    text.detach()


XLSX_MAX_TEXT = 32767  # characters Excel keeps in a cell


def _xlsx_cell(sheet, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones: local time of the study
    if not isinstance(value, str):
        return value
    # Control characters a patient's phone may send are not allowed in the file format.
    value = ILLEGAL_CHARACTERS_RE.sub("", value)[:XLSX_MAX_TEXT]
    if value[:1] in ("=", "+", "-", "@"):
        # Patients type text: it must stay text, never become a formula.
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _xlsx(spec, ctx, cats, out, counter, stats, *, wide: bool) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    if wide:
        for cat in cats.values():
            sheet = book.create_sheet(title=cat.code[:31])
            columns = wide_columns(cat, ctx)
            sheet.append([c.name for c in columns])
            for row, _cat in _stream(spec, {cat.code: cat}, counter):
                sheet.append([_xlsx_cell(sheet, v) for v in wide_values(row, cat, columns, ctx)])
                stats.rows += 1
        if not cats:
            book.create_sheet(title="wide")
    else:
        header = long_columns(ctx)
        sheet, used, number = None, XLSX_MAX_ROWS, 0
        for row, cat in _stream(spec, cats, counter):
            for values in long_rows(row, cat, ctx):
                if used >= XLSX_MAX_ROWS:
                    number += 1
                    sheet = book.create_sheet(title="long" if number == 1 else f"long_{number}")
                    sheet.append(header)
                    used = 0
                sheet.append([_xlsx_cell(sheet, v) for v in values])
                used += 1
                stats.rows += 1
        if sheet is None:
            book.create_sheet(title="long").append(header)
    book.save(out)


def _statfile(spec, ctx, cat, binary, counter, stats, fmt: str, workdir: str) -> None:
    columns = wide_columns(cat, ctx)
    spool = RowSpool(columns, directory=workdir)
    try:
        for row, _cat in _stream(spec, {cat.code: cat}, counter):
            spool.append(wide_values(row, cat, columns, ctx, numeric=True))
            stats.rows += 1
        path = os.path.join(workdir, f"{cat.code}.{fmt}")
        statfile_write(path=path, fmt=fmt, cat=cat, columns=columns, spool=spool, ctx=ctx)
    finally:
        spool.close()
    with open(path, "rb") as source:
        shutil.copyfileobj(source, binary, 1024 * 1024)
    os.unlink(path)


def _wide_files(spec, ctx, cats, out, counter, stats, study: Study) -> None:
    """wide_csv, sav, dta: one file, or a zip of one file per questionnaire."""
    fmt = {"wide_csv": "csv", "sav": "sav", "dta": "dta"}[spec.format]
    with tempfile.TemporaryDirectory(prefix="ressenti-export-") as workdir:

        def one(cat, binary):
            if fmt == "csv":
                _wide_csv_one(spec, ctx, cat, binary, counter, stats)
            else:
                _statfile(spec, ctx, cat, binary, counter, stats, fmt, workdir)

        if len(cats) == 1:
            one(next(iter(cats.values())), out)
            return
        stats.files = len(cats)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for cat in cats.values():
                name = f"{study.code}_{cat.code}_wide.{fmt}" if fmt == "csv" else f"{study.code}_{cat.code}.{fmt}"
                stats.file_names.append(name)
                with archive.open(name, "w", force_zip64=True) as entry:
                    one(cat, entry)


def _codebook(spec, ctx, cats, out, stats, study: Study) -> None:
    text = _text_out(out)
    if spec.format == "codebook_csv":
        writer = csv.writer(text)
        writer.writerow(codebook_header(ctx))
        for cat in cats.values():
            for _column, row in codebook_rows(cat, ctx):
                writer.writerow(row)
                stats.rows += 1
    else:
        stats.rows = codebook_html_write(text, list(cats.values()), ctx, study_code=study.code, study_title=study.title)
    text.flush()
    text.detach()


def _fhir(spec, ctx, cats, out, counter, stats) -> None:
    from surveys.exports.catalogue import FREE_TEXT_TYPES
    from surveys.interop.fhir.response_export import response_export

    rows = (
        responses_queryset(spec, questionnaires=list(cats))
        .select_related(
            "version__questionnaire__study",
            "assignment__participant__study",
            "assignment__participant__site",
            "assignment__timepoint",
        )
        .order_by(
            "assignment__participant__pseudonym",
            "assignment__due_at",
            "assignment__timepoint__order",
            "assignment__occurrence",
            "pk",
        )
    )
    for response in rows.iterator(chunk_size=PROGRESS_EVERY):
        assignment = response.assignment
        participant = assignment.participant
        row = ResponseRow(
            response.pk,
            response.version_id,
            response.status,
            response.answers or {},
            response.scores or {},
            response.submitted_at,
            response.started_at,
            assignment.pk,
            assignment.due_at,
            assignment.occurrence,
            assignment.invitation_channel,
            assignment.timepoint.code,
            participant.pk,
            participant.pseudonym,
            participant.created_at,
            participant.site.code if participant.site_id else "",
            response.version.questionnaire.code,
            response.version.number,
        )
        counter.seen(row)
        ctx.begin(row)
        cat = cats[row.questionnaire]
        # De-identify on the in-memory object only (never saved): dates moved, free text dropped.
        answers = {}
        for link_id, value in row.answers.items():
            item = cat.items.get(link_id)
            if item is not None and item.type == "date":
                value = ctx.dates.date(value)
                value = value.isoformat() if isinstance(value, dt.date) else value
            elif item is not None and item.type == "datetime":
                value = wall_clock(value, ctx)
                value = value.isoformat(timespec="seconds") if isinstance(value, dt.datetime) else value
            if spec.exclude_free_text and item is not None:
                if item.type in FREE_TEXT_TYPES:
                    continue
                if item.is_choice:
                    kept = [v for v in (value if isinstance(value, list) else [value]) if str(v) in item.options]
                    if not kept:
                        continue
                    value = kept if isinstance(value, list) else kept[0]
            if value is not None:
                answers[link_id] = value
        response.answers = answers
        response.submitted_at = ctx.dates.instant(response.submitted_at)
        response.updated_at = ctx.dates.instant(response.updated_at)
        resource = response_export(response)
        due = ctx.dates.instant(assignment.due_at)
        extensions = resource.setdefault("extension", [])
        extensions += [
            {"url": f"{EXT_META}timepoint", "valueCode": row.timepoint},
            {"url": f"{EXT_META}occurrence", "valueInteger": row.occurrence},
            {"url": f"{EXT_META}due", "valueDateTime": due.isoformat(timespec="seconds")},
        ]
        if row.delay_hours is not None:
            extensions.append({"url": f"{EXT_META}completion-delay-hours", "valueDecimal": row.delay_hours})
        if row.channel:
            extensions.append({"url": f"{EXT_META}channel", "valueCode": row.channel})
        if row.site:
            extensions.append({"url": f"{EXT_META}site", "valueCode": row.site})
        out.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":"), default=str).encode() + b"\n")
        stats.rows += 1


# --- entry point ------------------------------------------------------------------------------------


def export_write(*, spec: ExportSpec, out: BinaryIO, progress: Progress | None = None) -> ExportStats:
    """Write the export described by `spec` to `out` (a binary file, a pipe, a zip entry...).

    The spec must already carry the requesting user's site scope (access.export_spec_for_user).
    `progress(done, total)` is called with responses read so far, every PROGRESS_EVERY responses.
    Raises ExportSpecError (nothing written) for a spec that cannot be exported."""
    spec.check()
    study = Study.objects.get(pk=spec.study_id)
    ctx = Context(spec=spec, study=study)
    cats = {q.code: questionnaire_catalogue(q, languages=ctx.languages) for q in export_questionnaires(spec)}
    if not cats and not spec.is_codebook:
        raise ExportSpecError({"questionnaires": _("This study has no published questionnaire to export.")})
    stats = ExportStats(questionnaires=len(cats))
    sink = _CountingWriter(out)
    if spec.is_codebook:
        _codebook(spec, ctx, cats, sink, stats, study)
    else:
        counter = _Counter(spec, progress, stats)
        if spec.format == "long_csv":
            _long_csv(spec, ctx, cats, sink, counter, stats)
        elif spec.format in ("long_xlsx", "wide_xlsx"):
            _xlsx(spec, ctx, cats, sink, counter, stats, wide=spec.format == "wide_xlsx")
        elif spec.format == "fhir_ndjson":
            _fhir(spec, ctx, cats, sink, counter, stats)
        else:
            _wide_files(spec, ctx, cats, sink, counter, stats, study)
        counter.done()
    stats.bytes = sink.written
    if not stats.file_names:
        stats.file_names = [export_filename(spec)]
    return stats


class _CountingWriter(io.RawIOBase):
    """`out` as a non-seekable binary stream that counts bytes (zipfile and openpyxl accept it)."""

    def __init__(self, target: BinaryIO):
        self.target = target
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        size = len(data)
        self.target.write(bytes(data))
        self.written += size
        return size

    def flush(self) -> None:
        if hasattr(self.target, "flush"):
            self.target.flush()

    def close(self) -> None:
        # Closing a wrapper (zip archive, text stream) must not close the caller's file.
        self.flush()
