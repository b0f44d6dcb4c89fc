"""`manage.py yes_no_answers_check [--study CODE ...] [--format text|csv] [--include-in-progress]`.

Lists the responses whose yes/no answers a fixed bug may have erased (surveys/answering/answer_checks.py says
how they are found). Read-only: it refuses to run a single write, and prints pseudonyms only.
"""

from __future__ import annotations

import csv

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from surveys.answering.answer_checks import EMPTY_YES_NO, HIDDEN_FOLLOW_UP, CheckedResponse, yes_no_answers_check
from surveys.models import Study

CSV_HEADER = [
    "study",
    "pseudonym",
    "questionnaire",
    "version",
    "response_id",
    "submitted_at",
    "item",
    "kind_of_finding",
]
TEXT_KIND = {EMPTY_YES_NO: "yes/no shown, no answer", HIDDEN_FOLLOW_UP: "hidden now by a condition on an empty yes/no"}
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE")


def _refuse_writes(execute, sql, params, many, context):
    # The check is sold as changing nothing: make that a fact rather than a promise.
    if sql.lstrip().upper().startswith(WRITES):
        raise RuntimeError(f"yes_no_answers_check is read-only and refused: {sql[:60]}")
    return execute(sql, params, many, context)


class Command(BaseCommand):
    help = (
        "Read-only (changes nothing): list, by study, pseudonym and questionnaire version, the submitted "
        "responses where a yes/no question shown to the patient has no answer, and the questions hidden now "
        "because their display conditions test such an empty yes/no. A fixed bug erased saved yes/no answers "
        "(and the answers of the questions they revealed) when their page was shown again; a question the "
        "patient left blank looks the same, so the list is what the bug MAY have cost, not what it did."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--study",
            dest="studies",
            action="append",
            default=[],
            metavar="CODE",
            help="Only this study (repeatable; default: every study).",
        )
        parser.add_argument(
            "--format",
            dest="output_format",
            choices=["text", "csv"],
            default="text",
            help="text (default), or csv on stdout with a header (the summary goes to stderr).",
        )
        parser.add_argument(
            "--include-in-progress",
            action="store_true",
            help="Also check responses not submitted yet (pages passed with Next only).",
        )

    def handle(self, *args, studies: list[str], output_format: str, include_in_progress: bool, **options) -> None:
        unknown = sorted(set(studies) - set(Study.objects.filter(code__in=studies).values_list("code", flat=True)))
        if unknown:
            raise CommandError(f"No study with code {', '.join(unknown)}.")
        checked = flagged = empty = hidden = 0
        writer = csv.writer(self.stdout, lineterminator="\n") if output_format == "csv" else None
        if writer:
            writer.writerow(CSV_HEADER)
        group: tuple | None = None
        with connection.execute_wrapper(_refuse_writes):
            for result in yes_no_answers_check(studies=studies, include_in_progress=include_in_progress):
                checked += 1
                if not result.findings:
                    continue
                flagged += 1
                empty += sum(1 for _item, kind in result.findings if kind == EMPTY_YES_NO)
                hidden += sum(1 for _item, kind in result.findings if kind == HIDDEN_FOLLOW_UP)
                if writer:
                    self._csv_rows(writer, result)
                    continue
                here = (result.study, result.pseudonym, result.questionnaire, result.version)
                if here != group:
                    group = here
                    self.stdout.write(f"{result.study} · {result.pseudonym} · {result.questionnaire} v{result.version}")
                self._text_line(result)
        which = "response(s), submitted or in progress" if include_in_progress else "submitted response(s)"
        summary = (
            f"Checked {checked} {which}; {flagged} may have lost answers: {empty} yes/no item(s) shown "
            f"without an answer, {hidden} follow-up item(s) hidden by them. Nothing was changed."
        )
        # In csv mode stdout is the data: the summary must not break a parser reading it.
        (self.stderr if writer else self.stdout).write(summary)

    @staticmethod
    def _csv_rows(writer, result: CheckedResponse) -> None:
        submitted = result.submitted_at.isoformat() if result.submitted_at else ""
        for item, kind in result.findings:
            writer.writerow(
                [
                    result.study,
                    result.pseudonym,
                    result.questionnaire,
                    result.version,
                    result.response_id,
                    submitted,
                    item,
                    kind,
                ]
            )

    def _text_line(self, result: CheckedResponse) -> None:
        when = f"submitted {result.submitted_at:%Y-%m-%d %H:%M %Z}" if result.submitted_at else "in progress"
        found = "; ".join(f"{item} ({TEXT_KIND[kind]})" for item, kind in result.findings)
        self.stdout.write(f"  response {result.response_id}, {when}: {found}")
