"""A small world for tests: two organisations, two teams, one person per role, patients placed
so each permission rule has a case that allows and one that refuses."""

from __future__ import annotations

import datetime
import sys
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from tandem.accounts.models import Organisation, Role, RoleGrant, Team, User
from tandem.patients.models import CareTeam, CareTeamMember, Episode, Patient

settings.register_profile("tandem", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tandem")

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def caseload_entries_stay_true(request):
    """After every test that touched the database, each patient's caseload entry still matches
    their data: a write that went round `caseload.refresh` fails the test that made it."""
    uses_db = {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    if uses_db:
        request.getfixturevalue("transactional_db" if "db" not in uses_db else "db")
    yield
    if uses_db:
        from tandem.caseload.entries import stale_entries

        assert stale_entries() == [], "caseload entries out of step with their data"


TODAY = datetime.date.today()


# The dates the clock gave while the test modules were imported (local and the machine's).
CLOCK_DATES = {TODAY, timezone.localdate()}


@pytest.fixture(autouse=True)
def today_is_today():
    """Test modules take `TODAY` from the clock when imported; a run that crosses midnight
    would then compare yesterday's date with pages that show today's. Before each test, every
    test module's TODAY that came from the clock is set to today (functions read module
    globals when called, so shared helpers see it too); a fixed date is left alone."""
    today = timezone.localdate()
    CLOCK_DATES.add(today)
    for name, module in list(sys.modules.items()):
        if ((name == "tests" or name.startswith("tests."))
                and getattr(module, "TODAY", None) in CLOCK_DATES):
            module.TODAY = today


def make_user(org, username, role=None, team=None, **extra):
    user = User.objects.create_user(username=username, password=PASSWORD, organisation=org,
                                    first_name=username.title(), last_name="Tester", **extra)
    if role:
        RoleGrant.objects.create(organisation=org, user=user, role=role, team=team)
    return user


def make_patient(org, team, service_id, *, members=(), portal_user=None, status="active"):
    patient = Patient.objects.create(
        organisation=org, team=team, service_id=service_id, given_name="Pat",
        family_name=f"Patient {service_id}", date_of_birth=datetime.date(1985, 5, 17),
        portal_user=portal_user,
    )
    care_team = CareTeam.objects.create(organisation=org, patient=patient)
    Episode.objects.create(organisation=org, patient=patient, status=status,
                           start_date=TODAY - datetime.timedelta(days=90), setting="community")
    for user, role in members:
        CareTeamMember.objects.create(organisation=org, care_team=care_team, user=user, role=role,
                                      start_date=TODAY - datetime.timedelta(days=90))
    return patient


@dataclass
class World:
    org: Organisation
    other_org: Organisation
    team_a: Team
    team_b: Team
    users: dict[str, User]
    p1: Patient  # team A; practitioner + prescriber on care team; has portal user
    p2: Patient  # team A; nobody on care team (team lead sees it)
    p3: Patient  # team B; practitioner_b's patient
    p_other: Patient  # other organisation

    def client(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


@pytest.fixture
def world(db) -> World:
    return build_world()


def build_world() -> World:
    org = Organisation.objects.create(name="Riverside Test Service")
    other = Organisation.objects.create(name="Elsewhere Service")
    team_a = Team.objects.create(organisation=org, name="Team A")
    team_b = Team.objects.create(organisation=org, name="Team B")
    other_team = Team.objects.create(organisation=other, name="Other team")
    users = {
        "practitioner": make_user(org, "practitioner", Role.PRACTITIONER, team_a),
        "practitioner_b": make_user(org, "practitioner_b", Role.PRACTITIONER, team_b),
        "prescriber": make_user(org, "prescriber", Role.PRESCRIBER),
        "team_lead": make_user(org, "team_lead", Role.TEAM_LEAD, team_a),
        "service_admin": make_user(org, "service_admin", Role.SERVICE_ADMIN),
        "auditor": make_user(org, "auditor", Role.AUDITOR),
        "service_manager": make_user(org, "service_manager", Role.SERVICE_MANAGER),
        "patient": make_user(org, "patient", Role.PATIENT),
        "other_org": make_user(other, "other_org", Role.PRACTITIONER, other_team),
    }
    p1 = make_patient(org, team_a, "T-001", portal_user=users["patient"], members=[
        (users["practitioner"], "keyworker"), (users["prescriber"], "prescriber")])
    p2 = make_patient(org, team_a, "T-002")
    p3 = make_patient(org, team_b, "T-003", members=[(users["practitioner_b"], "keyworker")])
    p_other = make_patient(other, other_team, "O-001",
                           members=[(users["other_org"], "keyworker")])
    return World(org, other, team_a, team_b, users, p1, p2, p3, p_other)


# Answers that add up to a given total, for building a patient's history of check-ups (shared by
# the feedback report's and the patient summary's tests).

def phq9(total):
    """PHQ-9 answers adding up to `total` (0-27)."""
    answers, left = {}, total
    for i in range(1, 10):
        answers[str(i)] = min(3, left)
        left -= answers[str(i)]
    return answers


def gad7(total):
    """GAD-7 answers adding up to `total` (0-21)."""
    answers, left = {}, total
    for i in range(1, 8):
        answers[str(i)] = min(3, left)
        left -= answers[str(i)]
    return answers
