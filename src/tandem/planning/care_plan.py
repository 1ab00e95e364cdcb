"""The recovery care plan: creating it, recording a version on every change, sign-off by the
patient and the practitioner, readable differences between versions, the patient's proposed
changes, and the printable plan.

A version is the plan as it read at that moment (goals in the patient's words, actions, review
date). While nobody has signed the latest version, changes update it; once anyone has signed,
the next change makes a new version, which asks for both signatures again."""

from __future__ import annotations

import datetime
import difflib

from django.db import transaction
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core import gas
from tandem.core.gas import Rating
from tandem.core.schedule import add_months
from tandem.patients.services import current_episode
from tandem.planning import events
from tandem.planning.models import (
    ActionStatus,
    CarePlan,
    GoalRating,
    LifecycleStatus,
    PlanAction,
    PlanProposal,
    PlanStatus,
    PlanVersion,
    ProposalStatus,
    Review,
)
from tandem.planning.services import goals_of
from tandem.records import versioning

REVIEW_WITHIN_MONTHS = 3  # the default: a review no later than 3 months ahead
OPEN_GOALS = (LifecycleStatus.PROPOSED, LifecycleStatus.PLANNED, LifecycleStatus.ACCEPTED,
              LifecycleStatus.ACTIVE, LifecycleStatus.ON_HOLD)


def default_review_date(today: datetime.date | None = None) -> datetime.date:
    return add_months(today or timezone.localdate(), REVIEW_WITHIN_MONTHS)


# A plan in force: its review date and signatures are chased (the caseload). A completed plan
# is still the one shown (`current_plan`), but nothing about it is due any more.
IN_FORCE = (PlanStatus.DRAFT, PlanStatus.ACTIVE, PlanStatus.ON_HOLD)


def current_plan(patient) -> CarePlan | None:
    return (patient.care_plans.exclude(status__in=[PlanStatus.REVOKED,
                                                   PlanStatus.ENTERED_IN_ERROR])
            .order_by("-created_at").first())


def plan_goals(patient):
    return [g for g in goals_of(patient) if g.lifecycle_status in OPEN_GOALS]


def _date(day) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def snapshot(plan: CarePlan) -> dict:
    """The plan as it reads now, in plain values (kept with each version)."""
    goals = plan_goals(plan.patient)
    actions = plan.actions.select_related("goal", "provider__user").order_by("start_date", "pk")
    return {
        "status": plan.get_status_display(),
        "review_date": plan.review_date.isoformat(),
        "goals": [{
            "area": g.card_label, "statement": g.statement, "priority": g.priority,
            "kind": g.get_goal_type_display() if g.goal_type else "",
            "target": g.target_date.isoformat() if g.target_date else "",
            "levels": [text for _level, text in g.gas_levels()],
        } for g in goals],
        "actions": [{
            "intervention": a.get_intervention_display(), "description": a.description,
            "provider": str(a.provider) if a.provider else "",
            "frequency": a.frequency, "from": a.start_date.isoformat(),
            "to": a.end_date.isoformat() if a.end_date else "",
            "status": a.get_status_display(), "goal": a.goal.statement if a.goal else "",
        } for a in actions],
    }


def lines(snap: dict) -> list[str]:
    """A version as plain lines, for reading and for the differences between versions."""
    day = datetime.date.fromisoformat
    out = [f"Review by {_date(day(snap['review_date']))}", f"Status: {snap['status']}"]
    for goal in snap["goals"]:
        kind = f" ({goal['kind']})" if goal["kind"] else ""
        target = f", by {_date(day(goal['target']))}" if goal["target"] else ""
        out.append(f"Goal {goal['priority']}, {goal['area']}: “{goal['statement']}”{kind}{target}")
        for level, text in zip(("−2", "−1", "0", "+1", "+2"), goal["levels"], strict=True):
            out.append(f"    {level}: {text}")
    for action in snap["actions"]:
        who = f", with {action['provider']}" if action["provider"] else ""
        how = f", {action['frequency']}" if action["frequency"] else ""
        until = f" to {_date(day(action['to']))}" if action["to"] else ""
        out.append(f"Action, {action['intervention']}: {action['description']}{who}{how}; "
                   f"from {_date(day(action['from']))}{until}; {action['status'].lower()}")
    return out


def latest_version(plan: CarePlan) -> PlanVersion | None:
    return plan.versions.order_by("-number").first()


def record_version(actor: Actor, plan: CarePlan) -> PlanVersion:
    """Keep the plan as it reads now: a new version if the latest was signed by anyone,
    otherwise the latest (unsigned) version is brought up to date."""
    snap = snapshot(plan)
    latest = latest_version(plan)
    if latest is not None and latest.snapshot == snap:
        return latest
    if latest is None or latest.signed_by_anyone:
        version = PlanVersion.objects.create(
            plan=plan, number=(latest.number + 1) if latest else 1, snapshot=snap,
            created_by=actor.user)
        record_by(actor, "create", patient=plan.patient, obj=version)
        return version
    latest.snapshot = snap
    latest.created_at = timezone.now()
    latest.created_by = actor.user
    latest.save(update_fields=["snapshot", "created_at", "created_by"])
    record_by(actor, "update", patient=plan.patient, obj=latest)
    return latest


@transaction.atomic
def save_plan(actor: Actor, patient, form) -> CarePlan:
    """Create the plan, or change its review date and status (the one versioned save: raises
    versioning.Stale if someone saved it after this form was opened); each makes a version."""
    plan = form.instance
    if plan._state.adding:
        plan.organisation_id = patient.organisation_id
        plan.patient = patient
        plan.episode = current_episode(patient)
    plan = versioning.save(form, actor, patient=patient)
    record_version(actor, plan)
    return plan


