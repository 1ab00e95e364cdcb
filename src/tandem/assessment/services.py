"""Check-ups: starting, answering, submitting, scoring without storing, and keeping each
patient's schedule current. Shared by the portal, the staff pages and the API.

Everything a patient answers is saved as it is given (a draft survives a lost session); an
answer that meets a safety rule raises an urgent flag for the care team in the same request.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tandem.assessment import events, registry
from tandem.assessment.models import (
    RESPONSE_COLUMNS,
    CheckupSchedule,
    CheckupSettings,
    Mode,
    Response,
    ResponseStatus,
    UrgentAnswer,
)
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by, record_many
from tandem.bulk import insert_many, update_many
from tandem.core import schedule as sched
from tandem.core.errors import Invalid
from tandem.core.instruments import Instrument, SafetyRule
from tandem.core.scoring import (
    Result,
    check_answers,
    inconsistent,
    missing_required,
    score,
)
from tandem.patients import events as patient_events
from tandem.patients.access import changeable_patients
from tandem.patients.models import OPEN_STATUSES, Episode
from tandem.patients.services import current_episode

REQUIRED = "Answer this question."


class AnswersInvalid(Exception):
    """Item-level problems: {item id: message}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def settings_for(organisation) -> CheckupSettings:
    found = CheckupSettings.objects.filter(organisation=organisation).first()
    return found or CheckupSettings(organisation=organisation)


def service_safety_rules(organisation, code: str) -> list[SafetyRule]:
    """Answers the service marked as urgent for this instrument."""
    return [
        SafetyRule(item=u.item_id, at_least=u.at_least, message=u.message,
                   citation="Marked urgent by the service")
        for u in UrgentAnswer.objects.filter(organisation=organisation, instrument_code=code)
    ]


def start(actor: Actor, patient, instrument: Instrument, *, mode: str) -> Response:
    """A new draft for this patient, or the draft of this instrument they already have."""
    draft = (
        patient.responses.filter(instrument_code=instrument.code, status=ResponseStatus.IN_PROGRESS)
        .order_by("-updated_at")
        .first()
    )
    if draft is not None:
        return draft
    response = Response.objects.create(
        organisation_id=patient.organisation_id, patient=patient, episode=current_episode(patient),
        instrument_code=instrument.code, instrument_version=instrument.version, mode=mode,
        entered_by=actor.user,
    )
    record_by(actor, "create", patient=patient, obj=response)
    return response


def save_answers(actor: Actor, response: Response, instrument: Instrument, raw: dict,
                 position: int | None = None) -> list:
    """Check and keep the answers given (a blank clears one). Raises AnswersInvalid naming
    each bad item, and keeps nothing from that call. Returns the flags newly raised by safety
    rules, in this request. Answers that contradict each other are kept in the draft (and any
    safety answer among them flagged): they are refused when the check-up is submitted."""
    clean, errors = check_answers(instrument, raw)
    if errors:
        raise AnswersInvalid(errors)
    merged = {k: v for k, v in {**response.answers, **clean}.items() if v is not None}
    with transaction.atomic():
        response.answers = merged
        if position is not None:
            response.position = position
        response.updated_at = timezone.now()
        response.save(update_fields=["answers", "position", "updated_at"])
        record_by(actor, "update", patient=response.patient, obj=response)
        return _safety(response, instrument)


def _safety(response, instrument) -> list:
    """Every new or worse safety answer raises its flag now (the apps above receive
    `answers_saved`: monitoring raises the flags)."""
    return events.safety_answers(response, instrument)


def safety_flags(response: Response):
    """Urgent flags this response raised (to show crisis contacts again on its result)."""
    return list(response.flags.filter(rule="safety-answer"))


