"""The patient's own priorities, goals and recovery plan in the portal."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from tandem.assessment.forms import posted
from tandem.audit.actor import Actor
from tandem.planning import care_plan, services
from tandem.planning.forms import ProposalForm, SortForm
from tandem.planning.models import SortSession, Voice
from tandem.planning.printing import printable_plan


def priorities(request):
    sessions = list(request.patient.sort_sessions.prefetch_related("sorts"))
    for session in sessions:
        session.mine = services.sort_of(session, Voice.PATIENT)
        session.compared = services.both_submitted(session)
    return render(request, "planning/portal_priorities.html", {"sessions": sessions})


def sort(request, session_id):
    found = get_object_or_404(SortSession.objects.prefetch_related("sorts"), pk=session_id,
                              patient=request.patient)
    mine = services.sort_of(found, Voice.PATIENT)
    if mine is not None and mine.submitted:
        return render(request, "planning/portal_compare.html", {
            "session": found, "mine": mine, **services.comparison_view(found)})
    cards = services.cards_for(request.patient)
    form = SortForm(posted(request), cards=cards, entries=mine.cards if mine else ())
    if request.method == "POST":
        submitting = request.POST.get("action") == "submit"
        if form.check_complete() if submitting else form.is_valid():
            services.save_sort(Actor.of(request), found, Voice.PATIENT, form.entries(),
                               submit=submitting)
            messages.success(request, "Thank you: your priorities are sent." if submitting
                             else "Saved. You can come back to it.")
            return redirect("portal:priorities")
    return render(request, "planning/sort.html", {
        "session": found, "form": form, "voice": Voice.PATIENT, "portal": True,
    })


def goals(request):
    return render(request, "planning/portal_goals.html",
                  {"goals": services.goals_of(request.patient)})


def plan(request):
    return _plan_page(request, care_plan.current_plan(request.patient), ProposalForm())


def _plan_page(request, found, form):
    """My recovery plan: the latest version as the patient signs it, and their proposals."""
    context = {"plan": found, "form": form}
    latest = care_plan.latest_version(found) if found is not None else None
    if latest is not None:
        context |= {"latest": latest, "goals": latest.snapshot["goals"],
                    "actions": latest.snapshot["actions"], "proposals": found.proposals.all()}
    return render(request, "planning/portal_plan.html", context)


@require_POST
def plan_sign(request):
    found = care_plan.current_plan(request.patient)
    if found is None or care_plan.latest_version(found) is None:
        raise Http404("No plan to sign.")
    care_plan.sign(Actor.of(request), found, as_patient=True)
    messages.success(request, "Thank you: you signed your plan.")
    return redirect("portal:plan")


@require_POST
def plan_propose(request):
    found = care_plan.current_plan(request.patient)
    if found is None:
        raise Http404("No plan yet.")
    form = ProposalForm(request.POST)
    if form.is_valid():
        care_plan.propose(Actor.of(request), found, form.cleaned_data["text"])
        messages.success(request, "Sent to your keyworker. Their answer will show here.")
        return redirect("portal:plan")
    return _plan_page(request, found, form)


def plan_print(request, pdf=False):
    found = care_plan.current_plan(request.patient)
    if found is None or care_plan.latest_version(found) is None:
        raise Http404("No plan yet.")
    return printable_plan(request, found, "my-recovery-plan.pdf", pdf)
