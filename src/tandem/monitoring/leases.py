"""Leases on background tasks: a task whose worker died is run again, a set number of times.

Each `tandem worker` records a heartbeat (WorkerHeartbeat) from a thread every few seconds, so
it stays fresh while a long task runs. A RUNNING task whose worker has not been seen for the
lease (TANDEM_WORKER_LEASE_SECONDS, default 300) was left by a worker that died between
claiming and finishing it (kill -9, out of memory, a lost machine). Every live worker looks
for such tasks between tasks: it puts each back in the queue, or, once it has been tried
TANDEM_WORKER_MAX_ATTEMPTS times (default 3), marks it failed with an error saying so. Either
way it logs it. The attempts are counted by django-tasks-db itself: each claim appends the
claiming worker to the task's `worker_ids`.

Running a task again is safe because every Tandem task is idempotent: evaluating a patient's
flags raises each flag once per evidence (a unique constraint) and closes what cleared, the
sweep of a day re-evaluates and rewrites the same totals, and recomputing schedules computes
the same dates. A heartbeat proves the process is alive, not that its task makes progress: a
task stuck for ever keeps its lease (no task of ours waits on anything outside the database).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import os
import socket
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from tandem.monitoring.models import WorkerHeartbeat

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS = 300
DEFAULT_MAX_ATTEMPTS = 3


class WorkerDied(Exception):
    """The error recorded on a task given up because its worker kept dying."""


WORKER_DIED = f"{WorkerDied.__module__}.{WorkerDied.__qualname__}"


def _setting(name: str, env: str, default: float, kind: type) -> float:
    """settings.NAME if the settings define it, else the environment variable, else default."""
    raw = getattr(settings, name, None)
    if raw is None:
        raw = os.environ.get(env, default)
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        value = 0
    if not (math.isfinite(value) and value > 0):
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{env} must be {what} greater than 0 (got {raw!r})")
    return value


def lease_seconds() -> float:
    """How long a worker may go unseen before its tasks are run again."""
    return _setting("WORKER_LEASE_SECONDS", "TANDEM_WORKER_LEASE_SECONDS",
                    DEFAULT_LEASE_SECONDS, float)


def max_attempts() -> int:
    """How many times a task is started before a dying worker makes it fail."""
    return _setting("WORKER_MAX_ATTEMPTS", "TANDEM_WORKER_MAX_ATTEMPTS",
                    DEFAULT_MAX_ATTEMPTS, int)


def beat_every(lease: float) -> float:
    """Seconds between heartbeats (and between looks for orphaned tasks): a few per lease."""
    return min(30.0, lease / 4)


class Heartbeat:
    """`with Heartbeat(worker_id):` keeps the worker's heartbeat fresh from a thread.

    A clean exit removes the row (the worker finished its task before leaving); a killed
    worker's row stays and goes stale, which is what frees its task."""

    def __init__(self, worker_id: str, every: float):
        self.worker_id = worker_id
        self.every = every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tandem-heartbeat", daemon=True)

    def beat(self) -> None:
        now = timezone.now()
        if not WorkerHeartbeat.objects.filter(pk=self.worker_id).update(last_seen=now):
            WorkerHeartbeat.objects.create(worker_id=self.worker_id, host=socket.gethostname(),
                                           pid=os.getpid(), started_at=now, last_seen=now)

    def _run(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                # A connection the database dropped (a restart) is replaced, not used again.
                close_old_connections()
                try:
                    self.beat()
                except DatabaseError:  # SQLite busy, the database restarting: beat again
                    log.warning("Worker %s could not record its heartbeat", self.worker_id,
                                exc_info=True)
                    with contextlib.suppress(DatabaseError):
                        connection.close()  # the next beat connects afresh
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self.beat()  # before the first claim, so no task of ours is ever without a lease
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        WorkerHeartbeat.objects.filter(pk=self.worker_id).delete()


def _orphans(tasks, cutoff: datetime.datetime, abandoned_by: str | None = None
             ) -> list[DBTaskResult]:
    """Of these RUNNING tasks, those whose (last) worker has not been seen since `cutoff`, or
    is `abandoned_by`; a worker with no heartbeat row is judged by when it started the task."""
    tasks = list(tasks)
    seen = dict(WorkerHeartbeat.objects.filter(pk__in={t.worker_ids[-1] for t in tasks
                                                       if t.worker_ids})
                .values_list("worker_id", "last_seen"))

    def last_seen(task):
        return seen.get(task.worker_ids[-1] if task.worker_ids else None, task.started_at)

    def abandoned(task):
        return abandoned_by is not None and task.worker_ids[-1:] == [abandoned_by]

    return [t for t in tasks if abandoned(t) or last_seen(t) is None or last_seen(t) < cutoff]


@dataclass(frozen=True)
class Recovered:
    task: DBTaskResult
    given_up: bool


def recover_orphans(now: datetime.datetime | None = None, *,
                    abandoned_by: str | None = None) -> list[Recovered]:
    """Put tasks whose worker died back in the queue, or fail them after the last attempt.
    A worker between tasks passes its own id as `abandoned_by`: a task still RUNNING in its
    name is one it lost (the database went away before the task's end was saved).

    Two live workers never both recover one task: candidates are locked with SKIP LOCKED on
    PostgreSQL (SQLite runs one exclusive transaction at a time) and judged again once locked,
    so a task another worker has meanwhile put back, or claimed afresh, is left alone."""
    now = now or timezone.now()
    lease, attempts = lease_seconds(), max_attempts()
    cutoff = now - datetime.timedelta(seconds=lease)
    candidates = [t.pk for t in _orphans(DBTaskResult.objects.running(), cutoff, abandoned_by)]
    done = []
    if candidates:
        with exclusive_transaction(DBTaskResult.objects.db):
            locked = (DBTaskResult.objects.running().filter(pk__in=candidates)
                      .select_for_update(skip_locked=True))
            done = [_retry_or_give_up(task, now, lease, attempts)
                    for task in _orphans(locked, cutoff, abandoned_by)]
    # Dead workers' rows have served (a task left with no row is judged by its start time).
    WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()
    return done


def _retry_or_give_up(task: DBTaskResult, now, lease: float, attempts: int) -> Recovered:
    worker = task.worker_ids[-1] if task.worker_ids else "unknown"
    tries = len(task.worker_ids)  # each claim added its worker
    if tries < attempts:
        task.status = TaskResultStatus.READY
        task.save(update_fields=["status"])
        log.warning("Task %s %s: its worker %s stopped while running it; queued again "
                    "(attempt %d of %d)", task.task_path, task.pk, worker, tries + 1, attempts)
        return Recovered(task, given_up=False)
    task.status = TaskResultStatus.FAILED
    task.finished_at = now
    task.return_value = None
    task.exception_class_path = WORKER_DIED
    task.traceback = (f"{WORKER_DIED}: its worker stopped while running it (worker {worker} "
                      f"silent for over {lease:g} s); given up after {tries} attempts")
    task.save(update_fields=["status", "finished_at", "return_value", "exception_class_path",
                             "traceback"])
    log.error("Task %s %s: its worker %s stopped while running it; given up after %d attempts",
              task.task_path, task.pk, worker, tries)
    return Recovered(task, given_up=True)


def error_of(task: DBTaskResult) -> str:
    """A failed task's error in one line: the last line of its traceback."""
    lines = [line for line in task.traceback.splitlines() if line.strip()]
    return lines[-1].strip() if lines else task.exception_class_path or "no error recorded"


@dataclass(frozen=True)
class QueueStatus:
    queued: int
    running: int
    failed: int
    finished_recently: int
    workers: list[WorkerHeartbeat]
    running_tasks: list[DBTaskResult]
    failed_tasks: list[DBTaskResult]  # the latest first


def queue_status(now: datetime.datetime | None = None, *, recent_hours: int = 24,
                 listed: int = 20) -> QueueStatus:
    now = now or timezone.now()
    tasks = DBTaskResult.objects.order_by()
    failed = tasks.failed()
    return QueueStatus(
        queued=tasks.filter(status=TaskResultStatus.READY).count(),
        running=tasks.running().count(),
        failed=failed.count(),
        finished_recently=tasks.successful().filter(
            finished_at__gte=now - datetime.timedelta(hours=recent_hours)).count(),
        workers=list(WorkerHeartbeat.objects.filter(
            last_seen__gte=now - datetime.timedelta(seconds=lease_seconds()))
            .order_by("started_at")),
        running_tasks=list(tasks.running().order_by("started_at")),
        failed_tasks=list(failed.order_by("-finished_at")[:listed]),
    )
