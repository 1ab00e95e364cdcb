"""Invitations to the portal, and the codes of text-message password resets.

Neither keeps a secret as it was sent: a link's token and a short code are kept as keyed
digests (`digest`), so someone reading the database cannot use an open invitation."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tandem.records.models import PatientRecord, TenantModel

# Short codes are typed from a letter: no 0/O, 1/I/L, 2/Z, 5/S, 8/B to confuse.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 8
WRONG_BIRTH_DATES = 5  # an invitation is locked after this many wrong dates of birth


def digest(value: str, purpose: str) -> str:
    """A keyed digest (HMAC-SHA256 with the secret key) of a token or code."""
    return salted_hmac(f"tandem.portal_access.{purpose}", value,
                       algorithm="sha256").hexdigest()


def normalise_code(typed: str) -> str:
    """A code as typed (any case, spaces or dashes) as it is kept."""
    return "".join(ch for ch in typed.upper() if ch.isalnum())


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def show_code(code: str) -> str:
    """ABCD-EFGH: easier to read out and type."""
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code


class Invitation(PatientRecord):
    """One invitation to the portal: single use, open until `expires_at`, voided by the next
    one (or a suspension), locked after WRONG_BIRTH_DATES wrong dates of birth."""

    channel = models.CharField(max_length=10)  # outbox Channel: email, sms or letter
    token_digest = models.CharField(max_length=64, unique=True)
    code_digest = models.CharField(max_length=64, db_index=True)
    message = models.ForeignKey("outbox.Message", on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="+")
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["patient", "created_at"])]

    def __str__(self) -> str:
        return f"Portal invitation of {self.patient_id} by {self.channel}"

    def problem(self, now=None) -> str | None:
        """Why it cannot be used now ("used", "voided", "locked", "expired"), or None."""
        now = now or timezone.now()
        if self.used_at:
            return "used"
        if self.voided_at:
            return "voided"
        if self.locked_at:
            return "locked"
        if now >= self.expires_at:
            return "expired"
        return None

    @property
    def is_open(self) -> bool:
        return self.problem() is None

    @property
    def tries_left(self) -> int:
        return max(0, WRONG_BIRTH_DATES - self.failed_attempts)


class ResetCode(TenantModel):
    """A 6-digit code sent by text message to reset a portal password: for 15 minutes, five
    tries, once."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"Password reset code of user {self.user_id}"


class Throttle(models.Model):
    """How often one client address did one thing on the public pages (/join/) in one
    window of time: typed a wrong invitation code, asked for a reset, typed a wrong reset
    code. One row per (address, purpose, window), counted up in the database, so that every
    app server sees the same count (services.throttle); rows of past windows are removed as
    new ones are made. The rows are also the trace of wrong codes that matched nothing, and
    so belong to no organisation's audit trail."""

    address = models.CharField(max_length=64)
    purpose = models.CharField(max_length=20)
    window = models.DateTimeField(help_text="When the window began.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address", "purpose", "window"],
                                               name="portal_access_throttle_once")]
        indexes = [models.Index(fields=["window"])]

    def __str__(self) -> str:
        return f"{self.purpose} from {self.address}: {self.count} since {self.window}"
