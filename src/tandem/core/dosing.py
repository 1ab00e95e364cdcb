"""Dose limits: whether a new daily dose keeps to a medication plan, in plain words. No Django.

A medication plan (set by the prescriber, `PlanLimits`) bounds the dose a patient may be on:
the **safe range** (lowest and highest dose) and the **step limits** (largest single change up
and down, fewest days at a dose before the next change, largest rise in any 7 days). The
medicine's own published limits (`tandem.core.medicines.Limits`, each with its source) bound
the plan: its most in a day, the most a start or restart may be, and the slower rises allowed
early in treatment (titration).

The dose a patient is on over time is a ledger of `Change`s, oldest first. Every change Tandem
stores — a patient's request, a prescriber's change, a step of a reduction, a reversal — is
checked by `refusals` against the ledger before it; a change with no refusals keeps every rule,
so a ledger built only of such changes never leaves the range or breaks a step (the property
test in tests/test_core_dosing.py drives random sequences through the service to prove it).

Why checking each change is enough for "any 7 days": between changes the dose is constant, so
the rise over a 7-day window ending on a later day is never more than over the window ending on
the day of the last change (the window's lowest dose can only go up as it slides forward).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from tandem.core.medicines import Medicine

Date = datetime.date
WEEK = 7


@dataclass(frozen=True)
class PlanLimits:
    low: Decimal  # the safe range: lowest daily dose
    high: Decimal  # and highest
    step_up_max: Decimal  # largest single rise
    step_down_max: Decimal  # largest single drop
    min_days_between: int  # fewest days at a dose before the next change (1: once a day)
    max_rise_7_days: Decimal  # largest rise over any 7 days


@dataclass(frozen=True)
class Change:
    """One entry of the dose ledger: from `day`, the dose is `dose`."""

    day: Date
    dose: Decimal
    kind: str = "change"  # "start" | "restart" | "change" (any other change)


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str  # plain words, for the patient as much as for staff


@dataclass(frozen=True)
class Allowance:
    """What a change on `day` may be: the current dose, the lowest and highest dose allowed,
    and the earliest day a change may take effect (later than `day`: no change today)."""

    day: Date
    current: Decimal | None
    lowest: Decimal
    highest: Decimal
    earliest: Date
    doses: tuple[Decimal, ...] = ()  # for a fixed-dose medicine: the doses allowed

    @property
    def can_change_today(self) -> bool:
        return self.earliest <= self.day and self.lowest <= self.highest


def mg(d: Decimal) -> str:
    """A dose in words: "30 mg", "7.5 mg", "0.4 mg"."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} mg"


def day_text(d: Date) -> str:
    return f"{d.day} {d:%B %Y}"


# --- the plan ------------------------------------------------------------------------------


def plan_problems(limits: PlanLimits, medicine: Medicine) -> dict[str, str]:
    """{field: why} for a plan that does not fit together or would loosen a published limit."""
    found: dict[str, str] = {}
    top = medicine.limits.daily_max
    if limits.low > limits.high:
        found["low"] = "The lowest dose is above the highest dose."
    if limits.high > top.value:
        found["high"] = (f"{mg(limits.high)} is above the most {medicine.generic} is given at "
                         f"({mg(top.value)}; {top.source}). A service may tighten this limit, "
                         "never loosen it.")
    for name in ("low", "high"):
        value = getattr(limits, name)
        if not _measurable(value, medicine):
            found.setdefault(name, _step_words(medicine))
    if limits.step_up_max < 0:
        found["step_up_max"] = "The largest rise cannot be below 0 mg."
    if limits.step_down_max < 0:
        found["step_down_max"] = "The largest drop cannot be below 0 mg."
    if limits.max_rise_7_days < 0:
        found["max_rise_7_days"] = "The largest rise in 7 days cannot be below 0 mg."
    if limits.min_days_between < 1:
        found["min_days_between"] = "A dose can change at most once a day: at least 1 day."
    return found


def _measurable(dose: Decimal, medicine: Medicine) -> bool:
    if medicine.fixed_doses:
        return dose in medicine.fixed_doses or dose == 0
    step = medicine.limits.step.value
    return step == 0 or dose % step == 0


def _step_words(medicine: Medicine) -> str:
    if medicine.fixed_doses:
        return ("This medicine comes only in doses of "
                + _or([mg(d) for d in medicine.fixed_doses]) + ".")
    return f"Doses go in steps of {mg(medicine.limits.step.value)}."


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


