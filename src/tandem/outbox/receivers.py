"""What the outbox does when a patient's record changes: "do not contact" recorded withdraws
every message still waiting to be sent or printed for them (in the saving transaction)."""

from __future__ import annotations

from django.dispatch import receiver

from tandem.outbox import services
from tandem.outbox.models import Message
from tandem.patients import events

NOT_TO_BE_CONTACTED = "Not sent: \"do not contact\" was recorded."


@receiver(events.contact_stopped)
def contact_stopped(sender, patient, **kwargs):
    services.withdraw(Message.objects.filter(patient=patient), NOT_TO_BE_CONTACTED)