def submit(actor: Actor, response: Response, instrument: Instrument) -> Result:
    """Score and complete a draft. Raises AnswersInvalid for required questions unanswered
    and for answers that contradict each other."""
    missing = missing_required(instrument, response.answers)
    if missing:
        raise AnswersInvalid(dict.fromkeys(missing, REQUIRED))
    clashes = inconsistent(instrument, response.answers)
    if clashes:
        raise AnswersInvalid(clashes)
    result = score(instrument, response.answers, sex=response.patient.sex_for_thresholds)
    with transaction.atomic():
        store_result(response, result)
        response.status = ResponseStatus.COMPLETED
        response.completed_at = response.updated_at = timezone.now()
        response.save()
        record_by(actor, "update", patient=response.patient, obj=response)
        _safety(response, instrument)
        refresh_schedule(response.patient)
        events.checkups_completed.send(Response, organisation_id=response.organisation_id,
                                       patient_ids=[response.patient_id], now=True)
    return result


def store_result(response: Response, result: Result) -> None:
    headline = result.headline
    response.scores = result.values()
    response.headline = headline.value
    response.band = headline.band.label if headline.band else ""
    response.band_level = headline.band.level if headline.band else None


def complete_answers(instrument: Instrument, raw: dict) -> tuple[dict, dict[str, str]]:
    """Checked answers for a whole check-up, and every problem: wrong answers and required
    questions left blank."""
    clean, errors = check_answers(instrument, raw)
    errors |= {i: REQUIRED for i in missing_required(instrument, clean) if i not in errors}
    if not errors:
        errors = inconsistent(instrument, clean)
    return clean, errors


def record_complete(actor: Actor, patient, instrument: Instrument, raw: dict, *, mode: str,
                    completed_at: datetime.datetime | None = None) -> tuple[Response, Result, list]:
    """Check, store and score a whole check-up in one go (practitioner entry, the API)."""
    clean, errors = complete_answers(instrument, raw)
    if errors:
        raise AnswersInvalid(errors)
    now = timezone.now()
    result = score(instrument, clean, sex=patient.sex_for_thresholds)
    with transaction.atomic():
        response = Response(
            organisation_id=patient.organisation_id, patient=patient,
            episode=current_episode(patient), instrument_code=instrument.code,
            instrument_version=instrument.version, mode=mode, entered_by=actor.user,
            status=ResponseStatus.COMPLETED,
            answers={k: v for k, v in clean.items() if v is not None},
            started_at=now, updated_at=now, completed_at=completed_at or now,
        )
        store_result(response, result)
        response.save(force_insert=True)
        record_by(actor, "create", patient=patient, obj=response)
        flags = _safety(response, instrument)
        refresh_schedule(patient)
        events.checkups_completed.send(Response, organisation_id=patient.organisation_id,
                                       patient_ids=[patient.pk], now=True)
    return response, result, flags


@dataclass
class Submission:
    """One completed check-up in a batch (from an integration)."""

    patient_id: object
    instrument: str
    answers: dict
    mode: str = Mode.INTEGRATION
    completed_at: datetime.datetime | None = None


