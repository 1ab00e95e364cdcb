"""Check-ups in the JSON API: instruments, scoring without storing, responses (drafts, updates,
submission) and a patient's scores over time. Access is decided by the permission layer (RULES
in web/permissions.py) before any endpoint runs; the patient is on request.patient."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import StrictBool

from tandem.api.schemas import Conflict
from tandem.assessment import registry, responses, schedules
from tandem.assessment.models import Mode, Response, ResponseStatus
from tandem.assessment.results import completed, track
from tandem.audit.actor import Actor
from tandem.core.errors import Invalid
from tandem.core.scoring import (
    check_answers,
    declined_safety,
    inconsistent,
    score,
    unanswered_safety,
)
from tandem.patients.access import changeable_patients
from tandem.patients.models import SexForThresholds

router = Router(tags=["check-ups"])


class InstrumentSummary(Schema):
    code: str
    title: str
    version: str
    items: int
    recall_period: str
    loinc: str
    licence: str


class ScaleOut(Schema):
    code: str
    title: str
    value: float | None
    band: str | None
    answered: int
    of: int
    prorated: bool
    note: str = Field("", description="Why there is no score, or which threshold was used")


class ScoreIn(Schema):
    answers: dict[str, Any] = Field(..., description="Item id → answer; \"declined\" on a "
                                    "safety question records that the person would rather not "
                                    "say")
    sex: SexForThresholds = Field(SexForThresholds.NOT_RECORDED, description="For bands that "
                                  "differ by sex (AUDIT-C); \"\" (not recorded) uses the lower "
                                  "threshold")


class SafetyOut(Schema):
    item: str
    message: str
    declined: bool = Field(False, description="The person chose not to answer: ask in person")


class ScoreOut(Schema):
    instrument: str
    version: str
    primary: str
    scales: list[ScaleOut]
    safety: list[SafetyOut]


class CheckupFlagOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    severity: str
    evidence: str
    suggested_action: str


class ResponseIn(Schema):
    instrument: str = Field(..., max_length=40)
    mode: Mode = Mode.WITH_PRACTITIONER
    answers: dict[str, Any] = {}
    submit: StrictBool = Field(True, description="Score and complete now; false keeps a draft")
    completed_at: datetime.datetime | None = None


class BatchItem(Schema):
    patient_id: uuid.UUID
    instrument: str = Field(..., max_length=40)
    answers: dict[str, Any]
    mode: Mode = Mode.INTEGRATION
    completed_at: datetime.datetime | None = None


class BatchIn(Schema):
    responses: list[BatchItem] = Field(..., min_length=1, max_length=1000)


class BatchOut(Schema):
    created: int
    ids: list[uuid.UUID]
    urgent_flags: list[CheckupFlagOut]


class AnswersIn(Schema):
    answers: dict[str, Any]


class ResponseOut(Schema):
    id: uuid.UUID
    instrument: str = Field(..., alias="instrument_code")
    version: str = Field(..., alias="instrument_version")
    status: ResponseStatus
    mode: Mode
    entered_by: str | None
    started_at: datetime.datetime
    completed_at: datetime.datetime | None
    answers: dict[str, Any]
    scores: dict[str, float | None]
    headline: float | None
    band: str
    urgent_flags: list[CheckupFlagOut] = []

    @staticmethod
    def resolve_entered_by(obj):
        return obj.entered_by.username if obj.entered_by_id else None

    @staticmethod
    def resolve_urgent_flags(obj):
        return getattr(obj, "new_flags", [])


class PointOut(Schema):
    date: datetime.date
    value: float | None
    band: str
    change: str | None = Field(None, description="Reliable change since the check-up before")


class TrajectoryOut(Schema):
    instrument: str
    scale: str
    title: str
    higher_is: str
    range: tuple[float, float]
    points: list[PointOut]
    overall_change: str | None = Field(None, description="Reliable change, first to latest")


class NextCheckupOut(Schema):
    instrument: str
    kind: str
    due: datetime.date
    status: str


class ScoresOut(Schema):
    trajectories: list[TrajectoryOut]
    next: list[NextCheckupOut]


def _instrument(request, code: str):
    instrument = registry.get(request.user.organisation, code)
    if instrument is None:
        raise HttpError(404, f"No instrument with the code {code!r}.")
    return instrument


def _aware(when: datetime.datetime | None) -> datetime.datetime | None:
    """A time sent without an offset is in the service's time zone."""
    if when is not None and timezone.is_naive(when):
        return timezone.make_aware(when)
    return when


