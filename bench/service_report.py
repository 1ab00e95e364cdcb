"""The whole service report for 12 months, against DuckDB working out the same figures.

Run:  .venv/bin/python bench/service_report.py [--patients 100000] [--postgres URL] [--reuse]
      [--duckdb-threads N]
Reuse a demo database already built (SQLite in TANDEM_DATA_DIR, or the --postgres database):
      TANDEM_DATA_DIR=/tmp/demo100k .venv/bin/python bench/service_report.py --reuse
Tiny (a check that it still runs, as tests/test_bench.py does; the times mean little):
      .venv/bin/python bench/service_report.py --patients 200

Issue 16's benchmark. In one process:

0. untimed: a database from `tandem demo --patients N` (`tandem.demo.load.load`, as
   bench/demo_load.py builds it; with --reuse, the database as it is when it already holds
   patients), in TANDEM_DATA_DIR if set, else a new temporary folder.
   **Check-ups.** A check-up is one completed questionnaire: "response / check-up: one
   completion, by whom, how, when" (DESIGN.md's domain table; a QuestionnaireResponse in FHIR).
   The demo writes about 4 check-up days per patient, each with 4 questionnaires (TOP, PHQ-9,
   GAD-7, life domains), so about 16 completed check-ups per patient, **about 1.6 million for
   100,000 patients, which meets the issue's "at least 1,000,000 completed check-ups"**. The
   days (distinct patient and day of a completed response, about 400,000) are printed too, so
   nobody mistakes one for the other.
1. timed: the whole report for the demo organisation for the last 12 months, both periods as
   the page shows them: `tandem.reporting.report.build(Scope(org, last_twelve_months(today)))`
   (given every figure and a dict to note each family's time in, for the slowest list), on
   the report's own number of database connections at once (settings.REPORT_CONNECTIONS,
   TANDEM_REPORT_CONNECTIONS, 2 by default), as the page works it out.
2. untimed: the rows the figures read (only those tables and columns) exported once to CSV and
   read into DuckDB (in memory); the scale values the figures read are taken out of the scores
   JSON into number columns on the way (bench/service_report_duckdb.py says exactly what).
   DuckDB's sqlite/postgres scanner extensions are not bundled (and cannot be downloaded here),
   so DuckDB never reads the service's database itself.
3. timed: DuckDB working out every figure for both periods, in SQL written independently from
   each figure's definition and its module's docstring (bench/service_report_duckdb.py).

Then every figure's value (count, of, value, people; numbers to 1e-9 relative) is compared for
both periods; each difference is printed with both values, and any figure DuckDB does not work
out is named as not compared. It prints both times, the ratio report / DuckDB (target <= 3x) and
the number of figures compared, and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time

FIELDS = ("count", "of", "value", "people")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    parser.add_argument("--reuse", action="store_true",
                        help="skip building when the database already holds patients")
    parser.add_argument("--duckdb-threads", type=int, default=0,
                        help="DuckDB's threads (default: DuckDB's own, one per core)")
    args = parser.parse_args()

    if not os.environ.get("TANDEM_DATA_DIR"):
        os.environ["TANDEM_DATA_DIR"] = tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    os.environ.setdefault("TANDEM_HTTPS", "0")
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    import duckdb
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tandem.accounts.models import Organisation
    from tandem.assessment.models import Response
    from tandem.core.report import last_twelve_months
    from tandem.demo.load import ORGANISATION, load
    from tandem.patients.models import Patient
    from tandem.reporting import report
    from tandem.reporting.figures import FIGURES
    from tandem.reporting.scope import COMPLETED, Scope

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import service_report_duckdb as duck_figures

    # 0. The database (untimed).
    holds = args.reuse and _holds_patients(connection)
    if holds:
        print(f"database: {connection.vendor}; reusing the demo there "
              f"({Patient.objects.count():,} patients)", flush=True)
    else:
        if args.postgres:
            call_command("flush", interactive=False, verbosity=0)
        call_command("migrate", interactive=False, verbosity=0)
        print(f"database: {connection.vendor}; building a demo of {args.patients:,} patients",
              flush=True)
        began = time.perf_counter()
        result = load(args.patients, password="bench-password", progress=True)
        print(f"tandem demo --patients {args.patients}: {result.rows:,} rows in "
              f"{time.perf_counter() - began:.0f} s (untimed)", flush=True)
    org = Organisation.objects.get(name=ORGANISATION)
    patients = Patient.objects.filter(organisation=org).count()
    done = Response.objects.filter(organisation=org, status__in=COMPLETED)
    questionnaires = done.count()
    dates = done.values("patient_id", "completed_on").distinct().count()
    print(f"patients: {patients:,}")
    print(f"completed check-ups (completed or amended questionnaire responses): "
          f"{questionnaires:,} ({'meets' if questionnaires >= 1_000_000 else 'below'} the "
          f"issue's 1,000,000)")
    print(f"days with a completed check-up (patient and day): {dates:,}", flush=True)

    today = timezone.localdate()
    scope = Scope(org.pk, last_twelve_months(today))
    periods = (scope.period, scope.period.previous())
    print(f"period: {periods[0]} (and before it: {periods[1]})", flush=True)

    # 2 (first, untimed, so both timed runs find the files read lately by the system alike).
    folder = tempfile.mkdtemp(prefix="tandem-report-export-")
    try:
        began = time.perf_counter()
        written = duck_figures.export(connection, folder)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print(f"exported {sum(written.values()):,} rows of {len(written)} tables to CSV "
              f"({size / 1e6:.0f} MB) in {time.perf_counter() - began:.1f} s (untimed)",
              flush=True)
        duck = duckdb.connect()
        if args.duckdb_threads:
            duck.execute(f"SET threads = {args.duckdb_threads}")
        began = time.perf_counter()
        duck_figures.load(duck, folder)
        threads = duck.execute("SELECT current_setting('threads')").fetchone()[0]
        print(f"read into DuckDB {duckdb.__version__} (in memory, {threads} threads) in "
              f"{time.perf_counter() - began:.1f} s (untimed)", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    setup = duck_figures.setup(org.pk)

    # 1. The report (timed), each family's (or lone figure's) own time noted on the way.
    spent: dict[str, float] = {}
    began = time.perf_counter()
    built = report.build(scope, FIGURES, spent)
    report_seconds = time.perf_counter() - began
    print(f"report: {len(built.rows)} figures x 2 periods in {report_seconds:.2f} s "
          f"on {settings.REPORT_CONNECTIONS} database connection(s) at once", flush=True)

    # 3. DuckDB (timed).
    began = time.perf_counter()
    duck_values = [duck_figures.figures(duck, setup, period) for period in periods]
    duck_seconds = time.perf_counter() - began
    print(f"DuckDB: {len(duck_values[0])} figures x 2 periods in {duck_seconds:.2f} s",
          flush=True)

    # Compare.
    mismatches, compared, missing = [], 0, []
    print("\nfigure                                   this period            period before")
    for row in built.rows:
        key = row.definition.key
        if key not in duck_values[0]:
            missing.append(key)
            continue
        compared += 1
        cells = []
        for label, ours, theirs in (("this period", row.now, duck_values[0][key]),
                                    ("period before", row.before, duck_values[1][key])):
            cells.append(_shown(ours))
            different = [f for f in FIELDS if not _same(getattr(ours, f), getattr(theirs, f))]
            if different:
                mismatches.append((key, label, ours, theirs, different))
        print(f"  {key:<38} {cells[0]:<22} {cells[1]}")
    extra = sorted(set(duck_values[0]) - {r.definition.key for r in built.rows})

    print()
    for key, label, ours, theirs, fields in mismatches:
        print(f"MISMATCH {key} ({label}) in {', '.join(fields)}: report {_full(ours)}; "
              f"DuckDB {_full(theirs)}")
    for key in missing:
        print(f"NOT COMPARED: {key} (no DuckDB SQL for it yet)")
    for key in extra:
        print(f"DuckDB works out {key}, which the report does not have")
    print(f"figures compared: {compared} of {len(built.rows)} (each for both periods); "
          f"mismatches: {len(mismatches)}")
    slowest = sorted(spent.items(), key=lambda kv: -kv[1])[:10]
    print("slowest in the report (seconds on its connection, both periods added; a family of "
          "figures is one query a period): "
          + "; ".join(
        f"{key} {seconds:.1f} s" for key, seconds in slowest))
    print(f"report: {report_seconds:.2f} s; DuckDB: {duck_seconds:.2f} s")
    ratio = report_seconds / duck_seconds
    print(f"ratio report / DuckDB: {ratio:.1f}x (target <= 3x): "
          f"{'PASS' if ratio <= 3 else 'FAIL'}")
    sys.exit(1 if mismatches or missing or extra else 0)


def _holds_patients(connection) -> bool:
    from tandem.patients.models import Patient

    if Patient._meta.db_table not in connection.introspection.table_names():
        return False
    return Patient.objects.exists()


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _shown(value) -> str:
    if value.of is not None:
        return f"{value.count:,} of {value.of:,}"
    if value.people is not None:
        shown = "-" if value.value is None else f"{value.value:.3f}"
        return f"{shown} ({value.people:,})"
    if value.count is not None:
        return f"{value.count:,}"
    return "-"


def _full(value) -> str:
    return ", ".join(f"{f}={getattr(value, f)!r}" for f in FIELDS)


if __name__ == "__main__":
    main()
