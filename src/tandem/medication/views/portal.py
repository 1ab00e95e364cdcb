"""My medication: the patient's own page in the portal (phone first, plain words).

What the page shows and the form to ask for a new dose are built here once (`dose_page`,
`ask`) and used by the keyworker's "ask for a dose on the patient's behalf" page too
(views/requests.py), so both show the same allowance and give the same answers. Every dose
decision is the service's (`tandem.medication.doses`); this module only reads and words it.

Tandem is not a prescribing system: the page shows the plan the patient agreed with their
prescriber, not a prescription.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from tandem.assessment.models import Response, ResponseStatus
from tandem.audit.actor import Actor
from tandem.core import charts, dosing
from tandem.medication import doses
from tandem.medication.forms import per
from tandem.medication.models import (
    DoseRequest,
    MedicationPlan,
    PlanStatus,
    Reduction,
    ReductionStatus,
    RequestStatus,
)
from tandem.medication.request_forms import DoseRequestForm

# Answered requests listed on the page (newest first).
ANSWERED_SHOWN = 5
# The chart of a reduction starts this many days before it (to show the days of use before).
CHART_BEFORE_DAYS = 28
CHART_AFTER_DAYS = 14
TOP = "top"  # the Treatment Outcomes Profile: days of use in each of the 4 weeks before
WEEKS = ("w1", "w2", "w3", "w4")
MOST_CHECKUPS_ON_CHART = 12
CHART_WIDTH, CHART_HEIGHT = 360, 220  # drawn for a phone's width, so its words stay legible
# What the days of use count, in the patient's words, by what the medicine treats.
USE_WORDS = {
    "opioids": "days you used street heroin or other opioids not prescribed to you",
    "alcohol": "days you drank alcohol",
}
USE_WORDS_STAFF = {
    "opioids": "days of illicit opioid use",
    "alcohol": "drinking days",
}


def day_words(day: datetime.date, today: datetime.date) -> str:
    """"6 March" (with the year when it is not this year's)."""
    text = f"{day.day} {day:%B}"
    return text if day.year == today.year else f"{text} {day.year}"


def from_words(day: datetime.date, today: datetime.date) -> str:
    return "from today" if day == today else f"from {day_words(day, today)}"


def current_plan(patient) -> MedicationPlan | None:
    return (MedicationPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE)
            .order_by("-started_on", "-created_at").first())


@dataclass
class Answered:
    request: DoseRequest
    status: str  # in words
    kind: str  # "agreed", "not-agreed", "withdrawn" (for styling)
    asked: str = ""  # who asked for what, in words


@dataclass
class ReductionView:
    reduction: Reduction
    words: str  # "Going down 5 mg every 14 days, aiming for 30 mg"
    paused: bool
    next_step: tuple[datetime.date, str] | None = None
    rows: list = field(default_factory=list)  # [(day, dose, "done"/"now"/"to come")]
    use_rows: list = field(default_factory=list)  # [(day, days of use)]
    chart: str = ""


@dataclass
class DosePage:
    """Everything the dose page says about one plan, as of `today`. `staff`: worded for the
    care team ("the patient") rather than for the patient ("you")."""

    plan: MedicationPlan | None
    today: datetime.date
    staff: bool = False
    medicine: object = None
    dose_now: Decimal | None = None
    dose_now_words: str = ""
    per_words: str = "a day"  # how often one dose is given (medication.forms.per)
    last_changed: datetime.date | None = None
    range_words: str = ""
    allowance: dosing.Allowance | None = None
    allowance_words: str = ""
    next_words: str = ""  # no change today: when the next one can be
    default_day: datetime.date | None = None
    needs_prescriber: bool = False
    pending: DoseRequest | None = None
    pending_words: str = ""
    answered: list[Answered] = field(default_factory=list)
    reduction: ReductionView | None = None
    use_words: str = ""

    @property
    def self_setting(self) -> bool:
        return self.plan is not None and self.plan.self_setting

    @property
    def can_ask(self) -> bool:
        """Whether the form is shown: the plan lets the dose be set here, no missed-days stop,
        and no request already waiting."""
        return self.self_setting and not self.needs_prescriber and self.pending is None


