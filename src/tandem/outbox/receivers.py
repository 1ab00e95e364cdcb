"""What the outbox does when a patient's record changes: "do not contact" recorded withdraws
every message still waiting to be sent or posted to them (in the saving transaction); a letter
to hand over in person stays. What a race writes after it, the worker withdraws
(`services.send_due`, `services.deliver`)."""

from __future__ import annotations

from django.dispatch import receiver

from tandem.outbox import services
from tandem.outbox.models import Message
from tandem.patients import events


@receiver(events.contact_stopped)
def contact_stopped(sender, patient, **kwargs):
    services.withdraw(services.not_to_be_contacted(Message.objects.filter(patient=patient)),
                      services.NOT_TO_BE_CONTACTED)
