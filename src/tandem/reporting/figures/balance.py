"""Figures of the report's "balance" section: the mix of substance goal kinds (none imposed)
and who chose them, how the mix moved, and, for those on substitute medication, time on it,
reviews, the goal about it talked over, and reductions.

Rules Tandem decides here (each one line in its figure's definition):

- **The patient's substance goal as at a day**: reporting/figures/goals.py (one rule for every
  section). A patient with no such goal with a kind is "not decided yet".
- **Whose choice**: the chooser recorded with that kind (the patient, the practitioner or both
  together); "the patient's choice" counts the patient alone or both together, since a kind
  chosen together is one the patient chose.
- **On substitute medication at the end**: a substitute medicine's plan current on the period's
  last day (reporting/scope.py `on_medication`), for the patient in the report.
- **Reviewed in the last 3 months / 12 months**: a medication review held on or after the same
  day 3 (12) calendar months before the period's end, and on or before the end. Not the
  complement of the reviews section's "medication review overdue": that one counts a plan
  started less than 3 months ago and not yet reviewed as neither overdue nor reviewed.
- **A reduction going ahead or paused on a day**: started on or before it, with no "finished" or
  "stopped" event on or before it, on a plan current that day (stopping the plan stops its
  reduction without an event).

Every figure is a few aggregate queries over `Scope.in_treatment()` (one row per patient);
nothing loops over patients.
"""

from __future__ import annotations

import datetime

