"""The report's SQL needs SQLite 3.35 or later (`WITH ... AS MATERIALIZED`, figures/base.py);
Django 5.2 itself runs on 3.31. Said at start-up rather than as a failing report."""

from __future__ import annotations

from django.core import checks
from django.db import connections

NEEDED = (3, 35)


@checks.register(checks.Tags.database)
def sqlite_new_enough(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    found = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        version = connection.Database.sqlite_version_info
        if version < NEEDED:
            found.append(checks.Error(
                f"SQLite {'.'.join(map(str, version))} is too old for the service report: it "
                f"needs {'.'.join(map(str, NEEDED))} or later.",
                hint="Use a Python built with a newer SQLite, or PostgreSQL.",
                id="tandem.reporting.E001"))
    return found
