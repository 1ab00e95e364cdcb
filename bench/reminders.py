"""The day's reminders for every patient, planned, against raw executemany INSERTs of the same
outbox rows; then sent through the file backend by one worker.

Run:  .venv/bin/python bench/reminders.py [--patients 100000] [--runs 3] [--send 20000]
                                          [--postgres URL] [--data-dir DIR]
Tiny (a check that it still runs, as tests/test_bench.py does; the numbers mean little):
      .venv/bin/python bench/reminders.py --patients 200 --runs 1 --send 100

In one process, on a fresh database loaded with `tandem demo --patients N` (or, with
--data-dir, the database there, loaded first only if it holds fewer patients; with --postgres
and --data-dir the PostgreSQL database is kept, not emptied, likewise):
0. set-up, untimed: every patient agrees to texts (the demo gives each a mobile number) and has
   choices for reminders (the demo's: texts first, some emails and letters), and every patient
   in or after treatment has a check-up due in 3 days, so that today's planning gives each of
   them a reminder ("plan the day's reminders for every patient"); the outbox emptied;
1. planning: `tandem.reminders.planner.plan_day`, as the worker runs it each morning: the
   set-based queries for what is due, each patient's choices and goals, the service's
   wording, the channel (and the two-unanswered rule), the words of each message rendered and
   checked to be discreet, the window, and the rows written once each (the unique key);
2. raw: the same rows as planning wrote them (read back, untimed), written with DB-API
   `executemany` of a plain INSERT on the driver connection in one transaction, into the
   emptied outbox (untimed, plain SQL);
   each is run --runs times on an emptied outbox; the median is taken;
3. sending: --send of those messages (texts and emails; letters are printed), made due now
   and open all day (the patient's window of the day cleared, so the benchmark measures the
   same at any hour it is run: windows are tested in tests/test_outbox_sending.py), sent by
   one worker's `tandem.outbox.services.send_due` (claim under the lock, the file
   backend writing one file a text and the email file backend, the status written), with no
   pace limit (a provider's own limit is a setting, not the worker's speed).
Targets (issue 17): planning >= 25% of the rate of raw executemany; sending >= 200 messages a
second per worker.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import tempfile
import time

from common import checkpoint, empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--send", type=int, default=20_000)
    parser.add_argument("--postgres", help="a postgres:// URL of a database this may fill")
    parser.add_argument("--data-dir", help="TANDEM_DATA_DIR of a demo database to reuse")
    args = parser.parse_args()

    os.environ["TANDEM_DATA_DIR"] = args.data_dir or tempfile.mkdtemp(prefix="tandem-bench-")
    os.environ.setdefault("TANDEM_SECRET_KEY", "bench-only-" + "b" * 40)
    os.environ["TANDEM_HTTPS"] = "0"
    outbox_dir = tempfile.mkdtemp(prefix="tandem-bench-outbox-")
    os.environ["TANDEM_OUTBOX_DIR"] = outbox_dir
    os.environ["TANDEM_SMS_BACKEND"] = "tandem.outbox.sms.FileBackend"
    os.environ["TANDEM_SITE_URL"] = "https://tandem.example"
    if args.postgres:
        os.environ["TANDEM_DATABASE_URL"] = args.postgres
    os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.urls import reverse
    from django.utils import timezone

    from tandem.bulk import adapter, insert_sql
    from tandem.demo import reminders as demo_reminders
    from tandem.demo.load import ORGANISATION, load
    from tandem.outbox import services as outbox
    from tandem.outbox.models import Message
    from tandem.patients.models import OPEN_STATUSES, CaseloadEntry, Patient
    from tandem.reminders import planner
    from tandem.reminders.models import Preferences

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = os.path.join(outbox_dir, "email")
    if args.postgres and not args.data_dir:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", interactive=False, verbosity=0)
    print(f"database: {connection.vendor}; patients: {args.patients:,}", flush=True)
    if Patient.objects.count() < args.patients:
        started = time.perf_counter()
        result = load(args.patients, password="bench-password", progress=True)
        print(f"tandem demo --patients {args.patients}: {result.rows:,} rows in "
              f"{time.perf_counter() - started:.0f} s (untimed)", flush=True)
    else:
        print(f"reusing the demo database in {args.data_dir}", flush=True)

    # 0. Set-up (untimed).
    started = time.perf_counter()
    org = Patient.objects.filter(organisation__name=ORGANISATION).first().organisation
    today = timezone.localdate()
    with transaction.atomic():
        Patient.objects.filter(organisation=org).exclude(phone="").update(agrees_to_sms=True)
    empty(connection, Preferences)
    demo_reminders.load(org)
    with transaction.atomic():
        due = CaseloadEntry.objects.filter(organisation=org, episode_status__in=OPEN_STATUSES)
        due.update(checkup_due=today + datetime.timedelta(days=3), review_due=None,
                   awaiting_signature=False)
    patients = Patient.objects.filter(organisation=org).count()
    reachable = due.count()
    print(f"set-up: {patients:,} patients, {reachable:,} in or after treatment, each with a "
          f"check-up due in 3 days; {Preferences.objects.filter(organisation=org).count():,} "
          f"with choices for reminders ({time.perf_counter() - started:.0f} s, untimed)",
          flush=True)
    reverse("stop", kwargs={"token": "warm"})  # the URLs loaded, as in a worker that has run
    # The planning runs at 08:00 local time, as a worker would after TANDEM_REMINDERS_HOUR.
    now = timezone.make_aware(datetime.datetime.combine(today, datetime.time(8)))

    # 1. Planning.
    plan_runs, counts = [], None
    for _run in range(args.runs):
        empty(connection, Message)
        checkpoint(connection)
        began = time.perf_counter()
        with transaction.atomic():
            counts = planner.plan_day(today, now=now, organisation_id=org.pk)
        plan_runs.append(time.perf_counter() - began)
    planned = counts["planned"]
    by_way = dict(Message.objects.values_list("channel").annotate(
        n=django.db.models.Count("pk")).order_by())
    print(f"planned: {planned:,} reminders ({', '.join(f'{n:,} {w}' for w, n in by_way.items())})"
          f"; skipped {counts['skipped']:,} (kinds not wanted, or no way to reach them)",
          flush=True)

    # 2. Raw executemany of the same rows.
    columns = [f.attname for f in Message._meta.concrete_fields]
    rows = list(Message.objects.values_list(*columns))
    adapt = adapter(Message, columns)
    prepared = [adapt(row) for row in rows]
    sql = insert_sql(Message, columns)
    if connection.vendor == "sqlite":
        sql = sql.replace("%s", "?")
    raw_runs = []
    for _run in range(args.runs):
        empty(connection, Message)
        checkpoint(connection)
        connection.ensure_connection()
        began = time.perf_counter()
        with transaction.atomic():
            connection.connection.cursor().executemany(sql, prepared)
        raw_runs.append(time.perf_counter() - began)
    assert Message.objects.count() == planned

    plan_seconds, raw_seconds = statistics.median(plan_runs), statistics.median(raw_runs)
    plan_rate, raw_rate = planned / plan_seconds, planned / raw_seconds
    ratio = plan_rate / raw_rate

    # 3. Sending, one worker.
    sendable = list(Message.objects.exclude(channel="letter").order_by("pk")
                    .values_list("pk", flat=True)[:args.send])
    Message.objects.update(send_after=timezone.now() + datetime.timedelta(days=1))  # not these
    for start in range(0, len(sendable), 5000):
        Message.objects.filter(pk__in=sendable[start:start + 5000]).update(
            send_after=timezone.now() - datetime.timedelta(seconds=1), window_opens=None,
            window_closes=None)
    checkpoint(connection)
    sent = failed = 0
    began = time.perf_counter()
    while True:
        done = outbox.send_due(limit=outbox.CLAIM_BATCH, paces={})
        sent += done["sent"]
        failed += done["failed"]
        if not done["sent"] and not done["failed"]:
            break
    send_seconds = time.perf_counter() - began
    files = len(os.listdir(os.path.join(outbox_dir, "sms"))) if os.path.isdir(
        os.path.join(outbox_dir, "sms")) else 0
    send_rate = sent / send_seconds if send_seconds else 0.0

    def runs(values):
        return ", ".join(f"{v:.2f}" for v in values)

    print(f"\nreminders planned: {planned:,} for {reachable:,} patients in or after treatment")
    print(f"planning (planner.plan_day)   : {plan_seconds:7.2f} s = {plan_rate:10,.0f} rows/s  "
          f"(runs: {runs(plan_runs)} s)")
    print(f"raw executemany INSERT        : {raw_seconds:7.2f} s = {raw_rate:10,.0f} rows/s  "
          f"(runs: {runs(raw_runs)} s)")
    print(f"ratio planning / raw: {ratio:.1%} (target >= 25%): "
          f"{'PASS' if ratio >= 0.25 else 'FAIL'}")
    print(f"sent by one worker: {sent:,} ({failed:,} failed) in {send_seconds:.2f} s = "
          f"{send_rate:,.0f} messages/s (target >= 200): "
          f"{'PASS' if send_rate >= 200 else 'FAIL'}; {files:,} text files written in "
          f"{outbox_dir}")



if __name__ == "__main__":
    main()
