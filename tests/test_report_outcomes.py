"""The report's outcomes figures, each pinned on a small hand-built dataset whose answer is
worked out by hand in the comment above its assertions.

The period is the first half of 2026. The world's own patients (p1, p2, p3) have episodes
from 90 days before today (December 2026 or later): not in treatment in the period, so they
never count; each dataset adds someone of the other organisation, or whose episode ended
before the period, who must not count either.
"""

import datetime
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.assessment import registry
from tandem.assessment.models import Response
from tandem.core.report import Kind, Period, Value
from tandem.patients.models import Episode
from tandem.planning.models import CarePlan, Goal, GoalRating, LifecycleStatus, Review
from tandem.reporting.figures import BY_KEY, outcomes
from tandem.reporting.scope import Scope
from tests.conftest import make_patient

D = datetime.date
PERIOD = Period(D(2026, 1, 1), D(2026, 6, 30))
START = D(2025, 10, 1)  # the episodes' usual start
SUBSTANCES = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis", "other")


# --- builders --------------------------------------------------------------------------------

class Builder:
    def __init__(self, world):
        self.world = world
        self.n = 0

    def patient(self, team=None, *, org=None, start=START, exit_date=None):
        """A patient with one episode (the world's default episode replaced)."""
        self.n += 1
        org = org or self.world.org
        if team is None:
            team = self.world.team_a if org == self.world.org else self.world.p_other.team
        patient = make_patient(org, team, f"OUT-{self.n}")
        patient.episodes.all().delete()
        patient.episode = Episode.objects.create(
            organisation=org, patient=patient, start_date=start, exit_date=exit_date,
            status="finished" if exit_date else "active", setting="community")
        return patient

    def response(self, patient, code, on, scores):
        return Response.objects.create(
            organisation=patient.organisation, patient=patient, episode=patient.episode,
            instrument_code=code, instrument_version="1", status="completed", mode="self",
            completed_at=datetime.datetime(on.year, on.month, on.day, 12, tzinfo=datetime.UTC),
            # The headline is the primary scale's score, as scoring stores it.
            scores=scores, headline=scores.get(registry.shipped()[code].primary.code))

    def top(self, patient, on, **days):
        scores = {f"{s}_days": 0 for s in SUBSTANCES}
        scores.update(tobacco_days=0, inject_days=0)
        scores.update({f"{s}_days": n for s, n in days.items()})
        return self.response(patient, "top", on, scores)

    def total(self, patient, code, on, total):
        return self.response(patient, code, on, {"total": total})

    def plan(self, patient):
        return CarePlan.objects.create(
            organisation=patient.organisation, patient=patient, episode=patient.episode,
            status="active", review_date=D(2026, 12, 1),
            updated_by=self.world.users["practitioner"])

    def goal(self, patient, statement, status=LifecycleStatus.ACTIVE):
        user = self.world.users["practitioner"]
        return Goal.objects.create(
            organisation=patient.organisation, patient=patient, episode=patient.episode,
            card="housing", statement=statement, proposed_by="patient",
            lifecycle_status=status, created_by=user, updated_by=user)

    def review(self, plan, held_on, t=None, ratings=()):
        review = Review.objects.create(
            organisation=plan.organisation, plan=plan, held_on=held_on,
            next_review=held_on + datetime.timedelta(days=90), t_score_patient=t,
            created_by=self.world.users["practitioner"])
        for goal, patient_level, practitioner_level in ratings:
            GoalRating.objects.create(review=review, goal=goal, patient_level=patient_level,
                                      practitioner_level=practitioner_level)
        return review


@pytest.fixture
def build(world):
    return Builder(world)


def value(key, scope):
    return BY_KEY[key].value(scope)


def drill(key, scope):
    """The patient ids behind a figure (each row is a dict of one column)."""
    return {next(iter(row.values())) for row in BY_KEY[key].patients(scope)}


# --- definitions -----------------------------------------------------------------------------

