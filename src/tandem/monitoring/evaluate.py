"""Running the flag rules (`tandem.core.flags`) over stored data, for one patient or many.

`gather` reads what the rules need for a batch of patients with a fixed number of queries;
`apply` turns findings into Flag records: a new flag for a new problem, the open flag's
evidence brought up to date when later data shows the same problem, nothing when the
problem's flag was already resolved (its key is taken). The unique key on Flag makes this
safe when two workers or a request and a worker evaluate the same patient at once.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from tandem.accounts.models import Organisation
from tandem.assessment import registry
from tandem.assessment.models import (
    CheckupSchedule,
    Mode,
    Response,
    ResponseStatus,
    UrgentAnswer,
)
from tandem.core import flags as rules
from tandem.core.instruments import SafetyRule
from tandem.core.rci import threshold
from tandem.core.scoring import answer_text, declined_safety, safety_hits
from tandem.medication import registry as medicines
from tandem.medication.models import (
    ChangeKind,
    DispensingDay,
    DoseChange,
    MedicationPlan,
    MedicationReview,
    Reduction,
    ReductionStatus,
    Taken,
)
from tandem.medication.models import PlanStatus as MedicationPlanStatus
from tandem.medication.models import settings_for as medication_settings_for
from tandem.monitoring.models import Contact, Flag, FlagStatus, RuleSetting
from tandem.patients import events as patient_events
from tandem.patients.models import OPEN_STATUSES, Episode, EpisodeStatus, Patient
from tandem.planning.models import CarePlan, GoalRating, PlanStatus, PlanVersion

# Check-ups older than this cannot decide a flag: the rules look at the latest check-ups and
# the unbroken run of check-ups leading up to them (a year of 12-weekly check-ups and more).
WINDOW_DAYS = 400
BATCH = 1000


@dataclass
class Settings:
    """One organisation's rule configuration, read once per batch."""

    config: dict[str, rules.RuleConfig]
    actions: dict[str, str]  # the service's own suggested actions (escalation steps)


def settings_for(organisation_id) -> Settings:
    config, actions = {}, {}
    for row in RuleSetting.objects.of(organisation_id):
        # Safety rules are always on at their own severity (core.flags.RuleSpec.fixed).
        config[row.rule] = rules.RuleConfig(enabled=row.enabled, severity=row.severity or None,
                                            thresholds=row.thresholds or {})
        if row.suggested_action.strip():
            actions[row.rule] = row.suggested_action.strip()
    return Settings(config, actions)


def scales_of(instruments) -> dict[tuple[str, str], rules.Scale]:
    found = {}
    for ins in instruments.values():
        for s in ins.scales:
            rc = s.reliable_change
            found[(ins.code, s.code)] = rules.Scale(
                ins.code, s.code, s.title, s.higher_is,
                threshold(rc.sd, rc.reliability) if rc else None,
                s.severe.at_least if s.severe else None, s.severe.label if s.severe else "",
                ins.name)
    return found


# Check-ups that count as contact with a person (the no-contact rule): not one the patient
# completed alone in the portal, nor one imported from another system.
IN_PERSON = (Mode.WITH_PRACTITIONER, Mode.PHONE)


def _latest_episodes(ids) -> dict:
    """Each patient's current episode: the latest open one, else the latest."""
    found = {}
    for e in Episode.objects.filter(patient_id__in=ids).order_by("start_date"):
        current = found.get(e.patient_id)
        if current is None or e.status in OPEN_STATUSES or current.status not in OPEN_STATUSES:
            found[e.patient_id] = e
    return found


