"""Priority sorts: starting a round, saving and submitting each voice's sort, comparing.

Neither side sees the other's sort until both have submitted (`visible_to`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tandem.assessment import registry
from tandem.audit.trail import record_request
from tandem.core.agreement import Comparison, compare
from tandem.patients.services import current_episode
from tandem.planning.models import Goal, GoalTypeChange, PrioritySort, SortSession, Voice


class AlreadySubmitted(Exception):
    pass


class SortingInPortal(Exception):
    """The patient has started their own sort in the portal; staff never see or replace it."""


def cards_for(patient) -> list[tuple[str, str, str]]:
    return registry.cards(patient.organisation)


@transaction.atomic
def start_session(request, patient) -> SortSession:
    session = SortSession.objects.create(
        organisation_id=patient.organisation_id, patient=patient,
        episode=current_episode(patient), started_by=request.user)
    record_request(request, "create", patient=patient, obj=session)
    return session


def sort_of(session: SortSession, voice: str) -> PrioritySort | None:
    return next((s for s in session.sorts.all() if s.voice == voice), None)


@transaction.atomic
def save_sort(request, session: SortSession, voice: str, entries: list[dict], *, submit: bool,
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
    sort.entered_by = request.user
    sort.handed_over = handed_over
    sort.updated_at = now
    if submit:
        sort.submitted_at = now
    sort.save()
    record_request(request, "create" if created else "update", patient=session.patient, obj=sort)
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
def save_discussion(request, session: SortSession, text: str) -> None:
    session.discussion = text
    session.discussion_by = request.user
    session.discussion_at = timezone.now()
    session.save(update_fields=["discussion", "discussion_by", "discussion_at"])
    record_request(request, "update", patient=session.patient, obj=session)


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


class Conflict(Exception):
    """Someone else saved the goal since this person started editing it."""

    def __init__(self, current: Goal, changed: list[tuple[str, str, str]]):
        super().__init__("goal changed")
        self.current = current
        self.changed = changed  # (field label, value now saved, value typed)


def check_version(model, pk, form):
    """The stored row, locked for this transaction; raises Conflict (with what differs) if it
    was saved since the version the form was opened at (the form's `version` field)."""
    current = model.objects.select_for_update().get(pk=pk)
    if form.cleaned_data.get("version") != current.version:
        changed = [
            (form.fields[name].label, _display(form, name, getattr(current, _attr(current, name))),
             _display(form, name, _value(form.cleaned_data.get(name))))
            for name in form.Meta.fields
            if getattr(current, _attr(current, name)) != _value(form.cleaned_data.get(name))
        ]
        raise Conflict(current, changed)
    return current


def _attr(obj, name: str) -> str:
    """Foreign keys are compared by id."""
    field = obj._meta.get_field(name)
    return field.attname


def _value(value):
    return value.pk if hasattr(value, "_meta") else value


def _display(form, name: str, value) -> str:
    field = form.fields[name]
    choices = {getattr(k, "value", k): v for k, v in (getattr(field, "choices", []) or [])}
    return str(choices.get(value, value if value not in (None, "") else "—"))


@transaction.atomic
def save_goal(request, patient, form, *, sort_session=None) -> Goal:
    """Create or update a goal from a validated GoalForm. Raises Conflict, with what changed,
    if the goal was saved by someone else after this form was opened; nothing is lost: the
    form keeps what was typed and now carries the current version."""
    goal = form.instance
    now = timezone.now()
    new_version = 1
    previous_type = ""
    if not goal._state.adding:
        current = check_version(Goal, goal.pk, form)
        previous_type = current.goal_type
        new_version = current.version + 1
    else:
        goal.organisation_id = patient.organisation_id
        goal.patient = patient
        goal.episode = current_episode(patient)
        goal.sort_session = sort_session
        goal.created_by = request.user
    goal = form.save(commit=False)
    goal.version = new_version
    goal.updated_by = request.user
    goal.updated_at = now
    goal.save()
    if goal.goal_type and goal.goal_type != previous_type:
        GoalTypeChange.objects.create(
            goal=goal, changed_at=now, from_type=previous_type, to_type=goal.goal_type,
            chosen_by=goal.goal_type_chosen_by or "patient",
            reason=form.cleaned_data.get("type_change_reason", ""), recorded_by=request.user)
    record_request(request, "create" if new_version == 1 else "update", patient=patient,
                   obj=goal)
    return goal


def goals_of(patient) -> list[Goal]:
    """The patient's goals in priority order, each with its card's label."""
    labels = {code: label for code, label, _q in cards_for(patient)}
    found = list(patient.goals.prefetch_related("type_changes"))
    for goal in found:
        goal.card_label = labels.get(goal.card, goal.card)
    return found
