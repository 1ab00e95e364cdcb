"""One check-up: the questionnaires due together, done by the patient as one sitting.

`begin` starts (or resumes) the check-up of everything due or half-done now; `flow` lays its
questionnaires end to end as numbered steps (one screen each, as `pages` splits them), so
one progress bar runs across all of them; `save_step` keeps a screen's answers (safety rules
fire at once, in `responses.save_answers`) and where the patient is, in the database, so they
carry on at the same question on any device; `finish` sends every questionnaire at once, or
nothing, naming each question still to answer.

Each questionnaire keeps its own `Response`, linked to the `Checkup`: scores, charts, staff
pages and the API see exactly what they saw before.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.assessment import events, registry, responses
from tandem.assessment.models import Checkup, Mode, Response, ResponseStatus
from tandem.assessment.schedules import checkup_status
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core import scoring
from tandem.core.instruments import Instrument, Item

# What each shipped questionnaire is about, in the patient's words (the progress line says
# "Part 2 of 4: how things are in each area of your life"); others show their title.
ABOUT = {
    "top": "drink, drugs, health and daily life in the past four weeks",
    "life-domains": "how things are in each area of your life",
    "phq9": "your mood",
    "gad7": "worry and feeling on edge",
    "k10": "how you have been feeling",
    "audit": "your drinking",
    "audit-c": "your drinking",
}


def about(instrument: Instrument) -> str:
    return ABOUT.get(instrument.code, instrument.title)


def pages(instrument: Instrument) -> list[list[Item]]:
    """Screens of a questionnaire: one question each; items sharing a section (e.g. the days
    used in each of four weeks, and the typical amount, for one substance) make one screen."""
    screens: list[list[Item]] = []
    for item in instrument.items:
        if screens and item.section and screens[-1][0].section == item.section:
            screens[-1].append(item)
        else:
            screens.append([item])
    return screens


@dataclass
class Part:
    """One questionnaire of the check-up."""

    code: str
    instrument: Instrument
    response: Response
    first: int  # the check-up's step number of its first screen
    screens: list[list[Item]]

    @property
    def last(self) -> int:
        return self.first + len(self.screens) - 1

    @property
    def name(self) -> str:
        return self.instrument.name

    @property
    def about(self) -> str:
        return about(self.instrument)


@dataclass
class Step:
    number: int  # 1 .. total, across the whole check-up
    part: Part
    screen: int  # 1 .. the questionnaire's own screens
    items: list[Item]


@dataclass
class Flow:
    checkup: Checkup
    parts: list[Part] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.parts[-1].last if self.parts else 0

    def step(self, number: int) -> Step | None:
        for part in self.parts:
            if part.first <= number <= part.last:
                screen = number - part.first + 1
                return Step(number, part, screen, part.screens[screen - 1])
        return None

    def step_of(self, code: str, screen: int = 1) -> int:
        part = next(p for p in self.parts if p.code == code)
        return part.first + max(0, min(screen, len(part.screens)) - 1)

    @property
    def resume_at(self) -> int:
        """Where the patient carries on: the step they were on (past the last: the review)."""
        return min(max(self.checkup.position, 1), self.total + 1)


def flow(checkup: Checkup) -> Flow:
    """The check-up's questionnaires in order, each with its response and step numbers. A
    questionnaire the service no longer offers is left out."""
    available = registry.available(checkup.patient.organisation)
    by_code = {r.instrument_code: r for r in checkup.responses.order_by("started_at")}
    found, first = Flow(checkup), 1
    for code in checkup.instrument_codes:
        instrument, response = available.get(code), by_code.get(code)
        if instrument is None or response is None:
            continue
        screens = pages(instrument)
        found.parts.append(Part(code, instrument, response, first, screens))
        first += len(screens)
    return found


def open_checkup(patient) -> Checkup | None:
    return patient.checkups.filter(completed_at__isnull=True).first()


def due_codes(patient) -> list[str]:
    """What the check-up would hold now: each questionnaire of the service's check-up that is
    due, overdue, or already half-done, in the service's order."""
    return [s.code for s in checkup_status(patient)
            if s.instrument is not None and (s.needs_doing or s.draft is not None)]


