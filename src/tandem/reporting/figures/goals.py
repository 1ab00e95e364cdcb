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
from tandem.reporting.figures.base import queryset_facts
from tandem.reporting.scope import TOP, Scope, after, completed, on_or_before, score

# Goals that never stood.
VOID_GOALS = (LifecycleStatus.ENTERED_IN_ERROR, LifecycleStatus.REJECTED)


def goals_as_at(day: datetime.date) -> QuerySet:
    """The goals of the episode in the outer query (`OuterRef("pk")` of an Episode) that stood
    on `day`, with `_kind` and `_chooser` as on that day, the patient's one goal first.
    Goals with no kind on the day are left out."""
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
    cancelled = Q(lifecycle_status=LifecycleStatus.CANCELLED) & on_or_before("updated_at", day)
    return (Goal.objects.filter(on_or_before("created_at", day), episode=OuterRef("pk"))
            .exclude(lifecycle_status__in=VOID_GOALS).exclude(cancelled)
            .annotate(_kind=kind, _chooser=chooser).exclude(_kind="")
            .order_by("priority", "-created_at", "-pk"))


def with_goal_kind(episodes: QuerySet, day: datetime.date, chooser: bool = False) -> QuerySet:
    """Episodes with `goal_kind`, their patient's substance goal kind on `day` ("" when not
    decided), and with `chooser=True` also `goal_chooser`, whose choice it was."""
    goals = goals_as_at(day)
    found = episodes.annotate(goal_kind=Coalesce(Subquery(goals.values("_kind")[:1]), V(""),
                                                 output_field=CharField()))
    if chooser:
        found = found.annotate(goal_chooser=Coalesce(Subquery(goals.values("_chooser")[:1]),
                                                     V(""), output_field=CharField()))
    return found


def kind_as_at(day: datetime.date) -> Subquery:
    """The kind, on `day`, of the substance goal of the episode in the outer query."""
    return Subquery(goals_as_at(day).values("_kind")[:1], output_field=CharField())


# Every substance scale of the TOP (days used in the past 28) but tobacco.
SUBSTANCE_SCALES = ("alcohol_days", "opioids_days", "crack_days", "cocaine_days",
                    "amphetamines_days", "cannabis_days", "other_days")


def abstinent_at_latest_top(day: datetime.date) -> Subquery:
    """1 if the outer episode's latest completed TOP on or before `day` shows no use of any
    substance but tobacco, 0 if it shows some (or a substance unscored); None without one."""
    zero = Q()
    for scale in SUBSTANCE_SCALES:
        zero &= Q(**{f"_{scale}": 0})
    latest = (completed(TOP).filter(episode=OuterRef("pk"), completed_on__lte=day)
              .order_by("-completed_at", "-pk")
              .annotate(**{f"_{s}": score(s) for s in SUBSTANCE_SCALES})
              .annotate(_abstinent=Case(When(zero, then=V(1)), default=V(0),
                                        output_field=IntegerField())))
    return Subquery(latest.values("_abstinent")[:1], output_field=IntegerField())


def _goal_rows(scope: Scope) -> QuerySet:
    return (with_goal_kind(scope.in_treatment(), scope.end, chooser=True)
            .annotate(abstinent=abstinent_at_latest_top(scope.end))
            .values("patient_id", "goal_kind", "goal_chooser", "abstinent"))


# The family of figures (figures/base.py Facts) about the patient's substance goal on the
# period's last day: a row per patient in treatment with `goal_kind` and `goal_chooser` ("" when
# not decided) and `abstinent` (their latest TOP by then, as `abstinent_at_latest_top`).
GOAL_FACTS = queryset_facts("goals", _goal_rows)
