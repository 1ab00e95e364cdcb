"""The report's "reviews" figures on small hand-built datasets, each answer worked out by hand
in a comment: care-plan reviews by their date, medication reviews overdue (the drill-down a
team lead follows), check-ups on schedule in treatment and after it, and flags acknowledged
within their target. People who must not count are in every dataset (out of the period,
another team under a team filter, another organisation). The whole section runs in the same
number of queries for few patients as for more."""

from __future__ import annotations

import datetime
from decimal import Decimal as Dec

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.accounts.models import Organisation, Team
from tandem.assessment.models import CheckupSchedule, Response
from tandem.core.report import Period, Value
from tandem.medication.models import MedicationPlan, MedicationReview
from tandem.monitoring.models import Flag
from tandem.patients.models import Episode
from tandem.planning.models import CarePlan, Review
from tandem.reporting.figures import reviews
from tandem.reporting.scope import Scope
from tests.conftest import make_patient

D = datetime.date
PERIOD = Period(D(2026, 1, 1), D(2026, 6, 30))
BY_KEY = {f.key: f for f in reviews.FIGURES}
EPISODE_START = D(2025, 9, 1)


def at(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    """A moment in UTC (London is UTC in winter, UTC+1 from 29 March to 25 October 2026)."""
    return datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=datetime.UTC)


def patient(org, team, sid, start=EPISODE_START, exit_date=None, status="active", closed=None):
    """A patient whose only episode starts on `start`."""
    p = make_patient(org, team, sid)
    Episode.objects.filter(patient=p).delete()
    Episode.objects.create(organisation=org, patient=p, start_date=start, setting="community",
                           status=status, exit_date=exit_date,
                           exit_reason="completed_free" if exit_date else "",
                           closed_date=closed)
    return p


def other_org_team():
    org = Organisation.objects.get(name="Elsewhere Service")
    return org, Team.objects.get(organisation=org)


def clear_world(world):
    """The world's own patients start 90 days before today (late 2026): removed so no figure
    could see them."""
    Episode.objects.filter(patient__in=[world.p1, world.p2, world.p3, world.p_other]).delete()


def value(key, scope) -> Value:
    return BY_KEY[key].value(scope)


def drilled(key, scope) -> set:
    rows = [row["patient_id"] for row in BY_KEY[key].patients(scope)]
    assert len(rows) == len(set(rows))
    return set(rows)


def team_scope(world, team) -> Scope:
    return Scope(world.org.pk, PERIOD, teams=frozenset({team.pk}))


# --- medication reviews overdue ----------------------------------------------------------


def med_plan(world, p, *, started, status="active", stopped=None, medicine="methadone"):
    user = world.users["prescriber"]
    return MedicationPlan.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(), medicine=medicine,
        status=status, started_on=started, titrating_since=started, low=Dec(20), high=Dec(120),
        step_up_max=Dec(10), step_down_max=Dec(10), min_days_between=3,
        max_rise_7_days=Dec(30), review_date=started + datetime.timedelta(days=90),
        created_by=user, created_at=at(started), updated_at=at(stopped or started),
        stopped_on=stopped)


def med_review(world, plan, held):
    MedicationReview.objects.create(
        organisation=plan.organisation, plan=plan, held_on=held, adequacy="right",
        patient_view="Steady", substance_goal="stable", goal_chosen_by="patient",
        next_review=held + datetime.timedelta(days=60), held_by=world.users["prescriber"])


