""""My recovery", the portal's home: what it shows, gathered in a fixed number of queries
whatever the number of goals, actions, check-ups or visits to the record.

Each piece is a small function so the page (and its tests) can read them one by one:

- `next_checkup`: the one check-up to start or carry on, or when the next one is;
- `waiting`: what is waiting for the patient (a priority sort, a plan to sign, a change they
  asked for and its answer, their feedback report to look over before the plan's review);
- `my_goals`: the goals in force, in their words, with the level they gave at the latest review
  that rated it;
- `my_plan`: the plan's open actions and its review date;
- `how_i_am_doing`: a line per questionnaire on what changed since the check-up before, and one
  small chart.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from tandem.assessment.results import IMPROVED, WORSE, InstrumentResults, ScaleTrack
from tandem.assessment.schedules import InstrumentStatus
from tandem.core import charts
from tandem.core.dosing import mg
from tandem.core.scoring import bands_for
from tandem.feedback import services as feedback
from tandem.feedback.content import CHANGE_WORDS
from tandem.medication.models import DoseRequest, MedicationPlan, RequestStatus
from tandem.planning import care_plan
from tandem.planning.models import (
    GoalRating,
    PrioritySort,
    ProposalStatus,
    Voice,
)
from tandem.planning.services import cards_for

# Where the patient said they are on a goal (its Goal Attainment Scale level, −2 … +2), in the
# words of their printable plan (planning/plan_print.html), so both read the same.
LEVEL_WORDS = {
    2: "Much better than expected",
    1: "Better than expected",
    0: "What we expect",
    -1: "Less than expected",
    -2: "Much less than expected",
}

# A change the patient asked for stays on the home until this long after its answer.
ANSWERED_SHOWN_DAYS = 30
MOST_CHANGE_LINES = 4


@dataclass
class NextCheckup:
    """The patient's one check-up. `state`: "carry-on" (a check-up is started), "overdue",
    "due", "upcoming" (nothing to do yet) or "none" (nothing planned)."""

    state: str
    due: datetime.date | None = None
    parts: int = 0  # questionnaires in the check-up to do now

    @property
    def to_do(self) -> bool:
        return self.state in ("carry-on", "overdue", "due")


def next_checkup(statuses: list[InstrumentStatus]) -> NextCheckup:
    """One check-up from the service's questionnaires (assessment.schedules.checkup_status)."""
    statuses = [s for s in statuses if s.instrument is not None]
    now = [s for s in statuses if s.draft or s.needs_doing]
    dates = [s.occasion.due for s in statuses if s.occasion is not None]
    due = min(dates) if dates else None
    if any(s.draft for s in statuses):
        return NextCheckup("carry-on", due, len(now))
    if now:
        overdue = any(s.occasion.status == "overdue" for s in now)
        return NextCheckup("overdue" if overdue else "due",
                           min(s.occasion.due for s in now), len(now))
    if due is not None:
        return NextCheckup("upcoming", due)
    return NextCheckup("none")


@dataclass
class Waiting:
    """One thing waiting for the patient: what it is, and where to go to do or read it."""

    kind: str  # "sort", "sign", "proposal", "feedback"
    text: str
    url: str
    link: str
    answer: str = ""  # a proposal's answer, in the keyworker's words
    status: str = ""  # a proposal's status, in words


def sorts_to_do(patient) -> list[Waiting]:
    """Priority sorts the patient has not sent yet (started or not), newest first: one query."""
    mine = PrioritySort.objects.filter(session=OuterRef("pk"), voice=Voice.PATIENT)
    sent = mine.filter(submitted_at__isnull=False)
    sessions = (patient.sort_sessions.annotate(started=Exists(mine), sent=Exists(sent))
                .filter(sent=False).order_by("-started_at"))
    return [Waiting("sort",
                    "Carry on sorting your priority cards." if s.started else
                    "Your keyworker asks you to sort the cards about the areas of your life.",
                    reverse("portal:sort", args=[s.pk]),
                    "Carry on sorting" if s.started else "Sort the cards")
            for s in sessions]


