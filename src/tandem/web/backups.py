"""Backup and restore: SQLite's online backup API, or pg_dump/pg_restore for PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection, connections

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class RestoreRefused(Exception):
    pass


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def _pg_args() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["-h", str(db.get("HOST") or "localhost"), "-p", str(db.get("PORT") or 5432),
            "-U", str(db.get("USER") or "postgres")]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _sqlite_copy(source_path, target_path) -> None:
    """Copy a whole SQLite database with the online backup API (consistent while in use)."""
    source, target = sqlite3.connect(source_path), sqlite3.connect(target_path)
    try:
        with target:
            source.backup(target)
    finally:
        target.close()
        source.close()


def backup(path: str) -> None:
    target = Path(path)
    if _is_sqlite():
        _sqlite_copy(settings.DATABASES["default"]["NAME"], target)
        return
    args, env = _pg_args()
    subprocess.run(
        [settings.PG_DUMP, "--format=custom", "--no-owner", "--file", str(target), *args,
         settings.DATABASES["default"]["NAME"]],
        check=True, env=env,
    )


def holds_data() -> bool:
    """True when the database has any organisation or user in it."""
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in ("accounts_organisation", "accounts_user"):
            if table in tables:
                cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(table)} LIMIT 1")
                if cursor.fetchone():
                    return True
    return False


def restore(path: str, *, force: bool = False) -> None:
    source = Path(path)
    if not source.is_file():
        raise RestoreRefused(f"No backup file at {path}.")
    magic = source.read_bytes()[:16]
    if _is_sqlite() and not magic.startswith(SQLITE_MAGIC):
        raise RestoreRefused("This is not a SQLite backup; Tandem is configured for SQLite.")
    if not _is_sqlite() and not magic.startswith(PG_MAGIC):
        raise RestoreRefused("This is not a pg_dump backup; Tandem uses PostgreSQL here.")
    if holds_data() and not force:
        raise RestoreRefused(
            "The database already holds data. Restoring would overwrite it; "
            "give --force if that is what you want."
        )
    connections.close_all()
    if _is_sqlite():
        _sqlite_copy(source, settings.DATABASES["default"]["NAME"])
        return
    args, env = _pg_args()
    subprocess.run(
        [settings.PG_RESTORE, "--clean", "--if-exists", "--no-owner", "--no-privileges",
         "--single-transaction", *args, "-d", settings.DATABASES["default"]["NAME"],
         str(source)],
        check=True, env=env,
    )
