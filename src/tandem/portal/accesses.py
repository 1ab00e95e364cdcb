""""Who has looked at my record", for the patient: one row per person per day, saying in plain
words what they looked at or changed, over a window of 90 days (older windows one link away),
on its own page; the home says in one line how many people did lately (`people_lately`).

Read from the audit trail in a fixed number of statements whatever its size: the person-days
of one page (and their count), what each of them did, and whether anything is older.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from tandem.audit.models import Action, AuditEvent
from tandem.audit.parts import patient_words
from tandem.core.dates import EARLIEST

WINDOW_DAYS = 90
PER_PAGE = 20
LATELY_DAYS = 30  # the home's one line

# How a patient is told someone's role, when that person is not on their care team.
ROLE_WORDS = {
    "practitioner": "practitioner",
    "prescriber": "prescriber",
    "team_lead": "team lead",
    "service_admin": "service administrator",
    "auditor": "auditor",
}

# What someone did, in the order a row says it.
VERBS = (
    (Action.READ, "Looked at"),
    (Action.CREATE, "Changed or added to"),
    (Action.UPDATE, "Changed or added to"),
    (Action.EXPORT, "Printed or downloaded"),
    (Action.SEARCH, "Saw you in"),
)
VERB = dict(VERBS)


@dataclass
class Visit:
    """One person's dealings with the record on one day."""

    day: datetime.date
    who: str
    as_role: str
    did: dict[str, list[str]] = field(default_factory=dict)  # verb -> what, in order

    @property
    def sentences(self) -> list[str]:
        return [f"{verb} {_join(things)}." for verb, things in self.did.items()]


def _join(things: list[str]) -> str:
    return things[0] if len(things) == 1 else f"{', '.join(things[:-1])} and {things[-1]}"


@dataclass
class Window:
    until: datetime.date
    since: datetime.date
    page: object  # a Page of Visits
    older: datetime.date | None  # the `until` of the window before, when it has anything
    newer: datetime.date | None  # the `until` of the window after, when not the latest


def window_end(text: str | None, today: datetime.date) -> datetime.date:
    """The last day of the window asked for (`?until=`): today at the latest, 1900 at the
    earliest (no record is older, and the window's first day stays a date)."""
    try:
        asked = datetime.date.fromisoformat(text) if text else today
    except ValueError:
        asked = today
    return max(min(asked, today), EARLIEST)


def _others(patient):
    """Everything anyone but the patient did with their record (refusals were not access)."""
    others = AuditEvent.objects.filter(patient=patient).exclude(action=Action.REFUSED)
    if patient.portal_user_id:  # the patient's own visits are not listed
        others = others.exclude(actor_id=patient.portal_user_id)
    return others


def people_lately(patient, days: int = LATELY_DAYS) -> int:
    """How many people (Tandem itself is not one) looked at or changed the record in the last
    `days` days, today included: one query."""
    since = timezone.localdate() - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(since, datetime.time.min,
                                      tzinfo=timezone.get_current_timezone())
    return _others(patient).filter(occurred_at__gte=start).aggregate(
        people=Count("actor", distinct=True))["people"]


def who_looked(patient, *, until: datetime.date, page_number, care_roles: dict) -> Window:
    """The person-days in the 90 days up to `until` in which anyone but the patient looked at
    or changed their record, newest first. `care_roles`: user id -> role on their care team."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    since = until - datetime.timedelta(days=WINDOW_DAYS - 1)

    def start_of(day):
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)

    others = _others(patient)
    window = others.filter(occurred_at__gte=start_of(since),
                           occurred_at__lt=start_of(until + datetime.timedelta(days=1)))
    day = TruncDate("occurred_at", tzinfo=zone)
    person_days = (
        window.annotate(day=day)
        .values("day", "actor_id", "actor__first_name", "actor__last_name", "actor__username")
        .annotate(last=Max("occurred_at"))
        .order_by("-day", "-last", "actor_id")
    )
    page = Paginator(person_days, PER_PAGE).get_page(page_number)
    visits = {}
    for row in page:
        name = " ".join(filter(None, (row["actor__first_name"], row["actor__last_name"])))
        visits[(row["day"], row["actor_id"])] = Visit(
            row["day"], name or row["actor__username"] or "Tandem (automatically)", "")
    if visits:
        days = [d for d, _ in visits]
        actors = {a for _, a in visits}
        by = Q(actor_id__in=actors - {None})
        if None in actors:
            by |= Q(actor__isnull=True)
        done = (
            window.filter(by, occurred_at__gte=start_of(min(days)),
                          occurred_at__lt=start_of(max(days) + datetime.timedelta(days=1)))
            .annotate(day=day)
            .values("day", "actor_id", "role", "action", "object_type")
            .annotate(first=Min("occurred_at"))
            .order_by("first", "action", "object_type")
        )
        roles: dict = {}
        for row in done:
            visit = visits.get((row["day"], row["actor_id"]))
            if visit is None:  # a person-day on another page
                continue
            role = care_roles.get(row["actor_id"]) or ROLE_WORDS.get(row["role"], "")
            held = roles.setdefault((row["day"], row["actor_id"]), [])
            if role and role not in held:
                held.append(role)
            verb = VERB.get(row["action"])
            if verb is None:
                continue
            what = patient_words(row["object_type"])
            things = visit.did.setdefault(verb, [])
            if what not in things:
                things.append(what)
        for key, held in roles.items():
            visits[key].as_role = " and ".join(held)
        # In the order the sentences read, whatever order things were done in.
        order = [verb for _action, verb in VERBS]
        for visit in visits.values():
            visit.did = dict(sorted(visit.did.items(), key=lambda kv: order.index(kv[0])))
    page.object_list = list(visits.values())
    older = None
    if others.filter(occurred_at__lt=start_of(since)).exists():
        older = since - datetime.timedelta(days=1)
    newer = None
    if until < today:
        newer = min(until + datetime.timedelta(days=WINDOW_DAYS), today)
    return Window(until, since, page, older, newer)
