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

import datetime

from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import Coalesce

from tandem.planning.models import Goal, GoalTypeChange, LifecycleStatus
from tandem.reporting.figures.base import Facts, Part, sql_of
from tandem.reporting.scope import TOP, Scope, after, completed, on_or_before, score

# Goals that never stood.
VOID_GOALS = (LifecycleStatus.ENTERED_IN_ERROR, LifecycleStatus.REJECTED)


def kind_and_chooser(day: datetime.date) -> tuple[Coalesce, Coalesce]:
    """The kind of the goal in the outer query (`OuterRef("pk")` of a Goal) on `day`, and whose
    choice it was then ("" when not known)."""
    changes = GoalTypeChange.objects.filter(goal=OuterRef("pk"))
    before = changes.filter(on_or_before("changed_at", day)).order_by("-changed_at", "-pk")
    later = changes.filter(after("changed_at", day)).order_by("changed_at", "pk")
    kind = Coalesce(Subquery(before.values("to_type")[:1]),
                    Subquery(later.values("from_type")[:1]), F("goal_type"),
                    output_field=CharField())
    # The chooser of a kind set before any recorded change is known only if no change since.
    chooser = Coalesce(Subquery(before.values("chosen_by")[:1]),
                       Case(When(Exists(later), then=V("")), default=F("goal_type_chosen_by"),
                            output_field=CharField()),
                       output_field=CharField())
    return kind, chooser


def goals_as_at(day: datetime.date) -> QuerySet:
    """The goals of the episode in the outer query (`OuterRef("pk")` of an Episode) that stood
    on `day`, with `_kind` as on that day, the patient's one goal first. Goals with no kind on
    the day are left out."""
    kind, _ = kind_and_chooser(day)
    cancelled = Q(lifecycle_status=LifecycleStatus.CANCELLED) & on_or_before("updated_at", day)
    return (Goal.objects.filter(on_or_before("created_at", day), episode=OuterRef("pk"))
            .exclude(lifecycle_status__in=VOID_GOALS).exclude(cancelled)
            .annotate(_kind=kind).exclude(_kind="")
            .order_by("priority", "-created_at", "-pk"))


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


def _goal_parts(scope: Scope) -> list[Part]:
    day = scope.end
    # Which goal, and which TOP: the patient's one substance goal on the day, and the latest
    # TOP of the episode on or before it.
    latest_top = (completed(TOP).filter(episode=OuterRef("pk"), completed_on__lte=day)
                  .order_by("-completed_at", "-pk").values("pk")[:1])
    chosen = (scope.in_treatment()
              .annotate(goal_id=Subquery(goals_as_at(day).values("pk")[:1]),
                        top_id=Subquery(latest_top))
              .values("patient_id", "goal_id", "top_id"))
    # Then what they say, read for those two only (joins on their ids).
    kind, chooser = kind_and_chooser(day)
    goals = Goal.objects.annotate(_kind=kind, _chooser=chooser).values("id", "_kind", "_chooser")
    tops = (completed(TOP).annotate(**{f"_{s}": score(s) for s in SUBSTANCE_SCALES})
            .annotate(_abstinent=_abstinent()).values("id", "_abstinent"))
    goals_sql, goals_params = sql_of(goals)
    tops_sql, tops_params = sql_of(tops)
    rows = ("SELECT c.patient_id, COALESCE(g._kind, '') AS goal_kind, "
            "COALESCE(g._chooser, '') AS goal_chooser, t._abstinent AS abstinent "
            "FROM goals_chosen AS c "
            f"LEFT JOIN ({goals_sql}) AS g ON g.id = c.goal_id "
            f"LEFT JOIN ({tops_sql}) AS t ON t.id = c.top_id")
    return [("goals_chosen", *sql_of(chosen)), ("goals", rows, goals_params + tops_params)]


# The family of figures (figures/base.py Facts) about the patient's substance goal on the
# period's last day: a row per patient in treatment with `goal_kind` and `goal_chooser` ("" when
# not decided) and `abstinent` (1 or 0 from their latest TOP by then; null without one).
GOAL_FACTS = Facts("goals", _goal_parts)
