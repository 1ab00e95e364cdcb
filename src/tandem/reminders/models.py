"""Reminders: what each patient chose, the service's wording, and appointments.

- `Preferences`: one per patient. The channels they agreed to in their order, the part of the
  day messages may arrive, which kinds they want, whether their goal may be quoted and whether
  the messages may name the service's clinical name; the opt-out link's token (the patient,
  without signing in). A patient with no row is sent no reminders. "Do not contact" is on the
  patient's details (tandem.patients), where every sender reads it.
- The service's everyday name and clinical names are tandem.outbox's `ServiceWording`: every
  message reads them, not only reminders.
- `Template`: the service's own wording of one kind of message (Tandem's defaults,
  tandem.core.reminders.DEFAULT_TEMPLATES, until it writes one).
- `Appointment`: when, where or by phone or video, with whom (FHIR Appointment: status
  booked | cancelled; a patient's "I can't come" is a cancellation by the patient).
"""

from __future__ import annotations

import datetime
import secrets

from django.db import models
from django.utils import timezone

from tandem.accounts.models import Organisation, User
from tandem.core import reminders as rules
from tandem.records.models import PatientRecord, TenantModel, TenantQuerySet, Versioned

CHANNELS = (("sms", "Text message"), ("email", "Email"), ("letter", "Letter"))

# The kinds of message, grouped as a patient chooses them.
GROUPS = {
    "checkups": ("Check-ups: before, on the day, and a reminder if missed",
                 ("checkup-soon", "checkup-today", "checkup-late", "after-treatment")),
    "plan": ("My plan: reviews coming up, a plan to sign, answers to changes I asked for",
             ("plan-review-soon", "plan-to-sign", "change-answered")),
    "medication": ("My medication: reviews coming up, answers to dose requests",
                   ("medication-review-soon", "dose-request-answered")),
    "appointments": ("Appointments: a reminder the day before",
                     ("appointment-tomorrow",)),
}
GROUP_OF = {kind: group for group, (_words, kinds) in GROUPS.items() for kind in kinds}
# Invitations the patient answers by doing a check-up: two unanswered, and the next goes
# another way (core.reminders.next_channel).
INVITATIONS = ("checkup-soon", "checkup-today", "checkup-late", "after-treatment")


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Preferences(TenantModel, Versioned):
    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE,
                                   related_name="reminder_preferences")
    # The channels agreed to, most wanted first, e.g. "sms,letter".
    channels = models.CharField(max_length=40, blank=True)
    window_opens = models.TimeField("messages from", default=datetime.time(9, 0))
    window_closes = models.TimeField("messages until", default=datetime.time(20, 0))
    groups = models.CharField(max_length=100, default="checkups,plan,medication,appointments",
                              blank=True)
    quote_goal = models.BooleanField(
        "quote my goal", default=False,
        help_text="A goal in your own words may be quoted in reminders.")
    name_the_service = models.BooleanField(
        "use the service's full name", default=False,
        help_text="Messages may use the service's full name and say what it does. Without "
                  "this, messages use only its everyday name and say nothing about what it is.")
    postal_address = models.TextField(blank=True, max_length=250)
    stop_token = models.CharField(max_length=64, unique=True, default=new_token)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"Reminder choices of {self.patient_id}"

    @property
    def channel_list(self) -> list[str]:
        return [c for c in self.channels.split(",") if c]

    @property
    def group_list(self) -> list[str]:
        return [g for g in self.groups.split(",") if g]

    @property
    def window(self) -> rules.Window:
        return rules.Window(self.window_opens, self.window_closes)

    @property
    def stopped(self) -> bool:
        """They stopped messages from a link, or staff recorded "do not contact" (on their
        details, `Patient.do_not_contact`)."""
        return self.opted_out_at is not None or self.patient.do_not_contact


class Template(Versioned):
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    subject = models.CharField("email subject and letter heading", max_length=150)
    text = models.CharField("text message", max_length=612)  # four text message parts
    body = models.TextField("email and letter", max_length=3000)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "kind"],
                                               name="reminder_template_once")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.organisation_id}"

    @property
    def wording(self) -> rules.Template:
        return rules.Template(self.subject, self.text, self.body)


class AppointmentHow(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "By phone"
    VIDEO = "video", "By video"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class Appointment(PatientRecord, Versioned):
    starts_at = models.DateTimeField("date and time")
    how = models.CharField(max_length=12, choices=AppointmentHow.choices,
                           default=AppointmentHow.IN_PERSON)
    place = models.CharField(max_length=200, blank=True,
                             help_text="Where, for a meeting in person (e.g. the Riverside "
                                       "centre, room 2).")
    with_user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                  verbose_name="with")
    status = models.CharField(max_length=12, choices=AppointmentStatus.choices,
                              default=AppointmentStatus.BOOKED)
    cancelled_by_patient = models.BooleanField(default=False)
    cancel_note = models.CharField(max_length=300, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["organisation", "status", "starts_at"]),
                   models.Index(fields=["patient", "starts_at"])]

    def __str__(self) -> str:
        return f"Appointment on {timezone.localtime(self.starts_at):%d %b %Y %H:%M}"

    @property
    def where(self) -> str:
        if self.how == AppointmentHow.IN_PERSON:
            return self.place
        return self.get_how_display().lower()


class PlanningRun(models.Model):
    """One day's planning of reminders. The unique day means one run a day however many
    workers there are (tandem.reminders.tasks.plan_due)."""

    day = models.DateField(unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Reminders of {self.day}"
