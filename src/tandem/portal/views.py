"""The patient's own pages. The permission layer put the patient's record on request.patient."""

from django.shortcuts import render
from django.utils import timezone

from tandem.assessment.results import results_for
from tandem.assessment.schedules import checkup_status
from tandem.patients.models import CareTeamMember, active_membership
from tandem.portal import home as pieces
from tandem.portal.accesses import LATELY_DAYS, WINDOW_DAYS, people_lately, who_looked, window_end


def _care_team(patient, today):
    return list(
        CareTeamMember.objects.filter(active_membership(today), care_team__patient=patient)
        .select_related("user")
        .order_by("role")
    )


def home(request):
    """My recovery: my next check-up, what is waiting for me, my goals, my plan's next steps,
    how I am doing, my care team, and how many people looked at my record lately."""
    patient = request.patient
    today = timezone.localdate()
    plan = pieces.my_plan(patient)
    waiting = (pieces.sorts_to_do(patient) + pieces.plan_waiting(plan)
               + pieces.report_waiting(patient, plan))
    if pieces.on_medication(request):
        waiting += pieces.medication_waiting(patient)
    return render(request, "portal/home.html", {
        "patient": patient,
        "episode": patient.episodes.order_by("-start_date").first(),
        "checkup": pieces.next_checkup(checkup_status(patient, today)),
        "waiting": waiting,
        "goals": pieces.my_goals(patient),
        "plan": plan,
        "doing": pieces.how_i_am_doing(results_for(patient), patient.sex_for_thresholds),
        "care_team": _care_team(patient, today),
        "people_lately": people_lately(patient),
        "lately_days": LATELY_DAYS,
    })


def record_access(request):
    """Who has looked at my record: everyone but me, a row per person per day."""
    patient = request.patient
    today = timezone.localdate()
    care_team = _care_team(patient, today)
    accesses = who_looked(
        patient, until=window_end(request.GET.get("until"), today),
        page_number=request.GET.get("page"),
        care_roles={m.user_id: m.get_role_display().lower() for m in care_team if m.user_id})
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "portal/record_access.html", {
        "patient": patient, "accesses": accesses, "page": accesses.page,
        "query": query.urlencode(), "window_days": WINDOW_DAYS,
    })
