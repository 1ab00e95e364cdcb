"""The report's "dependence" figures on small hand-built datasets, each answer worked out by
hand in a comment: abstinent among those whose goal is abstinence, successful completions,
completions that did not come back within 6 months (the national indicator moved to a window
6 months back), and re-presentations. People who must not count are in every dataset (out of
the period, another team under a team filter, another organisation). The whole section runs
in the same number of queries for few patients as for more."""

from __future__ import annotations

import datetime

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.accounts.models import Organisation, Team
from tandem.assessment.models import Response
from tandem.core.report import Period, Value
from tandem.patients.models import Episode
from tandem.planning.models import Goal, GoalTypeChange
from tandem.reporting.figures import dependence
from tandem.reporting.scope import Scope
from tests.conftest import make_patient

D = datetime.date
GOAL_DAY = datetime.date(2025, 10, 5)
PERIOD = Period(D(2026, 1, 1), D(2026, 6, 30))
BY_KEY = {f.key: f for f in dependence.FIGURES}


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=datetime.UTC)


def patient(org, team, sid, *episodes):
    """A patient with these episodes: (start, exit date or None, exit reason), the last one
    open unless it has an exit date (then closed)."""
    p = make_patient(org, team, sid)
    Episode.objects.filter(patient=p).delete()
    for start, exit_date, reason in episodes:
        Episode.objects.create(organisation=org, patient=p, start_date=start,
                               setting="community", exit_date=exit_date, exit_reason=reason,
                               status="finished" if exit_date else "active")
    return p


def goal(world, p, kind, created=GOAL_DAY, changes=()):
    """A drug goal of the patient's latest episode; `changes`: (day, from, to)."""
    user = world.users["practitioner"]
    g = Goal.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.order_by("start_date").last(),
        card="drug_use", statement="In my words", proposed_by="patient", goal_type=kind,
        goal_type_chosen_by="patient", created_by=user, updated_by=user,
        created_at=at(created), updated_at=at(created))
    for day, before, after in changes:
        GoalTypeChange.objects.create(goal=g, changed_at=at(day), from_type=before, to_type=after,
                                      chosen_by="patient", recorded_by=user)
    return g


def top(p, on, **days):
    scores = {"alcohol_days": 0, "opioids_days": 0, "crack_days": 0, "cocaine_days": 0,
              "amphetamines_days": 0, "cannabis_days": 0, "other_days": 0, "tobacco_days": 0,
              **days}
    return Response.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.order_by("start_date").last(),
        instrument_code="top", instrument_version="1", status="completed", mode="self",
        completed_at=at(on), scores=scores)


def other_org_team():
    org = Organisation.objects.get(name="Elsewhere Service")
    return org, Team.objects.get(organisation=org)


def value(key, scope) -> Value:
    return BY_KEY[key].value(scope)


def drilled(key, scope) -> set:
    rows = [row["patient_id"] for row in BY_KEY[key].patients(scope)]
    assert len(rows) == len(set(rows))
    return set(rows)


def clear_world(world):
    """The world's own patients' episodes start 90 days before today (late 2026): out of
    every window here, but removed so no figure could see them."""
    Episode.objects.filter(patient__in=[world.p1, world.p2, world.p3, world.p_other]).delete()


OPEN = (D(2025, 10, 1), None, "")


