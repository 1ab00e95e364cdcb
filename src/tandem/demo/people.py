"""Synthetic patients with varied, plausible treatment histories.

Deterministic: patient number i always comes out the same (its own seeded generator), so a
second run can top up to a larger N without changing or duplicating the first patients.
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field

GIVEN = (
    "Aaliyah Aaron Abdul Adam Aisha Alan Alex Alice Amir Amy Andrew Angela Anna Anthony Ava "
    "Barry Beth Bilal Bronwyn Callum Carl Caroline Chloe Chris Claire Colin Connor Craig Daniel "
    "Darren Dawn Dean Declan Dionne Donna Ellie Emma Eric Esther Fatima Fiona Gary Gemma Grace "
    "Hannah Harry Hassan Hayley Ian Imran Isla Jack Jade James Jamal Jason Jess John Jordan "
    "Joseph Karen Kayleigh Kelly Kerry Kevin Kieran Laura Lee Leon Lisa Liam Lucy Luke Marcus "
    "Mark Martin Maya Megan Michelle Mohammed Natalie Nathan Neil Nicola Niamh Oliver Omar Paul "
    "Priya Rachel Reece Rhys Ricky Robert Rosie Ryan Sadia Sam Sarah Scott Sean Shannon Sophie "
    "Stacey Stephen Stuart Tariq Tom Tracy Tyler Wayne Yusuf Zara Zoe"
).split()
FAMILY = (
    "Adams Ahmed Ali Allen Anderson Atkinson Bailey Baker Barker Begum Bell Bennett Brown "
    "Burns Campbell Carter Chapman Clarke Collins Cooper Cox Davies Dixon Doyle Edwards Ellis "
    "Evans Fisher Fletcher Foster Fox Gibson Graham Gray Green Griffiths Hall Harris Harrison "
    "Hughes Hussain Jackson James Jenkins Johnson Jones Kaur Kelly Kennedy Khan King Knight Lee "
    "Lewis Lloyd Marshall Martin Mason Matthews Miah Mills Mitchell Moore Morgan Morris Murphy "
    "Murray Owen Palmer Parker Patel Pearson Phillips Powell Price Reid Reynolds Richards "
    "Roberts Robinson Rogers Rose Russell Saunders Scott Shaw Simpson Singh Smith Stevens "
    "Stewart Taylor Thomas Thompson Turner Walker Walsh Ward Watson White Williams Wilson Wood "
    "Wright Young"
).split()
PRONOUNS = ("he/him", "she/her", "they/them", "", "")
SURGERIES = ("Riverside Medical Practice", "Hill Street Surgery", "Canal Road Health Centre",
             "Northgate Group Practice", "Parkview Surgery")
EXIT_REASONS = ("completed_free", "completed_occasional", "left", "transferred", "moved",
                "transferred_custody", "withdrawn")
CONTACT = ("phone", "phone", "sms", "sms", "email", "letter", "in_person")


@dataclass
class Staff:
    """The staff a patient's care team is drawn from, per team index."""

    keyworkers: dict[int, list[int]]  # team index -> practitioner user ids (first is favoured)
    prescriber: int


@dataclass
class EpisodeSpec:
    id: uuid.UUID
    start: datetime.date
    setting: str
    status: str
    exit_date: datetime.date | None = None
    exit_reason: str = ""
    closed_date: datetime.date | None = None


@dataclass
class MemberSpec:
    id: uuid.UUID
    role: str
    start: datetime.date
    user_id: int | None = None
    name: str = ""
    organisation_name: str = ""
    end: datetime.date | None = None


