"""Staff pages for flags, contacts, re-engagement and the timeline. Access was decided by the
permission layer; the patient the URL names is on `request.patient`."""


from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render

from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.assessment.forms import posted
from tandem.audit.actor import Actor
from tandem.core.flags import SEVERITY_ORDER
from tandem.monitoring import services, timeline
from tandem.monitoring.forms import (
    ContactForm,
    ReengageForm,
    ResolveForm,
)
from tandem.monitoring.models import Flag
from tandem.patients.models import EpisodeStatus


def flags(request, patient_id):
    patient = request.patient
    all_flags = list(patient.flags.select_related("acknowledged_by", "resolved_by"))
    open_ = sorted([f for f in all_flags if f.is_open],
                   key=lambda f: (SEVERITY_ORDER[f.severity], -f.raised_at.timestamp()))
    return render(request, "monitoring/flags.html", {
        "patient": patient, "open_flags": open_,
        "closed_flags": [f for f in all_flags if not f.is_open],
        "can_change": request.access_role in CHANGES_RECORDS,
    })


@transaction.atomic
def flag(request, patient_id, flag_id):
    patient = request.patient
    item = get_object_or_404(Flag.objects.select_for_update() if request.method == "POST"
                             else Flag.objects.all(), pk=flag_id, patient=patient)
    form = ResolveForm(prefix="resolve")
    if request.method == "POST":
        if "acknowledge" in request.POST:
            services.acknowledge(Actor.of(request), item)
            messages.success(request, "Flag acknowledged: the care team can see you have it.")
            return redirect("patients:flag", patient_id=patient.pk, flag_id=item.pk)
        form = ResolveForm(posted(request), prefix="resolve")
        if not item.is_open:
            messages.info(request, "This flag was already resolved.")
            return redirect("patients:flag", patient_id=patient.pk, flag_id=item.pk)
        if form.is_valid():
            services.resolve(Actor.of(request), item, form.cleaned_data["action_taken"],
                             in_error=form.cleaned_data["in_error"])
            messages.success(request, "Flag resolved. It stays in their history.")
            return redirect("patients:detail", patient_id=patient.pk)
    monitoring = patient.episodes.filter(status=EpisodeStatus.MONITORING).exists()
    return render(request, "monitoring/flag.html", {
        "patient": patient, "flag": item, "form": form,
        "can_reengage": monitoring or not patient.episodes.filter(
            status=EpisodeStatus.ACTIVE).exists(),
    })


@transaction.atomic
def contact_new(request, patient_id):
    patient = request.patient
    form = ContactForm(posted(request), patient=patient)
    if request.method == "POST" and form.is_valid():
        services.record_contact(Actor.of(request), patient, form)
        messages.success(request, "Contact recorded.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "monitoring/contact_new.html", {"form": form, "patient": patient})


@transaction.atomic
def reengage(request, patient_id):
    patient = request.patient
    prompting = _flag_named(patient, request.GET.get("flag") or request.POST.get("flag"))
    form = ReengageForm(posted(request), patient=patient)
    if request.method == "POST" and form.is_valid():
        episode, plan = services.reengage(Actor.of(request), patient, form, prompting)
        text = "New episode started. The care team is unchanged"
        text += (", and their last plan is a draft to revisit together." if plan else ".")
        messages.success(request, text)
        return redirect("patients:plan" if plan else "patients:detail", patient_id=patient.pk)
    return render(request, "monitoring/reengage.html", {
        "form": form, "patient": patient, "prompting": prompting,
        "in_treatment": patient.episodes.filter(status=EpisodeStatus.ACTIVE).exists(),
    })


def _flag_named(patient, flag_id):
    """The patient's flag with this id, or None (also for a missing or malformed id)."""
    try:
        return patient.flags.filter(pk=flag_id).first() if flag_id else None
    except ValidationError:
        return None


def patient_timeline(request, patient_id):
    patient = request.patient
    return render(request, "monitoring/timeline.html", {
        "patient": patient, "events": timeline.events(patient),
        "can_change": request.access_role in CHANGES_RECORDS,
    })
