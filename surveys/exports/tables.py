"""Rows of the long and wide tables, as Python values, before any file format.

Every format is built from these: CSV and Excel write the values, .sav/.dta put them in typed
columns, the codebook describes the same columns. Values: str, int, float, date, aware datetime
(study time zone), or None for missing. A missing answer is always None, never 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from surveys.exports.catalogue import ItemVar, OptionVar, QuestionnaireCatalogue, ScoreVar, yes_no_labels
from surveys.exports.deid import DateMode
from surveys.exports.source import ResponseRow
from surveys.exports.spec import ExportSpec
from surveys.models import Item, Study
from surveys.questionnaires import values

T = Item.Type


@dataclass
class Column:
    """One variable of a wide table (and of the codebook).

    kind: meta, item, option (one 0/1 column per option of a multiple choice), other (the text of
    an "other, please specify"), score, band. value_type: text, integer, decimal, datetime, date,
    day (days since enrolment), code (single choice), boolean (yes/no), binary (0/1 option)."""

    name: str
    kind: str
    value_type: str
    labels: dict[str, str]
    item: ItemVar | None = None
    option: OptionVar | None = None
    score: ScoreVar | None = None
    versions: list[int] = field(default_factory=list)
    notes: str = ""


class Context:
    """The choices of one export that decide how a value is shown."""

    def __init__(self, *, spec: ExportSpec, study: Study):
        self.spec = spec
        self.study = study
        self.languages = [lang for lang in study.languages if lang] or [study.fallback_language]
        self.language = spec.language or study.fallback_language
        self.labels = spec.labels
        self.dates = DateMode(mode=spec.dates, time_zone=study.time_zone, study_id=study.pk)
        self.yes_no = yes_no_labels(self.language)
        self._participant: int | None = None

    def label(self, labels: dict[str, str]) -> str:
        return labels.get(self.language) or next((text for text in labels.values() if text), "")

    def begin(self, row: ResponseRow) -> None:
        if row.participant_id != self._participant:
            self._participant = row.participant_id
            self.dates.participant(pseudonym=row.pseudonym, enrolled_at=row.enrolled_at)


# --- metadata ---------------------------------------------------------------------------


def _meta_labels(text: str, languages: list[str]) -> dict[str, str]:
    found = {}
    for lang in languages:
        with translation.override(lang):
            found[lang] = _(text)
    return found


def metadata_columns(ctx: Context) -> list[Column]:
    days = ctx.dates.as_days
    when = "day" if days else "datetime"
    spec = [
        ("pseudonym", "text", gettext_noop("Participant pseudonym")),
        ("site", "text", gettext_noop("Site code")),
        ("questionnaire", "text", gettext_noop("Questionnaire code")),
        ("version", "integer", gettext_noop("Questionnaire version answered")),
        ("timepoint", "text", gettext_noop("Timepoint code")),
        ("occurrence", "integer", gettext_noop("Occurrence of a repeating timepoint (1 otherwise)")),
        ("due_day", when, gettext_noop("Day the questionnaire opened, counted from enrolment"))
        if days
        else ("due_at", when, gettext_noop("Date and time the questionnaire opened")),
        ("submitted_day", when, gettext_noop("Day of submission, counted from enrolment"))
        if days
        else ("submitted_at", when, gettext_noop("Date and time of submission")),
        ("completion_delay_hours", "decimal", gettext_noop("Hours from opening to submission")),
        ("channel", "text", gettext_noop("Channel of the first message sent for this questionnaire (sms, email)")),
        ("status", "text", gettext_noop("Response status (completed, in_progress)")),
        ("source", "text", gettext_noop("Source of the answers (patient, imported, corrected)")),
    ]
    return [
        Column(name=name, kind="meta", value_type=kind, labels=_meta_labels(text, ctx.languages))
        for name, kind, text in spec
    ]


def metadata_values(row: ResponseRow, ctx: Context) -> list[Any]:
    dates = ctx.dates
    return [
        row.pseudonym,
        row.site or None,
        row.questionnaire,
        row.version,
        row.timepoint,
        row.occurrence,
        dates.instant(row.due_at),
        dates.instant(row.submitted_at),
        row.delay_hours,
        row.channel or None,
        row.status,
        row.source,
    ]


# --- item values ------------------------------------------------------------------------

_VALUE_TYPES = {
    T.SINGLE: "code",
    T.YES_NO: "boolean",
    T.INTEGER: "integer",
    T.NRS: "integer",
    T.VAS: "integer",
    T.DECIMAL: "decimal",
    T.DATE: "date",
    T.TIME: "time",
    # The patient's wall-clock reading, not an instant: its own type, so the codebook says so.
    T.DATETIME: "local_datetime",
    T.SHORT_TEXT: "text",
    T.LONG_TEXT: "text",
}


def item_value_type(item: ItemVar, ctx: Context) -> str:
    kind = _VALUE_TYPES.get(item.type, "text")
    if kind in ("date", "local_datetime") and ctx.dates.as_days:
        return "day"
    return kind


def wall_clock(value: Any, ctx: Context) -> dt.datetime | int | str | None:
    """A date-and-time answer as the export shows it: the patient's wall-clock reading (a naive datetime,
    as stored: values.py), moved with the participant's dates when they are shifted, or a day number.
    Text that is not a date and time is kept only with exact dates, as DateMode.date does."""
    parts = values.to_datetime(value)
    if parts is None or len(parts) != 6:
        return (
            (str(value) if value not in (None, "") else None)
            if not ctx.dates.as_days and ctx.dates.mode == "exact"
            else None
        )
    # The study's zone only carries the reading through DateMode (a shift keeps the clock time); it is dropped after.
    shown = ctx.dates.instant(dt.datetime(*parts, tzinfo=ctx.dates.zone))
    return shown.replace(tzinfo=None) if isinstance(shown, dt.datetime) else shown


def _choice_codes(item: ItemVar, value: Any) -> tuple[list[str], list[str]]:
    """(option codes chosen, other texts) of a choice answer."""
    given = value if isinstance(value, list) else [value]
    codes, other = [], []
    for v in given:
        if v in (None, ""):
            continue
        if isinstance(v, dict):  # an imported Coding
            v = v.get("code", "")
        (codes if str(v) in item.options else other).append(str(v))
    return codes, other


def option_shown(option: OptionVar, ctx: Context, *, numeric: bool = False) -> Any:
    if numeric:
        return option.number
    return ctx.label(option.labels) if ctx.labels else option.code


def scalar_value(item: ItemVar, value: Any, ctx: Context, *, numeric: bool = False) -> Any:
    """The value of a non-multiple item answer, as the export shows it."""
    if value is None or value == "" or value == []:
        return None
    kind = item.type
    if kind == T.SINGLE:
        codes, _other = _choice_codes(item, value)
        return option_shown(item.options[codes[0]], ctx, numeric=numeric) if codes else None
    if kind == T.YES_NO:
        truth = values.to_bool(value)
        if truth is None:
            return None
        return ctx.yes_no[truth] if ctx.labels and not numeric else int(truth)
    if kind in values.NUMBER_TYPES:
        number = values.to_decimal(value)
        if number is None:
            return None
        return int(number) if number == number.to_integral_value() and kind != T.DECIMAL else float(number)
    if kind == T.DATE:
        return ctx.dates.date(value)
    if kind == T.DATETIME:
        return wall_clock(value, ctx)
    return str(value)


def score_value(score: ScoreVar, row: ResponseRow) -> Any:
    entry = row.scores.get(score.name)
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def band_value(score: ScoreVar, row: ResponseRow, ctx: Context, *, numeric: bool = False) -> Any:
    entry = row.scores.get(score.name)
    code = entry.get("band") if isinstance(entry, dict) else None
    if code is None:
        return None
    band = score.bands.get(str(code))
    if band is None:
        return str(code)
    if numeric:
        return band.number
    return ctx.label(band.labels) if ctx.labels else band.code


# --- long ---------------------------------------------------------------------------------


def long_columns(ctx: Context) -> list[str]:
    return [c.name for c in metadata_columns(ctx)] + ["item", "value"]


def long_rows(row: ResponseRow, cat: QuestionnaireCatalogue, ctx: Context) -> Iterator[list[Any]]:
    """One row per answered item (a multiple choice: its codes or labels joined by ";"), then one
    per score and band of the response. Unanswered items have no row."""
    ctx.begin(row)
    meta = metadata_values(row, ctx)
    exclude = ctx.spec.exclude_free_text
    in_version = cat.items_by_version.get(row.version_id, frozenset())
    for item in cat.ordered_items(exclude_free_text=exclude):
        if item.link_id not in in_version:
            continue
        value = row.answers.get(item.link_id)
        if value is None or value == "" or value == []:
            continue
        if item.is_choice:
            codes, other = _choice_codes(item, value)
            if codes:
                # In the options' order, whatever order the answer was stored in.
                codes.sort(key=item.option_order.index)
                shown = [str(option_shown(item.options[c], ctx)) for c in codes]
                yield [*meta, item.link_id, ";".join(shown) if item.is_multiple else shown[0]]
            if other and not exclude:
                yield [*meta, item.other_column, "; ".join(other)]
            continue
        shown = scalar_value(item, value, ctx)
        if shown is not None:
            yield [*meta, item.link_id, shown]
    for score in cat.ordered_scores():
        if score.name not in row.scores:
            continue
        yield [*meta, score.column, score_value(score, row)]
        if score.bands:
            yield [*meta, score.band_column, band_value(score, row, ctx)]


# --- wide ---------------------------------------------------------------------------------


def wide_columns(cat: QuestionnaireCatalogue, ctx: Context) -> list[Column]:
    """Metadata, then each item (a multiple choice as one 0/1 column per option of any version, an
    open choice with its "_other" text), then scores and bands."""
    columns = metadata_columns(ctx)
    exclude = ctx.spec.exclude_free_text
    for item in cat.ordered_items(exclude_free_text=exclude):
        if item.is_multiple:
            for option in item.ordered_options():
                labels = {lang: f"{item.labels.get(lang, '')}: {option.labels.get(lang, '')}" for lang in ctx.languages}
                columns.append(
                    Column(
                        name=item.option_column(option.code),
                        kind="option",
                        value_type="binary",
                        labels=labels,
                        item=item,
                        option=option,
                        versions=option.versions,
                    )
                )
        else:
            columns.append(
                Column(
                    name=item.link_id,
                    kind="item",
                    value_type=item_value_type(item, ctx),
                    labels=item.labels,
                    item=item,
                    versions=item.versions,
                )
            )
        if item.is_choice and item.open_choice and not exclude:
            labels = {lang: f"{item.labels.get(lang, '')}: {_label_other(lang)}" for lang in ctx.languages}
            columns.append(
                Column(
                    name=item.other_column,
                    kind="other",
                    value_type="text",
                    labels=labels,
                    item=item,
                    versions=item.versions,
                )
            )
    for score in cat.ordered_scores():
        columns.append(
            Column(
                name=score.column,
                kind="score",
                value_type="decimal",
                labels=score.labels,
                score=score,
                versions=score.versions,
            )
        )
        if score.bands:
            labels = {lang: f"{score.labels.get(lang, '')}: {_label_band(lang)}" for lang in ctx.languages}
            columns.append(
                Column(
                    name=score.band_column,
                    kind="band",
                    value_type="code",
                    labels=labels,
                    score=score,
                    versions=score.versions,
                )
            )
    return columns


def _label_other(language: str) -> str:
    with translation.override(language):
        return _("other (text)")


def _label_band(language: str) -> str:
    with translation.override(language):
        return _("band")


def wide_values(
    row: ResponseRow, cat: QuestionnaireCatalogue, columns: list[Column], ctx: Context, *, numeric: bool = False
) -> list[Any]:
    """One response as a wide row. An item or option absent from the version answered is None (not
    0); an unanswered multiple choice is None in every option column; answered, 1 or 0."""
    ctx.begin(row)
    cells = metadata_values(row, ctx)
    in_version = cat.items_by_version.get(row.version_id, frozenset())
    chosen: dict[str, tuple[list[str], list[str]]] = {}
    for column in columns[len(cells) :]:
        item = column.item
        if column.kind in ("item", "option", "other") and item.link_id not in in_version:
            cells.append(None)
            continue
        if column.kind == "item":
            cells.append(scalar_value(item, row.answers.get(item.link_id), ctx, numeric=numeric))
        elif column.kind == "option":
            if item.link_id not in chosen:
                chosen[item.link_id] = _choice_codes(item, row.answers.get(item.link_id))
            codes, other = chosen[item.link_id]
            offered = column.option.code in item.codes_by_version.get(row.version_id, frozenset())
            cells.append((1 if column.option.code in codes else 0) if (codes or other) and offered else None)
        elif column.kind == "other":
            if item.link_id not in chosen:
                chosen[item.link_id] = _choice_codes(item, row.answers.get(item.link_id))
            other = chosen[item.link_id][1]
            cells.append("; ".join(other) if other else None)
        elif column.kind == "score":
            cells.append(score_value(column.score, row))
        else:
            cells.append(band_value(column.score, row, ctx, numeric=numeric))
    return cells
