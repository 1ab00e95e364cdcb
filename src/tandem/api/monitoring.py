"""Flags, the caseload ("who needs me today") and the patient timeline in the JSON API.
Statuses are FHIR R4 Flag statuses. Access is decided by the permission layer; lists only
cover `visible_patients`, and every request is audited like the pages."""


import datetime
import uuid
from typing import Annotated

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate
from pydantic import StrictBool, WithJsonSchema

from tandem.api.paging import MAX_ID, MAX_LIMIT, MAX_OFFSET, Paging
from tandem.audit.actor import Actor
from tandem.caseload import entries as caseload_query
from tandem.core.errors import Invalid
from tandem.monitoring import services, timeline
from tandem.monitoring.models import Flag, FlagStatus, Severity
from tandem.patients.access import visible_patients

router = Router(tags=["flags and caseload"])


class FlagOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    rule: str
    rule_title: str
    severity: Severity
    status: FlagStatus = Field(..., description="FHIR R4 Flag.status")
    evidence: str
    suggested_action: str
    raised_at: datetime.datetime
    updated_at: datetime.datetime
    response_id: uuid.UUID | None
    acknowledged_at: datetime.datetime | None
    acknowledged_by: str | None = Field(None, alias="acknowledged_by.display_name")
    resolved_at: datetime.datetime | None
    resolved_by: str | None = Field(None, alias="resolved_by.display_name")
    action_taken: str


class ResolveIn(Schema):
    action_taken: str = Field("", max_length=2000, description="What was done (required)")
    in_error: StrictBool = Field(False,
                                 description="The flag was raised in error (entered-in-error)")


def _flags(qs, status, severity, rule):
    qs = qs.select_related("acknowledged_by", "resolved_by").order_by("-raised_at")
    if status:
        qs = qs.filter(status=status)
    if severity:
        qs = qs.filter(severity=severity)
    if rule:
        qs = qs.filter(rule=rule)
    return qs


@router.get("/flags", response=list[FlagOut], url_name="flag-list")
@paginate(Paging)
def list_flags(request: HttpRequest, status: FlagStatus | None = None,
               severity: Severity | None = None, rule: str = Query("", max_length=40)):
    """Flags of every patient you may see, newest first."""
    return _flags(Flag.objects.filter(patient__in=visible_patients(request.user)), status,
                  severity, rule)


@router.get("/patients/{uuid:patient_id}/flags", response=list[FlagOut],
            url_name="patient-flags")
@paginate(Paging)
def patient_flags(request: HttpRequest, patient_id: uuid.UUID, status: FlagStatus | None = None,
                  severity: Severity | None = None, rule: str = Query("", max_length=40)):
    return _flags(request.patient.flags.all(), status, severity, rule)


@router.post("/patients/{uuid:patient_id}/flags/{uuid:flag_id}/acknowledge", response=FlagOut,
             url_name="flag-acknowledge")
@transaction.atomic
def acknowledge(request: HttpRequest, patient_id: uuid.UUID, flag_id: uuid.UUID):
    flag = get_object_or_404(Flag.objects.select_for_update(), pk=flag_id,
                             patient=request.patient)
    return services.acknowledge(Actor.of(request), flag)


@router.post("/patients/{uuid:patient_id}/flags/{uuid:flag_id}/resolve", response=FlagOut,
             url_name="flag-resolve")
@transaction.atomic
def resolve(request: HttpRequest, patient_id: uuid.UUID, flag_id: uuid.UUID, data: ResolveIn):
    flag = get_object_or_404(Flag.objects.select_for_update(), pk=flag_id,
                             patient=request.patient)
    if not flag.is_open:
        raise Invalid([{"loc": ["path", "flag_id"], "msg": "This flag is already resolved."}])
    if not data.action_taken.strip():
        raise Invalid([{"loc": ["body", "action_taken"],
                        "msg": "Write what was done before resolving the flag."}])
    return services.resolve(Actor.of(request), flag, data.action_taken, in_error=data.in_error)


class CaseloadRow(Schema):
    id: uuid.UUID
    service_id: str
    name: str
    team: str = Field(..., alias="team.name")
    episode_status: str | None
    need: int = Field(..., description="0-3 open flag (urgent..low), 4 overdue, "
                                        "5 awaiting signature, 6 nothing due")
    need_label: str
    reasons: list[str]
    flag_count: int
    next_checkup_due: datetime.date | None = Field(None, alias="checkup_due")
    review_due: datetime.date | None


class CaseloadOut(Schema):
    counts: dict[str, int]
    count: int
    results: list[CaseloadRow]


@router.get("/caseload", response=CaseloadOut, url_name="caseload")
def caseload(request: HttpRequest, q: str = Query("", max_length=100),
             team: int | None = Query(None, ge=1, le=MAX_ID),
             status: str = Query("", max_length=24), flag: str = Query("", max_length=40),
             sort: str = Query("need", max_length=20),
             limit: int = Query(50, ge=1, le=min(200, MAX_LIMIT)),
             offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    """Who needs you today: your caseload sorted by need, each row with its reasons."""
    rows, counts = caseload_query.caseload(
        request.user, caseload_query.Filters(search=q, team=team, status=status, rule=flag),
        sort=sort if sort in caseload_query.SORTS else "need", limit=limit, offset=offset)
    caseload_query.with_reasons(rows)
    return {"counts": counts, "count": counts["total"], "results": rows}


# What `kinds` may hold (empty parts are ignored), for the OpenAPI document; the view names an
# unknown kind itself.
_KIND = "(?:" + "|".join(timeline.KINDS) + ")"
KINDS_PATTERN = rf"^\s*{_KIND}?\s*(?:,\s*{_KIND}?\s*)*$"
KINDS_SCHEMA = WithJsonSchema({"type": "string", "pattern": KINDS_PATTERN})


class EventOut(Schema):
    at: datetime.datetime
    kind: str
    title: str
    detail: str
    url: str | None


@router.get("/patients/{uuid:patient_id}/timeline", response=list[EventOut],
            url_name="timeline")
def patient_timeline(request: HttpRequest, patient_id: uuid.UUID,
                     kinds: Annotated[str, KINDS_SCHEMA] = Query(
                         "", description="comma-separated kinds to include"),
                     limit: int = Query(200, ge=1, le=2000)):
    """Everything that happened to this patient, newest first."""
    wanted = {k.strip() for k in kinds.split(",") if k.strip()} or None
    unknown = sorted((wanted or set()) - set(timeline.KINDS))
    if unknown:
        raise Invalid([{"loc": ["query", "kinds"],
                        "msg": f"Unknown kind {unknown[0]!r}; use {', '.join(timeline.KINDS)}."}])
    return timeline.events(request.patient, kinds=wanted, limit=limit)