def completion_problem(when: datetime.datetime, born: datetime.date | None) -> str | None:
    """Why a check-up cannot have been completed at `when` (by someone born on `born`)."""
    if when > timezone.now():
        return "Cannot be in the future."
    if born is not None and when.date() < born:
        return f"Cannot be before the patient was born ({born.day} {born:%B %Y})."
    return None


def _invalid(errors: dict[str, str]) -> Invalid:
    return Invalid([{"loc": ["body", "answers", item], "msg": msg} for item, msg in errors.items()])


@router.get("/instruments", response=list[InstrumentSummary], url_name="instrument-list")
def list_instruments(request: HttpRequest):
    """Every instrument the service can use."""
    return [
        {"code": i.code, "title": i.title, "version": i.version, "items": len(i.items),
         "recall_period": i.recall_period, "loinc": i.loinc, "licence": i.licence.terms}
        for i in registry.available(request.user.organisation).values()
    ]


@router.get("/instruments/{code}", response=dict[str, Any], url_name="instrument-detail")
def get_instrument(request: HttpRequest, code: str):
    """The whole definition: items, options, scales, bands, sources, terms, safety rules."""
    return _instrument(request, code).model_dump(mode="json")


@router.post("/instruments/{code}/score", response=ScoreOut, url_name="instrument-score")
def score_answers(request: HttpRequest, code: str, body: ScoreIn):
    """Score a set of answers without storing anything. Unanswered items count as missing
    (the instrument's missing-item rule decides whether a score is given), except a safety
    question, which is never estimated: leaving one out is a 422 naming it (send "declined"
    if the person would rather not say)."""
    instrument = _instrument(request, code)
    clean, errors = check_answers(instrument, body.answers)
    errors |= {item: SAFETY_REQUIRED for item in unanswered_safety(instrument, clean)
               if item not in errors}
    if not errors:
        errors = inconsistent(instrument, clean)
    if errors:
        raise _invalid(errors)
    result = score(instrument, clean, sex=body.sex)
    declined = [{"item": item, "message": "Safety question not answered: ask in person.",
                 "declined": True} for item in declined_safety(instrument, clean)]
    return {
        "instrument": instrument.code, "version": instrument.version,
        "primary": result.primary,
        "scales": [{"code": s.code, "title": s.title, "value": s.value,
                    "band": s.band.label if s.band else None, "answered": s.answered,
                    "of": s.of, "prorated": s.prorated, "note": scale_note(s)}
                   for s in result.scales.values()],
        "safety": [{"item": r.item, "message": r.message} for r in result.safety] + declined,
    }


SAFETY_REQUIRED = ("This is a safety question: it is never estimated from the other answers. "
                   "Send the answer given, or \"declined\" if the person would rather not say.")


def scale_note(s) -> str:
    if s.safety_missing:
        return "No score: a safety question was not answered."
    if s.sex_not_recorded:
        return "Sex not recorded: the lower threshold was used."
    return ""


@router.get("/patients/{uuid:patient_id}/responses", response=list[ResponseOut],
            url_name="response-list")
def list_responses(request: HttpRequest, patient_id: uuid.UUID, instrument: str = "",
                   status: ResponseStatus | None = None):
    qs = request.patient.responses.select_related("entered_by").order_by("-started_at")
    if instrument:
        qs = qs.filter(instrument_code=instrument)
    if status:
        qs = qs.filter(status=status)
    return qs


@router.post("/patients/{uuid:patient_id}/responses", response={201: ResponseOut},
             url_name="response-list")
def create_response(request: HttpRequest, patient_id: uuid.UUID, body: ResponseIn):
    """Store a check-up: scored and completed at once (`submit`: true, the default), or kept as
    a draft to finish later. Answers that meet a safety rule raise an urgent flag at once."""
    instrument = _instrument(request, body.instrument)
    patient = request.patient
    completed_at = _aware(body.completed_at)
    problem = completed_at and completion_problem(completed_at, patient.date_of_birth)
    if problem:
        raise Invalid([{"loc": ["body", "completed_at"], "msg": problem}])
    actor = Actor.of(request)
    try:
        if body.submit:
            response, _result, flags = responses.record_complete(
                actor, patient, instrument, body.answers, mode=body.mode,
                completed_at=completed_at)
        else:
            with transaction.atomic():
                response = responses.start(actor, patient, instrument, mode=body.mode)
                flags = responses.save_answers(actor, response, instrument, body.answers)
    except responses.AnswersInvalid as exc:
        raise _invalid(exc.errors) from None
    response.new_flags = flags
    return Status(201, response)


