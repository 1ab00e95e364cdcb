"""Substitute medication in the JSON API: medication plans, dose requests, medication reviews
and what the pharmacy reports (dispensing).

Tandem is not a prescribing system and does not produce legal prescriptions: a plan here is
the medication plan the prescriber, keyworker and patient agreed (FHIR `intent` "plan", never
"order").

Names follow FHIR R4 MedicationRequest where they fit: `status`, `intent`, `medication` (code
and display), `dosageInstruction[0].doseAndRate[0].doseRange` (the safe range) and
`.doseQuantity` (the dose in force today), `dosageInstruction[0].maxDosePerPeriod` (the highest
dose for the medicine's period: a day, or a week or four weeks for an injection) and
`dispenseRequest` (the pharmacy as `performer`, supervised and take-home days a week). Terms
FHIR has no element for keep Tandem's names: `stepLimits`, `reviewDate`, `selfSetting`,
`requestsApplyAtOnce`. docs/api.md has the whole mapping.

Every change goes through `tandem.medication.doses` (the one writer of doses, which checks each
dose against the plan and audits it): its refusals are 422s naming the field in this API's
names; a plan changed since the `version` sent is a 409 with what changed. Access is decided by
the permission layer before any endpoint runs (web/permissions.py), which records every read.
"""

import datetime
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BeforeValidator, StrictBool, StrictInt

from tandem.api.paging import MAX_ID, Paging
from tandem.api.records import StaleOut
from tandem.api.schemas import Conflict
from tandem.audit.actor import Actor
from tandem.core import dosing
from tandem.core.dates import date_problem
from tandem.core.errors import Invalid
from tandem.medication import dispensing, doses, registry, reviews
from tandem.medication.models import (
    Adequacy,
    ChosenBy,
    DispensingDay,
    DispensingSource,
    DoseRequest,
    MedicationPlan,
    MedicationReview,
    PlanStatus,
    RequestStatus,
    SubstanceGoal,
    Taken,
)
from tandem.patients.models import OPEN_STATUSES, Episode
from tandem.patients.services import current_episode
from tandem.records.versioning import MAX_VERSION

router = Router(tags=["medication"])

def _iso_day(value):
    """A day is written YYYY-MM-DD: a number (read as seconds since 1970) is refused."""
    if isinstance(value, str) and not ISO_DAY.fullmatch(value):
        raise ValueError("Write the day as YYYY-MM-DD.")
    if not isinstance(value, str | datetime.date):
        raise ValueError("Write the day as YYYY-MM-DD.")
    return value


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Every day this API takes: a date written YYYY-MM-DD (as its OpenAPI format says).
Day = Annotated[datetime.date, BeforeValidator(_iso_day)]
MAX_DOSE = Decimal(10000)
Dose = Annotated[Decimal, Field(ge=0, le=MAX_DOSE, max_digits=7, decimal_places=2,
                                description="mg, at most 2 decimal places")]


# --- shapes --------------------------------------------------------------------------------


class QuantityIn(Schema):
    value: Dose
    unit: Literal["mg"] = Field("mg", description="Always mg")


class QuantityOut(Schema):
    value: float
    unit: Literal["mg"] = "mg"


class RangeIn(Schema):
    low: QuantityIn = Field(..., description="The lowest dose of the safe range")
    high: QuantityIn = Field(..., description="The highest dose of the safe range")


class RangeOut(Schema):
    low: QuantityOut
    high: QuantityOut


class DoseAndRateIn(Schema):
    doseRange: RangeIn
    doseQuantity: QuantityIn | None = Field(
        None, description="Starting a plan: the first dose (required). Changing one: a new "
        "dose from `doseFrom` (today if not given); the dose in force sent back unchanged "
        "changes nothing.")


class DoseAndRateOut(Schema):
    doseRange: RangeOut
    doseQuantity: QuantityOut | None = Field(..., description="The dose in force today (none "
                                             "once the plan has stopped)")


class DosageIn(Schema):
    doseAndRate: list[DoseAndRateIn] = Field(..., min_length=1, max_length=1)


class PeriodOut(Schema):
    value: int
    unit: Literal["d"] = "d"


class RatioOut(Schema):
    numerator: QuantityOut
    denominator: PeriodOut


class DosageOut(Schema):
    doseAndRate: list[DoseAndRateOut]
    maxDosePerPeriod: RatioOut = Field(..., description="The highest dose of the safe range, "
                                       "per the medicine's period (1 day; 7 or 28 for an "
                                       "injection)")