def gather(organisation, ids, today: datetime.date) -> dict:
    """{patient id: core.flags.Facts} for these patients of one organisation."""
    ids = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids]
    instruments = registry.available(organisation)
    scales = scales_of(instruments)
    extra: dict[str, list[SafetyRule]] = {}
    for u in UrgentAnswer.objects.of(organisation):
        extra.setdefault(u.instrument_code, []).append(SafetyRule(
            item=u.item_id, at_least=u.at_least, message=u.message,
            citation="Marked urgent by the service"))
    episodes = _latest_episodes(ids)
    since = today - datetime.timedelta(days=WINDOW_DAYS)
    checkups: dict = {}
    last_checkup: dict = {}
    rows = (Response.objects.filter(patient_id__in=ids, status=ResponseStatus.COMPLETED,
                                    completed_on__gte=since)
            .order_by("completed_on", "completed_at")
            .values_list("id", "patient_id", "instrument_code", "completed_on", "answers",
                         "scores", "mode"))
    for rid, pid, code, day, answers, scores, mode in rows:
        ins = instruments.get(code)
        if ins is None:
            continue
        hits = tuple(
            rules.SafetyHit(rule.item, rule.message,
                            answer_text(ins, rule.item, answers.get(rule.item)))
            for rule in safety_hits(ins, answers, extra.get(code, ())))
        checkups.setdefault(pid, []).append(rules.Checkup(
            str(rid), code, ins.name, day, answers, scores, hits,
            tuple(declined_safety(ins, answers))))
        if mode in IN_PERSON:
            last_checkup[pid] = day
    due = dict(CheckupSchedule.objects.filter(patient_id__in=ids)
               .values_list("patient_id", "next_due"))
    plans = {}
    for plan in (CarePlan.objects.filter(patient_id__in=ids)
                 .exclude(status__in=[PlanStatus.REVOKED, PlanStatus.ENTERED_IN_ERROR])
                 .order_by("created_at").only("id", "patient_id", "review_date")):
        plans[plan.patient_id] = plan  # the latest wins
    versions = {}
    for v in (PlanVersion.objects.filter(plan_id__in=[p.pk for p in plans.values()])
              .order_by("number").only("plan_id", "number", "created_at", "patient_signed_at")):
        versions[v.plan_id] = v
    reviews: dict = {}
    for r in (GoalRating.objects.filter(review__plan__patient_id__in=ids,
                                        review__held_on__gte=since)
              .order_by("review__held_on", "review__created_at")
              .values_list("review_id", "review__plan__patient_id", "review__held_on",
                           "goal_id", "goal__statement", "patient_level", "practitioner_level")):
        rid, pid, held, goal_id, text, p_level, s_level = r
        by_review = reviews.setdefault(pid, {})
        if rid not in by_review:
            by_review[rid] = (held, [])
        by_review[rid][1].append(rules.GoalRating(str(goal_id), text, p_level, s_level))
    contacts = dict(Contact.objects.filter(patient_id__in=ids).values("patient_id")
                    .annotate(last=Max("on")).values_list("patient_id", "last"))
    medication = medication_facts(organisation.pk, ids, today)
    facts = {}
    for pid in ids:
        episode = episodes.get(pid)
        plan = plans.get(pid)
        version = versions.get(plan.pk) if plan else None
        patient_reviews = tuple(rules.Review(str(rid), held, tuple(ratings))
                                for rid, (held, ratings) in reviews.get(pid, {}).items())
        last = [d for d in (contacts.get(pid), last_checkup.get(pid),
                            patient_reviews[-1].held_on if patient_reviews else None) if d]
        facts[pid] = rules.Facts(
            today=today,
            episode_status=episode.status if episode else None,
            episode_start=episode.start_date if episode else None,
            checkups=tuple(checkups.get(pid, ())),
            scales=scales,
            next_checkup_due=due.get(pid),
            plan=rules.Plan(str(plan.pk), plan.review_date, version.number,
                            timezone.localdate(version.created_at),
                            version.patient_signed_at is not None) if version else None,
            reviews=patient_reviews,
            last_contact=max(last) if last else None,
            medication=medication.get(pid),
        )
    return facts


