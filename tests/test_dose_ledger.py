"""No code path lets a dose leave the range or break a step limit.

Random sequences of everything that can change a dose — the patient's requests, the
prescriber's approvals and refusals, plan changes (narrower or wider ranges, new step limits,
restarts), reductions planned, paused, resumed, reversed and stopped, and the days passing — are
driven through `tandem.medication.doses`. After every operation, every stored dose in the
ledger is checked against the limits of the plan version it was made under, and the dose in
force today against the plan as it stands now.
"""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tandem.audit.actor import Actor
from tandem.core import dosing
from tandem.medication import dispensing, doses
from tandem.medication.models import (
    DoseChange,
    DoseRequest,
    MedicationPlan,
    Reduction,
    ReductionStatus,
    RequestStatus,
)
from tandem.medication.registry import get

START = datetime.date(2026, 3, 2)


def terms(low, high, up=10, down=10, gap=3, week=30, at_once=True, review=None):
    return doses.Terms(low=D(low), high=D(high), step_up_max=D(up), step_down_max=D(down),
                       min_days_between=gap, max_rise_7_days=D(week), self_setting=True,
                       requests_apply_at_once=at_once,
                       above_usual_reason="high tolerance" if high > 120 else "",
                       review_date=review or START + datetime.timedelta(days=80))


def check_ledger(plan: MedicationPlan, today: datetime.date):
    """Every live entry keeps the limits of the version it was made under, against the
    ledger before it, and one still to come keeps the plan's limits now; the dose in force
    today is within the plan's range now; a request said to be applied has its dose."""
    plan.refresh_from_db()
    medicine = get(plan.medicine)
    versions = {v.number: v.terms for v in plan.versions.all()}
    live = list(plan.doses.filter(cancelled_at__isnull=True).order_by("day", "made_at"))
    before: list[dosing.Change] = []
    for entry in live:
        t = versions[entry.plan_version]
        limits = dosing.PlanLimits(D(t["low"]), D(t["high"]), D(t["step_up_max"]),
                                   D(t["step_down_max"]), t["min_days_between"],
                                   D(t["max_rise_7_days"]))
        change = dosing.Change(entry.day, entry.dose, entry.kind)
        since = (entry.day if entry.kind != "change"
                 else datetime.date.fromisoformat(t["titrating_since"]))
        assert dosing.refusals(before, change, limits, medicine, since) == [], (entry, t)
        assert limits.low <= entry.dose <= limits.high
        if entry.day > today and plan.status == "active":
            # A change still to come keeps the plan as it stands now, too.
            now = doses.limits_of(plan)
            since = entry.day if entry.kind != "change" else plan.titrating_since
            assert dosing.refusals(before, change, now, medicine, since) == [], entry
        before.append(change)
    held = dosing.current_dose(before, today)
    if plan.status == "active" and held is not None:
        assert plan.low <= held.dose <= plan.high
    # A request that says its dose was applied or agreed has that dose in the ledger.
    for asked in plan.requests.filter(status__in=[RequestStatus.APPLIED,
                                                  RequestStatus.APPROVED]):
        assert any(e.request_id == asked.pk for e in live), asked


# Doses and ranges are drawn relative to the dose now, so that most operations could be
# allowed and the sequences reach deep states (reductions under way, missed days, restarts).
days_pass = st.tuples(st.just("days"), st.integers(0, 9))
operation = st.one_of(
    days_pass, days_pass, days_pass,
    st.tuples(st.just("request"), st.integers(-15, 15), st.integers(0, 4)),
    st.tuples(st.just("request"), st.integers(-15, 15), st.integers(0, 4)),
    st.tuples(st.just("approve")), st.tuples(st.just("decline")),
    st.tuples(st.just("withdraw")),
    st.tuples(st.just("plan"), st.integers(0, 30), st.integers(0, 60), st.integers(0, 20),
              st.integers(0, 20), st.integers(1, 7), st.integers(0, 40), st.booleans(),
              st.one_of(st.none(), st.integers(-20, 10)), st.booleans()),
    st.tuples(st.just("reduce"), st.integers(1, 15), st.integers(1, 14), st.integers(0, 30)),
    st.tuples(st.just("pause")), st.tuples(st.just("resume")),
    st.tuples(st.just("reverse"), st.integers(1, 20)), st.tuples(st.just("stop")),
    st.tuples(st.just("pharmacy"), st.integers(1, 4), st.sampled_from(["missed", "supervised"])),
    st.tuples(st.just("pharmacy"), st.just(3), st.just("missed")),
)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=8, max_size=30))
def test_random_sequences_keep_every_stored_dose_within_the_limits(world, ops):
    prescriber = Actor(world.users["prescriber"], role="prescriber")
    patient = Actor(world.users["patient"], role="patient")
    today = [START]
    with time_machine.travel(noon(START), tick=False) as clock, transaction.atomic():
        episode = world.p1.episodes.get()
        plan = doses.start_plan(prescriber, episode, "methadone", terms(20, 100), D(30), START,
                                "Starting treatment")
        for op in ops:
            try:
                with transaction.atomic():
                    apply(op, plan, prescriber, patient, today)
                    clock.move_to(noon(today[0]))
                event(f"{op[0]} done")
            except doses.Refused as refused:
                assert refused.reasons  # a refusal always says why
                event(f"{op[0]} refused: {next(iter(refused.reasons.values()))[0][:50]}")
            check_ledger(plan, today[0])
        transaction.set_rollback(True)


