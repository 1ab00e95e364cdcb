"""How fast does `tandem demo --patients N` load, against raw executemany INSERTs of the same rows?

Run:  .venv/bin/python bench/demo_load.py [--patients 100000] [--postgres URL]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/python bench/demo_load.py --patients 200

Both runs write the same rows into the same freshly migrated, empty tables (same indexes and
constraints) in one process: first the demo loader exactly as `tandem demo` runs it
(`tandem.demo.load.load`: accounts, row generation, batched INSERTs, the caseload entries, the
sweep that settles the flags, fresh statistics, progress bar), then, after emptying the tables,
plain DB-API `executemany` INSERTs of the same rows, generated beforehand (untimed), in one
transaction on the raw driver connection. The tables are emptied in plain SQL (TRUNCATE on
PostgreSQL, DELETE FROM on SQLite), untimed, sending no per-row signals.
It prints rows per second for each and the ratio. Target (issue 2): demo rate >= 50% of the
raw rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    args = parser.parse_args()

    os.environ["TANDEM_DATA_DIR"] = tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from tandem.demo.load import BATCH, TABLES, ensure_service, generator, insert_statements, load

    call_command("flush" if args.postgres else "migrate", interactive=False, verbosity=0)
    if args.postgres:
        call_command("migrate", interactive=False, verbosity=0)
    print(f"database: {connection.vendor}; patients: {args.patients}", flush=True)

    start = time.perf_counter()
    result = load(args.patients, password="bench-password", progress=True)
    demo_seconds = time.perf_counter() - start
    demo_rate = result.rows / demo_seconds

    # The same rows again (same generator and batches), generated untimed.
    org, teams, staff, _ = ensure_service(None)
    make = generator(org, teams, staff)
    numbers = list(range(1, args.patients + 1))
    batches = [make.rows(numbers[i : i + BATCH]) for i in range(0, len(numbers), BATCH)]
    placeholder = "?" if connection.vendor == "sqlite" else "%s"
    statements = [sql.replace("%s", placeholder) for sql in insert_statements()]
    start = time.perf_counter()
    emptied = empty_tables(connection, [model for model, _columns in TABLES])
    print(f"emptied {len(emptied)} tables in {time.perf_counter() - start:.2f} s (untimed)",
          flush=True)

    raw = connection.connection
    total = sum(len(rows) for batch in batches for rows in batch)
    start = time.perf_counter()
    with transaction.atomic():  # one transaction: raw gets its best case
        cursor = raw.cursor()
        for batch in batches:
            for sql, rows in zip(statements, batch, strict=True):
                cursor.executemany(sql, rows)
    raw_seconds = time.perf_counter() - start
    raw_rate = total / raw_seconds

    assert total == result.rows, (total, result.rows)
    print(f"tandem demo : {result.rows:>9,} rows in {demo_seconds:7.2f} s = "
          f"{demo_rate:>10,.0f} rows/s")
    print(f"raw INSERTs : {total:>9,} rows in {raw_seconds:7.2f} s = {raw_rate:>10,.0f} rows/s")
    ratio = demo_rate / raw_rate
    print(f"ratio       : {ratio:.0%} of raw (target >= 50%): {'PASS' if ratio >= 0.5 else 'FAIL'}")
    sys.exit(0)


def empty_tables(connection, models) -> list[str]:
    """Empty the demo's tables, and every table that refers to one of them (caseload entries,
    proposals, the audit trail), in plain SQL: no per-row delete signals (Django's
    `QuerySet.delete()` would refresh a caseload entry for each row). PostgreSQL: one TRUNCATE,
    which leaves the tables as new (no dead rows); SQLite: DELETE FROM each, those that refer to
    another first, then the write-ahead log written back so the timed run does not pay for it.
    Returns the tables emptied."""
    from django.apps import apps
    from django.db import transaction

    everything = [m for m in apps.get_models(include_auto_created=True)
                  if m._meta.managed and not m._meta.proxy]

    def referrers(model):
        return [m for m in everything if m is not model and any(
            f.is_relation and f.related_model is model for f in m._meta.concrete_fields)]

    order: list = []  # referring tables before the tables they refer to

    def visit(model, path=frozenset()):
        if model in order or model in path:
            return
        for other in referrers(model):
            visit(other, path | {model})
        order.append(model)

    for model in models:
        visit(model)
    tables = [m._meta.db_table for m in order]
    quoted = [connection.ops.quote_name(t) for t in tables]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(quoted)}")
        else:
            for table in quoted:
                cursor.execute(f"DELETE FROM {table}")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return tables


if __name__ == "__main__":
    main()
