"""Writes of the identity domain. Commands, admin actions and tasks call these."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.expressions import ExpressionWrapper, F, Value

from patients.identity import crypto
from patients.identity.crypto import EncryptedTextField


def _encrypted_models() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Every concrete model with encrypted columns, found through the app registry.

    simple_history copies a model's fields onto its Historical* model, so history
    tables show up here too and are rotated like the live rows they mirror.
    """
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue  # a proxy shares its concrete model's table: rotating twice would waste work
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return sorted(found, key=lambda pair: pair[0]._meta.label)


def _raw(field: EncryptedTextField) -> ExpressionWrapper:
    # A plain TextField output has no from_db_value / get_prep_value: the ORM
    # hands back and writes the stored token as is, never decrypting or
    # encrypting it a second time.
    return ExpressionWrapper(F(field.attname), output_field=models.TextField())


def _current_fernet() -> Fernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return Fernet(keys[0])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def encrypted_fields_rotate(
    *, batch_size: int = 500, dry_run: bool = False, progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Re-encrypt every EncryptedTextField value with the first key of FIELD_ENCRYPTION_KEYS.

    Returns, per model label (Historical* models included), how many rows were
    re-encrypted (or would be, with dry_run). Values that the first key already
    decrypts are left alone, so a second run changes nothing and an interrupted
    run can simply be started again. Rows are written with QuerySet.update: no
    save(), so no history row, no auto_now change, no signal.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    current = _current_fernet()
    crypto.encrypt("")  # validates the whole key list now, before any row is touched

    def is_current(token: str) -> bool:
        try:
            current.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    counts: dict[str, int] = {}
    for model, fields in _encrypted_models():
        label = model._meta.label
        pk_name = model._meta.pk.attname
        raw_names = {f"_raw_{field.attname}": field for field in fields}
        changed_rows = 0
        last_pk = None
        while True:
            # One transaction per batch: a crash loses at most one batch, and
            # the locks (select_for_update on PostgreSQL; SQLite's IMMEDIATE
            # transactions lock the whole file) stop a concurrent save from
            # being overwritten by the token read just before it.
            with transaction.atomic():
                qs = model._default_manager.all()
                if not dry_run:
                    qs = qs.select_for_update()
                if last_pk is not None:
                    qs = qs.filter(pk__gt=last_pk)
                rows = list(
                    qs.order_by(pk_name)
                    .annotate(**{name: _raw(field) for name, field in raw_names.items()})
                    .values_list(pk_name, *raw_names)[:batch_size]
                )
                if not rows:
                    break
                last_pk = rows[-1][0]
                for pk, *tokens in rows:
                    updates = {}
                    for field, token in zip(raw_names.values(), tokens, strict=True):
                        if not token or is_current(token):
                            continue
                        try:
                            updates[field.attname] = Value(crypto.rotate(token), output_field=models.TextField())
                        except InvalidToken as exc:
                            # Name the row, never the value: even ciphertext stays out of logs.
                            raise ImproperlyConfigured(
                                f"{label}.{field.name} of row {pk} cannot be decrypted with any key in "
                                "FIELD_ENCRYPTION_KEYS; was a key removed before rotating?"
                            ) from exc
                    if updates:
                        changed_rows += 1
                        if not dry_run:
                            model._default_manager.filter(pk=pk).update(**updates)
            if len(rows) < batch_size:
                break
        counts[label] = changed_rows
        if progress:
            verb = "would re-encrypt" if dry_run else "re-encrypted"
            progress(f"{label}: {verb} {changed_rows} row(s)")
    return counts
