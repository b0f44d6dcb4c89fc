"""manage.py import_instrument <study> <instrument> [--code CODE] [--user NAME]

The command form of the admin library's "Add to study": a draft of a free library instrument
(surveys/interop/instruments/), through the same all-or-nothing import as every other format.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from surveys.interop.imports import ImportRefused
from surveys.interop.library import instrument_import, instruments_list
from surveys.management.arguments import study_named, user_named


class Command(BaseCommand):
    help = "Add a library instrument (PHQ-9, GAD-7, ...) to a study as a draft questionnaire."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("instrument", nargs="?", default="", help="library code; omit to list the library")
        parser.add_argument("--code", default="", help="questionnaire code in the study (default: the library code)")
        parser.add_argument("--user", help="user name recorded as having imported")

    def handle(self, *args, study: str, instrument: str, code: str, user: str | None, **options) -> None:
        target = study_named(study)
        if not instrument:
            for entry in instruments_list():
                kind = "licensed" if entry.licensed else "free"
                self.stdout.write(f"{entry.code}\t{kind}\t{entry.title.get('en', '')}")
            return
        by = user_named(user)
        try:
            created = instrument_import(study=target, code=instrument, by=by, questionnaire_code=code or None)
        except ImportRefused as refused:
            for problem in refused.problems:
                self.stderr.write(f"{problem.where}: {problem.message}")
            raise CommandError("Nothing was imported.") from None
        self.stdout.write(self.style.SUCCESS(f"Imported {instrument} into {target.code} as draft {created.code}."))
