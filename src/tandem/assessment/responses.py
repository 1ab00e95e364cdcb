"""Check-up responses: starting, answering, submitting, scoring and storing, one at a time or
in a batch. Shared by the portal, the staff pages and the API (schedules.py keeps each
patient's next check-up).

Everything a patient answers is saved as it is given (a draft survives a lost session); an
answer that meets a safety rule raises an urgent flag for the care team in the same request.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tandem.assessment import events, registry
from tandem.assessment.models import (
    RESPONSE_COLUMNS,
    Mode,
    Response,
    ResponseStatus,
    UrgentAnswer,
)
from tandem.assessment.schedules import refresh_schedule, refresh_schedules
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by, record_many
from tandem.bulk import insert_many
from tandem.core.errors import Invalid
from tandem.core.instruments import Instrument, SafetyRule
from tandem.core.scoring import (
    Result,
    check_answers,
    inconsistent,
    missing_required,
    score,
)
from tandem.patients.access import changeable_patients
from tandem.patients.models import OPEN_STATUSES, Episode
from tandem.patients.services import current_episode

REQUIRED = "Answer this question."


class AnswersInvalid(Exception):
    """Item-level problems: {item id: message}. `flags`: urgent flags raised all the same by
    the well-formed safety answers among them (see checkups.save_step)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors
        self.flags: list = []


def service_safety_rules(organisation, code: str) -> list[SafetyRule]:
    """Answers the service marked as urgent for this instrument."""
    return [
        SafetyRule(item=u.item_id, at_least=u.at_least, message=u.message,
                   citation="Marked urgent by the service")
        for u in UrgentAnswer.objects.of(organisation).filter(instrument_code=code)
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
    errors = problems(instrument, response.answers)
    if errors:
        raise AnswersInvalid(errors)
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


def problems(instrument: Instrument, answers: dict) -> dict[str, str]:
    """What stops a draft being sent: required questions unanswered or, when none are,
    answers that contradict each other ({item id: message}; empty when it can be sent)."""
    missing = missing_required(instrument, answers)
    if missing:
        return dict.fromkeys(missing, REQUIRED)
    return inconsistent(instrument, answers)


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
