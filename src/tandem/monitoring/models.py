"""Flags: early-warning signals about one patient, each with its evidence (FHIR R4 Flag).

Flag.status follows http://hl7.org/fhir/R4/valueset-flag-status.html
(active | inactive | entered-in-error); "acknowledged" is recorded by its own timestamp.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tandem.accounts.models import Organisation, User
from tandem.patients.models import Patient


class Severity(models.TextChoices):
    URGENT = "urgent", "Urgent: same day"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


SEVERITY_ORDER = {Severity.URGENT: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class FlagStatus(models.TextChoices):
    ACTIVE = "active", "Open"
    INACTIVE = "inactive", "Resolved"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Flag(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="flags")
    rule = models.CharField(max_length=40)  # e.g. "safety-answer"
    # What the evidence is about, so the same evidence never raises a second flag.
    evidence_key = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=FlagStatus.choices, default=FlagStatus.ACTIVE)
    evidence = models.TextField()
    suggested_action = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    response = models.ForeignKey(
        "assessment.Response", on_delete=models.PROTECT, null=True, blank=True,
        related_name="flags",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_taken = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "rule", "evidence_key"], name="flag_once_per_evidence"
            )
        ]
        indexes = [models.Index(fields=["organisation", "status", "severity"])]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.evidence[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status == FlagStatus.ACTIVE
