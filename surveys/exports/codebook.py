"""The codebook: every variable of the export, what it means and where it comes from.

One row per column of the wide table of each questionnaire (metadata, items, option columns, "other"
texts, scores, bands): its label in every language of the study, its type, its options with codes,
numbers (the values in .sav/.dta) and labels, the versions it appears in, the scoring rule of a
score and its bands, and its name in SPSS and Stata files when that differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TextIO

from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from surveys.exports.catalogue import QuestionnaireCatalogue
from surveys.exports.statfiles import stat_names
from surveys.exports.tables import Column, Context, wide_columns

# English in the CSV codebook (read by programs as well as people), translated in the HTML one.
TYPE_TEXT = {
    "text": gettext_noop("text"),
    "integer": gettext_noop("integer"),
    "decimal": gettext_noop("decimal number"),
    "datetime": gettext_noop("date and time (ISO 8601, study time zone)"),
    "local_datetime": gettext_noop("date and time as the patient gave it (ISO 8601, the patient's own clock)"),
    "date": gettext_noop("date (YYYY-MM-DD)"),
    "time": gettext_noop("time of day (HH:MM, text)"),
    "day": gettext_noop("days since enrolment"),
    "code": gettext_noop("code (one of the options)"),
    "boolean": gettext_noop("yes/no (1 = yes, 0 = no)"),
    "binary": gettext_noop("0/1 (1 = chosen; empty = not asked or not answered)"),
}


def codebook_header(ctx: Context) -> list[str]:
    return [
        "questionnaire",
        "variable",
        "kind",
        "item_type",
        "value_type",
        *(f"label_{lang}" for lang in ctx.languages),
        "options",
        "versions",
        "rule",
        "sav_name",
        "dta_name",
    ]


def _options(column: Column, ctx: Context) -> list[tuple[str, int, dict[str, str]]]:
    if column.kind == "item" and column.item and column.item.is_choice:
        return [(o.code, o.number, o.labels) for o in column.item.ordered_options()]
    if column.kind == "band":
        return [(b.code, b.number, b.labels) for b in column.score.ordered_bands()]
    if column.value_type == "boolean":
        return [
            ("1", 1, {lang: _yes_no(lang, True) for lang in ctx.languages}),
            ("0", 0, {lang: _yes_no(lang, False) for lang in ctx.languages}),
        ]
    return []


def _yes_no(language: str, value: bool) -> str:
    with translation.override(language):
        return _("Yes") if value else _("No")


def _rule(column: Column) -> str:
    if column.kind == "score":
        return " | ".join(f"v{number}: {text}" for number, text in sorted(column.score.rules.items()))
    if column.kind == "band":
        return " | ".join(
            f"{band.code}: " + ", ".join(f"v{n} {limits}" for n, limits in sorted(band.limits.items()))
            for band in column.score.ordered_bands()
        )
    item = column.item
    if column.kind == "item" and item and (item.minimum is not None or item.maximum is not None):
        low = "" if item.minimum is None else item.minimum
        high = "" if item.maximum is None else item.maximum
        return f"range {low}–{high}"
    return ""


def codebook_rows(cat: QuestionnaireCatalogue, ctx: Context) -> Iterator[tuple[Column, list[str]]]:
    columns = wide_columns(cat, ctx)
    sav = stat_names([c.name for c in columns], "sav")
    dta = stat_names([c.name for c in columns], "dta")
    for column in columns:
        options = " | ".join(
            f"{code} [{number}] = " + " / ".join(labels.get(lang, "") for lang in ctx.languages)
            for code, number, labels in _options(column, ctx)
        )
        versions = ", ".join(str(n) for n in column.versions) if column.kind != "meta" else ""
        item_type = column.item.type if column.item else ("score" if column.score else "")
        yield (
            column,
            [
                cat.code,
                column.name,
                column.kind,
                item_type,
                TYPE_TEXT.get(column.value_type, column.value_type),
                *(column.labels.get(lang, "") for lang in ctx.languages),
                options,
                versions,
                _rule(column),
                sav[column.name] if sav[column.name] != column.name else "",
                dta[column.name] if dta[column.name] != column.name else "",
            ],
        )


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin-bottom:2rem;font-size:.9rem}
th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef} code{font-size:.95em} ul{margin:0;padding-left:1.1rem}
"""


def codebook_html_write(
    text: TextIO, cats: list[QuestionnaireCatalogue], ctx: Context, *, study_code: str, study_title: str
) -> int:
    """Write a standalone HTML codebook; returns the number of variables described."""
    with translation.override(ctx.language):
        heading = _("Codebook")
        head = [
            _("Variable"),
            _("Kind"),
            _("Type"),
            *(_("Label (%(language)s)") % {"language": lang} for lang in ctx.languages),
            _("Options: code [number in .sav/.dta] = labels"),
            _("Versions"),
            _("Rule"),
            _("SPSS / Stata name"),
        ]
        questionnaire_word = _("Questionnaire")
    text.write(
        f'<!DOCTYPE html>\n<html lang="{escape(ctx.language)}"><head><meta charset="utf-8">'
        f"<title>{escape(heading)} — {escape(study_code)}</title><style>{_STYLE}</style></head><body>\n"
    )
    text.write(f"<h1>{escape(heading)} — {escape(study_code)}</h1>\n<p>{escape(study_title)}</p>\n")
    count = 0
    for cat in cats:
        text.write(
            f"<h2>{escape(questionnaire_word)} <code>{escape(cat.code)}</code> — "
            f"{escape(ctx.label(cat.titles))}</h2>\n<table><thead><tr>"
        )
        text.write("".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead><tbody>\n")
        for column, row in codebook_rows(cat, ctx):
            count += 1
            options = _options(column, ctx)
            options_html = (
                (
                    "<ul>"
                    + "".join(
                        f"<li><code>{escape(code)}</code> [{number}] = "
                        + " / ".join(escape(labels.get(lang, "")) for lang in ctx.languages)
                        + "</li>"
                        for code, number, labels in options
                    )
                    + "</ul>"
                )
                if options
                else ""
            )
            names = " / ".join(n for n in row[-2:] if n)
            with translation.override(ctx.language):
                value_type = _(TYPE_TEXT.get(column.value_type, column.value_type))
            cells = [
                f"<code>{escape(column.name)}</code>",
                escape(column.kind),
                escape(value_type),
                *(escape(column.labels.get(lang, "")) for lang in ctx.languages),
                options_html,
                escape(row[-4]),
                escape(row[-3]),
                f"<code>{escape(names)}</code>" if names else "",
            ]
            text.write("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n")
        text.write("</tbody></table>\n")
    text.write("</body></html>\n")
    return count
