"""The keyworker asks for a dose on the patient's behalf: the same rules, allowance and answers
as the patient's own page (views/portal.py), stored with `on_behalf`. The permission layer put
the patient on request.patient (CHANGE_PATIENT: on the care team as a practitioner, or their
team's lead)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from tandem.audit.actor import Actor
from tandem.medication.request_forms import DoseRequestForm
from tandem.medication.views.portal import ask, current_plan, dose_page, shaped


def on_behalf(request, patient_id):
    patient = request.patient
    plan = current_plan(patient)
    page = dose_page(plan, staff=True, patient=patient)
    form = shaped(DoseRequestForm(request.POST or None, on_behalf=True,
                                  initial={"from_day": page.default_day or page.today}), page)
    if request.method == "POST":
        done = ask(Actor.of(request), plan, form, on_behalf=True, staff=True)
        if done is not None:
            messages.success(request, done)
            return redirect("patients:medication", patient_id=patient.pk)
    return render(request, "medication/request_form.html", {
        "patient": patient, "page": page, "form": form, "current": "medication",
    })
