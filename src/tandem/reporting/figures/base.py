"""What every figure is made of, and the set-based arithmetic they share.

A figure is its definition (core/report.py) and a function from a scope (reporting/scope.py) to
its value, worked out by the database in one or two aggregate queries; figures with a list of
patients behind them also give the query of those patients' ids, for the drill-down. Nothing
here fetches rows to count them in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Avg, Count, Q, QuerySet

from tandem.core.report import Definition, Value
from tandem.reporting.scope import Scope


@dataclass(frozen=True)
class Figure:
    definition: Definition
    value: Callable[[Scope], Value]
    # The ids of the patients behind the count (COUNT) or the numerator (SHARE): a queryset of
    # one column, `patient_id` or `pk` of patients. Only for figures whose definition drills.
    patients: Callable[[Scope], QuerySet] | None = None

    @property
    def key(self) -> str:
        return self.definition.key


def count_of(rows: QuerySet, distinct: str | None = None) -> Value:
    """How many rows (or distinct values of `distinct`, e.g. "patient_id")."""
    if distinct:
        return Value(count=rows.aggregate(n=Count(distinct, distinct=True))["n"])
    return Value(count=rows.count())


def share_of(rows: QuerySet, numerator: Q, distinct: str | None = None) -> Value:
    """How many of `rows` meet `numerator`, out of all `rows`, in one query."""
    on = distinct or "pk"
    got = rows.aggregate(of=Count(on, distinct=bool(distinct)),
                         count=Count(on, filter=numerator, distinct=bool(distinct)))
    return Value(count=got["count"], of=got["of"])


def mean_of(rows: QuerySet, expression) -> Value:
    """The mean of `expression` over the rows where it is not null, and how many they are."""
    annotated = rows.annotate(_x=expression).filter(_x__isnull=False)
    got = annotated.aggregate(value=Avg("_x"), people=Count("pk"))
    return Value(value=got["value"], people=got["people"])


def median_of(rows: QuerySet, expression) -> Value:
    """The median of `expression` over the rows where it is not null (the mean of the middle
    two when they are even): a count, then the one or two middle values read by position, so
    only those rows leave the database."""
    annotated = rows.annotate(_x=expression).filter(_x__isnull=False)
    n = annotated.count()
    if n == 0:
        return Value(value=None, people=0)
    ordered = annotated.order_by("_x").values_list("_x", flat=True)
    middle = list(ordered[(n - 1) // 2: n // 2 + 1])
    return Value(value=sum(float(x) for x in middle) / len(middle), people=n)
