"""The outbox: every message Tandem sends to a patient (email, text message, letter), one row
each, with its delivery status (FHIR Communication: a message sent; its status follows
Communication.status where one fits: "sent" is "completed", "failed" is "stopped").

It carries portal invitations and password resets (tandem.portal_access) and reminders
(tandem.reminders), with their delivery reports. `ServiceWording` is how every message names
the service (tandem.outbox.naming). A message is
written first, then sent once the transaction that wrote it has committed
(tandem.outbox.services), so nothing is sent for a change that was rolled back, and a message
that could not be sent stays here, failed with the reason, for the worker to try again."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tandem.accounts.models import Organisation
from tandem.records.models import TenantModel, TenantQuerySet, Versioned


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message"
    LETTER = "letter", "Letter"


class Status(models.TextChoices):
    QUEUED = "queued", "Waiting to be sent"
    # Taken by a worker (or a page sending it at once) and handed to the provider; a message
    # left here by a crash is looked up at the provider by its id before it is ever sent again
    # (services.recover_stuck).
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"  # the provider says it arrived (FHIR: completed)
    FAILED = "failed", "Could not be sent"
    PRINTED = "printed", "Printed by staff"  # letters are printed, never sent
    # Not sent, and never will be: what it carried no longer works (an invitation replaced,
    # stopped, used or expired); its secrets are removed.
    WITHDRAWN = "withdrawn", "Not sent: no longer needed"


class Message(TenantModel):
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="messages")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=254, blank=True,
                                 help_text="An email address or a phone number; empty for a "
                                           "letter handed over in person.")
    kind = models.CharField(max_length=40, help_text='What it is, e.g. "portal-invitation".')
    subject = models.CharField(max_length=200, blank=True)
    # The text as it will be (or was) sent. A secret in it (a link's token, a code) is marked
    # (services.secret) and replaced once the message is sent or printed, given up (tried
    # MAX_ATTEMPTS times, or older than RETRY_WITHIN) or withdrawn, so the table does not
    # keep working secrets.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Planned messages (reminders): what makes this message the one of its kind, so that the
    # same reminder is written once however often it is planned (unique in the organisation),
    # e.g. "checkup-soon:<schedule>:2026-03-04".
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    # Not sent before this (the patient's quiet hours; a retry's pause), nor after `expires_at`
    # (a reminder about a day that has passed). Without `expires_at`, RETRY_WITHIN applies.
    send_after = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The patient's window of the day for messages (local times), kept so that a retry or a
    # backlog never sends outside it. None: any time.
    window_opens = models.TimeField(null=True, blank=True)
    window_closes = models.TimeField(null=True, blank=True)
    # Taken to be sent (SENDING): when, and the claim's own random id, so each sender
    # updates only what it took itself.
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"]),
                   models.Index(fields=["patient", "created_at"]),
                   # The worker's queue: what is waiting and may go now, oldest first.
                   models.Index(fields=["status", "send_after"], name="outbox_due")]
        constraints = [models.UniqueConstraint(fields=["organisation", "dedupe_key"],
                                               name="outbox_message_once")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.kind}) to {self.recipient or 'patient'}"


class ServiceWording(Versioned):
    organisation = models.OneToOneField(Organisation, on_delete=models.CASCADE,
                                        related_name="+")
    everyday_name = models.CharField(
        max_length=60, help_text='The name messages use, e.g. "Riverside". It must not say '
                                 "what the service does.")
    other_names = models.TextField(
        blank=True, max_length=1000,
        help_text="The service's clinical names, one a line: no message carries them unless "
                  "the patient chose that.")

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return self.everyday_name

    @property
    def clinical_names(self) -> list[str]:
        return [n.strip() for n in self.other_names.splitlines() if n.strip()]
