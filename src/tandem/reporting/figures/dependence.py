"""Figures of the report's "dependence" section: abstinence among those whose goal is
abstinence, successful completions, completions that did not come back within 6 months (the
national indicator, adapted to a chosen period), and re-presentations.

Rules Tandem decides here (each one line in its figure's definition):

- **A successful completion**: an episode that ended with "treatment completed: free of problem
  use" or "treatment completed: occasional use" (NDTMS's two successful discharge reasons).
- **Re-presenting within 6 months**: the same patient starting another episode on or after the
  completed episode's exit date and no later than the same day 6 calendar months after it (the
  month's last day when it has fewer). Only this organisation's episodes are seen: the national
  figure also sees other services.
- **The substance goal as at a day**: reporting/figures/goals.py, the rule the balance section reads
  too.
- **Abstinent at a profile**: 0 days in the past 28 of every substance on the Treatment Outcomes
  Profile except tobacco; a substance left unscored does not count as 0.

Every figure is one or two aggregate queries; nothing loops over patients. Months are added in
the database from the year, month and day of each date, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import ExtractDay, ExtractMonth, ExtractYear

from tandem.core.report import Definition, Kind, Period, Value, months_before
from tandem.patients.models import Episode, ExitReason
from tandem.planning.models import GoalType
from tandem.reporting.figures.base import Figure, count_of, figure_of, literal, share_of
from tandem.reporting.figures.goals import GOAL_FACTS
from tandem.reporting.scope import Scope

SECTION = "dependence"
SUCCESSFUL = (ExitReason.COMPLETED_FREE, ExitReason.COMPLETED_OCCASIONAL)
ABSTINENCE = (GoalType.ABSTINENCE_ALL, GoalType.ABSTINENCE_PROBLEM)
RE_PRESENT_MONTHS = 6

NATIONAL = ("Public Health Outcomes Framework indicator C19a-c (OHID, from NDTMS): successful "
            "completions not re-presenting within 6 months, as a share of all in treatment "
            "(qualitywatch.org.uk/indicator/treatment-completion-and-6-month-success-rates-drug-"
            "users); Tandem's episodes only")


def month_index(field) -> F:
    """A date's calendar month as one number (year × 12 + month), for adding months."""
    return ExtractYear(field) * 12 + ExtractMonth(field)


def _re_presented() -> Exists:
    """Whether the patient of the completed episode in the outer query (with `_exit_month` and
    `_exit_day` aliased) started another episode within 6 months of its exit date.

    start ≤ exit + 6 months ⇔ start's month < exit's month + 6, or the same month and start's
    day ≤ exit's day (a shorter month's clamped last day never changes this comparison)."""
    within = (Q(_month__lt=OuterRef("_exit_month") + RE_PRESENT_MONTHS)
              | Q(_month=OuterRef("_exit_month") + RE_PRESENT_MONTHS,
                  _day__lte=OuterRef("_exit_day")))
    return Exists(Episode.objects.filter(patient=OuterRef("patient"),
                                         start_date__gte=OuterRef("exit_date"))
                  .exclude(pk=OuterRef("pk"))
                  .alias(_month=month_index("start_date"), _day=ExtractDay("start_date"))
                  .filter(within))


def _completions(episodes: QuerySet, period: Period) -> QuerySet:
    return (episodes.filter(exit_reason__in=SUCCESSFUL,
                            exit_date__range=(period.start, period.end))
            .alias(_exit_month=month_index("exit_date"), _exit_day=ExtractDay("exit_date")))


# --- abstinent at the latest profile, among those whose goal is abstinence -----------------

ABSTINENT = figure_of(Definition(
    key="abstinent-goal-abstinent", section=SECTION,
    label="Abstinent, among those whose goal is abstinence", kind=Kind.SHARE,
    who="Patients in treatment whose substance goal is abstinence (from all drugs or the "
        "problem one) and who have a Treatment Outcomes Profile (TOP) in the episode",
    dates="The goal's kind on the period's last day; their latest TOP on or before that day",
    source="Goals and kind changes (balance section's rule); TOP days used in the past 28: "
           "0 for every substance but tobacco. Tandem's definition",
    drill=True, higher_is_better=True,
), GOAL_FACTS,
    among=f"goal_kind IN ({', '.join(literal(k) for k in ABSTINENCE)}) AND abstinent IS NOT NULL",
    met="abstinent = 1")


