"""The summary at the top of a patient's page: what a clinician needs in ten seconds.

Their open goals and the kind of each substance goal (and whose choice it was), the latest
headline score of each questionnaire with its direction since the check-up before, the recovery
plan's version and review date, portal access, and open flags counted by severity.

A fixed number of queries whatever the patient's history: the goals in one, the two latest
completed check-ups of each questionnaire in one (a window function), the plan and its latest
version in two, portal access in at most two (portal_access.services.access_summary); flags
are counted from the open flags the page already has. Reads only.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from tandem.assessment import registry
from tandem.assessment.models import ResponseStatus
from tandem.assessment.results import (
    IMPROVED,
    SAME,
    WORSE,
    Movement,
    latest_changes,
    movement,
)
from tandem.core.flags import SEVERITY_ORDER
from tandem.core.instruments import Scale
from tandem.core.scoring import band_for
from tandem.monitoring.models import FlagStatus, Severity
from tandem.planning.care_plan import IN_FORCE, OPEN_GOALS, current_plan, latest_version
from tandem.planning.models import Goal
from tandem.portal_access.services import AccessSummary, access_summary

SHOWN_GOALS = 5  # the rest are counted, and on the Goals page
SEVERITY_WORDS = {value: label.split(":")[0] for value, label in Severity.choices}
# How a score moved since the check-up before (assessment.results.movement), in the staff's
# words; the page adds "(a reliable change)" or "(less than a reliable change)".
DIRECTION_WORDS = {IMPROVED: "better", WORSE: "worse", SAME: "about the same"}


@dataclass
class GoalLine:
    priority: int
    area: str
    statement: str
    kind: str  # the kind of substance goal, in words; "" for other goals
    chosen_by: str  # whose choice the kind was, e.g. "the patient"
    status: str


@dataclass
class ScoreLine:
    instrument: str
    scale: str
    value: float | None
    band: str
    on: datetime.date | None
    previous: float | None
    previous_on: datetime.date | None
    # "better", "worse" or "about the same" since the check-up before; "" when there is none
    direction: str
    # True/False when the questionnaire has a reliable-change figure (Jacobson & Truax 1991):
    # "better" and "worse" then mean a reliable change, and anything smaller is "about the
    # same"; None when it has no figure, so the words only follow the sign of the difference.
    reliable: bool | None

    @property
    def is_total(self) -> bool:
        """The headline is the questionnaire's total score (else its name is shown)."""
        return "total" in self.scale.lower()

    @property
    def difference(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass
class PlanLine:
    version: int | None
    signed_by_both: bool
    status: str
    review_date: datetime.date
    review_overdue: bool


@dataclass
class FlagCount:
    severity: str
    words: str
    count: int


@dataclass
class Summary:
    goals: list[GoalLine]
    more_goals: int
    scores: list[ScoreLine]
    plan: PlanLine | None
    portal: AccessSummary  # from portal_access: account, suspended, last sign-in, invitation
    flags: list[FlagCount] = field(default_factory=list)

    @property
    def open_flags(self) -> int:
        return sum(f.count for f in self.flags)


def gather(patient, open_flags=None, today: datetime.date | None = None) -> Summary:
    """The summary of one patient. `open_flags`: their open flags if the caller has them
    already (the patient page does), else they are read."""
    today = today or timezone.localdate()
    available = registry.available(patient.organisation)
    goals, more = goal_lines(patient, registry.cards(patient.organisation))
    if open_flags is None:
        open_flags = list(patient.flags.filter(status=FlagStatus.ACTIVE))
    return Summary(goals=goals, more_goals=more, scores=score_lines(patient, available),
                   plan=plan_line(patient, today), portal=access_summary(patient),
                   flags=flag_counts(open_flags))


def goal_lines(patient, cards) -> tuple[list[GoalLine], int]:
    labels = {code: label for code, label, _q in cards}
    found = list(Goal.objects.of(patient.organisation_id)
                 .filter(patient=patient, lifecycle_status__in=OPEN_GOALS)
                 .order_by("priority", "created_at"))
    lines = [GoalLine(g.priority, labels.get(g.card, g.card), g.statement,
                      g.get_goal_type_display() if g.goal_type else "",
                      g.get_goal_type_chosen_by_display().lower() if g.goal_type_chosen_by else "",
                      g.get_lifecycle_status_display())
             for g in found[:SHOWN_GOALS]]
    return lines, max(0, len(found) - SHOWN_GOALS)


def latest_two(patient) -> dict[str, list[dict]]:
    """The two latest completed check-ups of each questionnaire, newest first, in one query."""
    rows = (patient.responses.filter(status=ResponseStatus.COMPLETED)
            .annotate(n=Window(RowNumber(), partition_by=[F("instrument_code")],
                               order_by=[F("completed_at").desc(), F("pk").desc()]))
            .filter(n__lte=2)
            .values("instrument_code", "completed_on", "scores", "n"))
    found: dict[str, list[dict]] = {}
    for row in sorted(rows, key=lambda r: (r["instrument_code"], r["n"])):
        found.setdefault(row["instrument_code"], []).append(row)
    return found


def score_lines(patient, available) -> list[ScoreLine]:
    """The headline score of every questionnaire the patient has completed, in the order of
    the service's list, with its direction since the check-up before."""
    latest = latest_two(patient)
    lines = []
    for code, instrument in available.items():
        rows = latest.get(code)
        if not rows:
            continue
        scale = instrument.primary
        now = rows[0]
        before = rows[1] if len(rows) > 1 else None
        value = now["scores"].get(scale.code)
        band = band_for(scale, value, patient.sex_for_thresholds)
        line = ScoreLine(
            instrument=instrument.name, scale=scale.title, value=value,
            band=band.label if band else "", on=now["completed_on"], previous=None,
            previous_on=None, direction="", reliable=None)
        if value is not None and before is not None:
            changes = latest_changes(scale, [
                {"value": before["scores"].get(scale.code), "date": before["completed_on"]},
                {"value": value, "date": now["completed_on"]}])
            if changes.previous is not None:
                line.previous, line.previous_on = (changes.previous["value"],
                                                   changes.previous["date"])
                line.direction, line.reliable = words_of(changes.since_last)
        lines.append(line)
    return lines


def words_of(moved: Movement | None) -> tuple[str, bool | None]:
    """("better" | "worse" | "about the same" | "", reliable) for the page."""
    if moved is None:
        return "", None
    return DIRECTION_WORDS[moved.code], moved.reliable


def direction_of(scale: Scale, before, after) -> tuple[str, bool | None]:
    """("better" | "worse" | "about the same" | "", reliable) from one score to the next.

    With a reliable-change figure the results' own reliable change decides (a change smaller
    than it is "about the same"); without one, only the sign of the difference and which way
    is better for this scale (assessment.results.movement)."""
    return words_of(movement(scale, before, after))


def plan_line(patient, today: datetime.date) -> PlanLine | None:
    plan = current_plan(patient)
    if plan is None:
        return None
    version = latest_version(plan)
    return PlanLine(
        version=version.number if version else None,
        signed_by_both=bool(version and version.fully_signed),
        status=plan.get_status_display(), review_date=plan.review_date,
        # A plan no longer in force (completed) has nothing due, as on the caseload.
        review_overdue=plan.status in IN_FORCE and plan.review_date < today)


def flag_counts(open_flags) -> list[FlagCount]:
    """Open flags counted by severity, the most urgent first; severities with none left out."""
    counts: dict[str, int] = {}
    for flag in open_flags:
        counts[flag.severity] = counts.get(flag.severity, 0) + 1
    return [FlagCount(s, SEVERITY_WORDS.get(s, s), n)
            for s, n in sorted(counts.items(), key=lambda item: SEVERITY_ORDER.get(item[0], 99))]
