"""What a reminder says, to whom, by which way: each patient's choices and contact details
(`Person`), the service's names and templates (`Service`), and the message's words
(`compose`). Read for many patients at once: one query each for choices, goals, services and
templates, however many messages are planned."""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse

from tandem.accounts.models import Organisation
from tandem.core import reminders as rules
from tandem.outbox import naming
from tandem.outbox.models import ServiceWording
from tandem.planning.models import Goal, LifecycleStatus
from tandem.reminders.models import Preferences, Template

# What a letter's envelope shows: only the patient's name and address, and this return line.
STOP_LINE = {"sms": "Stop these texts: {url}",
             "email": "To stop these emails, open {url}",
             "letter": "To stop these letters, go to {url} or tell us."}


@dataclass
class Person:
    patient_id: object
    organisation_id: int
    name: str
    phone: str
    email: str
    address: str
    channels: list[str]
    groups: list[str]
    window: rules.Window
    name_the_service: bool
    ok_to_leave_message: bool
    agrees_to_sms: bool
    agrees_to_email: bool
    stop_token: str
    goal: str = ""
    stopped: bool = False  # "do not contact", or they stopped messages
    reachable: list[str] = field(init=False)  # the ways they agreed to that can reach them

    def __post_init__(self):
        can = {"sms": bool(self.phone and self.agrees_to_sms),
               "email": bool(self.email and self.agrees_to_email),
               "letter": bool(self.address.strip())}
        self.reachable = [c for c in self.channels if can.get(c)]

    def recipient(self, channel: str) -> str:
        return {"sms": self.phone, "email": self.email, "letter": self.address.strip()}[channel]


# The goals a reminder may quote (the first by priority): those they are working on.
QUOTED_GOALS = (LifecycleStatus.ACTIVE, LifecycleStatus.ACCEPTED)

# What a Person is read from: Preferences' columns and its patient's (`person_columns`).
CHOICES = ("channels", "groups", "window_opens", "window_closes", "quote_goal",
           "name_the_service", "postal_address", "stop_token", "opted_out_at")
CONTACT = ("preferred_name", "given_name", "phone", "email", "ok_to_leave_message",
           "agrees_to_sms", "agrees_to_email", "do_not_contact")


def person_columns(to_choices: str, to_patient: str) -> list[str]:
    """The columns `person_from` reads, through these paths to Preferences and Patient (""
    for the model itself), e.g. ("patient__reminder_preferences__", "patient__")."""
    return [to_choices + c for c in CHOICES] + [to_patient + c for c in CONTACT]


def person_from(values, patient_id, organisation_id) -> Person:
    """A Person from the values of `person_columns`, in their order."""
    (channels, groups, opens, closes, quote_goal, named, address, stop_token, opted_out_at,
     preferred, given, phone, email, leave_message, sms, mail, do_not_contact) = values
    return Person(
        patient_id=patient_id, organisation_id=organisation_id, name=preferred or given,
        phone=phone, email=email, address=address, channels=_split(channels),
        groups=_split(groups), window=_window(opens, closes), name_the_service=bool(named),
        ok_to_leave_message=bool(leave_message), agrees_to_sms=bool(sms),
        agrees_to_email=bool(mail), stop_token=stop_token, goal="quote" if quote_goal else "",
        stopped=bool(do_not_contact) or opted_out_at is not None)