def dose_page(plan: MedicationPlan | None, today: datetime.date | None = None, *,
              staff: bool = False, patient=None) -> DosePage:
    """The page's content for `plan` (None: the patient has no current plan): a bounded number
    of queries, whatever the plan's history."""
    today = today or timezone.localdate()
    page = DosePage(plan, today, staff)
    if plan is None:
        return page
    page.medicine = doses.medicine_of(plan)
    ledger = doses.ledger(plan)
    held = dosing.current_dose(ledger, today)
    if held is not None:
        page.dose_now, page.last_changed = held.dose, held.day
        page.dose_now_words = dosing.mg(held.dose)
    page.per_words = per(page.medicine)
    page.range_words = (f"between {dosing.mg(plan.low)} and {dosing.mg(plan.high)} "
                        f"{page.per_words}")
    page.needs_prescriber = doses.needs_prescriber(plan)
    page.pending = plan.requests.filter(status=RequestStatus.PENDING).first()
    if page.pending is not None:
        page.pending_words = _asked(page.pending, today, staff)
    page.answered = [_answered(r, today, staff) for r in plan.requests.exclude(
        status=RequestStatus.PENDING).select_related("answered_by")[:ANSWERED_SHOWN]]
    if plan.self_setting and not page.needs_prescriber:
        past = [c for c in ledger if c.day <= today]
        page.allowance = dosing.allowance(past, today, doses.limits_of(plan), page.medicine,
                                          plan.titrating_since)
        page.allowance_words, page.next_words = _allowance_words(page, past)
        page.default_day = max(today, page.allowance.earliest)
        if page.default_day > today + datetime.timedelta(days=doses.REQUEST_AHEAD_DAYS):
            page.default_day = today
    reduction = plan.reductions.filter(
        status__in=[ReductionStatus.ACTIVE, ReductionStatus.PAUSED]).first()
    if reduction is not None:
        page.use_words = (USE_WORDS_STAFF if staff else USE_WORDS).get(
            page.medicine.treats, "days of use")
        page.reduction = _reduction_view(plan, reduction, ledger, today, page,
                                         patient or plan.patient)
    return page


def _allowance_words(page: DosePage, past: list[dosing.Change]) -> tuple[str, str]:
    """What can change today, and if nothing can, when the next change can be."""
    a, today = page.allowance, page.today
    can = "the patient can" if page.staff else "you can"
    if a.current is None:
        return "", ""
    if a.can_change_today:
        if page.medicine.fixed_doses:
            options = [dosing.mg(d) for d in a.doses]
            if not options:
                return "", "No other dose fits the plan today."
            listed = options[0] if len(options) == 1 else (
                ", ".join(options[:-1]) + " or " + options[-1])
            return f"Today {can} ask for {listed}.", ""
        if a.lowest >= a.highest:
            return f"Today {can} ask for {dosing.mg(a.lowest)}.", ""
        return (f"Today {can} ask for a dose from {dosing.mg(a.lowest)} to "
                f"{dosing.mg(a.highest)}.", "")
    if a.lowest > a.highest:
        return "", "No change fits the plan today. Talk to the prescriber." if page.staff \
            else "No change fits your plan today. Talk to your keyworker or prescriber."
    whose = "The dose" if page.staff else "Your dose"
    words = (f"{whose} last changed on {day_words(page.last_changed, today)}. The next change "
             f"can be from {day_words(a.earliest, today)}.")
    later = dosing.allowance(past, a.earliest, doses.limits_of(page.plan), page.medicine,
                             page.plan.titrating_since)
    if later.lowest < later.highest and not page.medicine.fixed_doses:
        words += (f" From then, {can} ask for a dose from {dosing.mg(later.lowest)} to "
                  f"{dosing.mg(later.highest)}.")
    return "", words


