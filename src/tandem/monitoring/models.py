"""Flags: early-warning signals about one patient, each with its evidence (FHIR R4 Flag).

Flag.status follows http://hl7.org/fhir/R4/valueset-flag-status.html
(active | inactive | entered-in-error); "acknowledged" is recorded by its own timestamp.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tandem.accounts.models import Organisation, User
from tandem.core.flags import RULES
from tandem.records.models import PatientRecord, TenantQuerySet, Versioned


# The words for each of core.flags.SEVERITIES, in its order (most severe first), which is the
# one order flags are sorted by (core.flags.SEVERITY_ORDER). A comment, not a docstring: the
# API's documentation shows a docstring.
class Severity(models.TextChoices):
    URGENT = "urgent", "Urgent: same day"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"



class FlagStatus(models.TextChoices):
    ACTIVE = "active", "Open"
    INACTIVE = "inactive", "Resolved"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Flag(PatientRecord):
    rule = models.CharField(max_length=40)  # e.g. "safety-answer"
    # What the evidence is about, so the same evidence never raises a second flag.
    evidence_key = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=20, choices=FlagStatus.choices, default=FlagStatus.ACTIVE)
    evidence = models.TextField()
    suggested_action = models.TextField(blank=True)
    raised_at = models.DateTimeField(default=timezone.now)
    # When later data showing the same problem last updated the evidence.
    updated_at = models.DateTimeField(default=timezone.now)
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
    # For a safety answer: the answer's value this flag is about (its evidence follows the
    # latest answer while it is open); a later answer worse than this raises a new flag.
    answer_value = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "rule", "evidence_key"], name="flag_once_per_evidence"
            )
        ]
        indexes = [models.Index(fields=["organisation", "status", "severity"]),
                   models.Index(fields=["patient", "status"])]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.evidence[:60]}"

    @property
    def is_open(self) -> bool:
        return self.status == FlagStatus.ACTIVE

    @property
    def rule_title(self) -> str:
        spec = RULES.get(self.rule)
        return spec.title if spec else self.rule


class RuleSetting(Versioned):
    """One organisation's choices for one flag rule: on or off, severity, thresholds and the
    suggested action (for safety answers: the service's escalation steps). No row: the
    rule's defaults (`tandem.core.flags.RULES`); its settings form then names version 0."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)
    rule = models.CharField(max_length=40)  # a code in tandem.core.flags.RULES
    enabled = models.BooleanField("on", default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    thresholds = models.JSONField(default=dict, blank=True)
    suggested_action = models.TextField(blank=True, max_length=2000)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "rule"], name="rule_setting_once")
        ]

    def __str__(self) -> str:
        return f"{self.rule} for {self.organisation_id}"


class ContactMethod(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    PHONE = "phone", "Phone call"
    VIDEO = "video", "Video call"
    MESSAGE = "message", "Text message or email"
    HOME_VISIT = "home_visit", "Home visit"
    OUTREACH = "outreach", "Outreach"


class Contact(PatientRecord):
    """A contact with the patient recorded by a practitioner (the no-contact rule counts
    these, completed check-ups and reviews)."""

    on = models.DateField("date", default=timezone.localdate)
    method = models.CharField(max_length=20, choices=ContactMethod.choices)
    note = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-on", "-recorded_at"]
        indexes = [models.Index(fields=["patient", "on"])]

    def __str__(self) -> str:
        return f"{self.get_method_display()} on {self.on}"


class Sweep(models.Model):
    """One nightly sweep. The unique day means one sweep per day however many workers run."""

    day = models.DateField(unique=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    patients = models.PositiveIntegerField(default=0)
    raised = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Sweep of {self.day}"


class WorkerHeartbeat(models.Model):
    """A running `tandem worker` as last seen: its lease on the tasks it has claimed. It beats
    every few seconds, also while a task runs; a task whose worker has not been seen for the
    lease is run again (tandem.monitoring.leases). Not tenant data: workers serve everyone."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Worker {self.worker_id} on {self.host}, last seen {self.last_seen}"
