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