class StepLimitsIn(Schema):
    upMax: Dose = Field(..., description="Largest single rise (mg)")
    downMax: Dose = Field(..., description="Largest single drop (mg)")
    minDaysBetween: StrictInt = Field(..., ge=1, le=365,
                                      description="Fewest days at a dose before the next change")
    maxRise7Days: Dose = Field(..., description="Largest rise in any 7 days (mg)")


class StepLimitsOut(Schema):
    upMax: float
    downMax: float
    minDaysBetween: int
    maxRise7Days: float


class Performer(Schema):
    display: str = Field("", max_length=200, description="The pharmacy")


class DispenseIn(Schema):
    performer: Performer = Field(default_factory=Performer)
    supervisedDaysPerWeek: StrictInt = Field(7, ge=0, le=7)
    takeHomeDaysPerWeek: StrictInt = Field(0, ge=0, le=7)


class DispenseOut(Schema):
    performer: Performer
    supervisedDaysPerWeek: int
    takeHomeDaysPerWeek: int


class MedicationIn(Schema):
    code: str = Field(..., max_length=40, description="A medicine's code (e.g. methadone)")
    display: str | None = Field(None, max_length=200, description="Ignored: the medicine's "
                                "name comes from its code")


class MedicationOut(Schema):
    code: str
    display: str


class TermsIn(Schema):
    dosageInstruction: list[DosageIn] = Field(..., min_length=1, max_length=1)
    stepLimits: StepLimitsIn
    dispenseRequest: DispenseIn = Field(default_factory=DispenseIn)
    reviewDate: Day = Field(..., description="At most 3 months ahead")
    selfSetting: StrictBool = Field(False, description="The patient may set their own dose "
                                    "within the limits")
    requestsApplyAtOnce: StrictBool = Field(False, description="A request within the limits "
                                            "applies at once (false: it waits for the "
                                            "prescriber)")
    aboveUsualReason: str = Field("", max_length=500, description="Needed when the highest "
                                  "dose is above the usual maintenance range")
    lastEcgOn: Day | None = Field(None, description="Asked for at methadone 100 mg "
                                            "a day and above (QT prolongation)")


class PlanIn(TermsIn):
    medication: MedicationIn
    episodeId: uuid.UUID | None = Field(None, description="The episode (default: the "
                                        "patient's open episode)")
    startedOn: Day | None = Field(None, description="Default today")
    reason: str = Field("", max_length=500, description="Why, kept with version 1")


class PlanChange(TermsIn):
    version: StrictInt = Field(..., ge=1, le=MAX_VERSION, description="The version you read")
    status: PlanStatus = Field(PlanStatus.ACTIVE, description="\"stopped\" stops the plan")
    medication: MedicationIn | None = Field(None, description="If sent, the plan's own: a "
                                            "plan's medicine does not change")
    doseFrom: Day | None = Field(None, description="The day a new dose starts "
                                           "(today to 4 weeks ahead; default today)")
    restart: StrictBool = Field(False, description="The new dose is a restart (after missed "
                                "doses): at most the medicine's starting dose, built up again")
    reason: str = Field(..., max_length=500, description="Why the plan changes")


class PlanVersionOut(Schema):
    number: int
    reason: str
    changedBy: str
    changedAt: datetime.datetime
    terms: dict[str, Any]


class DoseChangeOut(Schema):
    day: datetime.date = Field(..., description="The dose applies from this day")
    dose: QuantityOut
    kind: str = Field(..., description="start, restart or change")
    source: str = Field(..., description="prescriber, request, reduction or reversal")
    reason: str
    requestId: int | None
    scheduled: bool = Field(..., description="A reduction step still to come")


class MedicationPlanOut(Schema):
    id: uuid.UUID
    intent: Literal["plan"] = Field("plan", description="FHIR intent: an agreed plan, never "
                                    "a prescription")
    status: PlanStatus
    patientId: uuid.UUID
    episodeId: uuid.UUID
    medication: MedicationOut
    startedOn: datetime.date
    titratingSince: datetime.date = Field(..., description="The latest start or restart")
    dosageInstruction: list[DosageOut]
    stepLimits: StepLimitsOut
    dispenseRequest: DispenseOut
    reviewDate: datetime.date
    reviewOverdue: bool
    selfSetting: bool
    requestsApplyAtOnce: bool
    aboveUsualReason: str
    lastEcgOn: datetime.date | None
    ecgAsked: bool = Field(..., description="The highest dose reaches the dose at which the "
                           "last ECG is asked for")
    authoredOn: datetime.datetime
    updatedAt: datetime.datetime
    version: int = Field(..., description="Send it back with a change (PUT)")


class PlanDetailOut(MedicationPlanOut):
    versions: list[PlanVersionOut]
    doseHistory: list[DoseChangeOut]