def _asked(r: DoseRequest, today: datetime.date, staff: bool) -> str:
    """Who asked for what: "You asked for 60 mg from 3 March." """
    what = f"{dosing.mg(r.dose)} {from_words(r.from_day, today)}"
    if staff:
        by = "on the patient's behalf" if r.on_behalf else "by the patient"
        return f"{what[:1].upper()}{what[1:]}, asked for {by} on " \
               f"{day_words(timezone.localdate(r.asked_at), today)}."
    who = "Your keyworker asked with you" if r.on_behalf else "You asked"
    return f"{who} for {what}."


def _answered(r: DoseRequest, today: datetime.date, staff: bool) -> Answered:
    dose, day = dosing.mg(r.dose), from_words(r.from_day, today)
    asked = _asked(r, today, staff)
    whose = "The prescriber" if staff else "Your prescriber"
    if r.status == RequestStatus.APPLIED:
        return Answered(r, f"Changed to {dose} {day}, as asked.", "agreed", asked)
    if r.status == RequestStatus.APPROVED:
        return Answered(r, f"{whose} agreed: {dose} {day}.", "agreed", asked)
    if r.status == RequestStatus.DECLINED:
        return Answered(r, f"{whose} did not agree to this change.", "not-agreed", asked)
    return Answered(r, "Withdrawn: nothing changed.", "withdrawn", asked)


def _reduction_view(plan, reduction, ledger, today, page, patient) -> ReductionView:
    paused = reduction.status == ReductionStatus.PAUSED
    words = (f"Going down {dosing.mg(reduction.step)} every {reduction.every_days} "
             f"{'day' if reduction.every_days == 1 else 'days'}, aiming for "
             f"{dosing.mg(reduction.target)}")
    view = ReductionView(reduction, words, paused)
    start = min(reduction.started_on, today) - datetime.timedelta(days=CHART_BEFORE_DAYS)
    held = dosing.current_dose(ledger, start)
    shown = ([held] if held is not None else []) + [c for c in ledger if c.day > start]
    for c in shown:
        when = "to come" if c.day > today else "done"
        view.rows.append((c.day, dosing.mg(c.dose), when))
    future = [c for c in shown if c.day > today]
    if future:
        view.next_step = (future[0].day, dosing.mg(future[0].dose))
    end = max([today, *(c.day for c in future)]) + datetime.timedelta(days=CHART_AFTER_DAYS)
    view.use_rows = days_of_use(patient, page.medicine.treats, start, end)
    if shown:
        steps = [(max(c.day, start), float(c.dose)) for c in shown if c.day <= today]
        planned = [(c.day, float(c.dose)) for c in future]
        whose = "The patient's" if page.staff else "Your"
        said = "; ".join(f"{charts.fmt_date(d)}: {dose}" for d, dose, _w in view.rows)
        used = "; ".join(f"{charts.fmt_date(d)}: {n:g} in 28" for d, n in view.use_rows)
        desc = f"{whose} daily dose: {said}."
        if used:
            desc += f" {page.use_words.capitalize()} in the 4 weeks before each check-up: {used}."
        view.chart = mark_safe(charts.dose_svg(  # noqa: S308 - built by core.charts, escaped
            steps, start=start, end=end, today=today, planned=planned,
            use_days=view.use_rows, safe_range=(float(plan.low), float(plan.high)),
            title=f"{whose} dose during the reduction", desc=desc, id_prefix="med-reduction",
            width=CHART_WIDTH, height=CHART_HEIGHT))
    return view


def days_of_use(patient, treats: str, start: datetime.date,
                end: datetime.date) -> list[tuple[datetime.date, float]]:
    """(day of the check-up, days of use in the 28 days before it) from the patient's TOP
    check-ups between `start` and `end`: the 4 weeks' answers added up, a week not answered
    left out (as core.flags reads them)."""
    found = (Response.objects.filter(patient=patient, instrument_code=TOP,
                                     status=ResponseStatus.COMPLETED,
                                     completed_on__gte=start, completed_on__lte=end)
             .order_by("-completed_on").values_list("completed_on", "answers")
             [:MOST_CHECKUPS_ON_CHART])
    rows = []
    for day, answers in found:
        weeks = [(answers or {}).get(f"{treats}_{w}") for w in WEEKS]
        known = [float(v) for v in weeks
                 if isinstance(v, int | float) and not isinstance(v, bool)]
        if known:
            rows.append((day, sum(known)))
    return sorted(rows)


