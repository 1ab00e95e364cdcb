"""The permission layer's mechanism: who holds which role, and the rules a URL can be given.

Each app states the rules about its own records (patients: `tandem.patients.access`, who may
open which patient); the one table naming the rule of every URL, and the gate that applies it
before any view runs, sit above the apps they guard (`tandem.web.permissions`). Default deny.
tests/test_permissions.py walks every URL with every role against the expected table.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def staff_teams(user) -> set[int]:
    """The teams whose patients this user works with, as a practitioner or their lead."""
    return team_ids(user, Role.PRACTITIONER) | team_ids(user, Role.TEAM_LEAD)


# Practitioners on the care team and team leads may change records; prescribers read.
CHANGES_RECORDS = (Role.PRACTITIONER, Role.TEAM_LEAD)


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
# Pharmacy reports for many patients at once (the CSV import); each row's patient is checked.
RECORDS_DISPENSING = HasRole(Role.PRACTITIONER, Role.TEAM_LEAD, Role.PRESCRIBER)
INSTRUMENT_READERS = HasRole(Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD, Role.SERVICE_ADMIN)
AUDITOR = HasRole(Role.AUDITOR)
# The service report (issue 16): a service manager reads every team's figures, a team lead
# their teams', a practitioner their own caseload's (tandem.reporting.forms.reader_of narrows
# the figures). Prescribers are not given the report yet.
READS_REPORT = HasRole(Role.SERVICE_MANAGER, Role.TEAM_LEAD, Role.PRACTITIONER)
# The list of patients behind a figure: only those who may open patients (a service manager
# holds no clinical role); each list is narrowed to the patients the reader may open.
DRILLS_REPORT = HasRole(Role.TEAM_LEAD, Role.PRACTITIONER)

