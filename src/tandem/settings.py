"""Django settings for Tandem. Every operator setting comes from the environment (see config.py)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from tandem import config

DATA_DIR = config.data_dir()
SECRET_KEY = config.secret_key(DATA_DIR)
# The key of the audit trail's hash chain (docs/operations.md). Unset: derived from SECRET_KEY.
AUDIT_KEY = os.environ.get("TANDEM_AUDIT_KEY", "")
DEBUG = config.env_bool("TANDEM_DEBUG", False)
# HTTPS-only cookies, HSTS and the redirect to HTTPS. On by default; `tandem demo --serve`
# and local development over plain http turn it off.
HTTPS = config.env_bool("TANDEM_HTTPS", not DEBUG)
ALLOWED_HOSTS = config.env_list("TANDEM_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = config.env_list("TANDEM_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "tandem.accounts",
    "tandem.patients",
    "tandem.outbox",
    "tandem.assessment",
    "tandem.monitoring",
    "tandem.planning",
    "tandem.feedback",
    "tandem.medication",
    "tandem.portal_access",
    "tandem.caseload",
    "tandem.reminders",
    "tandem.reporting",
    "tandem.audit",
    "tandem.portal",
    "tandem.api",
    "tandem.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tandem.web.no_store.NoStoreMiddleware",  # after WhiteNoise: static files stay cacheable
    "csp.middleware.CSPMiddleware",
    # One transaction per request, tried again on a deadlock; inside it, everything below.
    "tandem.web.transactions.TransactionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tandem.accounts.middleware.SessionActivityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tandem.accounts.middleware.BearerTokenMiddleware",
    "tandem.web.bad_input.RefuseNulMiddleware",  # NUL in a path, parameter or field: 400
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "tandem.web.permissions.PermissionMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tandem.web.context.navigation",
            ],
        },
    },
]


def database_settings(url: str | None) -> dict:
    """PostgreSQL from a URL, else the embedded SQLite file in the data dir (WAL, FKs on)."""
    if url:
        db = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        if not db["ENGINE"].endswith("postgresql"):
            raise ValueError("TANDEM_DATABASE_URL must be a postgres:// URL")
        return db
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "tandem.sqlite3",
        "OPTIONS": {
            # Django's SQLite backend always enables foreign keys; WAL lets readers and one
            # writer work at once, IMMEDIATE transactions avoid upgrade deadlocks. A page cache
            # of up to 128 MiB a connection (SQLite's default is 2 MiB) and temporary tables and
            # sorts in memory: the service report reads large parts of a big database and keeps
            # each family's rows in a temporary table (sqlite.org/pragma.html#pragma_cache_size,
            # #pragma_temp_store). Memory-mapped I/O is left off (an I/O error would crash the
            # process: sqlite.org/mmap.html).
            "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY;"),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


DATABASES = {"default": database_settings(os.environ.get("TANDEM_DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background work (flag evaluation, the nightly sweep, schedule recomputation) goes through
# a queue in the database, run by `tandem worker` (django-tasks with django-tasks-db).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# The local hour after which a worker starts the day's sweep (or catches up on starting).
SWEEP_HOUR = int(os.environ.get("TANDEM_SWEEP_HOUR", "2"))
# The hour (local time) from which the worker plans the day's reminders (tandem.reminders).
REMINDERS_HOUR = int(os.environ.get("TANDEM_REMINDERS_HOUR", "7"))
# Database connections the service report works on at once (reporting/report.py): 1 works its
# figures out one after another.
REPORT_CONNECTIONS = max(1, int(os.environ.get("TANDEM_REPORT_CONNECTIONS", "2")))

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes), for 15 minutes: five failures lock a username at the address
# they came from (not everywhere), twenty lock the address whatever the usernames
# (tandem.accounts.lockout explains the limit).
AXES_FAILURE_LIMIT = "tandem.accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# A sign-in clears only that person's own failures at that address (the handler), never the
# address's failures at other usernames.
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "tandem.accounts.lockout.OwnAttemptsHandler"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "tandem.audit.actor.client_address"

# Email (a new person's link to set their password; a reset an admin sends; portal
# invitations and resets): SMTP when TANDEM_EMAIL_HOST is set. Without it, emails are written
# as files to TANDEM_OUTBOX_DIR/email (default DATA_DIR/var/outbox), which only the demo and
# development may do: elsewhere `tandem check` fails (outbox.E001). Tests use Django's
# in-memory outbox.
EMAIL_HOST = os.environ.get("TANDEM_EMAIL_HOST", "")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.filebased.EmailBackend")
EMAIL_PORT = int(os.environ.get("TANDEM_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("TANDEM_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("TANDEM_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = config.env_bool("TANDEM_EMAIL_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("TANDEM_EMAIL_FROM", "tandem@localhost")
EMAIL_TIMEOUT = 10  # seconds: a stuck mail server does not hold a request for ever
# The demo (`tandem demo` sets TANDEM_DEMO=1): messages may stay local files, and links in
# messages may start with the address a request came to.
DEMO = config.env_bool("TANDEM_DEMO", False)
# The outbox (tandem.outbox, docs/portal-access.md). Text messages go through
# TANDEM_SMS_BACKEND (a dotted path; "none" turns them off). Its default is one file per
# message in TANDEM_OUTBOX_DIR/sms for the demo and development, and off elsewhere.
OUTBOX_DIR = Path(os.environ.get("TANDEM_OUTBOX_DIR") or DATA_DIR / "var" / "outbox")
EMAIL_FILE_PATH = OUTBOX_DIR / "email"
SMS_BACKEND = os.environ.get(
    "TANDEM_SMS_BACKEND", "tandem.outbox.sms.FileBackend" if DEBUG or DEMO else "")
if SMS_BACKEND.strip().lower() in ("", "none", "off"):
    SMS_BACKEND = ""
# GOV.UK Notify (TANDEM_SMS_BACKEND=tandem.outbox.notify.NotifySmsBackend): the service's API
# key, the id of a Notify text template whose whole content is ((body)), and the bearer token
# Notify's delivery receipts are sent with (docs/reminders.md).
NOTIFY_API_KEY = os.environ.get("TANDEM_NOTIFY_API_KEY", "")
NOTIFY_SMS_TEMPLATE_ID = os.environ.get("TANDEM_NOTIFY_SMS_TEMPLATE_ID", "")
NOTIFY_LETTER_TEMPLATE_ID = os.environ.get("TANDEM_NOTIFY_LETTER_TEMPLATE_ID", "")
# Letters: unset, the service prints them (the "Letters to post" page); or a provider's dotted
# path, e.g. tandem.outbox.notify.NotifyLetterBackend (tandem.outbox.letters).
LETTER_BACKEND = os.environ.get("TANDEM_LETTER_BACKEND", "")
NOTIFY_CALLBACK_TOKEN = os.environ.get("TANDEM_NOTIFY_CALLBACK_TOKEN", "")
# Addresses that check their own bearer token, not an API token's (the API's sign-in skips them).
OWN_BEARER_PATHS = ("/outbox/notify/receipts",)
NOTIFY_BASE_URL = os.environ.get("TANDEM_NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")
# The most messages one worker sends a second by each channel (0: no limit). Notify allows a
# service 3,000 messages a minute, so 25 a second for each of two workers stays within it.
OUTBOX_RATE = {"sms": float(os.environ.get("TANDEM_SMS_PER_SECOND", "25")),
               "email": float(os.environ.get("TANDEM_EMAIL_PER_SECOND", "10"))}
# Portal invitations (tandem.portal_access): how long one stays open; the address links in
# messages and letters start with. Unset, staff pages use the address their request came to;
# what a visitor asks for on the public pages (a password reset) needs it outside the demo
# and development, and `tandem check` fails without it (portal_access.E001).
PORTAL_INVITATION_DAYS = int(os.environ.get("TANDEM_PORTAL_INVITATION_DAYS", "7"))
SITE_URL = os.environ.get("TANDEM_SITE_URL", "").rstrip("/")

# Sessions end after 30 minutes without activity.
SESSION_COOKIE_AGE = int(os.environ.get("TANDEM_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_SAVE_EVERY_REQUEST = False  # accounts.middleware.SessionActivityMiddleware instead
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = config.env_bool("TANDEM_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# Content-Security-Policy (django-csp 4): our own origin only, no inline script or style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TANDEM_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("TANDEM_LOG_LEVEL", "INFO")},
    "loggers": {name: {"level": "WARNING"} for name in ("axes", "weasyprint", "fontTools")},
}

# Backups and restores of PostgreSQL use these client programs.
PG_DUMP = os.environ.get("TANDEM_PG_DUMP", "pg_dump")
PG_RESTORE = os.environ.get("TANDEM_PG_RESTORE", "pg_restore")
