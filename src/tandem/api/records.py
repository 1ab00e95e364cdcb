"""Changing a patient's details and an episode in the JSON API, without lost updates.

A PATCH names the `version` it read (each reply carries the record's version) and only the
fields it changes. The same forms as on the pages check the result, so every problem is named
by field (422). If someone saved the record after that version, nothing is saved and the reply
is 409 with each sent field whose saved value now differs and the record as it is now; read
it, and send again with the new version. Access is decided by the permission layer (the
patient-detail and episode-detail rules, where PATCH changes the record)."""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction
from django.forms.models import model_to_dict
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, NinjaAPI, Schema, Status
from pydantic import StrictBool

from tandem.accounts.permissions import staff_teams
from tandem.api import schemas as s
from tandem.audit.actor import Actor
from tandem.core.errors import Invalid
from tandem.patients import services
from tandem.patients.forms import EpisodeForm, PatientForm
from tandem.patients.models import (
    ContactMethod,
    Episode,
    EpisodeStatus,
    ExitReason,
    Setting,
    SexForThresholds,
)
from tandem.records import versioning

MAX_ID = 2**63 - 1
VERSION = Field(None, ge=1, le=versioning.MAX_VERSION,
                description="The version you read (required)")


class PatientChange(Schema):
    """Only the fields sent change; null clears a field (and is refused where it is needed)."""

    version: int | None = VERSION
    service_id: str | None = Field(None, max_length=40)
    given_name: str | None = Field(None, max_length=100)
    family_name: str | None = Field(None, max_length=100)
    preferred_name: str | None = Field(None, max_length=100)
    date_of_birth: datetime.date | None = None
    pronouns: str | None = Field(None, max_length=40)
    sex_for_thresholds: SexForThresholds | None = None
    team_id: int | None = Field(None, ge=1, le=MAX_ID)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    preferred_contact: ContactMethod | None = None
    ok_to_leave_message: bool | None = None
    # Never null: a client sending null for a field it leaves alone must not clear it.
    do_not_contact: StrictBool = Field(None, description="Nothing is sent to them; not null")
    contact_notes: str | None = Field(None, max_length=300)


class EpisodeChange(Schema):
    """Only the fields sent change; null clears a field (and is refused where it is needed)."""

    version: int | None = VERSION
    setting: Setting | None = None
    status: EpisodeStatus | None = None
    exit_date: datetime.date | None = None
    exit_reason: ExitReason | None = None


class ChangeOut(Schema):
    field: str
    label: str
    saved: str | int | bool | None = Field(..., description="The value saved now")
    yours: str | int | bool | None = Field(..., description="The value you sent")


class StaleDetail(Schema):
    message: str
    version: int = Field(..., description="The version saved now: send it with your change")
    changed: list[ChangeOut]
    current: dict = Field(..., description="The record as it is saved now")


class StaleOut(Schema):
    detail: StaleDetail


def stale_reply(stale: versioning.Stale, out: type[Schema], sent: int | None,
                rename: dict[str, str] | None = None) -> Status:
    """409: someone saved the record after the version sent; what differs, and the record as
    it is saved now (the one versioned save refused it, saving nothing)."""
    current, rename = stale.current, rename or {}
    return Status(409, {"detail": {
        "message": f"Someone else changed this record since version {sent}: nothing "
                   f"was saved. Read it again, or send your change with version "
                   f"{current.version}.",
        "version": current.version,
        "changed": [{"field": rename.get(c.field, c.field), "label": c.label,
                     "saved": c.saved, "yours": c.yours} for c in stale.changes],
        "current": out.from_orm(current).dict()}})


def _patch(request, body: Schema, instance, form_class, out, rename=None, **form_kwargs):
    """Apply the sent fields to the record through its form, and save it at the version sent
    (422 for a problem in a field, 409 if the version is not the one saved)."""
    sent = body.dict(exclude_unset=True)
    version = sent.pop("version", None)
    if version is None:
        raise Invalid([{"loc": ["body", "version"], "msg": "Send the version you read."}])
    rename = rename or {}
    back = {theirs: ours for ours, theirs in rename.items()}
    try:
        with transaction.atomic():
            # The fields not sent are filled from the row as saved now, read under lock: the
            # copy read for the access check may be older than the version sent, and would
            # put back what was saved in between.
            instance = type(instance)._default_manager.select_for_update().get(pk=instance.pk)
            data = model_to_dict(instance, fields=form_class._meta.fields)
            data |= {back.get(k, k): "" if v is None else v for k, v in sent.items()}
            data["version"] = version
            form = form_class(data, instance=instance, **form_kwargs)
            services.check(form, rename=rename)
            saved = services.save_changes(Actor.of(request), request.patient, form)
    except versioning.Stale as stale:
        return stale_reply(stale, out, version, rename)
    return saved


def update_patient(request: HttpRequest, patient_id: uuid.UUID, body: PatientChange):
    """Change a patient's details: send the `version` you read and the fields to change."""
    patient = request.patient
    return _patch(request, body, patient, PatientForm, s.PatientOut,
                  rename={"team": "team_id"}, organisation=request.user.organisation,
                  teams=staff_teams(request.user) | {patient.team_id})


def update_episode(request: HttpRequest, patient_id: uuid.UUID, episode_id: uuid.UUID,
                   body: EpisodeChange):
    """Change an episode, e.g. record an exit (status, exit date and reason): send the
    `version` you read and the fields to change."""
    episode = get_object_or_404(Episode, pk=episode_id, patient=request.patient)
    return _patch(request, body, episode, EpisodeForm, s.EpisodeOut)


def register(api: NinjaAPI) -> None:
    """Add these operations to the API's own paths (a PATCH must share its path's URL with
    the GET already there, so it cannot live in a router of its own)."""
    api.patch("/patients/{uuid:patient_id}", url_name="patient-detail", tags=["patients"],
              response={200: s.PatientOut, 409: StaleOut})(update_patient)
    api.patch("/patients/{uuid:patient_id}/episodes/{uuid:episode_id}",
              url_name="episode-detail", tags=["episodes"],
              response={200: s.EpisodeOut, 409: StaleOut})(update_episode)
