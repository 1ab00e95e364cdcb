"""Who may open which patient: the permission layer's rules about patient records.

- a practitioner or prescriber sees the patients whose care team they are on (active dates);
- a team lead sees their team's patients;
- a patient sees only their own record, and only through the portal;
- nobody reaches another organisation's data: every lookup is scoped to the user's organisation.

`visible_patients` and `changeable_patients` are the rule for many patients at once (lists,
the caseload, bulk writes); `access_role` and the `PatientRecord` rule the same for one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.accounts.models import Role
from tandem.accounts.permissions import (
    CHANGES_RECORDS,
    CLINICAL_STAFF,
    Decision,
    Rule,
    roles_of,
    team_ids,
)
from tandem.patients.models import CareTeamMember, Patient, active_membership

# Who sees a patient through their own care-team membership (team leads see their teams').
SEES_OWN_CARE_TEAMS = frozenset({Role.PRACTITIONER, Role.PRESCRIBER})
CHANGES_OWN_CARE_TEAMS = frozenset({Role.PRACTITIONER})


@dataclass(frozen=True)
class Visibility:
    """Whom a user may open as staff, in their organisation: the patients on whose care team
    they are today (`care_teams`), and every patient of the teams they lead (`lead_teams`).
    The one statement of the rule, written out for the ORM (`q`) and for the caseload's own
    SQL over its entries (`sql`)."""

    organisation_id: int | None
    care_teams: bool
    lead_teams: tuple[int, ...]

    def q(self, user) -> Q:
        found = Q(pk__in=[])
        if self.care_teams:
            # A semi-join from the user's own memberships: cheap however many patients the
            # organisation holds.
            found |= Q(pk__in=CareTeamMember.objects.filter(
                active_membership(timezone.localdate()), user=user
            ).values("care_team__patient_id"))
        if self.lead_teams:
            found |= Q(team_id__in=self.lead_teams)
        return found

    def sql(self, *, patient: str, team: str, on_my_care_teams: str) -> tuple[str, dict]:
        """The rule as an SQL condition over rows with a patient column and a team column;
        `on_my_care_teams` selects the patients on the user's care teams today. ("", {}) when
        the user sees nobody."""
        clauses, params = [], {}
        if self.care_teams:
            clauses.append(f"{patient} IN ({on_my_care_teams})")
        if self.lead_teams:
            names = [f"lead_team_{n}" for n in range(len(self.lead_teams))]
            clauses.append(f"{team} IN (" + ", ".join(f"%({n})s" for n in names) + ")")
            params.update(zip(names, self.lead_teams, strict=True))
        return " OR ".join(clauses), params


def visibility(user, through: frozenset[str] = SEES_OWN_CARE_TEAMS) -> Visibility:
    """Whom `user` may open as staff (`through`: the roles that see their own care teams)."""
    return Visibility(user.organisation_id, bool(roles_of(user) & through),
                      tuple(sorted(team_ids(user, Role.TEAM_LEAD))))


def visible_patients(user) -> QuerySet:
    """Patients this user may open as staff. Empty for everyone else."""
    return _patients(user, visibility(user))


def changeable_patients(user) -> QuerySet:
    """Patients whose records this user may change (the rule `access_role` applies to one
    patient, for many at once): on the care team as a practitioner, or their team's lead."""
    return _patients(user, visibility(user, CHANGES_OWN_CARE_TEAMS))


def _patients(user, seen: Visibility) -> QuerySet:
    if seen.organisation_id is None:  # an account of no organisation sees nobody
        return Patient.objects.none()
    return Patient.objects.of(seen.organisation_id).filter(seen.q(user))


def access_role(user, patient) -> str | None:
    """The role through which `user` may open `patient` as staff, or None."""
    roles = roles_of(user)
    if patient.organisation_id != user.organisation_id:
        return None
    if roles & SEES_OWN_CARE_TEAMS:
        on_team = CareTeamMember.objects.filter(
            active_membership(timezone.localdate()), care_team__patient=patient, user=user
        ).exists()
        if on_team:
            return Role.PRACTITIONER if Role.PRACTITIONER in roles else Role.PRESCRIBER
    if patient.team_id in team_ids(user, Role.TEAM_LEAD):
        return Role.TEAM_LEAD
    return None


def portal_patient(user):
    """The patient record a portal user owns, or None."""
    if Role.PATIENT not in roles_of(user):
        return None
    return Patient.objects.of(user.organisation_id).filter(portal_user=user).first()


class PatientRecord(Rule):
    """Staff access to one patient, named by the URL's `patient_id`. Hidden (404) otherwise."""

    def __init__(self, change: bool = False, methods_that_change: Iterable[str] = (),
                 changers: Iterable[str] = CHANGES_RECORDS):
        self.change = change
        self.methods_that_change = set(methods_that_change)
        self.changers = frozenset(changers)  # the roles through which a change is allowed

    def decide(self, request, kwargs):
        organisation = request.user.organisation_id
        try:
            patient = (
                Patient.objects.of(organisation).filter(pk=kwargs.get("patient_id"))
                .select_related("team").first()
            ) if organisation else None
        except ValidationError:  # not a patient id at all
            patient = None
        if not roles_of(request.user) & set(CLINICAL_STAFF):
            return Decision(False, patient=patient)
        if patient is None:
            return Decision(False, status=404)
        role = access_role(request.user, patient)
        if role is None:
            return Decision(False, status=404, patient=patient)
        changing = self.change or request.method in self.methods_that_change
        if (changing and role == Role.PRACTITIONER and Role.PRESCRIBER in self.changers
                and Role.PRESCRIBER in roles_of(request.user)):
            role = Role.PRESCRIBER  # on the care team, and a prescriber as well
        if changing and role not in self.changers:
            return Decision(False, patient=patient)
        request.patient = patient
        return Decision(True, role=role)


class Portal(Rule):
    """A patient's own record, through the portal."""

    def decide(self, request, kwargs):
        patient = portal_patient(request.user)
        if patient is None:
            return Decision(False)
        request.patient = patient
        return Decision(True, role=Role.PATIENT)


READ_PATIENT = PatientRecord()
CHANGE_PATIENT = PatientRecord(change=True)
API_PATIENT = PatientRecord(methods_that_change={"POST", "PUT", "PATCH", "DELETE"})
# A page anyone on the care team may read, whose form (POST) only those who change records use.
READ_PATIENT_POST_CHANGES = PatientRecord(methods_that_change={"POST"})
PORTAL = Portal()
# Medication: the prescriber on the care team sets the plan, answers dose requests, holds
# medication reviews and plans reductions with the patient; anyone on the care team (or their
# team lead) records what the pharmacy reports and may pause a reduction.
PRESCRIBE = PatientRecord(change=True, changers=(Role.PRESCRIBER,))
READ_PATIENT_POST_PRESCRIBES = PatientRecord(methods_that_change={"POST"},
                                             changers=(Role.PRESCRIBER,))
MEDICATION_TEAM = PatientRecord(change=True,
                                changers=(*CHANGES_RECORDS, Role.PRESCRIBER))