@dataclass
class PlanNow:
    plan: object | None
    version: object | None = None
    actions: list = field(default_factory=list)
    proposals: list = field(default_factory=list)

    @property
    def in_force(self) -> bool:
        return self.plan is not None and self.plan.status in care_plan.IN_FORCE

    @property
    def to_sign(self) -> bool:
        return self.in_force and self.version is not None and not self.version.patient_signed_at

    @property
    def review_date(self) -> datetime.date | None:
        return self.plan.review_date if self.plan is not None else None

    @property
    def review_passed(self) -> bool:
        return self.in_force and self.plan.review_date < timezone.localdate()


def my_plan(patient) -> PlanNow:
    """The plan shown to the patient, its latest version, its open actions and the changes the
    patient asked for that are open or lately answered: four queries at most."""
    plan = care_plan.current_plan(patient)
    if plan is None:
        return PlanNow(None)
    found = PlanNow(plan, care_plan.latest_version(plan))
    if found.in_force:
        found.actions = list(plan.actions.exclude(status__in=care_plan.FINISHED_ACTIONS)
                             .select_related("goal", "provider__user")
                             .order_by("start_date", "pk"))
    since = timezone.now() - datetime.timedelta(days=ANSWERED_SHOWN_DAYS)
    found.proposals = list(plan.proposals.filter(
        Q(status=ProposalStatus.OPEN) | Q(responded_at__gte=since)).order_by("-created_at")[:3])
    return found


def plan_waiting(plan: PlanNow) -> list[Waiting]:
    url = reverse("portal:plan")
    out = []
    if plan.to_sign:
        out.append(Waiting("sign", "Your plan has changed. Read it, and sign it if you agree.",
                           url, "Read and sign my plan"))
    for p in plan.proposals:
        if p.status == ProposalStatus.OPEN:
            out.append(Waiting("proposal", p.text, url, "See my plan",
                               status="Waiting for your keyworker's answer"))
        else:
            out.append(Waiting("proposal", p.text, url, "See my plan", answer=p.response,
                               status=("Your keyworker agreed"
                                       if p.status == ProposalStatus.ACCEPTED
                                       else "Your keyworker would like to talk it over with you")))
    return out


def my_goals(patient) -> list:
    """Goals in force, in the patient's words, each with the level the patient gave at the
    latest review that rated it (`said_words`, `said_text`, `said_on`): two queries."""
    rated = (GoalRating.objects.filter(goal=OuterRef("pk"), patient_level__isnull=False)
             .order_by("-review__held_on", "-review__created_at"))
    goals = list(patient.goals.filter(lifecycle_status__in=care_plan.OPEN_GOALS)
                 .annotate(said_level=Subquery(rated.values("patient_level")[:1]),
                           said_on=Subquery(rated.values("review__held_on")[:1])))
    labels = {code: label for code, label, _q in cards_for(patient)}
    for goal in goals:
        goal.card_label = labels.get(goal.card, goal.card)
        goal.said_words = LEVEL_WORDS.get(goal.said_level, "")
        goal.said_text = dict(goal.gas_levels()).get(goal.said_level, "")
    return goals


@dataclass
class ChangeLine:
    name: str
    latest: float
    on: datetime.date
    before: float | None = None
    before_on: datetime.date | None = None
    words: str = ""  # reliable change in words, when the questionnaire has the figures
    kind: str = ""  # "better", "worse", "same", "" (for styling)
    better: str = ""  # "Lower is better." / "Higher is better."


@dataclass
class Doing:
    lines: list[ChangeLine]
    chart: str = ""
    uses_reliable_change: bool = False


def _main_track(result: InstrumentResults) -> ScaleTrack | None:
    return next((t for t in result.tracks if t.scale.primary),
                result.tracks[0] if result.tracks else None)


def how_i_am_doing(results: list[InstrumentResults], sex: str = "") -> Doing:
    """A line per questionnaire (the service's order, a few at most): the latest score, the one
    before and what changed; and one small chart, of the first with two scores or more."""
    lines, chart = [], ""
    for result in results:
        track = _main_track(result)
        if track is None:
            continue
        changes = track.changes
        if changes is None:
            continue
        last = changes.latest
        line = ChangeLine(result.instrument.name, last["value"], last["date"],
                          better="Lower is better." if track.scale.higher_is == "worse"
                          else "Higher is better.")
        if changes.previous is not None:
            line.before, line.before_on = changes.previous["value"], changes.previous["date"]
            moved = changes.since_last
            if moved.reliable is not None:  # in words only with reliable-change figures
                line.words = CHANGE_WORDS[moved.code]
                line.kind = {IMPROVED: "better", WORSE: "worse"}.get(moved.code, "same")
            if not chart:
                scored = [row for row in track.rows if row["value"] is not None]
                chart = small_chart(result, track, scored, sex)
        if len(lines) < MOST_CHANGE_LINES:
            lines.append(line)
    return Doing(lines, chart, any(line.words for line in lines))