def test_every_outcome_figure_is_defined_in_one_line_each(world):
    keys = [f.key for f in outcomes.FIGURES]
    assert keys == [
        "days-of-use-change-alcohol", "days-of-use-change-opioids", "days-of-use-change-crack",
        "days-of-use-change-cocaine", "days-of-use-change-amphetamines",
        "days-of-use-change-cannabis", "abstinent-or-reliably-improved",
        "phq9-reliable-improvement", "phq9-reliable-deterioration",
        "gad7-reliable-improvement", "gad7-reliable-deterioration",
        "k10-reliable-improvement", "k10-reliable-deterioration", "life-domain-change",
        "goals-at-expected-level", "gas-t-patient-median", "gas-t-below-40", "gas-t-40-49",
        "gas-t-50-59", "gas-t-60-plus", "ratings-agree", "ratings-within-one"]
    for figure in outcomes.FIGURES:
        d = figure.definition
        assert d.section == "outcomes"
        for line in (d.label, d.who, d.dates, d.source):
            assert line and "\n" not in line, (d.key, line)
        assert d.drill == (figure.patients is not None), d.key
        assert BY_KEY[d.key] is figure
    # Days of use going down is better; the means have a unit.
    assert BY_KEY["days-of-use-change-opioids"].definition.higher_is_better is False
    assert BY_KEY["days-of-use-change-opioids"].definition.unit == "days"
    # The national thresholds could not be cited: the source says so plainly.
    assert "not found" in BY_KEY["abstinent-or-reliably-improved"].definition.source


def test_the_scores_read_from_the_headline_are_the_primary_scales():
    """The PHQ-9, GAD-7 and K10 totals and the life-domain overall are read from the response's
    headline (figures/pairs.py): each is its instrument's primary scale, which is what scoring
    stores as the headline."""
    shipped = registry.shipped()
    assert {code: shipped[code].primary.code for code, _ in outcomes.MOOD} == {
        "phq9": "total", "gad7": "total", "k10": "total"}
    assert shipped["life-domains"].primary.code == "overall"


def test_reliable_change_thresholds_come_from_the_instrument_files():
    # PHQ-9: 1.96 x sqrt(2) x 6.5 x sqrt(1 - 0.89) = 5.98; GAD-7: 1.96 x sqrt(2) x 5 x
    # sqrt(0.08) = 3.92 (the NHS Talking Therapies 6 and 4 points). K10's file has none: its SD
    # is the service's own, its reliability 0.80, so 1.96 x sqrt(2) x sqrt(0.20) = 1.24 x SD.
    assert outcomes.THRESHOLDS["phq9"][0] == pytest.approx(5.9756, abs=1e-4)
    assert outcomes.THRESHOLDS["gad7"][0] == pytest.approx(3.92, abs=1e-9)
    assert outcomes.THRESHOLDS["k10"][0] is None
    assert "5.98" in BY_KEY["phq9-reliable-improvement"].definition.source
    assert "3.92" in BY_KEY["gad7-reliable-deterioration"].definition.source
    k10 = BY_KEY["k10-reliable-improvement"].definition.source
    assert "A fall of more than 1.24 times the SD" in k10
    assert "the SD of the first K10 of every episode at the service so far" in k10
    assert "test-retest r 0.80" in k10 and "Australian Psychologist 2021;56(1):38-45" in k10
    assert "Not worked out until 50 episodes have a scored K10." in k10


# --- change in days of use -------------------------------------------------------------------

