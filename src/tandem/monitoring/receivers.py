"""What monitoring does when the apps below announce something (their `events` modules).

- answers saved (assessment): raise the urgent flags they call for, in the same transaction;
- a batch of check-ups stored (assessment): the same, in bulk;
- check-ups completed, a plan signed, a review held: look at the patient's flags again, so a
  flag whose condition ended (an overdue check-up, an unsigned plan) closes at once;
- a medication plan started, changed or stopped, the dose ledger changed, a medication review
  held: the same, for that patient, in the saving transaction;
- pharmacy reports recorded (one signal for a whole import): the missed-dose flags of those
  patients raised or brought up to date at once, in batches, in the saving transaction
  (`evaluate.evaluate_dispensing`); queued for the worker if that fails.
"""

from __future__ import annotations

import logging

from django.db import transaction

from tandem.assessment import events as assessment_events
from tandem.assessment.responses import service_safety_rules
from tandem.core.scoring import answer_text, declined_safety, safety_hits
from tandem.medication import events as medication_events
from tandem.monitoring import evaluate, tasks
from tandem.monitoring.models import Flag
from tandem.monitoring.services import (
    check_safety,
    escalation_steps,
    safety_flag,
    unanswered_flag,
)
from tandem.monitoring.tasks import after_change
from tandem.patients import events as patient_events
from tandem.planning import events as planning_events

log = logging.getLogger(__name__)


def answers_saved(sender, *, response, instrument, **kwargs) -> list[Flag]:
    extra = service_safety_rules(response.organisation_id, instrument.code)
    return check_safety(response, instrument, extra)


def batch_recorded(sender, *, organisation_id, items, **kwargs) -> list[Flag]:
    """Urgent flags for a batch stored in bulk: one per question that meets a safety rule
    (the instrument's own rule first, as in a request), and one for each safety question
    left unanswered."""
    steps = escalation_steps(organisation_id)
    extra_rules: dict[str, list] = {}
    flags = []
    for response_id, patient_id, instrument, answers in items:
        if instrument.code not in extra_rules:
            extra_rules[instrument.code] = service_safety_rules(organisation_id, instrument.code)
        seen = set()
        for rule in safety_hits(instrument, answers, extra_rules[instrument.code]):
            if rule.item not in seen:
                seen.add(rule.item)
                flags.append(safety_flag(organisation_id, patient_id, response_id, instrument,
                                         rule, answers[rule.item],
                                         answer_text(instrument, rule.item, answers[rule.item]),
                                         steps))
        flags += [unanswered_flag(organisation_id, patient_id, response_id, instrument, item)
                  for item in declined_safety(instrument, answers)]
    Flag.objects.bulk_create(flags)
    # bulk writes send no model signals: say whose records changed (the caseload listens)
    patient_events.records_changed.send(Flag, patient_ids={f.patient_id for f in flags})
    return flags


def checkups_completed(sender, *, organisation_id, patient_ids, now=False, **kwargs) -> None:
    after_change(organisation_id, patient_ids, now=now)


def reevaluate(sender, *, patient_id, organisation_id, **kwargs) -> None:
    after_change(organisation_id, [patient_id], now=True)


def medication_changed(sender, *, plan, **kwargs) -> None:
    """A medication plan or its doses changed: its patient's flags at once (a review date
    moved, a dose below the ECG threshold, a restart after missed days)."""
    after_change(plan.organisation_id, [plan.patient_id], now=True)


def medication_review_held(sender, *, review, **kwargs) -> None:
    after_change(review.organisation_id, [review.plan.patient_id], now=True)


def dispensing_recorded(sender, *, organisation_id, patient_ids, **kwargs) -> None:
    """Pharmacy reports for these patients: raise the missed-dose flags now (urgent: a
    pharmacy must not give the usual dose before the prescriber has reviewed), in savepoints
    so the reports stand whatever happens here; what fails is queued for the worker."""
    ids = list(dict.fromkeys(patient_ids))
    settings = evaluate.settings_for(organisation_id)
    for start in range(0, len(ids), evaluate.BATCH):
        chunk = ids[start:start + evaluate.BATCH]
        try:
            with transaction.atomic():  # a savepoint: a failure here never undoes the reports
                evaluate.evaluate_dispensing(organisation_id, chunk, settings=settings)
        except Exception:  # noqa: BLE001 - the reports must stand; the worker evaluates them
            log.exception("Missed-dose flags for %d patients failed; queued for the worker",
                          len(chunk))
            tasks.evaluate_patients.enqueue(organisation_id, [str(p) for p in chunk])


def connect() -> None:
    assessment_events.answers_saved.connect(answers_saved, dispatch_uid="monitoring-answers")
    assessment_events.batch_recorded.connect(batch_recorded, dispatch_uid="monitoring-batch")
    assessment_events.checkups_completed.connect(checkups_completed,
                                                 dispatch_uid="monitoring-checkups")
    # A plan signed or a review held can end a flag's condition: look again at once.
    planning_events.plan_signed.connect(reevaluate, dispatch_uid="monitoring-plan-signed")
    planning_events.review_held.connect(reevaluate, dispatch_uid="monitoring-review-held")
    # Medication: a plan, its doses, a review or pharmacy reports can raise or end a flag.
    medication_events.plan_changed.connect(medication_changed,
                                           dispatch_uid="monitoring-medication-plan")
    medication_events.dose_changed.connect(medication_changed,
                                           dispatch_uid="monitoring-medication-dose")
    medication_events.review_held.connect(medication_review_held,
                                          dispatch_uid="monitoring-medication-review")
    medication_events.dispensing_recorded.connect(dispensing_recorded,
                                                  dispatch_uid="monitoring-dispensing")
