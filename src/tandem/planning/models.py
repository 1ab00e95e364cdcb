"""Shared goal-setting: independent priority sorts of the life-domain cards, and their
comparison. (Goals and care plans follow.)

FHIR R4: each sort is a QuestionnaireResponse (the cards as items, the pile and rank as
answers); the cards are the organisation's own code system (see assessment.LifeDomain).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tandem.accounts.models import Organisation, User
from tandem.patients.models import Episode, Patient


class Pile(models.TextChoices):
    NOW = "now", "Work on this now"
    LATER = "later", "Later"
    NOT = "not", "Not for me / fine as it is"


class Voice(models.TextChoices):
    PATIENT = "patient", "Patient"
    PRACTITIONER = "practitioner", "Practitioner"


class SortSession(models.Model):
    """One round of shared goal-setting: the patient and the practitioner each sort the cards,
    neither seeing the other's until both have submitted, then they compare and talk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="sort_sessions")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True)
    started_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    # What was said about feasibility and benefits when the two sorts were compared.
    discussion = models.TextField(blank=True)
    discussion_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    discussion_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Priority sort of {self.started_at:%d %b %Y}"


class PrioritySort(models.Model):
    """One person's independent sort of the cards.

    `cards` holds one entry per card: {"code", "pile", "rank" (for "now"), "help", "note"}."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    session = models.ForeignKey(SortSession, on_delete=models.CASCADE, related_name="sorts")
    voice = models.CharField(max_length=20, choices=Voice.choices)
    entered_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The patient sorted on the practitioner's screen, handed over to them.
    handed_over = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    cards = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "voice"], name="one_sort_per_voice")
        ]

    def __str__(self) -> str:
        return f"{self.get_voice_display()}'s sort"

    @property
    def submitted(self) -> bool:
        return self.submitted_at is not None

    def piles(self) -> dict[str, list[str]]:
        """{"now": [codes in rank order], "later": [...], "not": [...]}."""
        entries = [c for c in self.cards if c.get("pile")]
        now = sorted((c for c in entries if c["pile"] == Pile.NOW),
                     key=lambda c: (c.get("rank") or 999, c["code"]))
        return {
            "now": [c["code"] for c in now],
            "later": [c["code"] for c in entries if c["pile"] == Pile.LATER],
            "not": [c["code"] for c in entries if c["pile"] == Pile.NOT],
        }