class DoseRequestIn(Schema):
    planId: uuid.UUID | None = Field(None, description="Default: the patient's current plan")
    dose: QuantityIn
    fromDay: Day | None = Field(None, description="Today to 4 weeks ahead; default "
                                          "today")
    note: str = Field("", max_length=500, description="Anything the prescriber should know")


class DoseRequestOut(Schema):
    id: int
    planId: uuid.UUID
    status: RequestStatus
    dose: QuantityOut
    currentDose: QuantityOut = Field(..., description="The dose when it was asked for")
    fromDay: datetime.date
    note: str
    askedBy: str
    onBehalf: bool = Field(..., description="Asked by staff for the patient")
    askedAt: datetime.datetime
    answeredBy: str | None
    answeredAt: datetime.datetime | None
    answer: str


class AnswerIn(Schema):
    requestId: StrictInt = Field(..., ge=1, le=MAX_ID, description="The request you read "
                                 "(its `id` in the list)")


class DeclineIn(AnswerIn):
    answer: str = Field(..., max_length=500, description="Why, in words the patient reads")


# --- the plan ------------------------------------------------------------------------------

DOSAGE = ("body", "dosageInstruction", 0, "doseAndRate", 0)
# The service's field names, as this API names them.
PLAN_FIELDS = {
    "": ("body",),
    "medicine": ("body", "medication", "code"),
    "low": (*DOSAGE, "doseRange", "low", "value"),
    "high": (*DOSAGE, "doseRange", "high", "value"),
    "dose": (*DOSAGE, "doseQuantity", "value"),
    "step_up_max": ("body", "stepLimits", "upMax"),
    "step_down_max": ("body", "stepLimits", "downMax"),
    "min_days_between": ("body", "stepLimits", "minDaysBetween"),
    "max_rise_7_days": ("body", "stepLimits", "maxRise7Days"),
    "pharmacy": ("body", "dispenseRequest", "performer", "display"),
    "supervised_days": ("body", "dispenseRequest", "supervisedDaysPerWeek"),
    "take_home_days": ("body", "dispenseRequest", "takeHomeDaysPerWeek"),
    "review_date": ("body", "reviewDate"),
    "self_setting": ("body", "selfSetting"),
    "requests_apply_at_once": ("body", "requestsApplyAtOnce"),
    "above_usual_reason": ("body", "aboveUsualReason"),
    "last_ecg_on": ("body", "lastEcgOn"),
    "started_on": ("body", "startedOn"),
    "from_day": ("body", "doseFrom"),
    "reason": ("body", "reason"),
}
REQUEST_FIELDS = {"": ("body",), "dose": ("body", "dose", "value"),
                  "from_day": ("body", "fromDay"), "note": ("body", "note"),
                  "answer": ("body", "answer")}
# How far ahead a new dose set by the prescriber may start (as a request: doses.py).
DOSE_AHEAD_DAYS = doses.REQUEST_AHEAD_DAYS
# The most days one report sends (a year and a day: a backlog, never a whole history).
MAX_DAYS = 366


def invalid(refused: doses.Refused, fields: dict[str, tuple]) -> Invalid:
    """The service's refusal as a 422: one entry per reason, at its field's place."""
    return Invalid([{"loc": list(fields.get(field, ("body", field))), "msg": message}
                    for field, messages in refused.reasons.items() for message in messages])


def _problem(loc: tuple, msg: str) -> dict:
    return {"loc": list(loc), "msg": msg}


class Rows:
    """A query whose rows are turned into this API's shape only for the page asked for (the
    pager slices it and counts it)."""

    def __init__(self, query, shape):
        self.query, self.shape = query, shape

    def __getitem__(self, part: slice) -> list[dict]:
        return [self.shape(row) for row in self.query[part]]

    def __len__(self) -> int:
        return self.query.count()


def _quantity(value: Decimal | None) -> dict | None:
    return None if value is None else {"value": value, "unit": "mg"}


def _name(user) -> str | None:
    return user.display_name if user is not None else None