@transaction.atomic
def save_action(actor: Actor, plan: CarePlan, form) -> PlanAction:
    """Add an action to the plan or change one (the one versioned save); the plan gets a
    version."""
    action = form.instance
    if action._state.adding:
        action.organisation_id = plan.organisation_id
        action.plan = plan
    action = versioning.save(form, actor, patient=plan.patient)
    record_version(actor, plan)
    return action


def goals_changed(actor: Actor, patient) -> None:
    """Goals are part of the plan: a change to one is a change to the plan."""
    plan = current_plan(patient)
    if plan is not None:
        record_version(actor, plan)


@transaction.atomic
def sign(actor: Actor, plan: CarePlan, *, as_patient: bool) -> PlanVersion:
    version = PlanVersion.objects.select_for_update().filter(plan=plan).order_by(
        "-number").first()
    now = timezone.now()
    if as_patient:
        version.patient_signed_at, version.patient_signed_by = now, actor.user
    else:
        version.practitioner_signed_at, version.practitioner_signed_by = now, actor.user
    version.save()
    record_by(actor, "update", patient=plan.patient, obj=version)
    events.plan_signed.send(sender=PlanVersion, patient_id=plan.patient_id,
                            organisation_id=plan.organisation_id)
    return version


def difference(older: PlanVersion, newer: PlanVersion) -> list[tuple[str, str]]:
    """("same" | "added" | "removed", line) for reading one version against another."""
    out = []
    for line in difflib.ndiff(lines(older.snapshot), lines(newer.snapshot)):
        tag, text = line[:2], line[2:]
        if tag == "  ":
            out.append(("same", text))
        elif tag == "+ ":
            out.append(("added", text))
        elif tag == "- ":
            out.append(("removed", text))
    return out


@transaction.atomic
def propose(actor: Actor, plan: CarePlan, text: str) -> PlanProposal:
    proposal = PlanProposal.objects.create(plan=plan, text=text, created_by=actor.user)
    record_by(actor, "create", patient=plan.patient, obj=proposal)
    return proposal


@transaction.atomic
def respond(actor: Actor, proposal: PlanProposal, status: str, response: str) -> None:
    proposal.status = ProposalStatus(status)
    proposal.response = response
    proposal.responded_at = timezone.now()
    proposal.responded_by = actor.user
    proposal.save()
    record_by(actor, "update", patient=proposal.plan.patient, obj=proposal)
    events.proposal_answered.send(PlanProposal, proposal=proposal)


def t_score(levels: list[int | None]) -> float | None:
    """GAS T-score of the goals rated (equal weights, ρ = 0.3: core/gas.py)."""
    rated = [Rating(level) for level in levels if level is not None]
    return round(gas.t_score(rated), 1) if rated else None


@transaction.atomic
def hold_review(actor: Actor, plan: CarePlan, form) -> Review:
    """Record a review: the ratings, both T-scores, the next review date on the plan (which
    makes a plan version)."""
    ratings = form.ratings()
    review = Review.objects.create(
        organisation_id=plan.organisation_id, plan=plan, held_on=form.cleaned_data["held_on"],
        next_review=form.cleaned_data["next_review"], notes=form.cleaned_data["notes"],
        t_score_patient=t_score([p for _g, p, _r, _c in ratings]),
        t_score_practitioner=t_score([r for _g, _p, r, _c in ratings]),
        created_by=actor.user)
    GoalRating.objects.bulk_create([
        GoalRating(review=review, goal=goal, patient_level=p, practitioner_level=r, comment=c)
        for goal, p, r, c in ratings if p is not None or r is not None or c])
    record_by(actor, "create", patient=plan.patient, obj=review)
    plan.review_date = review.next_review
    plan.updated_by, plan.updated_at = actor.user, timezone.now()
    versioning.bump(plan, ["review_date", "updated_by", "updated_at"])
    record_version(actor, plan)
    events.review_held.send(sender=Review, patient_id=plan.patient_id,
                            organisation_id=plan.organisation_id)
    return review


FINISHED_ACTIONS = (ActionStatus.COMPLETED, ActionStatus.CANCELLED, ActionStatus.STOPPED)


@transaction.atomic
def carry_over(actor: Actor, patient, episode) -> CarePlan | None:
    """On re-engagement: the last plan comes into the new episode as a draft to revisit
    together (its unfinished actions, a review within 3 months); the old plan is completed
    and keeps its versions and signatures."""
    old = current_plan(patient)
    if old is None:
        return None
    plan = CarePlan.objects.create(
        organisation_id=patient.organisation_id, patient=patient, episode=episode,
        status=PlanStatus.DRAFT, review_date=default_review_date(episode.start_date),
        updated_by=actor.user)
    PlanAction.objects.bulk_create([
        PlanAction(organisation_id=a.organisation_id, plan=plan, goal_id=a.goal_id,
                   intervention=a.intervention, description=a.description,
                   provider_id=a.provider_id, frequency=a.frequency,
                   start_date=max(a.start_date, episode.start_date), end_date=None,
                   status=ActionStatus.NOT_STARTED, updated_by=actor.user)
        for a in old.actions.exclude(status__in=FINISHED_ACTIONS)])
    old.status = PlanStatus.COMPLETED
    old.updated_by, old.updated_at = actor.user, timezone.now()
    versioning.bump(old, ["status", "updated_by", "updated_at"])
    record_by(actor, "update", patient=patient, obj=old)
    record_by(actor, "create", patient=patient, obj=plan)
    record_version(actor, plan)
    return plan
