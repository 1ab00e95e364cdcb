"""`tandem worker`: run queued background tasks; queue the nightly sweep once a day.

Built on django-tasks-db's worker. Each task row is claimed under `SELECT … FOR UPDATE SKIP
LOCKED` (PostgreSQL) or an exclusive transaction (SQLite), so several workers never run the
same task; one sweep per day is decided by the Sweep table's unique day.
"""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from tandem.monitoring.tasks import sweep_due

BATCH = 50


class Command(BaseCommand):
    help = "Run background tasks (flag evaluation, the nightly sweep, schedule recomputation)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true",
                            help="run what is queued (and any sweep due), then exit")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="seconds to wait when the queue is empty (default 1)")
        parser.add_argument("--no-sweep", action="store_true",
                            help="do not queue the nightly sweep (run tasks only)")

    def handle(self, *, batch, interval, no_sweep, verbosity, **options):
        worker_id = get_random_string(32)
        self.running = True

        def stop(signum, frame):
            self.running = False

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.loop(worker_id, batch, interval, no_sweep, verbosity)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def loop(self, worker_id, batch, interval, no_sweep, verbosity):
        if verbosity:
            self.stdout.write(f"Worker {worker_id} started.")
        while self.running:
            close_old_connections()
            if not no_sweep:
                day = sweep_due(hour=settings.SWEEP_HOUR)
                if day and verbosity:
                    self.stdout.write(f"Queued the sweep of {day}.")
            # Run what is ready (up to 50 tasks), then come back to check the sweep and signals.
            worker = Worker(queue_names=["default"], interval=0, batch=True,
                            backend_name="default", startup_delay=False, max_tasks=BATCH,
                            worker_id=worker_id, excluded_queue_names=[])
            worker.run()
            if worker._run_tasks >= BATCH:
                continue  # there may be more waiting
            if batch:
                break
            time.sleep(interval)
