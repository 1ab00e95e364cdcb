"""The whole report for one scope: every figure for the period and for the one before it.

The page, the drill-down and every export read a `Report`; exports add small-number
suppression (core/suppression.py) on the way out.

The figures come in groups: a family of figures (figures/base.py Facts) is one query a period,
and any other figure its own. `build` works the groups of both periods out on
`settings.REPORT_CONNECTIONS` database connections at once (TANDEM_REPORT_CONNECTIONS, 2 by
default), each taking the next group from one queue: the queries are read-only and independent,
and both SQLite (WAL: readers do not wait for one another) and PostgreSQL (one process a
connection) then use more than one core. Each connection works out who is in treatment once
for each period it works on (scope.treated_once). One connection (1, or a caller inside a
transaction, whose rows other connections cannot see yet) works them out in turn.
"""

from __future__ import annotations

import datetime
import queue
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
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


@dataclass(frozen=True)
class Group:
    """Figures worked out together: a family (`facts`) in one query, or one figure alone."""

    name: str
    figures: list[Figure]
    facts: Facts | None = None

    def work_out(self, scope: Scope) -> dict[str, Value]:
        if self.facts is None:
            return {f.key: f.value(scope) for f in self.figures}
        got = work_out(self.facts, scope, [f.measure for f in self.figures])
        return {f.key: v for f, v in zip(self.figures, got, strict=True)}


def groups(figures: list[Figure]) -> list[Group]:
    """The families (by their rows, not their name), then each other figure alone."""
    families: dict[Facts, list[Figure]] = {}
    alone = []
    for figure in figures:
        if figure.facts is not None and figure.measure is not None:
            families.setdefault(figure.facts, []).append(figure)
        else:
            alone.append(figure)
    return ([Group(facts.name, family, facts) for facts, family in families.items()]
            + [Group(f.key, [f]) for f in alone])


def _note(spent: dict[str, float] | None, what: str, began: float) -> None:
    if spent is not None:
        spent[what] = spent.get(what, 0.0) + time.perf_counter() - began


def work_out_all(scopes: list[Scope], figures: list[Figure], connections: int,
                 spent: dict[str, float] | None = None) -> list[dict[str, Value]]:
    """Every figure's value for each scope: the groups of every scope from one queue, on this
    connection (`connections` 1) or on `connections` threads, each with its own connection
    (closed at the end). `spent` (if given) gets the seconds of each group. The first failure
    is raised once all have stopped; the others stop taking work when one fails."""
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for group in groups(figures):  # families first: the larger ones
        for which in range(len(scopes)):
            todo.put((which, group))
    found: list[dict[str, Value]] = [{} for _ in scopes]
    failed: list[BaseException] = []
    lock = threading.Lock()
    zone = timezone.get_current_timezone()  # the caller's: local days are in it

    def work() -> None:
        with timezone.override(zone), ExitStack() as stack:
            treated: dict[int, Scope] = {}
            while not failed:
                try:
                    which, group = todo.get_nowait()
                except queue.Empty:
                    return
                if which not in treated:
                    treated[which] = stack.enter_context(treated_once(scopes[which]))
                began = time.perf_counter()
                got = group.work_out(treated[which])
                with lock:
                    found[which].update(got)
                    _note(spent, group.name, began)

    def in_thread() -> None:
        try:
            work()
        except BaseException as error:  # raised in the caller's thread below
            failed.append(error)
        finally:
            connection.close()  # this thread's own

    if connections <= 1:
        work()
        return found
    threads = [threading.Thread(target=in_thread, name=f"report-{n}")
               for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return found


def build(scope: Scope, figures: list[Figure] | None = None,
          spent: dict[str, float] | None = None, connections: int | None = None) -> Report:
    """Work out every figure (or those given) for the scope's period and the one before, on
    `connections` connections at once (settings.REPORT_CONNECTIONS if not given)."""
    figures = FIGURES if figures is None else figures
    scopes = [scope, scope.for_period(scope.period.previous())]
    connections = settings.REPORT_CONNECTIONS if connections is None else connections
    if connection.in_atomic_block:  # other connections could not see its rows yet
        connections = 1
    now, before = work_out_all(scopes, figures, connections, spent)
    rows = [Row(f, now[f.key], before[f.key]) for f in figures]
    return Report(scope, rows, timezone.now())
