"""Background tasks, run by `tandem worker` from the queue in the database.

Enqueueing writes a row in the same transaction as the change that caused it, so a task is
queued exactly when its change is saved. With no worker running the rows wait, and the web
app works as before (urgent safety flags are raised in the request itself); a worker that
starts later catches up.
"""

from __future__ import annotations

import datetime
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from tandem.accounts.models import Organisation

# Tasks queued before refresh_schedules moved to assessment.tasks still find it here too.
from tandem.assessment.tasks import refresh_schedules
from tandem.monitoring import evaluate
from tandem.monitoring.models import Sweep

log = logging.getLogger(__name__)


@task()
def evaluate_patients(organisation_id: int, patient_ids: list[str]) -> dict:
    """Run the flag rules for these patients (after a check-up or another change)."""
    org = Organisation.objects.get(pk=organisation_id)
    raised, updated = evaluate.evaluate_patients(org, patient_ids)
    return {"raised": raised, "updated": updated}


@task()
def nightly_sweep(day: str) -> dict:
    """Recompute schedules, then evaluate every monitored patient (once per day)."""
    for org in Organisation.objects.all():
        refresh_schedules.call(org.pk)
    totals = evaluate.sweep(datetime.date.fromisoformat(day))
    Sweep.objects.filter(day=day).update(finished_at=timezone.now(), **totals)
    log.info("Sweep of %s: %s", day, totals)
    return totals


def after_change(organisation_id, patient_ids, *, now: bool = False) -> None:
    """Flag evaluation for patients whose data just changed, in the caller's transaction:
    queued for the worker, or with `now` run in this request (one patient's own change, so
    that a flag whose condition it cleared, such as an overdue check-up, closes at once and
    a new finding shows on the next page)."""
    ids = [str(p) for p in patient_ids]
    if now:
        try:
            with transaction.atomic():  # a savepoint: a failure here never undoes the change
                evaluate_patients.call(organisation_id, ids)
            return
        except Exception:  # noqa: BLE001 - the save and its urgent flags must stand
            log.exception("Evaluating %s at once failed; queued for the worker instead", ids)
    evaluate_patients.enqueue(organisation_id, ids)


def sweep_due(now: datetime.datetime | None = None, hour: int = 2) -> str | None:
    """Queue today's sweep if it is past `hour` and no worker has queued it yet.

    The sweep row's unique day is the lock: of several workers only one inserts it."""
    now = timezone.localtime(now)
    if now.hour < hour:
        return None
    day = now.date()
    if Sweep.objects.filter(day=day).exists():
        return None
    try:
        with transaction.atomic():
            Sweep.objects.create(day=day)
            nightly_sweep.enqueue(day.isoformat())
    except IntegrityError:
        return None
    return day.isoformat()
