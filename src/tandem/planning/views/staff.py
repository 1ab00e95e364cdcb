"""Staff pages for priority sorts, goals and the recovery care plan. The permission layer put
the patient on request.patient; every plan, action, version, sort and goal is looked up within
that patient."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.assessment.forms import posted
from tandem.audit.actor import Actor
from tandem.planning import care_plan, events, services
from tandem.planning.forms import (
    ActionForm,
    CarePlanForm,
    DiscussionForm,
    GoalForm,
    ResponseForm,
    ReviewForm,
    SortForm,
)
from tandem.planning.models import (
    CarePlan,
    Goal,
    PlanAction,
    PlanProposal,
    Review,
    SortSession,
    Voice,
)
from tandem.planning.printing import printable_plan
from tandem.records import versioning


def _session(request, session_id) -> SortSession:
    return get_object_or_404(SortSession.objects.prefetch_related("sorts"), pk=session_id,
                             patient=request.patient)


def priorities(request, patient_id):
    patient = request.patient
    sessions = list(patient.sort_sessions.prefetch_related("sorts"))
    labels = {code: label for code, label, _q in services.cards_for(patient)}
    for session in sessions:
        session.patient_sort = services.sort_of(session, Voice.PATIENT)
        session.practitioner_sort = services.sort_of(session, Voice.PRACTITIONER)
        session.compared = services.both_submitted(session)
        if session.compared:
            session.patient_now = [labels.get(c, c) for c in session.patient_sort.piles()["now"]]
    return render(request, "planning/priorities.html", {
        "patient": patient, "sessions": sessions,
        "can_change": request.access_role in CHANGES_RECORDS,
    })


@require_POST
def start(request, patient_id):
    session = services.start_session(Actor.of(request), request.patient)
    messages.success(request, "A new priority sort has started. You and the patient each sort "
                     "the cards on your own; you compare once both have finished.")
    return redirect("patients:sort-session", patient_id=request.patient.pk, session_id=session.pk)


def session(request, patient_id, session_id):
    found = _session(request, session_id)
    return render(request, "planning/session.html", {
        "patient": request.patient, "session": found,
        "patient_sort": services.sort_of(found, Voice.PATIENT),
        "practitioner_sort": services.sort_of(found, Voice.PRACTITIONER),
        "can_change": request.access_role in CHANGES_RECORDS,
        "discussion_form": DiscussionForm(initial={"discussion": found.discussion}),
        **services.comparison_view(found),
    })


def sort(request, patient_id, session_id, voice):
    """The practitioner's own sort, or the patient's, on this screen handed over to them."""
    if voice not in Voice.values:
        raise Http404("No such sort.")
    found = _session(request, session_id)
    existing = services.sort_of(found, voice)
    if existing is not None and existing.submitted:
        messages.info(request, "This sort has been submitted and can no longer change.")
        return redirect("patients:sort-session", patient_id=request.patient.pk,
                        session_id=found.pk)
    if voice == Voice.PATIENT and existing is not None and not existing.handed_over:
        messages.info(request, f"{request.patient.name} has started sorting in the portal; "
                      "their sort stays private there until you have both submitted.")
        return redirect("patients:sort-session", patient_id=request.patient.pk,
                        session_id=found.pk)
    cards = services.cards_for(request.patient)
    form = SortForm(posted(request), cards=cards,
                    entries=existing.cards if existing else ())
    if request.method == "POST":
        submitting = request.POST.get("action") == "submit"
        if form.check_complete() if submitting else form.is_valid():
            services.save_sort(Actor.of(request), found, voice, form.entries(), submit=submitting,
                               handed_over=voice == Voice.PATIENT)
            messages.success(request, "Sort submitted." if submitting else "Sort saved.")
            return redirect("patients:sort-session", patient_id=request.patient.pk,
                            session_id=found.pk)
    return render(request, "planning/sort.html", {
        "patient": request.patient, "session": found, "form": form,
        "voice": voice, "handed_over": voice == Voice.PATIENT,
        "back": ("patients:sort-session", request.patient.pk, found.pk),
    })


@require_POST
def discussion(request, patient_id, session_id):
    found = _session(request, session_id)
    form = DiscussionForm(request.POST)
    if not services.both_submitted(found):
        messages.error(request, "Compare and discuss once both sorts are submitted.")
    elif form.is_valid():
        services.save_discussion(Actor.of(request), found, form.cleaned_data["discussion"])
        messages.success(request, "Discussion saved.")
    else:
        messages.error(request, "The discussion is longer than 5,000 characters; "
                       "it was not saved.")
    return redirect("patients:sort-session", patient_id=request.patient.pk, session_id=found.pk)


def goals(request, patient_id):
    patient = request.patient
    return render(request, "planning/goals.html", {
        "patient": patient, "goals": services.goals_of(patient),
        "can_change": request.access_role in CHANGES_RECORDS,
    })


def goal_form(request, patient_id, goal_id=None):
    patient = request.patient
    goal = get_object_or_404(Goal, pk=goal_id, patient=patient) if goal_id else None
    cards = services.cards_for(patient)
    sort_session = None
    initial = {}
    if goal is None:
        chosen = request.GET.get("from", "")
        sort_session = SortSession.objects.filter(pk=chosen, patient=patient).first() if (
            _is_uuid(chosen)) else None
        initial = {"card": request.GET.get("card"), "proposed_by": "both"}
    form = GoalForm(request.POST or None, instance=goal, cards=cards, patient=patient,
                    initial=initial)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                actor = Actor.of(request)
                services.save_goal(actor, patient, form, sort_session=sort_session)
                care_plan.goals_changed(actor, patient)  # goals are part of the plan
        except versioning.Stale as refused:
            # Keep everything typed; the next save knowingly replaces the newer version.
            stale = refused
            form = versioning.form_again(request, lambda data, instance: GoalForm(
                data, instance=instance, cards=cards, patient=patient), refused)
        else:
            messages.success(request, "Goal saved.")
            return redirect("patients:goals", patient_id=patient.pk)
    return render(request, "planning/goal_form.html", {
        "patient": patient, "form": form, "goal": goal, "stale": stale,
    })


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _plan(request) -> CarePlan:
    plan = care_plan.current_plan(request.patient)
    if plan is None:
        raise Http404("No recovery plan yet.")
    return plan


def plan(request, patient_id):
    patient = request.patient
    found = care_plan.current_plan(patient)
    context = {"patient": patient, "plan": found,
               "can_change": request.access_role in CHANGES_RECORDS}
    if found is not None:
        versions = list(found.versions.select_related(
            "created_by", "patient_signed_by", "practitioner_signed_by"))
        latest = versions[-1] if versions else None
        context |= {
            "goals": care_plan.plan_goals(patient),
            "actions": found.actions.select_related("goal", "provider__user"),
            "versions": versions, "latest": latest,
            "lines": care_plan.lines(latest.snapshot) if latest else [],
            "proposals": found.proposals.select_related("created_by", "responded_by"),
            "reviews": found.reviews.all(),
            "response_form": ResponseForm(),
            "review_overdue": found.review_date < timezone.localdate(),
        }
    return render(request, "planning/plan.html", context)


def plan_form(request, patient_id):
    """Create the plan, or change its review date and status."""
    patient = request.patient
    found = care_plan.current_plan(patient)
    initial = {} if found else {"review_date": care_plan.default_review_date()}
    form = CarePlanForm(request.POST or None, instance=found, initial=initial)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            care_plan.save_plan(Actor.of(request), patient, form)
        except versioning.Stale as refused:
            stale, form = refused, versioning.form_again(
                request, lambda data, instance: CarePlanForm(data, instance=instance), refused)
        else:
            messages.success(request, "Plan saved.")
            return redirect("patients:plan", patient_id=patient.pk)
    return render(request, "planning/plan_form.html",
                  {"patient": patient, "form": form, "plan": found, "stale": stale})


def action_form(request, patient_id, action_id=None):
    patient = request.patient
    found = _plan(request)
    action = get_object_or_404(PlanAction, pk=action_id, plan=found) if action_id else None
    form = ActionForm(request.POST or None, instance=action, patient=patient)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            care_plan.save_action(Actor.of(request), found, form)
        except versioning.Stale as refused:
            stale, form = refused, versioning.form_again(
                request, lambda data, instance: ActionForm(data, instance=instance,
                                                           patient=patient), refused)
        else:
            messages.success(request, "Action saved.")
            return redirect("patients:plan", patient_id=patient.pk)
    return render(request, "planning/action_form.html", {
        "patient": patient, "form": form, "action": action, "stale": stale})


@require_POST
def sign(request, patient_id):
    found = _plan(request)
    care_plan.sign(Actor.of(request), found, as_patient=False)
    messages.success(request, "You signed this version of the plan.")
    return redirect("patients:plan", patient_id=request.patient.pk)


def difference(request, patient_id):
    found = _plan(request)
    versions = {v.number: v for v in found.versions.all()}
    try:
        older, newer = (versions[int(request.GET.get(k, ""))] for k in ("from", "to"))
    except (KeyError, ValueError):
        messages.error(request, "Choose two versions of the plan to compare.")
        return redirect("patients:plan", patient_id=request.patient.pk)
    return render(request, "planning/difference.html", {
        "patient": request.patient, "older": older, "newer": newer,
        "lines": care_plan.difference(older, newer)})


@require_POST
def respond(request, patient_id, proposal_id):
    found = _plan(request)
    proposal = get_object_or_404(PlanProposal, pk=proposal_id, plan=found)
    form = ResponseForm(request.POST)
    if form.is_valid():
        care_plan.respond(Actor.of(request), proposal, form.cleaned_data["status"],
                          form.cleaned_data["response"])
        messages.success(request, "Answer saved; the patient sees it in the portal.")
    else:
        messages.error(request, "Choose an answer to the patient's proposal.")
    return redirect("patients:plan", patient_id=request.patient.pk)


def printable(request, patient_id, pdf=False):
    return printable_plan(request, _plan(request),
                          f"recovery-plan-{request.patient.service_id}.pdf", pdf)


def review_form(request, patient_id):
    patient = request.patient
    found = _plan(request)
    goals = care_plan.plan_goals(patient)
    form = ReviewForm(request.POST or None, goals=goals, patient=patient, initial={
        "held_on": timezone.localdate(),
        "next_review": care_plan.default_review_date()})
    if request.method == "POST" and form.is_valid():
        review = care_plan.hold_review(Actor.of(request), found, form)
        messages.success(request, "Review saved. Change goals and actions below if the review "
                         "revised them; each change is kept as a new version of the plan.")
        return redirect("patients:review", patient_id=patient.pk, review_id=review.pk)
    return render(request, "planning/review_form.html",
                  {"patient": patient, "form": form, "plan": found,
                   "panels": review_panels(patient, None)})


def review(request, patient_id, review_id):
    found = _plan(request)
    held = get_object_or_404(Review.objects.select_related("created_by"), pk=review_id,
                             plan__patient=request.patient)
    ratings = list(held.ratings.select_related("goal"))
    for rating in ratings:
        texts = dict(rating.goal.gas_levels())
        rating.patient_text = texts.get(rating.patient_level, "")
        rating.practitioner_text = texts.get(rating.practitioner_level, "")
    return render(request, "planning/review.html", {
        "patient": request.patient, "plan": found, "review": held, "ratings": ratings,
        "can_change": request.access_role in CHANGES_RECORDS,
        "panels": review_panels(request.patient, held)})


def review_panels(patient, review) -> list[dict]:
    """What the apps above planning add to a review's page (events.review_opened)."""
    sent = events.review_opened.send(Review, patient=patient, review=review)
    return [panel for _receiver, panel in sent if panel]
