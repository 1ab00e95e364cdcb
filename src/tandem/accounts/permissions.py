"""The one permission layer. Every URL's rule is declared in RULES below; no rule, no access.

Who may see what:
- a practitioner or prescriber sees the patients whose care team they are on (active dates);
- a team lead sees their team's patients;
- a patient sees only their own record, and only through the portal;
- a service admin manages users and teams, and sees clinical records only through a care team;
- an auditor reads the audit trail and nothing clinical;
- nobody reaches another organisation's data: every lookup is scoped to the user's organisation.

The middleware (accounts/middleware.py) applies `RULES` to every request before any view runs;
views and API endpoints then use `visible_patients` for lists. tests/test_permissions.py walks
every URL with every role against the expected table, and fails for any URL without a rule.

The same middleware writes the audit trail's record of access: `RECORD_PARTS` names the part
of the record each patient URL shows (a patient URL without one is refused), `LISTS` the pages
and endpoints that list patients (each patient they showed is recorded), and every refusal of
a signed-in user is recorded too (see docs/audit.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.accounts.models import Role

CLINICAL_STAFF = (Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD)


def roles_of(user) -> set[str]:
    """The roles a user holds, read once per request and cached on the user object."""
    if not user.is_authenticated or not user.is_active or user.organisation_id is None:
        return set()
    cached = getattr(user, "_tandem_grants", None)
    if cached is None:
        cached = list(user.grants.values_list("role", "team_id"))
        user._tandem_grants = cached
    return {role for role, _team in cached}


def team_ids(user, role: str) -> set[int]:
    roles_of(user)
    return {team for r, team in getattr(user, "_tandem_grants", []) if r == role and team}


def visible_patients(user) -> QuerySet:
    """Patients this user may open as staff. Empty for everyone else."""
    return _patients(user, {Role.PRACTITIONER, Role.PRESCRIBER})


def changeable_patients(user) -> QuerySet:
    """Patients whose records this user may change (the rule `access_role` applies to one
    patient, for many at once): on the care team as a practitioner, or their team's lead."""
    return _patients(user, {Role.PRACTITIONER})


def _patients(user, member_roles: set[str]) -> QuerySet:
    from tandem.patients.models import CareTeamMember, Patient, active_membership

    roles = roles_of(user)
    q = Q(pk__in=[])
    if roles & member_roles:
        # A semi-join from the user's own memberships: cheap however many patients the
        # organisation holds.
        mine = CareTeamMember.objects.filter(
            active_membership(timezone.localdate()), user=user
        ).values("care_team__patient_id")
        q |= Q(pk__in=mine)
    lead_teams = team_ids(user, Role.TEAM_LEAD)
    if lead_teams:
        q |= Q(team_id__in=lead_teams)
    return Patient.objects.filter(q, organisation_id=user.organisation_id)


def access_role(user, patient) -> str | None:
    """The role through which `user` may open `patient` as staff, or None."""
    from tandem.patients.models import CareTeamMember, active_membership

    roles = roles_of(user)
    if patient.organisation_id != user.organisation_id:
        return None
    if roles & {Role.PRACTITIONER, Role.PRESCRIBER}:
        on_team = CareTeamMember.objects.filter(
            active_membership(timezone.localdate()), care_team__patient=patient, user=user
        ).exists()
        if on_team:
            return Role.PRACTITIONER if Role.PRACTITIONER in roles else Role.PRESCRIBER
    if patient.team_id in team_ids(user, Role.TEAM_LEAD):
        return Role.TEAM_LEAD
    return None


# Practitioners on the care team and team leads may change records; prescribers read.
CHANGES_RECORDS = (Role.PRACTITIONER, Role.TEAM_LEAD)


def portal_patient(user):
    """The patient record a portal user owns, or None."""
    from tandem.patients.models import Patient

    if Role.PATIENT not in roles_of(user):
        return None
    return Patient.objects.filter(portal_user=user, organisation_id=user.organisation_id).first()


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 403  # when refused: 401 (sign in), 403 (forbidden) or 404 (hidden)
    role: str = ""
    # When refused: the patient of the user's own organisation the URL named, for the audit
    # trail only (the refusal itself never says whether the patient exists).
    patient: object = None


ALLOW = Decision(True)