def test_days_of_use_change(world, build):
    a = build.patient()
    build.top(a, D(2025, 10, 2), opioids=20, alcohol=10)
    build.top(a, D(2026, 3, 1), opioids=8, alcohol=12)
    build.top(a, D(2026, 6, 20), opioids=2, alcohol=10)
    build.top(a, D(2026, 7, 15), opioids=28)  # after the period: not the latest
    b = build.patient(world.team_b, start=D(2026, 2, 1))
    build.top(b, D(2026, 2, 2), opioids=10)
    build.top(b, D(2026, 5, 1), opioids=14)
    c = build.patient()  # one TOP: no change to measure
    build.top(c, D(2026, 1, 5), opioids=25)
    d = build.patient()  # did not use opioids at the first TOP
    build.top(d, D(2026, 1, 5), opioids=0, crack=3)
    build.top(d, D(2026, 4, 5), opioids=5, crack=3)
    e = build.patient(org=world.other_org)  # other organisation
    build.top(e, D(2026, 1, 5), opioids=28)
    build.top(e, D(2026, 4, 5), opioids=0)
    f = build.patient(start=D(2025, 1, 1), exit_date=D(2025, 12, 1))  # ended before the period
    build.top(f, D(2025, 2, 1), opioids=28)
    build.top(f, D(2025, 11, 1), opioids=0)

    scope = Scope(world.org.pk, PERIOD)
    # Opioids: A 2 - 20 = -18 (latest on or before 30 June is 20 June); B 14 - 10 = +4.
    # C has one TOP, D did not use at first, E is elsewhere, F ended before: mean
    # (-18 + 4) / 2 = -7.0 over 2 people.
    assert value("days-of-use-change-opioids", scope) == Value(value=-7.0, people=2)
    # Alcohol: only A used it at first: 10 - 10 = 0 over 1.
    assert value("days-of-use-change-alcohol", scope) == Value(value=0.0, people=1)
    # Crack: D used 3 at first and 3 at the latest: 0 over 1. Cocaine: nobody.
    assert value("days-of-use-change-crack", scope) == Value(value=0.0, people=1)
    assert value("days-of-use-change-cocaine", scope) == Value(value=None, people=0)
    # Team B only: B, +4 over 1.
    team_b = Scope(world.org.pk, PERIOD, teams=frozenset({world.team_b.pk}))
    assert value("days-of-use-change-opioids", team_b) == Value(value=4.0, people=1)
    # Opiate group only (opioids at the first TOP): A and B, as above; D (crack only) is
    # non-opiate: its crack change of 0 over 1 is all that group has.
    opiate = Scope(world.org.pk, PERIOD, substance="opiate")
    assert value("days-of-use-change-opioids", opiate) == Value(value=-7.0, people=2)
    non_opiate = Scope(world.org.pk, PERIOD, substance="non-opiate")
    assert value("days-of-use-change-crack", non_opiate) == Value(value=0.0, people=1)
    assert value("days-of-use-change-opioids", non_opiate) == Value(value=None, people=0)
    # The period before (July to December 2025): A's latest TOP by 31 December is its first,
    # so A has no change; F was in treatment then: 0 - 28 = -28 over 1.
    assert value("days-of-use-change-opioids", scope.for_period(PERIOD.previous())) == Value(
        value=-28.0, people=1)


# --- abstinent or reliably improved ----------------------------------------------------------

def test_abstinent_or_reliably_improved(world, build):
    first, latest = D(2026, 1, 10), D(2026, 5, 10)
    p1 = build.patient()  # opioids 20 -> 0: abstinent
    build.top(p1, first, opioids=20)
    build.top(p1, latest, opioids=0)
    p2 = build.patient()  # opioids 20 -> 13: down 7, reliably improved (7 or more)
    build.top(p2, first, opioids=20)
    build.top(p2, latest, opioids=13)
    p3 = build.patient()  # opioids 20 -> 14: down 6 only
    build.top(p3, first, opioids=20)
    build.top(p3, latest, opioids=14)
    p4 = build.patient()  # crack 10 -> 0, but cannabis newly used (0 -> 5)
    build.top(p4, first, crack=10)
    build.top(p4, latest, crack=0, cannabis=5)
    p5 = build.patient()  # alcohol 12 -> 3 (down 9) and opioids 5 -> 0: both count
    build.top(p5, first, alcohol=12, opioids=5)
    build.top(p5, latest, alcohol=3, opioids=0)
    p6 = build.patient()  # tobacco only at first: not in the denominator
    build.top(p6, first)
    build.top(p6, latest)
    p7 = build.patient()  # one TOP: not in the denominator
    build.top(p7, first, opioids=20)
    p8 = build.patient(org=world.other_org)  # elsewhere
    build.top(p8, first, opioids=20)
    build.top(p8, latest, opioids=0)

    scope = Scope(world.org.pk, PERIOD)
    # Denominator: p1, p2, p3, p4, p5 (used something at the first of two TOPs) = 5.
    # Numerator: p1 (abstinent), p2 (down 7), p5 (down 9 and abstinent) = 3. 3 of 5 = 60%.
    got = value("abstinent-or-reliably-improved", scope)
    assert got == Value(count=3, of=5)
    assert got.shown(Kind.SHARE) == 60.0
    assert drill("abstinent-or-reliably-improved", scope) == {p1.pk, p2.pk, p5.pk}


