"""`manage.py recompute_scores <study> <questionnaire> [--version N] [--reason ...] [--user NAME]`.

Recomputes the stored scores of the completed responses of one version (or of every version of the
questionnaire), with the version's own frozen rules; each version run leaves a ScoreRecomputation
audit row and a history row per response whose scores changed. Safe to run again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from surveys.management.arguments import study_named, user_named
from surveys.models import Questionnaire, QuestionnaireVersion
from surveys.scoring.compute import scores_recompute


class Command(BaseCommand):
    help = "Recompute the stored scores of a questionnaire's completed responses (audited)."

    def add_base_argument(self, parser, *args, **kwargs) -> None:
        # Here --version is the questionnaire version, not Django's own version banner.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="Study code.")
        parser.add_argument("questionnaire", help="Questionnaire code within the study.")
        parser.add_argument(
            "--version", dest="number", type=int, help="Version number (default: every published version)."
        )
        parser.add_argument(
            "--reason", default="recompute_scores command", help="Why, kept in the audit row and the response history."
        )
        parser.add_argument("--user", help="Username recorded as having run it (default: nobody).")
        parser.add_argument("--batch-size", type=int, default=500, help="Responses per transaction (default 500).")

    def handle(
        self,
        *args,
        study: str,
        questionnaire: str,
        number: int | None,
        reason: str,
        user: str | None,
        batch_size: int,
        **options,
    ) -> None:
        study_row = study_named(study)
        questionnaire_row = Questionnaire.objects.filter(study=study_row, code=questionnaire).first()
        if questionnaire_row is None:
            codes = ", ".join(study_row.questionnaires.values_list("code", flat=True)) or "none"
            raise CommandError(f"Study {study} has no questionnaire {questionnaire!r} (its questionnaires: {codes}).")
        versions = list(QuestionnaireVersion.objects.filter(questionnaire=questionnaire_row).order_by("number"))
        if not versions:
            raise CommandError(f"Questionnaire {study}/{questionnaire} has no published version.")
        if number is not None:
            chosen = [v for v in versions if v.number == number]
            if not chosen:
                numbers = ", ".join(str(v.number) for v in versions)
                raise CommandError(
                    f"Questionnaire {study}/{questionnaire} has no version {number} (its versions: {numbers})."
                )
            versions = chosen
        by = user_named(user)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        for version in versions:
            audit = scores_recompute(version=version, by=by, reason=reason, batch_size=batch_size)
            self.stdout.write(
                self.style.SUCCESS(
                    f"{study}/{questionnaire} v{version.number}: {audit.responses} completed response(s) recomputed, "
                    f"{audit.changed} changed (audit #{audit.pk})."
                )
            )
