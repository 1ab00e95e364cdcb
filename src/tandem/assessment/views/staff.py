"""Staff pages for check-ups: results (charts, tables, reliable change), entering a check-up
during a session or by phone, and one completed check-up's answers. Access was decided by
the permission layer; the patient is on request.patient."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst

from tandem.accounts.changes import differences, record_change
from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.assessment import registry, responses, schedules
from tandem.assessment.forms import AnswersForm, PatientScheduleForm, StartForm, posted, token
from tandem.assessment.models import CheckupSchedule, Response
from tandem.assessment.results import crisis_contacts, due_context, results_for
from tandem.audit.actor import Actor
from tandem.core.scoring import answer_text
from tandem.records.versioning import Change, Stale


def results(request, patient_id):
    patient = request.patient
    return render(request, "assessment/results.html", {
        "patient": patient,
        "results": results_for(patient),
        **due_context(patient),
        "can_change": request.access_role in CHANGES_RECORDS,
    })


@transaction.atomic
def new(request, patient_id):
    patient = request.patient
    available = registry.available(patient.organisation)
    form = StartForm(request.POST or None, instruments=available,
                     initial={"instrument": request.GET.get("instrument")})
    if request.method == "POST" and form.is_valid():
        response = responses.start(Actor.of(request), patient,
                                  available[form.cleaned_data["instrument"]],
                                  mode=form.cleaned_data["mode"])
        if response.mode != form.cleaned_data["mode"]:
            response.mode = form.cleaned_data["mode"]
            response.save(update_fields=["mode"])
        return redirect("patients:checkup-entry", patient_id=patient.pk, response_id=response.pk)
    return render(request, "assessment/new.html", {"form": form, "patient": patient})


def entry(request, patient_id, response_id):
    """The whole questionnaire on one page; "Save draft" keeps what was typed, "Finish" scores."""
    patient = request.patient
    response = get_object_or_404(Response, pk=response_id, patient=patient)
    if not response.is_draft:
        return redirect("patients:checkup-detail", patient_id=patient.pk, response_id=response.pk)
    instrument = registry.get(patient.organisation, response.instrument_code)
    if instrument is None:
        raise Http404("This questionnaire is no longer in use.")
    form = AnswersForm(posted(request), instrument=instrument, answers=response.answers,
                       staff=True)
    urgent = []
    if request.method == "POST":
        finishing = request.POST.get("action") == "finish"
        form.is_valid()
        if finishing:  # unanswered questions are reported together with wrong answers
            form.add_item_errors({
                item.id: responses.REQUIRED for item in instrument.items
                if item.required and not form.answers()[item.id].strip()
                and f"item_{item.id}" not in form.errors
            })
        if not form.errors:
            try:
                # Saved (and any safety answer flagged) before finishing is tried: a problem
                # found on finishing leaves the draft and its flags in place.
                actor = Actor.of(request)
                urgent = responses.save_answers(actor, response, instrument, form.answers())
                if finishing:
                    responses.submit(actor, response, instrument)
            except responses.AnswersInvalid as exc:
                form.add_item_errors(exc.errors)
            else:
                _say_urgent(request, urgent)
                if finishing:
                    messages.success(request, f"{instrument.name} completed and scored.")
                    return redirect("patients:checkup-detail", patient_id=patient.pk,
                                    response_id=response.pk)
                messages.success(request, "Draft saved.")
                return redirect("patients:checkup-entry", patient_id=patient.pk,
                                response_id=response.pk)
    urgent = [f for f in urgent if f.severity == "urgent"]
    return render(request, "assessment/entry.html", {
        "patient": patient, "response": response, "instrument": instrument, "form": form,
        "urgent": urgent, "contacts": crisis_contacts(patient.organisation) if urgent else [],
    })


SCHEDULE_WORDS = "weeks between check-ups for this patient"


@transaction.atomic
def schedule(request, patient_id):
    patient = request.patient
    schedules.refresh_schedule(patient)  # makes the row if there is none yet
    instance = CheckupSchedule.objects.select_for_update().get(patient=patient)
    before = instance.interval_weeks
    default = schedules.settings_for(patient.organisation).interval_weeks
    form = PatientScheduleForm(request.POST or None, instance=instance)
    stale = None
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["version"] != token(before):
            # Someone saved since this page was opened (or the form says nothing of when it
            # was opened): nothing is saved; the form keeps what was typed, now carrying the
            # current version, so saving again replaces theirs knowingly.
            typed = form.cleaned_data["interval_weeks"]
            label = capfirst(SCHEDULE_WORDS)
            changes = [] if typed == before else [
                Change("interval_weeks", label, before, typed, _weeks(before), _weeks(typed))]
            stale = Stale(instance, changes)
            data = request.POST.copy()
            data["version"] = token(before)
            instance.interval_weeks = before
            form = PatientScheduleForm(data, instance=instance)
        else:
            form.save()
            schedules.refresh_schedule(patient)
            changes = differences([(SCHEDULE_WORDS, _weeks(before),
                                    _weeks(instance.interval_weeks))])
            # The patient named, so that their "who looked at my record" lists it.
            record_change(Actor.of(request), "update", instance, changes, patient=patient)
            messages.success(request, "Check-up schedule saved.")
            return redirect("patients:checkups", patient_id=patient.pk)
    form.fields["interval_weeks"].help_text = (
        f"Leave blank to use the service's interval ({default} weeks).")
    return render(request, "assessment/schedule.html",
                  {"form": form, "patient": patient, "stale": stale})


def _weeks(interval: int | None) -> str:
    return "(service's setting)" if interval is None else str(interval)


def _say_urgent(request, flags):
    for flag in flags:
        if flag.severity == "urgent":
            messages.warning(request, f"Urgent alert recorded for the care team: "
                             f"{flag.evidence} Give the patient the crisis contacts now.")
        else:
            messages.warning(request, f"Recorded for the care team: {flag.evidence}")


def detail(request, patient_id, response_id):
    patient = request.patient
    response = get_object_or_404(Response, pk=response_id, patient=patient)
    instrument = registry.get(patient.organisation, response.instrument_code)
    answers = []
    if instrument is not None:
        answers = [(item, answer_text(instrument, item.id, response.answers.get(item.id)))
                   for item in instrument.items]
    scales = []
    if instrument is not None and response.scores:
        for scale in instrument.scales:
            scales.append((scale, response.scores.get(scale.code)))
    return render(request, "assessment/detail.html", {
        "patient": patient, "response": response, "instrument": instrument, "answers": answers,
        "scales": scales, "flags": list(response.flags.all()),
        "contacts": crisis_contacts(patient.organisation),
        "can_change": request.access_role in CHANGES_RECORDS,
    })