class Rule:
    public = False

    def decide(self, request, kwargs) -> Decision:  # pragma: no cover - interface
        raise NotImplementedError


class Public(Rule):
    public = True

    def decide(self, request, kwargs):
        return ALLOW


class SignedIn(Rule):
    def decide(self, request, kwargs):
        return ALLOW if roles_of(request.user) else Decision(False)


class Authenticated(Rule):
    """Any signed-in person, even one with no role yet (so they can at least sign out)."""

    def decide(self, request, kwargs):
        return ALLOW


class HasRole(Rule):
    def __init__(self, *roles: str):
        self.roles = set(roles)

    def decide(self, request, kwargs):
        held = roles_of(request.user) & self.roles
        if not held:
            return Decision(False)
        return Decision(True, role=sorted(held)[0])


class PatientRecord(Rule):
    """Staff access to one patient, named by the URL's `patient_id`. Hidden (404) otherwise."""

    def __init__(self, change: bool = False, methods_that_change: Iterable[str] = ()):
        self.change = change
        self.methods_that_change = set(methods_that_change)

    def decide(self, request, kwargs):
        from tandem.patients.models import Patient

        try:
            patient = (
                Patient.objects.filter(
                    pk=kwargs.get("patient_id"), organisation_id=request.user.organisation_id
                )
                .select_related("team")
                .first()
            )
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
        if changing and role not in CHANGES_RECORDS:
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


class ByMethod(Rule):
    """Different rules for reading and writing one URL (e.g. list vs create)."""

    def __init__(self, **by_method: Rule):
        self.by_method = {m.upper(): r for m, r in by_method.items()}

    def decide(self, request, kwargs):
        method = "GET" if request.method == "HEAD" else request.method
        rule = self.by_method.get(method)
        return rule.decide(request, kwargs) if rule else Decision(False, status=405)


class Nobody(Rule):
    def decide(self, request, kwargs):
        return Decision(False, status=404)


PUBLIC = Public()
NOBODY = Nobody()
SIGNED_IN = SignedIn()
AUTHENTICATED = Authenticated()
STAFF_CASELOAD = HasRole(Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD)
REGISTERS_PATIENTS = HasRole(Role.PRACTITIONER, Role.TEAM_LEAD)
# Bulk writes name many patients; each is checked with `changeable_patients`.
CHANGES_SOME_PATIENTS = HasRole(Role.PRACTITIONER, Role.TEAM_LEAD)
ADMIN = HasRole(Role.SERVICE_ADMIN)
INSTRUMENT_READERS = HasRole(Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD, Role.SERVICE_ADMIN)
AUDITOR = HasRole(Role.AUDITOR)
READ_PATIENT = PatientRecord()
CHANGE_PATIENT = PatientRecord(change=True)
API_PATIENT = PatientRecord(methods_that_change={"POST", "PUT", "PATCH", "DELETE"})
# A page anyone on the care team may read, whose form (POST) only those who change records use.
READ_PATIENT_POST_CHANGES = PatientRecord(methods_that_change={"POST"})
PORTAL = Portal()

API = "api-1.0.0:"