def test_medication_review_overdue_and_its_patients(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    # The end is 30 Jun 2026; 3 months before it is 30 Mar 2026. Overdue: the last review (or
    # the plan's start) before 30 Mar.
    # M1: last review on or before the end 29 Mar (one held 2 Jul is after the end): overdue.
    m1 = patient(org, a, "M-1")
    plan = med_plan(world, m1, started=D(2025, 10, 1))
    med_review(world, plan, D(2026, 3, 29))
    med_review(world, plan, D(2026, 7, 2))
    # M2: reviewed 30 Mar, exactly 3 months: not overdue.
    m2 = patient(org, a, "M-2")
    med_review(world, med_plan(world, m2, started=D(2025, 10, 1)), D(2026, 3, 30))
    # M3: started 15 Apr, no review yet: not overdue. M4: started 1 Nov 2025, none: overdue.
    m3 = patient(org, a, "M-3")
    med_plan(world, m3, started=D(2026, 4, 15))
    m4 = patient(org, a, "M-4")
    med_plan(world, m4, started=D(2025, 11, 1))
    # M5: plan stopped on 1 May: not on medication at the end.
    m5 = patient(org, a, "M-5")
    med_plan(world, m5, started=D(2025, 10, 1), status="stopped", stopped=D(2026, 5, 1))
    # M6 (team B): started 1 Oct 2025, no review: overdue, unless filtered to team A.
    m6 = patient(org, b, "M-6")
    med_plan(world, m6, started=D(2025, 10, 1))
    # Another organisation's overdue plan: never.
    o_org, o_team = other_org_team()
    o = patient(o_org, o_team, "M-O")
    med_plan(world, o, started=D(2025, 10, 1))

    # Overdue: M1, M4, M6 = 3; team A: M1, M4 = 2. The drill-down lists exactly those.
    everyone = Scope(org.pk, PERIOD)
    assert value("medication-review-overdue", everyone) == Value(count=3)
    assert drilled("medication-review-overdue", everyone) == {m1.pk, m4.pk, m6.pk}
    assert value("medication-review-overdue", team_scope(world, a)) == Value(count=2)
    assert drilled("medication-review-overdue", team_scope(world, a)) == {m1.pk, m4.pk}
    assert not {m2.pk, m3.pk, m5.pk} & drilled("medication-review-overdue", everyone)


# --- care-plan reviews by their date ------------------------------------------------------


def care_plan(world, p, review_date, status="active", updated=None):
    user = world.users["practitioner"]
    return CarePlan.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(), status=status,
        review_date=review_date, updated_by=user, created_at=at(D(2025, 9, 2)),
        updated_at=at(updated or D(2025, 9, 2)))


def plan_review(world, plan, held, next_review):
    Review.objects.create(organisation=plan.organisation, plan=plan, held_on=held,
                          next_review=next_review, created_by=world.users["practitioner"])


