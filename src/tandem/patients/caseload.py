"""The staff caseload query: a fixed number of SQL queries whatever the caseload size."""

from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from tandem.accounts.permissions import visible_patients
from tandem.monitoring.models import Flag, FlagStatus, Severity
from tandem.patients.models import CareTeamMember, Episode, active_membership

SORTS = {
    "name": ("family_name", "given_name", "service_id"),
    "-name": ("-family_name", "-given_name", "-service_id"),
    "service_id": ("service_id",),
    "status": ("episode_status", "family_name", "given_name"),
    "start": ("-episode_start", "family_name"),
}


def caseload(user, *, search: str = "", sort: str = "name"):
    latest = Episode.objects.filter(patient=OuterRef("pk")).order_by("-start_date")
    my_role = CareTeamMember.objects.filter(
        active_membership(timezone.localdate()), care_team__patient=OuterRef("pk"), user=user
    ).order_by("start_date")
    qs = (
        visible_patients(user)
        .select_related("team")
        .annotate(
            episode_status=Subquery(latest.values("status")[:1]),
            episode_start=Subquery(latest.values("start_date")[:1]),
            my_care_role=Subquery(my_role.values("role")[:1]),
            urgent=Exists(Flag.objects.filter(
                patient=OuterRef("pk"), status=FlagStatus.ACTIVE, severity=Severity.URGENT)),
        )
    )
    search = search.strip()
    if search:
        qs = qs.filter(
            Q(family_name__icontains=search)
            | Q(given_name__icontains=search)
            | Q(preferred_name__icontains=search)
            | Q(service_id__icontains=search)
        )
    # Anyone with an open urgent alert comes first, whatever the sort.
    return qs.order_by("-urgent", *SORTS.get(sort, SORTS["name"]))
