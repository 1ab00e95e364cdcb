"""Text messages go through a small provider interface, chosen by the TANDEM_SMS_BACKEND
setting (a dotted path): a real provider is one subclass of `SmsBackend`.

- `FileBackend` (the default): one file per message in TANDEM_OUTBOX_DIR/sms, for the demo
  and development, readable by a person or a test;
- `LocmemBackend`: kept in memory (`LocmemBackend.outbox`), for tests.
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


def backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
