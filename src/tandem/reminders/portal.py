"""The patient's own page of reminders (/portal/reminders/): what was sent to them, and their
choices: the ways, the time of day, what about, whether to quote their goal. Plain words."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render

from tandem.outbox.models import Message, Status
from tandem.reminders.forms import PreferencesForm, save_choices
from tandem.reminders.models import Preferences

# What each status means to a patient.
STATUS_WORDS = {Status.QUEUED: "Waiting to be sent", Status.SENDING: "Being sent",
                Status.SENT: "Sent", Status.DELIVERED: "Arrived", Status.FAILED: "Did not arrive",
                Status.PRINTED: "Posted", Status.WITHDRAWN: "Not sent: no longer needed"}
HOW_WORDS = {"sms": "Text", "email": "Email", "letter": "Letter"}
WAY_WORDS = {"sms": "text message", "email": "email", "letter": "letter"}


class MyChoicesForm(PreferencesForm):
    """The patient's own form: the staff's, in the patient's words."""

    class Meta(PreferencesForm.Meta):
        labels = {"postal_address": "My postal address, for letters",
                  "quote_goal": "Quote one of my goals in my own words",
                  "name_the_service": "Use the service's full name"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("restart", None)  # choosing again is what starts them again
        self.fields["first"].label = "The first way to reach me"
        self.fields["second"].label = "If I don't answer"
        self.fields["third"].label = "Then"
        self.fields["kinds"].label = "Remind me about"

    def clean(self):
        data = super().clean()
        self.instance.opted_out_at = None  # choosing again starts them again
        return data


def reminders(request):
    patient = request.patient
    prefs = Preferences.objects.filter(patient=patient).first()
    sent = [{"when": m.sent_at or m.created_at, "what": m.subject or "A message",
             "how": HOW_WORDS.get(m.channel, m.channel), "status": STATUS_WORDS.get(m.status, "")}
            for m in Message.objects.filter(patient=patient).exclude(
                status=Status.WITHDRAWN).order_by("-created_at")[:30]]
    ways = [WAY_WORDS[c] for c in prefs.channel_list] if prefs else []
    return render(request, "reminders/portal_reminders.html",
                  {"prefs": prefs, "sent": sent, "patient": patient, "ways": ways})


@transaction.atomic
def choices(request):
    patient = request.patient
    stopped = Preferences.objects.filter(patient=patient, opted_out_at__isnull=False).exists()
    saved, form, stale = save_choices(request, patient, MyChoicesForm)
    if saved:
        messages.success(request, "Your choices are saved.")
        return redirect("portal:messages")
    return render(request, "reminders/portal_choices.html",
                  {"form": form, "stale": stale, "stopped": stopped})
