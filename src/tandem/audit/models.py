"""The append-only audit trail (FHIR AuditEvent). No code path updates or deletes an event."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tandem.core.audit_chain import canonical_time


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events cannot be changed")

    def delete(self):
        raise AppendOnlyError("audit events cannot be deleted")


class Action(models.TextChoices):
    """FHIR AuditEvent.action codes (C R U D E), with Tandem's finer subtypes."""

    CREATE = "create", "Created"
    READ = "read", "Viewed"
    UPDATE = "update", "Changed"
    SEARCH = "search", "Listed"
    EXPORT = "export", "Exported"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login-failed", "Failed sign-in"
    LOGOUT = "logout", "Signed out"
    REFUSED = "refused", "Refused"  # the permission layer turned the request away


FHIR_ACTION = {
    "create": "C",
    "read": "R",
    "update": "U",
    "search": "E",
    "export": "R",
    "login": "E",
    "login-failed": "E",
    "logout": "E",
    "refused": "E",  # with AuditEvent.outcome "4" (minor failure) in FHIR
}


class AuditEvent(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT)
    # Its place in the organisation's chain, given with `prev_hash` and `hash` when the
    # transaction that wrote it ends (tandem.audit.trail): empty only until then, so a stored
    # event without one was never part of the chain.
    seq = models.PositiveBigIntegerField(null=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True
    )
    # What the event is about: a part of the record, a list, or a changed record's model
    # (tandem.audit.parts has the words for each).
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=300, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    purpose = models.CharField(max_length=200, blank=True)
    # What a change changed, in words and whole ("changed: roles a→a,b; teams …"); empty for
    # most events. Hashed into the chain only when there is one (see `chain_values`).
    detail = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["organisation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "seq"], name="audit_chain_seq")
        ]
        indexes = [
            models.Index(fields=["patient", "-occurred_at"]),
            models.Index(fields=["organisation", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_username or 'system'}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events cannot be deleted")

    def chained_fields(self) -> dict[str, object]:
        """Exactly the fields the hash covers."""
        return chain_values({name: getattr(self, attname) for name, attname in CHAINED})


class ChainHead(models.Model):
    """The last link of one organisation's chain, and the lock its writers take turns on.

    Only the audit trail reads or writes these rows, and only as the last thing a transaction
    does (tandem.audit.trail.seal), so waiting for one never closes a circle of waits."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.PROTECT,
                                        primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.organisation_id} at #{self.seq}"


# The fields the hash covers: (name in the hash, column). Values are taken as stored, with the
# time made canonical, the patient id as text, and an empty detail left out (see
# `chain_values`).
CHAINED = (
    ("organisation", "organisation_id"),
    ("seq", "seq"),
    ("occurred_at", "occurred_at"),
    ("actor", "actor_id"),
    ("actor_username", "actor_username"),
    ("role", "role"),
    ("action", "action"),
    ("patient", "patient_id"),
    ("object_type", "object_type"),
    ("object_id", "object_id"),
    ("path", "path"),
    ("client_address", "client_address"),
    ("purpose", "purpose"),
    ("detail", "detail"),
)


def chain_values(fields: dict[str, object]) -> dict[str, object]:
    """The hashed form of an event's fields: canonical UTC time, patient id as text, and the
    detail only if there is one, so that an event without one is linked over the same fields
    as every event written before events had a detail (their links still verify). Emptying a
    detail still breaks the link: the hash covered it."""
    values = dict(fields, occurred_at=canonical_time(fields["occurred_at"]),
                  patient=str(fields["patient"]) if fields["patient"] else None)
    if not values.get("detail"):
        values.pop("detail", None)
    return values