def begin(actor: Actor, patient) -> Checkup | None:
    """The patient's open check-up, or a new one of everything due or half-done now (None:
    nothing is). Drafts already started are carried into it, answers and all. Two presses at
    once make one check-up (the database allows one open check-up per patient)."""
    current = open_checkup(patient)
    if current is not None and _has_drafts(current):
        return current
    if current is not None:  # every part was sent some other way: it is finished
        _close(actor, current)
    codes = due_codes(patient)
    if not codes:
        return None
    available = registry.available(patient.organisation)
    try:
        with transaction.atomic():
            checkup = Checkup.objects.create(
                organisation_id=patient.organisation_id, patient=patient,
                instrument_codes=codes, started_by=actor.user)
            record_by(actor, "create", patient=patient, obj=checkup)
            for code in codes:
                response = responses.start(actor, patient, available[code], mode=Mode.SELF)
                response.checkup = checkup
                response.save(update_fields=["checkup"])
    except IntegrityError:  # the other press made it first
        return open_checkup(patient)
    return checkup


def _has_drafts(checkup: Checkup) -> bool:
    return checkup.responses.filter(status=ResponseStatus.IN_PROGRESS).exists()


def _close(actor: Actor, checkup: Checkup) -> None:
    checkup.completed_at = checkup.updated_at = timezone.now()
    checkup.save(update_fields=["completed_at", "updated_at"])
    record_by(actor, "update", patient=checkup.patient, obj=checkup)


class Changed(Exception):
    """The answers on this screen were changed elsewhere (another tab or device) after this
    page was opened: {item id: the answer saved now}. `flags`: those its safety answers
    raised all the same (see `heed_safety`)."""

    def __init__(self, saved: dict, flags=()):
        super().__init__(saved)
        self.saved = saved
        self.flags = list(flags)


def answers_on(step: Step) -> dict:
    """The answers saved now for the questions on this screen."""
    saved = step.part.response.answers
    return {item.id: saved.get(item.id) for item in step.items}


class Closed(Exception):
    """The check-up was sent, or this questionnaire was sent another way, while the page was
    open: nothing it sent is changed. `flags`: as for `Changed`."""

    def __init__(self, flags=()):
        super().__init__()
        self.flags = list(flags)


def urgent_answers(part: Part, raw: dict) -> dict:
    """Of the answers posted for a screen, those that are well formed and meet a safety rule
    (the questionnaire's own or the service's): {item id: the answer as posted}."""
    clean, _errors = scoring.check_answers(part.instrument, raw)
    clean = {k: v for k, v in clean.items() if v is not None}
    rules = responses.service_safety_rules(part.response.organisation_id, part.code)
    return {rule.item: raw[rule.item]
            for rule in scoring.safety_hits(part.instrument, clean, rules)}


def _locked(flow_: Flow, step: Step) -> tuple[Checkup, Response]:
    """The check-up, then the questionnaire, locked: the order `finish` locks them in."""
    checkup = Checkup.objects.select_for_update().get(pk=flow_.checkup.pk)
    return checkup, Response.objects.select_for_update().get(pk=step.part.response.pk)


def _is_open(checkup: Checkup, response: Response) -> bool:
    return checkup.completed_at is None and response.status == ResponseStatus.IN_PROGRESS


