"""The patient's substance goal as at a day, and its kind and whose choice it was then: the one
rule the balance and dependence sections of the report both read.

Among the goals of the episode (created on or before the day; not entered in error or rejected;
not cancelled by the day, a cancelled goal's last change being the day it was cancelled), the
first by the patient's own priority, then the newest. Its kind on the day is the kind given by
the latest kind change on or before it; if every change came after the day, the kind the first
of them changed from; with no changes at all, the goal's kind. No such goal with a kind: "not
decided yet" ("").
"""

from __future__ import annotations

from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, When, Window
from django.db.models import Value as V
from django.db.models.functions import RowNumber

from tandem.planning.models import Goal, GoalTypeChange, LifecycleStatus
from tandem.reporting.figures.base import Facts, Part, any_value, sql_of
from tandem.reporting.scope import TOP, Scope, after, completed, on_or_before, score

# Goals that never stood.
VOID_GOALS = (LifecycleStatus.ENTERED_IN_ERROR, LifecycleStatus.REJECTED)

# Every substance scale of the TOP (days used in the past 28) but tobacco.
SUBSTANCE_SCALES = ("alcohol_days", "opioids_days", "crack_days", "cocaine_days",
                    "amphetamines_days", "cannabis_days", "other_days")


def _abstinent() -> Case:
    """1 if a TOP shows no use of any substance but tobacco, 0 if it shows some (or a
    substance unscored)."""
    zero = Q()
    for scale in SUBSTANCE_SCALES:
        zero &= Q(**{f"_{scale}": 0})
    return Case(When(zero, then=V(1)), default=V(0), output_field=IntegerField())


def _numbered(partition: str, *order) -> Window:
    """1, 2, ... within each `partition`, in `order`."""
    return Window(RowNumber(), partition_by=[F(partition)], order_by=list(order))


def _goal_parts(scope: Scope) -> list[Part]:
    """The steps, each read once: every goal's kind and chooser on the day from its kind
    changes (numbered per goal from the day outwards: the latest on or before it, the first
    after it), the goals that stood that day numbered per episode in the patient's order, and
    each patient in treatment with their first such goal and their latest TOP."""
    day = scope.end
    # This service's goals' kind changes. (Not `goal_id__in=` a subquery of its goals: on
    # SQLite that turned the later steps' joins into scans, minutes at 100,000 patients.)
    changes = GoalTypeChange.objects.filter(goal__organisation_id=scope.organisation_id)
    before = (changes.filter(on_or_before("changed_at", day))
              .annotate(n=_numbered("goal_id", F("changed_at").desc(), F("id").desc()))
              .values("goal_id", "to_type", "chosen_by", "n"))
    later = (changes.filter(after("changed_at", day))
             .annotate(n=_numbered("goal_id", F("changed_at").asc(), F("id").asc()))
             .values("goal_id", "from_type", "n"))
    cancelled = Q(lifecycle_status=LifecycleStatus.CANCELLED) & on_or_before("updated_at", day)
    stood = (Goal.objects.of(scope.organisation_id).filter(on_or_before("created_at", day))
             .exclude(lifecycle_status__in=VOID_GOALS).exclude(cancelled)
             .values("id", "episode_id", "priority", "created_at", "goal_type",
                     "goal_type_chosen_by"))
    stood_sql, stood_params = sql_of(stood)
    # A kind from the latest change on or before the day; else the kind the first change after
    # it changed from; else the goal's own. Its chooser is known only if no change since.
    kinds = (
        "SELECT g.id, g.episode_id, g.priority, g.created_at, "
        "COALESCE(b.to_type, a.from_type, g.goal_type) AS kind, "
        "COALESCE(b.chosen_by, CASE WHEN a.goal_id IS NOT NULL THEN '' "
        "ELSE g.goal_type_chosen_by END) AS chooser "
        f"FROM ({stood_sql}) AS g "
        "LEFT JOIN goal_changes_before AS b ON b.goal_id = g.id AND b.n = 1 "
        "LEFT JOIN goal_changes_after AS a ON a.goal_id = g.id AND a.n = 1")
    ranked = ("SELECT episode_id, kind, chooser, ROW_NUMBER() OVER (PARTITION BY episode_id "
              "ORDER BY priority, created_at DESC, id DESC) AS n "
              "FROM goal_kinds WHERE kind <> ''")
    latest_top = (completed(TOP).filter(on_or_before("completed_at", day),
                                        episode=OuterRef("pk"))
                  .order_by("-completed_at", "-pk").values("pk")[:1])
    treated = (scope.in_treatment().annotate(top_id=Subquery(latest_top))
               .values("id", "patient_id", "top_id"))
    tops = (completed(TOP).annotate(**{f"_{s}": score(s) for s in SUBSTANCE_SCALES})
            .annotate(_abstinent=_abstinent()).values("id", "_abstinent"))
    tops_sql, tops_params = sql_of(tops)
    # Each patient in treatment with their first goal: grouped by episode, not joined (SQLite
    # would have to guess an index for a join of two steps).
    paired = (f"SELECT {any_value('patient_id')} AS patient_id, {any_value('top_id')} AS top_id, "
              "MAX(kind) AS kind, MAX(chooser) AS chooser FROM ("
              "SELECT id AS episode_id, patient_id, top_id, NULL AS kind, NULL AS chooser "
              "FROM goals_treated UNION ALL "
              "SELECT episode_id, NULL, NULL, kind, chooser FROM goals_ranked WHERE n = 1"
              ") AS both_sides GROUP BY episode_id HAVING COUNT(patient_id) > 0")
    rows = ("SELECT e.patient_id, COALESCE(e.kind, '') AS goal_kind, "
            "COALESCE(e.chooser, '') AS goal_chooser, t._abstinent AS abstinent "
            f"FROM goals_paired AS e LEFT JOIN ({tops_sql}) AS t ON t.id = e.top_id")
    return [("goal_changes_before", *sql_of(before)), ("goal_changes_after", *sql_of(later)),
            ("goal_kinds", kinds, stood_params), ("goals_ranked", ranked, []),
            ("goals_treated", *sql_of(treated)), ("goals_paired", paired, []),
            ("goals", rows, tops_params)]


# The family of figures (figures/base.py Facts) about the patient's substance goal on the
# period's last day: a row per patient in treatment with `goal_kind` and `goal_chooser` ("" when
# not decided) and `abstinent` (1 or 0 from their latest TOP by then; null without one).
GOAL_FACTS = Facts("goals", _goal_parts)