def _response(request, response_id) -> Response:
    return get_object_or_404(Response.objects.select_related("entered_by"), pk=response_id,
                             patient=request.patient)


@router.get("/patients/{uuid:patient_id}/responses/{uuid:response_id}", response=ResponseOut,
            url_name="response-detail")
def get_response(request: HttpRequest, patient_id: uuid.UUID, response_id: uuid.UUID):
    return _response(request, response_id)


@router.patch("/patients/{uuid:patient_id}/responses/{uuid:response_id}", response=ResponseOut,
              url_name="response-detail")
def update_response(request: HttpRequest, patient_id: uuid.UUID, response_id: uuid.UUID,
                    body: AnswersIn):
    """Add or change answers of a draft (null clears one)."""
    response = _response(request, response_id)
    if not response.is_draft:
        raise HttpError(409, "This check-up is completed; its answers can no longer change.")
    instrument = _instrument(request, response.instrument_code)
    try:
        with transaction.atomic():
            response.new_flags = responses.save_answers(Actor.of(request), response, instrument,
                                                       body.answers)
    except responses.AnswersInvalid as exc:
        raise _invalid(exc.errors) from None
    return response


@router.post("/patients/{uuid:patient_id}/responses/{uuid:response_id}/submit",
             response={200: ResponseOut, 409: Conflict}, url_name="response-submit")
def submit_response(request: HttpRequest, patient_id: uuid.UUID, response_id: uuid.UUID):
    response = _response(request, response_id)
    if not response.is_draft:
        raise HttpError(409, "This check-up is already completed.")
    instrument = _instrument(request, response.instrument_code)
    try:
        responses.submit(Actor.of(request), response, instrument)
    except responses.AnswersInvalid as exc:
        raise _invalid(exc.errors) from None
    return response


@router.post("/responses", response={201: BatchOut}, url_name="response-batch")
def create_batch(request: HttpRequest, body: BatchIn):
    """Store up to 1,000 completed check-ups, for any patients whose records you may change,
    all or nothing: every problem is reported by its place in the batch and nothing is stored
    until there are none. For integrations (a clinical system's outcomes, a phone app syncing)."""
    births = dict(changeable_patients(request.user)
                  .filter(pk__in={item.patient_id for item in body.responses})
                  .values_list("pk", "date_of_birth"))
    errors, submissions = [], []
    for n, item in enumerate(body.responses):
        when = _aware(item.completed_at)
        problem = when and completion_problem(when, births.get(item.patient_id))
        if problem:
            errors.append({"loc": ["body", "responses", n, "completed_at"], "msg": problem})
            when = None  # reported; the other checks still run on the rest of the item
        submissions.append(responses.Submission(item.patient_id, item.instrument, item.answers,
                                               item.mode, when))
    try:
        with transaction.atomic():  # all or nothing: undone if any time was refused
            ids, flags = responses.record_batch(Actor.of(request), submissions)
            if errors:
                raise Invalid([])
    except Invalid as exc:
        raise Invalid(sorted(errors + exc.errors, key=lambda e: e["loc"][2])) from None
    return Status(201, {"created": len(ids), "ids": ids, "urgent_flags": flags})


@router.get("/patients/{uuid:patient_id}/scores", response=ScoresOut, url_name="scores")
def patient_scores(request: HttpRequest, patient_id: uuid.UUID):
    """Every scale of every questionnaire completed, over time, with reliable change; and what
    is due next."""
    patient = request.patient
    available = registry.available(patient.organisation)
    responses: dict[str, list[Response]] = {}
    for r in completed(patient):
        responses.setdefault(r.instrument_code, []).append(r)
    trajectories = []
    for code, rows in responses.items():
        instrument = available.get(code)
        if instrument is None:
            continue
        for scale in instrument.scales:
            t = track(instrument, scale, rows, f"{code}-{scale.code}", chart=False,
                      sex=patient.sex_for_thresholds)
            trajectories.append({
                "instrument": code, "scale": scale.code, "title": scale.title,
                "higher_is": scale.higher_is, "range": scale.range,
                "points": [{"date": p["date"], "value": p["value"], "band": p["band"],
                            "change": p["change"].label if p["change"] else None}
                           for p in t.rows],
                "overall_change": t.overall.label if t.overall else None,
            })
    upcoming = [
        {"instrument": s.code, "kind": s.occasion.kind, "due": s.occasion.due,
         "status": s.occasion.status}
        for s in schedules.checkup_status(patient) if s.occasion is not None
    ]
    return {"trajectories": trajectories, "next": upcoming}