def medication_facts(organisation_id, ids, today: datetime.date) -> dict:
    """{patient id: core.flags.Medication} for these patients' current medication plans (the
    latest current plan of each), with the service's medication settings: eight queries at
    most, whatever the number of patients (one when none of them has a current plan)."""
    plans = {}
    for row in (MedicationPlan.objects.of(organisation_id)
                .filter(patient_id__in=ids, status=MedicationPlanStatus.ACTIVE)
                .order_by("started_on", "created_at")
                .values_list("patient_id", "id", "medicine", "started_on", "review_date",
                             "last_ecg_on")):
        plans[row[0]] = row[1:]  # the latest wins
    if not plans:
        return {}
    settings = medication_settings_for(organisation_id)
    plan_ids = [plan[0] for plan in plans.values()]
    doses: dict = {}
    restarted: dict = {}
    for plan_id, day, dose, kind, made_at in (
            DoseChange.objects.filter(plan_id__in=plan_ids, cancelled_at__isnull=True,
                                      day__lte=today)
            .order_by("day", "made_at").values_list("plan_id", "day", "dose", "kind", "made_at")):
        ledger = doses.setdefault(plan_id, [])
        if ledger and ledger[-1][0] == day:
            ledger[-1] = (day, float(dose))  # the later change of the day stands
        else:
            ledger.append((day, float(dose)))
        if kind == ChangeKind.RESTART:
            on = timezone.localdate(made_at)
            restarted[plan_id] = max(on, restarted.get(plan_id, on))
    reviews: dict = {}  # plan: [last held, its next review, last held with the goal talked]
    for plan_id, held, next_review, goal in (
            MedicationReview.objects.filter(plan_id__in=plan_ids)
            .order_by("held_on", "created_at")
            .values_list("plan_id", "held_on", "next_review", "goal_discussed")):
        seen = reviews.setdefault(plan_id, [None, None, None])
        seen[0], seen[1] = held, next_review
        if goal:
            seen[2] = held
    # The missed days only (most days a dose is taken: an import of many days reads little),
    # and the latest day reported, whatever it said.
    since = today - datetime.timedelta(days=rules.DISPENSING_DAYS)
    reports = DispensingDay.objects.filter(plan_id__in=plan_ids, day__gte=since, day__lte=today)
    dispensing: dict = {}
    for plan_id, day in reports.filter(status=Taken.MISSED).values_list("plan_id", "day"):
        dispensing.setdefault(plan_id, []).append((day, Taken.MISSED.value))
    last_reported = dict(reports.values("plan_id").annotate(last=Max("day"))
                         .values_list("plan_id", "last"))
    reductions = {}
    for rid, plan_id, started, status in (
            Reduction.objects.filter(plan_id__in=plan_ids, status__in=[
                ReductionStatus.ACTIVE, ReductionStatus.PAUSED])
            .order_by("started_on", "created_at")
            .values_list("id", "plan_id", "started_on", "status")):
        reductions[plan_id] = (str(rid), started, status)
    found = {}
    for pid, (plan_id, code, started_on, review_date, last_ecg_on) in plans.items():
        medicine = medicines.get(code)
        ecg = medicine.limits.ecg_at_or_above if medicine else None
        last, next_review, goal = reviews.get(plan_id, (None, None, None))
        reduction = reductions.get(plan_id, (None, None, None))
        found[pid] = rules.Medication(
            plan_id=str(plan_id), medicine=medicine.name if medicine else code,
            started_on=started_on, review_date=review_date,
            doses=tuple(doses.get(plan_id, ())), last_review=last, next_review=next_review,
            last_goal_review=goal, ecg_at_or_above=float(ecg.value) if ecg else None,
            last_ecg_on=last_ecg_on,
            dispensing=tuple(sorted(dispensing.get(plan_id, ()))),
            last_reported=last_reported.get(plan_id),
            restarted_on=restarted.get(plan_id),
            tolerance_falls=bool(medicine and medicine.treats == "opioids"
                                 and medicine.substitute and medicine.period_days == 1),
            reduction_id=reduction[0], reduction_started_on=reduction[1],
            reduction_status=reduction[2],
            missed_days_for_flag=settings.missed_days_for_flag,
            review_every_days=settings.review_every_days, restart_rule=settings.restart_rule)
    return found


def clearing_rules(settings: Settings) -> dict[str, str]:
    """{rule: reason} for the enabled rules whose open flags close when their condition no
    longer holds (core.flags.RuleSpec.clears_itself)."""
    return {code: spec.clears_itself for code, spec in rules.RULES.items()
            if spec.clears_itself
            and (spec.fixed or settings.config.get(code, rules.RuleConfig()).enabled)}


def findings_for(facts: dict, settings: Settings) -> dict:
    found = {}
    for pid, f in facts.items():
        found[pid] = [_with_action(x, settings) for x in rules.evaluate(f, settings.config)]
    return found


def _with_action(finding: rules.Finding, settings: Settings) -> rules.Finding:
    own = settings.actions.get(finding.rule)
    if not own:
        return finding
    spec = rules.RULES[finding.rule]
    action = finding.suggested_action.replace(spec.suggested_action, own, 1)
    return rules.Finding(finding.rule, finding.key, finding.severity, finding.evidence, action,
                         finding.response_id)


