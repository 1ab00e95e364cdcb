"""The personalised feedback report: what a patient's check-ups and goals show, in plain words,
shaped by the patient (which parts go in, a few lines in their own words) and shared with their
care team only if they choose. See docs/feedback-report.md."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tandem.accounts.models import User
from tandem.patients.models import Episode, Patient
from tandem.records.models import PatientRecord, Versioned

OWN_WORDS_MAX = 1000


class Occasion(models.TextChoices):
    AFTER_CHECKUP = "after-checkup", "After a check-up"
    BEFORE_REVIEW = "before-review", "Before a review"


class FeedbackReport(PatientRecord, Versioned):
    """One report. A new one starts after each check-up and after each review; until then the
    patient keeps shaping the same one. While it is shared, `snapshot` holds exactly what the
    care team sees (the parts chosen, the content as it was, the patient's words); stopping
    sharing clears it, so nothing the patient withdrew stays visible."""

    # PatientRecord's, with its own accessor (`patient.feedback_reports`).
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT,
                                related_name="feedback_reports")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True)
    occasion = models.CharField(max_length=20, choices=Occasion.choices,
                                default=Occasion.AFTER_CHECKUP)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    # The parts the patient chose to include (codes of tandem.feedback.content.PARTS).
    parts = models.JSONField(default=list)
    own_words = models.TextField("what I want my keyworker to know", blank=True,
                                 max_length=OWN_WORDS_MAX)
    shared_at = models.DateTimeField(null=True, blank=True)
    unshared_at = models.DateTimeField(null=True, blank=True)
    snapshot = models.JSONField(null=True, blank=True)
    # What the report was started after: the latest check-up completed and the latest review
    # when it was first saved (services.basis_of). One report per patient per basis, so a
    # double submit of a brand-new report cannot make two ("" on reports made elsewhere).
    basis = models.CharField(max_length=80, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["patient", "created_at"])]
        constraints = [models.UniqueConstraint(
            fields=["patient", "basis"], condition=~models.Q(basis=""),
            name="feedback_one_report_per_basis")]

    def __str__(self) -> str:
        return f"Feedback report of {self.created_at:%d %b %Y}"

    @property
    def shared(self) -> bool:
        return self.shared_at is not None
