"""manage.py export_questionnaire <study> <questionnaire> [--version N] --format fhir|redcap [--output FILE]

Writes a published version (the latest by default) in one of surveys.interop.imports.EXPORTS.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys.interop.imports import EXPORTS, exporter
from surveys.models import QuestionnaireVersion


class Command(BaseCommand):
    help = "Export a published questionnaire version as FHIR R4 JSON or a REDCap data dictionary."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the questionnaire version here, not the program's.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="study code")
        parser.add_argument("questionnaire", help="questionnaire code")
        parser.add_argument("--version", type=int, dest="number", help="version number (default: the latest)")
        parser.add_argument("--format", required=True, choices=sorted(EXPORTS), dest="format_")
        parser.add_argument("--output", type=Path, help="file to write (default: standard output)")

    def handle(
        self, *args, study: str, questionnaire: str, number: int | None, format_: str, output: Path | None, **options
    ) -> None:
        versions = QuestionnaireVersion.objects.filter(
            questionnaire__study__code=study, questionnaire__code=questionnaire
        ).select_related("questionnaire__study")
        version = versions.filter(number=number).first() if number else versions.order_by("-number").first()
        if version is None:
            which = f"version {number}" if number else "a published version"
            raise CommandError(f"{study}/{questionnaire} has no {which}.")
        text = exporter(format_)(version)
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stderr.write(f"Wrote {version} ({format_}) to {output}.")
