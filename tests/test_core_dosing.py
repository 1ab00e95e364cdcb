"""The dose rules (tandem.core.dosing), on the shipped medicine files: what a change may be,
in plain words, and the reduction schedule."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core import dosing
from tandem.core.dosing import Change, PlanLimits, Reduction, allowance, refusals
from tandem.medication.registry import medicines

METHADONE = medicines()["methadone"]
BUPRENORPHINE = medicines()["buprenorphine"]
WEEKLY = medicines()["buprenorphine-injection-weekly"]
DAY0 = datetime.date(2026, 1, 5)
LIMITS = PlanLimits(low=D(20), high=D(100), step_up_max=D(10), step_down_max=D(10),
                    min_days_between=3, max_rise_7_days=D(20))


def days(n):
    return DAY0 + datetime.timedelta(days=n)


def codes(found):
    return {r.code for r in found}


def test_a_first_dose_of_methadone_is_at_most_30_mg():
    found = refusals([], Change(DAY0, D(40), "start"), LIMITS, METHADONE, DAY0)
    assert codes(found) == {"start-max"}
    assert "at most 30 mg" in found[0].message
    assert refusals([], Change(DAY0, D(30), "start"), LIMITS, METHADONE, DAY0) == []


def test_a_restart_is_held_to_the_starting_limit_but_not_to_the_step_down():
    ledger = [Change(DAY0, D(30), "start"), Change(days(20), D(80))]
    assert refusals(ledger, Change(days(40), D(30), "restart"), LIMITS, METHADONE) == []
    found = refusals(ledger, Change(days(40), D(35), "restart"), LIMITS, METHADONE)
    assert codes(found) == {"start-max"}


def test_outside_the_range_each_reason_is_named_in_plain_words():
    ledger = [Change(DAY0, D(30), "start")]
    found = refusals(ledger, Change(days(30), D(110)), LIMITS, METHADONE)
    assert "above-range" in codes(found)
    above = next(r for r in found if r.code == "above-range")
    assert above.message == ("110 mg is more than the highest dose agreed with the prescriber "
                             "(100 mg).")
    assert "below-range" in codes(refusals(
        [Change(DAY0, D(25), "start")], Change(days(30), D(15)), LIMITS, METHADONE))


def test_steps_too_big_too_soon_and_the_seven_day_rise():
    ledger = [Change(DAY0, D(30), "start"), Change(days(30), D(40))]
    assert codes(refusals(ledger, Change(days(31), D(45)), LIMITS, METHADONE)) == {
        "too-soon"}
    msg = refusals(ledger, Change(days(31), D(45)), LIMITS, METHADONE)[0].message
    assert "next change can be from 7 February 2026" in msg
    assert "step-up" in codes(refusals(ledger, Change(days(40), D(55)), LIMITS, METHADONE))
    assert "step-down" in codes(refusals(ledger, Change(days(40), D(25)), LIMITS, METHADONE))
    # 30 until day 30, then 40, then 50 on day 33: 60 on day 36 would be three rises within 7
    # days (30 mg, more than 20); on day 37 the rise of day 30 is 7 days before, outside.
    ledger.append(Change(days(33), D(50)))
    found = refusals(ledger, Change(days(36), D(60)), LIMITS, METHADONE)
    assert codes(found) == {"week-rise"}
    assert "30 mg more than the dose in the last 7 days" in found[0].message
    assert refusals(ledger, Change(days(37), D(60)), LIMITS, METHADONE) == []


def test_titration_slows_rises_in_the_first_two_weeks():
    loose = PlanLimits(D(10), D(120), D(20), D(20), 1, D(60))
    ledger = [Change(DAY0, D(30), "start")]
    found = refusals(ledger, Change(days(1), D(45)), loose, METHADONE, DAY0)
    assert "titration-day" in codes(found)
    ledger += [Change(days(1), D(40)), Change(days(2), D(50)), Change(days(3), D(60))]
    assert "titration-week" in codes(refusals(ledger, Change(days(4), D(70)), loose,
                                              METHADONE, DAY0))
    # After the titration days, only the plan's own limits apply.
    assert refusals(ledger, Change(days(20), D(80)), loose, METHADONE, DAY0) == []


def test_doses_a_pharmacy_cannot_measure_are_refused():
    ledger = [Change(DAY0, D(8), "start")]
    bup = PlanLimits(D(2), D(24), D(4), D(4), 1, D(8))
    assert refusals(ledger, Change(days(30), D("8.4")), bup, BUPRENORPHINE) == []
    assert codes(refusals(ledger, Change(days(30), D("8.3")), bup, BUPRENORPHINE)) == {
        "measure"}
    weekly = PlanLimits(D(8), D(32), D(8), D(8), 7, D(8))
    found = refusals([Change(DAY0, D(16), "start")], Change(days(30), D(20)), weekly, WEEKLY)
    assert "measure" in codes(found)
    assert "8 mg, 16 mg, 24 mg or 32 mg" in found[0].message


def test_plan_cannot_loosen_the_medicine_limit():
    problems = dosing.plan_problems(PlanLimits(D(20), D(200), D(10), D(10), 1, D(30)),
                                    METHADONE)
    assert "high" in problems and "never loosen" in problems["high"]
    assert dosing.plan_problems(LIMITS, METHADONE) == {}


def test_allowance_says_when_the_next_change_can_be():
    ledger = [Change(DAY0, D(30), "start"), Change(days(30), D(40))]
    a = allowance(ledger, days(31), LIMITS, METHADONE)
    assert a.current == D(40) and a.earliest == days(33) and not a.can_change_today
    a = allowance(ledger, days(33), LIMITS, METHADONE)
    assert (a.lowest, a.highest) == (D(30), D(50)) and a.can_change_today


# --- properties ------------------------------------------------------------------------------

doses = st.integers(min_value=0, max_value=160).map(D)
limits = st.builds(
    lambda low, span, up, down, gap, week: PlanLimits(D(low), D(min(low + span, 150)), D(up),
                                                      D(down), gap, D(week)),
    st.integers(0, 100), st.integers(0, 80), st.integers(0, 30), st.integers(0, 30),
    st.integers(1, 14), st.integers(0, 40))


@st.composite
def ledgers(draw):
    """A ledger each of whose changes kept the rules (built through `refusals`)."""
    lim = draw(limits)
    start = draw(st.integers(lim.low, min(lim.high, 30)).map(D)) if lim.low <= min(
        lim.high, 30) else None
    if start is None:
        return lim, [], DAY0
    ledger = [Change(DAY0, start, "start")]
    day = DAY0
    for gap, dose in draw(st.lists(st.tuples(st.integers(1, 20), doses), max_size=8)):
        day += datetime.timedelta(days=gap)
        change = Change(day, dose)
        if not refusals(ledger, change, lim, METHADONE, DAY0):
            ledger.append(change)
    return lim, ledger, DAY0


@given(ledgers(), st.integers(0, 40), doses)
def test_the_allowance_shown_is_exactly_what_is_accepted(built, later, dose):
    lim, ledger, since = built
    if not ledger:
        return
    day = ledger[-1].day + datetime.timedelta(days=later)
    a = allowance(ledger, day, lim, METHADONE, since)
    accepted = not refusals(ledger, Change(day, dose), lim, METHADONE, since)
    shown = a.can_change_today and a.lowest <= dose <= a.highest and dose != a.current
    assert accepted == shown


@given(ledgers(), st.integers(1, 20), st.integers(1, 30), st.integers(0, 100))
def test_every_step_of_a_reduction_keeps_the_rules(built, step, every, target):
    lim, ledger, since = built
    if not ledger:
        return
    start = ledger[-1].day + datetime.timedelta(days=1)
    steps = dosing.reduction_schedule(ledger, Reduction(start, D(step), every, D(target)), lim,
                                      METHADONE, since)
    so_far = list(ledger)
    for s in steps:
        assert refusals(so_far, s, lim, METHADONE, since) == []
        assert s.dose < so_far[-1].dose
        assert s.dose >= max(D(target), lim.low)
        assert s.dose >= so_far[-1].dose - min(D(step), lim.step_down_max)
        so_far.append(s)


@pytest.mark.parametrize("value, words", [(D("30.00"), "30 mg"), (D("7.50"), "7.5 mg"),
                                          (D("0.4"), "0.4 mg"), (D("1E+1"), "10 mg")])
def test_doses_in_words(value, words):
    assert dosing.mg(value) == words


def test_a_restart_never_goes_above_the_dose_now():
    ledger = [Change(DAY0, D(10), "start")]
    found = refusals(ledger, Change(days(1), D(30), "restart"), LIMITS, METHADONE)
    assert codes(found) == {"restart-higher"}
    assert "at most the dose now (10 mg)" in found[0].message


def test_with_a_change_already_agreed_the_next_can_only_come_after_it():
    ledger = [Change(DAY0, D(30), "start"), Change(days(30), D(40))]
    a = allowance(ledger, days(25), LIMITS, METHADONE)
    assert not a.can_change_today and a.earliest == days(33) and a.current == D(40)
    found = refusals(ledger, Change(days(27), D(35)), LIMITS, METHADONE)
    assert "A change to 40 mg is already agreed from 4 February 2026" in found[0].message