def test_abstinent_among_those_whose_goal_is_abstinence(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    # A1: goal abstinence from all drugs; latest TOP (1 May) shows only tobacco: abstinent.
    a1 = patient(org, a, "A-1", OPEN)
    goal(world, a1, "abstinence-all")
    top(a1, D(2025, 10, 2), opioids_days=20)
    top(a1, D(2026, 5, 1), tobacco_days=20)
    # A2: "controlled" changed to abstinence from the problem drug on 1 Mar; latest TOP on or
    # before the end (1 Jun) shows 3 days of alcohol: not abstinent. A clean TOP in July, after
    # the end, does not count.
    a2 = patient(org, a, "A-2", OPEN)
    goal(world, a2, "controlled", changes=[(D(2025, 10, 5), "", "controlled"),
                                           (D(2026, 3, 1), "controlled", "abstinence-problem")])
    top(a2, D(2026, 6, 1), alcohol_days=3)
    top(a2, D(2026, 7, 5))
    # A3: abstinence until 10 July (after the end), then reducing harm: abstinence at the end;
    # latest TOP (1 Feb) clean: abstinent.
    a3 = patient(org, a, "A-3", OPEN)
    goal(world, a3, "harm-reduction", changes=[(D(2026, 7, 10), "abstinence-all",
                                                "harm-reduction")])
    top(a3, D(2026, 2, 1))
    # A4: abstinence goal, no TOP: not in the denominator. A5: reducing harm, clean TOP: not.
    a4 = patient(org, a, "A-4", OPEN)
    goal(world, a4, "abstinence-all")
    a5 = patient(org, a, "A-5", OPEN)
    goal(world, a5, "harm-reduction")
    top(a5, D(2026, 3, 1))
    # A6 (team B): abstinence, clean TOP: counts unless filtered to team A.
    a6 = patient(org, b, "A-6", OPEN)
    goal(world, a6, "abstinence-problem")
    top(a6, D(2026, 4, 1), tobacco_days=28)
    # Another organisation's patient: abstinence, clean TOP: never.
    o_org, o_team = other_org_team()
    o = patient(o_org, o_team, "A-O", OPEN)
    goal(world, o, "abstinence-all")
    top(o, D(2026, 4, 1))

    # Denominator A1, A2, A3, A6 = 4; abstinent A1, A3, A6 = 3 (75%).
    everyone = Scope(org.pk, PERIOD)
    assert value("abstinent-goal-abstinent", everyone) == Value(count=3, of=4)
    assert drilled("abstinent-goal-abstinent", everyone) == {a1.pk, a3.pk, a6.pk}
    # Team A: A1, A2, A3 = 3; abstinent A1, A3 = 2.
    team_a = Scope(org.pk, PERIOD, teams=frozenset({a.pk}))
    assert value("abstinent-goal-abstinent", team_a) == Value(count=2, of=3)
    assert drilled("abstinent-goal-abstinent", team_a) == {a1.pk, a3.pk}


def completions_dataset(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    # C1: completed free of problem use on 10 Feb 2026 (in the period).
    c1 = patient(org, a, "C-1", (D(2025, 1, 1), D(2026, 2, 10), "completed_free"))
    # C2: left treatment on 5 Mar 2026: not a successful completion.
    c2 = patient(org, a, "C-2", (D(2025, 11, 1), D(2026, 3, 5), "left"))
    # C3: completed 20 Dec 2025 (before the period), back on 20 Jun 2026 = exit + 6 months
    # exactly: a re-presentation in the period.
    c3 = patient(org, a, "C-3", (D(2025, 1, 1), D(2025, 12, 20), "completed_occasional"),
                 (D(2026, 6, 20), None, ""))
    # C4: completed 15 Sep 2025, back on 16 Mar 2026: one day more than 6 months: not a
    # re-presentation; for the national indicator, did not re-present.
    c4 = patient(org, a, "C-4", (D(2025, 1, 1), D(2025, 9, 15), "completed_free"),
                 (D(2026, 3, 16), None, ""))
    # C5: completed 31 Aug 2025; 6 months later is 28 Feb 2026 (February is shorter); back on
    # 28 Feb 2026: a re-presentation.
    c5 = patient(org, a, "C-5", (D(2025, 1, 1), D(2025, 8, 31), "completed_free"),
                 (D(2026, 2, 28), None, ""))
    # C6 (team B): completed 1 Apr 2026.
    c6 = patient(org, b, "C-6", (D(2025, 1, 1), D(2026, 4, 1), "completed_free"))
    # C7: completed 15 Jun 2025, before the indicator's window; never came back.
    patient(org, a, "C-7", (D(2025, 1, 1), D(2025, 6, 15), "completed_free"))
    # Another organisation: completed 1 Feb 2026, back 1 Mar 2026: never counted.
    o_org, o_team = other_org_team()
    patient(o_org, o_team, "C-O", (D(2025, 1, 1), D(2026, 2, 1), "completed_free"),
            (D(2026, 3, 1), None, ""))
    return c1, c2, c3, c4, c5, c6


def test_successful_completions(world):
    c1, _c2, _c3, _c4, _c5, c6 = completions_dataset(world)
    org = world.org
    # Exits in the period with a successful reason: C1 (10 Feb), C6 (1 Apr) = 2. C2 left; C3,
    # C4, C5, C7 completed before the period; the other organisation's is not ours.
    everyone = Scope(org.pk, PERIOD)
    assert value("successful-completions", everyone) == Value(count=2)
    assert drilled("successful-completions", everyone) == {c1.pk, c6.pk}
    team_a = Scope(org.pk, PERIOD, teams=frozenset({world.team_a.pk}))
    assert value("successful-completions", team_a) == Value(count=1)
    assert drilled("successful-completions", team_a) == {c1.pk}


def test_re_presentations(world):
    _c1, _c2, c3, _c4, c5, _c6 = completions_dataset(world)
    org = world.org
    # New episodes in the period: C3 (20 Jun, exit + 6 months to the day), C4 (16 Mar, one
    # day too late), C5 (28 Feb, the clamped 6 months): C3 and C5 = 2.
    everyone = Scope(org.pk, PERIOD)
    assert value("re-presentations", everyone) == Value(count=2)
    assert drilled("re-presentations", everyone) == {c3.pk, c5.pk}
    # Team B has nobody back.
    team_b = Scope(org.pk, PERIOD, teams=frozenset({world.team_b.pk}))
    assert value("re-presentations", team_b) == Value(count=0)
    # A period ending 19 Jun: C3's return is outside it; C5's is in.
    early = Scope(org.pk, Period(D(2026, 1, 1), D(2026, 6, 19)))
    assert drilled("re-presentations", early) == {c5.pk}


def test_completed_and_did_not_re_present(world):
    c1, c2, c3, c4, c5, c6 = completions_dataset(world)
    org = world.org
    # The window: the period moved 6 months back, 1 Jul 2025 to 30 Dec 2025.
    assert dependence.completion_window(PERIOD) == Period(D(2025, 7, 1), D(2025, 12, 30))
    # In treatment in the window: C1, C2, C3, C4, C5, C6 = 6 (C7 left on 15 Jun 2025).
    # Completed in the window: C3 (20 Dec, came back 20 Jun: re-presented), C4 (15 Sep, back
    # 16 Mar: not within 6 months), C5 (31 Aug, back 28 Feb: re-presented). Numerator: C4.
    everyone = Scope(org.pk, PERIOD)
    assert value("completed-not-representing", everyone) == Value(count=1, of=6)
    assert drilled("completed-not-representing", everyone) == {c4.pk}
    # Team B: only C6, who completed after the window: 0 of 1.
    team_b = Scope(org.pk, PERIOD, teams=frozenset({world.team_b.pk}))
    assert value("completed-not-representing", team_b) == Value(count=0, of=1)
    assert drilled("completed-not-representing", team_b) == set()
    # A year later (window 1 Jul 2026 to 30 Dec 2026, nobody completed): the patients in
    # treatment then are C3, C4 and C5's new episodes: 0 of 3.
    later = Scope(org.pk, Period(D(2027, 1, 1), D(2027, 6, 30)))
    assert value("completed-not-representing", later) == Value(count=0, of=3)
    assert c1 and c2 and c3 and c5 and c6


def section_queries(org) -> int:
    scope = Scope(org.pk, PERIOD)
    with CaptureQueriesContext(connection) as ctx:
        for figure in dependence.FIGURES:
            figure.value(scope)
            if figure.patients is not None:
                list(figure.patients(scope))
    return len(ctx.captured_queries)


def test_section_queries_do_not_grow_with_patients(world):
    clear_world(world)
    org, a = world.org, world.team_a

    def add(n, first):
        for i in range(first, first + n):
            p = patient(org, a, f"Q-{i}", (D(2025, 1, 1), D(2025, 9, 15), "completed_free"),
                        (D(2026, 2, 1), None, ""))
            goal(world, p, "abstinence-all")
            top(p, D(2026, 3, 1))

    add(2, 0)
    few = section_queries(org)
    add(6, 2)
    assert section_queries(org) == few
    # One query per value and one per drill-down list.
    assert few == 2 * len(dependence.FIGURES)
