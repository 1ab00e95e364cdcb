"""Writing the demo service into the database: accounts once, patients in bulk batches."""

from __future__ import annotations

import datetime
import functools
import math
import secrets
import sys
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from tandem.accounts.models import Organisation, Role, RoleGrant, Team, User
from tandem.assessment.models import CheckupSchedule, Response
from tandem.bulk import insert_sql
from tandem.caseload import entries as caseload
from tandem.demo import medication as demo_medication
from tandem.demo import reminders as demo_reminders
from tandem.demo.checkups import (
    CONTACT_COLUMNS,
    FLAG_COLUMNS,
    RESPONSE_COLUMNS,
    SCHEDULE_COLUMNS,
)
from tandem.demo.people import (
    CARE_TEAM_COLUMNS,
    EPISODE_COLUMNS,
    FAMILY,
    GIVEN,
    MEMBER_COLUMNS,
    PATIENT_COLUMNS,
    Generator,
    Staff,
)
from tandem.demo.plans import (
    ACTION_COLUMNS,
    GOAL_COLUMNS,
    PLAN_COLUMNS,
    RATING_COLUMNS,
    REVIEW_COLUMNS,
    TYPE_CHANGE_COLUMNS,
    VERSION_COLUMNS,
)
from tandem.demo.priorities import SESSION_COLUMNS, SORT_COLUMNS
from tandem.monitoring import evaluate
from tandem.monitoring.models import Contact, Flag
from tandem.patients.models import CareTeam, CareTeamMember, Episode, Patient
from tandem.planning.models import (
    CarePlan,
    Goal,
    GoalRating,
    GoalTypeChange,
    PlanAction,
    PlanVersion,
    PrioritySort,
    Review,
    SortSession,
)

ORGANISATION = "Riverside Recovery Service"
TEAMS = ("Team A — North", "Team B — South")
# A large demo has more teams, as a large service would: one per TEAM_SIZE patients.
TEAM_SIZE = 2000
BATCH = 5000
# Patients per keyworker when a large demo needs more staff (UK community drug and alcohol
# caseloads are commonly 40 to 60 per keyworker; demo figure only).
CASELOAD = 45

# username, first, last, roles, team index (None: no team)
ACCOUNTS = [
    ("admin", "Ada", "Admin", [Role.SERVICE_ADMIN], None),
    ("lead", "Leila", "Hart", [Role.TEAM_LEAD], 0),
    ("keyworker", "Kit", "Morgan", [Role.PRACTITIONER], 0),
    ("keyworker2", "Kamal", "Reid", [Role.PRACTITIONER], 1),
    ("prescriber", "Dr Priya", "Shah", [Role.PRESCRIBER], None),
    ("auditor", "Audrey", "Stone", [Role.AUDITOR], None),
    ("manager", "Mona", "Grant", [Role.SERVICE_MANAGER], None),
]
# Colleagues who share the caseloads; they cannot sign in (unusable passwords).
COLLEAGUES = [
    ("sam.okafor", "Sam", "Okafor", 0),
    ("jo.price", "Jo", "Price", 0),
    ("ruth.evans", "Ruth", "Evans", 1),
    ("dev.patel", "Dev", "Patel", 1),
]
PORTAL_ACCOUNTS = ("patient1", "patient2")


@dataclass
class DemoResult:
    organisation: Organisation
    created_patients: int
    rows: int
    passwords: dict[str, str]


@functools.cache
def _shared_hash(password: str) -> str:
    # Every demo account shares the one --password, so it is hashed (Argon2) once.
    return make_password(password)


def _account(org, username, first, last, password, passwords):
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"organisation": org, "first_name": first, "last_name": last},
    )
    if user.organisation_id != org.pk:
        raise SystemExit(f"A user called {username!r} exists in another organisation.")
    if password:
        user.password = _shared_hash(password)
        user.save(update_fields=["password"])
        passwords[username] = password
    elif created:
        chosen = secrets.token_urlsafe(9)
        user.set_password(chosen)
        user.save(update_fields=["password"])
        passwords[username] = chosen
    return user


