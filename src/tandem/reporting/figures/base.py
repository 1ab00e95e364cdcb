"""What every figure is made of, and the set-based arithmetic they share.

A figure is its definition (core/report.py) and a function from a scope (reporting/scope.py) to
its value, worked out by the database in aggregate queries; figures with a list of patients
behind them also give the query of those patients' ids, for the drill-down. Most figures belong
to a family (`Facts`, below) and are worked out with the rest of it in one query; the others
use `count_of` and `share_of`. Nothing here fetches rows to count them in Python.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.expressions import RawSQL

from tandem.core.report import Definition, Kind, Value
from tandem.patients.models import Patient
from tandem.reporting.scope import Scope


@dataclass(frozen=True)
class Figure:
    definition: Definition
    value: Callable[[Scope], Value]
    # The ids of the patients behind the count (COUNT) or the numerator (SHARE): a queryset of
    # one column, `patient_id` or `pk` of patients. Only for figures whose definition drills.
    patients: Callable[[Scope], QuerySet] | None = None
    # For a share that drills: the patients of its denominator that its numerator leaves out
    # (e.g. those not on schedule), the same one column.
    others: Callable[[Scope], QuerySet] | None = None
    # A figure of a family (below): the rows it reads and its rule over them, so the report
    # works out the whole family in one query.
    facts: Facts | None = None
    measure: Measure | None = None

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


# --- families of figures read from one set of rows ---------------------------------------------
#
# Most figures of a section read the same rows (one per patient in the report, with their first
# and latest questionnaires, their goal's kind, ...). Each family's rows are worked out once per
# period as a materialised common table expression (`WITH facts AS MATERIALIZED (...)`; SQLite
# 3.35+ and PostgreSQL 12+), so every row's subqueries run once, and then every figure of the
# family is one aggregate of the same SELECT: `report.build` runs one query per family and
# period. A figure's rule is a condition in SQL over the rows' columns, written here in the code
# (never from a reader's input; `literal` quotes the codes they compare with).

Part = tuple[str, str, list]  # (name, SELECT, its parameters): one materialised step


@dataclass(frozen=True)
class Facts:
    """The rows a family of figures reads: `parts(scope)` gives the steps, each a SELECT that may
    read the steps before it by name; the last one is the family's rows, which have a
    `patient_id` column (for counts of patients and the drill-down), and which the figures
    read as `facts` whatever its own name (that name only labels it in timings)."""

    name: str
    parts: Callable[[Scope], list[Part]]

    def sql(self, scope: Scope, select: str) -> tuple[str, list]:
        """`WITH <steps> <select>`: `select` reads the rows as `facts`."""
        parts = self.parts(scope)
        names = [name for name, _, _ in parts[:-1]] + ["facts"]
        steps = ", ".join(f"{name} AS MATERIALIZED ({sql})"
                          for name, (_, sql, _) in zip(names, parts, strict=True))
        params = [p for _, _, ps in parts for p in ps]
        return f"WITH {steps} {select}", params


def queryset_facts(name: str, rows: Callable[[Scope], QuerySet]) -> Facts:
    """A family whose rows are one queryset (`.values(...)`, with `patient_id`)."""
    def parts(scope: Scope) -> list[Part]:
        sql, params = sql_of(rows(scope))
        return [(name, sql, params)]
    return Facts(name, parts)


def sql_of(rows: QuerySet) -> tuple[str, list]:
    """A queryset's SELECT (without its model's default order) and its parameters, to be read
    by name in a later step."""
    sql, params = rows.order_by().query.sql_with_params()
    return sql, list(params)


def date_literal(day: datetime.date) -> str:
    """A date (a `datetime.date`, never text: a period's days are typed dates before they
    get here) as an SQL date."""
    if not isinstance(day, datetime.date):
        raise TypeError("a date")
    if connection.vendor == "sqlite":
        return f"'{day.isoformat()}'"  # SQLite keeps dates as ISO text
    return f"DATE '{day.isoformat()}'"


def days_between(first: str, then: str) -> str:
    """SQL: whole days from the date `first` to the date `then` (columns or date_literal)."""
    if connection.vendor == "sqlite":
        return f"CAST(julianday({then}) - julianday({first}) AS INTEGER)"
    return f"({then} - {first})"


def any_value(column: str) -> str:
    """SQL: an aggregate giving the group's one non-null value of `column` (of any type: MAX
    takes no UUID on PostgreSQL)."""
    if connection.vendor == "sqlite":
        return f"MAX({column})"
    return f"(ARRAY_AGG({column}) FILTER (WHERE {column} IS NOT NULL))[1]"


def latest_value(day: str, tie: str, value: str, when: str) -> str:
    """SQL: an aggregate giving the integer `value` (from -300,000 to 599,999) of the group's
    latest row by the date `day` and then the UUID `tie`, among its rows where `when` (null when
    none). One pass, no sort and no lookup a group: the greatest of the rows' keys, each the
    day and the UUID as fixed-width text (so text order is their order) with the value last as
    six digits, which are read back. (`day`, `tie` and `value` are columns named in the code.)"""
    if connection.vendor == "sqlite":  # dates as ISO text, UUIDs as 32 hex digits
        key = f"{day} || {tie}"
        collate = ""
    else:  # byte order, whatever the database's collation
        key = f"TO_CHAR({day}, 'YYYY-MM-DD') || CAST({tie} AS TEXT)"
        collate = ' COLLATE "C"'
    best = (f"MAX(CASE WHEN {when} THEN ({key} || CAST(({value}) + 400000 AS TEXT)){collate} "
            "END)")
    return f"(CAST(SUBSTR({best}, LENGTH({best}) - 5) AS INTEGER) - 400000)"


def literal(code: str) -> str:
    """A code from Tandem's own source (a goal kind, a flag rule) as an SQL string literal."""
    if not re.fullmatch(r"[a-z0-9_-]*", code):
        raise ValueError(f"not a code: {code!r}")
    return f"'{code}'"