from django.db.models import (
    Case,
    DateField,
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

from tandem.core.report import Definition, Kind, months_before
from tandem.medication.models import (
    MedicationPlan,
    MedicationReview,
    PlanStatus,
    Reduction,
    ReductionEvent,
    ReductionEventKind,
)
from tandem.planning.models import GoalType, GoalTypeChange, Proposer
from tandem.reporting.figures.base import (
    Facts,
    Figure,
    Part,
    count_of,
    date_literal,
    days_between,
    figure_of,
    literal,
    sql_of,
)
from tandem.reporting.figures.goals import GOAL_FACTS, VOID_GOALS
from tandem.reporting.scope import Scope, on_days, on_medication, substitute_codes

SECTION = "balance"
UNDECIDED = "undecided"
# "The patient's choice": the patient alone, or the patient and practitioner together.
PATIENTS_CHOICE = (Proposer.PATIENT, Proposer.BOTH)
ENDED = (ReductionEventKind.FINISHED, ReductionEventKind.STOPPED)
SETBACK = (ReductionEventKind.PAUSED, ReductionEventKind.REVERSED)
# A medication review at least every 3 months: Tandem's standard (the reviews section counts
# those overdue).
MEDICATION_REVIEW_MONTHS = 3

GOAL_SOURCE = ("Substance goals and their history of kind changes (Goal, GoalTypeChange); goal "
               "kinds from the source documents, none imposed; Tandem's rule for one goal each")
MEDICATION_SOURCE = "Substitute medication plans (MedicationPlan); substitute medicines only"


def _goal_kind_figure(kind: str, label: str) -> Figure:
    stored = "" if kind == UNDECIDED else kind
    return figure_of(Definition(
        key=f"goal-kind-{kind}", section=SECTION, label=label, kind=Kind.SHARE,
        who="Patients in treatment in the period; one substance goal each (their first by "
            "priority)",
        dates="The goal's kind on the period's last day (the latest kind change on or before it)",
        source=GOAL_SOURCE, drill=True,
    ), GOAL_FACTS, met=f"goal_kind = {literal(stored)}")


GOAL_KIND_FIGURES = [
    *(_goal_kind_figure(kind.value, f"Goal: {kind.label.lower()}") for kind in GoalType),
    _goal_kind_figure(UNDECIDED, "Goal: not decided yet"),
]


CHOSEN_BY_PATIENT = figure_of(Definition(
    key="goal-chosen-by-patient", section=SECTION, label="Goal kind chosen by the patient",
    kind=Kind.SHARE,
    who="Patients in treatment in the period with a substance goal kind on its last day",
    dates="Whose choice the kind was on the period's last day; the patient alone or both together",
    source=GOAL_SOURCE, drill=True, higher_is_better=True,
), GOAL_FACTS, among="goal_kind <> ''",
    met=f"goal_chooser IN ({', '.join(literal(p) for p in PATIENTS_CHOICE)})")


def _changes(scope: Scope) -> QuerySet:
    return (GoalTypeChange.objects
            .filter(on_days("changed_at", scope.start, scope.end),
                    goal__patient_id__in=scope.patients())
            .exclude(from_type="").exclude(from_type=F("to_type"))
            .exclude(goal__lifecycle_status__in=VOID_GOALS))


GOAL_KIND_CHANGED = Figure(Definition(
    key="goal-kind-changed", section=SECTION, label="Goal kind changed", kind=Kind.COUNT,
    who="Patients in treatment in the period with a substance goal (any of theirs) that changed "
        "from one kind to another",
    dates="Kind changes dated in the period (a first choice of kind is not a change)",
    source="Changes of a goal's kind, with their date (GoalTypeChange)", drill=True,
), lambda scope: count_of(_changes(scope), distinct="goal__patient_id"),
    lambda scope: _changes(scope).values(patient_id=F("goal__patient_id")).distinct())


# --- substitute medication ------------------------------------------------------------------


def _current_plans(day: datetime.date) -> QuerySet:
    """Substitute medication plans of the outer episode's patient current on `day`."""
    return MedicationPlan.objects.filter(on_medication(day), patient=OuterRef("patient_id"))


def _flag(condition) -> Case:
    return Case(When(condition, then=V(1)), default=V(0), output_field=IntegerField())


def _medication_rows(scope: Scope) -> QuerySet:
    """A row per patient in treatment: `on_medication` (a substitute plan current on the last
    day), `started` (the latest start of those plans), `reviewed_3m`, `discussed_12m` (a
    medication review, one recording the goal was discussed, in the 3 or 12 months to the
    end), `reducing` (a reduction going on the last day), `overdue` (reviews section: a current
    plan last reviewed, or started, before the same day 3 months before the end), and
    `reducing_in_period` and `setback` (a reduction going on in the period; a pause or step back
    up dated in it)."""
    end, start = scope.end, scope.start
    current = _current_plans(end)

    def reviewed(months: int, **review) -> Exists:
        return Exists(MedicationReview.objects.filter(
            plan__patient=OuterRef("patient_id"),
            held_on__range=(months_before(end, months), end), **review))

    ended = ReductionEvent.objects.filter(reduction=OuterRef("pk"), kind__in=ENDED)
    going = (Reduction.objects.filter(on_medication(end, prefix="plan__"),
                                      plan__patient=OuterRef("patient_id"),
                                      started_on__lte=end)
             .filter(~Exists(ended.filter(on__lte=end))))
    plan_current_in_period = (
        Q(plan__medicine__in=substitute_codes(), plan__started_on__lte=end)
        & (Q(plan__status=PlanStatus.ACTIVE) | Q(plan__stopped_on__gte=start)))
    going_in_period = (Reduction.objects.filter(plan_current_in_period,
                                                plan__patient=OuterRef("patient_id"),
                                                started_on__lte=end)
                       .filter(~Exists(ended.filter(on__lt=start))))
    setback = ReductionEvent.objects.filter(
        reduction__plan__patient=OuterRef("patient_id"), kind__in=SETBACK,
        on__range=(start, end))
    last_review = (MedicationReview.objects.filter(plan=OuterRef("pk"), held_on__lte=end)
                   .order_by("-held_on").values("held_on")[:1])
    overdue = (current.alias(_since=Coalesce(Subquery(last_review, output_field=DateField()),
                                             F("started_on")))
               .filter(_since__lt=months_before(end, MEDICATION_REVIEW_MONTHS)))
    return (scope.in_treatment()
            .annotate(on_medication=_flag(Exists(current)),
                      started=Subquery(current.order_by("-started_on", "-pk")
                                       .values("started_on")[:1]),
                      reviewed_3m=_flag(reviewed(3)),
                      discussed_12m=_flag(reviewed(12, goal_discussed=True)),
                      reducing=_flag(Exists(going)),
                      overdue=_flag(Exists(overdue)),
                      reducing_in_period=_flag(Exists(going_in_period)),
                      setback=_flag(Exists(setback)))
            .values("patient_id", "on_medication", "started", "reviewed_3m", "discussed_12m",
                    "reducing", "overdue", "reducing_in_period", "setback"))


def _medication_parts(scope: Scope) -> list[Part]:
    # Then `days_on`: the days from `started` to the period's last day.
    days_on = days_between("started", date_literal(scope.end))
    return [("medication_rows", *sql_of(_medication_rows(scope))),
            ("medication", f"SELECT m.*, {days_on} AS days_on FROM medication_rows AS m", [])]


MEDICATION = Facts("medication", _medication_parts)
ON_MEDICATION_AT_END = "on_medication = 1"

ON_MEDICATION = figure_of(Definition(
    key="on-medication", section=SECTION, label="On substitute medication", kind=Kind.COUNT,
    who="Patients in treatment in the period with a substitute medication plan",
    dates="The plan current on the period's last day (started by then, not stopped by then)",
    source=MEDICATION_SOURCE, drill=True,
), MEDICATION, met=ON_MEDICATION_AT_END)


MEDICATION_DAYS_ON = figure_of(Definition(
    key="medication-days-on", section=SECTION, label="Time on substitute medication",
    kind=Kind.MEDIAN, unit="days",
    who="Patients in treatment in the period on substitute medication on its last day",
    dates="Days from the current plan's start to the period's last day",
    source=MEDICATION_SOURCE + "; the current plan's start date",
), MEDICATION, among=ON_MEDICATION_AT_END, of="days_on")


MEDICATION_REVIEWED_3M = figure_of(Definition(
    key="medication-reviewed-3m", section=SECTION, label="Medication reviewed in the last 3 months",
    kind=Kind.SHARE,
    who="Patients in treatment in the period on substitute medication on its last day",
    dates="A review held on or after the same day 3 months before the period's end, up to the end",
    source="Medication reviews (MedicationReview); 3 months is Tandem's medication review rule",
    drill=True, higher_is_better=True,
), MEDICATION, among=ON_MEDICATION_AT_END, met="reviewed_3m = 1")


MEDICATION_GOAL_DISCUSSED_12M = figure_of(Definition(
    key="medication-goal-discussed-12m", section=SECTION,
    label="Goal about medication discussed in the last 12 months", kind=Kind.SHARE,
    who="Patients in treatment in the period on substitute medication on its last day",
    dates="A review held on or after the same day 12 months before the period's end, up to the end",
    source="Medication reviews that record the patient's goal about the medication was discussed",
    drill=True, higher_is_better=True,
), MEDICATION, among=ON_MEDICATION_AT_END, met="discussed_12m = 1")


MEDICATION_REDUCING = figure_of(Definition(
    key="medication-reducing", section=SECTION, label="Reducing their medication",
    kind=Kind.SHARE,
    who="Patients in treatment in the period on substitute medication on its last day",
    dates="A reduction going ahead or paused on the period's last day (started, not yet ended)",
    source="Reductions the patient chose with the prescriber, and their events (Reduction)",
    drill=True,
), MEDICATION, among=ON_MEDICATION_AT_END, met="reducing = 1")


REDUCING_PAUSED_OR_REVERSED = figure_of(Definition(
    key="reducing-paused-or-reversed", section=SECTION,
    label="Reductions paused or gone back up", kind=Kind.SHARE,
    who="Patients in treatment in the period with a medication reduction going on in it",
    dates="A pause, or a step back up, dated in the period",
    source="Reduction events (paused, went back up); a pause or going back up is not a failure",
    drill=True,
), MEDICATION, among="reducing_in_period = 1", met="setback = 1")


FIGURES: list[Figure] = [
    *GOAL_KIND_FIGURES,
    CHOSEN_BY_PATIENT,
    GOAL_KIND_CHANGED,
    ON_MEDICATION,
    MEDICATION_DAYS_ON,
    MEDICATION_REVIEWED_3M,
    MEDICATION_GOAL_DISCUSSED_12M,
    MEDICATION_REDUCING,
    REDUCING_PAUSED_OR_REVERSED,
]
