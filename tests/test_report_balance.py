"""The report's "balance" figures on small hand-built datasets, each answer worked out by hand
in a comment: goal kinds as at the period's end and whose choice, kind changes, and substitute
medication (time on it, reviews, reductions). People who must not count are in every dataset
(out of the period, another team under a team filter, another organisation). The whole section
runs in the same number of queries for 2 patients as for 6."""

from __future__ import annotations

import datetime
from decimal import Decimal as Dec

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.accounts.models import Organisation, Team
from tandem.core.report import Period, Value
from tandem.medication.models import MedicationPlan, MedicationReview, Reduction, ReductionEvent
from tandem.patients.models import Episode
from tandem.planning.models import Goal, GoalTypeChange
from tandem.reporting.figures import BY_KEY, balance
from tandem.reporting.scope import Scope
from tests.conftest import make_patient

D = datetime.date
PERIOD = Period(D(2024, 1, 1), D(2024, 6, 30))  # the world's own episodes start long after
EPISODE_START = D(2023, 11, 1)
GOAL_MADE = D(2024, 1, 5)


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=datetime.UTC)


def patient(org, team, sid, start=EPISODE_START, exit_date=None):
    """A patient whose only episode starts on `start` (ended on `exit_date` if given)."""
    p = make_patient(org, team, sid)
    Episode.objects.filter(patient=p).delete()
    Episode.objects.create(organisation=org, patient=p, start_date=start, setting="community",
                           status="finished" if exit_date else "active", exit_date=exit_date)
    return p


def goal(world, p, *, kind="", by="", created=GOAL_MADE, priority=1, card="drug_use",
         status="active", updated=None, changes=()):
    """A goal of the patient's episode; `changes`: (day, from, to, chosen by)."""
    user = world.users["practitioner"]
    g = Goal.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(), card=card,
        statement="In my words", proposed_by="patient", priority=priority, goal_type=kind,
        goal_type_chosen_by=by, lifecycle_status=status, created_by=user, updated_by=user,
        created_at=at(created), updated_at=at(updated or created))
    for day, before, after, chooser in changes:
        GoalTypeChange.objects.create(goal=g, changed_at=at(day), from_type=before, to_type=after,
                                      chosen_by=chooser, recorded_by=user)
    return g


def value(key, scope) -> Value:
    return BY_KEY[key].value(scope)


def drilled(key, scope) -> set:
    """The patient ids a figure drills to (one `patient_id` column, each patient once)."""
    rows = [row["patient_id"] for row in BY_KEY[key].patients(scope)]
    assert len(rows) == len(set(rows))
    return set(rows)


def other_org_team():
    org = Organisation.objects.get(name="Elsewhere Service")
    return org, Team.objects.get(organisation=org)


