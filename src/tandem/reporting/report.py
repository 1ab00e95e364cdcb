"""The whole report for one scope: every figure for the period and for the one before it.

The page, the drill-down and every export read a `Report`; exports add small-number
suppression (core/suppression.py) on the way out.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from django.utils import timezone

from tandem.core.report import SECTIONS, Definition, Value
from tandem.reporting.figures import FIGURES
from tandem.reporting.figures.base import Facts, Figure, work_out
from tandem.reporting.scope import Scope, treated_once


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


def values(scope: Scope, figures: list[Figure],
           spent: dict[str, float] | None = None) -> dict[str, Value]:
    """Every figure's value for one scope: a family's figures (base.Facts) in one query each,
    the others one by one. `spent` (if given) gets the seconds of each family or lone figure."""
    with treated_once(scope) as once:
        return _values(once, figures, spent)


def _values(scope: Scope, figures: list[Figure],
            spent: dict[str, float] | None) -> dict[str, Value]:
    found: dict[str, Value] = {}
    families: dict[Facts, list[Figure]] = {}  # by the rows themselves, not their name
    for figure in figures:
        if figure.facts is not None and figure.measure is not None:
            families.setdefault(figure.facts, []).append(figure)
    for facts, family in families.items():
        began = time.perf_counter()
        got = work_out(facts, scope, [f.measure for f in family])
        found.update((f.key, v) for f, v in zip(family, got, strict=True))
        _note(spent, facts.name, began)
    for figure in figures:
        if figure.key not in found:
            began = time.perf_counter()
            found[figure.key] = figure.value(scope)
            _note(spent, figure.key, began)
    return found


def _note(spent: dict[str, float] | None, what: str, began: float) -> None:
    if spent is not None:
        spent[what] = spent.get(what, 0.0) + time.perf_counter() - began


def build(scope: Scope, figures: list[Figure] | None = None,
          spent: dict[str, float] | None = None) -> Report:
    """Work out every figure (or those given) for the scope's period and the one before."""
    figures = FIGURES if figures is None else figures
    now = values(scope, figures, spent)
    before = values(scope.for_period(scope.period.previous()), figures, spent)
    rows = [Row(f, now[f.key], before[f.key]) for f in figures]
    return Report(scope, rows, timezone.now())
