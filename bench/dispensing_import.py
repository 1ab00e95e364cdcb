"""Importing the pharmacy's dispensing file, against raw executemany INSERTs of the same rows.

Run:  .venv/bin/python bench/dispensing_import.py [--patients 100000] [--days 10] [--runs 3]
                                                   [--postgres URL] [--data-dir DIR]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/python bench/dispensing_import.py --patients 200 --runs 1

In one process, on a fresh database loaded with `tandem demo --patients N` (or, with
--data-dir, the database there, loaded first only if it holds fewer patients; with --postgres
and --data-dir the PostgreSQL database is kept, not emptied, likewise):
0. set-up, untimed: one current methadone plan (with its first version and start dose) for
   each patient without one, written set-based; a team lead of every team to import as; the
   dispensing table emptied; a CSV file of 10 days (--days) for every patient, about 1% of
   them with their last 3 days missed and nobody else with 2 missed days in a row;
1. the import: `tandem.medication.dispensing.import_csv` with that text, exactly as the
   import page calls it after reading the upload (every line checked, each patient's
   visibility and current plan looked up, the upsert on plan and day, the audit trail, the
   missed runs, the `dispensing_recorded` signal and whatever its receivers do);
2. raw: the same rows, prepared beforehand (untimed), written with DB-API `executemany` of a
   plain INSERT on the driver connection in one transaction, into the same table emptied
   again (untimed, plain SQL).
Each is run --runs times on an emptied table; the median is taken.
Then the patients of the import are evaluated by monitoring (timed apart: the receiver of
`dispensing_recorded` queues it for the worker or runs it), and the missed-dose flags
(rule "missed-doses") are counted.
It prints rows per second for each and the ratio. Target (issue 15): import >= 25% of raw, on
SQLite and on PostgreSQL, with the missed-dose flags raised for the whole import.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import tempfile
import time
import uuid

from common import checkpoint, empty

RULE = "missed-doses"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    parser.add_argument("--data-dir", help="TANDEM_DATA_DIR of a demo database to reuse")
    args = parser.parse_args()

    os.environ["TANDEM_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    os.environ["TANDEM_HTTPS"] = "0"
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from tandem.accounts.models import Role, RoleGrant, Team, User
    from tandem.audit.actor import Actor
    from tandem.bulk import adapter, insert_sql
    from tandem.demo.load import load
    from tandem.medication import dispensing
    from tandem.medication.models import DispensingDay, MedicationPlan
    from tandem.monitoring import evaluate
    from tandem.monitoring.models import Flag, FlagStatus
    from tandem.patients.access import visible_patients
    from tandem.patients.models import Patient

    if args.postgres and not args.data_dir:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    print(f"database: {connection.vendor}; patients: {args.patients:,}", flush=True)
    if Patient.objects.count() < args.patients:
        started = time.perf_counter()
        result = load(args.patients, password="bench-password", progress=True)
        print(f"tandem demo --patients {args.patients}: {result.rows:,} rows in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    else:
        print(f"reusing the demo database in {args.data_dir}", flush=True)

    # 0. Set-up (untimed).
    started = time.perf_counter()
    lead = User.objects.get(username="lead")
    org_id = lead.organisation_id
    user, _ = User.objects.get_or_create(username="bench-importer",
                                         defaults={"organisation_id": org_id})
    RoleGrant.objects.bulk_create([
        RoleGrant(organisation_id=org_id, user=user, role=Role.TEAM_LEAD, team=team)
        for team in Team.objects.filter(organisation_id=org_id)], ignore_conflicts=True)
    today = timezone.localdate()
    first_day = today - datetime.timedelta(days=args.days)
    made = make_plans(org_id, lead, today)
    plans = dict(MedicationPlan.objects.filter(organisation_id=org_id, status="active",
                                               started_on__lte=first_day)
                 .values_list("patient_id", "pk"))
    people = list(Patient.objects.filter(organisation_id=org_id, pk__in=list(plans))
                  .order_by("service_id").values_list("pk", "service_id"))
    empty(connection, DispensingDay)
    rng = random.Random(15)
    days = [first_day + datetime.timedelta(days=n) for n in range(args.days)]
    rows, lines, given_runs = [], ["patient,date,status"], []
    for n, (patient_id, service_id) in enumerate(people):
        statuses = ["supervised" if rng.random() < 0.7 else "home" for _ in days]
        if n % 100 == 50:  # about 1%: the last 3 days missed
            statuses[-3:] = ["missed"] * 3
            given_runs.append(patient_id)
        elif rng.random() < 0.3:  # a single missed day, never two in a row
            statuses[rng.randrange(0, len(days) - 1, 2)] = "missed"
        for day, status in zip(days, statuses, strict=True):
            lines.append(f"{service_id},{day.isoformat()},{status}")
            rows.append((org_id, patient_id, plans[patient_id], day, status))
    text = "\n".join(lines) + "\n"
    del lines
    expected = len(given_runs)
    print(f"set-up: {made:,} plans made; {len(people):,} patients with a current plan from "
          f"{first_day:%d %b %Y}; {len(rows):,} days in a CSV of {len(text) / 1e6:.1f} MB; "
          f"{expected:,} patients with 3 missed days in a row "
          f"({time.perf_counter() - started:.0f} s, untimed)", flush=True)

    # 1. The import.
    actor = Actor(user=user, role=Role.TEAM_LEAD, path="bench/dispensing_import.py")
    def open_flags() -> int:  # open missed-dose flags of the patients given 3 missed days
        found = 0
        for start in range(0, len(given_runs), 5000):
            found += (Flag.objects.filter(rule=RULE, status=FlagStatus.ACTIVE,
                                          patient_id__in=given_runs[start:start + 5000])
                      .values("patient_id").distinct().count())
        return found

    flags_before = Flag.objects.filter(rule=RULE).count()
    import_runs, imported = [], None
    for run in range(args.runs):
        if run:
            empty(connection, DispensingDay)
        checkpoint(connection)
        began = time.perf_counter()
        with transaction.atomic():
            outcome = dispensing.import_csv(actor, org_id, text, visible_patients(user))
        import_runs.append(time.perf_counter() - began)
        if not outcome.ok:
            raise SystemExit(f"the import refused the file: {outcome.problem_count} problems, "
                             f"first {outcome.problems[:5]}")
        assert outcome.days == len(rows), (outcome.days, len(rows))
        if imported is None:
            imported = outcome
            raised = Flag.objects.filter(rule=RULE).count() - flags_before
            flagged = open_flags()
    # Without a receiver raising them, the patients of the import evaluated by monitoring
    # here, as the worker would.
    evaluate_seconds = None
    if flagged == 0:
        began = time.perf_counter()
        ids = imported.patient_ids
        for start in range(0, len(ids), evaluate.BATCH):
            evaluate.evaluate_patients(lead.organisation, ids[start:start + evaluate.BATCH])
        evaluate_seconds = time.perf_counter() - began
        raised = Flag.objects.filter(rule=RULE).count() - flags_before
        flagged = open_flags()

    # 2. Raw executemany of the same rows.
    columns = list(dispensing.COLUMNS)
    adapt = adapter(DispensingDay, columns)
    now = timezone.now()
    prepared = [adapt((*row, "csv", user.pk, now)) for row in rows]
    sql = insert_sql(DispensingDay, columns)
    if connection.vendor == "sqlite":
        sql = sql.replace("%s", "?")
    raw_runs = []
    for _ in range(args.runs):
        empty(connection, DispensingDay)
        checkpoint(connection)
        connection.ensure_connection()
        began = time.perf_counter()
        with transaction.atomic():
            connection.connection.cursor().executemany(sql, prepared)
        raw_runs.append(time.perf_counter() - began)
    assert DispensingDay.objects.count() == len(rows)

    import_seconds = statistics.median(import_runs)
    raw_seconds = statistics.median(raw_runs)
    import_rate = len(rows) / import_seconds
    raw_rate = len(rows) / raw_seconds
    ratio = import_rate / raw_rate

    def runs(values):
        return ", ".join(f"{v:.2f}" for v in values)

    print(f"\ndays imported: {len(rows):,} for {imported.patients:,} patients")
    print(f"import (CSV, dispensing.import_csv): {import_seconds:7.2f} s = "
          f"{import_rate:10,.0f} rows/s  (runs: {runs(import_runs)} s)")
    print(f"raw executemany INSERT             : {raw_seconds:7.2f} s = "
          f"{raw_rate:10,.0f} rows/s  (runs: {runs(raw_runs)} s)")
    print(f"ratio import / raw: {ratio:.1%} (target >= 25%): "
          f"{'PASS' if ratio >= 0.25 else 'FAIL'}")
    print(f"missed runs named by the import: {len(imported.missed):,} patients with "
          f"{imported.missed_days_for_flag} or more missed days in a row "
          f"(made: {expected:,})")
    where = ("by the import (its dispensing_recorded receiver, inside the timed import)"
             if evaluate_seconds is None else
             f"after the import, by monitoring evaluating its {imported.patients:,} patients "
             f"({evaluate_seconds:.1f} s, untimed)")
    print(f"missed-dose flags ({RULE!r}): {raised:,} raised {where}; {flagged:,} open for the "
          f"{expected:,} patients given 3 missed days in a row")
    if expected and not flagged:
        print(f"  (no flags: monitoring has no rule {RULE!r} yet)")


def make_plans(org_id, prescriber, today) -> int:
    """A current methadone plan, version 1 and a start dose for each patient of the
    organisation whose latest episode has no current plan; set-based. How many."""
    from django.utils import timezone

    from tandem.bulk import insert_many
    from tandem.medication.models import DoseChange, MedicationPlan, PlanVersion
    from tandem.patients.models import Episode

    latest = {}
    for patient_id, episode_id in (Episode.objects.filter(organisation_id=org_id)
                                   .order_by("start_date").values_list("patient_id", "pk")):
        latest[patient_id] = episode_id
    taken = set(MedicationPlan.objects.filter(organisation_id=org_id, status="active")
                .values_list("episode_id", flat=True))
    now = timezone.now()
    started = today - datetime.timedelta(days=60)
    terms = {"low": "20", "high": "90", "step_up_max": "10", "step_down_max": "10",
             "min_days_between": 3, "max_rise_7_days": "20", "pharmacy": "",
             "supervised_days": 7, "take_home_days": 0,
             "review_date": (today + datetime.timedelta(days=60)).isoformat(),
             "self_setting": False, "requests_apply_at_once": False, "above_usual_reason": "",
             "last_ecg_on": None, "medicine": "methadone", "status": "active",
             "titrating_since": started.isoformat()}
    columns = [f.attname for f in MedicationPlan._meta.concrete_fields]
    plans, versions, doses = [], [], []
    for patient_id, episode_id in latest.items():
        if episode_id in taken:
            continue
        plan_id = uuid.uuid4()
        values = {"id": plan_id, "organisation_id": org_id, "patient_id": patient_id,
                  "version": 1, "episode_id": episode_id, "started_on": started,
                  "titrating_since": started, "review_date": today + datetime.timedelta(days=60),
                  "created_by_id": prescriber.pk, "created_at": now,
                  "updated_by_id": prescriber.pk, "updated_at": now, "stopped_on": None,
                  **{k: v for k, v in terms.items() if k not in (
                      "review_date", "titrating_since")}}
        plans.append(tuple(values[c] for c in columns))
        versions.append((plan_id, 1, terms, "Start (benchmark)", prescriber.pk, now))
        doses.append((plan_id, started, "30", "start", "prescriber", 1, "Start (benchmark)",
                      prescriber.pk, now))
    insert_many(MedicationPlan, columns, plans)
    insert_many(PlanVersion, ["plan_id", "number", "terms", "reason", "changed_by_id",
                              "changed_at"], versions)
    insert_many(DoseChange, ["plan_id", "day", "dose", "kind", "source", "plan_version",
                             "reason", "made_by_id", "made_at"], doses)
    return len(plans)



if __name__ == "__main__":
    main()
