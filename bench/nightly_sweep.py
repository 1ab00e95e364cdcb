"""The nightly sweep over every monitored patient, against one hand-written SQL aggregate.

Run:  .venv/bin/python bench/nightly_sweep.py --data-dir DIR [--postgres URL] [--patients N]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/python bench/nightly_sweep.py --data-dir DIR --patients 200

On a database holding `tandem demo --patients N` (N is 100,000 unless given; the demo is loaded
first if the database holds fewer patients), in one process, side by side:
1. the sweep: `monitoring.evaluate.sweep()`, every rule in `core.flags.RULES`, reading each
   batch of patients' data, evaluating the pure rules and writing flags: seconds, and the
   process's peak memory;
2. the same evaluation restricted to the four rules that a single SQL statement can express
   (check-up overdue, care-plan review overdue, plan unsigned, no contact): Python (gather +
   `core.flags.evaluate`, nothing written) against one hand-written SQL aggregate over the same
   tables, with the ratio; both must find the same number of patients per rule.
The other rules (safety answers, severe scores, injecting, return to use, reliable change,
life-domain drops, housing answers, goals at −2 at two reviews in a row) read runs of check-ups
or reviews with per-item logic, which is what the pure core is for.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
import time

SQL_RULES = ("checkup-overdue", "review-overdue", "plan-unsigned", "no-contact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--data-dir", required=True, help="TANDEM_DATA_DIR (SQLite lives here)")
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    args = parser.parse_args()
    os.environ["TANDEM_DATA_DIR"] = args.data_dir
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    os.environ["TANDEM_HTTPS"] = "0"
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from tandem.assessment.models import Response
    from tandem.monitoring.models import Flag
    from tandem.patients.models import Patient

    call_command("migrate", interactive=False, verbosity=0)
    if Patient.objects.count() < args.patients:
        from tandem.demo.load import load

        load(args.patients, password="bench-password", progress=True)
    today = timezone.localdate()
    print(f"database: {connection.vendor}; {Patient.objects.count():,} patients, "
          f"{Response.objects.count():,} check-up responses, {Flag.objects.count():,} flags "
          f"before the sweep", flush=True)

    python_s, python_counts = evaluate_only(today)
    sql_s, sql_counts = sql_aggregate(today)
    print(f"\nfour rules, evaluation only (nothing written), {sum(python_counts.values()):,} "
          f"findings:")
    print(f"  Python (gather + core.flags): {python_s:8.1f} s")
    print(f"  one SQL aggregate:            {sql_s:8.1f} s")
    print(f"  ratio Python / SQL:           {python_s / sql_s:8.1f}x")
    for rule in SQL_RULES:
        mark = "same" if python_counts[rule] == sql_counts[rule] else "DIFFERENT"
        print(f"    {rule:<16} Python {python_counts[rule]:>7,}  SQL {sql_counts[rule]:>7,}  "
              f"{mark}")
    if python_counts != sql_counts:
        sys.exit("The SQL aggregate and the rules disagree.")

    from tandem.core import flags as rules
    from tandem.monitoring import evaluate

    before = Flag.objects.count()
    started = time.perf_counter()
    totals = evaluate.sweep(today)
    sweep_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nnightly sweep, all {len(rules.RULES)} rules, flags written: {sweep_s:.1f} s for "
          f"{totals['patients']:,} monitored patients ({totals['patients'] / sweep_s:,.0f}/s); "
          f"{totals['raised']:,} raised, {totals['updated']:,} updated "
          f"({before:,} → {Flag.objects.count():,} flags); peak memory of the process "
          f"{peak:,.0f} MB")
    print(f"sweep vs the SQL aggregate of four rules: {sweep_s / sql_s:.1f}x")


def evaluate_only(today):
    from tandem.accounts.models import Organisation
    from tandem.core import flags as rules
    from tandem.monitoring import evaluate

    config = {code: rules.RuleConfig(enabled=code in SQL_RULES) for code in rules.RULES}
    counts = dict.fromkeys(SQL_RULES, 0)
    started = time.perf_counter()
    for org in Organisation.objects.all():
        ids = list(evaluate.monitored(org))
        for start in range(0, len(ids), evaluate.BATCH):
            facts = evaluate.gather(org, ids[start:start + evaluate.BATCH], today)
            for f in facts.values():
                for finding in rules.evaluate(f, config):
                    if finding.rule in counts:  # the safety rules cannot be switched off
                        counts[finding.rule] += 1
    return time.perf_counter() - started, counts


def sql_aggregate(today):
    """Patients each of the four rules finds, in one statement (defaults as in RULES)."""
    from django.db import connection
    from django.utils import timezone

    day = datetime.timedelta(days=1)
    midnight = timezone.make_aware(datetime.datetime.combine(today - 13 * day, datetime.time()))
    dates = {
        "window": today - 400 * day,
        "due_active": today - 14 * day, "due_post": today - 30 * day, "today": today,
        "quiet_since": today - 28 * day,
    }
    params = {k: connection.ops.adapt_datefield_value(v) for k, v in dates.items()}
    params["signed_before"] = connection.ops.adapt_datetimefield_value(midnight)
    sql = """
    WITH ep AS (
        SELECT patient_id, status, start_date FROM patients_episode
        WHERE status IN ('active', 'post-exit-monitoring')),
    plan AS (
        SELECT patient_id, id, review_date FROM (
            SELECT p.patient_id, p.id, p.review_date,
                   ROW_NUMBER() OVER (PARTITION BY p.patient_id ORDER BY p.created_at DESC) AS n
            FROM planning_careplan p
            WHERE p.status NOT IN ('revoked', 'entered-in-error')) AS latest
        WHERE n = 1),
    version AS (
        SELECT plan_id, created_at, patient_signed_at FROM (
            SELECT v.plan_id, v.created_at, v.patient_signed_at,
                   ROW_NUMBER() OVER (PARTITION BY v.plan_id ORDER BY v.number DESC) AS n
            FROM planning_planversion v) AS latest
        WHERE n = 1),
    contact AS (
        SELECT patient_id, MAX(day) AS last FROM (
            SELECT patient_id, "on" AS day FROM monitoring_contact
            UNION ALL
            SELECT patient_id, completed_on FROM assessment_response
            WHERE status = 'completed' AND completed_on >= %(window)s
              AND mode IN ('with-practitioner', 'phone')  -- contact with a person only
            UNION ALL
            SELECT p.patient_id, r.held_on FROM planning_review r
            JOIN planning_careplan p ON p.id = r.plan_id
            WHERE r.held_on >= %(window)s
              AND EXISTS (SELECT 1 FROM planning_goalrating g WHERE g.review_id = r.id)
        ) AS contacts GROUP BY patient_id)
    SELECT
        SUM(CASE WHEN (ep.status = 'active' AND s.next_due < %(due_active)s)
                   OR (ep.status = 'post-exit-monitoring' AND s.next_due < %(due_post)s)
                 THEN 1 ELSE 0 END),
        SUM(CASE WHEN plan.review_date < %(today)s AND version.plan_id IS NOT NULL
                 THEN 1 ELSE 0 END),
        SUM(CASE WHEN version.patient_signed_at IS NULL
                  AND version.created_at < %(signed_before)s THEN 1 ELSE 0 END),
        SUM(CASE WHEN ep.status = 'active'
                  AND COALESCE(contact.last, ep.start_date) <= %(quiet_since)s
                 THEN 1 ELSE 0 END)
    FROM ep
    LEFT JOIN assessment_checkupschedule s ON s.patient_id = ep.patient_id
    LEFT JOIN plan ON plan.patient_id = ep.patient_id
    LEFT JOIN version ON version.plan_id = plan.id
    LEFT JOIN contact ON contact.patient_id = ep.patient_id
    """
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    elapsed = time.perf_counter() - started
    return elapsed, {rule: int(n or 0) for rule, n in zip(SQL_RULES, row, strict=True)}


if __name__ == "__main__":
    main()
