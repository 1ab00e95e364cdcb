"""The patient's own pages. The permission layer put the patient's record on request.patient."""

from django.shortcuts import render
from django.utils import timezone

from tandem.assessment.results import due_context
from tandem.patients.models import CareTeamMember, active_membership
from tandem.portal.accesses import WINDOW_DAYS, who_looked, window_end


def home(request):
    patient = request.patient
    today = timezone.localdate()
    care_team = list(
        CareTeamMember.objects.filter(active_membership(today), care_team__patient=patient)
        .select_related("user")
        .order_by("role")
    )
    # Who looked at or changed my record: everyone but me, a row per person per day.
    accesses = who_looked(
        patient, until=window_end(request.GET.get("until"), today),
        page_number=request.GET.get("page"),
        care_roles={m.user_id: m.get_role_display().lower() for m in care_team if m.user_id})
    query = request.GET.copy()
    query.pop("page", None)
    episode = patient.episodes.order_by("-start_date").first()
    return render(
        request,
        "portal/home.html",
        {"patient": patient, "care_team": care_team, "accesses": accesses,
         "page": accesses.page, "query": query.urlencode(), "window_days": WINDOW_DAYS,
         "episode": episode, **due_context(patient)},
    )
