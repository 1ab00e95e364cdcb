"""The whole report for one scope: every figure for the period and for the one before it.

The page, the drill-down and every export read a `Report`; exports add small-number
suppression (core/suppression.py) on the way out.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from tandem.core.report import SECTIONS, Definition, Value
from tandem.reporting.figures import FIGURES
from tandem.reporting.figures.base import Figure
from tandem.reporting.scope import Scope


@dataclass(frozen=True)
class Row:
    figure: Figure
    now: Value  # this period
    before: Value  # the period before, of the same length

    @property
    def definition(self) -> Definition:
        return self.figure.definition


@dataclass(frozen=True)
class Report:
    scope: Scope
    rows: list[Row]
    computed_at: datetime.datetime

    def sections(self) -> list[tuple[str, str, list[Row]]]:
        """(key, heading, rows) for each section with rows, in page order."""
        return [(key, heading, rows) for key, heading in SECTIONS.items()
                if (rows := [r for r in self.rows if r.definition.section == key])]


def build(scope: Scope, figures: list[Figure] | None = None) -> Report:
    """Work out every figure (or those given) for the scope's period and the one before."""
    before = scope.for_period(scope.period.previous())
    rows = [Row(f, f.value(scope), f.value(before)) for f in (FIGURES if figures is None
                                                                else figures)]
    return Report(scope, rows, timezone.now())