def noon(day: datetime.date) -> datetime.datetime:
    """Midday on `day` in the service's time zone: the clock every write is stamped with."""
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=timezone.get_current_timezone())


def apply(op, plan, prescriber, patient, today):
    kind = op[0]
    now = doses.dose_on(plan, today[0]) or D(0)
    pending = DoseRequest.objects.filter(plan=plan, status=RequestStatus.PENDING).first()
    reduction = Reduction.objects.filter(
        plan=plan, status__in=[ReductionStatus.ACTIVE, ReductionStatus.PAUSED]).first()
    if kind == "days":
        today[0] += datetime.timedelta(days=op[1])
    elif kind == "request":
        stopped = doses.needs_prescriber(plan)
        doses.request_dose(patient, plan, max(now + op[1], D(0)),
                           today[0] + datetime.timedelta(days=op[2]))
        assert not stopped, "a dose was asked for after missed days in a row"
    elif kind == "pharmacy":
        days = [today[0] - datetime.timedelta(days=n) for n in range(op[1])]
        dispensing.record(prescriber, plan, [(d, op[2]) for d in days if d >= START], "staff")
    elif kind in ("approve", "decline", "withdraw") and pending:
        if kind == "approve":
            stopped = doses.needs_prescriber(plan)
            doses.approve(prescriber, pending)
            assert not stopped, "a dose was agreed after missed days in a row"
        elif kind == "decline":
            doses.decline(prescriber, pending, "Let's talk first")
        else:
            doses.withdraw(patient, pending)
    elif kind == "plan":
        _, below, above, up, down, gap, week, at_once, delta, restart = op
        plan.refresh_from_db()
        new = terms(max(now - below, 0), min(now + above, 150), up, down, gap, week, at_once,
                    review=today[0] + datetime.timedelta(days=60))
        doses.change_plan(prescriber, plan, plan.version, new, "Reviewed with the patient",
                          dose=None if delta is None else max(now + delta, D(0)),
                          restart=restart)
    elif kind == "reduce":
        doses.plan_reduction(prescriber, plan, today[0], D(op[1]), op[2],
                             max(now - op[3], plan.low), "patient")
    elif kind == "pause" and reduction:
        doses.pause(patient, reduction)
    elif kind == "resume" and reduction:
        doses.resume(prescriber, reduction)
    elif kind == "reverse" and reduction:
        doses.reverse(prescriber, reduction, now + op[1])
    elif kind == "stop" and reduction:
        doses.stop_reduction(prescriber, reduction)


def test_a_refused_request_stores_nothing(world):
    prescriber = Actor(world.users["prescriber"], role="prescriber")
    with time_machine.travel(noon(START), tick=False):
        plan = doses.start_plan(prescriber, world.p1.episodes.get(), "methadone",
                                terms(20, 60), D(30), START, "Starting treatment")
        with pytest.raises(doses.Refused) as refused:
            doses.request_dose(Actor(world.users["patient"]), plan, D(70),
                               START + datetime.timedelta(days=5))
    assert "more than the highest dose agreed with the prescriber (60 mg)" in str(refused.value)
    assert DoseRequest.objects.count() == 0
    assert DoseChange.objects.filter(plan=plan).count() == 1


def test_stopping_a_plan_ends_what_was_still_to_come_and_says_so(world):
    prescriber = Actor(world.users["prescriber"], role="prescriber")
    patient = Actor(world.users["patient"], role="patient")
    with time_machine.travel(noon(START), tick=False):
        plan = doses.start_plan(prescriber, world.p1.episodes.get(), "methadone",
                                terms(20, 60, gap=1, at_once=True), D(30),
                                START - datetime.timedelta(days=30), "Starting treatment")
        later = doses.request_dose(patient, plan, D(35), START + datetime.timedelta(days=3))
        plan.refresh_from_db()
        plan.requests_apply_at_once = False
        plan.save()
        waiting = doses.request_dose(patient, plan, D(25), START + datetime.timedelta(days=5))
        plan.refresh_from_db()
        doses.stop_plan(prescriber, plan, plan.version, "Moved to another service")
        with pytest.raises(doses.Refused, match="already been answered"):
            doses.approve(prescriber, waiting)
    later.refresh_from_db()
    waiting.refresh_from_db()
    assert later.status == waiting.status == RequestStatus.DECLINED
    assert "will not happen" in later.answer and "stopped" in waiting.answer
    assert not plan.doses.filter(cancelled_at__isnull=True, day__gt=START).exists()


def test_the_prescribers_new_dose_replaces_a_change_agreed_for_later_and_says_so(world):
    prescriber = Actor(world.users["prescriber"], role="prescriber")
    patient = Actor(world.users["patient"], role="patient")
    with time_machine.travel(noon(START), tick=False):
        plan = doses.start_plan(prescriber, world.p1.episodes.get(), "methadone",
                                terms(20, 60, gap=1, at_once=True), D(30),
                                START - datetime.timedelta(days=30), "Starting treatment")
        later = doses.request_dose(patient, plan, D(35), START + datetime.timedelta(days=5))
        plan.refresh_from_db()
        doses.change_plan(prescriber, plan, plan.version, terms(20, 60, gap=1), "Seen today",
                          dose=D(25), from_day=START + datetime.timedelta(days=2))
    later.refresh_from_db()
    assert later.status == RequestStatus.DECLINED and "new dose" in later.answer
    assert doses.dose_on(plan, START + datetime.timedelta(days=9)) == D(25)