def small_chart(result: InstrumentResults, track: ScaleTrack, scored: list[dict],
                sex: str = "") -> str:
    """The trajectory of one questionnaire, small enough for a phone; its description says every
    figure, so it needs no table beside it."""
    low, high = track.scale.range
    said = "; ".join(f"{charts.fmt_date(row['date'])}: {row['value']:g}" for row in scored)
    points = [charts.Point(row["date"], row["value"], f"{row['value']:g}") for row in scored]
    bands = [charts.BandArea(b.min, b.max, b.label, b.level)
             for b in bands_for(track.scale, sex)]
    svg = charts.trajectory_svg(
        points, y_min=low, y_max=high, bands=bands, higher_is=track.scale.higher_is,
        title=f"{result.instrument.name} at each check-up",
        description=f"Your scores: {said}.", id_prefix="home-chart", width=360, height=150)
    return mark_safe(svg)  # noqa: S308 - built by core.charts, all text escaped


def report_waiting(patient, plan: PlanNow) -> list[Waiting]:
    """Before the plan's review (from feedback.BEFORE_REVIEW_DAYS ahead until it is held): the
    feedback report to look over and share, unless the current one is shared already."""
    if not plan.in_force:
        return []
    ahead = plan.review_date - timezone.localdate()
    if ahead > datetime.timedelta(days=feedback.BEFORE_REVIEW_DAYS):
        return []
    if feedback.current(patient).shared:
        return []
    when = "was due on" if ahead.days < 0 else "is on"
    day = f"{plan.review_date.day} {plan.review_date:%B}"
    return [Waiting("feedback",
                    f"Your plan's review {when} {day}. Look over your feedback report, add "
                    "what you want your keyworker to know, and choose whether to share it "
                    "before the review.",
                    reverse("portal:feedback"), "My feedback report")]


# Whether a patient has a medication plan is asked of the database at most this often in one
# session (kept in it, and written with its once-a-minute activity write), so the menu and the
# home take no query for it in between.
MEDICATION_CHECK_SECONDS = 60
MEDICATION_KEY = "portal_on_medication"
_clock = time.time


def on_medication(request) -> bool:
    """Whether the signed-in patient has a medication plan (for "My medication" in their menu
    and on their home): at most one query a minute."""
    found = getattr(request, "_on_medication", None)
    if found is not None:
        return found
    session, now = getattr(request, "session", None), int(_clock())
    kept = session.get(MEDICATION_KEY) if session is not None else None
    fresh = isinstance(kept, list) and len(kept) == 2 and isinstance(kept[1], int)
    if fresh and 0 <= now - kept[1] < MEDICATION_CHECK_SECONDS:
        found = bool(kept[0])
    else:
        found = MedicationPlan.objects.filter(patient__portal_user=request.user).exists()
        if session is not None:
            session[MEDICATION_KEY] = [found, now]
    request._on_medication = found
    return found


# A dose request the prescriber answered stays under "Waiting for me" this long.
DOSE_ANSWER_SHOWN_DAYS = 14
MOST_DOSE_ANSWERS = 3


def medication_waiting(patient) -> list[Waiting]:
    """Dose requests the prescriber answered (agreed or not) in the last 14 days, newest first,
    with the answer: one query."""
    since = timezone.now() - datetime.timedelta(days=DOSE_ANSWER_SHOWN_DAYS)
    answered = (DoseRequest.objects.filter(
        plan__patient=patient, status__in=[RequestStatus.APPROVED, RequestStatus.DECLINED],
        answered_at__gte=since).order_by("-answered_at")[:MOST_DOSE_ANSWERS])
    today, found = timezone.localdate(), []
    for r in answered:
        day = "today" if r.from_day == today else f"{r.from_day.day} {r.from_day:%B}"
        found.append(Waiting(
            "dose", f"You asked for {mg(r.dose)} from {day}.", reverse("portal:medication"),
            "My medication", answer=r.answer,
            status="Your prescriber agreed" if r.status == RequestStatus.APPROVED
            else "Your prescriber did not agree"))
    return found
