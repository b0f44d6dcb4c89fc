"""Audit rows are kept: code that deletes one directly is refused, whatever calls it.

Refused on the row (`obj.delete()`) and on querysets (`Model.objects.filter(...).delete()`).
A cascade from the record an audit row belongs to still removes it: Django's deletion collector
deletes dependent rows with its own SQL, calling neither. That is how a withdrawing patient's
erasure takes the corrections of their responses with the responses.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AuditDeletionRefused(ValueError):
    pass


def _refuse(model: type[models.Model]) -> NoReturn:
    raise AuditDeletionRefused(f"{model._meta.verbose_name} rows are audit records and cannot be deleted.")


class AuditRecordQuerySet(models.QuerySet):
    def delete(self) -> NoReturn:
        _refuse(self.model)


class AuditRecord(models.Model):
    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(type(self))