def test_plans_reviewed_by_their_date(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    # P1: reviews on 1 Dec 2025 (next: 1 Mar), 20 Feb (next: 20 May), 1 Jun (next: 1 Sep).
    # Dates in the period: 1 Mar, met by the review of 20 Feb; 20 May, not met (1 Jun late).
    p1 = patient(org, a, "P-1")
    plan = care_plan(world, p1, D(2026, 9, 1))
    plan_review(world, plan, D(2025, 12, 1), D(2026, 3, 1))
    plan_review(world, plan, D(2026, 2, 20), D(2026, 5, 20))
    plan_review(world, plan, D(2026, 6, 1), D(2026, 9, 1))
    # P2: never reviewed, review date 10 Apr: due, not met. P3: never reviewed, due 1 Aug:
    # after the period.
    care_plan(world, patient(org, a, "P-2"), D(2026, 4, 10))
    care_plan(world, patient(org, a, "P-3"), D(2026, 8, 1))
    # P4: its review of 1 Nov set 1 Feb, but the plan was completed on 15 Jan: not due.
    p4 = patient(org, a, "P-4")
    plan4 = care_plan(world, p4, D(2026, 2, 1), status="completed", updated=D(2026, 1, 15))
    plan_review(world, plan4, D(2025, 11, 1), D(2026, 2, 1))
    # P5 (team B): review of 10 Jan set 10 Apr; held 1 Apr: met.
    p5 = patient(org, b, "P-5")
    plan5 = care_plan(world, p5, D(2026, 7, 1))
    plan_review(world, plan5, D(2026, 1, 10), D(2026, 4, 10))
    plan_review(world, plan5, D(2026, 4, 1), D(2026, 7, 1))
    # Another organisation's plan, never reviewed, due 1 Mar: never counted.
    o_org, o_team = other_org_team()
    care_plan(world, patient(o_org, o_team, "P-O"), D(2026, 3, 1))

    # Due: P1 1 Mar and 20 May, P2 10 Apr, P5 10 Apr = 4; met: P1 1 Mar, P5 10 Apr = 2 (50%).
    assert value("plans-reviewed-on-time", Scope(org.pk, PERIOD)) == Value(count=2, of=4)
    # Team A: P1 ×2, P2 = 3; met 1.
    assert value("plans-reviewed-on-time", team_scope(world, a)) == Value(count=1, of=3)


# --- check-ups ------------------------------------------------------------------------------


def checkup(p, code, on, status="completed"):
    return Response.objects.create(
        organisation=p.organisation, patient=p, episode=p.episodes.get(), instrument_code=code,
        instrument_version="1", status=status, mode="self",
        completed_at=at(on) if status == "completed" else None, scores={})


def test_checkups_on_schedule(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    # The service's default interval is 12 weeks. End 30 Jun: in treatment since 7 Apr or
    # earlier (84 days), and a check-up on or after 24 Mar (84 + 14 days of grace).
    # K1: PHQ-9 on 24 Mar exactly: on schedule.
    k1 = patient(org, a, "K-1")
    checkup(k1, "phq9", D(2026, 3, 24))
    # K2: TOP on 23 Mar, one day too early; a K10 on 1 Jun is not in the service's check-up;
    # a TOP started 1 Jun is not finished: not on schedule.
    k2 = patient(org, a, "K-2")
    checkup(k2, "top", D(2026, 3, 23))
    checkup(k2, "k10", D(2026, 6, 1))
    checkup(k2, "top", D(2026, 6, 1), status="in-progress")
    # K3: started 8 Apr, not yet one interval: not counted.
    checkup(patient(org, a, "K-3", start=D(2026, 4, 8)), "top", D(2026, 4, 8))
    # K4: their own interval is 4 weeks: a check-up on or after 19 May was needed (2 Jun less
    # 14 days); GAD-7 on 1 Apr: not on schedule.
    k4 = patient(org, a, "K-4")
    CheckupSchedule.objects.update_or_create(patient=k4, defaults={
        "organisation": org, "interval_weeks": 4})
    checkup(k4, "gad7", D(2026, 4, 1))
    # K5: left treatment on 15 Jun, in post-exit monitoring at the end: not counted.
    k5 = patient(org, a, "K-5", exit_date=D(2026, 6, 15), status="post-exit-monitoring")
    checkup(k5, "top", D(2026, 6, 15))
    # K6 (team B): TOP on 1 Jun: on schedule.
    k6 = patient(org, b, "K-6")
    checkup(k6, "top", D(2026, 6, 1))
    # Another organisation: on schedule, never counted.
    o_org, o_team = other_org_team()
    checkup(patient(o_org, o_team, "K-O"), "top", D(2026, 6, 1))

    # Denominator K1, K2, K4, K6 = 4; on schedule K1, K6 = 2. Team A: K1, K2, K4 = 3; 1.
    everyone = Scope(org.pk, PERIOD)
    assert value("checkups-on-schedule", everyone) == Value(count=2, of=4)
    assert drilled("checkups-on-schedule", everyone) == {k1.pk, k6.pk}
    assert value("checkups-on-schedule", team_scope(world, a)) == Value(count=1, of=3)
    assert drilled("checkups-on-schedule", team_scope(world, a)) == {k1.pk}
    # Those not on schedule, the list a team acts on: the denominator less the numerator.
    not_counted = {r["patient_id"] for r in BY_KEY["checkups-on-schedule"].others(everyone)}
    assert not_counted == {k2.pk, k4.pk}


def test_exits_due_in_clamps_to_short_months():
    # 3 months after 31 Mar is 30 Jun; after 1 Oct 2025 it is 1 Jan 2026.
    assert reviews.exits_due_in(3, D(2026, 1, 1), D(2026, 6, 30)) == (D(2025, 10, 1),
                                                                     D(2026, 3, 31))
    # 1 month after 29, 30 or 31 Jan 2026 is 28 Feb: all due in a period ending 28 Feb.
    assert reviews.exits_due_in(1, D(2026, 2, 1), D(2026, 2, 28)) == (D(2026, 1, 1),
                                                                     D(2026, 1, 31))


def test_post_exit_checkups_completed(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    monitoring = "post-exit-monitoring"
    # Default settings: a check-up 3, 6, 9 and 12 months after the exit date, while in
    # post-exit monitoring. A check-up after the exit date from 18 Dec 2025 (14 days before the
    # period) to 30 Jun 2026 counts.
    # X1: left 10 Feb 2026, due 10 May; check-up 12 May: completed.
    x1 = patient(org, a, "X-1", exit_date=D(2026, 2, 10), status=monitoring)
    checkup(x1, "top", D(2026, 5, 12))
    # X2: left 20 Nov 2025, due 20 Feb and 20 May; check-ups on the exit day and on 1 Dec,
    # before the window: not completed.
    x2 = patient(org, a, "X-2", exit_date=D(2025, 11, 20), status=monitoring)
    checkup(x2, "top", D(2025, 11, 20))
    checkup(x2, "top", D(2025, 12, 1))
    # X3: left 15 Apr 2026, first due 15 Jul: none due in the period.
    x3 = patient(org, a, "X-3", exit_date=D(2026, 4, 15), status=monitoring)
    checkup(x3, "top", D(2026, 6, 1))
    # X4: left 5 Oct 2025, monitoring closed 1 Dec 2025, before its 5 Jan check-up: not due.
    patient(org, a, "X-4", exit_date=D(2025, 10, 5), status="finished", closed=D(2025, 12, 1))
    # X5: left 20 Dec 2025, monitoring closed 1 Apr 2026, after its 20 Mar check-up: due;
    # check-up 25 Mar: completed.
    x5 = patient(org, a, "X-5", exit_date=D(2025, 12, 20), status="finished",
                 closed=D(2026, 4, 1))
    checkup(x5, "phq9", D(2026, 3, 25))
    # X6: left and closed the same day (no monitoring): not due.
    patient(org, a, "X-6", exit_date=D(2025, 12, 20), status="finished", closed=D(2025, 12, 20))
    # X7 (team B): left 31 Jan, due 30 Apr (April is shorter); check-up 2 May: completed.
    x7 = patient(org, b, "X-7", exit_date=D(2026, 1, 31), status=monitoring)
    checkup(x7, "top", D(2026, 5, 2))
    # Another organisation: due and done, never counted.
    o_org, o_team = other_org_team()
    o = patient(o_org, o_team, "X-O", exit_date=D(2026, 2, 1), status=monitoring)
    checkup(o, "top", D(2026, 5, 1))

    # Due: X1, X2, X5, X7 = 4; completed X1, X5, X7 = 3. Team A: X1, X2, X5 = 3; 2.
    everyone = Scope(org.pk, PERIOD)
    assert value("post-exit-checkups-completed", everyone) == Value(count=3, of=4)
    assert drilled("post-exit-checkups-completed", everyone) == {x1.pk, x5.pk, x7.pk}
    assert value("post-exit-checkups-completed", team_scope(world, a)) == Value(count=2, of=3)
    assert drilled("post-exit-checkups-completed", team_scope(world, a)) == {x1.pk, x5.pk}
    assert x2 and x3


# --- flags acknowledged within their target -------------------------------------------------


def flag(p, key, severity, raised, acknowledged=None, *, resolved=None, status="active"):
    return Flag.objects.create(
        organisation=p.organisation, patient=p, rule="return-to-use", evidence_key=key,
        severity=severity, evidence="Evidence", raised_at=raised, acknowledged_at=acknowledged,
        resolved_at=resolved, status=status)


def test_flags_acknowledged_within_their_target(world):
    clear_world(world)
    org, a, b = world.org, world.team_a, world.team_b
    p = patient(org, a, "F-1")
    # Targets: urgent the same day, high 1 day, medium 7, low 28, counted in London's days.
    # F1 urgent: raised 23:30 UTC 10 Jun = 00:30 on 11 Jun in London; acknowledged 08:00 UTC
    # 11 Jun: the same local day: on target.
    flag(p, "f1", "urgent", at(D(2026, 6, 10), 23, 30), at(D(2026, 6, 11), 8))
    # F2 urgent: raised 10 Mar, acknowledged 11 Mar: late.
    flag(p, "f2", "urgent", at(D(2026, 3, 10), 10), at(D(2026, 3, 11), 9))
    # F3 high: raised 10 Mar, acknowledged 11 Mar: on target.
    flag(p, "f3", "high", at(D(2026, 3, 10)), at(D(2026, 3, 11), 18))
    # F4 medium: raised 25 Jun, target 2 Jul, after the period: not counted here.
    flag(p, "f4", "medium", at(D(2026, 6, 25)))
    # F5 medium: raised 28 Dec 2025, target 4 Jan 2026 (in the period); acknowledged 6 Jan:
    # late.
    flag(p, "f5", "medium", at(D(2025, 12, 28)), at(D(2026, 1, 6)))
    # F6 low: raised 1 Feb, target 1 Mar, never acknowledged: late.
    flag(p, "f6", "low", at(D(2026, 2, 1)))
    # F7 low: raised 1 Feb, closed by Tandem (the problem cleared) on 10 Feb, unacknowledged,
    # before its target: not counted.
    flag(p, "f7", "low", at(D(2026, 2, 1)), resolved=at(D(2026, 2, 10)), status="inactive")
    # F8 medium: raised 1 Feb, closed by Tandem on 20 Feb, after its target (8 Feb),
    # never acknowledged: late.
    flag(p, "f8", "medium", at(D(2026, 2, 1)), resolved=at(D(2026, 2, 20)), status="inactive")
    # F9 high, entered in error: not counted.
    flag(p, "f9", "high", at(D(2026, 3, 1)), at(D(2026, 3, 5)), resolved=at(D(2026, 3, 5)),
         status="entered-in-error")
    # F10 (team B) urgent, acknowledged within the hour: on target.
    flag(patient(org, b, "F-2"), "f10", "urgent", at(D(2026, 4, 1), 9), at(D(2026, 4, 1), 10))
    # Another organisation's urgent flag, on target: never counted.
    o_org, o_team = other_org_team()
    flag(patient(o_org, o_team, "F-O"), "fo", "urgent", at(D(2026, 4, 1), 9),
         at(D(2026, 4, 1), 10))

    # Counted: F1, F2, F3, F5, F6, F8, F10 = 7; on target F1, F3, F10 = 3. Team A: 6; 2.
    assert value("flags-acknowledged-on-target", Scope(org.pk, PERIOD)) == Value(count=3, of=7)
    assert value("flags-acknowledged-on-target", team_scope(world, a)) == Value(count=2, of=6)


# --- the section's queries ----------------------------------------------------------------


def section_queries(org) -> int:
    scope = Scope(org.pk, PERIOD)
    with CaptureQueriesContext(connection) as ctx:
        for figure in reviews.FIGURES:
            figure.value(scope)
            if figure.patients is not None:
                list(figure.patients(scope))
    return len(ctx.captured_queries)


def test_section_queries_do_not_grow_with_patients(world):
    clear_world(world)
    org, a = world.org, world.team_a

    def add(n, first):
        for i in range(first, first + n):
            p = patient(org, a, f"Q-{i}")
            med_plan(world, p, started=D(2025, 10, 1))
            plan = care_plan(world, p, D(2026, 9, 1))
            plan_review(world, plan, D(2026, 1, 5), D(2026, 4, 5))
            plan_review(world, plan, D(2026, 4, 1), D(2026, 9, 1))
            checkup(p, "top", D(2026, 6, 1))
            flag(p, f"q{i}", "high", at(D(2026, 3, 1)), at(D(2026, 3, 2)))
            CheckupSchedule.objects.update_or_create(patient=p, defaults={
                "organisation": org, "interval_weeks": 4 + i % 3})
            x = patient(org, a, f"QX-{i}", exit_date=D(2026, 2, 1),
                        status="post-exit-monitoring")
            checkup(x, "top", D(2026, 5, 1))

    add(2, 0)
    few = section_queries(org)
    add(6, 2)
    assert section_queries(org) == few
    # Care plans 2; medication 1 + 1 list; check-ups 3 + 3 (settings, the intervals in use,
    # the figure); after exit 2 + 2 (settings, the figure); flags 1.
    assert few == 15
