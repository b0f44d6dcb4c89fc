"""manage.py import_responses_fhir <study> <timepoint> <file> [--dry-run] [--user NAME]

Legacy answers as FHIR R4 QuestionnaireResponses (NDJSON or a Bundle): the same checks and
all-or-nothing import as the admin page (surveys.interop.fhir.response_import.responses_import). Problems are
printed with their line (NDJSON) or entry (Bundle) and item; the exit status is 1 when there are any.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys.interop.fhir.response_import import responses_import
from surveys.management.arguments import file_content, study_named, user_named
from surveys.models import Timepoint


class Command(BaseCommand):
    help = "Import FHIR QuestionnaireResponses into a timepoint of a study: all or none."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("timepoint", help="timepoint code")
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check every response, write nothing")
        parser.add_argument("--user", help="user name recorded as having imported")

    def handle(self, *args, study: str, timepoint: str, file: Path, dry_run: bool, user: str | None, **options) -> None:
        target = study_named(study)
        point = Timepoint.objects.filter(study=target, code=timepoint).select_related("version__questionnaire").first()
        if point is None:
            raise CommandError(f"No timepoint {timepoint!r} in {study}.")
        by = user_named(user)
        content = file_content(file)
        result = responses_import(study=target, timepoint=point, content=content, by=by, dry_run=dry_run)
        for warning in result.warnings:
            self.stdout.write(f"warning: {warning.where}: {warning.message}")
        if result.problems:
            for problem in result.problems:
                self.stderr.write(f"{problem.where}: {problem.message}")
            raise CommandError(f"{len(result.problems)} problem(s): nothing was imported.")
        done = "to import (dry run: nothing written)" if dry_run else "imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.total} response(s) in the file: {result.created} {done}, {result.unchanged} already there."
            )
        )