@dataclass(frozen=True)
class Measure:
    """One figure as SQL over its family's rows: `among` the rows it counts (a SHARE's
    denominator, a MEAN's or MEDIAN's people), `met` the rows its COUNT or numerator counts, and
    `of` the expression a MEAN or MEDIAN takes (rows where it is null are left out). `known`,
    if given, is a condition on the family's steps (not its rows) without which the figure is
    not worked out at all (an empty Value), rather than worked out over nobody."""

    kind: Kind
    among: str = "1 = 1"
    met: str = "1 = 1"
    of: str = ""
    known: str = ""

    def columns(self) -> list[str]:
        """The SELECT's columns for this figure, in the order `value` reads them."""
        known = [f"CASE WHEN {self.known} THEN 1 ELSE 0 END"] if self.known else []
        return self._columns() + known

    def _columns(self) -> list[str]:
        among, met = f"({self.among})", f"({self.among}) AND ({self.met})"
        if self.kind == Kind.COUNT:
            return [f"COUNT(DISTINCT CASE WHEN {met} THEN patient_id END)"]
        if self.kind == Kind.SHARE:
            return [f"COUNT(CASE WHEN {met} THEN 1 END)", f"COUNT(CASE WHEN {among} THEN 1 END)"]
        if self.kind == Kind.MEAN:
            return [f"AVG(CASE WHEN {among} THEN {self.of} END)",
                    f"COUNT(CASE WHEN {among} THEN {self.of} END)"]
        # The median: the middle one or two values (by position) averaged.
        of = f"({self.of})"
        ordered = (f"SELECT {of} AS x, ROW_NUMBER() OVER (ORDER BY {of}) AS n, "
                   f"COUNT(*) OVER () AS people FROM facts "
                   f"WHERE {among} AND {of} IS NOT NULL")
        return [f"(SELECT AVG(x) FROM ({ordered}) AS m "
                f"WHERE n IN ((people + 1) / 2, (people + 2) / 2))",
                f"COUNT(CASE WHEN {among} THEN {self.of} END)"]

    def value(self, got: Sequence) -> Value:
        if self.known and not got[-1]:
            return Value()
        if self.kind == Kind.COUNT:
            return Value(count=got[0])
        if self.kind == Kind.SHARE:
            return Value(count=got[0], of=got[1])
        return Value(value=None if got[0] is None else float(got[0]), people=got[1])


def work_out(facts: Facts, scope: Scope, measures: Sequence[Measure]) -> list[Value]:
    """Every measure of one family for one scope, in one query."""
    columns = [c for m in measures for c in m.columns()]
    sql, params = facts.sql(scope, f"SELECT {', '.join(columns)} FROM facts")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        got = cursor.fetchone()
    values, at = [], 0
    for m in measures:
        width = len(m.columns())
        values.append(m.value(got[at:at + width]))
        at += width
    return values


def patients_of(facts: Facts, scope: Scope, measure: Measure, counted: bool = True) -> QuerySet:
    """The patients behind a figure (its COUNT or numerator): one `patient_id` column. Not
    `counted`: those of a SHARE's denominator its numerator leaves out (a rule that is null,
    not true, leaves a row out, as in the count)."""
    met = f"({measure.met})" if counted else f"(CASE WHEN ({measure.met}) THEN 0 ELSE 1 END) = 1"
    sql, params = facts.sql(
        scope, f"SELECT patient_id FROM facts WHERE ({measure.among}) AND {met}")
    return Patient.objects.filter(pk__in=RawSQL(sql, params)).values(patient_id=F("pk"))


def figure_of(definition: Definition, facts: Facts, **measure: str) -> Figure:
    """A figure of a family: its definition and its rule in SQL (see `Measure`)."""
    rule = Measure(definition.kind, **measure)
    drills, share = definition.drill, definition.kind == Kind.SHARE
    return Figure(
        definition,
        lambda scope: work_out(facts, scope, [rule])[0],
        (lambda scope: patients_of(facts, scope, rule)) if drills else None,
        (lambda scope: patients_of(facts, scope, rule, counted=False)) if drills and share
        else None,
        facts=facts, measure=rule)