def save_step(actor: Actor, flow_: Flow, step: Step, raw: dict, *, seen: dict | None,
              next_position: int) -> list:
    """Keep this screen's answers and where the patient goes next; the flags they raised.
    `seen` is what the page showed as saved when it was opened. Nothing of the screen is kept
    when an answer is wrong (responses.AnswersInvalid), when the saved answers changed
    elsewhere since the page opened (`Changed`, with what is saved now), or once the check-up
    or this questionnaire was sent (`Closed`): but in each case a safety answer among those
    posted is heeded all the same (`heed_safety`), and the exception carries its flags."""
    clean, errors = scoring.check_answers(step.part.instrument, raw)
    if errors:
        refused = responses.AnswersInvalid(errors)
        refused.flags = heed_safety(actor, flow_, step, raw)
        raise refused
    response = step.part.response
    with transaction.atomic():
        checkup, locked = _locked(flow_, step)
        closed = not _is_open(checkup, locked)
        response.answers = locked.answers
        now = answers_on(step)
        changed = seen is not None and (
            {k: as_posted(v) for k, v in seen.items()}
            != {k: as_posted(v) for k, v in now.items()})
        if not closed and not changed:
            flags = responses.save_answers(actor, response, step.part.instrument, raw,
                                           position=step.screen - 1)
            move(flow_.checkup, next_position)
            return flags
    flags = heed_safety(actor, flow_, step, raw)
    if closed:
        raise Closed(flags)
    raise Changed(now, flags)


def heed_safety(actor: Actor, flow_: Flow, step: Step, raw: dict) -> list:
    """A screen not kept as posted (an answer to correct, a clash with another tab, or a
    questionnaire sent meanwhile) still has its safety answers heeded: each answer that meets
    a safety rule and is new, or worse than the one saved, is kept in the draft and flagged
    (never lowering a saved one); on a questionnaire already sent it is flagged, and recorded,
    without changing what was sent. The flags raised."""
    part = step.part
    urgent = urgent_answers(part, raw)
    if not urgent:
        return []
    with transaction.atomic():
        checkup, response = _locked(flow_, step)
        clean, _errors = scoring.check_answers(part.instrument, urgent)
        worse = {item: value for item, value in clean.items()
                 if not _at_least(response.answers.get(item), value)}
        if not worse:
            return []
        if _is_open(checkup, response):
            return responses.save_answers(actor, response, part.instrument,
                                          {item: urgent[item] for item in worse})
        # Looked at as if given (the flag rules keep one flag per question, worse or not),
        # while the stored answers stay as sent.
        given_late = copy.copy(response)
        given_late.answers = {**response.answers, **worse}
        flags = events.safety_answers(given_late, part.instrument)
        record_by(actor, "update", patient=response.patient, obj=response,
                  detail="a safety answer given after this questionnaire was sent: flagged, "
                         "what was sent unchanged")
        return flags


def _at_least(saved, value) -> bool:
    """A saved answer as high as this one (a number; a declined or blank one is not)."""
    return (isinstance(saved, (int, float)) and not isinstance(saved, bool)
            and saved >= value)


def as_posted(value):
    """Answers as a page carries them (strings) and as they are saved compare alike."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def move(checkup: Checkup, position: int) -> None:
    """Remember the step the patient is on."""
    checkup.position = position
    checkup.updated_at = timezone.now()
    checkup.save(update_fields=["position", "updated_at"])


class Incomplete(Exception):
    """Questions still to answer before the check-up can be sent: {code: {item: message}}."""

    def __init__(self, errors: dict[str, dict[str, str]]):
        super().__init__(errors)
        self.errors = errors


def finish(actor: Actor, checkup: Checkup) -> bool:
    """Send every questionnaire of the check-up at once: each is scored and completed (and its
    safety answers looked at again), or, if any question still needs an answer, none is and
    `Incomplete` names them. False if it had already been sent (a second press)."""
    with transaction.atomic():
        locked = Checkup.objects.select_for_update().get(pk=checkup.pk)
        if locked.completed_at is not None:
            return False
        # No screen is saved while its questionnaire is scored and sent (save_step waits).
        list(Response.objects.select_for_update().filter(checkup=locked).values_list("pk"))
        parts = [p for p in flow(locked).parts if p.response.is_draft]
        errors = {p.code: problems for p in parts
                  if (problems := responses.problems(p.instrument, p.response.answers))}
        if errors:
            raise Incomplete(errors)
        for part in parts:
            responses.submit(actor, part.response, part.instrument)
        _close(actor, locked)
    checkup.completed_at = locked.completed_at
    return True
