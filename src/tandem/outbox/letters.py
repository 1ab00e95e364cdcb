"""Letters: printed by the service (the default: a PDF batch on the "Letters to post" page), or
sent through a provider, chosen by TANDEM_LETTER_BACKEND (a dotted path; unset: printed by the
service). A provider is one subclass of `LetterBackend`; GOV.UK Notify's is
`tandem.outbox.notify.NotifyLetterBackend`. A letter's recipient is its postal address, one
line a line."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


class LetterBackend:
    def send(self, name: str, address: list[str], body: str, reference: str = "") -> str:
        """Post one letter; return the provider's id. Raise when it was not accepted."""
        raise NotImplementedError

    def find(self, reference: str) -> str | None:
        raise NotImplementedError


def by_provider() -> bool:
    """Whether letters go through a provider (else the service prints them)."""
    return bool(getattr(settings, "LETTER_BACKEND", ""))


def backend() -> LetterBackend:
    return import_string(settings.LETTER_BACKEND)()