def apply(organisation_id, found: dict, now=None,
          clearing: dict[str, str] | None = None) -> tuple[int, int]:
    """Store findings as flags. Returns (raised, updated).

    `clearing` ({rule: reason}, see `clearing_rules`): an open flag of one of these rules
    whose finding is gone (every patient in `found` was evaluated) closes with the reason."""
    now = now or timezone.now()
    if clearing:
        close_cleared(found, clearing, now)
    ids = [pid for pid, items in found.items() if items]
    if not ids:
        return 0, 0
    existing = {
        (pid, rule, key): (fid, status, evidence)
        for fid, pid, rule, key, status, evidence in Flag.objects.filter(patient_id__in=ids)
        .values_list("id", "patient_id", "rule", "evidence_key", "status", "evidence")
    }
    # Growing problems (core.flags.RuleSpec.grows): the open flag of each, by its problem key.
    growing = {
        (pid, rule, rules.problem_key(key)): fid
        for (pid, rule, key), (fid, status, _e) in existing.items()
        if status == FlagStatus.ACTIVE and rules.RULES.get(rule) and rules.RULES[rule].grows
    }
    new, changed, moved = [], [], []
    for pid in ids:
        for f in found[pid]:
            known = existing.get((pid, f.rule, f.key))
            open_one = growing.get((pid, f.rule, rules.problem_key(f.key))) \
                if known is None and rules.RULES[f.rule].grows else None
            if open_one is not None:  # the same problem grew: its open flag takes the new key
                moved.append((open_one, f))
            elif known is None:
                new.append(Flag(
                    organisation_id=organisation_id, patient_id=pid, rule=f.rule,
                    evidence_key=f.key, severity=f.severity, evidence=f.evidence,
                    suggested_action=f.suggested_action, raised_at=now, updated_at=now,
                    response_id=f.response_id))
            elif known[1] == FlagStatus.ACTIVE and known[2] != f.evidence:
                changed.append(Flag(id=known[0], evidence=f.evidence, updated_at=now,
                                    response_id=f.response_id))
    # Another worker may raise the same flag at the same moment: the unique key keeps one.
    Flag.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    Flag.objects.bulk_update(changed, ["evidence", "updated_at", "response_id"], batch_size=500)
    for fid, f in moved:
        try:
            with transaction.atomic():  # another worker may have moved it first
                Flag.objects.filter(pk=fid, status=FlagStatus.ACTIVE).update(
                    evidence_key=f.key, evidence=f.evidence, updated_at=now,
                    response_id=f.response_id)
        except IntegrityError:
            continue
    # bulk writes send no model signals: say whose records changed (the caseload listens)
    patient_events.records_changed.send(Flag, patient_ids={flag.patient_id for flag in new})
    return len(new), len(changed) + len(moved)


def close_cleared(found: dict, clearing: dict[str, str], now) -> int:
    """Close the open flags of `clearing` rules that these patients' findings no longer
    show, with the reason recorded (no person closed them: resolved_by stays empty)."""
    still = {(pid, f.rule, f.key) for pid, items in found.items() for f in items}
    stale = [(fid, pid, rule) for fid, pid, rule, key in Flag.objects.filter(
        patient_id__in=list(found), rule__in=list(clearing), status=FlagStatus.ACTIVE)
        .values_list("id", "patient_id", "rule", "evidence_key")
        if (pid, rule, key) not in still]
    when = rules.day(timezone.localdate(now))
    for rule in {r for _f, _p, r in stale}:
        Flag.objects.filter(pk__in=[f for f, _p, r in stale if r == rule]).update(
            status=FlagStatus.INACTIVE, resolved_at=now, updated_at=now,
            action_taken=f"Closed by Tandem on {when}: {clearing[rule]}.")
    patient_events.records_changed.send(Flag, patient_ids={pid for _f, pid, _r in stale})
    return len(stale)


def evaluate_batch(organisation, ids, today: datetime.date, settings: Settings):
    """Evaluate these patients of one organisation and store what was found: new flags,
    evidence brought up to date, cleared flags closed. Returns (raised, updated)."""
    return apply(organisation.pk, findings_for(gather(organisation, ids, today), settings),
                 clearing=clearing_rules(settings))


