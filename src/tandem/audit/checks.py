"""Deployment checks of the audit trail (`tandem check`, i.e. `check --deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

NO_AUDIT_KEY = "audit.W001"


@checks.register(checks.Tags.security, deploy=True)
def audit_key_is_set(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The chain's key should be kept apart from the database. Unset, it is derived from the
    secret key, which, unless TANDEM_SECRET_KEY is given, is a file in the data directory:
    beside the database itself on SQLite, and in the backups of that directory."""
    if settings.AUDIT_KEY:
        return []
    return [checks.Warning(
        "TANDEM_AUDIT_KEY is not set: the audit chain's key is derived from the secret key "
        "(on SQLite kept in the data directory beside the database), so whoever can write to "
        "the database may also be able to re-link the chain after editing it.",
        hint="Set TANDEM_AUDIT_KEY to a long random value, kept out of the database and its "
             "backups, before the first `tandem migrate` (docs/operations.md, Audit key); "
             "never change it afterwards.",
        id=NO_AUDIT_KEY)]
