"""Settings: production is safe by `check --deploy`, and takes its secrets only from the environment."""

import os
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.paths import ROOT


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            (
                "DJANGO_",
                "DATABASE_URL",
                "FIELD_ENC",
                "LINK_CHECK",
                "LINK_TOKEN",
                "REDIS_URL",
                "BLIND_INDEX",
                "ANYMAIL_",
                "EXPORT_",
            )
        )
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 20 + "a-long-random-production-secret-0123456789",
    "DJANGO_ALLOWED_HOSTS": "ressenti.example.org",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgres://ressenti@db.invalid:5432/ressenti",
    "LINK_CHECK_KEY": "another-long-random-secret-for-link-checks",
    "REDIS_URL": "redis://cache.invalid:6379/0",
    "BLIND_INDEX_KEY": "a-third-long-random-secret-for-blind-indexes",
    "ANYMAIL_WEBHOOK_SECRET": "user:a-webhook-secret",
    "LINK_TOKEN_KEY": "a-fourth-long-random-secret-for-link-tokens",
    "EXPORT_DATE_SHIFT_KEY": "a-fifth-long-random-secret-for-export-date-shifts",
}


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    for missing in (
        "DJANGO_SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "DATABASE_URL",
        "DJANGO_ALLOWED_HOSTS",
        "LINK_CHECK_KEY",
        "REDIS_URL",
        "BLIND_INDEX_KEY",
        "ANYMAIL_WEBHOOK_SECRET",
        "LINK_TOKEN_KEY",
        "EXPORT_DATE_SHIFT_KEY",
    ):
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        result = run_manage("check", env=env)
        assert result.returncode != 0
        assert missing in result.stderr, missing
