"""The early-warning flags the report reads, one family of figures (base.Facts): overdose-risk
flags and urgent flags seen the same day (harm section), flags acknowledged within their target
(reviews section).

A row per flag of a patient in treatment (`Scope.patients()`), not entered in error, raised
(local date, Europe/London) from the longest target before the period's first day to its last,
with these columns, each 1 or 0:

- `in_period`: raised in the period;
- `overdose`: a "return to use" or "missed doses" flag (tolerance may have fallen);
- `urgent`: of urgent severity;
- `acknowledged_same_day`: acknowledged on the local date it was raised;
- `closed_same_day`: closed by Tandem itself (the problem cleared; nobody resolved it) on the
  day it was raised, before anyone acknowledged it;
- `due`: its target day (raised + `ACKNOWLEDGE_WITHIN` days for its severity) in the period;
- `on_target`: acknowledged by its target day;
- `closed_itself`: closed by Tandem itself by its target day before anyone acknowledged it:
  nothing was left to acknowledge.
"""

from __future__ import annotations

import datetime

from django.db.models import (
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import TruncDate

from tandem.monitoring.models import Flag, FlagStatus, Severity
from tandem.reporting.figures.base import queryset_facts
from tandem.reporting.scope import Scope

OVERDOSE_RULES = ("return-to-use", "missed-doses")

# Tandem's default service standard for acknowledging a flag: the days after the day it was
# raised by which someone should have acknowledged it (urgent: the same day, as its label says).
ACKNOWLEDGE_WITHIN = {
    Severity.URGENT: 0,
    Severity.HIGH: 1,
    Severity.MEDIUM: 7,
    Severity.LOW: 28,
}


def _one_if(condition: Q) -> Case:
    return Case(When(condition, then=V(1)), default=V(0), output_field=IntegerField())


def _flag_rows(scope: Scope) -> QuerySet:
    waited = ExpressionWrapper(TruncDate("acknowledged_at") - TruncDate("raised_at"),
                               output_field=DurationField())
    lasted = ExpressionWrapper(TruncDate("resolved_at") - TruncDate("raised_at"),
                               output_field=DurationField())
    due, on_target, closed_by_target = Q(pk__in=[]), Q(pk__in=[]), Q(pk__in=[])
    for severity, within in ACKNOWLEDGE_WITHIN.items():
        target = datetime.timedelta(days=within)
        due |= Q(severity=severity, raised_at__date__range=(
            scope.start - target, scope.end - target))
        on_target |= Q(severity=severity, _waited__lte=target)
        closed_by_target |= Q(severity=severity, _lasted__lte=target)
    by_tandem = Q(acknowledged_at__isnull=True, resolved_at__isnull=False,
                  resolved_by__isnull=True)
    earliest = scope.start - datetime.timedelta(days=max(ACKNOWLEDGE_WITHIN.values()))
    return (Flag.objects.filter(patient_id__in=scope.patients(),
                                raised_at__date__range=(earliest, scope.end))
            .exclude(status=FlagStatus.ENTERED_IN_ERROR)
            .alias(_raised_on=TruncDate("raised_at"), _acknowledged_on=TruncDate("acknowledged_at"),
                   _resolved_on=TruncDate("resolved_at"), _waited=waited, _lasted=lasted)
            .annotate(
                in_period=_one_if(Q(raised_at__date__range=(scope.start, scope.end))),
                overdose=_one_if(Q(rule__in=OVERDOSE_RULES)),
                urgent=_one_if(Q(severity=Severity.URGENT)),
                acknowledged_same_day=_one_if(Q(_acknowledged_on=F("_raised_on"))),
                closed_same_day=_one_if(by_tandem & Q(_resolved_on=F("_raised_on"))),
                due=_one_if(due),
                on_target=_one_if(on_target),
                closed_itself=_one_if(by_tandem & closed_by_target))
            .values("patient_id", "in_period", "overdose", "urgent", "acknowledged_same_day",
                    "closed_same_day", "due", "on_target", "closed_itself"))


FLAGS = queryset_facts("flags", _flag_rows)
