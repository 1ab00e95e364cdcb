"""Reminders already planned but not yet sent, when what they were for changes: the patient
stopped them or chose otherwise, "do not contact" was recorded, an appointment was cancelled,
a check-up was done before its invitation went. They are withdrawn (not sent, with the reason
on the patient's Messages page); tomorrow's planning follows the new choices."""

from __future__ import annotations

from django.db.models import Q

from tandem.outbox import services as outbox
from tandem.outbox.models import Message
from tandem.reminders.models import GROUP_OF, INVITATIONS, Preferences


def _planned(patient_id):
    return Message.objects.filter(patient_id=patient_id, dedupe_key__isnull=False)


def after_choices(prefs: Preferences, reason: str) -> int:
    """Withdraw what the patient's choices no longer allow: everything when they stopped
    messages or are not to be contacted; else what goes by a way they no longer chose, or is
    about something they no longer want."""
    waiting = _planned(prefs.patient_id)
    if not prefs.stopped:
        unwanted = [kind for kind, group in GROUP_OF.items() if group not in prefs.group_list]
        waiting = waiting.filter(~Q(channel__in=prefs.channel_list) | Q(kind__in=unwanted))
    return outbox.withdraw(waiting, reason)


def after_appointment(appointment, reason: str) -> int:
    return outbox.withdraw(_planned(appointment.patient_id).filter(
        dedupe_key__startswith=f"appointment-tomorrow:{appointment.pk}:"), reason)


def after_checkups(patient_ids) -> int:
    """Check-ups done: the invitations to them still waiting are not needed."""
    ids, changed = list(patient_ids), 0
    for start in range(0, len(ids), 2000):
        changed += outbox.withdraw(Message.objects.filter(
            patient_id__in=ids[start:start + 2000], dedupe_key__isnull=False,
            kind__in=INVITATIONS), "Not needed: the check-up was done.")
    return changed
