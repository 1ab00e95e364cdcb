"""What a reminder says, to whom, by which way: each patient's choices and contact details
(`Person`), the service's names and templates (`Service`), and the message's words
(`compose`). Read for many patients at once: one query each for choices, goals, services and
templates, however many messages are planned."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse

from tandem.accounts.models import Organisation
from tandem.core import reminders as rules
from tandem.planning.models import Goal, LifecycleStatus
from tandem.reminders.models import Preferences, ServiceWording, Template

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

    @property
    def reachable(self) -> list[str]:
        """The channels they agreed to, in their order, that can reach them."""
        can = {"sms": bool(self.phone and self.agrees_to_sms),
               "email": bool(self.email and self.agrees_to_email),
               "letter": bool(self.address.strip())}
        return [c for c in self.channels if can.get(c)]

    def recipient(self, channel: str) -> str:
        return {"sms": self.phone, "email": self.email, "letter": self.address.strip()}[channel]


def people(patient_ids) -> dict:
    """{patient id: Person} for these patients' choices (those with choices only)."""
    found = {}
    ids = list(patient_ids)
    for start in range(0, len(ids), 2000):
        rows = Preferences.objects.filter(patient_id__in=ids[start:start + 2000]).values(
            "patient_id", "organisation_id", "channels", "groups", "window_opens",
            "window_closes", "quote_goal", "name_the_service", "postal_address", "stop_token",
            "do_not_contact", "opted_out_at",
            "patient__preferred_name", "patient__given_name", "patient__phone",
            "patient__email", "patient__ok_to_leave_message", "patient__agrees_to_sms",
            "patient__agrees_to_email")
        for r in rows:
            found[r["patient_id"]] = Person(
                patient_id=r["patient_id"], organisation_id=r["organisation_id"],
                name=r["patient__preferred_name"] or r["patient__given_name"],
                phone=r["patient__phone"], email=r["patient__email"],
                address=r["postal_address"], channels=[c for c in r["channels"].split(",") if c],
                groups=[g for g in r["groups"].split(",") if g],
                window=rules.Window(r["window_opens"], r["window_closes"]),
                name_the_service=r["name_the_service"],
                ok_to_leave_message=r["patient__ok_to_leave_message"],
                agrees_to_sms=r["patient__agrees_to_sms"],
                agrees_to_email=r["patient__agrees_to_email"], stop_token=r["stop_token"],
                goal="quote" if r["quote_goal"] else "",
                stopped=r["do_not_contact"] or r["opted_out_at"] is not None)
    quoting = [pid for pid, p in found.items() if p.goal]
    for p in quoting:
        found[p].goal = ""
    for start in range(0, len(quoting), 2000):
        goals = Goal.objects.filter(
            patient_id__in=quoting[start:start + 2000],
            lifecycle_status__in=[LifecycleStatus.ACTIVE, LifecycleStatus.ACCEPTED]).order_by(
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

    @classmethod
    def default(cls) -> Service:
        return cls("your service", [])

    def template(self, kind: str) -> rules.Template:
        return self.templates.get(kind) or rules.DEFAULT_TEMPLATES[kind]


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
    """The service as messages name it. Its own name counts as clinical unless the service
    chose it as its everyday name; with no everyday name chosen, its own name is used only
    when it tells nothing, else "your service"."""
    clinical = wording.clinical_names if wording else []
    if wording and wording.everyday_name:
        everyday = wording.everyday_name
    elif not rules.words_that_tell(organisation.name, clinical):
        everyday = organisation.name
    else:
        everyday = "your service"
    if organisation.name != everyday:
        clinical = [organisation.name, *clinical]
    return Service(everyday, clinical, full_name=organisation.name)


def _day(day: datetime.date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def values(due, person: Person, service: Service, site: str) -> dict:
    """The placeholders' values for one message. The goal only when they said yes and it
    tells nothing (or they chose the service's full name); the keyworker's name only when
    messages may be left for them."""
    goal = person.goal
    if goal and not person.name_the_service and rules.words_that_tell(goal, service.clinical_names):
        goal = ""
    named = service.full_name if person.name_the_service and service.full_name \
        else service.everyday_name
    return {"name": person.name, "service": named, "date": _day(due.about),
            "time": due.time or None, "place": due.place or None,
            "link": (site + due.link) if due.link else None,
            "keyworker": due.keyworker if person.ok_to_leave_message else None,
            "goal": goal or None}


def compose(due, person: Person, service: Service, channel: str, site: str) -> tuple[str, str]:
    """(subject, body) of one message: the service's template for its kind (Tandem's until
    it writes one), filled in, with the opt-out link added. A service template that would
    tell what the service is (and the patient did not choose that) gives way to Tandem's
    neutral default."""
    filled = values(due, person, service, site)
    template = service.template(due.kind)
    subject, body = _fill(template, channel, filled)
    names = [] if person.name_the_service else service.clinical_names
    if not person.name_the_service and (rules.words_that_tell(subject, names)
                                        or (channel == "sms"
                                            and rules.words_that_tell(body, names))):
        subject, body = _fill(rules.DEFAULT_TEMPLATES[due.kind], channel, filled)
    stop = STOP_LINE[channel].format(url=site + reverse("stop", kwargs={
        "token": person.stop_token}))
    return subject, f"{body}\n\n{stop}"


def _fill(template: rules.Template, channel: str, filled: dict) -> tuple[str, str]:
    subject = rules.render(template.subject, filled)
    body = rules.render(template.text if channel == "sms" else template.body, filled)
    return subject, body


def site_url() -> str:
    return settings.SITE_URL