def test_goal_kinds_as_at_the_end_whose_choice_and_changes(world):
    org, a, b = world.org, world.team_a, world.team_b
    # A: a drug goal chosen "abstinence from all drugs" (patient) on 10 Jan, changed to
    # "working towards" (both together) on 1 Mar, to "controlled" (practitioner) in August,
    # after the period: at the end it is "working towards", chosen by both.
    pa = patient(org, a, "B-A")
    goal(world, pa, kind="controlled", by="practitioner", created=D(2024, 1, 10), changes=[
        (D(2024, 1, 10), "", "abstinence-all", "patient"),
        (D(2024, 3, 1), "abstinence-all", "working-towards", "both"),
        (D(2024, 8, 1), "working-towards", "controlled", "practitioner")])
    # B: reducing harm, the practitioner's choice, set without any change recorded.
    pb = patient(org, a, "B-B")
    goal(world, pb, kind="harm-reduction", by="practitioner", created=D(2024, 2, 1))
    # C: stabilising (priority 1, the patient's) and abstinence from the problem drug (priority
    # 2): the first by priority counts. A priority-0 goal made after the period does not.
    pc = patient(org, a, "B-C")
    goal(world, pc, kind="stabilising", by="patient", priority=1)
    goal(world, pc, kind="abstinence-problem", by="patient", priority=2, created=D(2024, 2, 1))
    goal(world, pc, kind="abstinence-all", by="patient", priority=0, created=D(2024, 7, 15))
    # D: a housing goal (no kind), an abstinence goal entered in error, and a controlled goal
    # cancelled on 1 May: not decided at the end.
    pd = patient(org, a, "B-D")
    goal(world, pd, card="housing")
    goal(world, pd, kind="abstinence-all", by="patient", status="entered-in-error")
    goal(world, pd, kind="controlled", by="patient", status="cancelled", updated=D(2024, 5, 1))
    # E: the kind was first chosen in September (from "not decided"): not decided at the end.
    pe = patient(org, a, "B-E")
    goal(world, pe, kind="abstinence-all", by="patient", changes=[
        (D(2024, 9, 1), "", "abstinence-all", "patient")])
    # F, team B: controlled use, the patient's choice, first chosen in the period (not a change).
    pf = patient(org, b, "B-F")
    goal(world, pf, kind="controlled", by="patient", changes=[
        (D(2024, 2, 1), "", "controlled", "patient")])
    # Not counted: G's episode ended before the period; H is another organisation's.
    pg = patient(org, a, "B-G", start=D(2023, 1, 1), exit_date=D(2023, 12, 1))
    goal(world, pg, kind="abstinence-all", by="patient", created=D(2023, 2, 1), changes=[
        (D(2024, 2, 1), "abstinence-all", "controlled", "patient")])
    other, other_team = other_org_team()
    ph = patient(other, other_team, "B-H")
    goal(world, ph, kind="abstinence-all", by="patient", changes=[
        (D(2024, 2, 1), "controlled", "abstinence-all", "patient")])

    everyone = Scope(org.pk, PERIOD)
    team_a = Scope(org.pk, PERIOD, teams=frozenset({a.pk}))
    # In treatment: A, B, C, D, E, F = 6. Kinds at the end: A working towards, B reducing harm,
    # C stabilising, D and E not decided, F controlled.
    assert value("goal-kind-working-towards", everyone) == Value(count=1, of=6)
    assert value("goal-kind-harm-reduction", everyone) == Value(count=1, of=6)
    assert value("goal-kind-stabilising", everyone) == Value(count=1, of=6)
    assert value("goal-kind-controlled", everyone) == Value(count=1, of=6)
    assert value("goal-kind-abstinence-all", everyone) == Value(count=0, of=6)
    assert value("goal-kind-abstinence-problem", everyone) == Value(count=0, of=6)
    assert value("goal-kind-undecided", everyone) == Value(count=2, of=6)
    assert drilled("goal-kind-undecided", everyone) == {pd.pk, pe.pk}
    assert drilled("goal-kind-stabilising", everyone) == {pc.pk}
    # Team A: A, B, C, D, E = 5; F (team B) is left out: controlled 0 of 5.
    assert value("goal-kind-controlled", team_a) == Value(count=0, of=5)
    assert value("goal-kind-undecided", team_a) == Value(count=2, of=5)
    # Whose choice, among the 4 with a kind: A both (counts), B practitioner (not), C patient,
    # F patient: 3 of 4. Team A: A, B, C: 2 of 3.
    assert value("goal-chosen-by-patient", everyone) == Value(count=3, of=4)
    assert drilled("goal-chosen-by-patient", everyone) == {pa.pk, pc.pk, pf.pk}
    assert value("goal-chosen-by-patient", team_a) == Value(count=2, of=3)
    # Changed in the period: A (1 Mar). Not F (a first choice), not E (September), not G (out
    # of the period), not H (another organisation): 1.
    assert value("goal-kind-changed", everyone) == Value(count=1)
    assert drilled("goal-kind-changed", everyone) == {pa.pk}
    # The period before (3 Jul to 31 Dec 2023): A-G were all in treatment (7); only G had a
    # goal by 31 Dec, abstinence from all drugs (what its 2024 change changed from): 1 of 7.
    before = everyone.for_period(PERIOD.previous())
    assert value("goal-kind-abstinence-all", before) == Value(count=1, of=7)


