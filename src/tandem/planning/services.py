"""Priority sorts: starting a round, saving and submitting each voice's sort, comparing.

Neither side sees the other's sort until both have submitted (`visible_to`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tandem.assessment import registry
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.core.agreement import Comparison, compare
from tandem.patients.services import current_episode
from tandem.planning.models import Goal, GoalTypeChange, PrioritySort, SortSession, Voice
from tandem.records import versioning


class AlreadySubmitted(Exception):
    pass


class SortingInPortal(Exception):
    """The patient has started their own sort in the portal; staff never see or replace it."""


def cards_for(patient) -> list[tuple[str, str, str]]:
    return registry.cards(patient.organisation)


@transaction.atomic
def start_session(actor: Actor, patient) -> SortSession:
    session = SortSession.objects.create(
        organisation_id=patient.organisation_id, patient=patient,
        episode=current_episode(patient), started_by=actor.user)
    record_by(actor, "create", patient=patient, obj=session)
    return session


def sort_of(session: SortSession, voice: str) -> PrioritySort | None:
    return next((s for s in session.sorts.all() if s.voice == voice), None)


@transaction.atomic
def save_sort(actor: Actor, session: SortSession, voice: str, entries: list[dict], *, submit: bool,
              handed_over: bool = False) -> PrioritySort:
    sort = PrioritySort.objects.select_for_update().filter(session=session, voice=voice).first()
    if sort is not None and sort.submitted:
        raise AlreadySubmitted
    if sort is not None and handed_over and not sort.handed_over:
        raise SortingInPortal
    now = timezone.now()
    created = sort is None
    if created:
        sort = PrioritySort(organisation_id=session.organisation_id, session=session,
                            voice=voice, started_at=now)
    sort.cards = entries
    sort.entered_by = actor.user
    sort.handed_over = handed_over
    sort.updated_at = now
    if submit:
        sort.submitted_at = now
    sort.save()
    record_by(actor, "create" if created else "update", patient=session.patient, obj=sort)
    return sort


def both_submitted(session: SortSession) -> bool:
    sorts = list(session.sorts.all())
    return len(sorts) == 2 and all(s.submitted for s in sorts)


def comparison(session: SortSession) -> Comparison | None:
    if not both_submitted(session):
        return None
    a = sort_of(session, Voice.PATIENT).piles()
    b = sort_of(session, Voice.PRACTITIONER).piles()
    # If the service changed its cards between the two sorts, compare the cards both sorted.
    common = {c for pile in a.values() for c in pile} & {c for pile in b.values() for c in pile}
    return compare(*({k: [c for c in v if c in common] for k, v in piles.items()}
                     for piles in (a, b)))


@transaction.atomic
def save_discussion(actor: Actor, session: SortSession, text: str) -> None:
    session.discussion = text
    session.discussion_by = actor.user
    session.discussion_at = timezone.now()
    session.save(update_fields=["discussion", "discussion_by", "discussion_at"])
    record_by(actor, "update", patient=session.patient, obj=session)


def comparison_view(session: SortSession) -> dict:
    """Everything the comparison page shows, with card labels: both rankings side by side,
    agreement, the largest disagreements first, cards only one side chose, help and notes."""
    result = comparison(session)
    if result is None:
        return {}
    labels = {code: label for code, label, _q in cards_for(session.patient)}
    patient, practitioner = sort_of(session, Voice.PATIENT), sort_of(session, Voice.PRACTITIONER)
    entries = {v: {c["code"]: c for c in s.cards} for v, s in
               ((Voice.PATIENT, patient), (Voice.PRACTITIONER, practitioner))}
    pile_words = {"now": "Now", "later": "Later", "not": "Not for me"}

    def side(voice, code):
        entry = entries[voice].get(code, {})
        word = pile_words.get(entry.get("pile"), "—")
        if entry.get("pile") == "now":
            word += f" (#{entry.get('rank')})"
        return {"pile": word, "help": entry.get("help"), "note": entry.get("note", "")}

    rows = [{"code": code, "label": labels.get(code, code),
             "patient": side(Voice.PATIENT, code), "practitioner": side(Voice.PRACTITIONER, code)}
            for code in labels]
    first_p, first_s = patient.piles()["now"][:1], practitioner.piles()["now"][:1]
    return {
        "result": result,
        # In plain words for everyone: how many areas landed in the same pile, and whether
        # both put the same area first.
        "same_pile": len(result.agree),
        "areas": len(rows),
        "both_first": labels.get(first_p[0], first_p[0]).lower()
        if first_p and first_p == first_s else "",
        "rows": rows,
        "patient_now": [labels.get(c, c) for c in patient.piles()["now"]],
        "practitioner_now": [labels.get(c, c) for c in practitioner.piles()["now"]],
        "agree": sorted(labels.get(c, c) for c in result.agree),
        "disagreements": [{"label": labels.get(card, card), "patient": pile_words[a],
                           "practitioner": pile_words[b], "distance": d}
                          for card, a, b, d in result.disagreements],
        # Cards either side wants to work on now: the ones to take forward as goals.
        "forward": [(code, labels.get(code, code)) for code in dict.fromkeys(
            [*patient.piles()["now"], *practitioner.piles()["now"]])],
        "only_patient_now": [labels.get(c, c) for c in result.only_a_now],
        "only_practitioner_now": [labels.get(c, c) for c in result.only_b_now],
    }


@transaction.atomic
def save_goal(actor: Actor, patient, form, *, sort_session=None) -> Goal:
    """Create or update a goal from a validated GoalForm (the one versioned save: raises
    versioning.Stale, saving nothing, if someone saved the goal after this form was opened).
    A change of the kind of substance goal is kept in the goal's history with its reason."""
    goal = form.instance
    previous_type = "" if goal._state.adding else form.initial.get("goal_type", "")
    if goal._state.adding:
        goal.organisation_id = patient.organisation_id
        goal.patient = patient
        goal.episode = current_episode(patient)
        goal.sort_session = sort_session
        goal.created_by = actor.user
    goal = versioning.save(form, actor, patient=patient)
    if goal.goal_type and goal.goal_type != previous_type:
        GoalTypeChange.objects.create(
            goal=goal, changed_at=goal.updated_at, from_type=previous_type,
            to_type=goal.goal_type, chosen_by=goal.goal_type_chosen_by or "patient",
            reason=form.cleaned_data.get("type_change_reason", ""), recorded_by=actor.user)
    return goal


def goals_of(patient) -> list[Goal]:
    """The patient's goals in priority order, each with its card's label."""
    labels = {code: label for code, label, _q in cards_for(patient)}
    found = list(patient.goals.prefetch_related("type_changes"))
    for goal in found:
        goal.card_label = labels.get(goal.card, goal.card)
    return found