def record_batch(actor: Actor, submissions: list[Submission]) -> tuple[list[uuid.UUID], list]:
    """Check, score and store many completed check-ups at once, all or nothing.

    Raises `Invalid` naming every problem by its place in the batch. Each patient must be one
    the caller may change (the permission layer's `changeable_patients`); each stored response
    is audited, raises any urgent flags, and the patients' schedules are brought up to date.
    Returns the new responses' ids and the flags raised."""
    org = actor.user.organisation
    available = registry.available(org)
    ids = {s.patient_id for s in submissions}
    sexes = dict(changeable_patients(actor.user).filter(pk__in=ids)
                 .values_list("pk", "sex_for_thresholds"))
    allowed = set(sexes)
    episodes = dict(
        Episode.objects.filter(patient_id__in=allowed, status__in=OPEN_STATUSES)
        .order_by("start_date").values_list("patient_id", "pk")  # the latest open one wins
    )
    now = timezone.now()
    today = timezone.localdate(now)
    errors, rows, checked = [], [], []
    for n, sub in enumerate(submissions):
        where = ["body", "responses", n]
        if sub.patient_id not in allowed:
            errors.append({"loc": [*where, "patient_id"],
                           "msg": "No patient whose record you may change has this id."})
        instrument = available.get(sub.instrument)
        if instrument is None:
            errors.append({"loc": [*where, "instrument"], "msg": "No instrument has this code."})
            continue
        if sub.completed_at and sub.completed_at > now:
            errors.append({"loc": [*where, "completed_at"], "msg": "Cannot be in the future."})
        clean, problems = complete_answers(instrument, sub.answers)
        errors += [{"loc": [*where, "answers", item], "msg": msg} for item, msg in problems.items()]
        if errors:
            continue
        result = score(instrument, clean, sex=sexes.get(sub.patient_id))
        head = result.headline
        band, level = (head.band.label, head.band.level) if head.band else ("", None)
        when = sub.completed_at or now
        rid = uuid.uuid4()
        rows.append((
            rid, org.pk, sub.patient_id, episodes.get(sub.patient_id), instrument.code,
            instrument.version, ResponseStatus.COMPLETED.value, sub.mode, actor.user.pk, when,
            when, when, timezone.localdate(when) if sub.completed_at else today,
            {k: v for k, v in clean.items() if v is not None},
            0, result.values(),
            head.value, band, level,
        ))
        checked.append((rid, sub.patient_id, instrument, clean))
    if errors:
        raise Invalid(errors)
    with transaction.atomic():
        insert_many(Response, RESPONSE_COLUMNS, rows)
        flags = events.batch_safety(org.pk, checked)
        record_many(actor, "create", [(row[2], "response", row[0]) for row in rows])
        refresh_schedules(org, [row[2] for row in rows])
        events.checkups_completed.send(Response, organisation_id=org.pk,
                                       patient_ids={row[2] for row in rows}, now=False)
    return [row[0] for row in rows], flags


# --- schedules -------------------------------------------------------------------------------


def rules_for(settings: CheckupSettings, schedule: CheckupSchedule | None) -> sched.Rules:
    weeks = (schedule.interval_weeks if schedule else None) or settings.interval_weeks
    return sched.Rules(interval_weeks=weeks, post_exit_every_months=settings.post_exit_every_months,
                       post_exit_for_months=settings.post_exit_for_months)


def episode_dates(episode) -> sched.EpisodeDates:
    return sched.EpisodeDates(episode.start_date, episode.status, episode.exit_date)


@dataclass
class InstrumentStatus:
    code: str
    instrument: Instrument | None
    occasion: sched.Occasion | None
    draft: Response | None

    @property
    def needs_doing(self) -> bool:
        return self.occasion is not None and self.occasion.status in ("due", "overdue")


def is_due(statuses: list[InstrumentStatus]) -> bool:
    return any(s.needs_doing for s in statuses)


def next_occasions(episode, dates: dict[str, list[datetime.date]], codes: list[str],
                   rules: sched.Rules, today: datetime.date) -> dict[str, sched.Occasion | None]:
    """Per questionnaire of the check-up, the occasion to act on next (None: nothing)."""
    if episode is None:
        return dict.fromkeys(codes)
    dates_of = episode_dates(episode)
    found, seen = {}, {}
    for code in codes:
        done = tuple(sorted(dates.get(code, ())))
        if done not in seen:  # questionnaires of one check-up usually share their dates
            seen[done] = sched.next_occasion(sched.occasions(dates_of, list(done), today, rules))
        found[code] = seen[done]
    return found


