"""Encryption at rest for contact data, with a rotatable key list.

Keys come from settings.FIELD_ENCRYPTION_KEYS (newest first), never from
SECRET_KEY. MultiFernet encrypts with the first key and decrypts with any, so
a new key can be put first and `manage.py rotate_keys` re-encrypts the rows.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def _reset_keys(*, setting: str, **kwargs) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_reset_keys)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # No value in the message: it would be ciphertext at best, data at worst.
        raise ImproperlyConfigured("A stored value cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS.") from exc


def rotate(token: str) -> str:
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code sees plain text.

    Encrypted values cannot be searched or made unique in SQL: look-ups go
    through a keyed digest column instead (see patients.models.Patient).
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
