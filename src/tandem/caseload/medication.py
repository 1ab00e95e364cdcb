"""The prescriber's list of their patients on medication (/patients/medication/): everyone this
user may see as staff with a current medication plan, in three parts:

1. "Reviews due": the medication review is overdue or due within `DUE_SOON` days (the plan's
   review date, or the service's interval since the last review or the plan's start, as the
   flag rule `core.flags.medication_review_due` reads it), soonest first;
2. "Requests waiting": a dose request waits for the prescriber;
3. everyone else, by name.

Each patient comes once, in the first part that fits them; a row also says when a request
waits or a medication flag is open. A page of rows in a fixed number of queries whatever the
number of patients: the settings, the count, the page, and for the page's patients their
waiting requests and open medication flags.

Tandem is not a prescribing system and produces no prescription: this is a working list.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import (
    Case,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from tandem.core.dosing import mg
from tandem.core.flags import RULES
from tandem.medication import registry as medicines
from tandem.medication.forms import per
from tandem.medication.models import (
    DoseChange,
    DoseRequest,
    MedicationPlan,
    MedicationReview,
    PlanStatus,
    RequestStatus,
    settings_for,
)
from tandem.monitoring.models import Flag, FlagStatus
from tandem.patients.access import visible_patients

PAGE_SIZE = 50
DUE_SOON = 14  # days: a review due within two weeks is listed with the overdue ones
REVIEWS_DUE, REQUESTS_WAITING, EVERYONE_ELSE = 0, 1, 2
SECTIONS = {REVIEWS_DUE: "Reviews due", REQUESTS_WAITING: "Requests waiting",
            EVERYONE_ELSE: "Everyone else on medication"}
# Open flags a prescriber acts on, shown on the row.
FLAG_RULES = ("missed-doses", "ecg-missing", "medication-review-overdue",
              "use-during-reduction", "medication-goal-not-discussed")


@dataclass
class Row:
    plan_id: object
    patient_id: object
    service_id: str
    name: str
    medicine: str
    dose: str  # the dose in force today, in words ("" before the first dose's day)
    review_date: datetime.date
    due: datetime.date  # when the review is due (the plan's date or the service's interval)
    section: int
    url: str = ""
    requests: list[str] = field(default_factory=list)  # waiting requests, in words
    flags: list[str] = field(default_factory=list)  # open medication flags' titles

    @property
    def review_words(self) -> str:
        today = timezone.localdate()
        when = f"{self.due.day} {self.due:%b %Y}"
        if self.due < today:
            return f"Overdue since {when}"
        if self.due == today:
            return "Due today"
        return f"Due {when}" if self.section == REVIEWS_DUE else when


def plans_for(user, today: datetime.date):
    """The current medication plans of the patients this user may see as staff, each with
    its section, the date its review is due, and the dose in force today; in list order."""
    every = settings_for(user.organisation_id).review_every_days
    soon = today + datetime.timedelta(days=DUE_SOON)
    last_review = (MedicationReview.objects.filter(plan=OuterRef("pk"))
                   .order_by("-held_on", "-created_at").values("held_on")[:1])
    dose_now = (DoseChange.objects.filter(plan=OuterRef("pk"), cancelled_at__isnull=True,
                                          day__lte=today)
                .order_by("-day", "-made_at").values("dose")[:1])
    waiting = DoseRequest.objects.filter(plan=OuterRef("pk"), status=RequestStatus.PENDING)
    review_due = (Q(review_date__lte=soon)
                  | Q(since__lte=soon - datetime.timedelta(days=every)))
    interval_due = ExpressionWrapper(F("since") + datetime.timedelta(days=every),
                                     output_field=DateField())
    return (MedicationPlan.objects.of(user.organisation_id)
            .filter(status=PlanStatus.ACTIVE,
                    patient__in=visible_patients(user).values("pk"))
            .annotate(since=Coalesce(Subquery(last_review, output_field=DateField()),
                                     F("started_on")),
                      waiting=Exists(waiting), dose_now=Subquery(dose_now))
            .annotate(section=Case(When(review_due, then=Value(REVIEWS_DUE)),
                                   When(waiting=True, then=Value(REQUESTS_WAITING)),
                                   default=Value(EVERYONE_ELSE), output_field=IntegerField()))
            # Reviews due soonest first: the plan's date or the interval since the last review,
            # whichever comes first (only ordered by, never read back).
            .alias(first_date=Case(When(review_due, then=Least(F("review_date"), interval_due)),
                                   default=Value(None), output_field=DateField()))
            .select_related("patient")
            .only("id", "patient_id", "medicine", "review_date", "started_on",
                  "patient__service_id", "patient__given_name", "patient__family_name",
                  "patient__preferred_name")
            .order_by("section", "first_date", "patient__family_name", "patient__given_name",
                      "patient__service_id", "pk")), every


def _medicine(code: str):
    medicine = medicines.get(code)
    return medicine.name if medicine else code


def _dose(code: str, dose) -> str:
    """"60 mg a day"; "128 mg every 28 days" for a monthly injection (medication.forms.per)."""
    medicine = medicines.get(code)
    return f"{mg(dose)} {per(medicine) if medicine else 'a day'}"


def _patient_link(patient_id) -> str:
    try:
        return reverse("patients:medication", args=[patient_id])
    except NoReverseMatch:  # the medication page not (yet) in this version
        return reverse("patients:detail", args=[patient_id])


def rows_of(plans, every: int) -> list[Row]:
    """The page's rows, with their waiting requests and open medication flags (two queries)."""
    rows = []
    for plan in plans:
        p = plan.patient
        due = min(plan.review_date, plan.since + datetime.timedelta(days=every))
        rows.append(Row(
            plan_id=plan.pk, patient_id=plan.patient_id, service_id=p.service_id,
            name=f"{p.family_name}, {p.preferred_name or p.given_name}",
            medicine=_medicine(plan.medicine),
            dose=_dose(plan.medicine, plan.dose_now) if plan.dose_now is not None else "",
            review_date=plan.review_date, due=due, section=plan.section,
            url=_patient_link(plan.patient_id)))
    by_plan = {r.plan_id: r for r in rows}
    by_patient = {r.patient_id: r for r in rows}
    if not rows:
        return rows
    codes = {plan.pk: plan.medicine for plan in plans}
    for plan_id, dose, from_day in (DoseRequest.objects
                                    .filter(plan_id__in=list(by_plan),
                                            status=RequestStatus.PENDING)
                                    .order_by("asked_at")
                                    .values_list("plan_id", "dose", "from_day")):
        by_plan[plan_id].requests.append(
            f"{_dose(codes[plan_id], dose)} from {from_day.day} {from_day:%b %Y}")
    for patient_id, rule in (Flag.objects.filter(patient_id__in=list(by_patient),
                                                 status=FlagStatus.ACTIVE, rule__in=FLAG_RULES)
                             .order_by("raised_at").values_list("patient_id", "rule")):
        title = RULES[rule].title
        if title not in by_patient[patient_id].flags:
            by_patient[patient_id].flags.append(title)
    return rows


def medication_list(request):
    """My patients on medication: reviews due and requests waiting first."""
    today = timezone.localdate()
    plans, every = plans_for(request.user, today)
    paginator = Paginator(plans, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = rows_of(page.object_list, every)
    request.shown_patients = [r.patient_id for r in rows]  # each is audited (permissions.LISTS)
    sections = []
    for row in rows:
        if not sections or sections[-1][0] != row.section:
            sections.append((row.section, SECTIONS[row.section], []))
        sections[-1][2].append(row)
    return render(request, "caseload/medication_list.html", {
        "page": page, "sections": sections, "due_soon": DUE_SOON, "every": every,
        "query": "",
    })