# --- reliable change on PHQ-9, GAD-7 and K10 -------------------------------------------------

def test_phq9_and_gad7_reliable_change(world, build):
    q1 = build.patient()  # 20 -> 14: down 6, more than 5.98: improved
    build.total(q1, "phq9", D(2026, 1, 5), 20)
    build.total(q1, "phq9", D(2026, 4, 5), 14)
    q2 = build.patient()  # 20 -> 15: down 5, no reliable change
    build.total(q2, "phq9", D(2026, 1, 5), 20)
    build.total(q2, "phq9", D(2026, 4, 5), 15)
    q3 = build.patient()  # 8 -> 14: up 6: worse
    build.total(q3, "phq9", D(2026, 1, 5), 8)
    build.total(q3, "phq9", D(2026, 4, 5), 14)
    q4 = build.patient()  # 10 -> 16 by the period's end (4 in July does not count): worse
    build.total(q4, "phq9", D(2025, 11, 5), 10)
    build.total(q4, "phq9", D(2026, 6, 30), 16)
    build.total(q4, "phq9", D(2026, 7, 1), 4)
    q5 = build.patient()  # one PHQ-9
    build.total(q5, "phq9", D(2026, 1, 5), 27)
    q6 = build.patient(org=world.other_org)  # elsewhere
    build.total(q6, "phq9", D(2026, 1, 5), 27)
    build.total(q6, "phq9", D(2026, 4, 5), 0)
    # GAD-7: g1 15 -> 11 (down 4 > 3.92: improved), g2 15 -> 12 (down 3: no change).
    build.total(q1, "gad7", D(2026, 1, 5), 15)
    build.total(q1, "gad7", D(2026, 4, 5), 11)
    build.total(q2, "gad7", D(2026, 1, 5), 15)
    build.total(q2, "gad7", D(2026, 4, 5), 12)

    scope = Scope(world.org.pk, PERIOD)
    # PHQ-9 denominator q1, q2, q3, q4 = 4. Improved: q1 = 1 of 4; worse: q3, q4 = 2 of 4.
    assert value("phq9-reliable-improvement", scope) == Value(count=1, of=4)
    assert value("phq9-reliable-deterioration", scope) == Value(count=2, of=4)
    assert drill("phq9-reliable-improvement", scope) == {q1.pk}
    assert drill("phq9-reliable-deterioration", scope) == {q3.pk, q4.pk}
    # GAD-7: q1 improved of q1, q2: 1 of 2; nobody worse: 0 of 2.
    assert value("gad7-reliable-improvement", scope) == Value(count=1, of=2)
    assert value("gad7-reliable-deterioration", scope) == Value(count=0, of=2)
    assert drill("gad7-reliable-improvement", scope) == {q1.pk}


