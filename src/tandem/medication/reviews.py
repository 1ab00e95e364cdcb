"""Medication reviews: held at least every 3 months (or the service's shorter interval), so
nobody on substitute medication drifts without one.

A review records whether the dose is right, any use on top, side effects, the patient's view in
their own words and what the patient wants next about the medication (stay stable, reduce,
come off, or not decided) with whose choice it was. None of this pushes a reduction:
stabilising on medication is a legitimate goal (UK guidelines 2017, ch. 4, as
`models.SubstanceGoal` says). Holding a review moves the plan's review date, as a new version
of the plan (`doses.change_plan`), so the plan's history says when and why it moved.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.db import transaction
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core.dosing import day_text
from tandem.medication import doses, events
from tandem.medication.models import (
    Adequacy,
    ChosenBy,
    MedicationPlan,
    MedicationReview,
    PlanStatus,
    SubstanceGoal,
    settings_for,
)

FIELDS = ("held_on", "adequacy", "use_on_top", "side_effects", "patient_view",
          "substance_goal", "goal_chosen_by", "goal_discussed", "next_review", "notes")


def latest_next_review(plan: MedicationPlan, held_on: datetime.date) -> datetime.date:
    """The latest the next review may be: the service's interval after this one (at most 3
    months, MedicationSettings), and never further ahead than a plan's review date may be."""
    every = settings_for(plan.organisation_id).review_every_days
    today = timezone.localdate()
    return min(held_on + datetime.timedelta(days=every),
               today + datetime.timedelta(days=doses.REVIEW_AHEAD_DAYS))


def problems(plan: MedicationPlan, fields: dict) -> dict[str, list[str]]:
    """{field: [why]} for a review that cannot be recorded as given."""
    found: dict[str, list[str]] = {}

    def add(field, message):
        found.setdefault(field, []).append(message)

    today = timezone.localdate()
    held_on, next_review = fields["held_on"], fields["next_review"]
    if held_on > today:
        add("held_on", "The review cannot be in the future.")
    elif held_on < plan.started_on:
        add("held_on", f"The review cannot be before the plan started "
            f"({day_text(plan.started_on)}).")
    if next_review <= today:
        add("next_review", "The next review is after today.")
    elif next_review > latest_next_review(plan, min(held_on, today)):
        every = settings_for(plan.organisation_id).review_every_days
        add("next_review", f"Medication is reviewed at least every {every} days here: choose "
            f"a date by {day_text(latest_next_review(plan, min(held_on, today)))}.")
    if not str(fields.get("patient_view", "")).strip():
        add("patient_view", "Write the patient's view, in their words.")
    for name, choices in (("adequacy", Adequacy), ("substance_goal", SubstanceGoal),
                          ("goal_chosen_by", ChosenBy)):
        if fields.get(name) not in choices.values:
            add(name, "Choose one of the answers.")
    return found


@transaction.atomic
def hold(actor: Actor, plan: MedicationPlan, version: int, **fields) -> MedicationReview:
    """Record a medication review of `plan` (opened at `version`) and move the plan's review
    date to the next review, as a new version of the plan. Raises doses.Refused, having
    written nothing, with the reasons by field."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise TypeError(f"unknown review fields: {sorted(unknown)}")
    fields = {"use_on_top": "", "side_effects": "", "notes": "", "goal_discussed": True,
              **fields}
    plan = MedicationPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.version != version:
        raise doses.Refused({"": ["Someone changed this plan after you opened the review. "
                                  "Nothing was saved; what you typed is still below. Look at "
                                  "the plan again and save once more."]})
    if plan.status != PlanStatus.ACTIVE:
        raise doses.Refused({"": ["This plan has stopped: a review is held on a current plan."]})
    found = problems(plan, fields)
    if found:
        raise doses.Refused(found)
    review = MedicationReview.objects.create(
        organisation_id=plan.organisation_id, plan=plan, held_by=actor.user, **fields)
    terms = dataclasses.replace(doses.Terms.of(plan), review_date=fields["next_review"])
    doses.change_plan(actor, plan, version, terms,
                      reason=f"Medication review held on {day_text(fields['held_on'])}; next "
                             f"review by {day_text(fields['next_review'])}.")
    record_by(actor, "create", patient=plan.patient, obj=review)
    events.review_held.send(MedicationReview, review=review)
    return review