# --- one change ----------------------------------------------------------------------------


def current_dose(ledger: Sequence[Change], day: Date) -> Change | None:
    """The ledger entry in force on `day` (the latest on or before it), or None."""
    found = None
    for c in ledger:
        if c.day > day:
            break
        found = c
    return found


def _titration(medicine: Medicine, titrating_since: Date | None, day: Date):
    t = medicine.limits.titration
    if t is None or titrating_since is None:
        return None
    return t if titrating_since <= day < titrating_since + datetime.timedelta(days=t.days) else None


def _lowest_in_week(ledger: Sequence[Change], day: Date, current: Decimal) -> Decimal:
    """The lowest dose held in the 7 days before `day` (and the dose held now): every rise
    made within 7 days counts, the stricter reading of "the largest rise in any 7 days"."""
    since = day - datetime.timedelta(days=WEEK)
    held = current_dose(ledger, since)
    lowest = current if held is None else min(current, held.dose)
    for c in ledger:
        if since < c.day < day:
            lowest = min(lowest, c.dose)
    return lowest


def refusals(ledger: Sequence[Change], change: Change, limits: PlanLimits, medicine: Medicine,
             titrating_since: Date | None = None) -> list[Refusal]:
    """Why `change` may not be made after `ledger` (every entry of which is on or before its
    day), in plain words; empty when it keeps every rule. `titrating_since`: the day treatment
    started or restarted (the medicine's titration limits apply for its first days); a start or
    restart sets it to its own day."""
    dose, day = change.dose, change.day
    found: list[Refusal] = []
    later = [c for c in ledger if c.day > day]
    if later:
        found.append(Refusal("order", f"A change to {mg(later[-1].dose)} is already agreed from "
                             f"{day_text(later[-1].day)}: a new change can only come after it."))
    if any(c.day == day for c in ledger):
        found.append(Refusal("same-day", f"The dose already changes on {day_text(day)}: one "
                             "change a day."))
    if dose < 0 or not _measurable(dose, medicine):
        found.append(Refusal("measure", _step_words(medicine)))
    lim = medicine.limits
    if dose > lim.daily_max.value:
        found.append(Refusal("medicine-max", f"{mg(dose)} is above the most {medicine.generic} "
                             f"is given at ({mg(lim.daily_max.value)})."))
    if dose > limits.high:
        found.append(Refusal("above-range", f"{mg(dose)} is more than the highest dose agreed "
                             f"with the prescriber ({mg(limits.high)})."))
    if dose < limits.low:
        found.append(Refusal("below-range", f"{mg(dose)} is less than the lowest dose agreed "
                             f"with the prescriber ({mg(limits.low)})."))
    held = current_dose(ledger, day)
    if change.kind in ("start", "restart") or held is None:
        if change.kind == "restart" and held is not None and dose > held.dose:
            found.append(Refusal("restart-higher", "A restart can be at most the dose now "
                                 f"({mg(held.dose)}): it is a way back down, never up."))
        if lim.start_max is not None and dose > lim.start_max.value:
            what = "A restart" if change.kind == "restart" else "A first dose"
            found.append(Refusal("start-max", f"{what} of {medicine.generic} can be at most "
                                 f"{mg(lim.start_max.value)} a day."))
        return found
    current = held.dose
    if dose == current:
        found.append(Refusal("same", f"{mg(dose)} is the dose already agreed."))
        return found
    rise = dose - current
    if rise > limits.step_up_max:
        found.append(Refusal("step-up", f"That is a rise of {mg(rise)}. The most the dose can "
                             f"go up in one change is {mg(limits.step_up_max)}."))
    if -rise > limits.step_down_max:
        found.append(Refusal("step-down", f"That is a drop of {mg(-rise)}. The most the dose "
                             f"can go down in one change is {mg(limits.step_down_max)}."))
    earliest = held.day + datetime.timedelta(days=limits.min_days_between)
    if day < earliest:
        found.append(Refusal("too-soon", f"The dose last changed on {day_text(held.day)}. The "
                             f"next change can be from {day_text(earliest)}."))
    week_rise = dose - _lowest_in_week(ledger, day, current)
    if week_rise > limits.max_rise_7_days:
        found.append(Refusal("week-rise", f"That would be {mg(week_rise)} more than the dose "
                             "in the last 7 days. The most the dose can go up in any 7 days is "
                             f"{mg(limits.max_rise_7_days)}."))
    t = _titration(medicine, titrating_since, day)
    if t is not None and rise > t.max_rise_per_day:
        found.append(Refusal("titration-day", f"In the first {t.days} days of treatment the "
                             f"dose can go up by at most {mg(t.max_rise_per_day)} a day."))
    if t is not None and week_rise > t.max_rise_per_week:
        found.append(Refusal("titration-week", f"In the first {t.days} days of treatment the "
                             f"dose can go up by at most {mg(t.max_rise_per_week)} in a week."))
    return found


