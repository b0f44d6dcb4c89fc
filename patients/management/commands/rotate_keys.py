"""Re-encrypt patient data with the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (keep the old ones after it), deploy, run this,
then drop the old keys. Safe to run again; --dry-run only counts.
"""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from patients.identity.key_rotation import encrypted_fields_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field (history tables included) with the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count the rows to re-encrypt; write nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, dry_run: bool, batch_size: int, **options) -> None:
        try:
            counts = encrypted_fields_rotate(batch_size=batch_size, dry_run=dry_run, progress=self.stdout.write)
        except (ImproperlyConfigured, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        total = sum(counts.values())
        if dry_run:
            self.stdout.write(f"Dry run: {total} row(s) would be re-encrypted; nothing written.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Done: {total} row(s) re-encrypted."))
