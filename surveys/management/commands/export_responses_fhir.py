"""manage.py export_responses_fhir <study> [--questionnaire CODE] [--output FILE.ndjson]

One FHIR R4 QuestionnaireResponse per line (NDJSON), by pseudonym only, each validated;
read from the database in chunks and written as it goes, so the export never sits whole in memory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys.interop.fhir.response_export import responses_export_ndjson
from surveys.management.arguments import study_named
from surveys.models import Questionnaire


class Command(BaseCommand):
    help = "Export a study's responses as FHIR R4 QuestionnaireResponses (NDJSON)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("--questionnaire", help="only the responses to this questionnaire (code)")
        parser.add_argument("--output", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, study: str, questionnaire: str | None, output: Path | None, **options) -> None:
        target = study_named(study)
        only = None
        if questionnaire:
            only = Questionnaire.objects.filter(study=target, code=questionnaire).first()
            if only is None:
                raise CommandError(f"No questionnaire {questionnaire!r} in {study}.")
        count = 0
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for line in responses_export_ndjson(study=target, questionnaire=only):
                stream.write(line)
                count += 1
        finally:
            if output:
                stream.close()
        self.stderr.write(f"{count} response(s) exported.")
