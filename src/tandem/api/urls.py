"""The JSON API at /api/v1/. Access is decided by the permission layer before any endpoint runs
(see web/permissions.py: RULES, names prefixed "api-1.0.0:"); endpoints here only use
the patient it resolved (`request.patient`) and `visible_patients` for lists."""

import uuid

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from ninja.parser import Parser
from ninja.security import HttpBearer, django_auth

from tandem.accounts.permissions import staff_teams
from tandem.api import schemas as s
from tandem.api.care_plans import router as care_plans
from tandem.api.checkups import router as checkups
from tandem.api.contract import TandemAPI
from tandem.api.medication import router as medication
from tandem.api.monitoring import router as monitoring
from tandem.api.paging import Paging
from tandem.api.priorities import router as priorities
from tandem.api.records import register as add_record_changes
from tandem.audit.actor import Actor
from tandem.core import strict_json
from tandem.core.errors import Invalid
from tandem.patients import services
from tandem.patients.access import visible_patients
from tandem.patients.forms import MemberForm, NewEpisodeForm, PatientForm
from tandem.patients.models import Episode


class StrictParser(Parser):
    """JSON bodies read by `core.strict_json`: a repeated key, NaN or a NUL character in a
    string is refused (422, naming where)."""

    def parse_body(self, request):
        return strict_json.loads(request.body, refuse_nul=True)


class BearerToken(HttpBearer):
    """Documents bearer auth; the token was already checked by BearerTokenMiddleware."""

    def authenticate(self, request, token):
        return request.user if getattr(request, "token_auth", False) else None


api = TandemAPI(
    title="Tandem API",
    version="1.0.0",
    description="Recovery care planning. Authenticate with a session or a bearer token "
    "(`tandem token create USERNAME`).",
    auth=[BearerToken(), django_auth],
    docs_url=None,
    urls_namespace="api-1.0.0",
    parser=StrictParser(),
)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    """Ninja's own errors; a body it could not read says why (422 for JSON that would be
    read wrongly, such as a repeated key; 400 for text that is not JSON)."""
    cause = exc.__cause__
    if isinstance(cause, strict_json.JSONProblem):
        return api.create_response(
            request, {"detail": [{"loc": ["body", *cause.loc], "msg": str(cause)}]}, status=422)
    if isinstance(cause, ValueError) and exc.status_code == 400:
        return api.create_response(request, {"detail": f"The body is not valid JSON: {cause}"},
                                   status=400)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


api.add_router("", checkups)
api.add_router("", priorities)
api.add_router("", care_plans)
api.add_router("", monitoring)
api.add_router("", medication)
add_record_changes(api)  # PATCH beside the GETs of patient-detail and episode-detail


@api.exception_handler(Invalid)
def invalid(request, exc: Invalid):
    return api.create_response(request, {"detail": exc.errors}, status=422)


BODY_PARAMETERS = {"body", "data"}  # the names the operations give their one body parameter


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    """Ninja's 422, with `loc` as a client knows it: ["body", "field"], not ["body", "body",
    "field"] (ninja puts the Python parameter's name in between)."""
    errors = []
    for error in exc.errors:
        loc = list(error.get("loc", ()))
        if len(loc) > 2 and loc[0] == "body" and loc[1] in BODY_PARAMETERS:
            del loc[1]
        errors.append({**error, "loc": loc})
    return api.create_response(request, {"detail": errors}, status=422)


@api.get("/patients", response=list[s.PatientOut], url_name="patient-list", tags=["patients"])
@paginate(Paging)
def list_patients(request: HttpRequest, q: str = Query("", max_length=100)):
    """Patients the caller may see (care team membership, or team lead of their team)."""
    qs = visible_patients(request.user).select_related("team")
    q = q.strip()
    if q:
        qs = qs.filter(Q(family_name__icontains=q) | Q(given_name__icontains=q)
                       | Q(preferred_name__icontains=q) | Q(service_id__icontains=q))
    return qs.order_by("family_name", "given_name", "service_id")


@api.post(
    "/patients", response={201: s.PatientOut}, url_name="patient-list", tags=["patients"]
)
def create_patient(request: HttpRequest, body: s.PatientIn):
    """Register a patient with their first episode; a practitioner becomes their keyworker."""
    data = body.dict()
    episode_data = {
        "episode-start_date": data.pop("episode_start_date"),
        "episode-setting": data.pop("episode_setting"),
    }
    data["team"] = data.pop("team_id")
    patient_form = PatientForm(
        data, organisation=request.user.organisation, teams=staff_teams(request.user)
    )
    episode_form = NewEpisodeForm(episode_data, prefix="episode")
    services.check(patient_form, rename={"team": "team_id"})
    services.check(episode_form, rename={"start_date": "episode_start_date",
                                         "setting": "episode_setting"})
    with transaction.atomic():
        patient = services.register_patient(Actor.of(request), patient_form, episode_form)
    return Status(201, patient)


@api.get(
    "/patients/{uuid:patient_id}", response=s.PatientOut, url_name="patient-detail",
    tags=["patients"],
)
def get_patient(request: HttpRequest, patient_id: uuid.UUID):
    return request.patient


@api.get(
    "/patients/{uuid:patient_id}/episodes", response=list[s.EpisodeOut],
    url_name="episode-list", tags=["episodes"],
)
def list_episodes(request: HttpRequest, patient_id: uuid.UUID):
    return request.patient.episodes.order_by("-start_date")


@api.post(
    "/patients/{uuid:patient_id}/episodes", response={201: s.EpisodeOut},
    url_name="episode-list", tags=["episodes"],
)
def create_episode(request: HttpRequest, patient_id: uuid.UUID, body: s.EpisodeIn):
    form = NewEpisodeForm(body.dict(), patient=request.patient)
    services.check(form)
    with transaction.atomic():
        episode = services.start_episode(Actor.of(request), request.patient, form)
    return Status(201, episode)


@api.get(
    "/patients/{uuid:patient_id}/episodes/{uuid:episode_id}", response=s.EpisodeOut,
    url_name="episode-detail", tags=["episodes"],
)
def get_episode(request: HttpRequest, patient_id: uuid.UUID, episode_id: uuid.UUID):
    return get_object_or_404(Episode, pk=episode_id, patient=request.patient)


@api.get(
    "/patients/{uuid:patient_id}/care-team", response=s.CareTeamOut, url_name="care-team",
    tags=["care teams"],
)
def get_care_team(request: HttpRequest, patient_id: uuid.UUID):
    team = getattr(request.patient, "care_team", None)
    if team is None:
        raise HttpError(404, "This patient has no care team yet.")
    members = list(team.members.select_related("user"))
    return {"id": team.id, "status": team.status, "members": members}


@api.post(
    "/patients/{uuid:patient_id}/care-team/members", response={201: s.MemberOut},
    url_name="care-team-members", tags=["care teams"],
)
def add_member(request: HttpRequest, patient_id: uuid.UUID, body: s.MemberIn):
    data = body.dict()
    data["user"] = data.pop("user_id")
    data["start_date"] = data["start_date"] or timezone.localdate()
    form = MemberForm(data, organisation=request.user.organisation, patient=request.patient)
    services.check(form, rename={"user": "user_id"})
    with transaction.atomic():
        member = services.add_member(Actor.of(request), request.patient, form)
    return Status(201, member)