def plan_out(plan: MedicationPlan, today: datetime.date | None = None,
             detail: bool = False) -> dict:
    today = today or timezone.localdate()
    medicine = registry.get(plan.medicine)
    ledger = doses.ledger(plan)
    held = dosing.current_dose(ledger, today)
    current = held.dose if held is not None and plan.status == PlanStatus.ACTIVE else None
    out = {
        "id": plan.pk, "status": plan.status, "patientId": plan.patient_id,
        "episodeId": plan.episode_id,
        "medication": {"code": plan.medicine,
                       "display": medicine.name if medicine else plan.medicine},
        "startedOn": plan.started_on, "titratingSince": plan.titrating_since,
        "dosageInstruction": [{
            "doseAndRate": [{"doseRange": {"low": _quantity(plan.low),
                                           "high": _quantity(plan.high)},
                             "doseQuantity": _quantity(current)}],
            "maxDosePerPeriod": {"numerator": _quantity(plan.high),
                                 "denominator": {"value": medicine.period_days
                                                 if medicine else 1, "unit": "d"}},
        }],
        "stepLimits": {"upMax": plan.step_up_max, "downMax": plan.step_down_max,
                       "minDaysBetween": plan.min_days_between,
                       "maxRise7Days": plan.max_rise_7_days},
        "dispenseRequest": {"performer": {"display": plan.pharmacy},
                            "supervisedDaysPerWeek": plan.supervised_days,
                            "takeHomeDaysPerWeek": plan.take_home_days},
        "reviewDate": plan.review_date,
        "reviewOverdue": plan.status == PlanStatus.ACTIVE and plan.review_date < today,
        "selfSetting": plan.self_setting, "requestsApplyAtOnce": plan.requests_apply_at_once,
        "aboveUsualReason": plan.above_usual_reason, "lastEcgOn": plan.last_ecg_on,
        "ecgAsked": bool(medicine and doses.ecg_asked(plan, medicine)),
        "authoredOn": plan.created_at, "updatedAt": plan.updated_at, "version": plan.version,
    }
    if detail:
        out["versions"] = [
            {"number": v.number, "reason": v.reason, "changedBy": v.changed_by.display_name,
             "changedAt": v.changed_at, "terms": v.terms}
            for v in plan.versions.select_related("changed_by").order_by("number")]
        out["doseHistory"] = [
            {"day": c.day, "dose": _quantity(c.dose), "kind": c.kind, "source": c.source,
             "reason": c.reason, "requestId": c.request_id, "scheduled": c.day > today}
            for c in plan.doses.filter(cancelled_at__isnull=True).order_by("day", "made_at")]
    return out


def _terms(body: TermsIn) -> doses.Terms:
    dose_range = body.dosageInstruction[0].doseAndRate[0].doseRange
    steps, dispense = body.stepLimits, body.dispenseRequest
    return doses.Terms(
        low=dose_range.low.value, high=dose_range.high.value, step_up_max=steps.upMax,
        step_down_max=steps.downMax, min_days_between=steps.minDaysBetween,
        max_rise_7_days=steps.maxRise7Days, review_date=body.reviewDate,
        pharmacy=dispense.performer.display.strip(),
        supervised_days=dispense.supervisedDaysPerWeek,
        take_home_days=dispense.takeHomeDaysPerWeek, self_setting=body.selfSetting,
        requests_apply_at_once=body.requestsApplyAtOnce,
        above_usual_reason=body.aboveUsualReason.strip(), last_ecg_on=body.lastEcgOn)


def _date_problems(patient, body: TermsIn, today: datetime.date) -> list[dict]:
    problems = []
    if body.lastEcgOn is not None:
        problem = date_problem(body.lastEcgOn, "The date of the last ECG", today,
                               born=patient.date_of_birth)
        if problem:
            problems.append(_problem(PLAN_FIELDS["last_ecg_on"], problem))
    return problems


def _episode(patient, episode_id: uuid.UUID | None) -> Episode:
    loc = ("body", "episodeId")
    if episode_id is None:
        episode = current_episode(patient)
        if episode is None:
            raise Invalid([_problem(loc, "This patient has no open episode: start one first.")])
        return episode
    episode = patient.episodes.filter(pk=episode_id).first()
    if episode is None:
        raise Invalid([_problem(loc, "Not an episode of this patient.")])
    if episode.status not in OPEN_STATUSES:
        raise Invalid([_problem(loc, "This episode has closed.")])
    return episode


def _plan(request, plan_id) -> MedicationPlan:
    return get_object_or_404(MedicationPlan, pk=plan_id, patient=request.patient)


@router.get("/patients/{uuid:patient_id}/medication-plans", response=list[MedicationPlanOut],
            url_name="medication-plan-list")
def list_plans(request: HttpRequest, patient_id: uuid.UUID,
               status: PlanStatus | None = None):
    """The patient's medication plans, newest first, each with the dose in force today."""
    plans = request.patient.medicationplans.order_by("-started_on", "-created_at")
    if status:
        plans = plans.filter(status=status)
    today = timezone.localdate()
    return [plan_out(plan, today) for plan in plans]