def shaped(form: DoseRequestForm, page: DosePage) -> DoseRequestForm:
    """The form with today's allowance as the dose's help, and the days a request may start."""
    if page.allowance_words:
        form.fields["dose"].help_text = page.allowance_words
    last = page.today + datetime.timedelta(days=doses.REQUEST_AHEAD_DAYS)
    day = form.fields["from_day"]
    day.widget.attrs.update(min=page.today.isoformat(), max=last.isoformat())
    day.help_text = (f"From today up to 4 weeks ahead ({day_words(last, page.today)}).")
    return form


def ask(actor: Actor, plan: MedicationPlan | None, form: DoseRequestForm, *,
        on_behalf: bool = False, staff: bool = False) -> str | None:
    """Send the form's request to the service: the words to show once it is stored, or None
    with the reasons put on the form's fields (nothing stored)."""
    if not form.is_valid():
        return None
    if plan is None:
        form.add_error(None, "There is no current medication plan, so no dose can be asked "
                       "for here." if staff else "You have no current medication plan with "
                       "us, so no dose can be asked for here.")
        return None
    data = form.cleaned_data
    try:
        made = doses.request_dose(actor, plan, data["dose"], data["from_day"], data["note"],
                                  on_behalf=on_behalf)
    except doses.Refused as refused:
        form.add_refusal(refused.reasons)
        return None
    return done_words(made, timezone.localdate(), staff=staff)


def done_words(made: DoseRequest, today: datetime.date, *, staff: bool = False) -> str:
    dose, day = dosing.mg(made.dose), from_words(made.from_day, today)
    if made.status == RequestStatus.PENDING:
        if staff:
            return f"Asked for {dose} {day}. The prescriber will look at this."
        return f"You asked for {dose} {day}. Your prescriber will look at this."
    whose, pharmacy = ("The dose", "The") if staff else ("Your dose", "Your")
    verb = "is now" if made.from_day <= today else "will be"
    return f"{whose} {verb} {dose} {day}. {pharmacy} pharmacy will be told."


# --- the pages -----------------------------------------------------------------------------


def medication(request):
    """My medication: today's dose, the range agreed with the prescriber, what can change today,
    the form to ask for a new dose, requests and their answers, and a reduction if there is one."""
    patient = request.patient
    plan = current_plan(patient)
    page = dose_page(plan, patient=patient)
    form = shaped(DoseRequestForm(request.POST or None,
                                  initial={"from_day": page.default_day or page.today}), page)
    if request.method == "POST":
        done = ask(Actor.of(request), plan, form)
        if done is not None:
            messages.success(request, done)
            return redirect("portal:medication")
    return render(request, "medication/portal/medication.html", {
        "patient": patient, "page": page, "form": form,
        "stopped": None if plan else MedicationPlan.objects.filter(
            patient=patient, status=PlanStatus.STOPPED).order_by("-started_on").first(),
    })


@require_POST
def withdraw(request, request_id):
    """Withdraw my waiting request (mine only: another's is not found)."""
    found = get_object_or_404(DoseRequest, pk=request_id, plan__patient=request.patient)
    try:
        doses.withdraw(Actor.of(request), found)
    except doses.Refused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"You withdrew your request for {dosing.mg(found.dose)}. "
                         "Your dose stays as it is.")
    return redirect("portal:medication")


@require_POST
def pause(request, reduction_id):
    """Pause my reduction: I stay at today's dose; the steps to come are taken off."""
    found = get_object_or_404(Reduction, pk=reduction_id, plan__patient=request.patient)
    try:
        doses.pause(Actor.of(request), found, "Paused by the patient.")
    except doses.Refused as refused:
        messages.error(request, str(refused))
    else:
        now = doses.dose_on(found.plan, timezone.localdate())
        stay = f" at {dosing.mg(now)} {per(doses.medicine_of(found.plan))}" \
            if now is not None else ""
        messages.success(request, f"Your reduction is paused. You stay{stay} for now. When you "
                         "want to carry on, talk to your keyworker or prescriber.")
    return redirect("portal:medication")
