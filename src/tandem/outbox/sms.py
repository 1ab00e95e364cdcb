"""Text messages go through a small provider interface, chosen by the TANDEM_SMS_BACKEND
setting (a dotted path): a real provider is one subclass of `SmsBackend`. Unset outside the
demo and development, text messages are off (`problem()` says so, and staff cannot choose
them).

- `tandem.outbox.notify.NotifySmsBackend`: GOV.UK Notify, with its maintained client;
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
    def send(self, to: str, body: str, reference: str = "") -> str:
        """Send one text message; return the provider's id for it. `reference` is Tandem's
        own id of the message, kept by the provider with it (`find`). Raise SmsError (or any
        exception) when it was not sent."""
        raise NotImplementedError

    def find(self, reference: str) -> str | None:
        """The provider's id of the message it accepted with this `reference`, or None when
        it has none. Asked before a message a crash left "being sent" is sent again, so that
        a message the provider accepted is never sent twice. A provider that cannot be asked
        raises NotImplementedError (the message is then not sent again)."""
        raise NotImplementedError

    def status(self, provider_id: str) -> tuple[str, str] | None:
        """What the provider knows of a message now: ("delivered" | "failed" | "sent", the
        reason in words), or None when it cannot say (polled when no callback came)."""
        return None


class FileBackend(SmsBackend):
    """Writes each message to its own file in `directory` (TANDEM_OUTBOX_DIR/sms)."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory or Path(settings.OUTBOX_DIR) / "sms")

    def send(self, to: str, body: str, reference: str = "") -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        provider_id = uuid.uuid4().hex
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        # Named by the message's own reference, so `find` can look for it.
        path = self.directory / f"{stamp}-{reference or provider_id}.txt"
        path.write_text(f"To: {to}\nReference: {reference}\nId: {provider_id}\n\n{body}\n",
                        encoding="utf-8")
        return provider_id

    def find(self, reference: str) -> str | None:
        for path in self.directory.glob(f"*-{reference}.txt"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("Id: "):
                    return line[4:]
        return None

    def status(self, provider_id: str) -> tuple[str, str] | None:
        return ("delivered", "written to a file (demo)")


class LocmemBackend(SmsBackend):
    """Keeps each message in `LocmemBackend.outbox` as (to, body); tests empty it."""

    outbox: list[tuple[str, str]] = []
    references: dict[str, str] = {}  # Tandem's reference: the "provider's" id

    def send(self, to: str, body: str, reference: str = "") -> str:
        LocmemBackend.outbox.append((to, body))
        provider_id = f"locmem-{len(LocmemBackend.outbox)}"
        if reference:
            LocmemBackend.references[reference] = provider_id
        return provider_id

    def find(self, reference: str) -> str | None:
        return LocmemBackend.references.get(reference)


class FailingBackend(SmsBackend):
    """Refuses every message (tests of what a failure leaves)."""

    def send(self, to: str, body: str, reference: str = "") -> str:
        raise SmsError("the text message provider refused the message")

    def find(self, reference: str) -> str | None:
        return None


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