def k10_service(world, build):
    """K10s at the world's organisation whose first scored one in each episode, any team, any
    date, is 30 or 20, four of each; and two elsewhere. Returns k1, k2, k3, the three with a
    first and a latest K10 in the period's episode."""
    k1 = build.patient()  # 30 -> 22: down 8
    build.total(k1, "k10", D(2026, 1, 5), 30)
    build.total(k1, "k10", D(2026, 4, 5), 22)
    k2 = build.patient()  # 20 -> 14: down 6
    build.total(k2, "k10", D(2026, 1, 5), 20)
    build.total(k2, "k10", D(2026, 4, 5), 14)
    k3 = build.patient(world.team_b)  # 30 -> 38: up 8
    build.total(k3, "k10", D(2026, 1, 5), 30)
    build.total(k3, "k10", D(2026, 4, 5), 38)
    # Two episodes, both ended before the period: each one's first counts, 20 and 30 (the
    # later 50 is not a first).
    k4 = build.patient(start=D(2025, 1, 1), exit_date=D(2025, 12, 1))
    build.total(k4, "k10", D(2025, 2, 1), 30)
    build.total(k4, "k10", D(2025, 6, 1), 50)
    k4.episode = Episode.objects.create(
        organisation=world.org, patient=k4, start_date=D(2024, 1, 1),
        exit_date=D(2024, 12, 1), status="finished", setting="community")
    build.total(k4, "k10", D(2024, 2, 1), 20)
    k5 = build.patient()  # its only K10 after the period's end: still a first, 20
    build.total(k5, "k10", D(2026, 7, 10), 20)
    k7 = build.patient()  # one K10: a first, 20, and no pair
    build.total(k7, "k10", D(2026, 3, 1), 20)
    # A K10 without a score (a safety answer declined) is passed over for the next, 30.
    unscored = build.patient()
    build.response(unscored, "k10", D(2026, 1, 2), {"total": None})
    build.total(unscored, "k10", D(2026, 1, 3), 30)
    # Elsewhere: two firsts of 50 (not in the reference here) and a pair 50 -> 10.
    k6 = build.patient(org=world.other_org)
    build.total(k6, "k10", D(2026, 1, 5), 50)
    build.total(k6, "k10", D(2026, 4, 5), 10)
    k8 = build.patient(org=world.other_org)
    build.total(k8, "k10", D(2026, 1, 5), 50)
    return k1, k2, k3


def test_k10_reliable_change_uses_the_services_own_sd(world, build, monkeypatch):
    k1, k2, k3 = k10_service(world, build)
    scope = Scope(world.org.pk, PERIOD)
    monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", 8)

    # First scores 30, 20, 30, 20 (k4's two episodes), 30, 20 (k5), 20 (k7), 30 (unscored's
    # second): mean 25, each 5 away, sample variance 8 x 25 / 7 = 28.57, SD 5.3452. Smallest
    # reliable change 1.96 x sqrt(2) x 5.3452 x sqrt(1 - 0.80) = 6.6260.
    people, sd, points = outcomes.service_sd(world.org.pk, "k10")
    assert people == 8
    assert sd == pytest.approx(5.3452, abs=1e-4)
    assert points == pytest.approx(6.6260, abs=1e-4)
    # Pairs k1, k2, k3 = 3. k1 down 8 > 6.63 improved, k2 down 6 not: 1 of 3. k3 up 8 worse:
    # 1 of 3.
    assert value("k10-reliable-improvement", scope) == Value(count=1, of=3)
    assert value("k10-reliable-deterioration", scope) == Value(count=1, of=3)
    assert drill("k10-reliable-improvement", scope) == {k1.pk}
    assert drill("k10-reliable-deterioration", scope) == {k3.pk}
    assert {row["patient_id"] for row in BY_KEY["k10-reliable-improvement"].others(scope)} == {
        k2.pk, k3.pk}
    # Team B alone: only k3 is counted, but the SD is still the whole service's (k3's score
    # alone would be too few): k3 worse, 1 of 1.
    team_b = Scope(world.org.pk, PERIOD, teams=frozenset({world.team_b.pk}))
    assert value("k10-reliable-deterioration", team_b) == Value(count=1, of=1)
    assert value("k10-reliable-improvement", team_b) == Value(count=0, of=1)
    # The period before (4 July to 31 December 2025), with the same SD: the same yardstick in
    # both columns. Only k4 has two K10s by its end in an episode open then (1 January to
    # 1 December 2025): 30 -> 50, up 20, worse: 1 of 1.
    before = Scope(world.org.pk, PERIOD.previous())
    assert value("k10-reliable-deterioration", before) == Value(count=1, of=1)

    # Fewer first scores than the fewest: not worked out (not "nobody"), nobody listed.
    monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", 9)
    assert outcomes.service_sd(world.org.pk, "k10") == (8, pytest.approx(5.3452, abs=1e-4), None)
    assert value("k10-reliable-improvement", scope) == Value()
    assert value("k10-reliable-deterioration", team_b) == Value()
    assert drill("k10-reliable-improvement", scope) == set()
    # And elsewhere, the two firsts are both 50: an SD of 0 would make any change reliable, so
    # it is not worked out even when there are enough.
    monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", 2)
    elsewhere = Scope(world.other_org.pk, PERIOD)
    assert outcomes.service_sd(world.other_org.pk, "k10") == (2, 0.0, None)
    assert value("k10-reliable-improvement", elsewhere) == Value()


