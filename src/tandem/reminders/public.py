"""The two pages a message's link opens without signing in: stopping the messages, and saying
"I can't come" to an appointment. The link's token is the only key; a wrong one is told
plainly, without saying whether anyone exists. Each use is on the patient's audit trail."""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.db.models import F
from django.http import HttpResponseNotFound
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone

from tandem.audit import trail
from tandem.audit.actor import Actor
from tandem.reminders import waiting
from tandem.reminders.models import Appointment, AppointmentStatus, Preferences


def _audit(request, action: str, patient, obj, detail: str) -> None:
    actor = Actor.of(request)
    trail.record(organisation=patient.organisation_id, action=action, patient=patient, obj=obj,
                 role="patient-link", path=actor.path, client=actor.address, detail=detail)


def _unknown(request):
    return HttpResponseNotFound(render_to_string("reminders/link_unknown.html", request=request))


def stop(request, token: str):
    """GET: what stopping means, and a button (a link opened by a mail scanner stops
    nothing). POST: no more reminders or invitations."""
    prefs = Preferences.objects.select_related("patient").filter(stop_token=token).first()
    if prefs is None:
        return _unknown(request)
    if request.method == "POST":
        with transaction.atomic():
            # A versioned row: a form open on it elsewhere notices (and cannot undo this).
            changed = Preferences.objects.filter(pk=prefs.pk, opted_out_at__isnull=True).update(
                opted_out_at=timezone.now(), version=F("version") + 1)
            if changed:
                prefs.refresh_from_db()
                waiting.after_choices(prefs, "Not sent: they stopped messages.")
                _audit(request, "update", prefs.patient, prefs,
                       "Stopped reminders from the link in a message")
        return redirect("stop", token=token)
    _audit(request, "read", prefs.patient, prefs, "Opened the stop link of a message")
    return render(request, "reminders/stop.html", {"stopped": prefs.opted_out_at is not None})


class CantComeForm(forms.Form):
    note = forms.CharField(label="Anything you want to tell us (optional)", required=False,
                           max_length=300, widget=forms.Textarea(attrs={"rows": 3}))


def appointment(request, token: str):
    """The appointment the reminder was about; "I can't come" cancels it and tells the
    keyworker (it shows on the patient's page)."""
    found = Appointment.objects.select_related("patient", "with_user").filter(token=token).first()
    if found is None:
        return _unknown(request)
    form = CantComeForm(request.POST or None)
    past = found.starts_at <= timezone.now()
    if request.method == "POST" and form.is_valid() and not past:
        with transaction.atomic():
            changed = Appointment.objects.filter(
                pk=found.pk, status=AppointmentStatus.BOOKED).update(
                status=AppointmentStatus.CANCELLED, cancelled_by_patient=True,
                cancel_note=form.cleaned_data["note"], cancelled_at=timezone.now())
            if changed:
                waiting.after_appointment(found, "Not sent: they said they can't come.")
                _audit(request, "update", found.patient, found,
                       "Said they can't come, from the link in a reminder")
        return redirect("appointment", token=token)
    _audit(request, "read", found.patient, found, "Opened an appointment from a reminder")
    return render(request, "reminders/appointment.html", {
        "appointment": found, "form": form,
        "past": past,
        "keyworker": found.with_user.first_name or found.with_user.display_name})
