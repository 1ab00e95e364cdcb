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


# Cards whose goal is about substance use: the patient chooses the kind of goal.
SUBSTANCE_CARDS = {"drug_use", "alcohol_use"}


class GoalType(models.TextChoices):
    """Substance goals, none imposed (the source documents: "for some individuals it will be
    abstinence from all drugs; for others abstinence from their problem drug; for others
    working towards abstinence"; moderation goals offered as well as abstinence)."""

    ABSTINENCE_ALL = "abstinence-all", "Abstinence from all drugs"
    ABSTINENCE_PROBLEM = "abstinence-problem", "Abstinence from the problem substance"
    WORKING_TOWARDS = "working-towards", "Working towards abstinence"
    CONTROLLED = "controlled", "Controlled or moderate use"
    HARM_REDUCTION = "harm-reduction", "Reducing harm"
    STABILISING = "stabilising", "Stabilising on medication"


class Proposer(models.TextChoices):
    PATIENT = "patient", "The patient"
    PRACTITIONER = "practitioner", "The practitioner"
    BOTH = "both", "Both together"


class LifecycleStatus(models.TextChoices):
    """FHIR R4 Goal.lifecycleStatus (http://hl7.org/fhir/R4/valueset-goal-status.html)."""

    PROPOSED = "proposed", "Proposed"
    PLANNED = "planned", "Planned"
    ACCEPTED = "accepted", "Accepted"
    ACTIVE = "active", "Active"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
    REJECTED = "rejected", "Rejected"


class AchievementStatus(models.TextChoices):
    """FHIR R4 Goal.achievementStatus (http://hl7.org/fhir/R4/valueset-goal-achievement.html)."""

    IN_PROGRESS = "in-progress", "In progress"
    IMPROVING = "improving", "Improving"
    WORSENING = "worsening", "Worsening"
    NO_CHANGE = "no-change", "No change"
    ACHIEVED = "achieved", "Achieved"
    SUSTAINING = "sustaining", "Sustaining"
    NOT_ACHIEVED = "not-achieved", "Not achieved"
    NO_PROGRESS = "no-progress", "No progress"
    NOT_ATTAINABLE = "not-attainable", "Not attainable"


class Goal(models.Model):
    """A goal in the patient's own words (FHIR Goal), with its five Goal Attainment Scaling
    levels written together (Kiresuk & Sherman 1968; see core/gas.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="goals")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True)
    sort_session = models.ForeignKey(SortSession, on_delete=models.SET_NULL, null=True,
                                     blank=True, related_name="goals")
    card = models.CharField("area of life", max_length=40)
    statement = models.TextField("the goal, in the patient's words", max_length=500)
    proposed_by = models.CharField(max_length=20, choices=Proposer.choices)
    priority = models.PositiveSmallIntegerField(default=1)
    start_date = models.DateField(default=timezone.localdate)
    target_date = models.DateField(null=True, blank=True)
    lifecycle_status = models.CharField(max_length=20, choices=LifecycleStatus.choices,
                                        default=LifecycleStatus.ACTIVE)
    achievement_status = models.CharField(max_length=20, choices=AchievementStatus.choices,
                                          default=AchievementStatus.IN_PROGRESS)
    gas_minus2 = models.CharField("−2: much less than expected", max_length=300)
    gas_minus1 = models.CharField("−1: somewhat less than expected", max_length=300)
    gas_0 = models.CharField("0: the expected level", max_length=300)
    gas_plus1 = models.CharField("+1: somewhat more than expected", max_length=300)
    gas_plus2 = models.CharField("+2: much more than expected", max_length=300)
    goal_type = models.CharField("kind of substance goal", max_length=30,
                                 choices=GoalType.choices, blank=True)
    goal_type_chosen_by = models.CharField(max_length=20, choices=Proposer.choices, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    # Optimistic locking: a save names the version it started from.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["priority", "created_at"]

    def __str__(self) -> str:
        return self.statement[:60]

    @property
    def is_substance_goal(self) -> bool:
        return self.card in SUBSTANCE_CARDS

    def gas_levels(self) -> list[tuple[int, str]]:
        return [(-2, self.gas_minus2), (-1, self.gas_minus1), (0, self.gas_0),
                (1, self.gas_plus1), (2, self.gas_plus2)]


class GoalTypeChange(models.Model):
    """Every change of a substance goal's kind, with its date, reason and whose choice it was."""

    goal = models.ForeignKey(Goal, on_delete=models.CASCADE, related_name="type_changes")
    changed_at = models.DateTimeField(default=timezone.now)
    from_type = models.CharField(max_length=30, choices=GoalType.choices, blank=True)
    to_type = models.CharField(max_length=30, choices=GoalType.choices)
    chosen_by = models.CharField(max_length=20, choices=Proposer.choices)
    reason = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["changed_at"]

    def __str__(self) -> str:
        return f"{self.from_type or '—'} → {self.to_type}"
