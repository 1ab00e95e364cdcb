"""The care team's medication pages for one patient (the "patients" namespace) and the
service's medication settings ("manage").

The permission layer put the patient on request.patient; every plan, dose change, request and
reduction is looked up within that patient. Every dose is written by
`tandem.medication.doses` (which checks it against the plan and the medicine and audits it);
these views only turn its refusals into errors on the named fields, keeping what was typed.

Tandem is not a prescribing system: the pages show the plan agreed with the patient, and the
dose-change sheet for the pharmacy says it is not a prescription.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from tandem.accounts.models import Role
from tandem.accounts.permissions import CHANGES_RECORDS, roles_of
from tandem.assessment.results import TOP, completed
from tandem.audit.actor import Actor
from tandem.core import charts, dosing
from tandem.core.dosing import day_text, mg
from tandem.medication import doses, registry, reviews
from tandem.medication.forms import (
    AnswerForm,
    PlanForm,
    ReductionControlForm,
    ReductionForm,
    ReviewForm,
    SettingsForm,
    StopForm,
    defaults_for,
    per,
    published_limits,
)
from tandem.medication.models import (
    ChangeKind,
    ChangeSource,
    DoseChange,
    DoseRequest,
    MedicationPlan,
    MedicationSettings,
    PlanStatus,
    Reduction,
    ReductionEvent,
    ReductionStatus,
    RequestStatus,
    settings_for,
)
from tandem.patients.models import OPEN_STATUSES, CareTeamMember, Episode
from tandem.planning.printing import pdf_response
from tandem.records import versioning

NOT_A_PRESCRIPTION = ("Tandem is not a prescribing system: this is the plan agreed with the "
                      "patient, not a prescription.")
NOTICE_LINE = ("This is a notice of a dose change agreed in the patient's medication plan. It "
               "is not a prescription.")
OPEN_REDUCTION = (ReductionStatus.ACTIVE, ReductionStatus.PAUSED)


# --- finding things ------------------------------------------------------------------------


def current_plan(patient) -> MedicationPlan | None:
    return MedicationPlan.objects.filter(patient=patient, status=PlanStatus.ACTIVE).first()


def _active_plan_or_redirect(request):
    plan = current_plan(request.patient)
    if plan is None:
        messages.error(request, "There is no current medication plan: start one first.")
    return plan


def can_prescribe(request) -> bool:
    """On the care team (as practitioner or prescriber) and a prescriber: PRESCRIBE allows."""
    return (request.access_role in (Role.PRACTITIONER, Role.PRESCRIBER)
            and Role.PRESCRIBER in roles_of(request.user))


def _to_page(patient, anchor: str = "", plan=None):
    url = reverse("patients:medication", args=[patient.pk])
    if plan is not None and plan.status != PlanStatus.ACTIVE:
        url += f"?plan={plan.pk}"
    return redirect(url + (f"#{anchor}" if anchor else ""))


def put_on(form, refused: doses.Refused, renamed: dict[str, str] | None = None) -> None:
    """The dose service's reasons, on the form's named fields (or the whole form)."""
    renamed = renamed or {}
    for field, reasons in refused.reasons.items():
        name = renamed.get(field, field)
        for reason in reasons:
            form.add_error(name if name in form.fields else None, reason)


# --- the medication page -------------------------------------------------------------------


@dataclass
class Row:
    """One change of the dose history."""

    change: DoseChange
    previous: object
    what: str
    who: str
    why: str
    planned: bool
    notice: bool  # a dose-change sheet for the pharmacy can be printed


def what_of(change: DoseChange) -> str:
    if change.kind == ChangeKind.START:
        return "Start"
    if change.kind == ChangeKind.RESTART:
        return "Restart"
    if change.source == ChangeSource.REDUCTION:
        return "Reduction step"
    if change.source == ChangeSource.REVERSAL:
        return "Going back up"
    return "Change"


def who_of(change: DoseChange) -> str:
    asked = change.request
    if asked is None:
        return change.made_by.display_name
    by = asked.asked_by.display_name + (" (keyworker, for the patient)" if asked.on_behalf
                                         else "")
    if asked.status == RequestStatus.APPROVED and asked.answered_by_id:
        return f"Asked for by {by}; agreed by {asked.answered_by.display_name}"
    return f"Asked for by {by}; applied at once, within the plan's limits"


def why_of(change: DoseChange) -> str:
    if change.reason:
        return change.reason
    if change.request is not None and change.request.note:
        return change.request.note
    if change.source == ChangeSource.REDUCTION:
        return "A step of the reduction the patient chose."
    return ""


def history(changes: list[DoseChange], today: datetime.date) -> list[Row]:
    rows, previous = [], None
    for change in changes:
        planned = change.day > today
        rows.append(Row(change, previous, what_of(change), who_of(change), why_of(change),
                        planned, notice=not (planned and change.source == ChangeSource.REDUCTION)))
        previous = change.dose
    return rows


def use_days(patient, medicine) -> list[tuple[datetime.date, float]]:
    """Days of use of what the medicine treats (opioids or alcohol) in the 28 days before each
    outcomes-profile check-up (the sum of its four weeks), oldest first."""
    substance = "opioids" if medicine.treats == "opioids" else "alcohol"
    found = []
    for day, answers in completed(patient, TOP).values_list("completed_on", "answers"):
        weeks = [answers.get(f"{substance}_w{w}") for w in (1, 2, 3, 4)]
        weeks = [w for w in weeks if isinstance(w, int | float)]
        if day is not None and weeks:
            found.append((day, float(sum(weeks))))
    return found


def dose_chart(plan, medicine, changes, today, *, use=(), id_prefix="dose") -> str:
    stopped = plan.status != PlanStatus.ACTIVE
    end_day = timezone.localdate(plan.updated_at) if stopped else today
    steps = [(c.day, float(c.dose)) for c in changes if c.day <= end_day]
    planned = [(c.day, float(c.dose)) for c in changes if c.day > end_day]
    start = min([plan.started_on, *(d for d, _v in steps[:1])])
    end = max([end_day, *(d + datetime.timedelta(days=7) for d, _v in planned[-1:])])
    start = min(start, end)
    unit = f"mg {per(medicine)}"
    now = dosing.current_dose([dosing.Change(d, v) for d, v in steps], end_day)
    words = [f"{medicine.name}, from {day_text(start)}."]
    if steps:
        words.append(f"First dose {mg(changes[0].dose)} on {day_text(changes[0].day)}.")
    if now is not None:
        words.append(f"{'Last dose' if stopped else 'Now'} {dosing.mg(now.dose)} {per(medicine)}"
                     f", within the safe range of {mg(plan.low)} to {mg(plan.high)}.")
    if planned:
        words.append(f"{len(planned)} planned step(s), to {mg(changes[-1].dose)} on "
                     f"{day_text(changes[-1].day)}.")
    if use:
        words.append("Bars: days of use in the 28 days before each check-up.")
    words.append("The table below gives every change.")
    return mark_safe(charts.dose_svg(  # noqa: S308 — built by core.charts, every text escaped
        steps, start=start, end=end, today=end_day, planned=planned, use_days=use,
        safe_range=(float(plan.low), float(plan.high)), title=f"Dose over time ({unit})",
        desc=" ".join(words), id_prefix=id_prefix, unit="mg"))


def plan_context(request, plan, *, answer_forms=None, control_form=None) -> dict:
    """Everything the page shows of one plan, in a bounded number of queries whatever its
    history: the plan, its versions, the ledger, requests, reviews, reductions with their
    events, the service's settings, missed doses and the check-ups' days of use."""
    patient = request.patient
    today = timezone.localdate()
    medicine = doses.medicine_of(plan)
    changes = list(plan.doses.filter(cancelled_at__isnull=True)
                   .select_related("made_by", "request__asked_by", "request__answered_by")
                   .order_by("day", "made_at"))
    past = [dosing.Change(c.day, c.dose, c.kind) for c in changes if c.day <= today]
    held = dosing.current_dose(past, today)
    active = plan.status == PlanStatus.ACTIVE
    allowed = dosing.allowance(past, today, doses.limits_of(plan), medicine,
                               plan.titrating_since) if active and held else None
    requests = list(plan.requests.select_related("asked_by", "answered_by"))
    pending = [r for r in requests if r.status == RequestStatus.PENDING]
    answer_forms = answer_forms or {}
    for r in pending:
        r.form = answer_forms.get(r.pk) or AnswerForm(prefix=f"r{r.pk}")
    reductions = list(plan.reductions.select_related("created_by").prefetch_related(
        Prefetch("events", queryset=ReductionEvent.objects.select_related("by"))))
    open_reduction = next((r for r in reductions if r.status in OPEN_REDUCTION), None)
    if open_reduction is not None:
        open_reduction.schedule = [c for c in changes if c.reduction_id == open_reduction.pk
                                   and c.day > today]
        open_reduction.control = control_form or ReductionControlForm()
    service = settings_for(plan.organisation_id)
    missed = doses.missed_run(plan) if active else []
    use = use_days(patient, medicine)
    ecg_asked = doses.ecg_asked(plan, medicine)
    return {
        "plan": plan, "medicine": medicine, "per": per(medicine),
        "held": held, "allowance": allowed,
        "review_overdue": active and plan.review_date < today,
        "ecg_asked": ecg_asked,
        "versions": list(plan.versions.select_related("changed_by").order_by("-number")),
        "rows": history(changes, today),
        "chart": dose_chart(plan, medicine, changes, today, use=use) if changes else "",
        "use_days": use,
        "pending": pending,
        "answered": [r for r in requests if r.status != RequestStatus.PENDING],
        "reviews": list(plan.reviews.select_related("held_by")),
        "reductions": reductions, "open_reduction": open_reduction,
        "missed": missed, "restart_rule": service.restart_rule,
        "missed_flag": len(missed) >= service.missed_days_for_flag,
        "usual": medicine.limits.usual_maintenance,
    }


def medication(request, patient_id):
    return _page(request)


def _page(request, status=200, **overrides):
    patient = request.patient
    plans = list(MedicationPlan.objects.filter(patient=patient)
                 .order_by("-started_on", "-created_at"))
    chosen = request.GET.get("plan", "")
    plan = (next((p for p in plans if str(p.pk) == chosen), None)
            or next((p for p in plans if p.status == PlanStatus.ACTIVE), None)
            or (plans[0] if plans else None))
    context = {"patient": patient, "plans": plans, "plan": plan,
               "can_prescribe": can_prescribe(request),
               # The keyworker (or their team lead) may ask for a dose for the patient.
               "can_ask": request.access_role in CHANGES_RECORDS,
               "has_current": any(p.status == PlanStatus.ACTIVE for p in plans),
               "not_a_prescription": NOT_A_PRESCRIPTION, "today": timezone.localdate()}
    if plan is not None:
        plan.patient = patient
        context |= plan_context(request, plan, **overrides)
    return render(request, "medication/staff/medication.html", context, status=status)


# --- starting and changing the plan --------------------------------------------------------


def _open_episode(patient):
    return Episode.objects.filter(patient=patient, status__in=OPEN_STATUSES).first()


def new(request, patient_id):
    patient = request.patient
    episode = _open_episode(patient)
    existing = current_plan(patient)
    context = {"patient": patient, "episode": episode, "existing": existing,
               "not_a_prescription": NOT_A_PRESCRIPTION}
    if episode is None or existing is not None:
        return render(request, "medication/staff/plan_new.html", context)
    code = request.POST.get("medicine") or request.GET.get("medicine") or ""
    medicine = registry.get(code) if code else None
    if medicine is None:
        opioids = [m for m in registry.medicines().values() if m.treats == "opioids"]
        alcohol = [m for m in registry.medicines().values() if m.treats == "alcohol"]
        return render(request, "medication/staff/plan_choose.html", context | {
            "opioids": opioids, "alcohol": alcohol,
            "unknown": bool(code)}, status=400 if code else 200)
    today = timezone.localdate()
    defaults = defaults_for(medicine)
    review_every = settings_for(patient.organisation_id).review_every_days
    initial = {"started_on": today,
               "review_date": today + datetime.timedelta(days=review_every),
               "supervised_days": 7 if medicine.substitute else 0,
               "take_home_days": 0 if medicine.substitute else 7,
               **{k: v for k, v in defaults.__dict__.items() if k != "note" and v is not None}}
    form = PlanForm(request.POST or None, medicine=medicine, patient=patient, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            doses.start_plan(Actor.of(request), episode, medicine.code, form.terms(),
                             data["dose"], data["started_on"], data["reason"])
        except doses.Refused as refused:
            put_on(form, refused)
        else:
            messages.success(request, f"The medication plan is started: {medicine.name}, "
                             f"{mg(data['dose'])} {per(medicine)} from "
                             f"{day_text(data['started_on'])}.")
            return _to_page(patient)
    return render(request, "medication/staff/plan_form.html", context | {
        "medicine": medicine, "form": form, "defaults": defaults,
        "limits": published_limits(medicine), "pharmacies": _pharmacies(patient, form)})


def _pharmacies(patient, form) -> list[str]:
    """Names of organisations on the care team, offered for the pharmacy field."""
    names = sorted(set(CareTeamMember.objects.filter(care_team__patient=patient).exclude(
        organisation_name="").values_list("organisation_name", flat=True)))
    if names:
        form.fields["pharmacy"].widget.attrs["list"] = "pharmacies"
    return names


@dataclass(frozen=True)
class Difference:
    label: str
    saved: str
    yours: str


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.date):
        return day_text(value)
    if isinstance(value, Decimal):
        return mg(value).removesuffix(" mg")
    return str(value)


def differences(form: PlanForm, current: MedicationPlan) -> list[Difference]:
    """Terms saved now that differ from what this person typed (after a stale save)."""
    found = []
    saved = doses.Terms.of(current)
    for name in doses.TERMS:
        if name not in form.fields or name not in form.cleaned_data:
            continue
        ours, theirs = form.cleaned_data[name], getattr(saved, name)
        if _shown(ours) != _shown(theirs):
            found.append(Difference(str(form.fields[name].label), _shown(theirs), _shown(ours)))
    return found


def _plan_initial(plan) -> dict:
    initial = dict(doses.Terms.of(plan).__dict__)
    initial["requests_apply_at_once"] = "1" if plan.requests_apply_at_once else "0"
    initial["version"] = plan.version
    return initial


def edit(request, patient_id, stop_form=None):
    patient = request.patient
    plan = _active_plan_or_redirect(request)
    if plan is None:
        return _to_page(patient)
    medicine = doses.medicine_of(plan)
    form = PlanForm(request.POST if stop_form is None and request.method == "POST" else None,
                    medicine=medicine, patient=patient, editing=True,
                    initial=_plan_initial(plan))
    stale = []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data.get("version") != plan.version:
            current = MedicationPlan.objects.get(pk=plan.pk)
            stale = differences(form, current) or [Difference("", "", "")]
            posted = request.POST.copy()
            posted["version"] = str(current.version)
            form = PlanForm(posted, medicine=medicine, patient=patient, editing=True)
            form.is_valid()
            plan = current
        else:
            try:
                doses.change_plan(Actor.of(request), plan, data["version"], form.terms(),
                                  data["reason"], dose=data.get("dose"),
                                  from_day=data.get("from_day"),
                                  restart=bool(data.get("restart")))
            except doses.Refused as refused:
                put_on(form, refused)
            else:
                messages.success(request, "The plan is changed: a new version is kept with "
                                          "your reason.")
                return _to_page(patient)
    return render(request, "medication/staff/plan_form.html", {
        "patient": patient, "plan": plan, "medicine": medicine, "form": form,
        "limits": published_limits(medicine), "stale": stale,
        "stale_changes": [d for d in stale if d.label],
        "stop_form": stop_form or StopForm(prefix="stop", initial={"version": plan.version}),
        "pharmacies": _pharmacies(patient, form), "not_a_prescription": NOT_A_PRESCRIPTION},
        status=400 if stop_form is not None else 200)


@require_POST
def stop(request, patient_id):
    patient = request.patient
    plan = _active_plan_or_redirect(request)
    if plan is None:
        return _to_page(patient)
    form = StopForm(request.POST, prefix="stop")
    if form.is_valid():
        try:
            doses.stop_plan(Actor.of(request), plan, form.cleaned_data["version"],
                            form.cleaned_data["reason"])
        except doses.Refused as refused:
            put_on(form, refused)
        else:
            messages.success(request, "The medication plan is stopped. Its history is kept.")
            return _to_page(patient, plan=MedicationPlan.objects.get(pk=plan.pk))
    return edit(request, patient_id, stop_form=form)


# --- answering a request -------------------------------------------------------------------


@require_POST
def answer(request, patient_id, request_id):
    patient = request.patient
    found = get_object_or_404(DoseRequest.objects.select_related("plan"), pk=request_id,
                              plan__patient=patient)
    form = AnswerForm(request.POST, prefix=f"r{found.pk}")
    if form.is_valid():
        actor = Actor.of(request)
        try:
            if form.cleaned_data["action"] == "approve":
                doses.approve(actor, found)
            else:
                doses.decline(actor, found, form.cleaned_data["answer"])
        except doses.Refused as refused:
            put_on(form, refused)
        else:
            if form.cleaned_data["action"] == "approve":
                messages.success(request, f"Agreed: {mg(found.dose)} from "
                                 f"{day_text(max(found.from_day, timezone.localdate()))}. "
                                 "Print the dose-change sheet for the pharmacy from the "
                                 "history below.")
            else:
                messages.success(request, "Answered: the patient sees your answer.")
            return _to_page(patient, "requests")
    if found.status != RequestStatus.PENDING:
        messages.error(request, "This request has already been answered.")
        return _to_page(patient, "requests")
    return _page(request, status=400, answer_forms={found.pk: form})


# --- reviews -------------------------------------------------------------------------------


def review_new(request, patient_id):
    patient = request.patient
    plan = _active_plan_or_redirect(request)
    if plan is None:
        return _to_page(patient)
    today = timezone.localdate()
    latest = reviews.latest_next_review(plan, today)
    form = ReviewForm(request.POST or None, patient=patient, initial={
        "held_on": today, "next_review": latest, "version": plan.version,
        "goal_discussed": True})
    stale = False
    if request.method == "POST" and form.is_valid():
        version = form.cleaned_data["version"]
        try:
            if version != plan.version:
                raise doses.Refused({"": ["Someone changed this plan after you opened the "
                                          "review. Nothing was saved; what you typed is still "
                                          "below. Save again to record the review."]})
            reviews.hold(Actor.of(request), plan, version, **form.fields_for_service())
        except doses.Refused as refused:
            stale = version != plan.version
            if stale:
                posted = request.POST.copy()
                posted["version"] = str(plan.version)
                form = ReviewForm(posted, patient=patient)
                form.is_valid()
            put_on(form, refused)
        else:
            messages.success(request, "The medication review is recorded. The next review is "
                             f"by {day_text(form.cleaned_data['next_review'])}.")
            return _to_page(patient, "reviews")
    return render(request, "medication/staff/review_form.html", {
        "patient": patient, "plan": plan, "form": form, "latest": latest,
        "medicine": doses.medicine_of(plan), "stale": stale,
        "every": settings_for(plan.organisation_id).review_every_days})


# --- reductions ----------------------------------------------------------------------------


def reduction_new(request, patient_id):
    patient = request.patient
    plan = _active_plan_or_redirect(request)
    if plan is None:
        return _to_page(patient)
    if plan.reductions.filter(status__in=OPEN_REDUCTION).exists():
        messages.info(request, "There is already a reduction: pause, resume or stop it below.")
        return _to_page(patient, "reduction")
    medicine = doses.medicine_of(plan)
    today = timezone.localdate()
    form = ReductionForm(request.POST or None, initial={
        "started_on": today + datetime.timedelta(days=1), "chosen_by": "patient",
        "step": plan.step_down_max, "target": plan.low})
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if request.POST.get("action") == "preview":
            preview = _schedule(plan, medicine, data)
        else:
            try:
                doses.plan_reduction(Actor.of(request), plan, data["started_on"], data["step"],
                                     data["every_days"], data["target"], data["chosen_by"])
            except doses.Refused as refused:
                put_on(form, refused)
            else:
                messages.success(request, "The reduction is planned: its steps are in the "
                                          "plan below. Pause it, or go back up, at any time.")
                return _to_page(patient, "reduction")
    return render(request, "medication/staff/reduction_form.html", {
        "patient": patient, "plan": plan, "form": form, "medicine": medicine,
        "per": per(medicine), "held": doses.dose_on(plan, today), "preview": preview})


def _schedule(plan, medicine, data) -> dict:
    """The steps Tandem would draw, without saving them."""
    start = data["started_on"]
    keep_until = max(start - datetime.timedelta(days=1), timezone.localdate())
    ledger = [c for c in doses.ledger(plan) if c.day <= keep_until]
    steps = dosing.reduction_schedule(
        ledger, dosing.Reduction(start, data["step"], data["every_days"], data["target"]),
        doses.limits_of(plan), medicine, plan.titrating_since)
    return {"steps": steps, "reaches": bool(steps) and steps[-1].dose <= max(data["target"],
                                                                            plan.low)}


@require_POST
def reduction(request, patient_id, reduction_id):
    patient = request.patient
    found = get_object_or_404(Reduction.objects.select_related("plan"), pk=reduction_id,
                              plan__patient=patient)
    form = ReductionControlForm(request.POST)
    if not form.is_valid():
        if found.status not in OPEN_REDUCTION:
            messages.error(request, "This reduction has ended.")
            return _to_page(patient, "reduction")
        return _page(request, status=400, control_form=form)
    actor, data = Actor.of(request), form.cleaned_data
    action, note = data["action"], data.get("note", "")
    try:
        if action == "pause":
            doses.pause(actor, found, note)
            held = doses.dose_on(found.plan, timezone.localdate())
            words = (f"The reduction is paused: the dose stays at {mg(held)}. Resume it "
                     "whenever the patient is ready." if held is not None else
                     "The reduction is paused.")
        elif action == "resume":
            doses.resume(actor, found)
            words = "The reduction goes ahead again: its next steps are below."
        elif action == "stop":
            ended = doses.stop_reduction(actor, found, note)
            words = ("The reduction is finished: the aim is reached."
                     if ended.status == ReductionStatus.FINISHED else
                     "The reduction is stopped: the dose stays where it is now.")
        elif can_prescribe(request):
            doses.reverse(actor, found, data["dose"], note)
            words = (f"Going back up to {mg(data['dose'])} from today. The reduction is paused "
                     "there; resume it whenever the patient is ready.")
        else:
            # Anyone else on the care team asks for the patient, by the plan's rules for
            # requests (self-setting, approval, missed days).
            asked = doses.request_dose(actor, found.plan, data["dose"], timezone.localdate(),
                                       note, on_behalf=True)
            words = (f"Going back up to {mg(data['dose'])} from today. The reduction is paused "
                     "there; resume it whenever the patient is ready."
                     if asked.status == RequestStatus.APPLIED else
                     f"Asked for {mg(data['dose'])} for the patient: the prescriber will look at "
                     "it. The reduction is paused meanwhile.")
    except doses.Refused as refused:
        put_on(form, refused)
        return _page(request, status=400, control_form=form)
    messages.success(request, words)
    return _to_page(patient, "reduction")


# --- the dose-change sheet for the pharmacy ------------------------------------------------


def notice(request, patient_id, change_id):
    patient = request.patient
    change = get_object_or_404(
        DoseChange.objects.select_related("plan", "made_by", "request__asked_by",
                                          "request__answered_by", "reduction__created_by"),
        pk=change_id, plan__patient=patient, cancelled_at__isnull=True)
    plan = change.plan
    if change.day > timezone.localdate() and change.source == ChangeSource.REDUCTION:
        raise Http404("A planned step of a reduction gets its sheet once it is due.")
    medicine = doses.medicine_of(plan)
    previous = (plan.doses.filter(cancelled_at__isnull=True, day__lt=change.day)
                .order_by("-day", "-made_at").first())
    version = plan.versions.select_related("changed_by").filter(
        number=change.plan_version).first()
    terms = version.terms if version else {}
    context = {
        "patient": patient, "plan": plan, "change": change, "medicine": medicine,
        "per": per(medicine), "previous": previous, "version": version,
        "what": what_of(change), "agreed": _agreed(change, version),
        "pharmacy": terms.get("pharmacy", plan.pharmacy),
        "supervised_days": terms.get("supervised_days", plan.supervised_days),
        "take_home_days": terms.get("take_home_days", plan.take_home_days),
        "notice_line": NOTICE_LINE,
    }
    if request.GET.get("format") == "pdf":
        return pdf_response(request, "medication/notice.html", context,
                            f"dose-change-{patient.service_id}-{change.day.isoformat()}.pdf")
    return render(request, "medication/notice.html", context)


def _agreed(change: DoseChange, version) -> tuple[str, datetime.datetime]:
    """Who agreed this change, and when."""
    asked = change.request
    if asked is not None and asked.status == RequestStatus.APPROVED and asked.answered_by_id:
        return asked.answered_by.display_name, asked.answered_at
    if asked is not None and version is not None:  # applied at once, within the limits
        return (f"{version.changed_by.display_name} (the plan's limits; asked for by "
                f"{asked.asked_by.display_name})", change.made_at)
    if change.reduction is not None:
        return (f"{change.reduction.created_by.display_name} (a step of the reduction agreed "
                f"on {day_text(timezone.localdate(change.reduction.created_at))})",
                change.made_at)
    return change.made_by.display_name, change.made_at


# --- the service's settings ---------------------------------------------------------------


def settings_page(request):
    org = request.user.organisation
    found = (MedicationSettings.objects.filter(organisation=org).first()
             or MedicationSettings(organisation=org))
    form = SettingsForm(request.POST or None, instance=found)
    stale = None
    if request.method == "POST" and form.is_valid():
        try:
            _save_settings(Actor.of(request), form)
        except versioning.Stale as refused:
            stale = refused
            form = versioning.form_again(
                request, lambda data, instance: SettingsForm(data, instance=instance), refused)
        else:
            messages.success(request, "Medication settings saved.")
            return redirect("manage:medication")
    return render(request, "medication/staff/settings.html", {
        "form": form, "stale": stale is not None,
        "stale_changes": [{"label": c.label, "saved": c.saved_text, "yours": c.yours_text}
                          for c in stale.changes] if stale else []})


def _save_settings(actor, form):
    """Save over the version the page showed; the first save makes the row (if another admin
    made it meanwhile, that is a conflict like any other)."""
    try:
        with transaction.atomic():
            form.instance.updated_at = timezone.now()
            return versioning.save(form, actor, fields=[*form._meta.fields, "updated_at"])
    except IntegrityError:
        current = MedicationSettings.objects.get(organisation_id=actor.organisation_id)
        raise versioning.Stale(current, versioning.differences(form, current)) from None
