"""Synthetic patients with varied, plausible treatment histories.

Deterministic for a given date and batch. Patients are identified by service ID
(RRS-000001 …), so a second run tops up to a larger N without duplicating anyone.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from tandem.core.schedule import EpisodeDates
from tandem.demo.checkups import CheckupHistory
from tandem.demo.plans import PlanHistory
from tandem.demo.priorities import PriorityHistory

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


# The order plans.PlanHistory's tables are loaded in (see load.TABLES).
NAMED_KEYWORKER_UNTIL = 150  # patient numbers the named demo keyworkers share in
CONTACT_KINDS = ("in_person", "in_person", "phone", "phone", "video", "message")
PLAN_TABLES = ("goals", "changes", "plans", "actions", "versions", "reviews", "ratings")


@dataclass
class Staff:
    """The staff a patient's care team is drawn from, per team index."""

    keyworkers: dict[int, list[int]]  # team index -> practitioner user ids (first is favoured)
    prescriber: int


# Column order of the tuples below; load.py checks these against the models.
PATIENT_COLUMNS = ("id", "organisation_id", "team_id", "service_id", "given_name", "family_name",
                   "preferred_name", "date_of_birth", "pronouns", "sex_for_thresholds",
                   "phone", "email",
                   "preferred_contact", "ok_to_leave_message", "contact_notes",
                   "agrees_to_email", "agrees_to_sms", "portal_user_id",
                   "created_at")
# Demo only: sex for clinical thresholds follows the pronouns; "they/them" is not recorded.
SEX_FOR = {"she/her": "female", "he/him": "male"}
CARE_TEAM_COLUMNS = ("id", "organisation_id", "patient_id", "status")
EPISODE_COLUMNS = ("id", "organisation_id", "patient_id", "start_date", "setting", "status",
                   "exit_date", "exit_reason", "closed_date")
MEMBER_COLUMNS = ("id", "organisation_id", "care_team_id", "user_id", "name",
                  "organisation_name", "contact", "role", "start_date", "end_date")

_VERSION_MASK = ~((0xF << 76) | (0x3 << 62))
_VERSION_BITS = (0x4 << 76) | (0x2 << 62)


