"""What monitoring does when the apps below announce something (their `events` modules).

- answers saved (assessment): raise the urgent flags they call for, in the same transaction;
- a batch of check-ups stored (assessment): the same, in bulk;
- check-ups completed, a plan signed, a review held: look at the patient's flags again, so a
  flag whose condition ended (an overdue check-up, an unsigned plan) closes at once.
"""

from __future__ import annotations

from tandem.assessment import events as assessment_events
from tandem.assessment.responses import service_safety_rules
from tandem.core.scoring import answer_text, declined_safety, safety_hits
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


def connect() -> None:
    assessment_events.answers_saved.connect(answers_saved, dispatch_uid="monitoring-answers")
    assessment_events.batch_recorded.connect(batch_recorded, dispatch_uid="monitoring-batch")
    assessment_events.checkups_completed.connect(checkups_completed,
                                                 dispatch_uid="monitoring-checkups")
    # A plan signed or a review held can end a flag's condition: look again at once.
    planning_events.plan_signed.connect(reevaluate, dispatch_uid="monitoring-plan-signed")
    planning_events.review_held.connect(reevaluate, dispatch_uid="monitoring-review-held")
