"""Demo patients on each medicine, with histories.

Named stories (`build_stories`), told through the services that keep every dose rule
(`tandem.medication.doses`, `reviews`, `dispensing`), each on the day it happened: the
services' clock is set to that day (`clock`), so a plan started two years ago was checked
against the rules as they stood then, and its dose ledger is exactly what the services would
have written. The stories, one patient each, among the first patients in treatment:

- stable on methadone since the episode began (up to 3 years), its medication review overdue
  and what the patient wants next not talked about for over 12 months;
- setting their own buprenorphine dose: requests approved, one declined, and later applied at
  once (the portal account patient1, where the demo has them);
- coming down on methadone: a reduction the patient chose, with past steps, one pause and a
  resume, and a step still to come;
- missing doses: the pharmacy reported the last 3 days missed (the urgent flag);
- a prolonged-release buprenorphine injection, weekly and then monthly;
- alcohol medicines as records: acamprosate, and naltrexone.

Then, for scale (`bulk_plans`), patients in treatment whose recovery plan has opioid substitution
and a prescriber on their care team get a methadone plan written as set-based inserts, a
titration every step of which is checked with `core.dosing.refusals` as it is generated.

Tandem is not a prescribing system: these are medication plans a service agreed, for the demo.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import itertools
from decimal import Decimal
from unittest import mock

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import Role, User
from tandem.audit.actor import Actor
from tandem.bulk import adapter, insert_sql
from tandem.caseload import entries as caseload
from tandem.core import dosing
from tandem.medication import dispensing, doses, events, registry, reviews
from tandem.medication.models import (
    ChangeKind,
    ChangeSource,
    DoseChange,
    MedicationPlan,
    MedicationReview,
    PlanStatus,
    PlanVersion,
)
from tandem.monitoring import evaluate
from tandem.patients.models import CareTeamMember, Episode, EpisodeStatus
from tandem.planning.models import Goal, PlanAction

D = Decimal
NAMED_UNTIL = 150  # the stories go to patients among the first (the named demo keyworkers')
PHARMACIES = ("Canal Road Pharmacy", "Hill Street Pharmacy", "Northgate Chemist")


# --- the services' clock ---------------------------------------------------------------------


class _Clock:
    """`django.utils.timezone` as the medication services see it on one past day."""

    def __init__(self, day: datetime.date):
        self.day = day
        start = datetime.datetime.combine(day, datetime.time(10),
                                          tzinfo=timezone.get_current_timezone())
        ticks = itertools.count()
        self.now = lambda: start + datetime.timedelta(seconds=next(ticks))

    def localdate(self, value=None, timezone_=None):
        return self.day if value is None else timezone.localdate(value)

    def __getattr__(self, name):
        return getattr(timezone, name)


SERVICES = (doses, reviews, dispensing)


def _stamped_fields():
    """The medication models' fields stamped with the time a row is written."""
    from django.apps import apps

    return [field for model in apps.get_app_config("medication").get_models()
            for field in model._meta.concrete_fields if field.default is timezone.now]


@contextlib.contextmanager
def clock(day: datetime.date):
    """Run the medication services as on `day`: their today, and the times they stamp on what
    they write (made, asked, changed...), are that day's. The audit trail keeps its own clock:
    its events say when the demo wrote them."""
    fake = _Clock(day)
    fields = _stamped_fields()
    with contextlib.ExitStack() as stack:
        for module in SERVICES:
            stack.enter_context(mock.patch.object(module, "timezone", fake))
        for field in fields:
            field.default = fake.now
            field.__dict__.pop("_get_default", None)  # Django caches the default's getter
        try:
            yield
        finally:
            for field in fields:
                field.default = timezone.now
                field.__dict__.pop("_get_default", None)


SIGNALS = ("plan_changed", "dose_changed", "dose_requested", "request_answered", "review_held",
           "dispensing_recorded")


@contextlib.contextmanager
def quiet():
    """The medication events unsent while a history is written on past days (flags, caseload
    entries and messages are settled once, as of today, when it is done)."""
    with contextlib.ExitStack() as stack:
        for name in SIGNALS:
            stack.enter_context(mock.patch.object(getattr(events, name), "send",
                                                  lambda *args, **kwargs: []))
        yield


# --- one patient's story ---------------------------------------------------------------------


