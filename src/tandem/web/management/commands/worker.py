"""`tandem worker`: run queued background tasks; queue the nightly sweep and the day's
reminders once a day; send the messages that may go (tandem.outbox.services.send_due).

Built on django-tasks-db's worker. Each task row is claimed under `SELECT … FOR UPDATE SKIP
LOCKED` (PostgreSQL) or an exclusive transaction (SQLite), so several workers never run the
same task; one sweep per day is decided by the Sweep table's unique day. A worker keeps a
heartbeat while it lives; a task left running by a worker that died is run again, a few
times at most, then shown as failed (tandem.monitoring.leases, `tandem worker --status`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
)
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tandem.monitoring import leases
from tandem.monitoring.tasks import sweep_due
from tandem.outbox import services as outbox
from tandem.reminders.tasks import plan_due

BATCH = 50
QUEUE = "default"
LOST_PAUSE = 2.0  # seconds between tries to reach a database that went away

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run background tasks (flag evaluation, the nightly sweep, schedule recomputation)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true",
                            help="run what is queued (and any sweep due), then exit")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds to wait when the queue is empty (default 1)")
        parser.add_argument("--no-sweep", action="store_true",
                            help="do not queue the nightly sweep or the day's reminders (run tasks "
                                 "and send what is waiting)")
        parser.add_argument("--status", action="store_true",
                            help="print the queue (queued, running, failed, finished in the "
                                 "last 24 hours), the live workers and the failed tasks, "
                                 "then exit")

    def handle(self, *, batch, interval, no_sweep, status, verbosity, **options):
        try:
            leases.lease_seconds(), leases.max_attempts()
        except ValueError as error:
            raise CommandError(str(error)) from error
        if status:
            self.print_status()
            return
        # django-tasks-db logs each start and stop of its worker, here once a round.
        logging.getLogger("django_tasks_db").setLevel(
            logging.INFO if verbosity > 1 else logging.WARNING)
        worker_id = get_random_string(32)
        self.running = True
        self.worker = None

        def stop(signum, frame):
            self.running = False
            if self.worker:
                self.worker.running = False  # finish the task in hand, then stop

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            with leases.Heartbeat(worker_id, leases.beat_every(leases.lease_seconds())):
                self.loop(worker_id, batch, interval, no_sweep, verbosity)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def loop(self, worker_id, batch, interval, no_sweep, verbosity):
        if verbosity:
            self.stdout.write(f"Worker {worker_id} started.")
        self.every = leases.beat_every(leases.lease_seconds())
        self.looked = None
        self.paces = outbox.worker_paces()  # each provider's pace, kept between rounds
        while self.running:
            try:
                more = self.round(worker_id, no_sweep, verbosity)
            except (OperationalError, InterfaceError):
                if batch:
                    raise
                # The database went away (a restart, a network cut): wait and connect again.
                log.warning("Worker %s lost the database; trying again in %g s", worker_id,
                            LOST_PAUSE, exc_info=True)
                with contextlib.suppress(DatabaseError):
                    connection.close()
                self.looked = None  # a task whose end was not saved: queued again at once
                time.sleep(LOST_PAUSE)
                continue
            if not self.running:
                break
            if more:
                continue  # there is more waiting
            if batch:
                break
            time.sleep(interval)

    def round(self, worker_id, no_sweep, verbosity) -> bool:
        """Recover orphaned tasks now and then, queue the sweep if due, run what is ready (up
        to BATCH tasks); whether more is waiting."""
        close_old_connections()  # one the database dropped is replaced, not used again
        if self.looked is None or time.monotonic() - self.looked >= self.every:
            # Tasks whose worker died, and any this one lost: queued again or failed. (Between
            # tasks, no task is running in this worker's name.)
            leases.recover_orphans(abandoned_by=worker_id)
            # Messages a stopped worker left "being sent": the provider is asked first.
            outbox.recover_stuck()
            outbox.expire()  # what waited past its day is not sent, and says so
            if settings.SMS_BACKEND:
                outbox.poll_receipts()
            self.looked = time.monotonic()
        if not no_sweep:
            day = sweep_due(hour=settings.SWEEP_HOUR)
            if day and verbosity:
                self.stdout.write(f"Queued the sweep of {day}.")
            day = plan_due()
            if day and verbosity:
                self.stdout.write(f"Queued the reminders of {day}.")
        # Messages that may go now: each worker takes its own (outbox.claim).
        sent = outbox.send_due(paces=self.paces)
        self.worker = Worker(queue_names=[QUEUE], interval=0, batch=True,
                             backend_name="default", startup_delay=False, max_tasks=BATCH,
                             worker_id=worker_id, excluded_queue_names=[])
        self.worker.run()
        return self.running and (sum(sent.values()) >= outbox.CLAIM_BATCH or DBTaskResult.objects
                                 .ready().filter(queue_name=QUEUE).exists())

    def print_status(self):
        now = timezone.now()
        s = leases.queue_status(now)
        self.stdout.write(f"Tasks: {s.queued} queued, {s.running} running, {s.failed} failed, "
                          f"{s.finished_recently} finished in the last 24 hours.")
        self.stdout.write(f"Workers alive: {len(s.workers)} (lease "
                          f"{leases.lease_seconds():g} s, at most {leases.max_attempts()} "
                          "attempts a task).")
        for w in s.workers:
            self.stdout.write(f"  {w.worker_id} on {w.host} (pid {w.pid}), started "
                              f"{timezone.localtime(w.started_at):%Y-%m-%d %H:%M:%S}, seen "
                              f"{(now - w.last_seen).total_seconds():.0f} s ago")
        if s.running_tasks:
            self.stdout.write("Running:")
        for t in s.running_tasks:
            self.stdout.write(f"  {t.pk} {t.task_path}, started "
                              f"{timezone.localtime(t.started_at):%Y-%m-%d %H:%M:%S} by "
                              f"{t.worker_ids[-1] if t.worker_ids else '?'} "
                              f"(attempt {len(t.worker_ids)})")
        if s.failed_tasks:
            more = f", the latest {len(s.failed_tasks)}" if s.failed > len(s.failed_tasks) else ""
            self.stdout.write(f"Failed{more}:")
        for t in s.failed_tasks:
            given_up = " (given up)" if t.exception_class_path == leases.WORKER_DIED else ""
            self.stdout.write(f"  {t.pk} {t.task_path}{given_up}, failed "
                              f"{timezone.localtime(t.finished_at):%Y-%m-%d %H:%M:%S} after "
                              f"{len(t.worker_ids)} attempt(s): {leases.error_of(t)}")
