"""Figures of the report's "reviews" section: care-plan reviews by their date, medication
reviews overdue, check-ups on schedule in treatment and after it, and flags acknowledged within
their target.

Rules Tandem decides here (each one line in its figure's definition):

- **Care-plan review dates**: every date a review set for the next one (Review.next_review), met
  when a later review of the plan was held on or before it; and the review date of a plan in
  force that has had no review yet, not met. The plan keeps one review date, which each review
  replaces, so a first review date is known only until the first review: a late first review
  is not seen as late (the limit of the records, said on the definitions page).
- **Medication review overdue**: the latest medication review of the plan current at the end
  (held on or before the end), or the plan's start without one, before the same day 3 calendar
  months before the end (`months_before`). A plan started less than 3 months before the end
  and not yet reviewed is neither overdue here nor "reviewed in the last 3 months" (balance).
- **A check-up**: a completed (or amended) questionnaire of the service's check-up (its check-up
  settings; the default set without them).
- **On schedule**: a check-up within the patient's interval (their own, else the service's)
  plus 14 days before the end, the days the check-up-overdue flag allows in treatment
  (core/flags.py, Tandem's service default).
- **Post-exit check-ups**: due every `post_exit_every_months` after the exit date for
  `post_exit_for_months` (check-up settings; core/schedule.py), while the episode was in
  post-exit monitoring on the day (still in it, or closed after that day).
- **Flag targets**: `ACKNOWLEDGE_WITHIN` in figures/flags.py, Tandem's default service
  standard.

Every figure is one to three aggregate queries; nothing loops over patients. Months are added
in the database from the year, month and day of each date, so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models import Value as V
from django.db.models.functions import Coalesce, ExtractDay

from tandem.assessment.models import CheckupSchedule, CheckupSettings, Response
from tandem.core.report import Definition, Kind, Value, months_before
from tandem.core.schedule import add_months
from tandem.patients.models import EpisodeStatus
from tandem.planning.care_plan import IN_FORCE
from tandem.planning.models import CarePlan, PlanStatus, Review
from tandem.reporting.figures.balance import MEDICATION
from tandem.reporting.figures.base import (
    Facts,
    Figure,
    Part,
    count_of,
    date_literal,
    figure_of,
    share_of,
    sql_of,
)
from tandem.reporting.figures.dependence import month_index
from tandem.reporting.figures.flags import FLAGS
from tandem.reporting.scope import COMPLETED, DAY, Scope

SECTION = "reviews"

# Days a check-up may be late and still be on schedule: the check-up-overdue flag's default in
# treatment (core/flags.py).
CHECKUP_GRACE_DAYS = 14
# A check-up's window opens this many days before it is due (core/schedule.py Rules).
CHECKUP_OPENS_DAYS = 14


@dataclass(frozen=True)
class CheckupRules:
    interval_weeks: int
    post_exit_every_months: int
    post_exit_for_months: int
    codes: tuple[str, ...]


def checkup_rules(organisation_id: int) -> CheckupRules:
    """The service's check-up settings (the defaults without a row): one query."""
    found = CheckupSettings.objects.filter(organisation_id=organisation_id).first()
    found = found or CheckupSettings()
    return CheckupRules(found.interval_weeks, found.post_exit_every_months,
                        found.post_exit_for_months, tuple(found.instrument_codes()))


def checkups(rules: CheckupRules) -> QuerySet:
    """Completed check-up questionnaires of the patient in the outer query."""
    return Response.objects.filter(patient=OuterRef("patient"), status__in=COMPLETED,
                                   instrument_code__in=rules.codes)


# --- care-plan reviews by their date -------------------------------------------------------


def _plans_reviewed_value(scope: Scope) -> Value:
    in_scope = Q(plan__patient_id__in=scope.patients())
    # A plan completed before a date came (a new episode's plan took over) owes no review.
    standing = (Q(plan__status__in=IN_FORCE)
                | Q(plan__status=PlanStatus.COMPLETED,
                    plan__updated_at__date__gt=F("next_review")))
    met = Review.objects.filter(plan=OuterRef("plan"), held_on__gt=OuterRef("held_on"),
                                held_on__lte=OuterRef("next_review"))
    set_at_reviews = share_of(
        Review.objects.filter(in_scope, standing,
                              next_review__range=(scope.start, scope.end))
        .alias(_met=Exists(met)), Q(_met=True))
    never_reviewed = count_of(CarePlan.objects.filter(
        patient_id__in=scope.patients(), status__in=IN_FORCE,
        review_date__range=(scope.start, scope.end),
    ).exclude(Exists(Review.objects.filter(plan=OuterRef("pk")))))
    return Value(count=set_at_reviews.count, of=set_at_reviews.of + never_reviewed.count)