# --- successful completions --------------------------------------------------------------


def _completion_rows(scope: Scope) -> QuerySet:
    return _completions(scope.episodes(), scope.period)


COMPLETIONS = Figure(Definition(
    key="successful-completions", section=SECTION, label="Successful completions",
    kind=Kind.COUNT,
    who="Patients (counted once) whose episode ended with treatment completed",
    dates="Exit date in the period",
    source="Episodes' exit reasons: completed free of problem use, or with occasional use "
           "(NDTMS's successful discharge reasons)",
    drill=True, higher_is_better=True,
), lambda scope: count_of(_completion_rows(scope), distinct="patient_id"),
    lambda scope: _completion_rows(scope).values("patient_id").distinct())


# --- successful completions that did not re-present (the national indicator) --------------


def completion_window(period: Period) -> Period:
    """The completions the indicator can judge at the period's end: those in a window as long
    as the period, ending 6 months before its end, so each had 6 months to re-present."""
    return Period(months_before(period.start, RE_PRESENT_MONTHS),
                  months_before(period.end, RE_PRESENT_MONTHS))


def _not_re_presenting(scope: Scope) -> tuple[QuerySet, Q]:
    window = scope.for_period(completion_window(scope.period))
    stayed = _completions(window.episodes(), window.period).filter(
        patient=OuterRef("patient")).filter(~_re_presented())
    rows = window.in_treatment().alias(_stayed=Exists(stayed))
    return rows, Q(_stayed=True)


def _not_re_presenting_value(scope: Scope) -> Value:
    rows, numerator = _not_re_presenting(scope)
    return share_of(rows, numerator)


def _not_re_presenting_patients(scope: Scope) -> QuerySet:
    rows, numerator = _not_re_presenting(scope)
    return rows.filter(numerator).values("patient_id")


NOT_RE_PRESENTING = Figure(Definition(
    key="completed-not-representing", section=SECTION,
    label="Completed and did not come back within 6 months", kind=Kind.SHARE,
    who="Patients in treatment in the window: the period moved 6 months back",
    dates="Completions in that window; no new episode within 6 months of the exit date",
    source=NATIONAL, drill=True, higher_is_better=True,
), _not_re_presenting_value, _not_re_presenting_patients)


# --- re-presentations --------------------------------------------------------------------


def _re_presentation_rows(scope: Scope) -> QuerySet:
    """Episodes starting in the period within 6 months after one of the patient's successful
    completions (exit ≤ start ≤ exit + 6 months, as in `_re_presented`)."""
    after = (Q(_exit_month__gt=OuterRef("_start_month") - RE_PRESENT_MONTHS)
             | Q(_exit_month=OuterRef("_start_month") - RE_PRESENT_MONTHS,
                 _exit_day__gte=OuterRef("_start_day")))
    earlier = (Episode.objects.filter(patient=OuterRef("patient"), exit_reason__in=SUCCESSFUL,
                                      exit_date__lte=OuterRef("start_date"))
               .exclude(pk=OuterRef("pk"))
               .alias(_exit_month=month_index("exit_date"), _exit_day=ExtractDay("exit_date"))
               .filter(after))
    return (scope.episodes().filter(start_date__range=(scope.start, scope.end))
            .alias(_start_month=month_index("start_date"), _start_day=ExtractDay("start_date"))
            .filter(Exists(earlier)))


RE_PRESENTATIONS = Figure(Definition(
    key="re-presentations", section=SECTION, label="Came back within 6 months of completing",
    kind=Kind.COUNT,
    who="Patients (counted once) who started an episode after a successful completion",
    dates="The new episode started in the period, within 6 months of the completion's exit",
    source="Episodes: start dates, and exit dates and reasons (completed free of problem use "
           "or with occasional use); Tandem's episodes only",
    drill=True, higher_is_better=False,
), lambda scope: count_of(_re_presentation_rows(scope), distinct="patient_id"),
    lambda scope: _re_presentation_rows(scope).values("patient_id").distinct())


FIGURES: list[Figure] = [ABSTINENT, COMPLETIONS, NOT_RE_PRESENTING, RE_PRESENTATIONS]