@dataclasses.dataclass
class Candidate:
    patient: object
    episode: Episode
    cards: frozenset
    number: int

    @property
    def age(self) -> int:
        return (timezone.localdate() - self.episode.start_date).days


class Story:
    """One patient's medication history, written step by step on the days it happened."""

    def __init__(self, candidate: Candidate, prescriber, keyworker):
        self.patient = candidate.patient
        self.episode = candidate.episode
        self.prescriber = Actor(user=prescriber, role=Role.PRESCRIBER, path="tandem demo")
        self.keyworker = Actor(user=keyworker, role=Role.PRACTITIONER, path="tandem demo")
        self.today = timezone.localdate()
        self.plan: MedicationPlan | None = None

    def day(self, offset_from: datetime.date, days: int) -> datetime.date:
        return offset_from + datetime.timedelta(days=days)

    def start(self, on, medicine, dose, reason, **terms) -> MedicationPlan:
        terms.setdefault("review_date", on + datetime.timedelta(days=84))
        with clock(on):
            self.plan = doses.start_plan(self.prescriber, self.episode, medicine,
                                         doses.Terms(**terms), D(dose), on, reason)
        return self.plan

    def change(self, on, reason, dose=None, **terms) -> MedicationPlan:
        self.plan.refresh_from_db()
        new = dataclasses.replace(doses.Terms.of(self.plan), **terms)
        with clock(on):
            self.plan = doses.change_plan(self.prescriber, self.plan, self.plan.version, new,
                                          reason, dose=None if dose is None else D(dose),
                                          from_day=on)
        return self.plan

    def stop(self, on, reason) -> None:
        self.plan.refresh_from_db()
        with clock(on):
            doses.stop_plan(self.prescriber, self.plan, self.plan.version, reason)

    def review(self, on, view, goal="stable", discussed=True, adequacy="right", use="",
               side_effects="", next_in=84, chosen_by="patient", notes=""):
        self.plan.refresh_from_db()
        with clock(on):
            reviews.hold(self.prescriber, self.plan, self.plan.version, held_on=on,
                         adequacy=adequacy, use_on_top=use, side_effects=side_effects,
                         patient_view=view, substance_goal=goal, goal_chosen_by=chosen_by,
                         goal_discussed=discussed,
                         next_review=on + datetime.timedelta(days=next_in), notes=notes)
        self.plan.refresh_from_db()

    def ask(self, on, dose, note=""):
        with clock(on):
            return doses.request_dose(self.keyworker, self.plan, D(dose), on, note,
                                      on_behalf=True)

    def approve(self, on, request):
        with clock(on):
            doses.approve(self.prescriber, request)

    def decline(self, on, request, answer):
        with clock(on):
            doses.decline(self.prescriber, request, answer)

    def titrate(self, start, steps, reason="Titrating: still some withdrawal by the evening."):
        """Methadone's first rises: (days after the start, dose), each a prescriber's change."""
        for days, dose in steps:
            self.change(self.day(start, days), reason, dose=dose)

    def dispensed(self, days: int, missed=(), pattern=None):
        """The pharmacy's reports for the last `days` days (today not yet reported): taken as
        the plan's supervised and take-home days fall in each week, missed on `missed` (days
        ago)."""
        self.plan.refresh_from_db()
        supervised = self.plan.supervised_days or 7
        rows = []
        for ago in range(days, 0, -1):
            day = self.today - datetime.timedelta(days=ago)
            if day < self.plan.started_on:
                continue
            status = "supervised" if day.weekday() < supervised else "home"
            if pattern:
                status = pattern(day) or status
            rows.append((day, "missed" if ago in missed else status))
        dispensing.record(self.keyworker, self.plan, rows, source="staff")


# The stories: (name, fewest days in treatment it needs, what it prefers).
STORIES = ("self-setting", "stable", "reducing", "injection", "missing", "acamprosate",
           "naltrexone")
NEEDS = {"stable": 200, "reducing": 160, "self-setting": 100, "injection": 110, "missing": 40,
         "acamprosate": 14, "naltrexone": 14}