@pytest.mark.django_db(transaction=True)  # the export reads the database on its own connection
def test_k10_reliable_change_is_what_duckdb_works_out_too(world, build, monkeypatch, tmp_path):
    """The benchmark's independent DuckDB figures (bench/service_report_duckdb.py) agree on
    the K10, whose SD is the service's own: the demo has no K10s, so the benchmark alone would
    only compare "not worked out"."""
    duckdb = pytest.importorskip("duckdb")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        import service_report_duckdb as duck_figures
    finally:
        sys.path.pop(0)
    k10_service(world, build)
    duck = duckdb.connect()
    duck_figures.export(connection, str(tmp_path))
    duck_figures.load(duck, str(tmp_path))
    got = {}
    for fewest in (8, 9):  # worked out, and not
        monkeypatch.setattr(outcomes, "FEWEST_FIRST_SCORES", fewest)
        setup = duck_figures.setup(world.org.pk)
        for period in (PERIOD, PERIOD.previous()):
            theirs = duck_figures.figures(duck, setup, period)
            for way in ("improvement", "deterioration"):
                key = f"k10-reliable-{way}"
                assert value(key, Scope(world.org.pk, period)) == theirs[key], (key, period)
                got[key, fewest, period.start.year] = theirs[key]
    assert got["k10-reliable-improvement", 8, 2026] == Value(count=1, of=3)
    assert got["k10-reliable-deterioration", 8, 2026] == Value(count=1, of=3)
    assert got["k10-reliable-deterioration", 8, 2025] == Value(count=1, of=1)
    assert got["k10-reliable-improvement", 9, 2026] == Value()


# --- life-domain change ----------------------------------------------------------------------

def test_life_domain_change(world, build):
    l1 = build.patient()  # overall 4.0 -> 6.5: +2.5
    build.response(l1, "life-domains", D(2026, 1, 5), {"overall": 4.0, "housing": 2})
    build.response(l1, "life-domains", D(2026, 5, 5), {"overall": 6.5, "housing": 7})
    l2 = build.patient()  # 7.0 -> 6.0: -1.0
    build.response(l2, "life-domains", D(2026, 1, 5), {"overall": 7.0})
    build.response(l2, "life-domains", D(2026, 2, 5), {"overall": 6.0})
    l3 = build.patient()  # one rating
    build.response(l3, "life-domains", D(2026, 1, 5), {"overall": 1.0})
    l4 = build.patient(start=D(2025, 1, 1), exit_date=D(2025, 12, 31))  # ended before
    build.response(l4, "life-domains", D(2025, 1, 5), {"overall": 0.0})
    build.response(l4, "life-domains", D(2025, 12, 5), {"overall": 10.0})
    # Mean of +2.5 and -1.0 = 0.75 over 2 people.
    assert value("life-domain-change", Scope(world.org.pk, PERIOD)) == Value(
        value=0.75, people=2)


# --- patient-defined success -----------------------------------------------------------------

