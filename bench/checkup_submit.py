"""Submitting check-ups through the API, against raw INSERTs of the same stored rows.

Run:  .venv/bin/python bench/checkup_submit.py [--patients 100000] [--checkups 10000]
                                                [--batch 500] [--singles 300] [--postgres URL]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/python bench/checkup_submit.py --patients 200 --checkups 100 --batch 50 \
                                                --singles 10

In one process, on a fresh database loaded with `tandem demo --patients N` (with its check-up
histories):
1. the API: 10,000 completed check-ups (--checkups; PHQ-9, GAD-7, the TOP-style profile and
   life-domain ratings, four for each of 2,500 patients) POSTed to /api/v1/responses in
   batches of 500 (--batch), with a team lead's bearer token, through Django's full request
   stack (token sign-in, the permission layer, validation, scoring, storing, urgent flags, the
   audit trail, schedule updates);
2. raw: the rows that run stored (responses, audit events, schedule updates), copied with fresh
   keys and written again with DB-API `executemany` on the driver connection: once with one
   transaction per batch, as the API wrote them, and once all in a single transaction; each
   the median of three runs.
It prints check-ups per second for each and the ratios. Target (issue 3): API >= 25% of raw.
For context it also times one check-up per request (POST /patients/{id}/responses), for 300
further patients (--singles).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--checkups", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    args = parser.parse_args()

    os.environ["TANDEM_DATA_DIR"] = tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    os.environ["TANDEM_HTTPS"] = "0"
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from tandem.accounts.models import ApiToken, User
    from tandem.assessment.models import CheckupSchedule, Response
    from tandem.audit.models import AuditEvent
    from tandem.demo.checkups import CHECKUP, CheckupHistory
    from tandem.demo.load import load
    from tandem.patients.access import changeable_patients

    settings.ALLOWED_HOSTS = ["*"]
    if args.postgres:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    print(f"database: {connection.vendor}", flush=True)
    started = time.perf_counter()
    result = load(args.patients, password="bench-password", progress=True)
    print(f"tandem demo --patients {args.patients}: {result.rows:,} rows in "
          f"{time.perf_counter() - started:.0f} s; "
          f"{Response.objects.count():,} check-up responses stored", flush=True)

    lead = User.objects.get(username="lead")
    _token, plain = ApiToken.issue(lead, "bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    per_patient = len(CHECKUP)
    wanted = args.checkups // per_patient + args.singles
    patients = list(changeable_patients(lead).order_by("service_id")
                    .values_list("pk", flat=True)[:wanted])
    rng = random.Random(3)
    history = CheckupHistory(0, None, None, None, rng.random)
    items = [
        {"patient_id": str(pid), "instrument": code,
         "answers": history.answers(code, rng.random() * 0.9, ("opioids", "crack"))}
        for pid in patients[: args.checkups // per_patient] for code in CHECKUP
    ]
    bodies = [json.dumps({"responses": items[i : i + args.batch]})
              for i in range(0, len(items), args.batch)]

    # 1. Through the API, in batches.
    _checkpoint(connection)
    seq_before = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    started = time.perf_counter()
    ids = []
    for body in bodies:
        reply = client.post("/api/v1/responses", body, content_type="application/json")
        if reply.status_code != 201:
            sys.exit(f"API refused a batch: {reply.status_code} {reply.content[:500]!r}")
        ids += reply.json()["ids"]
    api_seconds = time.perf_counter() - started
    api_rate = len(ids) / api_seconds

    # For context: one check-up per request.
    singles = patients[args.checkups // per_patient :]
    started = time.perf_counter()
    for pid in singles:
        answers = history.answers("phq9", rng.random() * 0.6, ("alcohol",))
        reply = client.post(f"/api/v1/patients/{pid}/responses",
                            {"instrument": "phq9", "answers": answers},
                            content_type="application/json")
        assert reply.status_code == 201, reply.content[:300]
    single_rate = len(singles) / (time.perf_counter() - started)

    # 2. Raw INSERTs of the same stored rows.
    responses = list(Response.objects.filter(pk__in=ids).values_list(
        *[f.attname for f in Response._meta.concrete_fields]))
    audit_fields = [f.attname for f in AuditEvent._meta.concrete_fields if f.attname != "id"]
    events = list(AuditEvent.objects.filter(seq__gt=seq_before, object_type="response",
                                            object_id__in=ids).values_list(*audit_fields))
    touched = {r[2] for r in responses}
    schedules = list(CheckupSchedule.objects.filter(patient_id__in=touched)
                     .values_list("next_due", "next_kind", "updated_at", "patient_id"))
    ops = connection.ops
    seq_at = audit_fields.index("seq")
    by_patient: dict = {}
    for row in schedules:
        by_patient[row[3]] = row

    def insert(model, fields):
        names = ", ".join(connection.ops.quote_name(f) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        return f"INSERT INTO {model._meta.db_table} ({names}) VALUES ({marks})"

    response_sql = _driver(insert(Response, [f.attname for f in Response._meta.concrete_fields]))
    event_sql = _driver(insert(AuditEvent, audit_fields))
    schedule_sql = _driver(f"UPDATE {CheckupSchedule._meta.db_table} SET next_due = %s, "
                           "next_kind = %s, updated_at = %s WHERE patient_id = %s")

    def raw_run(per_batch: bool) -> float:
        """The stored rows again, with fresh keys; rows prepared beforehand, only the writes
        timed. `per_batch`: one transaction per batch, as the API wrote them; else one for all."""
        top = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
        batches = []
        for start in range(0, len(responses), args.batch):
            part = responses[start : start + args.batch]
            events_part = events[start : start + args.batch]
            patients_part = dict.fromkeys(r[2] for r in part)
            batches.append((
                [_db_row(ops, (uuid.uuid4(), *row[1:])) for row in part],
                [_db_row(ops, row[:seq_at] + (top + start + n + 1,) + row[seq_at + 1 :])
                 for n, row in enumerate(events_part)],
                [_db_row(ops, by_patient[p]) for p in patients_part if p in by_patient],
            ))
        _checkpoint(connection)
        raw = connection.connection
        if not per_batch:
            batches = [tuple(sum((b[i] for b in batches), []) for i in range(3))]
        began = time.perf_counter()
        for response_rows, event_rows, schedule_rows in batches:
            with transaction.atomic():
                cursor = raw.cursor()
                cursor.executemany(response_sql, response_rows)
                cursor.executemany(event_sql, event_rows)
                cursor.executemany(schedule_sql, schedule_rows)
        return time.perf_counter() - began

    connection.ensure_connection()
    rows = len(responses) + len(events) + len(schedules)
    raw = {}
    for per_batch in (True, False):
        runs = sorted(raw_run(per_batch) for _ in range(3))
        raw[per_batch] = (runs[1], runs)  # the median of three

    print(f"\ncheck-ups stored: {len(ids):,} for {len(touched):,} patients "
          f"({rows:,} rows: responses, audit events, schedule updates)")
    print(f"API, {args.batch} per request: {api_seconds:7.2f} s  {api_rate:10,.0f} check-ups/s")
    for per_batch, label in ((True, f"{args.batch} per transaction"), (False, "one transaction")):
        seconds, runs = raw[per_batch]
        rate = len(responses) / seconds
        print(f"raw executemany, {label}: {seconds:7.2f} s  {rate:10,.0f} check-ups/s  "
              f"(median of 3: {', '.join(f'{r:.2f}' for r in runs)} s)  "
              f"ratio API / raw: {api_rate / rate:6.1%}")
    print("target (issue 3): API >= 25% of raw")
    print(f"one check-up per request (context): {single_rate:,.0f} check-ups/s")


def _db_row(ops, row):
    """Python values → what the driver takes (JSON as text, UUIDs and times per backend)."""
    import datetime

    out = []
    for value in row:
        if isinstance(value, dict | list):
            value = json.dumps(value)
        elif isinstance(value, uuid.UUID):
            value = value.hex if ops.connection.vendor == "sqlite" else value
        elif isinstance(value, datetime.datetime):
            value = ops.adapt_datetimefield_value(value)
        elif isinstance(value, datetime.date):
            value = ops.adapt_datefield_value(value)
        out.append(value)
    return tuple(out)


def _checkpoint(connection) -> None:
    """Start each timed phase with SQLite's write-ahead log written back, so that neither side
    pays for the other's checkpoint."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _driver(sql: str) -> str:
    """Django's %s placeholders → the driver's own (sqlite3 uses ?)."""
    from django.db import connection

    return sql.replace("%s", "?") if connection.vendor == "sqlite" else sql


if __name__ == "__main__":
    main()
