"""What the pharmacy reports: one patient's days (the "patients" namespace, under the patient),
and the pharmacy's file for many patients (the import page).

The permission layer decided access: on the patient's page the patient is on request.patient
(anyone on the care team reads it; the medication team records days); on the import page each
line's patient is checked against the patients the user may see. Every day is written by
`tandem.medication.dispensing`; these views turn its refusals into errors on the named fields,
keeping what was typed.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import Role
from tandem.audit.actor import Actor
from tandem.core.dosing import day_text
from tandem.medication import dispensing, doses
from tandem.medication.dispensing_forms import ImportForm, days_formset
from tandem.medication.models import (
    DispensingSource,
    MedicationPlan,
    PlanStatus,
    Taken,
    settings_for,
)
from tandem.patients.access import visible_patients
from tandem.patients.models import Patient

PER_PAGE = 28  # days on one page of the table: four weeks
REACH = 62  # days read beyond the page's ends, for the runs of missed days crossing them
RECORDERS = (Role.PRACTITIONER, Role.TEAM_LEAD, Role.PRESCRIBER)
NOT_A_PRESCRIPTION = ("Tandem is not a prescribing system: these are the pharmacy's reports, "
                      "kept beside the plan agreed with the patient.")
EXAMPLE = ("patient,date,status\n"
           "T-0001,2026-03-01,supervised\n"
           "T-0001,2026-03-02,home\n"
           "T-0002,2026-03-01,missed\n")


def _plan(request) -> MedicationPlan | None:
    """The plan the page is about: ?plan=<id> of this patient, else the current plan, else the
    latest one."""
    plans = MedicationPlan.objects.filter(patient=request.patient)
    asked = request.GET.get("plan") or request.POST.get("plan")
    if asked:
        try:
            found = plans.filter(pk=asked).first()
        except ValidationError as error:  # not a plan id at all
            raise Http404("No such plan") from error
        if found is None:
            raise Http404("No such plan")
        return found
    return (plans.filter(status=PlanStatus.ACTIVE).order_by("-started_on").first()
            or plans.order_by("-started_on", "-created_at").first())


def _day_rows(plan, days: list[datetime.date], k: int) -> tuple[list[dict], bool]:
    """One row per day of the page, newest first, with what was reported and whether the day
    is in a run of at least `k` missed days (looked for beyond the page's ends too)."""
    reach = datetime.timedelta(days=REACH)
    reports = {r.day: r for r in plan.dispensing_days.filter(
        day__gte=min(days) - reach, day__lte=max(days) + reach).select_related("recorded_by")}
    in_run = {day: len(run) for run in dispensing.runs_in(
        [(r.day, r.status) for r in reports.values()], k) for day in run}
    rows = [{"day": day, "report": reports.get(day), "run": in_run.get(day)} for day in days]
    return rows, any(row["run"] for row in rows)


def page(request, patient_id):
    patient = request.patient
    plan = _plan(request)
    settings = settings_for(patient.organisation_id)
    k = settings.missed_days_for_flag
    can_record = request.access_role in RECORDERS and plan is not None
    formset = days_formset()
    problems: list[str] = []
    if request.method == "POST" and not can_record:
        problems = ["There is no medication plan to record these days against."]
    elif request.method == "POST":
        formset = days_formset(request.POST)
        valid = formset.is_valid()
        if _checked(formset, plan) and valid:  # every row checked, whatever the others
            try:
                n = dispensing.record(Actor.of(request), plan, formset.reports(),
                                      DispensingSource.STAFF)
            except doses.Refused as refused:  # changed meanwhile (the plan stopped)
                problems = [m for ms in refused.reasons.values() for m in ms]
            else:
                messages.success(request, _recorded(n, len(formset.reports())))
                url = reverse("patients:dispensing", args=[patient.pk])
                if plan.status != PlanStatus.ACTIVE:
                    url += f"?plan={plan.pk}"
                return redirect(url)
    context = {"patient": patient, "plan": plan, "formset": formset, "problems": problems,
               "can_record": can_record, "missed_days_for_flag": k,
               "restart_rule": settings.restart_rule, "not_a_prescription": NOT_A_PRESCRIPTION,
               "statuses": Taken}
    if plan is not None:
        today = timezone.localdate()
        last = min(today, dispensing.stopped_on(plan) or today)
        days = [last - datetime.timedelta(days=n)
                for n in range(max((last - plan.started_on).days + 1, 0))]
        shown = Paginator(days, PER_PAGE).get_page(request.GET.get("page"))
        rows, runs_shown = _day_rows(plan, list(shown), k) if days else ([], False)
        run = doses.missed_run(plan)
        context |= {"page": shown, "rows": rows, "run": run, "run_flagged": len(run) >= k,
                    "runs_shown": runs_shown,
                    "query": f"plan={plan.pk}" if plan.status != PlanStatus.ACTIVE else ""}
    return render(request, "medication/dispensing/page.html", context)


def _checked(formset, plan) -> bool:
    """Put the service's reasons for each row on that row's fields; whether there were none."""
    today = timezone.localdate()
    seen: dict[datetime.date, int] = {}
    ok = True
    for n, form in enumerate(formset.forms, start=1):
        report = form.report if hasattr(form, "cleaned_data") else None
        if report is None:
            continue
        day, status = report
        for name, message in dispensing.day_problems(plan, day, status, today):
            form.add_error(name, message)
            ok = False
        if day in seen:
            form.add_error("day", f"{day_text(day)} is also in row {seen[day]}: "
                                  "give each day once.")
            ok = False
        seen.setdefault(day, n)
    return ok


def _recorded(changed: int, given: int) -> str:
    if changed == 0:
        return "Nothing changed: those days were already recorded as you gave them."
    words = f"Recorded {changed} day{'s' if changed != 1 else ''}."
    if changed < given:
        words += f" {given - changed} {'were' if given - changed != 1 else 'was'} already " \
                 "recorded as you gave them."
    return words


def import_page(request):
    posted = request.method == "POST"  # an empty POST is still a submission
    form = ImportForm(request.POST if posted else None, request.FILES if posted else None)
    result = None
    missed = []
    if posted and form.is_valid():
        result = dispensing.import_csv(Actor.of(request), request.user.organisation_id,
                                       form.content(), visible_patients(request.user))
        if result.ok and result.missed:
            names = {p.pk: p.name for p in Patient.objects.of(request.user.organisation_id)
                     .filter(pk__in=[r.patient_id for r in result.missed])}
            missed = [{"run": r, "name": names.get(r.patient_id, "")} for r in result.missed]
    return render(request, "medication/dispensing/import.html", {
        "form": form, "result": result, "missed": missed, "example": EXAMPLE,
        "more": result.problem_count - len(result.problems) if result else 0,
        "not_a_prescription": NOT_A_PRESCRIPTION,
        "missed_days_for_flag": settings_for(request.user.organisation_id)
        .missed_days_for_flag})
