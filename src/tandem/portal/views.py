"""The patient's own pages. The permission layer put the patient's record on request.patient."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from tandem.assessment.results import due_context
from tandem.audit.models import AuditEvent
from tandem.patients.models import CareTeamMember, active_membership

ROLE_WORDS = {
    "practitioner": "Keyworker or practitioner",
    "prescriber": "Prescriber",
    "team_lead": "Team lead",
    "patient": "You",
}


def home(request):
    patient = request.patient
    care_team = (
        CareTeamMember.objects.filter(
            active_membership(timezone.localdate()), care_team__patient=patient
        )
        .select_related("user")
        .order_by("role")
    )
    # Who looked at or changed my record: everyone but me.
    accesses = (
        AuditEvent.objects.filter(patient=patient)
        .exclude(actor=request.user)
        .select_related("actor")
        .order_by("-occurred_at")
    )
    page = Paginator(accesses, 20).get_page(request.GET.get("page"))
    for event in page:
        event.who = event.actor.display_name if event.actor else "Tandem"
        event.as_role = ROLE_WORDS.get(event.role, event.role.replace("_", " ").capitalize())
    episode = patient.episodes.order_by("-start_date").first()
    return render(
        request,
        "portal/home.html",
        {"patient": patient, "care_team": care_team, "page": page, "episode": episode,
         **due_context(patient)},
    )
