"""Goals, the recovery care plan (versions and sign-offs) and reviews in the JSON API. The
same forms check the input as on the pages, so every problem is named by field; statuses and
codes are FHIR R4 Goal and CarePlan codes. Access is decided by the permission layer."""

from __future__ import annotations

import datetime
import uuid
from typing import Literal

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import StrictInt

from tandem.api.records import StaleOut, stale_reply
from tandem.audit.actor import Actor
from tandem.core.errors import Invalid
from tandem.patients.services import check
from tandem.planning import care_plan, services
from tandem.planning.forms import GoalForm, ReviewForm
from tandem.planning.models import AchievementStatus, Goal, GoalType, LifecycleStatus, Proposer
from tandem.records import versioning

router = Router(tags=["goals and care plans"])


class GoalIn(Schema):
    card: str = Field(..., max_length=40)
    statement: str = Field(..., max_length=500)
    proposed_by: Proposer
    priority: StrictInt = 1
    start_date: datetime.date | None = None
    target_date: datetime.date | None = None
    lifecycle_status: LifecycleStatus = LifecycleStatus.ACTIVE
    achievement_status: AchievementStatus = AchievementStatus.IN_PROGRESS
    goal_type: GoalType | Literal[""] = ""
    goal_type_chosen_by: Proposer | Literal[""] = ""
    type_change_reason: str = Field("", max_length=300)
    gas_minus2: str = Field(..., max_length=300)
    gas_minus1: str = Field(..., max_length=300)
    gas_0: str = Field(..., max_length=300)
    gas_plus1: str = Field(..., max_length=300)
    gas_plus2: str = Field(..., max_length=300)
    version: StrictInt | None = Field(None, ge=1, le=2**31 - 1,
                                      description="The version you read (updates only)")


class TypeChangeOut(Schema):
    changed_at: datetime.datetime
    from_type: str
    to_type: str
    chosen_by: str
    reason: str


class GoalOut(Schema):
    id: uuid.UUID
    card: str
    statement: str
    proposed_by: str
    priority: int
    start_date: datetime.date
    target_date: datetime.date | None
    lifecycle_status: str
    achievement_status: str
    goal_type: str
    goal_type_chosen_by: str
    gas_levels: dict[str, str]
    version: int
    type_changes: list[TypeChangeOut]

    @staticmethod
    def resolve_gas_levels(obj):
        return {f"{level:+d}" if level else "0": text for level, text in obj.gas_levels()}

    @staticmethod
    def resolve_type_changes(obj):
        return list(obj.type_changes.all())


class VersionOut(Schema):
    number: int
    created_at: datetime.datetime
    patient_signed_at: datetime.datetime | None
    practitioner_signed_at: datetime.datetime | None
    snapshot: dict


class PlanOut(Schema):
    id: uuid.UUID
    status: str
    review_date: datetime.date
    review_overdue: bool
    versions: list[VersionOut]


class RatingIn(Schema):
    goal_id: uuid.UUID
    patient_level: StrictInt | None = Field(None, ge=-2, le=2)
    practitioner_level: StrictInt | None = Field(None, ge=-2, le=2)
    comment: str = Field("", max_length=300)


class ReviewIn(Schema):
    held_on: datetime.date
    next_review: datetime.date
    notes: str = Field("", max_length=5000)
    ratings: list[RatingIn]


class ReviewOut(Schema):
    id: uuid.UUID
    held_on: datetime.date
    next_review: datetime.date
    notes: str
    t_score_patient: float | None = Field(None, description="GAS T-score, the patient's view")
    t_score_practitioner: float | None


def _goal_form(request, data: dict, instance=None) -> GoalForm:
    data = {k: ("" if v is None else v) for k, v in data.items()}
    if instance is None and not data.get("start_date"):
        data["start_date"] = datetime.date.today()
    return GoalForm(data, instance=instance, cards=services.cards_for(request.patient),
                    patient=request.patient)


def _plan_out(plan) -> dict:
    return {"id": plan.pk, "status": plan.status, "review_date": plan.review_date,
            "review_overdue": plan.review_date < datetime.date.today(),
            "versions": list(plan.versions.all())}


