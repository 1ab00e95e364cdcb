"""Reminders and invitations: the rules that decide what a message says, when it may go and by
which channel. No Django imports; the messages app (outbox) stores, renders and sends.

- **Discreet by default.** Nothing in a text message, an email's subject or a letter's envelope
  may say drugs, alcohol, treatment, or the service's clinical name, unless the patient chose
  wording that does (`words_that_tell`). Tandem's default templates pass that check (tested).
- **Templates.** The service writes its own, with placeholders in braces (`PLACEHOLDERS`). A
  part in double square brackets is left out whole when a placeholder in it has no value: the
  patient's goal in their own words appears only when they opted in, e.g. `[[You said:
  "{goal}".]]` (`render`). Nothing else in braces is allowed, so a template can never reach
  into the objects behind the values.
- **Quiet hours.** Each patient may give a window of the day for messages; a message due
  outside it waits for the window's next opening (`next_in_window`).
- **Another way after two unanswered.** After two invitations in a row went unanswered by one
  channel, the next goes by the next channel the patient agreed to, and the keyworker is told
  (`next_channel`).
- **When a check-up reminder goes.** Before it is due, on the day, and after it if not done
  (`checkup_reminder`).

Sources: text reminders raised the chance a session was attended at an alcohol clinic from
0.84 to 0.90 (Gullo, Irvine, Feeney & Connor, Addict Behav 2018;87:97-100); quarterly recovery
management check-ups after treatment (Scott & Dennis, Addiction 2009;104:959-71); individualised
reminder letters in the Dutch programme (the seed documents, shared/seeds/). The timings and
the count of two are Tandem's defaults.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Channel = Literal["sms", "email", "letter", "portal"]

# The placeholders a template may use, with what each stands for (shown on the template page).
PLACEHOLDERS = {
    "name": "the name the patient likes to be called",
    "service": "the service's everyday name (never its clinical name)",
    "date": "the day it is about, e.g. Wednesday 4 March",
    "time": "the time it is about, e.g. 10:30, where there is one",
    "place": "where, or by phone or video, for an appointment",
    "link": "the link to open (a check-up, the plan, the portal)",
    "keyworker": "the keyworker's first name",
    "goal": "a goal in the patient's own words (only if they said yes to that)",
}

# Words that say what the service is about. Whole words, any case; plurals and common forms
# listed. The service's clinical name (and any other names it gives) is checked as well.
TELLING_WORDS = (
    "drug", "drugs", "alcohol", "alcoholic", "drink", "drinking", "treatment", "addiction",
    "addict", "addicted", "substance", "substances", "misuse", "dependence", "dependency",
    "detox", "rehab", "rehabilitation", "recovery", "methadone", "buprenorphine", "subutex",
    "espranor", "suboxone", "buvidal", "naltrexone", "acamprosate", "disulfiram", "antabuse",
    "nalmefene", "opioid", "opioids", "opiate", "opiates", "heroin", "cocaine", "crack",
    "overdose", "naloxone", "needle", "needles", "syringe", "inject", "injecting",
    "clinic", "prescription", "prescriber", "pharmacy", "sober", "sobriety", "relapse",
    "abstinence", "abstinent", "withdrawal", "dose", "doses", "injection", "drinker",
)
# Endings that make another form of a word in TELLING_WORDS (treatments, addictions, drinks,
# detoxing, injected); not "-er", which would make "crackers" tell.
_ENDINGS = r"(?:s|es|ing|ed)?"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDER = _PLACEHOLDER  # a template's placeholders, e.g. to check the words around them
_OPTIONAL = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


class TemplateError(ValueError):
    """A template that cannot be used, with a message for the person who wrote it."""


def placeholders_in(template: str) -> list[str]:
    """The placeholders a template uses, in order, each once. Raises TemplateError for anything
    in braces that is not a placeholder, a lone brace, or unclosed or nested [[ ]]."""
    return list(_checked(template))


@functools.lru_cache(maxsize=512)
def _checked(template: str) -> tuple[str, ...]:
    """placeholders_in, worked out once per template (a day's thousands of messages share a
    few templates)."""
    found: list[str] = []
    for name in _PLACEHOLDER.findall(template):
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise TemplateError(f"{{{name}}} is not a placeholder Tandem fills in. "
                                f"Use one of {known}.")
        if name not in found:
            found.append(name)
    rest = _PLACEHOLDER.sub("", template)
    if "{" in rest or "}" in rest:
        raise TemplateError("A brace { or } on its own: placeholders are a name in braces, "
                            "like {name}.")
    outside = _OPTIONAL.sub("", template)
    if "[[" in outside or "]]" in outside:
        raise TemplateError("An optional part is opened with [[ and closed with ]], once each.")
    if any("[[" in part for part in _OPTIONAL.findall(template)):
        raise TemplateError("Optional parts cannot be inside one another.")
    return tuple(found)


def render(template: str, values: Mapping[str, str | None]) -> str:
    """The template with its placeholders filled from `values`. An optional part ([[...]])
    whose placeholders all have a value is kept (without its brackets), else left out whole;
    outside them, every placeholder used needs a value (TemplateError names the first that
    has none). Values are inserted as they are, never read as a template. A part left out
    takes one of the spaces around it with it."""
    out: list[str] = []
    end = ""  # the last character written so far
    dropped = False
    for optional, form, names in _compiled(template):
        if optional:
            dropped = not all(values.get(name) not in (None, "") for name in names)
            if dropped:
                continue
        else:
            for name in names:
                if values.get(name) in (None, ""):
                    raise TemplateError(f"{{{name}}} has no value for this message; put it "
                                        f"inside [[ ]] if the message can go without it.")
        # The part's own words hold no brace (`_checked`), so it is a format string whose
        # fields are its placeholders, in order; values go in as they are.
        text = form.format(*[values[name] for name in names]) if names else form
        if not optional and dropped and text[:1] in (" ", "\t") and end in (" ", "\t", ""):
            text = text[1:]
        if text:
            out.append(text)
            end = text[-1]
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _compiled(template: str) -> tuple[tuple[bool, str, tuple[str, ...]], ...]:
    """The template as (optional?, format string, placeholders) for each part in order,
    worked out once per template (a day's thousands of messages share a few). Raises
    TemplateError as `placeholders_in` does."""
    _checked(template)

    def part(optional: bool, text: str):
        pieces = _PLACEHOLDER.split(text)
        return optional, "{}".join(pieces[0::2]), tuple(pieces[1::2])

    parts = []
    at = 0
    for found in _OPTIONAL.finditer(template):
        parts.append(part(False, template[at:found.start()]))
        parts.append(part(True, found.group(1)))
        at = found.end()
    parts.append(part(False, template[at:]))
    return tuple(parts)


_TELLING = re.compile(r"(?<![A-Za-z])(?:" + "|".join(sorted(TELLING_WORDS, key=len, reverse=True))
                      + r")" + _ENDINGS + r"(?![A-Za-z])", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _names(clinical_names: tuple[str, ...]):
    names = [n.strip() for n in clinical_names if n.strip()]
    if not names:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names), re.IGNORECASE)


def words_that_tell(text: str, clinical_names: Sequence[str] = ()) -> list[str]:
    """The words and names in `text` that say what the service is about (TELLING_WORDS, and
    each of `clinical_names` as a phrase), as found, in order, each once; empty when discreet."""
    found: list[str] = []
    names = _names(tuple(clinical_names))
    if names is not None and names.search(text):  # one pass; then which of them
        for name in clinical_names:
            name = name.strip()
            if name and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
                found.append(name)
    if not _TELLING.search(text):
        return found
    for match in _TELLING.finditer(text):
        word = match.group(0)
        if word.lower() not in (w.lower() for w in found):
            found.append(word)
    return found


@dataclass(frozen=True)
class Window:
    """The part of the day messages may arrive, local time, from `opens` up to `closes` (which
    may be past midnight, e.g. 18:00 to 01:00). Equal times mean any time."""

    opens: datetime.time
    closes: datetime.time

    def holds(self, at: datetime.time) -> bool:
        if self.opens == self.closes:
            return True
        if self.opens < self.closes:
            return self.opens <= at < self.closes
        return at >= self.opens or at < self.closes


def next_in_window(at: datetime.datetime, window: Window) -> datetime.datetime:
    """The first moment from `at` (a local wall-clock time, naive) inside the window: `at`
    itself when it is inside, else the window's next opening (that day or the next)."""
    if window.holds(at.time()):
        return at
    opening = datetime.datetime.combine(at.date(), window.opens)
    if opening <= at:
        opening += datetime.timedelta(days=1)
    return opening


def next_channel(agreed: Sequence[Channel], unanswered: Sequence[Channel],
                 after: int = 2) -> tuple[Channel, bool]:
    """The channel for the next invitation, and whether to tell the keyworker the patient could
    not be reached. `agreed`: the channels the patient agreed to, in their order of preference
    (at least one); `unanswered`: the channels of the invitations since the patient last
    answered, oldest first. After `after` unanswered in a row by one channel, the next agreed
    channel (round to the first after the last); the keyworker is told each time that
    happens."""
    if not agreed:
        raise ValueError("no channel agreed")
    if not unanswered:
        return agreed[0], False
    current = unanswered[-1]
    run = 0
    for channel in reversed(unanswered):
        if channel != current:
            break
        run += 1
    if run < after:
        return (current if current in agreed else agreed[0]), False
    at = agreed.index(current) if current in agreed else -1
    return agreed[(at + 1) % len(agreed)], True


ReminderKind = Literal["checkup-soon", "checkup-today", "checkup-late"]


@dataclass(frozen=True)
class Template:
    """A message's wording: `subject` for an email's subject line (also a letter's heading),
    `text` for a text message, `body` for an email or a letter (the same words, longer)."""

    subject: str
    text: str
    body: str


# Tandem's default wording for each kind of message: neutral (no word that tells what the
# service is about, tested), the service by its everyday name, a link where there is
# something to open. The service may write its own (the template pages) and the patient may
# choose plainer wording; these are what goes until then.
DEFAULT_TEMPLATES: dict[str, Template] = {
    "checkup-soon": Template(
        "Your check-up with {service} on {date}",
        "Hi {name}, your check-up with {service} is on {date}. You can do it here: {link}",
        "Hi {name},\n\nYour check-up with {service} is on {date}. It takes a few minutes "
        "and you can do it on your phone: {link}\n\n[[You said: \"{goal}\".\n\n]][[{keyworker}]]"),
    "checkup-today": Template(
        "Your check-up with {service} is today",
        "Hi {name}, your check-up with {service} is today: {link}",
        "Hi {name},\n\nYour check-up with {service} is today. You can do it here: {link}"
        "\n\n[[You said: \"{goal}\".\n\n]][[{keyworker}]]"),
    "checkup-late": Template(
        "Your check-up with {service}",
        "Hi {name}, your check-up with {service} is still open: {link}",
        "Hi {name},\n\nYour check-up with {service} from {date} is still open. It is not too "
        "late: {link}\n\n[[{keyworker}]]"),
    "after-treatment": Template(
        "Checking in from {service}",
        "Hi {name}, {service} here. How are things? A few questions, a few minutes: {link}",
        "Hi {name},\n\n{service} here, checking in as we agreed. How are things? A few "
        "questions take a few minutes: {link}\n\n[[You said: \"{goal}\".\n\n]][[{keyworker}]]"),
    "plan-review-soon": Template(
        "Your plan with {service}: review on {date}",
        "Hi {name}, we look at your plan together again on {date}.",
        "Hi {name},\n\nWe look at your plan together again on {date}. Have a think about "
        "what has gone well and what you want next.\n\n[[{keyworker}]]"),
    "plan-to-sign": Template(
        "Your plan with {service} is ready",
        "Hi {name}, your plan is ready for you to read and sign: {link}",
        "Hi {name},\n\nYour plan is ready for you to read and sign: {link}\n\n[[{keyworker}]]"),
    "change-answered": Template(
        "An answer from {service}",
        "Hi {name}, there is an answer to the change you asked for: {link}",
        "Hi {name},\n\nThere is an answer to the change you asked for: {link}\n\n[[{keyworker}]]"),
    "medication-review-soon": Template(
        "Your review with {service} on {date}",
        "Hi {name}, you have a review with {service} on {date}.",
        "Hi {name},\n\nYou have a review with {service} on {date}.\n\n[[{keyworker}]]"),
    "dose-request-answered": Template(
        "An answer from {service}",
        "Hi {name}, there is an answer to your request: {link}",
        "Hi {name},\n\nThere is an answer to your request: {link}\n\n[[{keyworker}]]"),
    "appointment-tomorrow": Template(
        "Your appointment with {service} tomorrow",
        "Hi {name}, see you tomorrow, {date}[[ at {time}]][[, {place}]]. Can't come? {link}",
        "Hi {name},\n\nA reminder: your appointment[[ with {keyworker}]] is tomorrow, {date}"
        "[[ at {time}]][[, {place}]].\n\nIf you can't come, say so here and we will find "
        "another time: {link}\n\n[[{keyworker}]]"),
}


@dataclass(frozen=True)
class ReminderDays:
    """Days before a check-up is due to remind ("soon"), and after it to remind once more if it
    is not done ("late"). Tandem's defaults."""

    before: int = 3
    after: int = 7


def checkup_reminder(due: datetime.date, today: datetime.date, done: bool,
                     days: ReminderDays = ReminderDays()) -> ReminderKind | None:
    """Which check-up reminder is due today, if any: `days.before` days before the due date,
    on it, and `days.after` days after it unless the check-up was done by then."""
    if done:
        return None
    if today == due - datetime.timedelta(days=days.before):
        return "checkup-soon"
    if today == due:
        return "checkup-today"
    if today == due + datetime.timedelta(days=days.after):
        return "checkup-late"
    return None


class Pace:
    """At most `per_second` messages a second on average, in bursts of at most `burst` (a token
    bucket, as GOV.UK Notify itself counts: 3,000 messages a minute per service, docs.
    notifications.service.gov.uk, "Rate limits"). `wait()` says how many seconds to wait before
    the next message may go, and counts it; `per_second` 0 means no limit. `clock` is a
    function returning seconds (time.monotonic in the worker; a test's own)."""

    def __init__(self, per_second: float, clock, burst: float | None = None):
        if per_second < 0:
            raise ValueError("per_second cannot be negative")
        self.rate = per_second
        self.burst = burst if burst is not None else max(1.0, per_second)
        self.clock = clock
        self.tokens = self.burst
        self.at = clock()

    def wait(self) -> float:
        if not self.rate:
            return 0.0
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        self.tokens -= 1
        if self.tokens >= 0:
            return 0.0
        return -self.tokens / self.rate