@pytest.fixture
def rated(world, build):
    """Goals rated at reviews, and each patient's GAS T-scores (see the tests' comments)."""
    r1, r2, r3, r4 = (build.patient() for _ in range(4))
    gone = build.patient(start=D(2025, 1, 1), exit_date=D(2025, 11, 30))
    other = build.patient(org=world.other_org)
    g1, g2, g3 = (build.goal(r1, s) for s in ("Get my own flat", "Sleep better",
                                             "See my daughter"))
    g4 = build.goal(r2, "Back to work")
    g5 = build.goal(r2, "Typed twice", LifecycleStatus.ENTERED_IN_ERROR)
    g6 = build.goal(r3, "Cut down drinking")
    plan1, plan2, plan3, plan4 = (build.plan(p) for p in (r1, r2, r3, r4))
    # r1: February, May (the latest in the period) and August (after it).
    build.review(plan1, D(2026, 2, 1), t=40.0, ratings=[(g1, -1, -1), (g2, -2, 0)])
    build.review(plan1, D(2026, 5, 1), t=47.0, ratings=[(g1, 0, -1), (g2, -1, 1),
                                                        (g3, None, 0)])
    build.review(plan1, D(2026, 8, 1), t=30.0, ratings=[(g1, -2, -2)])
    # r2: December 2025 (before the period) and March; the goal entered in error never counts.
    build.review(plan2, D(2025, 12, 1), t=70.0, ratings=[(g4, 2, 2)])
    build.review(plan2, D(2026, 3, 1), t=60.0, ratings=[(g4, 1, 1), (g5, -2, 2)])
    # r3: the patient did not rate (no patient level, no patient T-score).
    build.review(plan3, D(2026, 4, 1), t=None, ratings=[(g6, None, 0)])
    # r4: on the period's last day.
    build.review(plan4, D(2026, 6, 30), t=35.0)
    # Not in treatment, and elsewhere: T-scores 52 and 55 must not count.
    build.review(build.plan(gone), D(2026, 2, 1), t=52.0,
                 ratings=[(build.goal(gone, "Keep well"), 2, 2)])
    build.review(build.plan(other), D(2026, 2, 1), t=55.0,
                 ratings=[(build.goal(other, "Keep well"), 2, 2)])
    return r1, r2, r3, r4


def test_goals_at_expected_level(world, rated):
    r1, r2, _, _ = rated
    scope = Scope(world.org.pk, PERIOD)
    # Each goal's latest patient rating in the period: g1 0 (May) yes, g2 -1 (May) no, g4 +1
    # (March) yes. g3 and g6 the patient did not rate; g5 was entered in error; August and
    # December 2025 are outside the period. 2 of 3 goals.
    assert value("goals-at-expected-level", scope) == Value(count=2, of=3)
    assert BY_KEY["goals-at-expected-level"].patients is None  # goals, not patients


def test_ratings_agree(world, rated):
    scope = Scope(world.org.pk, PERIOD)
    # Goals rated by both, latest in the period: g1 (0, -1) one apart, g2 (-1, +1) two apart,
    # g4 (+1, +1) the same. Same: 1 of 3; within one level: g1 and g4, 2 of 3.
    assert value("ratings-agree", scope) == Value(count=1, of=3)
    assert value("ratings-within-one", scope) == Value(count=2, of=3)


def test_two_reviews_on_one_day_the_later_review_id_is_the_latest(world, build):
    # Two reviews of one plan on 1 May rate the goal: the one whose id sorts last is the
    # latest (as for T-scores: by date, then the review). Its levels (-2 by the patient, +2 by
    # the practitioner) decide, whichever review was saved first; ids are random (UUIDs), so
    # the expected answer is worked out from them.
    p = build.patient()
    goal = build.goal(p, "Keep my tenancy")
    plan = build.plan(p)
    first = build.review(plan, D(2026, 5, 1), ratings=[(goal, -2, 2)])
    second = build.review(plan, D(2026, 5, 1), ratings=[(goal, 1, 1)])
    later = max((first, second), key=lambda r: r.pk.hex)
    scope = Scope(world.org.pk, PERIOD)
    if later is first:  # patient -2: below the expected level; 4 levels apart
        assert value("goals-at-expected-level", scope) == Value(count=0, of=1)
        assert value("ratings-within-one", scope) == Value(count=0, of=1)
    else:  # patient +1: above it; the same level
        assert value("goals-at-expected-level", scope) == Value(count=1, of=1)
        assert value("ratings-agree", scope) == Value(count=1, of=1)


