"""What the benchmarks share: emptying a table untimed, and starting each timed run with
SQLite's write-ahead log written back."""

from __future__ import annotations


def empty(connection, model) -> None:
    """Empty the table in plain SQL (no per-row signals), untimed. On PostgreSQL, CASCADE: a
    bench database's rows that name these go too (the demo's portal invitations name their
    messages)."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {model._meta.db_table} CASCADE")
        else:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")


def checkpoint(connection) -> None:
    """Start each timed run with SQLite's write-ahead log written back, so that neither side
    pays for the other's checkpoint."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
