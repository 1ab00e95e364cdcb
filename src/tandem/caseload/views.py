"""Staff pages that bring together what every app keeps about a patient: who needs me today
(the caseload, sorted by need) and one patient's summary. This app sits above the clinical
apps, so it may read them all; the permission layer already decided access."""

import datetime

from django.core.paginator import Page, Paginator
from django.shortcuts import render
from django.utils import timezone

from tandem.accounts.models import Role, Team
from tandem.accounts.permissions import CHANGES_RECORDS, staff_teams, team_ids
from tandem.assessment.results import due_context
from tandem.caseload import entries, html, summary
from tandem.caseload.forms import CaseloadFilterForm
from tandem.core.flags import SEVERITY_ORDER
from tandem.monitoring import timeline
from tandem.monitoring.services import open_flags
from tandem.outbox.models import Message
from tandem.outbox.models import Status as MessageStatus
from tandem.patients.models import CareRole, CareTeamMember, EpisodeStatus

PAGE_SIZE = 25
STATUS_LABELS = dict(EpisodeStatus.choices)
ROLE_LABELS = dict(CareRole.choices)


def patient_list(request):
    """Who needs me today: the caseload sorted by need, with filters and counts; a team lead
    also sees each keyworker's load."""
    sort = request.GET.get("sort", "need")
    sort = sort if sort in entries.SORTS else "need"
    form = CaseloadFilterForm(request.GET or None, teams=_teams_for(request.user))
    filters = form.filters() if form.is_valid() else entries.Filters()
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    rows, counts = entries.caseload(request.user, filters, sort=sort, limit=PAGE_SIZE,
                                           offset=(number - 1) * PAGE_SIZE)
    paginator = Paginator([], PAGE_SIZE)
    paginator.count = counts["total"]  # the statement counted them all already
    if not rows and number > paginator.num_pages:  # past the end: show the last page
        number = paginator.num_pages
        rows, _ = entries.caseload(request.user, filters, sort=sort, limit=PAGE_SIZE,
                                          offset=(number - 1) * PAGE_SIZE)
    page = Page(rows, number, paginator)
    request.shown_patients = [row.id for row in rows]  # each is audited (permissions.LISTS)
    entries.with_reasons(rows)
    for row in rows:
        row.status_label = STATUS_LABELS.get(row.episode_status, "No episode")
        row.role_label = ROLE_LABELS.get(row.my_care_role, "Team lead")
    lead_teams = team_ids(request.user, Role.TEAM_LEAD)
    loads = (entries.practitioner_loads(request.user.organisation_id, lead_teams)
             if lead_teams else None)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "caseload/list.html",
        {
            "page": page, "sort": sort, "form": form, "sorts": entries.SORT_LABELS,
            "counts": counts, "rows_html": html.caseload_rows(rows),
            "loads": loads, "loads_html": html.load_rows(loads or ()),
            "query": query.urlencode(),
        },
    )


def _teams_for(user):
    ids = staff_teams(user) | team_ids(user, Role.PRESCRIBER)
    return Team.objects.of(user.organisation_id).filter(pk__in=ids).order_by("name")


UNDELIVERED_WITHIN = datetime.timedelta(days=30)


def patient_detail(request, patient_id):
    """One patient: the summary to read in ten seconds (caseload/summary.py), then what needs
    attention, contact details, episodes, the care team and the latest of the timeline."""
    patient = request.patient
    members = (
        CareTeamMember.objects.filter(care_team__patient=patient)
        .select_related("user")
    )
    today = timezone.localdate()
    episodes = list(patient.episodes.order_by("-start_date"))
    first = {CareRole.KEYWORKER: 0, CareRole.PRESCRIBER: 1}
    members = sorted(members, key=lambda m: (first.get(m.role, 2), m.start_date))
    flags = sorted(open_flags(patient).select_related("acknowledged_by"),
                   key=lambda f: SEVERITY_ORDER[f.severity])
    return render(
        request,
        "caseload/patient.html",
        {
            "patient": patient,
            "episodes": episodes,
            "current_members": [m for m in members if m.is_active_on(today)],
            "past_members": [m for m in members if not m.is_active_on(today)],
            # The permission layer already worked out the access role for this request.
            "can_change": request.access_role in CHANGES_RECORDS,
            "flags": flags,
            "summary": summary.gather(patient, open_flags=flags, today=today),
            "events": timeline.events(patient, limit=12),
            # Messages that did not reach them lately: check the number or address.
            "undelivered": list(Message.objects.filter(
                patient=patient, status=MessageStatus.FAILED,
                created_at__gte=timezone.now() - UNDELIVERED_WITHIN).order_by("-created_at")[:3]),
            "in_monitoring": any(e.status == EpisodeStatus.MONITORING for e in episodes),
            **due_context(patient),
        },
    )