# The first reason of each story's first plan: how a later run knows the story is told.
FIRST_REASON = {
    "stable": "Starting methadone: using heroin every day and wants to get settled.",
    "self-setting": "Starting buprenorphine after a week of planning together.",
    "reducing": "Starting methadone: wants to stop using on top and get stable first.",
    "missing": "Starting methadone after a few weeks on the waiting list.",
    "injection": "Starting the weekly buprenorphine injection: no daily trips to the pharmacy.",
    "acamprosate": "Acamprosate after a planned detox, to help stay off alcohol.",
    "naltrexone": "Naltrexone to help cut down drinking, taken each morning.",
}


def stable(s: Story, c: Candidate) -> None:
    """On methadone since the episode began; stable for a long time; reviews every 12 weeks
    until some months ago (the latest review is overdue), and what the patient wants next not
    talked about in the last 12 months."""
    t = s.today
    start = max(c.episode.start_date, t - datetime.timedelta(days=3 * 365))
    pharmacy = PHARMACIES[c.number % len(PHARMACIES)]
    s.start(start, "methadone", 30, FIRST_REASON["stable"], low=D(20), high=D(60),
            step_up_max=D(10), step_down_max=D(10), min_days_between=3,
            max_rise_7_days=D(30), pharmacy=pharmacy)
    s.titrate(start, [(3, 40), (7, 50), (10, 60)])
    s.change(s.day(start, 14), "Settling: the range widened to the usual maintenance doses; "
             "ECG done before going above 60 mg.", dose=70, low=D(40), high=D(100),
             last_ecg_on=s.day(start, 12))
    s.titrate(start, [(21, 80), (28, 85)], reason="A little more: still craving by the "
              "evening.")
    held = s.day(start, 84)
    first = True
    while held <= t - datetime.timedelta(days=120):
        discussed = held < t - datetime.timedelta(days=395)
        s.review(held, "The dose holds me all day. I want to keep things as they are for now."
                 if discussed else "Fine on this dose.", goal="stable", discussed=discussed,
                 use="None" if first else "", notes="" if discussed else
                 "Short review: no time to talk about what comes next.")
        if first and held + datetime.timedelta(days=14) <= t - datetime.timedelta(days=120):
            s.change(held + datetime.timedelta(days=14), "Doing well: two take-home days a "
                     "week.", supervised_days=5, take_home_days=2)
        first = False
        held += datetime.timedelta(days=84)
    s.dispensed(14)


def self_setting(s: Story, c: Candidate) -> None:
    """Buprenorphine; once settled, the patient sets their own dose between 8 and 16 mg: at
    first each request waits for the prescriber (approved, one declined), later they apply at
    once."""
    t = s.today
    start = t - datetime.timedelta(days=min(c.age, 150))
    s.start(start, "buprenorphine", 4, FIRST_REASON["self-setting"], low=D(2), high=D(16),
            step_up_max=D(4), step_down_max=D(4), min_days_between=1, max_rise_7_days=D(12),
            pharmacy=PHARMACIES[c.number % len(PHARMACIES)])
    s.titrate(start, [(1, 8), (3, 12)], reason="Building up: withdrawal eased at 8 mg, gone at "
              "12 mg.")
    s.change(s.day(start, 21), "Settled on 12 mg. Agreed they set their own dose between 8 and "
             "16 mg; each change waits for the prescriber to agree.", low=D(8), high=D(16),
             step_up_max=D(2), step_down_max=D(2), min_days_between=7, max_rise_7_days=D(4),
             self_setting=True, supervised_days=5, take_home_days=2)
    asked = s.ask(s.day(start, 30), 14, "Cravings in the afternoons.")
    s.approve(s.day(start, 31), asked)
    asked = s.ask(s.day(start, 38), 16, "Still some cravings.")
    s.decline(s.day(start, 39), asked, "Let's talk about the cravings at your review first: "
              "14 mg has only been a week.")
    asked = s.ask(s.day(start, 45), 12, "Feeling steadier; a bit drowsy in the mornings.")
    s.approve(s.day(start, 45), asked)
    s.change(s.day(start, 60), "Going well: requests within the limits now apply at once.",
             requests_apply_at_once=True)
    s.ask(s.day(start, 75), 14, "Busy weeks at the new job.")
    s.review(s.day(start, 84), "Setting my own dose makes me feel trusted. Happy where I am.",
             goal="stable", use="Cannabis now and then")
    s.ask(s.day(start, 95), 12)
    if s.day(start, 110) < t:
        s.ask(s.day(start, 110), 14, "Poor sleep this week.")
    s.dispensed(14)