# Every named URL in Tandem, with the rule that decides it. A URL missing here is refused.
RULES: dict[str, Rule] = {
    "login": PUBLIC,
    "logout": AUTHENTICATED,
    "healthz": PUBLIC,
    "home": AUTHENTICATED,  # routes by role; someone with no role is told so
    "patients:list": STAFF_CASELOAD,
    "patients:new": REGISTERS_PATIENTS,
    "patients:detail": READ_PATIENT,
    "patients:edit": CHANGE_PATIENT,
    "patients:episode-new": CHANGE_PATIENT,
    "patients:episode-edit": CHANGE_PATIENT,
    "patients:member-new": CHANGE_PATIENT,
    "patients:member-end": CHANGE_PATIENT,
    "patients:flags": READ_PATIENT,
    "patients:flag": READ_PATIENT_POST_CHANGES,
    "patients:contact-new": CHANGE_PATIENT,
    "patients:re-engage": CHANGE_PATIENT,
    "patients:timeline": READ_PATIENT,
    "patients:plan": READ_PATIENT,
    "patients:plan-edit": CHANGE_PATIENT,
    "patients:plan-sign": CHANGE_PATIENT,
    "patients:review-new": CHANGE_PATIENT,
    "patients:review": READ_PATIENT,
    "patients:plan-difference": READ_PATIENT,
    "patients:plan-print": READ_PATIENT,
    "patients:plan-pdf": READ_PATIENT,
    "patients:action-new": CHANGE_PATIENT,
    "patients:action-edit": CHANGE_PATIENT,
    "patients:proposal-respond": CHANGE_PATIENT,
    "patients:goals": READ_PATIENT,
    "patients:goal-new": CHANGE_PATIENT,
    "patients:goal-edit": CHANGE_PATIENT,
    "patients:priorities": READ_PATIENT,
    "patients:priorities-new": CHANGE_PATIENT,
    "patients:sort-session": READ_PATIENT,
    "patients:sort": CHANGE_PATIENT,
    "patients:sort-discussion": CHANGE_PATIENT,
    "patients:checkups": READ_PATIENT,
    "patients:checkup-detail": READ_PATIENT,
    "patients:checkup-new": CHANGE_PATIENT,
    "patients:checkup-entry": CHANGE_PATIENT,
    "patients:checkup-schedule": CHANGE_PATIENT,
    "portal:home": PORTAL,
    "portal:checkups": PORTAL,
    "portal:progress": PORTAL,
    "portal:priorities": PORTAL,
    "portal:goals": PORTAL,
    "portal:plan": PORTAL,
    "portal:plan-sign": PORTAL,
    "portal:plan-propose": PORTAL,
    "portal:plan-print": PORTAL,
    "portal:plan-pdf": PORTAL,
    "portal:sort": PORTAL,
    "portal:checkup-start": PORTAL,
    "portal:checkup-question": PORTAL,
    "portal:checkup-help": PORTAL,
    "portal:checkup-review": PORTAL,
    "portal:checkup-done": PORTAL,
    "manage:users": ADMIN,
    "manage:user-new": ADMIN,
    "manage:user-edit": ADMIN,
    "manage:user-password-reset": ADMIN,
    "manage:password-set": PUBLIC,  # the emailed link's token decides
    "manage:password-set-done": PUBLIC,
    "manage:teams": ADMIN,
    "manage:team-new": ADMIN,
    "manage:team-edit": ADMIN,
    "manage:checkups": ADMIN,
    "manage:instruments": ADMIN,
    "manage:crisis-contacts": ADMIN,
    "manage:life-domains": ADMIN,
    "manage:urgent-answers": ADMIN,
    "manage:flag-rules": ADMIN,
    "audit:events": AUDITOR,
    "audit:export": AUDITOR,
    "api-docs": SIGNED_IN,
    API + "api-root": NOBODY,  # django-ninja's placeholder for reversing /api/v1/
    API + "openapi-json": SIGNED_IN,
    API + "patient-list": ByMethod(get=STAFF_CASELOAD, post=REGISTERS_PATIENTS),
    API + "patient-detail": API_PATIENT,
    API + "episode-list": API_PATIENT,
    API + "episode-detail": API_PATIENT,
    API + "care-team": API_PATIENT,
    API + "care-team-members": API_PATIENT,
    API + "instrument-list": INSTRUMENT_READERS,
    API + "instrument-detail": INSTRUMENT_READERS,
    API + "instrument-score": INSTRUMENT_READERS,  # stores nothing, names no patient
    API + "response-list": API_PATIENT,
    API + "response-detail": API_PATIENT,
    API + "response-submit": API_PATIENT,
    API + "scores": API_PATIENT,
    API + "response-batch": CHANGES_SOME_PATIENTS,
    API + "sort-list": API_PATIENT,
    API + "sort-detail": API_PATIENT,
    API + "sort-comparison": API_PATIENT,
    API + "goal-list": API_PATIENT,
    API + "goal-detail": API_PATIENT,
    API + "plan": API_PATIENT,
    API + "plan-sign": API_PATIENT,
    API + "review-list": API_PATIENT,
    API + "flag-list": STAFF_CASELOAD,
    API + "patient-flags": API_PATIENT,
    API + "flag-acknowledge": API_PATIENT,
    API + "flag-resolve": API_PATIENT,
    API + "caseload": STAFF_CASELOAD,
    API + "timeline": API_PATIENT,
}