def checkup_status(patient, today: datetime.date | None = None) -> list[InstrumentStatus]:
    """Per questionnaire of the service's check-up: the occasion to act on next, and any draft."""
    today = today or timezone.localdate()
    settings = settings_for(patient.organisation)
    codes = settings.instrument_codes()
    available = registry.available(patient.organisation)
    drafts = {
        r.instrument_code: r
        for r in patient.responses.filter(status=ResponseStatus.IN_PROGRESS).order_by("updated_at")
    }
    rules = rules_for(settings, CheckupSchedule.objects.filter(patient=patient).first())
    episode = current_episode(patient)
    dates = {}
    if episode is not None:
        since = sched.relevant_since(episode_dates(episode), rules, today)
        dates = completion_dates({patient.pk: since}, codes).get(patient.pk, {})
    found = next_occasions(episode, dates, codes, rules, today)
    return [InstrumentStatus(code, available.get(code), found[code], drafts.get(code))
            for code in codes]


def completion_dates(since: dict, codes) -> dict:
    """{patient id: {code: [local dates completed]}} in one query, for each patient in `since`
    only from the date given there (older check-ups cannot decide the next one)."""
    by_date: dict[datetime.date, list] = {}
    for patient_id, day in since.items():
        by_date.setdefault(day, []).append(patient_id)
    which = Q(pk__in=[])
    for day, ids in by_date.items():
        which |= Q(patient_id__in=ids, completed_on__gte=day)
    rows = Response.objects.filter(
        which, status=ResponseStatus.COMPLETED, instrument_code__in=list(codes)
    ).values_list("patient_id", "instrument_code", "completed_on")
    found: dict = {}
    for patient_id, code, day in rows:
        found.setdefault(patient_id, {}).setdefault(code, []).append(day)
    return found


def refresh_schedule(patient, today: datetime.date | None = None) -> CheckupSchedule:
    """Recompute and store the patient's next check-up (called after every change)."""
    refresh_schedules(patient.organisation, [patient.pk], today)
    return CheckupSchedule.objects.get(patient=patient)


def refresh_schedules(organisation, patient_ids, today: datetime.date | None = None) -> None:
    """Recompute and store the next check-up of many patients with a fixed number of queries."""
    today = today or timezone.localdate()
    ids = list(dict.fromkeys(patient_ids))
    settings = settings_for(organisation)
    codes = settings.instrument_codes()
    episodes = {}
    for episode in Episode.objects.filter(patient_id__in=ids, status__in=OPEN_STATUSES).order_by(
            "start_date"):
        episodes[episode.patient_id] = episode  # the latest open one wins
    schedules = {s.patient_id: s for s in CheckupSchedule.objects.filter(patient_id__in=ids)}
    # Only recent check-ups can decide the next one (core.schedule.relevant_since).
    since = {p: sched.relevant_since(episode_dates(e), rules_for(settings, schedules.get(p)),
                                     today) for p, e in episodes.items()}
    dates = completion_dates(since, codes)
    now = timezone.now()
    changed, new = [], []
    for patient_id in ids:
        schedule = schedules.get(patient_id)
        found = next_occasions(episodes.get(patient_id), dates.get(patient_id, {}), codes,
                               rules_for(settings, schedule), today)
        upcoming = [o for o in found.values() if o is not None]
        nxt = min(upcoming, key=lambda o: o.due) if upcoming else None
        due, kind = (nxt.due, nxt.kind) if nxt else (None, "")
        if schedule is None:
            new.append(CheckupSchedule(organisation_id=organisation.pk, patient_id=patient_id,
                                       next_due=due, next_kind=kind, updated_at=now))
        elif (schedule.next_due, schedule.next_kind) != (due, kind):
            changed.append((due, kind, now, schedule.pk))
    # Two requests may both find no schedule for a patient: the later one's figures win.
    CheckupSchedule.objects.bulk_create(
        new, update_conflicts=True, unique_fields=["patient"],
        update_fields=["next_due", "next_kind", "updated_at"])
    update_many(CheckupSchedule, ["next_due", "next_kind", "updated_at"], "id", changed)
    # bulk writes send no model signals: say whose records changed (the caseload listens)
    patient_events.records_changed.send(CheckupSchedule, patient_ids=ids)