def plan(world, p, medicine="methadone", *, started, status="active", stopped=None):
    user = world.users["prescriber"]
    return MedicationPlan.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(), medicine=medicine,
        status=status, started_on=started, titrating_since=started, low=Dec(20), high=Dec(120),
        step_up_max=Dec(10), step_down_max=Dec(10), min_days_between=3,
        max_rise_7_days=Dec(30), review_date=started + datetime.timedelta(days=90),
        created_by=user, created_at=at(started), updated_at=at(stopped or started),
        stopped_on=stopped)


def review(world, pl, held, discussed=True):
    MedicationReview.objects.create(
        organisation=pl.organisation, plan=pl, held_on=held, adequacy="right",
        patient_view="Steady", substance_goal="stable", goal_chosen_by="patient",
        goal_discussed=discussed, next_review=held + datetime.timedelta(days=60),
        held_by=world.users["prescriber"])


def reduction(world, pl, started, status="active", events=()):
    user = world.users["prescriber"]
    r = Reduction.objects.create(plan=pl, started_on=started, step=Dec(5), every_days=14,
                                 target=Dec(20), chosen_by="patient", status=status,
                                 created_by=user)
    ReductionEvent.objects.create(reduction=r, kind="planned", on=started, by=user)
    for kind, day in events:
        ReductionEvent.objects.create(reduction=r, kind=kind, on=day, by=user)
    return r


def test_substitute_medication_time_reviews_and_reductions(world):
    org, a, b = world.org, world.team_a, world.team_b
    # M1: methadone since 31 Jan 2024; reviewed 30 Mar (3 months before 30 Jun exactly: counts),
    # goal discussed; a reduction from 1 Apr, paused on 10 May.
    m1 = patient(org, a, "M-1")
    p1 = plan(world, m1, started=D(2024, 1, 31))
    review(world, p1, D(2024, 3, 30))
    reduction(world, p1, D(2024, 4, 1), status="paused", events=[("paused", D(2024, 5, 10))])
    # M2: buprenorphine since 30 Jun 2023; reviewed 29 Mar 2024 (a day too early, goal not
    # discussed) and 30 Jun 2023 (12 months before the end exactly, goal discussed); a reduction
    # from 1 Oct 2023 that went back up on 1 Dec 2023 and finished on 1 Feb 2024.
    m2 = patient(org, a, "M-2")
    p2 = plan(world, m2, "buprenorphine", started=D(2023, 6, 30))
    review(world, p2, D(2024, 3, 29), discussed=False)
    review(world, p2, D(2023, 6, 30))
    reduction(world, p2, D(2023, 10, 1), status="finished",
              events=[("reversed", D(2023, 12, 1)), ("finished", D(2024, 2, 1))])
    # M3: methadone since 1 Jan 2023, stopped on 10 Jul 2024 (after the end: on it at the end);
    # no review; a reduction from 1 Jun that went back up on 20 Jun.
    m3 = patient(org, a, "M-3")
    p3 = plan(world, m3, started=D(2023, 1, 1), status="stopped", stopped=D(2024, 7, 10))
    reduction(world, p3, D(2024, 6, 1), status="stopped", events=[("reversed", D(2024, 6, 20))])
    # M4: the plan stopped on 1 May (its reduction stopped with it, no event): not on it at the
    # end, but reducing in the period, paused on 1 Feb.
    m4 = patient(org, a, "M-4")
    p4 = plan(world, m4, started=D(2023, 6, 1), status="stopped", stopped=D(2024, 5, 1))
    reduction(world, p4, D(2023, 12, 1), status="stopped", events=[("paused", D(2024, 2, 1))])
    # M5: naltrexone (not substitute medication); M6: methadone from 5 Jul 2024 (after).
    plan(world, patient(org, a, "M-5"), "naltrexone", started=D(2024, 1, 1))
    plan(world, patient(org, a, "M-6"), started=D(2024, 7, 5))
    # M7, team B: methadone from the period's last day (0 days).
    m7 = patient(org, b, "M-7")
    plan(world, m7, started=D(2024, 6, 30))
    # Not counted: M8's episode ended before the period (plan left current); M9 elsewhere.
    plan(world, patient(org, a, "M-8", start=D(2023, 1, 1), exit_date=D(2023, 11, 1)),
         started=D(2023, 2, 1))
    other, other_team = other_org_team()
    plan(world, patient(other, other_team, "M-9"), started=D(2024, 1, 1))

    everyone = Scope(org.pk, PERIOD)
    team_a = Scope(org.pk, PERIOD, teams=frozenset({a.pk}))
    # On it at the end: M1, M2, M3, M7 = 4 (team A: M1-M3 = 3).
    assert value("on-medication", everyone) == Value(count=4)
    assert drilled("on-medication", everyone) == {m1.pk, m2.pk, m3.pk, m7.pk}
    assert value("on-medication", team_a) == Value(count=3)
    # Days to 30 Jun 2024: M1 from 31 Jan = 29 (Feb, leap) + 31 + 30 + 31 + 30 = 151; M2 from
    # 30 Jun 2023 = 366; M3 from 1 Jan 2023 = 365 + 181 = 546; M7 0. Sorted 0, 151, 366, 546:
    # median (151 + 366) / 2 = 258.5 over 4. Team A: 151, 366, 546: 366 over 3.
    assert value("medication-days-on", everyone) == Value(value=258.5, people=4)
    assert value("medication-days-on", team_a) == Value(value=366, people=3)
    # Reviewed from 30 Mar 2024 to 30 Jun: M1 only: 1 of 4.
    assert value("medication-reviewed-3m", everyone) == Value(count=1, of=4)
    assert drilled("medication-reviewed-3m", everyone) == {m1.pk}
    # Goal discussed from 30 Jun 2023: M1 (30 Mar) and M2 (30 Jun 2023): 2 of 4.
    assert value("medication-goal-discussed-12m", everyone) == Value(count=2, of=4)
    assert drilled("medication-goal-discussed-12m", everyone) == {m1.pk, m2.pk}
    # Reducing at the end: M1 (paused), M3 (went back up; the plan still current); not M2
    # (finished 1 Feb), not M7: 2 of 4.
    assert value("medication-reducing", everyone) == Value(count=2, of=4)
    assert drilled("medication-reducing", everyone) == {m1.pk, m3.pk}
    # Reducing at some time in the period: M1, M2 (until 1 Feb), M3, M4 (until 1 May) = 4;
    # paused or back up in the period: M1 (10 May), M3 (20 Jun), M4 (1 Feb); M2's was in
    # December 2023: 3 of 4.
    assert value("reducing-paused-or-reversed", everyone) == Value(count=3, of=4)
    assert drilled("reducing-paused-or-reversed", everyone) == {m1.pk, m3.pk, m4.pk}
    assert value("reducing-paused-or-reversed", Scope(org.pk, PERIOD, teams=frozenset(
        {b.pk}))) == Value(count=0, of=0)