def reducing(s: Story, c: Candidate) -> None:
    """Methadone for months, then a reduction the patient chose: 5 mg every 2 weeks down to
    40 mg; paused after a hard week and resumed; one step still to come."""
    t = s.today
    start = max(c.episode.start_date, t - datetime.timedelta(days=400))
    s.start(start, "methadone", 30, FIRST_REASON["reducing"], low=D(20), high=D(60),
            step_up_max=D(10), step_down_max=D(10), min_days_between=3,
            max_rise_7_days=D(30), pharmacy=PHARMACIES[c.number % len(PHARMACIES)])
    s.titrate(start, [(3, 40), (7, 50), (10, 60)])
    s.change(s.day(start, 14), "Settling on 70 mg: no more using on top.", dose=70, low=D(30),
             high=D(90))
    began = t - datetime.timedelta(days=70)
    held = s.day(start, 84)
    reviews_before = []
    while held <= began - datetime.timedelta(days=7):
        reviews_before.append(held)
        held += datetime.timedelta(days=84)
    for n, held in enumerate(reviews_before, start=1):
        last = n == len(reviews_before)
        s.review(held, "I'm ready to start coming down, slowly." if last else
                 "Stable, no using on top. Not ready to think about coming down yet.",
                 goal="reduce" if last else "stable")
    with clock(began):
        reduction = doses.plan_reduction(s.prescriber, s.plan, began, D(5), 14, D(40),
                                         "patient")
    with clock(began + datetime.timedelta(days=30)):
        doses.pause(s.prescriber, reduction, "A hard week at home: staying at 55 mg for now.")
    s.review(began + datetime.timedelta(days=40), "Pausing was right. I'll carry on in a "
             "couple of weeks.", goal="reduce", adequacy="right",
             notes="Reduction paused, not stopped: a pause is part of the plan.")
    with clock(began + datetime.timedelta(days=44)):
        doses.resume(s.keyworker, reduction)
    s.dispensed(14)


def missing(s: Story, c: Candidate) -> None:
    """Methadone, settled; the pharmacy reported the last 3 days missed."""
    t = s.today
    start = t - datetime.timedelta(days=min(c.age, 120))
    s.start(start, "methadone", 30, FIRST_REASON["missing"], low=D(20), high=D(80),
            step_up_max=D(10), step_down_max=D(10), min_days_between=3,
            max_rise_7_days=D(30), pharmacy=PHARMACIES[c.number % len(PHARMACIES)])
    s.titrate(start, [(3, 40), (7, 50), (10, 60)])
    if s.day(start, 84) <= t - datetime.timedelta(days=7):
        s.review(s.day(start, 84), "Things are hard at home at the moment.", goal="undecided",
                 adequacy="right", use="Heroin once or twice a week")
    s.dispensed(21, missed=(12, 3, 2, 1))


def injection(s: Story, c: Candidate) -> None:
    """The weekly buprenorphine injection, then, by the patient's choice, the monthly one."""
    t = s.today
    start = t - datetime.timedelta(days=min(c.age, 180))
    s.start(start, "buprenorphine-injection-weekly", 16, FIRST_REASON["injection"], low=D(8),
            high=D(32), step_up_max=D(8), step_down_max=D(8), min_days_between=7,
            max_rise_7_days=D(8), supervised_days=0, take_home_days=0)
    s.change(s.day(start, 7), "Some withdrawal the day before each injection.", dose=24)
    monthly = t - datetime.timedelta(days=63)
    if s.day(start, 84) <= monthly - datetime.timedelta(days=1):
        s.review(s.day(start, 84), "The injection suits me. I'd like it once a month.",
                 goal="stable")
    s.stop(monthly, "Moving to the monthly injection, their choice.")
    s.start(monthly, "buprenorphine-injection-monthly", 64, "The monthly injection, from the "
            "weekly 24 mg.", low=D(64), high=D(128), step_up_max=D(32), step_down_max=D(32),
            min_days_between=28, max_rise_7_days=D(32), supervised_days=0, take_home_days=0)
    s.change(monthly + datetime.timedelta(days=28), "Up to 96 mg a month, as planned from "
             "24 mg a week.", dose=96)
    s.review(t - datetime.timedelta(days=7), "Once a month is much easier with work.",
             goal="stable")