class Generator:
    """Rows for synthetic patients, as tuples of plain values any database accepts
    (UUIDs as 32 hex digits, dates as ISO strings), so loading is a bulk executemany."""

    def __init__(self, today: datetime.date, staff: Staff, organisation_id: int,
                 team_ids: list[int], created_at, prefix: str = "RRS", stamp=None):
        self.today = today
        self.staff = staff
        self.org = organisation_id
        self.teams = team_ids
        self.created_at = created_at
        self.prefix = prefix
        day = today.toordinal()
        # ISO strings for every day back to the oldest birth date, computed once.
        self.iso = [datetime.date.fromordinal(day - n).isoformat() for n in range(70 * 366)]
        # date → the database's value for a mid-morning time that day (check-up times)
        self.stamp = stamp or (lambda d: f"{d.isoformat()} 10:00:00")

    def rows(self, numbers) -> tuple[list, ...]:
        numbers = list(numbers)
        rng = random.Random(numbers[0] * 7919 + len(numbers) if numbers else 0)
        rand, bits = rng.random, rng.getrandbits

        def randint(low: int, high: int) -> int:
            return low + int(rand() * (high - low + 1))

        def choice(seq):
            return seq[int(rand() * len(seq))]

        def uid() -> str:
            return f"{(bits(128) & _VERSION_MASK) | _VERSION_BITS:032x}"

        patients, care_teams, episodes, members = [], [], [], []
        responses, schedules, flags, sessions, sorts, contacts = [], [], [], [], [], []
        planned = {name: [] for name in PLAN_TABLES}
        org, staff, date = self.org, self.staff, self.iso.__getitem__
        history = CheckupHistory(org, self.today, self.stamp, uid, rand)
        priorities = PriorityHistory(org, self.stamp, uid, rand)
        plans = PlanHistory(org, self.today, self.stamp, uid, rand)
        labels = dict((code, label) for code, label, _q in priorities.cards)
        days_ago = self.today.toordinal()
        for number in numbers:
            # The first patients share the two named teams; a large demo's others spread
            # over all its teams.
            team_index = number % (2 if number <= NAMED_KEYWORKER_UNTIL else len(self.teams))
            given, family = choice(GIVEN), choice(FAMILY)
            pid, ctid = uid(), uid()
            email = f"{given.lower()}.{family.lower()}{number}@example.org" if rand() < 0.6 else ""
            pronouns = choice(PRONOUNS)
            born = date(randint(18 * 365, 68 * 365))
            phone = f"07700 9{randint(0, 99999):05d}"
            contact = choice(CONTACT)
            patients.append((
                pid, org, self.teams[team_index], f"{self.prefix}-{number:06d}", given, family,
                "", born, pronouns, SEX_FOR.get(pronouns, ""), phone, email, contact,
                rand() < 0.5, "",
                # Agreed channels follow the preferred one, and half agree to texts as well.
                bool(email) and (contact == "email" or number % 3 == 0),
                contact == "sms" or number % 2 == 0,
                None, self.created_at,
            ))
            care_teams.append((ctid, org, pid, "active"))

            # Most are in treatment now; some exited into monitoring or closed; a quarter
            # came back after an earlier episode (re-entry keeps the history).
            # Patients 2 and 4 (Team A) are in treatment with the demo keyworker: they hold
            # the portal accounts patient1 and patient2.
            portal = number in (2, 4)
            roll = rand() * 0.55 if portal else rand()
            current = randint(7, 720)  # days ago
            first = current
            if roll >= 0.75:
                first = current + randint(200, 1400)
                first_exit = first - randint(60, max(61, first - current - 30))
                closed = max(current, first_exit - 365)
                episodes.append((uid(), org, pid, date(first), _setting(rand), "finished",
                                 date(first_exit), choice(EXIT_REASONS), date(closed)))
            status, exit_date, reason, closed = "active", None, "", None
            if 0.55 <= roll < 0.75 or roll >= 0.92:
                exit_ago = max(0, current - randint(30, max(31, current)))
                reason = choice(EXIT_REASONS)
                exit_date = date(exit_ago)
                if exit_ago > 365 or reason in ("transferred", "moved"):
                    status, closed = "finished", date(max(0, exit_ago - 365))
                else:
                    status = "post-exit-monitoring"
            episode_id = uid()
            episodes.append((episode_id, org, pid, date(current), _setting(rand), status,
                             exit_date, reason, closed))

            keyworkers = staff.keyworkers[team_index]
            # The named demo keyworker carries a larger share of the first patients; a large
            # demo spreads the rest over its further keyworkers (load.CASELOAD each).
            named = portal or (number <= NAMED_KEYWORKER_UNTIL and rand() < 0.4)
            keyworker = keyworkers[0] if named else choice(keyworkers[1:] or keyworkers)
            if rand() < 0.2 and len(keyworkers) > 1 and not portal:
                earlier = choice([k for k in keyworkers if k != keyworker])
                handover = date(max(0, first - randint(20, 200)))
                members.append((uid(), org, ctid, earlier, "", "", "", "keyworker", date(first),
                                handover))
                members.append((uid(), org, ctid, keyworker, "", "", "", "keyworker", handover,
                                None))
            else:
                members.append((uid(), org, ctid, keyworker, "", "", "", "keyworker",
                                date(first), None))
            if rand() < 0.55:
                members.append((uid(), org, ctid, staff.prescriber, "", "", "", "prescriber",
                                date(current), None))
            if rand() < 0.85:
                members.append((uid(), org, ctid, None, f"Dr {choice(FAMILY)}",
                                choice(SURGERIES), "", "gp", date(first), None))
            for role, chance, where in OUTSIDE:
                if rand() < chance:
                    members.append((uid(), org, ctid, None, f"{choice(GIVEN)} {choice(FAMILY)}",
                                    where, "", role, date(current), None))
            if rand() < 0.15:
                members.append((uid(), org, ctid, None, f"{choice(GIVEN)} {family}", "", "",
                                "family", date(current), None))
            dates = EpisodeDates(
                datetime.date.fromordinal(days_ago - current), status,
                datetime.date.fromisoformat(exit_date) if exit_date else None)
            problem = history.pick_problem()
            last_contact = None
            if status == "active":  # keyworking sessions: most seen in the last month
                for gap in sorted((randint(0, 45) for _ in range(1 + randint(0, 2))),
                                  reverse=True):
                    day = max(dates.start, self.today - datetime.timedelta(days=gap))
                    last_contact = day
                    contacts.append((uid(), org, pid, day.isoformat(), choice(CONTACT_KINDS),
                                     "", keyworker, self.stamp(day)))
            done, schedule, raised = history.rows(pid, episode_id, dates, keyworker, portal,
                                                  problem, last_contact)
            responses += done
            schedules.append(schedule[1:])  # the schedule's id is the database's own
            flags += raised
            if status != "finished":
                rounds, sorted_, first = priorities.rows(pid, episode_id, dates.start,
                                                         keyworker, problem, self.today)
                sessions += rounds
                sorts += sorted_
                for name, rows in plans.rows(pid, episode_id, first, keyworker, problem,
                                             labels).items():
                    planned[name] += rows
            if portal:  # a new round waiting for the portal patient's own sort
                sessions.append((uid(), org, pid, episode_id, keyworker,
                                 self.stamp(self.today), "", None, None))
        return (patients, care_teams, episodes, members, responses, schedules, flags, sessions,
                sorts, *(planned[name] for name in PLAN_TABLES), contacts)


OUTSIDE = (
    ("housing", 0.2, "City Housing Options"),
    ("employment", 0.15, "Work Well Employment Service"),
    ("mental_health", 0.15, "Community Mental Health Team"),
    ("probation", 0.1, "Probation Service"),
)


def _setting(rand) -> str:
    roll = rand()
    if roll < 0.8:
        return "community"
    if roll < 0.88:
        return "residential"
    if roll < 0.95:
        return "inpatient"
    return "secure"
