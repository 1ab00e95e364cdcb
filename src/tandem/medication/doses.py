"""The one way a dose is stored: plans, changes, requests, approvals and reductions.

Every write to the dose ledger (`DoseChange`) is made here, inside a transaction that first
locks the plan's row, and only after `tandem.core.dosing.refusals` found nothing wrong with it
against the ledger as it stands and the plan's limits. So no code path lets a dose leave the
safe range or break a step limit, whoever asks and however many ask at once
(tests/test_dose_ledger.py drives random sequences of every operation through this module and
checks every stored dose).

Each function takes an `Actor` (who, in which role), audits what it did, and raises `Refused`
with the reasons, by field, in plain words, having written nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core import dosing
from tandem.core import flags as flag_rules
from tandem.core.medicines import Medicine
from tandem.medication import events, registry
from tandem.medication.models import (
    ChangeKind,
    ChangeSource,
    DoseChange,
    DoseRequest,
    MedicationPlan,
    PlanStatus,
    PlanVersion,
    Reduction,
    ReductionEvent,
    ReductionEventKind,
    ReductionStatus,
    RequestStatus,
    settings_for,
)

# Plans are reviewed at least every 3 months (UK guidelines 2017), as care plans are.
REVIEW_AHEAD_DAYS = 92
# A request may take effect from today up to this many days ahead.
REQUEST_AHEAD_DAYS = 28

TERMS = ("low", "high", "step_up_max", "step_down_max", "min_days_between", "max_rise_7_days",
         "pharmacy", "supervised_days", "take_home_days", "review_date", "self_setting",
         "requests_apply_at_once", "above_usual_reason", "last_ecg_on")


class Refused(Exception):
    """Nothing was written: the reasons, by field ("" for the whole request)."""

    def __init__(self, reasons: Mapping[str, list[str]]):
        self.reasons = {k: list(v) for k, v in reasons.items() if v}
        super().__init__("; ".join(m for ms in self.reasons.values() for m in ms))


def _refuse(field: str, *messages: str):
    raise Refused({field: list(messages)})


# --- reading -------------------------------------------------------------------------------


def medicine_of(plan: MedicationPlan) -> Medicine:
    medicine = registry.get(plan.medicine)
    if medicine is None:  # a medicine file removed while plans used it
        raise LookupError(f"unknown medicine {plan.medicine!r}")
    return medicine


def limits_of(plan) -> dosing.PlanLimits:
    return dosing.PlanLimits(plan.low, plan.high, plan.step_up_max, plan.step_down_max,
                             plan.min_days_between, plan.max_rise_7_days)


def ledger(plan: MedicationPlan, *, without_steps_after: datetime.date | None = None
           ) -> list[dosing.Change]:
    """The plan's dose ledger, oldest first, scheduled reduction steps included (but those
    after `without_steps_after`: steps a request during a reduction would take off)."""
    rows = plan.doses.filter(cancelled_at__isnull=True)
    if without_steps_after is not None:
        rows = rows.exclude(source=ChangeSource.REDUCTION, day__gt=without_steps_after)
    return [dosing.Change(day, dose, kind) for day, dose, kind in
            rows.order_by("day", "made_at").values_list("day", "dose", "kind")]


def dose_on(plan: MedicationPlan, day: datetime.date) -> Decimal | None:
    held = dosing.current_dose(ledger(plan), day)
    return held.dose if held else None


def _asking_ledger(plan: MedicationPlan, today: datetime.date) -> list[dosing.Change]:
    """The ledger a request is checked against: a request during a reduction pauses it, so
    the reduction's steps still to come do not count; every other change agreed does."""
    going = plan.reductions.filter(status=ReductionStatus.ACTIVE).exists()
    return ledger(plan, without_steps_after=today if going else None)


def allowance(plan: MedicationPlan, day: datetime.date | None = None) -> dosing.Allowance:
    """What a change asked for today may be (the dose page): the same ledger and rules as
    `request_dose`, so what the page offers is what a request is allowed."""
    day = day or timezone.localdate()
    return dosing.allowance(_asking_ledger(plan, day), day, limits_of(plan), medicine_of(plan),
                            plan.titrating_since)


# How far back missed days are read (the service's run is at most 3 days).
MISSED_WINDOW_DAYS = 60


