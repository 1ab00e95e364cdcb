"""Staff pages for patients. Access was already decided by the permission layer; the patient
the URL names is on `request.patient`."""

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from tandem.accounts.models import Role, Team
from tandem.accounts.permissions import CHANGES_RECORDS, team_ids
from tandem.assessment.results import due_context
from tandem.monitoring import timeline
from tandem.monitoring.models import SEVERITY_ORDER
from tandem.monitoring.services import open_flags
from tandem.patients import caseload as caseload_query
from tandem.patients import caseload_html, services, versioning
from tandem.patients.forms import (
    CaseloadFilterForm,
    EndMemberForm,
    EpisodeForm,
    MemberForm,
    NewEpisodeForm,
    PatientForm,
)
from tandem.patients.models import CareRole, CareTeamMember, Episode, EpisodeStatus

PAGE_SIZE = 25
STATUS_LABELS = dict(EpisodeStatus.choices)
ROLE_LABELS = dict(CareRole.choices)


def patient_list(request):
    """Who needs me today: the caseload sorted by need, with filters and counts; a team lead
    also sees each keyworker's load."""
    sort = request.GET.get("sort", "need")
    sort = sort if sort in caseload_query.SORTS else "need"
    form = CaseloadFilterForm(request.GET or None, teams=_teams_for(request.user))
    filters = form.filters() if form.is_valid() else caseload_query.Filters()
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    rows, counts = caseload_query.caseload(request.user, filters, sort=sort, limit=PAGE_SIZE,
                                           offset=(number - 1) * PAGE_SIZE)
    paginator = Paginator([], PAGE_SIZE)
    paginator.count = counts["total"]  # the statement counted them all already
    if not rows and number > paginator.num_pages:  # past the end: show the last page
        number = paginator.num_pages
        rows, _ = caseload_query.caseload(request.user, filters, sort=sort, limit=PAGE_SIZE,
                                          offset=(number - 1) * PAGE_SIZE)
    page = Page(rows, number, paginator)
    request.shown_patients = [row.id for row in rows]  # each is audited (permissions.LISTS)
    caseload_query.with_reasons(rows)
    for row in rows:
        row.status_label = STATUS_LABELS.get(row.episode_status, "No episode")
        row.role_label = ROLE_LABELS.get(row.my_care_role, "Team lead")
    lead_teams = team_ids(request.user, Role.TEAM_LEAD)
    loads = (caseload_query.practitioner_loads(request.user.organisation_id, lead_teams)
             if lead_teams else None)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "patients/list.html",
        {
            "page": page, "sort": sort, "form": form, "sorts": caseload_query.SORT_LABELS,
            "counts": counts, "rows_html": caseload_html.caseload_rows(rows),
            "loads": loads, "loads_html": caseload_html.load_rows(loads or ()),
            "query": query.urlencode(),
        },
    )


def _teams_for(user):
    ids = staff_teams(user) | team_ids(user, Role.PRESCRIBER)
    return Team.objects.filter(organisation_id=user.organisation_id, pk__in=ids).order_by("name")


def patient_detail(request, patient_id):
    patient = request.patient
    members = (
        CareTeamMember.objects.filter(care_team__patient=patient)
        .select_related("user")
    )
    today = timezone.localdate()
    episodes = list(patient.episodes.order_by("-start_date"))
    first = {CareRole.KEYWORKER: 0, CareRole.PRESCRIBER: 1}
    members = sorted(members, key=lambda m: (first.get(m.role, 2), m.start_date))
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "episodes": episodes,
            "current_members": [m for m in members if m.is_active_on(today)],
            "past_members": [m for m in members if not m.is_active_on(today)],
            # The permission layer already worked out the access role for this request.
            "can_change": request.access_role in CHANGES_RECORDS,
            "flags": sorted(open_flags(patient), key=lambda f: SEVERITY_ORDER[f.severity]),
            "events": timeline.events(patient, limit=12),
            "in_monitoring": any(e.status == EpisodeStatus.MONITORING for e in episodes),
            **due_context(patient),
        },
    )


def staff_teams(user):
    return team_ids(user, Role.PRACTITIONER) | team_ids(user, Role.TEAM_LEAD)


@transaction.atomic
def patient_new(request):
    form = PatientForm(
        request.POST or None,
        organisation=request.user.organisation,
        teams=staff_teams(request.user),
    )
    born = form.cleaned_data["date_of_birth"] if form.is_valid() else None
    episode_form = NewEpisodeForm(request.POST or None, prefix="episode", born=born)
    if request.method == "POST" and form.is_valid() and episode_form.is_valid():
        patient = services.register_patient(request, form, episode_form)
        messages.success(request, f"Registered {patient.name}.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/new.html", {"form": form, "episode_form": episode_form})


def _save_versioned(request, patient, form, make_form):
    """Save the form; None when saved. If someone else saved the record since the form was
    opened, nothing is saved: (the form again with everything typed, now carrying the current
    version; what changed) for the page to show."""
    try:
        services.save_changes(request, patient, form)
    except versioning.Stale as stale:
        return versioning.form_again(request, make_form, stale), stale
    return None


@transaction.atomic
def patient_edit(request, patient_id):
    patient = request.patient
    teams = staff_teams(request.user) | {patient.team_id}

    def make_form(data, instance):
        return PatientForm(data, instance=instance, organisation=request.user.organisation,
                           teams=teams)

    form, stale = make_form(request.POST or None, patient), None
    if request.method == "POST" and form.is_valid():
        if (refused := _save_versioned(request, patient, form, make_form)) is None:
            messages.success(request, "Details saved.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(request, "patients/edit.html",
                  {"form": form, "patient": stale.current if stale else patient,
                   "stale": stale})


@transaction.atomic
def episode_new(request, patient_id):
    patient = request.patient
    form = NewEpisodeForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        services.start_episode(request, patient, form)
        messages.success(request, "New episode started.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/episode_new.html", {"form": form, "patient": patient})


@transaction.atomic
def episode_edit(request, patient_id, episode_id):
    patient = request.patient
    episode = get_object_or_404(Episode, pk=episode_id, patient=patient)

    def make_form(data, instance):
        return EpisodeForm(data, instance=instance)

    form, stale = make_form(request.POST or None, episode), None
    if request.method == "POST" and form.is_valid():
        if (refused := _save_versioned(request, patient, form, make_form)) is None:
            messages.success(request, "Episode saved.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(
        request, "patients/episode_edit.html",
        {"form": form, "patient": patient, "episode": stale.current if stale else episode,
         "stale": stale},
    )


@transaction.atomic
def member_new(request, patient_id):
    patient = request.patient
    form = MemberForm(request.POST or None, organisation=patient.organisation, patient=patient)
    if request.method == "POST" and form.is_valid():
        member = services.add_member(request, patient, form)
        messages.success(request, f"Added {member.person_name} to the care team.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/member_new.html", {"form": form, "patient": patient})


@transaction.atomic
def member_end(request, patient_id, member_id):
    patient = request.patient
    member = get_object_or_404(
        CareTeamMember.objects.select_related("user"), pk=member_id, care_team__patient=patient
    )
    form, stale = EndMemberForm(request.POST or None, instance=member), None
    if request.method == "POST" and form.is_valid():
        refused = _save_versioned(request, patient, form,
                                  lambda data, instance: EndMemberForm(data, instance=instance))
        if refused is None:
            messages.success(request, f"{member.person_name} has left the care team.")
            return redirect("patients:detail", patient_id=patient.pk)
        form, stale = refused
    return render(request, "patients/member_end.html",
                  {"form": form, "patient": patient, "member": member, "stale": stale})

