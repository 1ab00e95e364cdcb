"""The service report's plain arithmetic: periods, what a figure is, and its value.

No Django. The figures themselves are worked out in the database (tandem.reporting.figures);
this module holds what they share: the period and the one before it, each figure's definition
(one line each on which patients, which dates and which source, shown on the page and listed on
"how this is worked out"), and a value that knows its numerator and denominator so small
numbers can be suppressed (core/suppression.py) and percentages worked out one way everywhere.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum

# The report's sections, in page order.
SECTIONS = {
    "balance": "The balance of the service's work",
    "harm": "Reducing harm",
    "dependence": "Overcoming dependence",
    "reviews": "Reviews on time",
    "outcomes": "Outcomes",
}


class Kind(StrEnum):
    COUNT = "count"  # how many (patients, unless the definition says otherwise)
    SHARE = "share"  # numerator of denominator, shown as a percentage
    MEAN = "mean"  # a mean over `people`
    MEDIAN = "median"  # a median over `people`


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both days included."""

    start: datetime.date
    end: datetime.date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("The period ends before it starts.")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same number of days just before this one."""
        end = self.start - datetime.timedelta(days=1)
        return Period(end - datetime.timedelta(days=self.days - 1), end)

    def __str__(self) -> str:
        return f"{self.start:%-d %b %Y} to {self.end:%-d %b %Y}"


def months_before(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` calendar months earlier (the month's last day if it has fewer):
    31 May less 3 months is 28 (or 29) February."""
    month = day.month - 1 - months
    year = day.year + month // 12
    month = month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return datetime.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def last_twelve_months(today: datetime.date) -> Period:
    """The report's default period: the 12 months up to and including today."""
    return Period(months_before(today, 12) + datetime.timedelta(days=1), today)


@dataclass(frozen=True)
class Definition:
    """What one figure is. `who`, `dates` and `source` are one line each, shown under the figure
    and on the definitions page."""

    key: str  # stable, used in URLs and exports: "medication-review-overdue"
    section: str  # a key of SECTIONS
    label: str  # short, as a row heading: "Medication review overdue"
    kind: Kind
    who: str  # which patients (or flags, goals): the denominator for a share
    dates: str  # which dates
    source: str  # which records, and the published source where there is one
    unit: str = ""  # for means and medians: "days", "points"
    drill: bool = False  # a list of patients lies behind the count or numerator
    # Which way is better, for the arrow against the previous period; None: neither.
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class Value:
    """One figure for one period. COUNT: `count`. SHARE: `count` of `of`. MEAN and MEDIAN:
    `value` over `people` (None when nobody)."""

    count: int | None = None
    of: int | None = None
    value: float | None = None
    people: int | None = None

    @property
    def percent(self) -> float | None:
        if self.count is None or not self.of:
            return None
        return 100 * self.count / self.of

    def shown(self, kind: Kind) -> float | int | None:
        """The number a reader sees, exact: the count, the percentage, the mean or median."""
        if kind == Kind.COUNT:
            return self.count
        if kind == Kind.SHARE:
            return self.percent
        return self.value
