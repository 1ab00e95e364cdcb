"""Staff pages for priority sorts. The permission layer put the patient on request.patient."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.assessment.forms import posted
from tandem.planning import care_plan, services
from tandem.planning.forms import DiscussionForm, GoalForm, SortForm
from tandem.planning.models import Goal, SortSession, Voice


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
    session = services.start_session(request, request.patient)
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
            services.save_sort(request, found, voice, form.entries(), submit=submitting,
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
        services.save_discussion(request, found, form.cleaned_data["discussion"])
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
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                services.save_goal(request, patient, form, sort_session=sort_session)
                care_plan.goals_changed(request, patient)  # goals are part of the plan
        except services.Conflict as exc:
            conflict = exc
            # Keep everything typed; the next save knowingly replaces the newer version.
            data = request.POST.copy()
            data["version"] = str(exc.current.version)
            form = GoalForm(data, instance=goal, cards=cards, patient=patient)
            form.is_valid()
        else:
            messages.success(request, "Goal saved.")
            return redirect("patients:goals", patient_id=patient.pk)
    return render(request, "planning/goal_form.html", {
        "patient": patient, "form": form, "goal": goal, "conflict": conflict,
    })


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