def missed_run(plan: MedicationPlan) -> list[datetime.date]:
    """Missed days the prescriber has not acted on yet: the latest run of missed days in a row
    that reaches the service's number and was reported (at least in part) after the
    prescriber last set the plan (a start, change, restart or review: each is a plan version)
    — it stands until the prescriber acts, whatever is reported after it; else the run the
    latest reports end with (shorter: shown, not yet stopping anything). Runs are read as
    `core.flags.missed_runs` reads them for the urgent flag."""
    since = timezone.localdate() - datetime.timedelta(days=MISSED_WINDOW_DAYS)
    reported = {day: (status, at) for day, status, at in plan.dispensing_days.filter(
        day__gt=since).values_list("day", "status", "recorded_at")}
    runs = flag_rules.missed_runs([(day, status) for day, (status, _) in reported.items()])
    acted = plan.versions.order_by("-number").values_list("changed_at", flat=True).first()
    enough = settings_for(plan.organisation_id).missed_days_for_flag
    standing = [run for run in runs if len(run) >= enough
                and (acted is None or max(reported[d][1] for d in run) > acted)]
    if standing:
        return standing[-1]
    latest = max(reported, default=None)
    return runs[-1] if runs and runs[-1][-1] == latest else []


def needs_prescriber(plan: MedicationPlan) -> bool:
    """After the service's number of missed days in a row, only the prescriber changes the dose
    until they have acted (tolerance may be lower; UK guidelines 2017, the "3-day rule")."""
    return len(missed_run(plan)) >= settings_for(plan.organisation_id).missed_days_for_flag


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What a prescriber sets on a plan (every term; a change names them all again)."""

    low: Decimal
    high: Decimal
    step_up_max: Decimal
    step_down_max: Decimal
    min_days_between: int
    max_rise_7_days: Decimal
    review_date: datetime.date
    pharmacy: str = ""
    supervised_days: int = 7
    take_home_days: int = 0
    self_setting: bool = False
    requests_apply_at_once: bool = False
    above_usual_reason: str = ""
    last_ecg_on: datetime.date | None = None

    @classmethod
    def of(cls, plan: MedicationPlan) -> Terms:
        return cls(**{name: getattr(plan, name) for name in TERMS})


def terms_problems(terms: Terms, medicine: Medicine,
                   today: datetime.date) -> dict[str, list[str]]:
    """{field: [why]} for terms that cannot be set (besides the dose's own refusals)."""
    problems = {k: [v] for k, v in dosing.plan_problems(
        dosing.PlanLimits(terms.low, terms.high, terms.step_up_max, terms.step_down_max,
                          terms.min_days_between, terms.max_rise_7_days), medicine).items()}

    def add(field, message):
        problems.setdefault(field, []).append(message)

    if terms.review_date < today:
        add("review_date", "The review date cannot be in the past.")
    elif terms.review_date > today + datetime.timedelta(days=REVIEW_AHEAD_DAYS):
        add("review_date", "Medication is reviewed at least every 3 months: choose a review "
            "date at most 3 months ahead.")
    if terms.supervised_days + terms.take_home_days > 7:
        add("take_home_days", "Supervised and take-home days add up to more than 7 a week.")
    if terms.self_setting and not medicine.self_setting:
        add("self_setting", f"{medicine.name} is not a medicine patients set themselves.")
    usual = medicine.limits.usual_maintenance
    if usual and terms.high > usual.high and not terms.above_usual_reason.strip():
        add("above_usual_reason", f"The highest dose is above the usual maintenance range "
            f"({dosing.mg(usual.low)} to {dosing.mg(usual.high)}): record the reason.")
    if terms.last_ecg_on and terms.last_ecg_on > today:
        add("last_ecg_on", "The date of the last ECG cannot be in the future.")
    return problems


def ecg_asked(plan_or_terms, medicine: Medicine) -> bool:
    """Whether the plan reaches the dose at which the last ECG is asked for (MHRA: QT
    prolongation with methadone at 100 mg a day or more)."""
    ecg = medicine.limits.ecg_at_or_above
    return bool(ecg and plan_or_terms.high >= ecg.value)


def _version(plan: MedicationPlan, actor: Actor, reason: str) -> PlanVersion:
    number = plan.versions.count() + 1
    terms = {name: _plain(getattr(plan, name)) for name in TERMS}
    terms.update(medicine=plan.medicine, status=plan.status,
                 titrating_since=plan.titrating_since.isoformat())
    return PlanVersion.objects.create(plan=plan, number=number, terms=terms, reason=reason,
                                      changed_by=actor.user)


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _write(plan, actor, day, dose, source, *, kind=ChangeKind.CHANGE, reason="", request=None,
           reduction=None) -> DoseChange:
    """Check one change against the ledger and write it; the plan's row is already locked."""
    change = dosing.Change(day, dose, kind)
    refused = dosing.refusals(ledger(plan), change, limits_of(plan), medicine_of(plan),
                              day if kind != ChangeKind.CHANGE else plan.titrating_since)
    if refused:
        raise Refused({"dose": [r.message for r in refused]})
    return DoseChange.objects.create(
        plan=plan, day=day, dose=dose, kind=kind, source=source,
        plan_version=plan.versions.count(), reason=reason, made_by=actor.user,
        request=request, reduction=reduction)


def _locked(plan: MedicationPlan) -> MedicationPlan:
    return MedicationPlan.objects.select_for_update().get(pk=plan.pk)


@transaction.atomic
def start_plan(actor: Actor, episode, medicine_code: str, terms: Terms, dose: Decimal,
               started_on: datetime.date, reason: str) -> MedicationPlan:
    """A new plan for the episode, at version 1, with its first dose (a start: at most the
    medicine's starting limit)."""
    medicine = registry.get(medicine_code)
    if medicine is None:
        _refuse("medicine", "Choose a medicine from the list.")
    today = timezone.localdate()
    problems = terms_problems(terms, medicine, today)
    if started_on > today + datetime.timedelta(days=REQUEST_AHEAD_DAYS):
        problems.setdefault("started_on", []).append("The start can be at most 4 weeks ahead.")
    # The episode's row is locked so that of two prescribers starting a plan at once, the
    # second finds the first's plan (not a database error).
    type(episode).objects.select_for_update().filter(pk=episode.pk).exists()
    if MedicationPlan.objects.filter(episode=episode, status=PlanStatus.ACTIVE).exists():
        problems.setdefault("medicine", []).append(
            "This episode already has a current medication plan: change that plan, or stop it "
            "first.")
    if problems:
        raise Refused(problems)
    plan = MedicationPlan.objects.create(
        organisation_id=episode.organisation_id, patient_id=episode.patient_id, episode=episode,
        medicine=medicine.code, started_on=started_on, titrating_since=started_on,
        created_by=actor.user, updated_by=actor.user, **terms.__dict__)
    _version(plan, actor, reason)
    _write(plan, actor, started_on, dose, ChangeSource.PRESCRIBER, kind=ChangeKind.START,
           reason=reason)
    record_by(actor, "create", patient=plan.patient, obj=plan)
    events.plan_changed.send(MedicationPlan, plan=plan)
    return plan


@transaction.atomic
def change_plan(actor: Actor, plan: MedicationPlan, version: int, terms: Terms, reason: str,
                dose: Decimal | None = None, from_day: datetime.date | None = None,
                restart: bool = False) -> MedicationPlan:
    """A new version of the plan's terms, and with `dose` a new dose from `from_day` (a
    `restart` after missed doses: at most the medicine's starting limit, titration again).
    The dose in force must keep to the new terms, or a new dose be given. An open reduction's
    future steps are drawn again under the new terms."""
    plan = _locked(plan)
    if plan.version != version:
        _refuse("", "Someone changed this plan after you opened it. Look at it again and "
                "make your change once more.")
    if plan.status != PlanStatus.ACTIVE:
        _refuse("", "This plan has stopped.")
    if not reason.strip():
        _refuse("reason", "Say why the plan is changing.")
    medicine = medicine_of(plan)
    today = timezone.localdate()
    problems = terms_problems(terms, medicine, today)
    if problems:
        raise Refused(problems)
    from_day = from_day or today
    if from_day < today:
        _refuse("from_day", "A change cannot start in the past.")
    if from_day > today + datetime.timedelta(days=REQUEST_AHEAD_DAYS):
        _refuse("from_day", "A change can start at most 4 weeks ahead.")
    # The reduction's next step, before its steps are taken off to be drawn again.
    next_step = plan.doses.filter(cancelled_at__isnull=True, day__gt=today,
                                  source=ChangeSource.REDUCTION).order_by("day").first()
    _cancel_steps(plan, today)
    for name in TERMS:
        setattr(plan, name, getattr(terms, name))
    if restart:
        plan.titrating_since = from_day
    plan.version += 1
    plan.updated_by, plan.updated_at = actor.user, timezone.now()
    plan.save()
    _version(plan, actor, reason)
    if dose is not None:
        # The prescriber's new dose replaces any change agreed from that day on.
        for later in plan.doses.filter(cancelled_at__isnull=True,
                                       day__gte=max(from_day, today + datetime.timedelta(days=1))):
            _end_change(actor, later, f"The prescriber set a new dose from "
                        f"{dosing.day_text(from_day)}.")
        _write(plan, actor, from_day, dose, ChangeSource.PRESCRIBER,
               kind=ChangeKind.RESTART if restart else ChangeKind.CHANGE, reason=reason)
    _end_changes_that_no_longer_fit(actor, plan, today)
    held = dosing.current_dose(ledger(plan), today)
    if held is not None and not plan.low <= held.dose <= plan.high:
        _refuse("dose", f"The dose now is {dosing.mg(held.dose)}, outside the new range: give "
                "a new dose within it.")
    record_by(actor, "update", patient=plan.patient, obj=plan)
    open_reduction = plan.reductions.filter(status=ReductionStatus.ACTIVE).first()
    if open_reduction is not None and next_step is not None:
        # Drawn again under the new terms from where its next step was (not sooner), and not
        # before a new dose given with this change.
        after_dose = from_day + datetime.timedelta(days=1) if dose is not None else from_day
        _draw(actor, plan, open_reduction, max(next_step.day, after_dose))
    events.plan_changed.send(MedicationPlan, plan=plan)
    return plan


@transaction.atomic
def stop_plan(actor: Actor, plan: MedicationPlan, version: int, reason: str) -> MedicationPlan:
    plan = _locked(plan)
    if plan.version != version:
        _refuse("", "Someone changed this plan after you opened it.")
    if not reason.strip():
        _refuse("reason", "Say why the plan is stopping.")
    today = timezone.localdate()
    for change in plan.doses.filter(cancelled_at__isnull=True, day__gt=today):
        _end_change(actor, change, f"The medication plan stopped on {dosing.day_text(today)}.")
    plan.requests.filter(status=RequestStatus.PENDING).update(
        status=RequestStatus.DECLINED, answered_by=actor.user, answered_at=timezone.now(),
        answer=f"The medication plan stopped on {dosing.day_text(today)}.")
    plan.reductions.filter(status__in=[ReductionStatus.ACTIVE, ReductionStatus.PAUSED]).update(
        status=ReductionStatus.STOPPED)
    plan.status, plan.stopped_on = PlanStatus.STOPPED, today
    plan.version += 1
    plan.updated_by, plan.updated_at = actor.user, timezone.now()
    plan.save()
    _version(plan, actor, reason)
    record_by(actor, "update", patient=plan.patient, obj=plan)
    events.plan_changed.send(MedicationPlan, plan=plan)
    return plan


def _cancel_steps(plan, after: datetime.date) -> int:
    """Take off the reduction's scheduled steps after `after`; how many there were. Nothing
    else agreed is taken off this way (see `_end_changes_that_no_longer_fit`)."""
    return plan.doses.filter(cancelled_at__isnull=True, day__gt=after,
                             source=ChangeSource.REDUCTION).update(cancelled_at=timezone.now())


def _end_change(actor, change: DoseChange, why: str):
    """Take off a change agreed for a later day; if it was asked for, its request says why."""
    change.cancelled_at = timezone.now()
    change.save(update_fields=["cancelled_at"])
    if change.request_id:
        DoseRequest.objects.filter(pk=change.request_id).update(
            status=RequestStatus.DECLINED, answered_by=actor.user, answered_at=timezone.now(),
            answer=f"{why} The change to {dosing.mg(change.dose)} from "
                   f"{dosing.day_text(change.day)} will not happen. Ask again if you still "
                   "want it.")


def _end_changes_that_no_longer_fit(actor, plan, today):
    """After new terms: each change agreed for a later day is checked again, and taken off
    (its request told why) if it no longer keeps the plan's limits."""
    kept: list[dosing.Change] = []
    limits, medicine = limits_of(plan), medicine_of(plan)
    for change in plan.doses.filter(cancelled_at__isnull=True).order_by("day", "made_at"):
        entry = dosing.Change(change.day, change.dose, change.kind)
        if change.day > today:
            since = change.day if change.kind != ChangeKind.CHANGE else plan.titrating_since
            refused = dosing.refusals(kept, entry, limits, medicine, since)
            if refused:
                _end_change(actor, change, f"The plan changed on {dosing.day_text(today)}: "
                            + refused[0].message)
                continue
        kept.append(entry)


# --- requests ------------------------------------------------------------------------------


@transaction.atomic
def request_dose(actor: Actor, plan: MedicationPlan, dose: Decimal, from_day: datetime.date,
                 note: str = "", on_behalf: bool = False) -> DoseRequest:
    """The patient (or their keyworker for them) asks for a new dose. Refused, with the reason,
    unless the plan lets the patient set their dose and the dose keeps every limit; then it
    applies at once or waits for the prescriber, as the plan says. A request during a reduction
    pauses the reduction (going back up is not a failure)."""
    plan = _locked(plan)
    today = timezone.localdate()
    if plan.status != PlanStatus.ACTIVE or not plan.self_setting:
        _refuse("", "This plan does not let the dose be set here: talk to the prescriber.")
    if not plan.episode.is_open:
        _refuse("", "This episode of care has closed: talk to your keyworker or prescriber.")
    if needs_prescriber(plan):
        _refuse("", "After missed days in a row, the prescriber needs to see you before the "
                "dose changes.")
    if not today <= from_day <= today + datetime.timedelta(days=REQUEST_AHEAD_DAYS):
        _refuse("from_day", "Choose a day from today to 4 weeks ahead.")
    if plan.requests.filter(status=RequestStatus.PENDING).exists():
        _refuse("", "There is already a request waiting for the prescriber. Wait for the "
                "answer, or withdraw it first.")
    reduction = plan.reductions.filter(status=ReductionStatus.ACTIVE).first()
    past = _asking_ledger(plan, today)
    held = dosing.current_dose(past, from_day)
    change = dosing.Change(from_day, dose)
    refused = dosing.refusals(past, change, limits_of(plan), medicine_of(plan),
                              plan.titrating_since)
    if refused:
        raise Refused({"dose": [r.message for r in refused]})
    request = DoseRequest.objects.create(
        plan=plan, dose=dose, from_day=from_day, current_dose=held.dose if held else dose,
        note=note, asked_by=actor.user, on_behalf=on_behalf, status=RequestStatus.PENDING)
    if reduction is not None:
        _pause(actor, plan, reduction, "A new dose was asked for.")
    if plan.requests_apply_at_once:
        _apply(actor, plan, request, RequestStatus.APPLIED)
    record_by(actor, "create", patient=plan.patient, obj=request)
    events.dose_requested.send(DoseRequest, request=request)
    return request


def _apply(actor, plan, request, status):
    source = ChangeSource.REQUEST
    held = dose_on(plan, request.from_day)
    if plan.reductions.filter(status=ReductionStatus.PAUSED).exists() and held is not None \
            and request.dose > held:
        source = ChangeSource.REVERSAL
    _write(plan, actor, request.from_day, request.dose, source, request=request,
           reason=request.note)
    request.status = status
    request.answered_by = actor.user if status == RequestStatus.APPROVED else None
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answered_by", "answered_at"])
    events.dose_changed.send(MedicationPlan, plan=plan)


@transaction.atomic
def approve(actor: Actor, request: DoseRequest) -> DoseRequest:
    """The prescriber agrees a waiting request: checked again against the ledger as it is now
    (from today, if the day asked for has passed)."""
    plan = _locked(request.plan)
    request = DoseRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.PENDING:
        _refuse("", "This request has already been answered.")
    if plan.status != PlanStatus.ACTIVE:
        _refuse("", "This plan has stopped: the request cannot be agreed.")
    if needs_prescriber(plan):
        _refuse("", "The patient has missed days in a row since you last set the plan: review "
                "the plan (a restart if needed) before agreeing a new dose.")
    request.from_day = max(request.from_day, timezone.localdate())
    request.save(update_fields=["from_day"])
    _apply(actor, plan, request, RequestStatus.APPROVED)
    record_by(actor, "update", patient=plan.patient, obj=request)
    events.request_answered.send(DoseRequest, request=request)
    return request


@transaction.atomic
def decline(actor: Actor, request: DoseRequest, answer: str) -> DoseRequest:
    if not answer.strip():
        _refuse("answer", "Say why, in words the patient will read.")
    request = DoseRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.PENDING:
        _refuse("", "This request has already been answered.")
    request.status, request.answer = RequestStatus.DECLINED, answer.strip()
    request.answered_by, request.answered_at = actor.user, timezone.now()
    request.save(update_fields=["status", "answer", "answered_by", "answered_at"])
    record_by(actor, "update", patient=request.plan.patient, obj=request)
    events.request_answered.send(DoseRequest, request=request)
    return request


@transaction.atomic
def withdraw(actor: Actor, request: DoseRequest) -> DoseRequest:
    request = DoseRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != RequestStatus.PENDING:
        _refuse("", "This request has already been answered.")
    request.status, request.answered_at = RequestStatus.WITHDRAWN, timezone.now()
    request.save(update_fields=["status", "answered_at"])
    record_by(actor, "update", patient=request.plan.patient, obj=request)
    return request


# --- reductions ----------------------------------------------------------------------------


@transaction.atomic
def plan_reduction(actor: Actor, plan: MedicationPlan, start: datetime.date, step: Decimal,
                   every_days: int, target: Decimal, chosen_by: str) -> Reduction:
    """A reduction the patient chose: its steps are drawn within the plan's limits and stored
    as scheduled dose changes."""
    plan = _locked(plan)
    today = timezone.localdate()
    problems: dict[str, list[str]] = {}
    if plan.status != PlanStatus.ACTIVE:
        problems[""] = ["This plan has stopped."]
    if plan.reductions.filter(status__in=[ReductionStatus.ACTIVE,
                                          ReductionStatus.PAUSED]).exists():
        problems[""] = ["There is already a reduction: resume or stop it."]
    if start < today:
        problems["started_on"] = ["A reduction cannot start in the past."]
    if step <= 0:
        problems["step"] = ["The step must be more than 0 mg."]
    if every_days < 1:
        problems["every_days"] = ["At least 1 day between steps."]
    if target < plan.low:
        problems["target"] = [f"The aim is below the lowest dose of the plan "
                              f"({dosing.mg(plan.low)}): the prescriber changes the range "
                              "first."]
    if problems:
        raise Refused(problems)
    reduction = Reduction.objects.create(plan=plan, started_on=start, step=step,
                                         every_days=every_days, target=target,
                                         chosen_by=chosen_by, created_by=actor.user)
    if not _draw(actor, plan, reduction, start):
        _refuse("step", "No step of this reduction fits the plan's limits from that day (the "
                "dose may be at the aim already, or changed too recently).")
    ReductionEvent.objects.create(reduction=reduction, kind=ReductionEventKind.PLANNED,
                                  on=start, by=actor.user)
    record_by(actor, "create", patient=plan.patient, obj=reduction)
    events.dose_changed.send(MedicationPlan, plan=plan)
    return reduction


def _draw(actor, plan, reduction, start) -> int:
    """Store the reduction's steps from `start` (after cancelling any after it)."""
    _cancel_steps(plan, max(start - datetime.timedelta(days=1), timezone.localdate()))
    steps = dosing.reduction_schedule(
        ledger(plan), dosing.Reduction(start, reduction.step, reduction.every_days,
                                       reduction.target),
        limits_of(plan), medicine_of(plan), plan.titrating_since)
    for step in steps:
        _write(plan, actor, step.day, step.dose, ChangeSource.REDUCTION, reduction=reduction)
    return len(steps)


def _pause(actor, plan, reduction, note=""):
    _cancel_steps(plan, timezone.localdate())
    reduction.status = ReductionStatus.PAUSED
    reduction.save(update_fields=["status"])
    ReductionEvent.objects.create(reduction=reduction, kind=ReductionEventKind.PAUSED,
                                  on=timezone.localdate(), note=note, by=actor.user)


@transaction.atomic
def pause(actor: Actor, reduction: Reduction, note: str = "") -> Reduction:
    """Stay at today's dose: the steps still to come are taken off. Resume at any time."""
    plan = _locked(reduction.plan)
    reduction = Reduction.objects.select_for_update().get(pk=reduction.pk)
    if reduction.status != ReductionStatus.ACTIVE:
        _refuse("", "The reduction is not going ahead, so there is nothing to pause.")
    _pause(actor, plan, reduction, note)
    record_by(actor, "update", patient=plan.patient, obj=reduction)
    events.dose_changed.send(MedicationPlan, plan=plan)
    return reduction


@transaction.atomic
def resume(actor: Actor, reduction: Reduction, start: datetime.date | None = None) -> Reduction:
    plan = _locked(reduction.plan)
    reduction = Reduction.objects.select_for_update().get(pk=reduction.pk)
    if reduction.status != ReductionStatus.PAUSED:
        _refuse("", "The reduction is not paused.")
    today = timezone.localdate()
    start = max(start or today, today)
    reduction.status = ReductionStatus.ACTIVE
    reduction.save(update_fields=["status"])
    if not _draw(actor, plan, reduction, start):
        _refuse("", "No step fits the plan's limits from that day: the dose may be at the aim "
                "already, or changed too recently. Try a later day.")
    ReductionEvent.objects.create(reduction=reduction, kind=ReductionEventKind.RESUMED,
                                  on=start, by=actor.user)
    record_by(actor, "update", patient=plan.patient, obj=reduction)
    events.dose_changed.send(MedicationPlan, plan=plan)
    return reduction


@transaction.atomic
def reverse(actor: Actor, reduction: Reduction, dose: Decimal, note: str = "") -> Reduction:
    """The prescriber takes the dose back up to `dose` (within the limits, above the dose now
    and no higher than before the reduction began): the reduction pauses there. Going back up
    is a choice, not a failure. (The patient, or their keyworker for them, goes back up by
    asking for a dose: `request_dose`, with the plan's rules for requests.)"""
    plan = _locked(reduction.plan)
    reduction = Reduction.objects.select_for_update().get(pk=reduction.pk)
    if reduction.status not in (ReductionStatus.ACTIVE, ReductionStatus.PAUSED):
        _refuse("", "The reduction has ended.")
    if needs_prescriber(plan):
        _refuse("", "After missed days in a row, set the dose by changing the plan (a restart "
                "if needed), not by going back up.")
    today = timezone.localdate()
    held = dose_on(plan, today)
    before = dosing.current_dose(ledger(plan), reduction.started_on - datetime.timedelta(days=1))
    top = before.dose if before is not None else held
    if held is None or dose <= held:
        _refuse("dose", f"Going back up means a dose above the dose now ({dosing.mg(held)})."
                if held is not None else "There is no dose to go back up from.")
    if top is not None and dose > top:
        _refuse("dose", f"Going back up can be to at most the dose before the reduction began "
                f"({dosing.mg(top)}).")
    _cancel_steps(plan, today)
    _write(plan, actor, today, dose, ChangeSource.REVERSAL, reduction=reduction, reason=note)
    reduction.status = ReductionStatus.PAUSED
    reduction.save(update_fields=["status"])
    ReductionEvent.objects.create(reduction=reduction, kind=ReductionEventKind.REVERSED,
                                  on=today, note=note, by=actor.user)
    record_by(actor, "update", patient=plan.patient, obj=reduction)
    events.dose_changed.send(MedicationPlan, plan=plan)
    return reduction


@transaction.atomic
def stop_reduction(actor: Actor, reduction: Reduction, note: str = "") -> Reduction:
    """End the reduction where the dose is now (the steps to come are taken off)."""
    plan = _locked(reduction.plan)
    reduction = Reduction.objects.select_for_update().get(pk=reduction.pk)
    if reduction.status not in (ReductionStatus.ACTIVE, ReductionStatus.PAUSED):
        _refuse("", "The reduction has ended.")
    today = timezone.localdate()
    _cancel_steps(plan, today)
    held = dose_on(plan, today)
    reached = held is not None and held <= reduction.target
    reduction.status = ReductionStatus.FINISHED if reached else ReductionStatus.STOPPED
    reduction.save(update_fields=["status"])
    ReductionEvent.objects.create(
        reduction=reduction,
        kind=ReductionEventKind.FINISHED if reached else ReductionEventKind.STOPPED,
        on=today, note=note, by=actor.user)
    record_by(actor, "update", patient=plan.patient, obj=reduction)
    events.dose_changed.send(MedicationPlan, plan=plan)
    return reduction