@functools.lru_cache(maxsize=256)
def _split(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


@functools.lru_cache(maxsize=256)
def _window(opens, closes) -> rules.Window:
    """The window from two times (or SQLite's text of them)."""
    def time(value):
        return value if isinstance(value, datetime.time) else datetime.time.fromisoformat(value)

    return rules.Window(time(opens), time(closes))


def people(patient_ids, known: dict | None = None) -> dict:
    """{patient id: Person} for these patients' choices (those with choices only), with
    their goal to quote where they said yes. `known`: people already read (with the rows of
    what is due), not read again."""
    found = dict(known or {})
    ids = [pid for pid in patient_ids if pid not in found]
    columns = person_columns("", "patient__")
    for start in range(0, len(ids), 2000):
        rows = Preferences.objects.filter(patient_id__in=ids[start:start + 2000]).values(
            "patient_id", "organisation_id", *columns)
        for r in rows:
            found[r["patient_id"]] = person_from([r[c] for c in columns], r["patient_id"],
                                                 r["organisation_id"])
    quoting = [pid for pid, p in found.items() if p.goal == "quote"]
    for p in quoting:
        found[p].goal = ""
    for start in range(0, len(quoting), 2000):
        goals = Goal.objects.filter(
            patient_id__in=quoting[start:start + 2000],
            lifecycle_status__in=QUOTED_GOALS).order_by(
            "patient_id", "priority", "created_at").values_list("patient_id", "statement")
        for pid, statement in goals:
            if not found[pid].goal:
                found[pid].goal = statement
    return found


@dataclass
class Service:
    everyday_name: str
    clinical_names: list[str]
    templates: dict = field(default_factory=dict)  # kind: core.reminders.Template
    full_name: str = ""  # for patients who chose messages that name it
    _discreet: dict = field(default_factory=dict, repr=False)

    @classmethod
    def default(cls) -> Service:
        return cls("your service", [])

    def template(self, kind: str) -> rules.Template:
        return self.templates.get(kind) or rules.DEFAULT_TEMPLATES[kind]

    def discreet(self, kind: str, channel: str, named: bool) -> rules.Template:
        """The template to use: the service's own, unless its words (in a subject, or a text
        message) tell what the service is about and the patient did not choose that; then
        Tandem's neutral default. Worked out once for each kind, way and choice."""
        key = (kind, channel, named)
        if key not in self._discreet:
            own = self.template(kind)
            names = [] if named else self.clinical_names
            words = [own.subject] + ([own.text] if channel == "sms" else [])
            tells = not named and any(rules.words_that_tell(rules.PLACEHOLDER.sub(" ", w),
                                                            names) for w in words)
            self._discreet[key] = rules.DEFAULT_TEMPLATES[kind] if tells else own
        return self._discreet[key]


def services(organisation_ids) -> dict:
    """{organisation id: Service}: its everyday name, clinical names and own templates."""
    found = {}
    names = {w.organisation_id: w for w in ServiceWording.objects.filter(
        organisation_id__in=organisation_ids)}
    for org in Organisation.objects.filter(pk__in=organisation_ids):
        found[org.pk] = service_of(org, names.get(org.pk))
    for t in Template.objects.filter(organisation_id__in=organisation_ids):
        found[t.organisation_id].templates[t.kind] = t.wording
    return found


def service_of(organisation, wording: ServiceWording | None) -> Service:
    """The service as messages name it (tandem.outbox.naming)."""
    names = naming.names_of(organisation, wording)
    return Service(names.everyday, list(names.clinical), full_name=names.full)


@functools.lru_cache(maxsize=1024)
def _day(day: datetime.date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def values(due, person: Person, service: Service, site: str) -> dict:
    """The placeholders' values for one message. The goal only when they said yes and it
    tells nothing (or they chose the service's full name); the place only when it tells
    nothing (or they chose so); the keyworker's name only when messages may be left for
    them."""
    goal, place = person.goal, due.place
    if not person.name_the_service:
        if goal and rules.words_that_tell(goal, service.clinical_names):
            goal = ""
        if place and rules.words_that_tell(place, service.clinical_names):
            place = ""
    named = service.full_name if person.name_the_service and service.full_name \
        else service.everyday_name
    return {"name": person.name, "service": named, "date": _day(due.about),
            "time": due.time or None, "place": place or None,
            "link": (site + due.link) if due.link else None,
            "keyworker": due.keyworker if person.ok_to_leave_message else None,
            "goal": goal or None}


def compose(due, person: Person, service: Service, channel: str, site: str) -> tuple[str, str]:
    """(subject, body) of one message: the service's template for its kind (Tandem's until
    it writes one), filled in, with the opt-out link added. A service template that would
    tell what the service is (in a text message or a subject; the patient did not choose
    that) gives way to Tandem's neutral default. The values that could tell (a goal, a place)
    are checked one by one (`values`); the rest of the words are the template's, checked
    once for each kind and way, not once for each message."""
    filled = values(due, person, service, site)
    template = service.discreet(due.kind, channel, person.name_the_service)
    subject, body = _fill(template, channel, filled)
    stop = STOP_LINE[channel].format(url=site + stop_path(person.stop_token))
    return subject, f"{body}\n\n{stop}"


@functools.cache
def _stop_prefix() -> str:
    return reverse("stop", kwargs={"token": "T"})[:-2]


def stop_path(token: str) -> str:
    """The stop link's path (reversed once, not once a message)."""
    return f"{_stop_prefix()}{token}/"


def _fill(template: rules.Template, channel: str, filled: dict) -> tuple[str, str]:
    subject = rules.render(template.subject, filled)
    body = rules.render(template.text if channel == "sms" else template.body, filled)
    return subject, body


def site_url() -> str:
    return settings.SITE_URL
