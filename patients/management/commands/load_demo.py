"""`manage.py load_demo`: a ready-to-click demo study, safe to run again."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from patients.demo import demo_load
from surveys.demo import broker_folders_ensure, demo_access, demo_access_print


class Command(BaseCommand):
    help = (
        "Load the demo study (2 questionnaires, 3 timepoints, 3 fictional patients, one account per role). "
        "Running it again duplicates nothing; it resets the demo drafts and the demo passwords."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The demo accounts have published passwords: never on a real server.",
        )
        parser.add_argument(
            "--no-link",
            action="store_true",
            help="Do not issue and print a patient link.",
        )
        parser.add_argument(
            "--no-access",
            action="store_true",
            help="Print neither the accounts nor a link (run_demo prints them once its server answers, on its port).",
        )

    def handle(self, *args, force: bool = False, no_link: bool = False, no_access: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off: this looks like a real deployment, and the demo creates accounts whose passwords "
                "are printed and published. Use --force only on a throw-away database."
            )
        started = time.monotonic()
        broker_folders_ensure()
        loaded = demo_load()
        research = loaded.research
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo study {research.study.code} ready in {time.monotonic() - started:.1f} s: "
                f"{len(research.versions)} questionnaires "
                f"({', '.join(f'{code} v{v.number}' for code, v in research.versions.items())}), "
                f"{len(research.timepoints)} timepoints, {len(loaded.enrollments)} patients enrolled."
            )
        )
        if not no_access:
            demo_access_print(access=demo_access(issue_link=not no_link), write=self.stdout.write)
