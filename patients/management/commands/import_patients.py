"""manage.py import_patients <study code> <file.csv|file.xlsx> [--dry-run] [--user NAME] [--site CODE]

The same checks and all-or-nothing import as the staff import page (patients/enrolment/importing.py).
Problems are printed as "line N, column: message"; the exit status is 1 when there are any.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from patients.enrolment.importing import ImportInvalid, import_check, import_read, import_run
from surveys.management.arguments import file_content, study_named, user_named
from surveys.models import Site


class Command(BaseCommand):
    help = "Enrol patients from a CSV or XLSX file: every row or none. --dry-run only reports problems."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument("--user", help="user name recorded as having imported (and recorded consent)")
        parser.add_argument("--site", help="site code given to rows without one; rows of other sites are refused")

    def handle(
        self, *args, study: str, file: Path, dry_run: bool, user: str | None, site: str | None, **options
    ) -> None:
        target = study_named(study)
        by = user_named(user)
        only_site = None
        if site:
            only_site = Site.objects.filter(study=target, code=site).first()
            if only_site is None:
                raise CommandError(f"No site {site!r} in study {study}.")
        content = file_content(file)
        try:
            rows = import_read(filename=file.name, content=content)
            if dry_run:
                problems = import_check(study=target, rows=rows, only_site=only_site)
                if problems:
                    raise ImportInvalid(problems)
                self.stdout.write(f"{len(rows)} rows ready to import (dry run: nothing written).")
                return
            result = import_run(study=target, rows=rows, by=by, now=timezone.now(), only_site=only_site)
        except ImportInvalid as invalid:
            for problem in invalid.problems:
                self.stderr.write(f"line {problem.line}, {problem.field}: {problem.message}")
            raise CommandError(f"{len(invalid.problems)} problem(s): nothing was imported.") from None
        self.stdout.write(
            self.style.SUCCESS(f"{result.enrolled} patients enrolled, {result.assignments} assignments planned.")
        )
