"""Staff pages of one patient's messages: their choices, what was sent and how it went, and
their appointments."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from tandem.accounts.models import User
from tandem.accounts.permissions import CHANGES_RECORDS
from tandem.audit.actor import Actor
from tandem.audit.trail import record_by
from tandem.outbox import letters
from tandem.outbox import services as outbox
from tandem.outbox.models import Channel, Message, Status
from tandem.patients.access import changeable_patients
from tandem.patients.models import active_membership
from tandem.reminders import letters as printing
from tandem.reminders import waiting
from tandem.reminders.forms import CHANNEL_WORDS, AppointmentForm, PreferencesForm, save_choices
from tandem.reminders.models import Appointment, AppointmentStatus, Preferences

SHOWN = 50
STAFF_WORDS = {"checkups": "check-ups", "plan": "their plan", "medication": "their medication",
               "appointments": "appointments"}
LETTERS_AT_ONCE = 500  # one PDF at most; the page says when more are waiting


def _choices(patient) -> Preferences | None:
    return Preferences.objects.filter(patient=patient).first()


def messages_page(request, patient_id):
    patient = request.patient
    prefs = _choices(patient)
    sent = list(Message.objects.filter(patient=patient).order_by("-created_at")[:SHOWN])
    now = timezone.now()
    appointments = list(Appointment.objects.filter(patient=patient).select_related("with_user")
                        .order_by("-starts_at")[:20])
    return render(request, "reminders/messages.html", {
        "patient": patient, "current": "messages", "prefs": prefs, "sent": sent,
        "ways": [CHANNEL_WORDS[c] for c in prefs.channel_list] if prefs else [],
        "kinds": [STAFF_WORDS[g] for g in prefs.group_list if g in STAFF_WORDS] if prefs else [],
        "upcoming": [a for a in appointments if a.starts_at > now][::-1],
        "past": [a for a in appointments if a.starts_at <= now],
        "can_change": getattr(request, "access_role", "") in CHANGES_RECORDS})


@transaction.atomic
def choices(request, patient_id):
    patient = request.patient
    saved, form, stale = save_choices(request, patient, PreferencesForm)
    if saved:
        messages.success(request, "Their choices for messages are saved.")
        return redirect("patients:messages", patient_id=patient.pk)
    return render(request, "reminders/choices.html",
                  {"patient": patient, "form": form, "stale": stale})


def _staff(patient):
    """Who an appointment can be with: the patient's care team today, with an account."""
    today = timezone.localdate()
    return User.objects.filter(active_membership(today, "care_roles__"),
                               care_roles__care_team__patient=patient,
                               is_active=True).distinct().order_by("first_name")


@transaction.atomic
def appointment_new(request, patient_id):
    patient = request.patient
    form = AppointmentForm(request.POST or None, staff=_staff(patient),
                           initial={"with_user": request.user.pk})
    if request.method == "POST" and form.is_valid():
        appointment = form.save(commit=False)
        appointment.organisation, appointment.patient = patient.organisation, patient
        appointment.created_by = request.user
        appointment.save()
        record_by(Actor.of(request), "create", patient=patient, obj=appointment)
        messages.success(request, "Appointment booked. A reminder goes the day before, if "
                                  "they want appointment reminders.")
        return redirect("patients:messages", patient_id=patient.pk)
    return render(request, "reminders/appointment_new.html", {"patient": patient, "form": form})


@transaction.atomic
def appointment_cancel(request, patient_id, appointment_id):
    patient = request.patient
    appointment = get_object_or_404(Appointment, pk=appointment_id, patient=patient)
    if request.method == "POST" and appointment.status == AppointmentStatus.BOOKED:
        Appointment.objects.filter(pk=appointment.pk, status=AppointmentStatus.BOOKED).update(
            status=AppointmentStatus.CANCELLED, cancelled_at=timezone.now(),
            version=appointment.version + 1)
        waiting.after_appointment(appointment, "Not sent: the appointment was cancelled.")
        record_by(Actor.of(request), "update", patient=patient, obj=appointment)
        messages.success(request, "Appointment cancelled. Tell them; no reminder will go.")
    return redirect("patients:messages", patient_id=patient.pk)


# --- letters to post (for services that post their own) ------------------------------------


def _letters(request):
    """Letters waiting to be posted, of the patients this person may change, oldest first.
    With a letter provider, only those it could not post (it posts the rest)."""
    status = Status.FAILED if letters.by_provider() else Status.QUEUED
    return (Message.objects.filter(channel=Channel.LETTER, status=status,
                                   patient__in=changeable_patients(request.user),
                                   patient__do_not_contact=False)
            .exclude(recipient="").select_related("patient").order_by("created_at"))


def letters_page(request):
    waiting = list(_letters(request)[:LETTERS_AT_ONCE])
    request.shown_patients = [m.patient_id for m in waiting]
    return render(request, "reminders/letters_page.html", {
        "letters": waiting, "by_provider": letters.by_provider(),
        "more": _letters(request).count() > len(waiting)})


def letters_pdf(request):
    waiting = list(_letters(request)[:LETTERS_AT_ONCE])
    request.shown_patients = [m.patient_id for m in waiting]
    try:
        document = printing.letters_pdf(waiting)
    except (ImportError, OSError):  # no Pango on this server (README)
        return render(request, "planning/pdf_unavailable.html", status=503)
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="letters-{timezone.localdate():%Y-%m-%d}.pdf"')
    return response


@transaction.atomic
def letters_posted(request):
    """Mark the letters that were in the PDF as posted (the ids the page listed): a letter
    written since is not marked by mistake."""
    ids = request.POST.getlist("letter")
    waiting = _letters(request).filter(pk__in=[i for i in ids if _is_uuid(i)])
    count = 0
    for message in waiting:
        outbox.printed(message)
        record_by(Actor.of(request), "update", patient=message.patient, obj=message)
        count += 1
    messages.success(request, f"{count} letter{'s' if count != 1 else ''} marked as posted.")
    return redirect("patients:letters")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
