"""The staff caseload, "who needs me today": a fixed number of SQL queries whatever its size.

Each patient gets a *need* from their data, and the default order is by need:

    0-3  an open flag (urgent, high, medium, low: its most severe one)
    4    a care-plan review or a check-up overdue
    5    the current plan version waiting for a signature
    6    everyone else
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from tandem.accounts.permissions import visible_patients
from tandem.monitoring.models import SEVERITY_ORDER, Flag, FlagStatus
from tandem.patients.models import CareRole, CareTeamMember, Episode, active_membership

SORTS = {
    "need": ("need", "flag_count_desc", "checkup_due", "family_name", "given_name"),
    "name": ("family_name", "given_name", "service_id"),
    "-name": ("-family_name", "-given_name", "-service_id"),
    "service_id": ("service_id",),
    "status": ("episode_status", "family_name", "given_name"),
    "start": ("-episode_start", "family_name"),
}
SORT_LABELS = {
    "need": "Who needs me most",
    "name": "Name (A–Z)",
    "-name": "Name (Z–A)",
    "service_id": "Service ID",
    "status": "Episode status",
    "start": "Most recent episode",
}
OPEN_PLANS = ("draft", "active", "on-hold")
NEED_LABELS = {0: "Urgent", 1: "High", 2: "Medium", 3: "Low", 4: "Overdue",
               5: "Awaiting signature", 6: ""}


def severity_rank():
    return Case(*[When(severity=s, then=Value(n)) for s, n in SEVERITY_ORDER.items()],
                output_field=IntegerField())


@dataclass(frozen=True)
class Filters:
    search: str = ""
    team: int | None = None
    status: str = ""  # episode status
    rule: str = ""  # flag rule


def caseload(user, filters: Filters | None = None, *, sort: str = "need",
             today: datetime.date | None = None):
    from tandem.planning.models import CarePlan, PlanVersion

    filters = filters or Filters()
    today = today or timezone.localdate()
    latest = Episode.objects.filter(patient=OuterRef("pk")).order_by("-start_date")
    my_role = CareTeamMember.objects.filter(
        active_membership(today), care_team__patient=OuterRef("pk"), user=user
    ).order_by("start_date")
    open_flags = Flag.objects.filter(patient=OuterRef("pk"), status=FlagStatus.ACTIVE)
    plans = CarePlan.objects.filter(patient=OuterRef("pk"), status__in=OPEN_PLANS)
    unsigned = PlanVersion.objects.filter(
        plan__patient=OuterRef("pk"), plan__status__in=OPEN_PLANS
    ).order_by("-plan__created_at", "-number").annotate(
        waiting=Case(When(Q(patient_signed_at__isnull=True)
                          | Q(practitioner_signed_at__isnull=True), then=Value(True)),
                     default=Value(False), output_field=BooleanField()))
    qs = (
        visible_patients(user)
        .select_related("team")
        .annotate(
            episode_status=Subquery(latest.values("status")[:1]),
            episode_start=Subquery(latest.values("start_date")[:1]),
            my_care_role=Subquery(my_role.values("role")[:1]),
            flag_rank=Subquery(open_flags.annotate(rank=severity_rank())
                               .order_by("rank").values("rank")[:1]),
            flag_count=Coalesce(Subquery(open_flags.order_by().values("patient")
                                         .annotate(n=Count("pk")).values("n")[:1]), 0),
            review_due=Subquery(plans.order_by("-created_at").values("review_date")[:1]),
            checkup_due=F("checkup_schedule__next_due"),
            awaiting_signature=Coalesce(Subquery(unsigned.values("waiting")[:1]), False),
        )
    )
    qs = qs.annotate(
        review_overdue=Case(When(review_due__lt=today, then=Value(True)), default=Value(False),
                            output_field=BooleanField()),
        checkup_overdue=Case(When(checkup_due__lt=today,
                                  episode_status__in=["active", "post-exit-monitoring"],
                                  then=Value(True)),
                             default=Value(False), output_field=BooleanField()),
    )
    qs = qs.annotate(
        need=Case(
            When(flag_rank__isnull=False, then="flag_rank"),
            When(Q(review_overdue=True) | Q(checkup_overdue=True), then=Value(4)),
            When(awaiting_signature=True, then=Value(5)),
            default=Value(6), output_field=IntegerField()),
        flag_count_desc=-1 * Coalesce("flag_count", 0),
    )
    search = filters.search.strip()
    if search:
        qs = qs.filter(
            Q(family_name__icontains=search)
            | Q(given_name__icontains=search)
            | Q(preferred_name__icontains=search)
            | Q(service_id__icontains=search)
        )
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.status:
        qs = qs.filter(episode_status=filters.status)
    if filters.rule:
        qs = qs.filter(Exists(Flag.objects.filter(patient=OuterRef("pk"),
                                                  status=FlagStatus.ACTIVE, rule=filters.rule)))
    order = SORTS.get(sort, SORTS["need"])
    if sort != "need":
        # Anyone with an open urgent alert comes first, whatever the sort.
        qs = qs.annotate(urgent_first=Case(When(flag_rank=0, then=Value(0)), default=Value(1),
                                           output_field=IntegerField()))
        order = ("urgent_first", *order)
    return qs.order_by(*order)


def with_reasons(page) -> None:
    """Load the open flags of one page of patients (one query) and say why each row is there."""
    patients = list(page)
    flags = {}
    for flag in (Flag.objects.filter(patient__in=patients, status=FlagStatus.ACTIVE)
                 .order_by("raised_at")):
        flags.setdefault(flag.patient_id, []).append(flag)
    for p in patients:
        p.open_flags = sorted(flags.get(p.pk, []), key=lambda f: SEVERITY_ORDER[f.severity])
        p.urgent = p.flag_rank == 0
        p.need_label = NEED_LABELS.get(p.need, "")
        reasons = [f"{f.rule_title}: {f.evidence}" for f in p.open_flags]
        if p.review_overdue:
            reasons.append(f"Care-plan review overdue since {p.review_due:%-d %B %Y}.")
        if p.checkup_overdue:
            reasons.append(f"Check-up overdue since {p.checkup_due:%-d %B %Y}.")
        if p.awaiting_signature:
            reasons.append("The latest care-plan version is waiting for a signature.")
        p.reasons = reasons


def counts(qs) -> dict:
    """The figures at the top of the caseload (one query)."""
    return qs.order_by().aggregate(
        total=Count("pk"),
        urgent=Count("pk", filter=Q(flag_rank=0)),
        flagged=Count("pk", filter=Q(flag_rank__isnull=False)),
        overdue=Count("pk", filter=Q(review_overdue=True) | Q(checkup_overdue=True)),
        unsigned=Count("pk", filter=Q(awaiting_signature=True)),
    )


def practitioner_loads(team_ids, today: datetime.date | None = None) -> list[dict]:
    """Each keyworker's load in these teams (one query): patients, with open flags, overdue."""
    today = today or timezone.localdate()
    flagged = Flag.objects.filter(patient=OuterRef("care_team__patient"),
                                  status=FlagStatus.ACTIVE)
    urgent = flagged.filter(severity="urgent")
    return list(
        CareTeamMember.objects.filter(
            active_membership(today), role=CareRole.KEYWORKER, user__isnull=False,
            care_team__patient__team_id__in=team_ids,
        )
        .annotate(has_flag=Exists(flagged), has_urgent=Exists(urgent),
                  overdue=Q(care_team__patient__checkup_schedule__next_due__lt=today))
        .values("user_id", "user__first_name", "user__last_name")
        .annotate(patients=Count("care_team__patient", distinct=True),
                  flagged=Count("care_team__patient", filter=Q(has_flag=True), distinct=True),
                  urgent=Count("care_team__patient", filter=Q(has_urgent=True), distinct=True),
                  overdue=Count("care_team__patient", filter=Q(overdue=True), distinct=True))
        .order_by("-patients", "user__last_name")
    )
