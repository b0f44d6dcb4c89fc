"""Production: every secret from the environment, HTTPS only, no defaults that leak."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, env

if not REDIS_URL:
    # Without it the broker would silently be the demo's file-based one.
    raise ImproperlyConfigured("Set the REDIS_URL environment variable (Celery broker and cache).")

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
LINK_CHECK_KEY = env("LINK_CHECK_KEY")
LINK_TOKEN_KEY = env("LINK_TOKEN_KEY")
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY")
EXPORT_DATE_SHIFT_KEY = env("EXPORT_DATE_SHIFT_KEY")
# Without it anymail accepts unsigned tracking posts: a forged "bounced" could close an address.
ANYMAIL = {**ANYMAIL, "WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET")}  # noqa: F405
RESSENTI_REQUIRE_MFA = True
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = True
RESSENTI_API_DOCS_PUBLIC = False
STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedManifestStaticFilesStorage"  # noqa: F405

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