def _grant(org, user, role, team=None):
    RoleGrant.objects.get_or_create(organisation=org, user=user, role=role, team=team)


@transaction.atomic
def ensure_service(password: str | None, patients: int = 0,
                   ) -> tuple[Organisation, list[Team], Staff, dict]:
    org, _ = Organisation.objects.get_or_create(name=ORGANISATION)
    names = [*TEAMS, *(f"Team {n}" for n in range(len(TEAMS) + 1,
                                                    math.ceil(patients / TEAM_SIZE) + 1))]
    teams = [Team.objects.get_or_create(organisation=org, name=name)[0] for name in names]
    passwords: dict[str, str] = {}
    users = {}
    for username, first, last, roles, team_index in ACCOUNTS:
        user = _account(org, username, first, last, password, passwords)
        for role in roles:
            _grant(org, user, role, teams[team_index] if role in (
                Role.PRACTITIONER, Role.TEAM_LEAD) else None)
        users[username] = user
    keyworkers = {0: [users["keyworker"].pk], 1: [users["keyworker2"].pk]}
    keyworkers.update({n: [] for n in range(len(TEAMS), len(teams))})
    for username, first, last, team_index in COLLEAGUES:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"organisation": org, "first_name": first, "last_name": last},
        )
        if created:
            user.set_unusable_password()
            user.save()
        _grant(org, user, Role.PRACTITIONER, teams[team_index])
        keyworkers[team_index].append(user.pk)
    for team_index, team in enumerate(teams):
        keyworkers[team_index] += _more_keyworkers(org, team, team_index, patients)
    return org, teams, Staff(keyworkers, users["prescriber"].pk), passwords


def _more_keyworkers(org, team, team_index: int, patients: int) -> list[int]:
    """Enough further keyworkers (without passwords) that each carries about CASELOAD
    patients, as a real service would staff a large demo."""
    prefix = f"kw{team_index}-"
    teams = max(len(TEAMS), math.ceil(patients / TEAM_SIZE))
    named = 3 if team_index < len(TEAMS) else 0  # the named keyworker and two colleagues
    wanted = math.ceil(patients / teams / CASELOAD) - named
    have = list(User.objects.filter(username__startswith=prefix).order_by("username")
                .values_list("pk", flat=True))
    missing = range(len(have), max(0, wanted))
    if missing:
        unusable = make_password(None)
        made = User.objects.bulk_create([
            User(username=f"{prefix}{n:05d}", organisation=org, password=unusable,
                 first_name=GIVEN[n % len(GIVEN)], last_name=FAMILY[(7 * n + team_index)
                                                                    % len(FAMILY)])
            for n in missing])
        made = User.objects.filter(username__in=[u.username for u in made]).order_by(
            "username")
        RoleGrant.objects.bulk_create([
            RoleGrant(organisation=org, user=u, role=Role.PRACTITIONER, team=team)
            for u in made])
        have += [u.pk for u in made]
    return have


TABLES = (
    (Patient, PATIENT_COLUMNS),
    (CareTeam, CARE_TEAM_COLUMNS),
    (Episode, EPISODE_COLUMNS),
    (CareTeamMember, MEMBER_COLUMNS),
    (Response, RESPONSE_COLUMNS),
    (CheckupSchedule, SCHEDULE_COLUMNS[1:]),  # its id is the database's own
    (Flag, FLAG_COLUMNS),
    (SortSession, SESSION_COLUMNS),
    (PrioritySort, SORT_COLUMNS),
    (Goal, GOAL_COLUMNS),
    (GoalTypeChange, TYPE_CHANGE_COLUMNS),
    (CarePlan, PLAN_COLUMNS),
    (PlanAction, ACTION_COLUMNS),
    (PlanVersion, VERSION_COLUMNS),
    (Review, REVIEW_COLUMNS),
    (GoalRating, RATING_COLUMNS),
    (Contact, CONTACT_COLUMNS),
)


