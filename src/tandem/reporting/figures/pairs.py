"""The first and the latest questionnaire of a kind in each patient's episode: the rows that
the harm section (injecting and sharing) and the outcomes section (days of use, reliable change,
life domains) read, one family of figures each (base.Facts).

For each episode `Scope.in_treatment()` keeps: the **first** completed (or amended) response
of the kind in the episode, and the **latest** one completed on or before the period's last day
(by completion time, then id), among those with a score where it may be missing (below).
Only episodes where the two differ are rows, so "at the start" and "latest" have the same
people. The first is never after the latest, so they differ exactly when at least two were
completed by the period's end.

Each row has `patient_id` and, for every column named, `first_<column>` and `latest_<column>`:
the two responses' values.

The TOP's days-of-use and injecting questions are all required (instruments/top.json), so
every completed TOP has every one of those scales scored and no `scored` scale is needed for
it; PHQ-9, GAD-7 and K10 totals and the life-domain overall may be unscored (a safety question
declined, too many missing), so their pairs are chosen among the scored ones. Those are each
instrument's primary scale, whose score is also stored as the response's headline (tested in
tests/test_report_outcomes.py), read from there.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.db.models.functions import Greatest

from tandem.reporting.figures.base import Facts, Part, sql_of
from tandem.reporting.scope import TOP, JsonTrue, Scope, completed, on_or_before, score

# TOP scales the report reads: days used of each substance but tobacco, and days injected.
TOP_SCALES = ("alcohol_days", "opioids_days", "crack_days", "cocaine_days",
              "amphetamines_days", "cannabis_days", "other_days", "inject_days")
# "Yes" to injecting with a needle or syringe, or a spoon, water or filter, someone else used.
SHARED_ITEMS = ("inject_shared_needle", "inject_shared_equipment")


def shared() -> Greatest:
    """1 if the response answers yes to either sharing question, else 0."""
    return Greatest(*(JsonTrue("answers", item) for item in SHARED_ITEMS))


def _chosen(scope: Scope, code: str, scored: bool):
    """The outer episode's first and latest (by the end) response of `code`, as querysets to
    take one value from; with `scored`, among those with a headline score."""
    responses = completed(code).filter(episode=OuterRef("pk"))
    if scored:
        responses = responses.filter(headline__isnull=False)
    first = responses.order_by("completed_at", "pk")
    latest = (responses.filter(on_or_before("completed_at", scope.end))
              .order_by("-completed_at", "-pk"))
    return first, latest


def first_and_latest(code: str, columns: dict) -> Facts:
    """The family of rows described above for questionnaire `code`, with no `scored` scale;
    `columns` maps a column name to its expression over a response (e.g. `score("total")`):
    read from the two chosen responses (a join on their ids)."""
    name = f"pairs_{code.replace('-', '_')}"

    def parts(scope: Scope) -> list[Part]:
        first, latest = _chosen(scope, code, scored=False)
        ids = (scope.in_treatment()
               .annotate(_first=Subquery(first.values("pk")[:1]),
                         _latest=Subquery(latest.values("pk")[:1]))
               .values("patient_id", "_first", "_latest"))
        values = completed(code).annotate(**{f"_{c}": e for c, e in columns.items()})
        values_sql, values_params = sql_of(values.values("id", *(f"_{c}" for c in columns)))
        picked = ", ".join(f"f._{c} AS first_{c}, l._{c} AS latest_{c}" for c in columns)
        rows = (f"SELECT p.patient_id, {picked} FROM {name}_ids AS p "
                f"JOIN ({values_sql}) AS f ON f.id = p._first "
                f"JOIN ({values_sql}) AS l ON l.id = p._latest "
                f"WHERE p._first <> p._latest")
        return [(f"{name}_ids", *sql_of(ids)), (name, rows, values_params * 2)]

    return Facts(name, parts)


def first_and_latest_headline(code: str, column: str) -> Facts:
    """The family of rows described above for questionnaire `code`, chosen among the
    responses with a headline score, with `first_<column>` and `latest_<column>` their
    headline scores: the instrument's primary scale, which scoring stores beside the scores
    (assessment/responses.py), so the index on an episode's responses holds it
    (assessment/models.py)."""
    name = f"pairs_{code.replace('-', '_')}"

    def parts(scope: Scope) -> list[Part]:
        first, latest = _chosen(scope, code, scored=True)
        ids = (scope.in_treatment()
               .annotate(_first=Subquery(first.values("pk")[:1]),
                         _latest=Subquery(latest.values("pk")[:1]),
                         **{f"first_{column}": Subquery(first.values("headline")[:1]),
                            f"latest_{column}": Subquery(latest.values("headline")[:1])})
               .values("patient_id", "_first", "_latest", f"first_{column}",
                       f"latest_{column}"))
        rows = (f"SELECT patient_id, first_{column}, latest_{column} FROM {name}_ids "
                "WHERE _first <> _latest")
        return [(f"{name}_ids", *sql_of(ids)), (name, rows, [])]

    return Facts(name, parts)


TOP_PAIRS = first_and_latest(TOP, {**{s: score(s) for s in TOP_SCALES}, "shared": shared()})
