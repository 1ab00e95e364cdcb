"""The first and the latest questionnaire of a kind in each patient's episode: the rows that
the harm section (injecting and sharing) and the outcomes section (days of use, reliable change,
life domains) read, one family of figures each (base.Facts).

For each episode `Scope.in_treatment()` keeps: the **first** completed (or amended) response
of the kind in the episode, and the **latest** one completed on or before the period's last day
(by completion time, then id), among those with the `scored` scale scored when one is named.
Only episodes where the two differ are rows, so "at the start" and "latest" have the same
people. The first is never after the latest, so they differ exactly when at least two were
completed by the period's end.

Each row has `patient_id` and, for every column named, `first_<column>` and `latest_<column>`:
the two responses' values.

The TOP's days-of-use and injecting questions are all required (instruments/top.json), so
every completed TOP has every one of those scales scored and no `scored` scale is needed for
it; PHQ-9, GAD-7 and K10 totals may be unscored (a safety question declined, too many
missing), so their pairs are chosen among the scored ones.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, When
from django.db.models import Value as V

from tandem.reporting.figures.base import Facts, Part, sql_of
from tandem.reporting.scope import TOP, Scope, completed, on_or_before, score

# TOP scales the report reads: days used of each substance but tobacco, and days injected.
TOP_SCALES = ("alcohol_days", "opioids_days", "crack_days", "cocaine_days",
              "amphetamines_days", "cannabis_days", "other_days", "inject_days")
# "Yes" to injecting with a needle or syringe, or a spoon, water or filter, someone else used.
SHARED_ITEMS = ("inject_shared_needle", "inject_shared_equipment")


def shared() -> Case:
    """1 if the response answers yes to either sharing question, else 0."""
    either = Q()
    for item in SHARED_ITEMS:
        either |= Q(**{f"answers__{item}": True})
    return Case(When(either, then=V(1)), default=V(0), output_field=IntegerField())


def first_and_latest(code: str, columns: dict, scored: str | None = None) -> Facts:
    """The family of rows described above for questionnaire `code`; `columns` maps a column
    name to its expression over a response (e.g. `score("total")`)."""
    name = f"pairs_{code.replace('-', '_')}"

    def parts(scope: Scope) -> list[Part]:
        responses = completed(code).filter(episode=OuterRef("pk"))
        if scored:
            responses = responses.annotate(_v=score(scored)).filter(_v__isnull=False)
        first = responses.order_by("completed_at", "pk").values("pk")[:1]
        latest = (responses.filter(on_or_before("completed_at", scope.end))
                  .order_by("-completed_at", "-pk").values("pk")[:1])
        ids = (scope.in_treatment()
               .annotate(_first=Subquery(first), _latest=Subquery(latest))
               .values("patient_id", "_first", "_latest"))
        values = completed(code).annotate(**{f"_{c}": e for c, e in columns.items()})
        values_sql, values_params = sql_of(values.values("id", *(f"_{c}" for c in columns)))
        picked = ", ".join(f"f._{c} AS first_{c}, l._{c} AS latest_{c}" for c in columns)
        # The values are read for the two chosen responses only (a join on their ids).
        rows = (f"SELECT p.patient_id, {picked} FROM {name}_ids AS p "
                f"JOIN ({values_sql}) AS f ON f.id = p._first "
                f"JOIN ({values_sql}) AS l ON l.id = p._latest "
                f"WHERE p._first <> p._latest")
        return [(f"{name}_ids", *sql_of(ids)), (name, rows, values_params * 2)]

    return Facts(name, parts)


TOP_PAIRS = first_and_latest(TOP, {**{s: score(s) for s in TOP_SCALES}, "shared": shared()})