def evaluate_patients(organisation, ids, today: datetime.date | None = None) -> tuple[int, int]:
    return evaluate_batch(organisation, ids, today or timezone.localdate(),
                          settings_for(organisation.pk))


def evaluate_patient(patient: Patient, today: datetime.date | None = None) -> tuple[int, int]:
    return evaluate_patients(patient.organisation, [patient.pk], today)


def _current_episodes(ids) -> dict:
    """Each patient's current episode as (status, start date): as `_latest_episodes` chooses,
    read as plain values."""
    found: dict = {}
    for pid, status, start in (Episode.objects.filter(patient_id__in=ids)
                               .order_by("start_date")
                               .values_list("patient_id", "status", "start_date")):
        current = found.get(pid)
        if current is None or status in OPEN_STATUSES or current[0] not in OPEN_STATUSES:
            found[pid] = (status, start)
    return found


# What pharmacy reports can change: the rules that read dispensing days only.
DISPENSING_RULES = frozenset({"missed-doses"})


def evaluate_dispensing(organisation_id, ids, today: datetime.date | None = None,
                        settings: Settings | None = None, batch: int = BATCH) -> tuple[int, int]:
    """Raise or bring up to date the flags that pharmacy reports decide (missed doses) for
    these patients of one organisation, `batch` patients at a time, reading only what those
    rules need (who has missed days, then their episode and current medication plan): an
    import of reports for many patients raises its urgent flags at once, in a fixed number of
    queries a batch. Returns (raised, updated)."""
    today = today or timezone.localdate()
    settings = settings or settings_for(organisation_id)
    ids = list(dict.fromkeys(i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids))
    raised = updated = 0
    since = today - datetime.timedelta(days=rules.DISPENSING_DAYS)
    need = medication_settings_for(organisation_id).missed_days_for_flag
    for start in range(0, len(ids), batch):
        # Only a patient with at least the service's number of missed days in the weeks the
        # rule reads can have a missed-dose flag to raise or bring up to date (the flag does
        # not close itself): the others of an import cost nothing more.
        chunk = list(DispensingDay.objects
                     .filter(organisation_id=organisation_id,
                             patient_id__in=ids[start:start + batch], status=Taken.MISSED,
                             day__gte=since, day__lte=today)
                     .values("patient_id").annotate(days=Count("day")).filter(days__gte=need)
                     .values_list("patient_id", flat=True))
        if not chunk:
            continue
        medication = medication_facts(organisation_id, chunk, today)
        if not medication:
            continue
        episodes = _current_episodes(list(medication))
        found = {}
        for pid, m in medication.items():
            status, start_date = episodes.get(pid, (None, None))
            facts = rules.Facts(today=today, episode_status=status, episode_start=start_date,
                                medication=m)
            found[pid] = [_with_action(x, settings)
                          for x in rules.evaluate(facts, settings.config, DISPENSING_RULES)]
        new, changed = apply(organisation_id, found)
        raised, updated = raised + new, updated + changed
    return raised, updated


def monitored(organisation):
    """Patients the sweep looks at: those with an episode in treatment or post-exit
    monitoring, and anyone with an open flag (so a flag whose condition has cleared closes,
    whatever became of the episode)."""
    episodes = Episode.objects.of(organisation).filter(
        status__in=[EpisodeStatus.ACTIVE, EpisodeStatus.MONITORING])
    flagged = Flag.objects.of(organisation).filter(status=FlagStatus.ACTIVE)
    watched = Q(pk__in=episodes.values("patient_id")) | Q(pk__in=flagged.values("patient_id"))
    return (Patient.objects.of(organisation).filter(watched)
            .order_by("pk").values_list("pk", flat=True))


def sweep(today: datetime.date | None = None, batch: int = BATCH, progress=None) -> dict:
    """Evaluate every monitored patient of every organisation, a batch at a time."""
    today = today or timezone.localdate()
    totals = {"patients": 0, "raised": 0, "updated": 0}
    for org in Organisation.objects.order_by("pk"):
        settings = settings_for(org.pk)
        ids = list(monitored(org))
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            raised, updated = evaluate_batch(org, chunk, today, settings)
            totals["patients"] += len(chunk)
            totals["raised"] += raised
            totals["updated"] += updated
            if progress:
                progress(len(chunk))
    # every patient: what summarises them is rewritten from its data, whatever wrote it
    patient_events.records_changed.send(Flag, patient_ids=None)
    return totals
