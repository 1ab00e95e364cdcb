"""Each patient's check-up schedule: what is due next per questionnaire, and the stored next
check-up of every patient, recomputed after every change (core.schedule holds the rules)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from tandem.assessment import registry
from tandem.assessment.models import CheckupSchedule, CheckupSettings, Response, ResponseStatus
from tandem.bulk import update_many
from tandem.core import schedule as sched
from tandem.core.instruments import Instrument
from tandem.patients import events as patient_events
from tandem.patients.models import OPEN_STATUSES, Episode
from tandem.patients.services import current_episode


def settings_for(organisation) -> CheckupSettings:
    found = CheckupSettings.objects.filter(organisation=organisation).first()
    return found or CheckupSettings(organisation=organisation)


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