PLANS_REVIEWED = Figure(Definition(
    key="plans-reviewed-on-time", section=SECTION, label="Care-plan reviews held by their date",
    kind=Kind.SHARE,
    who="Review dates (not patients) of the care plans of patients in treatment",
    dates="Review dates in the period, met by a review held after the one that set it, by then",
    source="Care-plan reviews (the next date each set) and plans not yet reviewed; a first "
           "review date is replaced by the review. Tandem's definition",
    higher_is_better=True,
), _plans_reviewed_value)


# --- medication reviews overdue ----------------------------------------------------------


MEDICATION_OVERDUE = figure_of(Definition(
    key="medication-review-overdue", section=SECTION, label="Medication review overdue",
    kind=Kind.COUNT,
    who="Patients in treatment on substitute medication on the period's last day",
    dates="Last medication review (or the plan's start) more than 3 months before the last day",
    source="Substitute medication plans and their reviews; 3 months: Tandem's standard for "
           "medication reviews (at least every 3 months)",
    drill=True, higher_is_better=False,
), MEDICATION, met="on_medication = 1 AND overdue = 1")


# --- check-ups on schedule in treatment --------------------------------------------------


def _on_schedule_parts(scope: Scope) -> list[Part]:
    """A row per patient in treatment on the last day with `long_enough` (in treatment for a
    whole check-up interval by then: their own interval, else the service's) and `recent` (a
    check-up within the interval plus the grace days before the last day), each 1 or 0."""
    rules = checkup_rules(scope.organisation_id)
    own = CheckupSchedule.objects.filter(patient=OuterRef("patient"))
    weeks = {rules.interval_weeks, *CheckupSchedule.objects.of(scope.organisation_id).filter(
        interval_weeks__isnull=False).values_list("interval_weeks", flat=True).distinct()}
    latest = (checkups(rules).filter(completed_on__lte=scope.end).order_by("-completed_on")
              .values("completed_on")[:1])
    rows = (scope.in_treatment()
            .filter(Q(exit_date__isnull=True) | Q(exit_date__gt=scope.end))
            .annotate(weeks=Coalesce(Subquery(own.values("interval_weeks")[:1]),
                                     V(rules.interval_weeks)),
                      latest=Subquery(latest))
            .values("patient_id", "start_date", "weeks", "latest"))
    # Per interval, constant dates: started by the day an interval before the end, and a
    # check-up on or after the day an interval and the grace days before it.
    def per_interval(compared: str, days_before: int) -> str:
        """`compared` (SQL ending in an operator) against, for each interval, the day that
        interval and `days_before` more before the end."""
        return " OR ".join(
            f"(weeks = {int(w):d} AND {compared} "
            f"{date_literal(scope.end - datetime.timedelta(weeks=w, days=days_before))})"
            for w in sorted(weeks))

    long_enough = per_interval("start_date <=", 0)
    recent = per_interval("latest >=", CHECKUP_GRACE_DAYS)
    dated = (f"SELECT patient_id, CASE WHEN {long_enough} THEN 1 ELSE 0 END AS long_enough, "
             f"CASE WHEN {recent} THEN 1 ELSE 0 END AS recent FROM checkup_latest")
    return [("checkup_latest", *sql_of(rows)), ("checkups", dated, [])]


CHECKUPS_ON_SCHEDULE = figure_of(Definition(
    key="checkups-on-schedule", section=SECTION, label="Check-ups on schedule",
    kind=Kind.SHARE,
    who="Patients in treatment on the period's last day, for at least one check-up interval",
    dates="A check-up within their interval plus 14 days before the last day",
    source="Completed check-up questionnaires; each patient's interval or the service's "
           "(check-up settings); 14 days as the check-up-overdue flag allows. Tandem's definition",
    drill=True, higher_is_better=True,
), Facts("checkups", _on_schedule_parts), among="long_enough = 1", met="recent = 1")


