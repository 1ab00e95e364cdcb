"""How fast does `tandem demo --patients N` load, against raw executemany INSERTs of the same rows?

Run:  .venv/bin/python bench/demo_load.py [--patients 100000] [--postgres URL]

Both runs write the same rows into the same freshly migrated, empty tables (same indexes and
constraints) in one process: first the demo loader exactly as `tandem demo` runs it (row
generation, model instances, bulk_create, progress bar), then, after emptying the tables,
plain DB-API `executemany` INSERTs of the same rows, generated beforehand (untimed), in one
transaction on the raw driver connection.
Target (issue 2): demo rate >= 50% of the raw rate.
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

    from tandem.assessment.models import CheckupSchedule, Response
    from tandem.demo.load import BATCH, ensure_service, generator, insert_statements, load
    from tandem.monitoring.models import Flag
    from tandem.patients.models import CareTeam, CareTeamMember, Episode, Patient
    from tandem.planning.models import (
        CarePlan,
        Goal,
        GoalRating,
        GoalTypeChange,
        PlanAction,
        PlanVersion,
        PrioritySort,
        Review,
        SortSession,
    )

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
    Patient.objects.filter(portal_user__isnull=False).update(portal_user=None)
    for model in (GoalRating, Review, PlanVersion, PlanAction, CarePlan, GoalTypeChange, Goal,
                  PrioritySort, SortSession, Flag, Response, CheckupSchedule, CareTeamMember,
                  Episode, CareTeam, Patient):
        model.objects.all().delete()

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


if __name__ == "__main__":
    main()