def allowance(ledger: Sequence[Change], day: Date, limits: PlanLimits, medicine: Medicine,
              titrating_since: Date | None = None) -> Allowance:
    """The doses a change on `day` may choose (what the dose page shows): the same rules as
    `refusals`, as a range. For a fixed-dose medicine, `doses` lists the allowed doses."""
    later = [c for c in ledger if c.day > day]
    if later:
        # A change is already agreed for a later day: the next one can only come after it.
        at = allowance(ledger, later[-1].day, limits, medicine, titrating_since)
        return replace(at, day=day, earliest=max(at.earliest, later[-1].day
                                                  + datetime.timedelta(days=1)))
    lim = medicine.limits
    top = min(limits.high, lim.daily_max.value)
    held = current_dose(ledger, day)
    if held is None:
        highest = top if lim.start_max is None else min(top, lim.start_max.value)
        return _rounded(Allowance(day, None, limits.low, highest, day), medicine)
    current = held.dose
    earliest = max(day, held.day + datetime.timedelta(days=limits.min_days_between))
    lowest = max(limits.low, current - limits.step_down_max)
    week_low = _lowest_in_week(ledger, day, current)
    highest = min(top, current + limits.step_up_max, week_low + limits.max_rise_7_days)
    t = _titration(medicine, titrating_since, day)
    if t is not None:
        highest = min(highest, current + t.max_rise_per_day, week_low + t.max_rise_per_week)
    return _rounded(Allowance(day, current, lowest, highest, earliest), medicine)


def _rounded(a: Allowance, medicine: Medicine) -> Allowance:
    """Lowest up and highest down to doses the medicine comes in."""
    if medicine.fixed_doses:
        doses = tuple(d for d in medicine.fixed_doses if a.lowest <= d <= a.highest
                      and d != a.current)
        return Allowance(a.day, a.current, a.lowest, a.highest, a.earliest, doses)
    step = medicine.limits.step.value
    if step == 0:
        return a
    low = -(-a.lowest // step) * step
    high = (a.highest // step) * step
    return Allowance(a.day, a.current, low, high, a.earliest)


# --- reductions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reduction:
    """A reduction the patient chose: down by `step` every `every_days`, to `target`."""

    start: Date
    step: Decimal
    every_days: int
    target: Decimal


MAX_STEPS = 400


def reduction_schedule(ledger: Sequence[Change], plan: Reduction, limits: PlanLimits,
                       medicine: Medicine, titrating_since: Date | None = None) -> list[Change]:
    """The reduction's steps from the current dose down to its target, each within the plan's
    limits (a step is never larger than the largest drop allowed, nor sooner than allowed, nor
    below the safe range or the target). Empty if the dose is already at the target."""
    steps: list[Change] = []
    ledger = list(ledger)
    if plan.step <= 0 or plan.every_days < 1:
        return steps
    day = plan.start
    target = max(plan.target, limits.low)
    while len(steps) < MAX_STEPS:
        held = current_dose(ledger, day)
        if held is None or held.dose <= target:
            return steps
        a = allowance(ledger, day, limits, medicine, titrating_since)
        if a.earliest > day:
            day = a.earliest
            continue
        dose = max(held.dose - plan.step, target, a.lowest)
        if medicine.fixed_doses:
            options = [d for d in medicine.fixed_doses if dose <= d < held.dose]
            dose = min(options) if options else held.dose
        else:
            unit = medicine.limits.step.value or Decimal(1)
            dose = -(-dose // unit) * unit
        change = Change(day, dose)
        if dose >= held.dose or refusals(ledger, change, limits, medicine, titrating_since):
            return steps  # nothing smaller is allowed: the reduction stops here
        steps.append(change)
        ledger.append(change)
        day = day + datetime.timedelta(days=max(plan.every_days, limits.min_days_between))
    return steps