@pytest.mark.parametrize("levels", [(-2, 2), (2, -2), (0, 0), (-1, None), (None, -2)])
def test_the_latest_levels_come_back_whatever_their_sign(world, build, levels):
    # A rating in February and the latest in May with `levels` (patient, practitioner).
    p = build.patient()
    goal = build.goal(p, "Eat every day")
    plan = build.plan(p)
    build.review(plan, D(2026, 2, 1), ratings=[(goal, 0, 0)])
    build.review(plan, D(2026, 5, 1), ratings=[(goal, *levels)])
    scope = Scope(world.org.pk, PERIOD)
    mine, theirs = levels
    # The patient's latest level: May's, or February's 0 when May's is blank.
    level = 0 if mine is None else mine
    assert value("goals-at-expected-level", scope) == Value(count=int(level >= 0), of=1)
    # Both rated: May's when both are there, else February's (0, 0).
    gap = 0 if mine is None or theirs is None else abs(mine - theirs)
    assert value("ratings-agree", scope) == Value(count=int(gap == 0), of=1)


def test_gas_t_median_and_bands(world, rated):
    r1, r2, _, r4 = rated
    scope = Scope(world.org.pk, PERIOD)
    # Latest patient T-score in the period: r1 47 (May, not August's 30), r2 60 (March, not
    # December's 70), r4 35; r3 has none. Sorted 35, 47, 60: the median is 47 over 3.
    assert value("gas-t-patient-median", scope) == Value(value=47.0, people=3)
    # Bands: below 40 r4; 40-49 r1; 50-59 nobody (52 and 55 are not in scope); 60+ r2 (60 is
    # the band's lower edge).
    assert value("gas-t-below-40", scope) == Value(count=1)
    assert value("gas-t-40-49", scope) == Value(count=1)
    assert value("gas-t-50-59", scope) == Value(count=0)
    assert value("gas-t-60-plus", scope) == Value(count=1)
    assert drill("gas-t-below-40", scope) == {r4.pk}
    assert drill("gas-t-40-49", scope) == {r1.pk}
    assert drill("gas-t-60-plus", scope) == {r2.pk}


# --- the section's queries do not grow with the patients -------------------------------------

def _fill(build, n):
    for i in range(n):
        p = build.patient()
        build.top(p, D(2026, 1, 5), opioids=20, alcohol=5, crack=i % 3)
        build.top(p, D(2026, 5, 5), opioids=i % 10, alcohol=0)
        for code, before, after in (("phq9", 20, 10 + i % 9), ("gad7", 15, 10),
                                    ("k10", 30, 20)):
            build.total(p, code, D(2026, 1, 6), before)
            build.total(p, code, D(2026, 5, 6), after)
        build.response(p, "life-domains", D(2026, 1, 7), {"overall": 4.0})
        build.response(p, "life-domains", D(2026, 5, 7), {"overall": 5.0 + i % 3})
        goal = build.goal(p, "Something of my own")
        build.review(build.plan(p), D(2026, 4, 1), t=40.0 + 3 * i,
                     ratings=[(goal, i % 5 - 2, 0)])


def _section_queries(scope) -> int:
    with CaptureQueriesContext(connection) as queries:
        for figure in outcomes.FIGURES:
            figure.value(scope)
            if figure.patients:
                list(figure.patients(scope))
    return len(queries)


def test_section_queries_do_not_grow_with_patients(world, build):
    scope = Scope(world.org.pk, PERIOD)
    _fill(build, 2)
    few = _section_queries(scope)
    _fill(build, 8)
    many = _section_queries(scope)
    assert few == many
    # At most two queries per figure and one per list of patients.
    figures = len(outcomes.FIGURES)
    drills = sum(1 for f in outcomes.FIGURES if f.patients)
    assert many <= 2 * figures + drills
    # And the figures did see all ten patients.
    assert value("days-of-use-change-opioids", scope).people == 10
