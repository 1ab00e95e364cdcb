import datetime
import uuid
from typing import Any

from ninja import Field, Schema
from pydantic import StrictBool, StrictInt

from tandem.api.paging import MAX_ID
from tandem.patients.models import (
    CareRole,
    ContactMethod,
    EpisodeStatus,
    ExitReason,
    Setting,
    SexForThresholds,
)


class PatientOut(Schema):
    id: uuid.UUID
    service_id: str
    given_name: str
    family_name: str
    preferred_name: str
    date_of_birth: datetime.date
    pronouns: str
    sex_for_thresholds: SexForThresholds
    team: str = Field(..., alias="team.name")
    phone: str
    email: str
    preferred_contact: ContactMethod
    ok_to_leave_message: bool
    do_not_contact: bool = Field(..., description="Nothing is sent to them (no reminders, "
                                 "invitations or messages)")
    version: int = Field(..., description="Send it back with a change (PATCH)")


class PatientIn(Schema):
    service_id: str = Field(..., min_length=1, max_length=40)
    given_name: str = Field(..., min_length=1, max_length=100)
    family_name: str = Field(..., min_length=1, max_length=100)
    preferred_name: str = Field("", max_length=100)
    date_of_birth: datetime.date
    pronouns: str = Field("", max_length=40)
    sex_for_thresholds: SexForThresholds = Field(
        SexForThresholds.NOT_RECORDED,
        description="For thresholds that differ by sex (AUDIT-C); \"\" is not recorded")
    team_id: StrictInt = Field(..., ge=1, le=MAX_ID)
    phone: str = Field("", max_length=40)
    email: str = Field("", max_length=254)
    preferred_contact: ContactMethod = ContactMethod.PHONE
    ok_to_leave_message: StrictBool = False
    do_not_contact: StrictBool = False
    episode_start_date: datetime.date
    episode_setting: Setting = Setting.COMMUNITY


class EpisodeOut(Schema):
    id: uuid.UUID
    start_date: datetime.date
    setting: Setting
    status: EpisodeStatus
    fhir_status: str
    exit_date: datetime.date | None
    exit_reason: ExitReason | None = None
    closed_date: datetime.date | None
    version: int = Field(..., description="Send it back with a change (PATCH)")

    @staticmethod
    def resolve_exit_reason(obj):
        return obj.exit_reason or None


class EpisodeIn(Schema):
    start_date: datetime.date
    setting: Setting


class MemberOut(Schema):
    id: uuid.UUID
    role: CareRole
    name: str
    user_id: int | None
    organisation_name: str
    start_date: datetime.date
    end_date: datetime.date | None

    @staticmethod
    def resolve_name(obj):
        return obj.person_name


class MemberIn(Schema):
    role: CareRole
    user_id: StrictInt | None = Field(None, ge=1, le=MAX_ID)
    name: str = Field("", max_length=200)
    organisation_name: str = Field("", max_length=200)
    contact: str = Field("", max_length=200)
    start_date: datetime.date | None = None


class CareTeamOut(Schema):
    id: uuid.UUID
    status: str
    members: list[MemberOut]


class Error(Schema):
    detail: str = Field(..., description="What is wrong, in words")


class Problem(Schema):
    loc: list[str | int] = Field(..., description="Where: \"body\", \"query\" or \"path\", "
                                 "then the field (and its place in a list)")
    msg: str = Field(..., description="What is wrong with it, in words")
    type: str | None = Field(None, description="A code for the kind of problem, when given")


class Problems(Schema):
    detail: list[Problem] = Field(..., description="One entry per problem")


class Conflict(Schema):
    detail: str | dict[str, Any] = Field(..., description="Why the change cannot be made now; "
                                         "for a record changed since the version you read, "
                                         "a message and what changed")