@router.post("/patients/{uuid:patient_id}/medication-plans", response={201: PlanDetailOut},
             url_name="medication-plan-list")
def create_plan(request: HttpRequest, patient_id: uuid.UUID, body: PlanIn):
    """Start a medication plan (version 1) with its first dose: the medicine's published limits
    bound every term (a start is at most the medicine's starting dose). Prescribers only."""
    patient = request.patient
    today = timezone.localdate()
    episode = _episode(patient, body.episodeId)
    started = body.startedOn or today
    problems = _date_problems(patient, body, today)
    dose = body.dosageInstruction[0].doseAndRate[0].doseQuantity
    if dose is None:
        problems.append(_problem(PLAN_FIELDS["dose"][:-1], "Give the first dose."))
    if started < episode.start_date:
        problems.append(_problem(PLAN_FIELDS["started_on"], "The plan cannot start before "
                                 f"its episode ({dosing.day_text(episode.start_date)})."))
    if problems:
        raise Invalid(problems)
    try:
        plan = doses.start_plan(Actor.of(request), episode, body.medication.code,
                                _terms(body), dose.value, started, body.reason.strip())
    except doses.Refused as refused:
        raise invalid(refused, PLAN_FIELDS) from None
    return Status(201, plan_out(plan, today, detail=True))


@router.get("/patients/{uuid:patient_id}/medication-plans/{uuid:plan_id}",
            response=PlanDetailOut, url_name="medication-plan-detail")
def get_plan(request: HttpRequest, patient_id: uuid.UUID, plan_id: uuid.UUID):
    """One plan with every version (who, when, why) and its dose history, scheduled reduction
    steps included."""
    return plan_out(_plan(request, plan_id), detail=True)


