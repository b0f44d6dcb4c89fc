"""Settings shared by every environment.

Every value that differs between machines comes from the environment (see the
configuration table in README.md). The defaults need no server: SQLite and an
embedded, file-based Celery transport, so `make run` works on a bare machine.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
SITE_URL = env("RESSENTI_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "rules.apps.AutodiscoverRulesConfig",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and Redoc files served from our own static files: the API docs load nothing from elsewhere.
    "drf_spectacular_sidecar",
    "simple_history",
    "django_celery_beat",
    "axes",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "anymail",
    "surveys",
    "patients",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.paths.NulPathMiddleware",
    # Permissions-Policy: pages use no camera, microphone, location, payment... (PERMISSIONS_POLICY below).
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Year-of-birth check before any page of a patient link /s/<token>/... (studies that ask it).
    "surveys.answering.views.LinkCheckGuard",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.sessions.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "config.mfa.RequireMFAMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite (WAL, see surveys/apps.py) by default; DATABASE_URL switches to PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'ressenti.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo database and the embedded broker live in var/, which a fresh clone lacks.
    VAR_DIR.mkdir(exist_ok=True)
    # Wait on a busy database instead of failing when the worker and the web
    # server write at the same moment.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
else:
    # Reuse connections: opening one costs more than a whole patient page.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    # A task taken by a worker that dies (acks_late) goes back to the queue after this many
    # seconds. Keep it above MESSAGES_RETRY_MAX_SECONDS: a retry waiting longer than this in a
    # worker's memory would be handed to a second worker too (harmless, the send claim is
    # conditional, but wasteful). Tests of worker crashes lower it.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Kombu's filesystem transport: a real broker that needs no server, shared
    # by the web process, the worker and beat through a folder.
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
CELERY_TASK_ACKS_LATE = True
# Celery's Django fixup closes the database connection after every task unless told to reuse it;
# a new PostgreSQL connection per task costs about as much as sending an SMS. Reused for this many
# tasks, with Django's health check before each task (patients/tasks.py), so a database restart
# costs one reconnect, not a failed task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# DatabaseScheduler.setup_schedule() writes these entries into its
# PeriodicTask table at every beat start (update_or_create by name), so they
# live in code yet show in the admin; disabling one there is kept.
CELERY_BEAT_SCHEDULE = {
    "assignments-refresh-status": {
        "task": "surveys.tasks.assignments_refresh_status",
        "schedule": 60.0,
        # A tick not run within the minute is dropped: the next one does the same work.
        "options": {"expire_seconds": 55},
    },
    "messages-dispatch-due": {
        "task": "patients.tasks.messages_dispatch_due",
        "schedule": 60.0,
        # Same: a late tick is dropped, the next one claims whatever is due by then.
        "options": {"expire_seconds": 55},
    },
    "alerts-sweep": {
        "task": "surveys.tasks.alerts_sweep",
        "schedule": 60.0,
        # Alerts whose e-mail was never sent (broker down at commit, failed send); a late tick is dropped.
        "options": {"expire_seconds": 55},
    },
}

# --- Auth -----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/admin/"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# Staff accounts are created by a study administrator, never by sign-up.
ACCOUNT_ADAPTER = "config.auth.NoSignupAccountAdapter"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
# Two separate locks: an account after AXES_FAILURE_LIMIT failures from any address (spreading a guess over
# many addresses does not help), and an address after as many failures on any accounts (trying one
# password on many accounts does not help). The account is the canonical username whatever spelling
# (case, e-mail) was typed: config.auth.axes_username.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "config.auth.axes_username"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

# --- Field encryption (patients app) -------------------------------------------
# A list of Fernet keys, newest first; the first encrypts, all decrypt. Kept
# apart from SECRET_KEY so that rotating the web secret never touches patient
# data and vice versa. `manage.py rotate_keys` re-encrypts with the first key.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    # Development-only key; production.py refuses to start without the variable.
    default=["pFSvM3VEHkAlwLeKWw3b9rQ0XWqMzO2KuXxfoN2E6WU="],
)

# Keyed digests of normalised email and phone, to find duplicates without decrypting
# (patients/identity/contacts.py). Kept apart from FIELD_ENCRYPTION_KEYS and SECRET_KEY.
BLIND_INDEX_KEY = env("BLIND_INDEX_KEY", default="insecure-local-blind-index-key")
# Per-study keys for pseudonyms derived from an external identifier (surveys/participants/pseudonyms.py),
# as "STUDYCODE=key,OTHER=key2". Outside the database on purpose: with the key, the same person
# gets the same pseudonym within a study; without it, pseudonyms cannot be linked across studies.
PSEUDONYM_KEYS = dict(item.split("=", 1) for item in env.list("PSEUDONYM_KEYS", default=[]) if "=" in item)
# Phone numbers typed without a country code are read as numbers of this region.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="FR")
# Staff who can see identities (investigators) must sign in with a second factor (config/mfa.py).
RESSENTI_REQUIRE_MFA = env.bool("RESSENTI_REQUIRE_MFA", default=False)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Ressenti"
# Seconds a staff invitation link (config/staff_invites.py: set the password, then the authenticator) lasts.
STAFF_INVITATION_TIMEOUT = env.int("STAFF_INVITATION_TIMEOUT", default=72 * 3600)

# Key from which patient link tokens are derived (surveys.answering.links.assignment_link_token): the same
# link in every message of an assignment, and nothing in the database that gives it back.
LINK_TOKEN_KEY = env("LINK_TOKEN_KEY", default="insecure-local-link-token-key")

# Key of the digest that checks a patient's year of birth on a link (surveys.answering.access).
LINK_CHECK_KEY = env("LINK_CHECK_KEY", default="insecure-local-link-check-key")
# Attempts allowed at that check per link and per IP address, per LINK_CHECK_WINDOW seconds.
LINK_CHECK_MAX_PER_LINK = env.int("LINK_CHECK_MAX_PER_LINK", default=5)
LINK_CHECK_MAX_PER_IP = env.int("LINK_CHECK_MAX_PER_IP", default=30)
LINK_CHECK_WINDOW = env.int("LINK_CHECK_WINDOW", default=900)
# A link reaching LINK_CHECK_MAX_PER_LINK is locked for LINK_CHECK_WINDOW × 2^(n-1) seconds (n-th lock
# in a row: one ending less than LINK_CHECK_LOCK_MEMORY seconds before counts), at most LINK_CHECK_LOCK_MAX.
LINK_CHECK_LOCK_MAX = env.int("LINK_CHECK_LOCK_MAX", default=86400)
LINK_CHECK_LOCK_MEMORY = env.int("LINK_CHECK_LOCK_MEMORY", default=86400)
# Key from which each participant's secret date shift in de-identified exports is derived
# (surveys/exports/deid.py): the same shift in every export, never stored or shown.
EXPORT_DATE_SHIFT_KEY = env("EXPORT_DATE_SHIFT_KEY", default="insecure-local-export-date-shift-key")
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use the socket address).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

# --- I18n -------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
# Secure (HTTPS only) in production; read by our own language cookies too (surveys/answering/views.py).
LANGUAGE_COOKIE_SECURE = False
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# A refused form (expired page, cookies blocked) says what to do next, in the reader's language.
CSRF_FAILURE_VIEW = "surveys.answering.error_views.csrf_failure"

# A staff or reviewer session ends after a working day without activity (config/sessions.py).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_ACTIVITY_REFRESH = 300
SESSION_COOKIE_SAMESITE = "Lax"

# No page of ours uses these browser features; a script injected despite the CSP cannot either.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "bluetooth",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
# Limits of the public pre-screening link (surveys/participants/screening.py), per SCREENING_RATE_WINDOW seconds: a
# script holding the link could otherwise enrol any number of strangers and have each texted.
SCREENING_RATE_WINDOW = env.int("SCREENING_RATE_WINDOW", default=3600)
# Eligibility questionnaires sent (nothing stored, but the way into the rest).
SCREENING_MAX_SUBMITS_PER_IP = env.int("SCREENING_MAX_SUBMITS_PER_IP", default=30)
SCREENING_MAX_SUBMITS_PER_STUDY = env.int("SCREENING_MAX_SUBMITS_PER_STUDY", default=2000)
# One-time codes sent: each costs an SMS or an e-mail to someone who may not have asked.
SCREENING_MAX_CODES_PER_IP = env.int("SCREENING_MAX_CODES_PER_IP", default=5)
SCREENING_MAX_CODES_PER_STUDY = env.int("SCREENING_MAX_CODES_PER_STUDY", default=300)
SCREENING_MAX_CODES_PER_CONTACT = env.int("SCREENING_MAX_CODES_PER_CONTACT", default=3)
# Seconds a one-time code (and what was typed with it, encrypted in the cache) is kept, and the
# wrong codes allowed before the form starts again (patients/enrolment/screening_codes.py).
SCREENING_CODE_TTL = env.int("SCREENING_CODE_TTL", default=600)
SCREENING_CODE_MAX_ATTEMPTS = env.int("SCREENING_CODE_MAX_ATTEMPTS", default=5)
# The API's schema and docs pages: open in the demo, for signed-in users in production (surveys/api/policies.py).
RESSENTI_API_DOCS_PUBLIC = env.bool("RESSENTI_API_DOCS_PUBLIC", default=True)
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static -------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Security headers -------------------------------------------------------------
# Patient pages load nothing from elsewhere; the CSP says so.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}
# Only the admin preview is framed, by its own page; that view opts in (xframe_options_sameorigin).
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- DRF ----------------------------------------------------------------------------
# The API for programs (surveys/api/, docs/api.md): personal tokens (or a signed-in session, for
# the docs page), JSON only, cursor pages, strict filters, one error body, a rate per token.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "surveys.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON behind the depth cap of uploads (surveys/interop/uploads.py): a deep body is a 400, never a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["surveys.interop.uploads.BoundedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["surveys.api.policies.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "surveys.api.policies.ApiPagination",
    "DEFAULT_THROTTLE_CLASSES": ["surveys.api.policies.ApiRateThrottle"],
    "EXCEPTION_HANDLER": "surveys.api.policies.api_exception_handler",
    "URL_FORMAT_OVERRIDE": None,
}
# Requests per token (or signed-in user) and period ("300/minute", "10000/hour"; empty: no limit).
# Counted in the cache: Redis when REDIS_URL is set, so every web process shares the count.
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="300/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "Ressenti API",
    "DESCRIPTION": (
        "Pseudonymous research data of the studies where you have a role: studies, questionnaire versions "
        "(also as FHIR), participants, assignments, responses (also as FHIR), scores, exports and scheduled "
        "messages. Send a personal token as `Authorization: Bearer rst_...`. Lists are paginated by cursor: "
        "follow `next` until it is null. See docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "surveys.api.base.schema_closed_bodies"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Study.fallback_language and Participant.language share the choices of LANGUAGES.
    "ENUM_NAME_OVERRIDES": {"LanguageEnum": LANGUAGES},
    "PATH_CONVERTER_OVERRIDES": {
        "api_id": {"type": "integer", "minimum": 1, "maximum": 999999999999999999},
        "api_code": {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,40}$"},
        "api_pseudonym": {"type": "string", "pattern": "^[-A-Za-z0-9_.*~$=]{1,40}$"},
    },
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Folder of django.core.mail.backends.filebased.EmailBackend (one file per e-mail; tests read it).
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "emails"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Ressenti <no-reply@localhost>")
# django-anymail: provider settings come as ANYMAIL_<ESP>_... environment variables, which anymail
# reads itself. Its tracking webhooks (/hooks/anymail/<esp>/tracking/, patients/messaging/email_tracking.py) check
# HTTP basic auth "user:password" against ANYMAIL_WEBHOOK_SECRET; without it a forged "bounced"
# could close a patient's address: set it wherever the webhooks are reachable (production).
ANYMAIL = {"WEBHOOK_SECRET": env("ANYMAIL_WEBHOOK_SECRET", default="")}

SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
# History pages only read (surveys/admin/history.py also refuses it per view): nobody reverts a record.
SIMPLE_HISTORY_REVERT_DISABLED = True

# Logs carry pseudonyms and ids only; no handler ever formats a patient object.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "redact_tokens": {"()": "config.logging.RedactLinkTokens"},
        "client_errors_short": {"()": "config.logging.ClientErrorsWithoutTraceback"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens", "client_errors_short"],
        },
    },
    # runserver's request log goes through the same redacting handler.
    "loggers": {"django.server": {"handlers": ["console"], "level": "INFO", "propagate": False}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- SMS (patients/messaging/sms/, patients/messaging/sms_webhooks.py) ------------------------------------------------
# Which backend sends SMS (patients.messaging.sms.get_backend): console (prints, the default: nothing
# leaves the machine), file (JSON lines in SMS_FILE_PATH, for the demo and real-worker tests),
# locmem (tests) or twilio.
SMS_BACKEND = env("SMS_BACKEND", default="patients.messaging.sms.console.ConsoleBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(VAR_DIR / "sms.log"))
# The name an SMS is signed with. Study-independent on purpose: a phone may be shared, so an
# SMS never names a study, a questionnaire or a condition (patients/messaging/texts.py).
RESSENTI_SMS_SENDER_NAME = env("RESSENTI_SMS_SENDER_NAME", default="Cabinet médical")
# Twilio (patients.messaging.sms.twilio.TwilioBackend). TWILIO_FROM is a number, an alphanumeric sender ID
# or a Messaging Service SID (MG...). The auth token also checks the signature of Twilio's
# webhooks (inbound STOP, delivery status), whose URLs are built from SITE_URL.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env("TWILIO_FROM", default="")
# Where Twilio posts delivery status; empty: SITE_URL + /hooks/twilio/status.
TWILIO_STATUS_CALLBACK_URL = env("TWILIO_STATUS_CALLBACK_URL", default="")
# Another host for Twilio's REST API: the fake provider of the tests and the benchmark.
TWILIO_API_BASE = env("TWILIO_API_BASE", default="")
# Seconds to wait for Twilio's answer; past it the send counts as a temporary failure.
TWILIO_TIMEOUT = env.float("TWILIO_TIMEOUT", default=10.0)
# Message segments per second TWILIO_FROM may send (Twilio queues the excess, then fails what waited
# past the validity period); 0: by the kind of sender, a long code 1, a short code 100, an alphanumeric
# ID or a Messaging Service 10 (set what the account was granted). TWILIO_ACCOUNT_MPS caps the account
# over all senders (0: no cap of ours). Paced in Redis, so the rate holds over every worker
# (patients/messaging/ratelimit.py).
TWILIO_SENDER_MPS = env.float("TWILIO_SENDER_MPS", default=0.0)
TWILIO_ACCOUNT_MPS = env.float("TWILIO_ACCOUNT_MPS", default=0.0)

# --- Sending (patients/messaging/dispatch.py, patients/tasks.py) -----------------------------------------
# Messages claimed per beat tick; what is left waits for the next minute. 0: a minute of the SMS
# sender's rate (1000 when SMS have no rate), so claimed messages do not wait past MESSAGES_QUEUED_TIMEOUT.
MESSAGES_DISPATCH_BATCH = env.int("MESSAGES_DISPATCH_BATCH", default=0)
# Messages per send task: claimed, prepared and recorded together, sent concurrently.
MESSAGES_SEND_BATCH = env.int("MESSAGES_SEND_BATCH", default=100)
# Provider calls in flight at once in one worker process (threads); the account's API concurrency
# (Twilio answers 429, error 20429, beyond it) bounds this times the number of workers.
MESSAGES_SEND_CONCURRENCY = env.int("MESSAGES_SEND_CONCURRENCY", default=16)
# Attempts at one message before it is marked failed and shown to the study team.
MESSAGES_SEND_MAX_ATTEMPTS = env.int("MESSAGES_SEND_MAX_ATTEMPTS", default=6)
# Exponential backoff between attempts: base × 2^(attempt-1), at most the max, with full jitter;
# a provider's Retry-After (HTTP 429) is waited at least.
MESSAGES_RETRY_BASE_SECONDS = env.float("MESSAGES_RETRY_BASE_SECONDS", default=30.0)
MESSAGES_RETRY_MAX_SECONDS = env.float("MESSAGES_RETRY_MAX_SECONDS", default=600.0)
# Longest a provider call can take (above TWILIO_TIMEOUT and EMAIL_TIMEOUT): a message still
# "sending" after that was being sent by a worker that died; the minute sweep has the provider
# asked whether it took it (patients/messaging/dispatch.py).
MESSAGES_SEND_TIMEOUT = env.float("MESSAGES_SEND_TIMEOUT", default=120.0)
# An uncertain send (no answer in time) is looked up at the provider after this many seconds, and
# sent again only if two lookups this far apart find nothing; after MESSAGES_RECONCILE_MAX_SECONDS
# of failing lookups it is failed as "outcome unknown", never sent twice.
MESSAGES_RECONCILE_DELAY = env.float("MESSAGES_RECONCILE_DELAY", default=20.0)
MESSAGES_RECONCILE_MAX_SECONDS = env.float("MESSAGES_RECONCILE_MAX_SECONDS", default=3600.0)
# A message "queued" this long past its last change (or past its deferred retry, Message.retry_at)
# lost its send task (the broker was down or lost its data, or the task died with its worker): it
# goes back to "planned" and the next tick claims it again. A duplicate task is harmless (the send
# claim is conditional), so this can be short; it bounds recovery after Redis loses its data.
MESSAGES_QUEUED_TIMEOUT = env.float("MESSAGES_QUEUED_TIMEOUT", default=300.0)
# The Celery queue of send tasks (empty: the default queue).
MESSAGES_SEND_QUEUE = env("MESSAGES_SEND_QUEUE", default="")
# Seconds an SMTP connection may block (Django's default is forever).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Exports (surveys/exports/jobs.py) ---------------------------------------------------------
# Private folder of background export files: outside static and media, never served directly; files
# leave only through the download view, which checks the permission again. Every worker must see
# the same folder (a shared volume when workers run on other machines).
EXPORTS_ROOT = env("EXPORTS_ROOT", default=str(VAR_DIR / "exports"))
# Exports reading at most this many responses (surveys.exports.writers.export_count) stream from the
# request (about a second of writing); larger ones run as a background job with a progress bar.
EXPORTS_INLINE_MAX_RESPONSES = env.int("EXPORTS_INLINE_MAX_RESPONSES", default=5000)
# Days a background export's file is kept; then a beat task deletes it and marks its row expired.
EXPORTS_EXPIRE_DAYS = env.int("EXPORTS_EXPIRE_DAYS", default=7)
# A running job whose worker wrote no heartbeat for this long lost its worker: it goes back to
# pending (at most EXPORTS_MAX_ATTEMPTS runs, then failed). Heartbeats are written every second.
EXPORTS_STALE_SECONDS = env.int("EXPORTS_STALE_SECONDS", default=120)
EXPORTS_MAX_ATTEMPTS = env.int("EXPORTS_MAX_ATTEMPTS", default=3)
# A pending job whose task was enqueued this long ago without starting is enqueued again (a task
# lost with the broker); a second delivery is harmless, the job is claimed once.
EXPORTS_REQUEUE_SECONDS = env.int("EXPORTS_REQUEUE_SECONDS", default=900)
# Celery queue of export tasks (empty: the default queue); a queue of their own keeps a long export
# from delaying message sends.
EXPORTS_QUEUE = env("EXPORTS_QUEUE", default="")
# Behind nginx: the internal location that maps to EXPORTS_ROOT (e.g. /protected-exports/); the
# download view then answers with X-Accel-Redirect and nginx sends the file. Empty: Django streams it.
EXPORTS_X_ACCEL_PREFIX = env("EXPORTS_X_ACCEL_PREFIX", default="")
# exports.tasks is not an app's `tasks` module, which autodiscovery would find by itself.
CELERY_IMPORTS = ["surveys.exports.tasks"]
CELERY_BEAT_SCHEDULE["exports-sweep"] = {
    "task": "surveys.exports.tasks.export_jobs_sweep",
    "schedule": 60.0,
    # A late tick is dropped: the next one sweeps the same rows.
    "options": {"expire_seconds": 55},
}
CELERY_BEAT_SCHEDULE["exports-expire"] = {
    "task": "surveys.exports.tasks.export_files_expire",
    "schedule": 3600.0,
    "options": {"expire_seconds": 3000},
}
# Review panels: deadline reminders (each claimed once per reviewer, round and threshold).
CELERY_BEAT_SCHEDULE["review-reminders-send"] = {
    "task": "surveys.tasks.review_reminders_send",
    "schedule": 3600.0,
    "options": {"expire_seconds": 3000},
}
# Upload limits (surveys/interop/uploads.py): a request body or form post above DATA_UPLOAD_MAX_MEMORY_SIZE
# is refused (the API's JSON bodies too); an imported file above RESSENTI_UPLOAD_MAX_BYTES is refused
# before parsing; an .xlsx whose parts expand past RESSENTI_UPLOAD_MAX_UNCOMPRESSED_BYTES, by more than
# RESSENTI_UPLOAD_MAX_RATIO times (parts of 1 MB or more) or with more than RESSENTI_UPLOAD_MAX_MEMBERS
# parts is refused unread; JSON nested deeper than RESSENTI_UPLOAD_MAX_JSON_DEPTH is refused.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2621440)
RESSENTI_UPLOAD_MAX_BYTES = env.int("RESSENTI_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
RESSENTI_UPLOAD_MAX_UNCOMPRESSED_BYTES = env.int("RESSENTI_UPLOAD_MAX_UNCOMPRESSED_BYTES", default=50 * 1024 * 1024)
RESSENTI_UPLOAD_MAX_RATIO = env.int("RESSENTI_UPLOAD_MAX_RATIO", default=200)
RESSENTI_UPLOAD_MAX_MEMBERS = env.int("RESSENTI_UPLOAD_MAX_MEMBERS", default=1000)
RESSENTI_UPLOAD_MAX_JSON_DEPTH = env.int("RESSENTI_UPLOAD_MAX_JSON_DEPTH", default=64)