@dataclass
class PatientSpec:
    number: int
    id: uuid.UUID
    care_team_id: uuid.UUID
    team_index: int
    service_id: str
    given_name: str
    family_name: str
    date_of_birth: datetime.date
    pronouns: str
    phone: str
    email: str
    preferred_contact: str
    ok_to_leave_message: bool
    episodes: list[EpisodeSpec] = field(default_factory=list)
    members: list[MemberSpec] = field(default_factory=list)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _setting(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.8:
        return "community"
    if roll < 0.88:
        return "residential"
    if roll < 0.95:
        return "inpatient"
    return "secure"


def patient(number: int, today: datetime.date, staff: Staff, prefix: str = "RRS") -> PatientSpec:
    rng = random.Random(number * 7919 + 17)
    team_index = number % 2
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    dob = today - datetime.timedelta(days=rng.randint(18 * 365, 68 * 365))
    spec = PatientSpec(
        number=number,
        id=_uuid(rng),
        care_team_id=_uuid(rng),
        team_index=team_index,
        service_id=f"{prefix}-{number:06d}",
        given_name=given,
        family_name=family,
        date_of_birth=dob,
        pronouns=rng.choice(PRONOUNS),
        phone=f"07700 9{rng.randint(0, 99999):05d}",
        email=f"{given.lower()}.{family.lower()}{number}@example.org" if rng.random() < 0.6 else "",
        preferred_contact=rng.choice(CONTACT),
        ok_to_leave_message=rng.random() < 0.5,
    )

    # Treatment history: most in treatment now; some exited into monitoring or closed;
    # a quarter came back after an earlier episode (re-entry keeps the history).
    roll = rng.random()
    current_start = today - datetime.timedelta(days=rng.randint(7, 720))
    if roll >= 0.75:
        first_start = current_start - datetime.timedelta(days=rng.randint(200, 1400))
        first_exit = first_start + datetime.timedelta(
            days=rng.randint(60, max(61, (current_start - first_start).days - 30))
        )
        spec.episodes.append(EpisodeSpec(
            _uuid(rng), first_start, _setting(rng), "finished", first_exit,
            rng.choice(EXIT_REASONS), min(current_start, first_exit + datetime.timedelta(days=365)),
        ))
    episode = EpisodeSpec(_uuid(rng), current_start, _setting(rng), "active")
    if 0.55 <= roll < 0.75 or (roll >= 0.92):
        exit_date = current_start + datetime.timedelta(
            days=rng.randint(30, max(31, (today - current_start).days))
        )
        exit_date = min(exit_date, today)
        episode.exit_date = exit_date
        episode.exit_reason = rng.choice(EXIT_REASONS)
        if (today - exit_date).days > 365 or episode.exit_reason in ("transferred", "moved"):
            episode.status = "finished"
            episode.closed_date = min(today, exit_date + datetime.timedelta(days=365))
        else:
            episode.status = "post-exit-monitoring"
    spec.episodes.append(episode)

    first = spec.episodes[0].start
    keyworkers = staff.keyworkers[team_index]
    # The named demo keyworker carries a larger share than the other practitioners.
    keyworker = keyworkers[0] if rng.random() < 0.4 else rng.choice(keyworkers)
    if rng.random() < 0.2 and len(keyworkers) > 1:
        earlier = rng.choice([k for k in keyworkers if k != keyworker])
        handover = first + datetime.timedelta(days=rng.randint(20, 200))
        handover = min(handover, today)
        spec.members.append(MemberSpec(_uuid(rng), "keyworker", first, earlier, end=handover))
        spec.members.append(MemberSpec(_uuid(rng), "keyworker", handover, keyworker))
    else:
        spec.members.append(MemberSpec(_uuid(rng), "keyworker", first, keyworker))
    if rng.random() < 0.55:
        spec.members.append(MemberSpec(_uuid(rng), "prescriber", current_start, staff.prescriber))
    if rng.random() < 0.85:
        spec.members.append(MemberSpec(
            _uuid(rng), "gp", first, name=f"Dr {rng.choice(FAMILY)}",
            organisation_name=rng.choice(SURGERIES)))
    for role, chance, org in (
        ("housing", 0.2, "City Housing Options"),
        ("employment", 0.15, "Work Well Employment Service"),
        ("mental_health", 0.15, "Community Mental Health Team"),
        ("probation", 0.1, "Probation Service"),
    ):
        if rng.random() < chance:
            spec.members.append(MemberSpec(
                _uuid(rng), role, current_start, name=f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                organisation_name=org))
    if rng.random() < 0.15:
        spec.members.append(MemberSpec(
            _uuid(rng), "family", current_start, name=f"{rng.choice(GIVEN)} {family}"))
    return spec