def _build(world, n: int) -> None:
    """n patients, each with a goal and its change, a plan, a review and a paused reduction."""
    for i in range(n):
        p = patient(world.org, world.team_a, f"Q-{n}-{i}")
        goal(world, p, kind="controlled", by="patient", changes=[
            (D(2024, 1, 10), "", "abstinence-all", "patient"),
            (D(2024, 3, 1), "abstinence-all", "controlled", "patient")])
        pl = plan(world, p, started=D(2024, 1, 1) + datetime.timedelta(days=i))
        review(world, pl, D(2024, 5, 1))
        reduction(world, pl, D(2024, 4, 1), status="paused", events=[("paused", D(2024, 5, 2))])


def _section_queries(scope: Scope) -> int:
    with CaptureQueriesContext(connection) as queries:
        for figure in balance.FIGURES:
            figure.value(scope)
            if figure.patients is not None:
                list(figure.patients(scope))
    return len(queries)


def test_the_section_takes_the_same_queries_for_2_or_6_patients(world):
    _build(world, 2)
    scope = Scope(world.org.pk, PERIOD)
    two = _section_queries(scope)
    assert value("on-medication", scope) == Value(count=2)
    _build(world, 4)
    six = _section_queries(scope)
    assert value("on-medication", scope) == Value(count=6)
    assert value("goal-kind-controlled", scope) == Value(count=6, of=6)
    # One query per figure (the median too: its middle rows are found in the database) and
    # one per drill-down, whatever the number of patients.
    drills = sum(f.patients is not None for f in balance.FIGURES)
    assert two == six == len(balance.FIGURES) + drills
