from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def _sqlite_wal(sender, connection, **kwargs) -> None:
    # WAL lets the demo's web server read while the Celery worker writes.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL;")
            cursor.execute("PRAGMA synchronous=NORMAL;")


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = _("Research (pseudonymous)")

    def ready(self) -> None:
        connection_created.connect(_sqlite_wal, dispatch_uid="surveys_sqlite_wal")
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from surveys.staff import accounts

        pre_delete.connect(accounts.refuse_user_deletion, sender=get_user_model(), dispatch_uid="surveys_keep_accounts")