# --- post-exit check-ups -----------------------------------------------------------------


def exits_due_in(months: int, start: datetime.date, end: datetime.date) -> tuple:
    """The first and last exit dates whose check-up `months` after exit falls from `start` to
    `end` (adding months clamps to a shorter month's last day, so found by stepping)."""
    first = months_before(start, months)
    while add_months(first, months) < start:
        first += DAY
    last = months_before(end, months)
    while add_months(last + DAY, months) <= end:
        last += DAY
    return first, last


def _post_exit(scope: Scope) -> tuple[QuerySet, Q]:
    rules = checkup_rules(scope.organisation_id)
    due = Q(pk__in=[])
    for months in range(rules.post_exit_every_months, rules.post_exit_for_months + 1,
                        rules.post_exit_every_months):
        first, last = exits_due_in(months, scope.start, scope.end)
        # Still in monitoring on the due day: not closed, or closed after it (due < closed ⇔
        # due's month < closed's month, or the same month and the exit's day < closed's day).
        monitored = (Q(status=EpisodeStatus.MONITORING)
                     | Q(_closed_month__gt=F("_exit_month") + months)
                     | Q(_closed_month=F("_exit_month") + months,
                         _closed_day__gt=F("_exit_day")))
        due |= Q(exit_date__range=(first, last)) & monitored
    ended_into_monitoring = (Q(status=EpisodeStatus.MONITORING)
                             | Q(status=EpisodeStatus.FINISHED,
                                 closed_date__gt=F("exit_date")))
    done = checkups(rules).filter(
        completed_on__gt=OuterRef("exit_date"),
        completed_on__range=(scope.start - datetime.timedelta(days=CHECKUP_OPENS_DAYS),
                             scope.end))
    rows = (scope.episodes().filter(ended_into_monitoring, exit_date__isnull=False)
            .alias(_exit_month=month_index("exit_date"), _exit_day=ExtractDay("exit_date"),
                   _closed_month=month_index("closed_date"),
                   _closed_day=ExtractDay("closed_date"))
            .filter(due).alias(_done=Exists(done)))
    return rows, Q(_done=True)


def _post_exit_value(scope: Scope) -> Value:
    rows, numerator = _post_exit(scope)
    return share_of(rows, numerator, distinct="patient_id")


def _post_exit_patients(scope: Scope) -> QuerySet:
    rows, numerator = _post_exit(scope)
    return rows.filter(numerator).values("patient_id").distinct()


POST_EXIT = Figure(Definition(
    key="post-exit-checkups-completed", section=SECTION,
    label="Check-ups after treatment completed", kind=Kind.SHARE,
    who="Patients in post-exit monitoring with a check-up after treatment due in the period; "
        "one completed counts them, however many fell due",
    dates="A check-up after the exit date, from 14 days before the period (its window) to its end",
    source="Episodes' exit and closing dates; check-up settings (every 3 months for 12 by "
           "default, core/schedule.py); completed check-up questionnaires. Tandem's definition",
    drill=True, higher_is_better=True,
), _post_exit_value, _post_exit_patients)


# --- flags acknowledged within their target ------------------------------------------------


FLAGS_ON_TARGET = figure_of(Definition(
    key="flags-acknowledged-on-target", section=SECTION,
    label="Flags acknowledged within their target", kind=Kind.SHARE,
    who="Flags (not patients) of patients in treatment, not entered in error",
    dates="Flags whose target day fell in the period: raised that day (urgent), 1 day (high), "
          "7 (medium) or 28 (low) before",
    source="Flags: raised and acknowledged dates (local days). Targets: Tandem's default "
           "service standard (urgent the same day, high 1 day, medium 7, low 28)",
    higher_is_better=True,
), FLAGS, among="due = 1 AND closed_itself = 0", met="on_target = 1")


FIGURES: list[Figure] = [PLANS_REVIEWED, MEDICATION_OVERDUE, CHECKUPS_ON_SCHEDULE, POST_EXIT,
                         FLAGS_ON_TARGET]