def acamprosate(s: Story, c: Candidate) -> None:
    t = s.today
    start = t - datetime.timedelta(days=min(c.age, 70))
    s.start(start, "acamprosate", 1998, FIRST_REASON["acamprosate"], low=D(1332),
            high=D(1998), step_up_max=D(666), step_down_max=D(666), min_days_between=1,
            max_rise_7_days=D(666), supervised_days=0, take_home_days=7,
            pharmacy=PHARMACIES[c.number % len(PHARMACIES)])


def naltrexone(s: Story, c: Candidate) -> None:
    t = s.today
    start = t - datetime.timedelta(days=min(c.age, 50))
    s.start(start, "naltrexone", 25, FIRST_REASON["naltrexone"], low=D(25), high=D(50),
            step_up_max=D(25), step_down_max=D(25), min_days_between=1, max_rise_7_days=D(25),
            supervised_days=0, take_home_days=7,
            pharmacy=PHARMACIES[c.number % len(PHARMACIES)])
    s.change(s.day(start, 3), "No sickness on 25 mg: the usual 50 mg from today.", dose=50)


TELL = {"stable": stable, "self-setting": self_setting, "reducing": reducing,
        "missing": missing, "injection": injection, "acamprosate": acamprosate,
        "naltrexone": naltrexone}


def _candidates(org, prefix: str) -> list[Candidate]:
    """Patients in treatment among the first demo patients, with no medication plan yet."""
    episodes = (Episode.objects.of(org).filter(
        status=EpisodeStatus.ACTIVE, patient__service_id__startswith=f"{prefix}-",
        patient__service_id__lte=f"{prefix}-{NAMED_UNTIL:06d}")
        .exclude(patient__medicationplans__isnull=False)
        .select_related("patient").order_by("patient__service_id", "-start_date"))
    found: dict = {}
    for episode in episodes:
        found.setdefault(episode.patient_id, episode)
    cards: dict = {}
    for patient_id, card in Goal.objects.filter(patient_id__in=list(found)).values_list(
            "patient_id", "card"):
        cards.setdefault(patient_id, set()).add(card)
    return [Candidate(e.patient, e, frozenset(cards.get(e.patient_id, ())),
                      int(e.patient.service_id.rsplit("-", 1)[1]))
            for e in found.values()]


def _choose(candidates: list[Candidate], wanted: list[str]) -> dict[str, Candidate]:
    """Which patient tells which story: the portal account patient1's record sets its own
    dose; the longest in treatment is the stable one; alcohol medicines go to patients with
    an alcohol goal where there are some."""
    free = list(candidates)
    chosen: dict[str, Candidate] = {}

    def take(name, pick):
        fits = [c for c in free if c.age >= NEEDS[name]]
        if fits:
            found = pick(fits)
            chosen[name] = found
            free.remove(found)

    oldest = lambda fits: max(fits, key=lambda c: (c.age, -c.number))  # noqa: E731
    for name in wanted:
        if name == "self-setting":
            take(name, lambda fits: next((c for c in fits if c.number == 2), fits[0]))
        elif name in ("stable", "reducing", "injection"):
            take(name, oldest)
        elif name in ("acamprosate", "naltrexone"):
            take(name, lambda fits: next((c for c in fits if "alcohol_use" in c.cards),
                                         fits[0]))
        else:
            take(name, lambda fits: next((c for c in fits if "drug_use" in c.cards), fits[0]))
    return chosen


def _keyworker(patient, fallback):
    member = (CareTeamMember.objects.filter(care_team__patient=patient, role="keyworker",
                                            user__isnull=False, end_date__isnull=True)
              .select_related("user").first())
    return member.user if member else fallback


def _on_care_team(patient, prescriber, since: datetime.date) -> None:
    team = patient.care_team
    if not team.members.filter(user=prescriber, end_date__isnull=True).exists():
        CareTeamMember.objects.create(organisation_id=patient.organisation_id, care_team=team,
                                      user=prescriber, role="prescriber", start_date=since)


def told(org) -> set[str]:
    """The stories already in this organisation's demo."""
    reasons = set(PlanVersion.objects.filter(
        plan__organisation=org, number=1, reason__in=list(FIRST_REASON.values()))
        .values_list("reason", flat=True))
    return {name for name, reason in FIRST_REASON.items() if reason in reasons}


