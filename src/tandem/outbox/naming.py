"""How messages name the service: by its everyday name ("Riverside"), never by a name that
says what it does unless the patient chose that. Every message reads it: reminders, portal
invitations and password resets alike."""

from __future__ import annotations

from dataclasses import dataclass

from tandem.core.reminders import words_that_tell
from tandem.outbox.models import ServiceWording

NEUTRAL = "your service"  # when the service chose no everyday name and its own name tells


@dataclass(frozen=True)
class Names:
    everyday: str  # the name every message uses
    clinical: tuple[str, ...]  # the names no message carries unless the patient chose that
    full: str  # the service's own name, for patients who chose messages that name it


def names_of(organisation, wording: ServiceWording | None) -> Names:
    """The service's own name counts as clinical unless the service chose it as its everyday
    name; with no everyday name chosen, its own name is used only when it tells nothing,
    else "your service"."""
    clinical = wording.clinical_names if wording else []
    if wording and wording.everyday_name:
        everyday = wording.everyday_name
    elif not words_that_tell(organisation.name, clinical):
        everyday = organisation.name
    else:
        everyday = NEUTRAL
    if organisation.name != everyday:
        clinical = [organisation.name, *clinical]
    return Names(everyday, tuple(clinical), organisation.name)


def everyday_name(organisation) -> str:
    return names_of(organisation,
                    ServiceWording.objects.of(organisation).first()).everyday