def _plain(value):
    if isinstance(value, Decimal):
        return dosing.mg(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


# The plan's terms, as this API names them (for a 409's list of what changed).
TERM_NAMES = {name: ".".join(str(p) for p in PLAN_FIELDS[name][1:]) for name in doses.TERMS}


def _stale(plan: MedicationPlan, body: PlanChange) -> Status:
    """409: the plan changed after the version sent; what differs, and the plan as it is."""
    sent = _terms(body)
    changed = [
        {"field": TERM_NAMES[name],
         "label": str(MedicationPlan._meta.get_field(name).verbose_name),
         "saved": _plain(getattr(plan, name)), "yours": _plain(getattr(sent, name))}
        for name in doses.TERMS if getattr(plan, name) != getattr(sent, name)]
    if plan.status != body.status:
        changed.append({"field": "status", "label": "status", "saved": plan.status,
                        "yours": body.status})
    return Status(409, {"detail": {
        "message": f"Someone else changed this plan since version {body.version}: nothing was "
                   f"saved. Read it again, or send your change with version {plan.version}.",
        "version": plan.version, "changed": changed,
        "current": plan_out(plan, detail=True)}})


@router.put("/patients/{uuid:patient_id}/medication-plans/{uuid:plan_id}",
            response={200: PlanDetailOut, 409: StaleOut | Conflict},
            url_name="medication-plan-detail")
def update_plan(request: HttpRequest, patient_id: uuid.UUID, plan_id: uuid.UUID,
                body: PlanChange):
    """Change the plan: a new version with every term, who and why (nothing is overwritten).
    A `doseQuantity` other than the dose in force (or with `doseFrom`) is a new dose;
    `status` "stopped" stops the plan. Send the `version` you read: if the plan changed since,
    409 lists what changed and nothing is saved. Prescribers only."""
    plan = _plan(request, plan_id)
    patient = request.patient
    today = timezone.localdate()
    problems = _date_problems(patient, body, today)
    if body.medication is not None and body.medication.code != plan.medicine:
        problems.append(_problem(PLAN_FIELDS["medicine"], "A plan's medicine does not change: "
                                 "stop this plan and start a new one."))
    new_dose = body.dosageInstruction[0].doseAndRate[0].doseQuantity
    if body.doseFrom is not None and not (
            today <= body.doseFrom <= today + datetime.timedelta(days=DOSE_AHEAD_DAYS)):
        problems.append(_problem(PLAN_FIELDS["from_day"], "A new dose starts from today to 4 "
                                 "weeks ahead."))
    if body.restart and new_dose is None:
        problems.append(_problem(PLAN_FIELDS["dose"][:-1], "A restart needs its dose."))
    if problems:
        raise Invalid(problems)
    if plan.version != body.version:
        return _stale(plan, body)
    actor = Actor.of(request)
    try:
        if body.status == PlanStatus.STOPPED:
            if plan.status == PlanStatus.STOPPED:
                return Status(409, {"detail": "This plan has already stopped."})
            plan = doses.stop_plan(actor, plan, body.version, body.reason)
        else:
            dose = None
            if new_dose is not None and (body.restart or body.doseFrom is not None
                                         or new_dose.value != doses.dose_on(plan, today)):
                dose = new_dose.value
            plan = doses.change_plan(actor, plan, body.version, _terms(body), body.reason,
                                     dose=dose, from_day=body.doseFrom, restart=body.restart)
    except doses.Refused as refused:
        plan.refresh_from_db()
        if plan.version != body.version:
            return _stale(plan, body)
        if "" in refused.reasons:
            return Status(409, {"detail": " ".join(refused.reasons[""])})
        raise invalid(refused, PLAN_FIELDS) from None
    return plan_out(plan, today, detail=True)


# --- dose requests -------------------------------------------------------------------------


def request_out(dose_request: DoseRequest) -> dict:
    return {
        "id": dose_request.pk, "planId": dose_request.plan_id, "status": dose_request.status,
        "dose": _quantity(dose_request.dose), "currentDose": _quantity(dose_request.current_dose),
        "fromDay": dose_request.from_day, "note": dose_request.note,
        "askedBy": dose_request.asked_by.display_name, "onBehalf": dose_request.on_behalf,
        "askedAt": dose_request.asked_at, "answeredBy": _name(dose_request.answered_by),
        "answeredAt": dose_request.answered_at, "answer": dose_request.answer,
    }


def current_plan(request, plan_id: uuid.UUID | None, loc=("body", "planId")) -> MedicationPlan:
    """The plan named, or the patient's one current plan; 422 at `loc` otherwise."""
    plans = MedicationPlan.objects.filter(patient=request.patient)
    if plan_id is not None:
        plan = plans.filter(pk=plan_id).first()
        if plan is None:
            raise Invalid([_problem(loc, "Not a medication plan of this patient.")])
        return plan
    current = list(plans.filter(status=PlanStatus.ACTIVE)[:2])
    if not current:
        raise Invalid([_problem(loc, "This patient has no current medication plan.")])
    if len(current) > 1:
        raise Invalid([_problem(loc, "This patient has more than one current plan: name it.")])
    return current[0]


def _dose_request(request, request_id: int) -> DoseRequest:
    """The patient's request the body names (422 at `requestId` if none)."""
    found = (DoseRequest.objects.select_related("plan", "asked_by", "answered_by")
             .filter(pk=request_id, plan__patient=request.patient).first())
    if found is None:
        raise Invalid([_problem(("body", "requestId"), "Not a dose request of this patient.")])
    return found


@router.get("/patients/{uuid:patient_id}/dose-requests", response=list[DoseRequestOut],
            url_name="dose-request-list")
@paginate(Paging)
def list_requests(request: HttpRequest, patient_id: uuid.UUID,
                  status: RequestStatus | None = None):
    """Doses asked for by the patient (portal) or by staff for them, newest first."""
    found = (DoseRequest.objects.filter(plan__patient=request.patient)
             .select_related("asked_by", "answered_by").order_by("-asked_at", "-pk"))
    if status:
        found = found.filter(status=status)
    return Rows(found, request_out)


@router.post("/patients/{uuid:patient_id}/dose-requests", response={201: DoseRequestOut},
             url_name="dose-request-list")
def create_request(request: HttpRequest, patient_id: uuid.UUID, body: DoseRequestIn):
    """Ask for a new dose on the patient's behalf (keyworker). Refused, with the reasons in
    plain words, unless the plan lets the patient set their dose and the dose keeps every
    limit; then it applies at once or waits for the prescriber, as the plan says."""
    plan = current_plan(request, body.planId)
    try:
        asked = doses.request_dose(Actor.of(request), plan, body.dose.value,
                                   body.fromDay or timezone.localdate(), body.note.strip(),
                                   on_behalf=True)
    except doses.Refused as refused:
        raise invalid(refused, REQUEST_FIELDS) from None
    return Status(201, request_out(asked))


def _answered(refused: doses.Refused) -> Status:
    """409: the request cannot be answered so now (already answered, or its dose no longer
    keeps the plan's limits), with every reason."""
    return Status(409, {"detail": " ".join(m for ms in refused.reasons.values() for m in ms)})


@router.post("/patients/{uuid:patient_id}/dose-requests/approve",
             response={200: DoseRequestOut, 409: Conflict}, url_name="dose-request-approve")
def approve_request(request: HttpRequest, patient_id: uuid.UUID, body: AnswerIn):
    """Agree a waiting request, named by its `requestId` (prescribers): checked again against
    the dose ledger as it is now, from today if the day asked for has passed."""
    try:
        answered = doses.approve(Actor.of(request), _dose_request(request, body.requestId))
    except doses.Refused as refused:
        return _answered(refused)
    return request_out(answered)


@router.post("/patients/{uuid:patient_id}/dose-requests/decline",
             response={200: DoseRequestOut, 409: Conflict}, url_name="dose-request-decline")
def decline_request(request: HttpRequest, patient_id: uuid.UUID, body: DeclineIn):
    """Do not agree a waiting request, named by its `requestId` (prescribers), saying why in
    words the patient reads."""
    try:
        answered = doses.decline(Actor.of(request), _dose_request(request, body.requestId),
                                 body.answer)
    except doses.Refused as refused:
        if "answer" in refused.reasons:
            raise invalid(refused, REQUEST_FIELDS) from None
        return _answered(refused)
    return request_out(answered)


# --- medication reviews --------------------------------------------------------------------


class MedicationReviewIn(Schema):
    planId: uuid.UUID | None = Field(None, description="Default: the patient's current plan")
    version: StrictInt = Field(..., ge=1, le=MAX_VERSION,
                               description="The plan's version you read")
    heldOn: Day | None = Field(None, description="Default today")
    adequacy: Adequacy = Field(..., description="Is the dose right")
    useOnTop: str = Field("", max_length=2000, description="Use on top of the medication")
    sideEffects: str = Field("", max_length=2000)
    patientView: str = Field(..., max_length=2000, description="The patient's view, in their "
                             "words")
    substanceGoal: SubstanceGoal = Field(..., description="What the patient wants next")
    goalChosenBy: ChosenBy = Field(..., description="Whose choice it was")
    goalDiscussed: StrictBool = Field(True, description="What the patient wants next about "
                                      "the medication was talked about")
    nextReview: Day = Field(..., description="At most the service's interval ahead "
                                      "(3 months or less)")
    notes: str = Field("", max_length=5000)


class MedicationReviewOut(Schema):
    id: uuid.UUID
    planId: uuid.UUID
    heldOn: datetime.date
    adequacy: Adequacy
    useOnTop: str
    sideEffects: str
    patientView: str
    substanceGoal: SubstanceGoal
    goalChosenBy: ChosenBy
    goalDiscussed: bool
    nextReview: datetime.date
    notes: str
    heldBy: str
    createdAt: datetime.datetime


REVIEW_FIELDS = {"": ("body",), "held_on": ("body", "heldOn"), "adequacy": ("body", "adequacy"),
                 "use_on_top": ("body", "useOnTop"), "side_effects": ("body", "sideEffects"),
                 "patient_view": ("body", "patientView"),
                 "substance_goal": ("body", "substanceGoal"),
                 "goal_chosen_by": ("body", "goalChosenBy"),
                 "goal_discussed": ("body", "goalDiscussed"),
                 "next_review": ("body", "nextReview"), "notes": ("body", "notes")}


def review_out(review: MedicationReview) -> dict:
    return {"id": review.pk, "planId": review.plan_id, "heldOn": review.held_on,
            "adequacy": review.adequacy, "useOnTop": review.use_on_top,
            "sideEffects": review.side_effects, "patientView": review.patient_view,
            "substanceGoal": review.substance_goal, "goalChosenBy": review.goal_chosen_by,
            "goalDiscussed": review.goal_discussed, "nextReview": review.next_review,
            "notes": review.notes, "heldBy": review.held_by.display_name,
            "createdAt": review.created_at}


@router.get("/patients/{uuid:patient_id}/medication-reviews", response=list[MedicationReviewOut],
            url_name="medication-review-list")
def list_reviews(request: HttpRequest, patient_id: uuid.UUID):
    """Medication reviews of every plan of the patient, latest first."""
    return [review_out(r) for r in MedicationReview.objects.filter(
        plan__patient=request.patient).select_related("held_by")]


@router.post("/patients/{uuid:patient_id}/medication-reviews",
             response={201: MedicationReviewOut, 409: Conflict}, url_name="medication-review-list")
def create_review(request: HttpRequest, patient_id: uuid.UUID, body: MedicationReviewIn):
    """Hold a medication review (prescribers): dose adequacy, use on top, side effects, the
    patient's view and what they want next (stay stable, reduce, come off, not decided) with
    whose choice it was. It moves the plan's review date, as a new version of the plan: send
    the plan's `version` you read (409 if it changed since). None of this pushes a reduction:
    stabilising is a legitimate goal."""
    plan = current_plan(request, body.planId)
    today = timezone.localdate()
    held_on = body.heldOn or today
    problem = date_problem(held_on, "The review", today, born=request.patient.date_of_birth)
    if problem:
        raise Invalid([_problem(REVIEW_FIELDS["held_on"], problem)])
    try:
        review = reviews.hold(
            Actor.of(request), plan, body.version, held_on=held_on, adequacy=body.adequacy,
            use_on_top=body.useOnTop.strip(), side_effects=body.sideEffects.strip(),
            patient_view=body.patientView.strip(), substance_goal=body.substanceGoal,
            goal_chosen_by=body.goalChosenBy, goal_discussed=body.goalDiscussed,
            next_review=body.nextReview, notes=body.notes.strip())
    except doses.Refused as refused:
        if "" in refused.reasons:
            return Status(409, {"detail": " ".join(refused.reasons[""])})
        raise invalid(refused, REVIEW_FIELDS) from None
    return Status(201, review_out(review))


# --- dispensing ----------------------------------------------------------------------------


class DayIn(Schema):
    date: Day
    status: Taken = Field(..., description="supervised (taken, supervised), home (taken home) "
                          "or missed")


class DispensingIn(Schema):
    planId: uuid.UUID | None = Field(None, description="Default: the patient's current plan")
    days: list[DayIn] = Field(..., min_length=1, max_length=MAX_DAYS)


class DayOut(Schema):
    planId: uuid.UUID
    date: datetime.date
    status: Taken
    source: DispensingSource = Field(..., description="staff, csv or api")
    recordedBy: str | None
    recordedAt: datetime.datetime


class DispensingOut(Schema):
    planId: uuid.UUID
    changed: int = Field(..., description="Days new or changed (the same report again "
                         "changes nothing)")
    missedInARow: list[datetime.date] = Field(..., description="The latest run of missed days, "
                                              "if the latest report is a miss")
    needsPrescriber: bool = Field(..., description="Missed days in a row reached the "
                                  "service's number (3 or fewer): tolerance may be lower, the "
                                  "usual dose is not given before the prescriber has reviewed")


def day_out(day: DispensingDay) -> dict:
    return {"planId": day.plan_id, "date": day.day, "status": day.status,
            "source": day.source, "recordedBy": _name(day.recorded_by),
            "recordedAt": day.recorded_at}


@router.get("/patients/{uuid:patient_id}/dispensing", response=list[DayOut],
            url_name="dispensing-list")
@paginate(Paging)
def list_dispensing(request: HttpRequest, patient_id: uuid.UUID,
                    status: Taken | None = None,
                    since: Annotated[Day | None, Query(description="From this day")]
                    = None,
                    until: Annotated[Day | None, Query(description="To this day")]
                    = None):
    """What the pharmacy reported, day by day, latest first (FHIR: a day taken is a
    MedicationDispense, a missed day a MedicationAdministration with status not-done)."""
    found = (DispensingDay.objects.filter(patient=request.patient)
             .select_related("recorded_by").order_by("-day", "plan_id"))
    if status:
        found = found.filter(status=status)
    if since:
        found = found.filter(day__gte=since)
    if until:
        found = found.filter(day__lte=until)
    return Rows(found, day_out)


@router.post("/patients/{uuid:patient_id}/dispensing", response={201: DispensingOut},
             url_name="dispensing-list")
def record_dispensing(request: HttpRequest, patient_id: uuid.UUID, body: DispensingIn):
    """Record what the pharmacy reported for days of one plan: taken supervised, taken home,
    or missed. A day reported before is replaced (the audit trail keeps what it was). Missed
    days in a row raise the urgent flag (the "3-day rule")."""
    plan = current_plan(request, body.planId)
    today = timezone.localdate()
    problems, seen = [], set()
    for n, day in enumerate(body.days):
        for field, message in dispensing.day_problems(plan, day.date, day.status, today):
            problems.append(_problem(("body", "days", n, "date" if field == "day" else field),
                                     message))
        if day.date in seen:
            problems.append(_problem(("body", "days", n, "date"),
                                     f"{dosing.day_text(day.date)} is given twice: give each "
                                     "day once."))
        seen.add(day.date)
    if problems:
        raise Invalid(problems)
    try:
        changed = dispensing.record(Actor.of(request), plan,
                                    [(day.date, day.status) for day in body.days],
                                    source=DispensingSource.API)
    except doses.Refused as refused:
        raise invalid(refused, {"": ("body",), "day": ("body", "days"),
                                "status": ("body", "days")}) from None
    return Status(201, {"planId": plan.pk, "changed": changed,
                        "missedInARow": doses.missed_run(plan),
                        "needsPrescriber": doses.needs_prescriber(plan)})
