"""manage.py import_questionnaire <study> <file> --format fhir|redcap [--code CODE | --prefix PREFIX] [--language fr|en]
[--dry-run]

The same parsers and all-or-nothing import as the admin's "Import a questionnaire" page
(surveys.interop.imports). Every problem is printed with where it is; the exit status is 1 when
there are any, and nothing is written then.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from surveys.interop.imports import FORMATS, ImportRefused, import_parse, questionnaire_import
from surveys.management.arguments import file_content, study_named, user_named


class Command(BaseCommand):
    help = "Import questionnaires from a FHIR or REDCap file as drafts of a study: all or none."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", required=True, choices=sorted(FORMATS), dest="format_")
        parser.add_argument("--code", default="", help="code of the questionnaire (a file with one questionnaire)")
        parser.add_argument(
            "--prefix",
            default="",
            help="put in front of every questionnaire code of the file (e.g. a second REDCap project whose "
            "instrument names the study already uses)",
        )
        parser.add_argument(
            "--language",
            default="",
            choices=["", *(c for c, _n in settings.LANGUAGES)],
            help="language of the texts when the file does not say (a file's own language wins)",
        )
        parser.add_argument(
            "--override-language",
            default="",
            dest="language_override",
            choices=["", *(c for c, _n in settings.LANGUAGES)],
            help="language of the texts whatever the file says (a file that states a wrong language)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
        parser.add_argument("--user", help="user name recorded as having imported")

    def handle(
        self,
        *args,
        study: str,
        file: Path,
        format_: str,
        code: str,
        prefix: str,
        language: str,
        language_override: str,
        dry_run: bool,
        user: str | None,
        **options,
    ) -> None:
        target = study_named(study)
        by = user_named(user)
        content = file_content(file)
        result = import_parse(
            format_=format_,
            content=content,
            study=target,
            code=code,
            prefix=prefix,
            language=language,
            language_override=language_override,
        )
        for found in result.questionnaires:
            self.stdout.write(f"{found.code}: {found.definition.get('title', '')}")
            for warning in found.warnings:
                self.stdout.write(f"  warning: {warning.where}: {warning.message}")
        try:
            if not result.ok:
                raise ImportRefused(result.problems)
            if dry_run:
                self.stdout.write(
                    f"{len(result.questionnaires)} questionnaire(s) ready to import (dry run: nothing written)."
                )
                return
            created = questionnaire_import(study=target, result=result, format_=format_, by=by)
        except ImportRefused as refused:
            for problem in refused.problems:
                self.stderr.write(f"{problem.where}: {problem.message}")
            raise CommandError(f"{len(refused.problems)} problem(s): nothing was imported.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {len(created)} draft(s) into {target.code}: {', '.join(q.code for q in created)}."
            )
        )
