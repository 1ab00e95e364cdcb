"""The patient's own priority sorts in the portal."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render

from tandem.assessment.forms import posted
from tandem.planning import services
from tandem.planning.forms import SortForm
from tandem.planning.models import SortSession, Voice


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
            services.save_sort(request, found, Voice.PATIENT, form.entries(), submit=submitting)
            messages.success(request, "Thank you: your priorities are sent." if submitting
                             else "Saved. You can come back to it.")
            return redirect("portal:priorities")
    return render(request, "planning/sort.html", {
        "session": found, "form": form, "voice": Voice.PATIENT, "portal": True,
    })


def goals(request):
    return render(request, "planning/portal_goals.html",
                  {"goals": services.goals_of(request.patient)})
