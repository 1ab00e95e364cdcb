"""The early-warning flags the report reads, one family of figures (base.Facts): overdose-risk
flags and urgent flags seen the same day (harm section), flags acknowledged within their target
(reviews section).

A row per flag of a patient in treatment (`Scope.patients()`), not entered in error, raised
(local date, the service's time zone) from the longest target before the period's first day
to its last, with these columns, each 1 or 0:

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

from django.db.models import Case, IntegerField, Q, When
from django.db.models import Value as V
from django.utils import timezone

from tandem.monitoring.models import Flag, FlagStatus, Severity
from tandem.reporting.figures.base import Facts, Part, days_between, sql_of
from tandem.reporting.scope import LocalDate, Scope, on_days

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


def _flag_parts(scope: Scope) -> list[Part]:
    # Which flags, and the columns that need only their times, by the times local days start
    # (scope.on_days), so no row's time is turned into a date to choose it.
    due = Q(pk__in=[])
    for severity, days in ACKNOWLEDGE_WITHIN.items():
        target = datetime.timedelta(days=days)
        due |= Q(severity=severity) & on_days("raised_at", scope.start - target,
                                              scope.end - target)
    within = Case(*(When(severity=severity, then=V(days))
                    for severity, days in ACKNOWLEDGE_WITHIN.items()),
                  output_field=IntegerField())
    earliest = scope.start - datetime.timedelta(days=max(ACKNOWLEDGE_WITHIN.values()))
    # Flags are acknowledged and closed after they were raised, and by today.
    today = max(timezone.localdate(), scope.end)
    rows = (Flag.objects.filter(on_days("raised_at", earliest, scope.end),
                                patient_id__in=scope.patients())
            .exclude(status=FlagStatus.ENTERED_IN_ERROR)
            .annotate(
                in_period=_one_if(on_days("raised_at", scope.start, scope.end)),
                overdose=_one_if(Q(rule__in=OVERDOSE_RULES)),
                urgent=_one_if(Q(severity=Severity.URGENT)),
                due=_one_if(due),
                within=within,
                by_tandem=_one_if(Q(acknowledged_at__isnull=True, resolved_at__isnull=False,
                                    resolved_by__isnull=True)),
                raised_on=LocalDate("raised_at", earliest, today),
                acknowledged_on=LocalDate("acknowledged_at", earliest, today),
                resolved_on=LocalDate("resolved_at", earliest, today))
            .values("patient_id", "in_period", "overdose", "urgent", "due", "within",
                    "by_tandem", "raised_on", "acknowledged_on", "resolved_on")
            .order_by())
    # Then what needs the local dates, each worked out once a flag.
    dated = (
        "SELECT patient_id, in_period, overdose, urgent, due, "
        "CASE WHEN acknowledged_on = raised_on THEN 1 ELSE 0 END AS acknowledged_same_day, "
        "CASE WHEN by_tandem = 1 AND resolved_on = raised_on THEN 1 ELSE 0 END "
        "AS closed_same_day, "
        f"CASE WHEN {days_between('raised_on', 'acknowledged_on')} <= within THEN 1 ELSE 0 END "
        "AS on_target, "
        f"CASE WHEN by_tandem = 1 AND {days_between('raised_on', 'resolved_on')} <= within "
        "THEN 1 ELSE 0 END AS closed_itself "
        "FROM flag_days")
    return [("flag_days", *sql_of(rows)), ("flags", dated, [])]


FLAGS = Facts("flags", _flag_parts)