def _save_goal(request, form):
    check(form)
    try:
        with transaction.atomic():
            actor = Actor.of(request)
            saved = services.save_goal(actor, request.patient, form)
            care_plan.goals_changed(actor, request.patient)
    except versioning.Stale as stale:
        return stale_reply(stale, GoalOut, form.cleaned_data.get("version"))
    return saved


@router.get("/patients/{uuid:patient_id}/goals", response=list[GoalOut], url_name="goal-list")
def list_goals(request: HttpRequest, patient_id: uuid.UUID):
    return request.patient.goals.prefetch_related("type_changes")


@router.post("/patients/{uuid:patient_id}/goals", response={201: GoalOut}, url_name="goal-list")
def create_goal(request: HttpRequest, patient_id: uuid.UUID, body: GoalIn):
    return Status(201, _save_goal(request, _goal_form(request, body.dict())))


@router.put("/patients/{uuid:patient_id}/goals/{uuid:goal_id}",
            response={200: GoalOut, 409: StaleOut}, url_name="goal-detail")
def update_goal(request: HttpRequest, patient_id: uuid.UUID, goal_id: uuid.UUID, body: GoalIn):
    """Replace a goal. Send the `version` you read: if someone saved since, 409 lists what
    changed and nothing is saved."""
    goal = get_object_or_404(Goal, pk=goal_id, patient=request.patient)
    if body.version is None:
        raise Invalid([{"loc": ["body", "version"], "msg": "Send the version you read."}])
    return _save_goal(request, _goal_form(request, body.dict(), instance=goal))


@router.get("/patients/{uuid:patient_id}/plan", response=PlanOut, url_name="plan")
def get_plan(request: HttpRequest, patient_id: uuid.UUID):
    """The current plan with every version (what it said, who signed when)."""
    plan = care_plan.current_plan(request.patient)
    if plan is None:
        raise HttpError(404, "This patient has no recovery plan yet.")
    return _plan_out(plan)


@router.post("/patients/{uuid:patient_id}/plan/sign", response=PlanOut, url_name="plan-sign")
def sign_plan(request: HttpRequest, patient_id: uuid.UUID):
    """Sign the latest version as the practitioner (patients sign in the portal)."""
    plan = care_plan.current_plan(request.patient)
    if plan is None or care_plan.latest_version(plan) is None:
        raise HttpError(404, "This patient has no recovery plan yet.")
    care_plan.sign(Actor.of(request), plan, as_patient=False)
    return _plan_out(plan)


@router.get("/patients/{uuid:patient_id}/plan/reviews", response=list[ReviewOut],
            url_name="review-list")
def list_reviews(request: HttpRequest, patient_id: uuid.UUID):
    plan = care_plan.current_plan(request.patient)
    return plan.reviews.all() if plan else []


@router.post("/patients/{uuid:patient_id}/plan/reviews", response={201: ReviewOut},
             url_name="review-list")
def create_review(request: HttpRequest, patient_id: uuid.UUID, body: ReviewIn):
    """Record a review: each goal's level (−2 … +2) in the patient's and the practitioner's
    view; the reply has both GAS T-scores."""
    plan = care_plan.current_plan(request.patient)
    if plan is None:
        raise HttpError(404, "This patient has no recovery plan yet.")
    goals = care_plan.plan_goals(request.patient)
    known = {g.pk for g in goals}
    errors = [{"loc": ["body", "ratings", n, "goal_id"], "msg": "Not an open goal of this plan."}
              for n, r in enumerate(body.ratings) if r.goal_id not in known]
    if errors:
        raise Invalid(errors)
    data = {"held_on": body.held_on, "next_review": body.next_review, "notes": body.notes}
    for r in body.ratings:
        data |= {f"patient_{r.goal_id}": "" if r.patient_level is None else r.patient_level,
                 f"practitioner_{r.goal_id}":
                 "" if r.practitioner_level is None else r.practitioner_level,
                 f"comment_{r.goal_id}": r.comment}
    form = ReviewForm(data, goals=goals, patient=request.patient)
    check(form)
    return Status(201, care_plan.hold_review(Actor.of(request), plan, form))
