"""pytest settings: fast hashing, in-process email, the same stores as configured."""

import os

from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In-process (mail.outbox); a worker subprocess of a test writes files instead (TEST_EMAIL_BACKEND).
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND") or "django.core.mail.backends.locmem.EmailBackend"
AXES_ENABLED = False
WHITENOISE_AUTOREFRESH = True
# Sends in-process into patients.messaging.sms.locmem.outbox. A worker subprocess of a test is pointed at the
# fake Twilio through the environment (tests.fakes.twilio_server.fake_twilio_env), which wins.
SMS_BACKEND = os.environ.get("SMS_BACKEND") or "patients.messaging.sms.locmem.LocmemBackend"

# pytest-xdist runs the suite in several processes, each with its own test database; each gets its own
# Redis database too (gw0 → /1, gw1 → /2…), so that one process's cache.clear() or rate-limit counts
# never reach another's. A worker subprocess started by a test inherits the variable and the same number.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL and _xdist_worker.startswith("gw"):  # noqa: F405
    from urllib.parse import urlsplit, urlunsplit

    _redis = urlsplit(REDIS_URL)  # noqa: F405
    REDIS_URL = urlunsplit(_redis._replace(path=f"/{int(_xdist_worker[2:]) % 15 + 1}"))
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