def insert_statements() -> list[str]:
    """One parameterised INSERT per table, in the generator's column order."""
    for model, columns in TABLES:
        fields = {f.attname for f in model._meta.concrete_fields}
        auto = {"id"} if "id" not in columns else set()
        auto |= {f.attname for f in model._meta.concrete_fields if f.has_db_default()}
        # Every column without a default is written; a column with one may be (a version).
        assert fields - auto <= set(columns) <= fields, (
            f"demo columns out of step with {model.__name__}")
    return [insert_sql(model, columns) for model, columns in TABLES]


def generator(org, teams, staff) -> Generator:
    adapt = connection.ops.adapt_datetimefield_value
    created_at = adapt(timezone.now())

    @functools.cache
    def stamp(day: datetime.date):
        return adapt(datetime.datetime.combine(day, datetime.time(10, 0), tzinfo=datetime.UTC))

    return Generator(timezone.localdate(), staff, org.pk, [t.pk for t in teams], created_at,
                     stamp=stamp)


def load(
    patients: int,
    password: str | None = None,
    progress: bool | None = None,
) -> DemoResult:
    org, teams, staff, passwords = ensure_service(password, patients)
    existing = set(
        Patient.objects.of(org).filter(service_id__startswith="RRS-")
        .values_list("service_id", flat=True)
    )
    wanted = [n for n in range(1, patients + 1) if f"RRS-{n:06d}" not in existing]
    show = progress if progress is not None else len(wanted) >= 1000
    bar = tqdm(total=len(wanted), unit=" patients", disable=not show, file=sys.stderr)
    rows = 0
    statements = insert_statements()
    make = generator(org, teams, staff)
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, table in zip(statements, make.rows(chunk), strict=True):
                cursor.executemany(sql, table)
                rows += len(table)
        bar.update(len(chunk))
    bar.close()
    # Demo patients on each medicine (through the dose services), then methadone plans for a
    # share of the rest (set-based); settled below with everything else when patients are new.
    demo_medication.load(org, staff.prescriber, settle=not wanted)
    demo_reminders.load(org)  # the patients' choices for reminders
    if wanted:
        caseload.refresh()  # the rows went in as plain INSERTs, which send no signals
        # The flags end as the rules would leave them (plans' reviews and signatures, and
        # whatever the generated histories show), as after the service's nightly sweep.
        with transaction.atomic():
            evaluate.sweep(timezone.localdate())
        # Fresh statistics after a bulk load, so the planner sees the tables as they are (and on
        # PostgreSQL the visibility map too, for index-only scans), as autovacuum would later.
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    passwords.update(_portal_accounts(org, password))
    return DemoResult(org, len(wanted), rows, passwords)


@transaction.atomic
def _portal_accounts(org, password):
    """patient1 and patient2: the first two patients in treatment with `keyworker`."""
    passwords: dict[str, str] = {}
    keyworker = User.objects.get(username="keyworker")
    candidates = (
        Patient.objects.of(org).filter(
            care_team__members__user=keyworker,
            care_team__members__end_date__isnull=True,
            episodes__status="active",
        )
        .order_by("service_id")
        .distinct()
    )
    taken = list(Patient.objects.filter(portal_user__username__in=PORTAL_ACCOUNTS))
    free = [p for p in candidates[: len(PORTAL_ACCOUNTS) + len(taken)] if p not in taken]
    for username in PORTAL_ACCOUNTS:
        existing = next((p for p in taken if p.portal_user.username == username), None)
        record = existing or (free.pop(0) if free else None)
        if record is None:
            continue
        user = _account(org, username, record.given_name, record.family_name, password,
                        passwords)
        _grant(org, user, Role.PATIENT)
        if record.portal_user_id != user.pk:
            record.portal_user = user
            record.save(update_fields=["portal_user"])
    return passwords