def build_stories(org, prefix: str = "RRS") -> dict[str, object]:
    """Tell every story not yet told, each to a patient who fits it; {story: patient}."""
    wanted = [name for name in STORIES if name not in told(org)]
    if not wanted:
        return {}
    prescriber = User.objects.get(username="prescriber")
    fallback = User.objects.filter(username="keyworker").first() or prescriber
    chosen = _choose(_candidates(org, prefix), wanted)
    with quiet():
        for name, candidate in chosen.items():
            with transaction.atomic():
                _on_care_team(candidate.patient, prescriber, candidate.episode.start_date)
                story = Story(candidate, prescriber, _keyworker(candidate.patient, fallback))
                TELL[name](story, candidate)
    ids = [c.patient.pk for c in chosen.values()]
    if ids:  # flags and caseload entries as of today, once the histories are written
        caseload.refresh(ids)
        evaluate.evaluate_patients(org, ids)
    return {name: c.patient for name, c in chosen.items()}


# --- the bulk path -------------------------------------------------------------------------

PLAN_COLUMNS = ("id", "organisation_id", "patient_id", "episode_id", "medicine", "status",
                "started_on", "titrating_since", "low", "high", "step_up_max", "step_down_max",
                "min_days_between", "max_rise_7_days", "pharmacy", "supervised_days",
                "take_home_days", "review_date", "self_setting", "requests_apply_at_once",
                "above_usual_reason", "last_ecg_on", "created_by_id", "created_at",
                "updated_by_id", "updated_at", "version", "stopped_on")
VERSION_COLUMNS = ("plan_id", "number", "terms", "reason", "changed_by_id", "changed_at")
REVIEW_COLUMNS = ("id", "organisation_id", "plan_id", "held_on", "adequacy", "use_on_top",
                  "side_effects", "patient_view", "substance_goal", "goal_chosen_by",
                  "goal_discussed", "next_review", "notes", "held_by_id", "created_at")
DOSE_COLUMNS = ("plan_id", "day", "dose", "kind", "source", "plan_version", "reason",
                "made_by_id", "made_at", "request_id", "reduction_id", "cancelled_at")
# The bulk plans' terms and titration: 30 mg at the start, then up 10 mg at a time within the
# first two weeks' limits (at most 10 mg a day and 30 mg a week), to 60 mg.
BULK_TERMS = doses.Terms(low=D(20), high=D(90), step_up_max=D(10), step_down_max=D(10),
                         min_days_between=3, max_rise_7_days=D(30),
                         review_date=datetime.date(2000, 1, 1), supervised_days=6,
                         take_home_days=1)
BULK_STEPS = ((0, D(30), ChangeKind.START), (3, D(40), ChangeKind.CHANGE),
              (7, D(50), ChangeKind.CHANGE), (10, D(60), ChangeKind.CHANGE))
BULK_REASON = "Starting methadone, as the recovery plan says."
# A medication review is held every 12 weeks; the latest one set the review date.
REVIEW_EVERY = 84
CHUNK = 5000


def bulk_ledger(start: datetime.date, today: datetime.date) -> list[dosing.Change]:
    """A bulk plan's dose ledger up to today, every entry checked against those before it."""
    medicine = registry.get("methadone")
    limits = doses.limits_of(BULK_TERMS)
    ledger: list[dosing.Change] = []
    for days, dose, kind in BULK_STEPS:
        day = start + datetime.timedelta(days=days)
        if day > today:
            break
        change = dosing.Change(day, dose, kind)
        refused = dosing.refusals(ledger, change, limits, medicine, start)
        assert not refused, refused  # the steps above keep every rule
        ledger.append(change)
    return ledger


def _eligible(org):
    """(patient, episode, episode start, care plan review date) of patients in treatment whose
    recovery plan has opioid substitution, with a prescriber on their care team today, and no
    medication plan yet."""
    today = timezone.localdate()
    with_prescriber = CareTeamMember.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gt=today), role="prescriber",
        user__isnull=False, start_date__lte=today).values("care_team__patient_id")
    actions = (PlanAction.objects.of(org).filter(
        intervention="opioid-substitution", plan__status="active",
        plan__episode__status=EpisodeStatus.ACTIVE,
        plan__patient_id__in=with_prescriber)
        .exclude(plan__episode__medication_plans__isnull=False)
        .values_list("plan__patient_id", "plan__episode_id", "plan__episode__start_date",
                     "plan__review_date").order_by("plan__patient_id").distinct())
    return list(actions)