# What part of one patient's record each patient URL shows or changes, for the audit trail:
# every view of it is recorded with this as the event's object_type, so an auditor (and the
# patient) can tell the plan from the check-ups. The words for each value are in
# tandem.audit.parts. A URL whose rule opens a patient's record and that is missing here is
# refused, like a URL without a rule (tests/test_permissions.py checks none is missing).
RECORD_PARTS: dict[str, str] = {
    "patients:detail": "summary",
    "patients:edit": "details",
    "patients:episode-new": "episodes",
    "patients:episode-edit": "episode",
    "patients:member-new": "care-team",
    "patients:member-end": "care-team",
    "patients:flags": "flags",
    "patients:flag": "flag",
    "patients:contact-new": "contacts",
    "patients:re-engage": "re-engagement",
    "patients:timeline": "timeline",
    "patients:plan": "plan",
    "patients:plan-edit": "plan",
    "patients:plan-sign": "plan",
    "patients:review-new": "reviews",
    "patients:review": "review",
    "patients:plan-difference": "plan",
    "patients:plan-print": "plan-print",
    "patients:plan-pdf": "plan-print",
    "patients:action-new": "plan-action",
    "patients:action-edit": "plan-action",
    "patients:proposal-respond": "plan-proposal",
    "patients:goals": "goals",
    "patients:goal-new": "goals",
    "patients:goal-edit": "goal",
    "patients:priorities": "priorities",
    "patients:priorities-new": "priorities",
    "patients:sort-session": "priority-sort",
    "patients:sort": "priority-sort",
    "patients:sort-discussion": "priority-sort",
    "patients:checkups": "checkups",
    "patients:checkup-detail": "checkup",
    "patients:checkup-new": "checkups",
    "patients:checkup-entry": "checkup",
    "patients:checkup-schedule": "checkup-schedule",
    "portal:home": "summary",
    "portal:checkups": "checkups",
    "portal:progress": "progress",
    "portal:priorities": "priorities",
    "portal:goals": "goals",
    "portal:plan": "plan",
    "portal:plan-sign": "plan",
    "portal:plan-propose": "plan-proposal",
    "portal:plan-print": "plan-print",
    "portal:plan-pdf": "plan-print",
    "portal:sort": "priority-sort",
    "portal:checkup-start": "checkups",
    "portal:checkup-question": "checkup",
    "portal:checkup-help": "checkup",
    "portal:checkup-review": "checkup",
    "portal:checkup-done": "checkup",
    API + "patient-detail": "details",
    API + "episode-list": "episodes",
    API + "episode-detail": "episode",
    API + "care-team": "care-team",
    API + "care-team-members": "care-team",
    API + "response-list": "checkups",
    API + "response-detail": "checkup",
    API + "response-submit": "checkup",
    API + "scores": "scores",
    API + "sort-list": "priorities",
    API + "sort-detail": "priority-sort",
    API + "sort-comparison": "priority-sort",
    API + "goal-list": "goals",
    API + "goal-detail": "goal",
    API + "plan": "plan",
    API + "plan-sign": "plan",
    API + "review-list": "reviews",
    API + "patient-flags": "flags",
    API + "flag-acknowledge": "flag",
    API + "flag-resolve": "flag",
    API + "timeline": "timeline",
}


@dataclass(frozen=True)
class Listing:
    """A page or endpoint listing patients: one audit event for each patient it showed.

    A web page's view names the patients it showed (`request.shown_patients`); for the API the
    middleware reads them from the JSON it sends: each item of `items` names its patient by
    `patient_key`. A request with a search term (`q`) is recorded as a patient search."""

    part: str
    items: str = ""
    patient_key: str = ""
    searched: str = "patient-search"


LISTS: dict[str, Listing] = {
    "patients:list": Listing("caseload"),
    API + "patient-list": Listing("patient-list", items="items", patient_key="id"),
    API + "flag-list": Listing("flag-list", items="items", patient_key="patient_id"),
    API + "caseload": Listing("caseload", items="results", patient_key="id"),
}


def opens_a_record(rule: Rule) -> bool:
    """Whether this rule opens one patient's record (so its URL must declare a part)."""
    if isinstance(rule, ByMethod):
        return any(opens_a_record(r) for r in rule.by_method.values())
    return isinstance(rule, PatientRecord | Portal)


def rule_for(view_name: str | None) -> Rule | None:
    return RULES.get(view_name or "")
