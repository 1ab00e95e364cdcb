"""The worker's reminders: the day's planning once a day (after PLAN_HOUR, local time), the
sending of what is due on every round (tandem.outbox.services.send_due)."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from tandem.reminders import planner
from tandem.reminders.models import PlanningRun

log = logging.getLogger(__name__)


@task()
def plan_reminders(day: str) -> dict:
    counts = planner.plan_day(datetime.date.fromisoformat(day))
    PlanningRun.objects.filter(day=day).update(finished_at=timezone.now(), counts=counts)
    log.info("Reminders of %s: %s", day, counts)
    return counts


# A day's planning not finished after this is queued again (its task failed or its worker
# died): planning twice is safe, each reminder is written once.
AGAIN_AFTER = datetime.timedelta(minutes=30)


def plan_due(now: datetime.datetime | None = None) -> str | None:
    """Queue today's planning if it is past the hour and no worker has queued it yet (the
    run's unique day is the lock), or again if it has not finished for AGAIN_AFTER."""
    now = timezone.localtime(now)
    if now.hour < settings.REMINDERS_HOUR:
        return None
    day = now.date()
    run = PlanningRun.objects.filter(day=day).first()
    if run is not None:
        if run.finished_at is not None or run.started_at > now - AGAIN_AFTER:
            return None
        with transaction.atomic():  # one worker takes it again: the one whose update counts
            if not PlanningRun.objects.filter(pk=run.pk, started_at=run.started_at,
                                              finished_at__isnull=True).update(started_at=now):
                return None
            plan_reminders.enqueue(day.isoformat())
        return day.isoformat()
    try:
        with transaction.atomic():
            PlanningRun.objects.create(day=day, started_at=now)
            plan_reminders.enqueue(day.isoformat())
    except IntegrityError:
        return None
    return day.isoformat()
