"""Test settings: Tandem's own settings, on SQLite or on TANDEM_TEST_DATABASE_URL (PostgreSQL)."""

import os
import tempfile

os.environ.setdefault("TANDEM_DATA_DIR", tempfile.mkdtemp(prefix="tandem-test-"))
os.environ.setdefault("TANDEM_SECRET_KEY", "test-only-secret-key-" + "k" * 40)
os.environ["TANDEM_HTTPS"] = "0"
os.environ.pop("TANDEM_DATABASE_URL", None)

from tandem.settings import *  # noqa: E402,F403
from tandem.settings import database_settings  # noqa: E402

DATABASES = {"default": database_settings(os.environ.get("TANDEM_TEST_DATABASE_URL"))}
# Fast hashing in tests; production uses Argon2 (asserted in tests/test_signin.py).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
