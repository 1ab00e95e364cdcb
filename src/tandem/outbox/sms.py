"""Text messages go through a small provider interface, chosen by the TANDEM_SMS_BACKEND
setting (a dotted path): a real provider is one subclass of `SmsBackend`. Unset outside the
demo and development, text messages are off (`problem()` says so, and staff cannot choose
them).

- `FileBackend` (the default of the demo and of TANDEM_DEBUG): one file per message in
  TANDEM_OUTBOX_DIR/sms, readable by a person or a test. Never a service's provider: outside
  the demo and development texts are then refused, and `tandem check` fails (outbox.E002);
- `LocmemBackend`: kept in memory (`LocmemBackend.outbox`), for tests (like Django's locmem
  email backend);
- `FailingBackend`: refuses every message, for tests of what a failure leaves.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The provider refused or could not be reached; the words say why."""


class SmsBackend:
    def send(self, to: str, body: str) -> str:
        """Send one text message; return the provider's reference for it. Raise SmsError
        (or any exception) when it was not sent."""
        raise NotImplementedError


class FileBackend(SmsBackend):
    """Writes each message to its own file in `directory` (TANDEM_OUTBOX_DIR/sms)."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory or Path(settings.OUTBOX_DIR) / "sms")

    def send(self, to: str, body: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        reference = uuid.uuid4().hex
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{stamp}-{reference}.txt"
        path.write_text(f"To: {to}\nReference: {reference}\n\n{body}\n", encoding="utf-8")
        return reference


class LocmemBackend(SmsBackend):
    """Keeps each message in `LocmemBackend.outbox` as (to, body); tests empty it."""

    outbox: list[tuple[str, str]] = []

    def send(self, to: str, body: str) -> str:
        LocmemBackend.outbox.append((to, body))
        return f"locmem-{len(LocmemBackend.outbox)}"


class FailingBackend(SmsBackend):
    """Refuses every message (tests of what a failure leaves)."""

    def send(self, to: str, body: str) -> str:
        raise SmsError("the text message provider refused the message")


FILE_BACKEND = "tandem.outbox.sms.FileBackend"
NOT_SET_UP = "Text messages are not set up for this service."


def files_allowed() -> bool:
    """Messages kept as local files are fine only for the demo and development."""
    return bool(settings.DEBUG or getattr(settings, "DEMO", False))


def problem() -> str | None:
    """Why text messages cannot be sent by this service (None: they can)."""
    if not settings.SMS_BACKEND:
        return NOT_SET_UP
    if settings.SMS_BACKEND == FILE_BACKEND and not files_allowed():
        return NOT_SET_UP
    return None


def backend() -> SmsBackend:
    if not settings.SMS_BACKEND:
        raise SmsError(NOT_SET_UP)
    return import_string(settings.SMS_BACKEND)()