def _stamp(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)


def bulk_plans(org, prescriber_id: int) -> tuple[int, list]:
    """Methadone plans for the patients `_eligible` finds, as set-based inserts: the plan, its
    versions, its titration so far and its latest medication review, which set the review date
    (the care plan's: some are overdue, as in a real service). Returns the rows written and
    the patients given a plan."""
    import uuid

    today = timezone.localdate()
    plans, versions, ledger_rows, held = [], [], [], []
    for patient_id, episode_id, start, care_review in _eligible(org):
        plan_id = uuid.uuid4()
        review = min(care_review, today + datetime.timedelta(days=doses.REVIEW_AHEAD_DAYS))
        last = review - datetime.timedelta(days=REVIEW_EVERY)
        reviewed = start < last <= today
        first_review = review if not reviewed else start + datetime.timedelta(days=REVIEW_EVERY)
        number = 2 if reviewed else 1
        made = _stamp(start)
        plans.append((plan_id, org.pk, patient_id, episode_id, "methadone", PlanStatus.ACTIVE,
                      start, start, *_bulk_terms(review), prescriber_id, made, prescriber_id,
                      _stamp(last) if reviewed else made, number, None))
        versions.append((plan_id, 1, _plain_terms(first_review, start), BULK_REASON,
                         prescriber_id, made))
        if reviewed:
            versions.append((plan_id, 2, _plain_terms(review, start),
                             f"Medication review held on {dosing.day_text(last)}; next review "
                             f"by {dosing.day_text(review)}.", prescriber_id, _stamp(last)))
            held.append((uuid.uuid4(), org.pk, plan_id, last, "right", "", "",
                         "Settled on this dose; no using on top.", "stable", "patient", True,
                         review, "", prescriber_id, _stamp(last)))
        for change in bulk_ledger(start, today):
            ledger_rows.append((plan_id, change.day, change.dose, change.kind,
                                ChangeSource.PRESCRIBER, 1,
                                BULK_REASON if change.kind == ChangeKind.START else
                                "Titrating, as planned.", prescriber_id, _stamp(change.day),
                                None, None, None))
    with transaction.atomic(), connection.cursor() as cursor:
        for model, columns, rows in ((MedicationPlan, PLAN_COLUMNS, plans),
                                     (PlanVersion, VERSION_COLUMNS, versions),
                                     (DoseChange, DOSE_COLUMNS, ledger_rows),
                                     (MedicationReview, REVIEW_COLUMNS, held)):
            adapt = adapter(model, columns)
            sql = insert_sql(model, columns)
            for n in range(0, len(rows), CHUNK):
                cursor.executemany(sql, [adapt(row) for row in rows[n:n + CHUNK]])
    rows = len(plans) + len(versions) + len(ledger_rows) + len(held)
    return rows, [row[2] for row in plans]


def _bulk_terms(review: datetime.date) -> tuple:
    """The plan's term columns (PLAN_COLUMNS from "low" to "last_ecg_on")."""
    t = BULK_TERMS
    return (t.low, t.high, t.step_up_max, t.step_down_max, t.min_days_between,
            t.max_rise_7_days, t.pharmacy, t.supervised_days, t.take_home_days, review,
            t.self_setting, t.requests_apply_at_once, t.above_usual_reason, t.last_ecg_on)


def _plain_terms(review: datetime.date, start: datetime.date) -> dict:
    """A version's terms as the service writes them (doses._version)."""
    terms = dataclasses.replace(BULK_TERMS, review_date=review)
    plain = {name: doses._plain(getattr(terms, name)) for name in doses.TERMS}
    plain.update(medicine="methadone", status=PlanStatus.ACTIVE,
                 titrating_since=start.isoformat())
    return plain


def load(org, prescriber_id: int, prefix: str = "RRS", settle: bool = False) -> int:
    """The demo's medication: the named stories, then the bulk plans; the rows the bulk path
    wrote (the stories' rows are the services'). `settle`: bring the bulk patients' caseload
    entries and flags up to date here (the loader does it for a run that added patients)."""
    build_stories(org, prefix)
    rows, patient_ids = bulk_plans(org, prescriber_id)
    if settle and patient_ids:
        caseload.refresh(patient_ids)
        evaluate.evaluate_patients(org, patient_ids)
    return rows
