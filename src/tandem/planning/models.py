"""Shared goal-setting: independent priority sorts of the life-domain cards, and their
comparison. (Goals and care plans follow.)

FHIR R4: each sort is a QuestionnaireResponse (the cards as items, the pile and rank as
answers); the cards are the organisation's own code system (see assessment.LifeDomain).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tandem.accounts.models import User
from tandem.patients.models import Episode, Patient
from tandem.records.models import PatientRecord, TenantModel, Versioned


class Pile(models.TextChoices):
    NOW = "now", "Work on this now"
    LATER = "later", "Later"
    NOT = "not", "Not for me / fine as it is"


class Voice(models.TextChoices):
    PATIENT = "patient", "Patient"
    PRACTITIONER = "practitioner", "Practitioner"


class SortSession(PatientRecord):
    """One round of shared goal-setting: the patient and the practitioner each sort the cards,
    neither seeing the other's until both have submitted, then they compare and talk."""

    # PatientRecord's, with its own accessor (`patient.sort_sessions`).
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


class PrioritySort(TenantModel):
    """One person's independent sort of the cards.

    `cards` holds one entry per card: {"code", "pile", "rank" (for "now"), "help", "note"}."""

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


class Goal(PatientRecord, Versioned):
    """A goal in the patient's own words (FHIR Goal), with its five Goal Attainment Scaling
    levels written together (Kiresuk & Sherman 1968; see core/gas.py)."""

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

    class Meta:
        ordering = ["priority", "created_at"]

    def __str__(self) -> str:
        return self.statement[:60]

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


class PlanStatus(models.TextChoices):
    """FHIR R4 CarePlan.status (http://hl7.org/fhir/R4/valueset-request-status.html)."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ON_HOLD = "on-hold", "On hold"
    REVOKED = "revoked", "Revoked"
    COMPLETED = "completed", "Completed"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Intervention(models.TextChoices):
    OPIOID_SUBSTITUTION = "opioid-substitution", "Opioid substitution treatment"
    OTHER_MEDICATION = "other-medication", "Other medication"
    MOTIVATIONAL_INTERVIEWING = "motivational-interviewing", "Motivational interviewing"
    CBT = "cbt", "Cognitive behavioural therapy"
    CONTINGENCY_MANAGEMENT = "contingency-management", "Contingency management"
    MUTUAL_AID = "mutual-aid", "Mutual-aid facilitation"
    FAMILY_SUPPORT = "family-support", "Family support"
    HOUSING_SUPPORT = "housing-support", "Housing support"
    EMPLOYMENT_SUPPORT = "employment-support", "Employment support"
    EDUCATION = "education-training", "Education and training"
    PHYSICAL_HEALTH = "physical-health", "Physical health"
    MENTAL_HEALTH = "mental-health", "Mental health"
    HARM_REDUCTION = "harm-reduction", "Harm reduction"


class ActionStatus(models.TextChoices):
    """FHIR R4 CarePlan.activity.detail.status
    (http://hl7.org/fhir/R4/valueset-care-plan-activity-status.html)."""

    NOT_STARTED = "not-started", "Not started"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in-progress", "In progress"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Stopped"


class CarePlan(PatientRecord, Versioned):
    """The patient's recovery care plan for one episode (FHIR CarePlan): their goals, the
    actions, a review date and sign-offs, kept as numbered versions (PlanVersion)."""

    # PatientRecord's, with its own accessor (`patient.care_plans`).
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="care_plans")
    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, null=True, blank=True)
    status = models.CharField(max_length=20, choices=PlanStatus.choices,
                              default=PlanStatus.ACTIVE)
    review_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["patient", "created_at"])]  # each patient's latest

    def __str__(self) -> str:
        return f"Recovery plan of {self.created_at:%d %b %Y}"


class PlanAction(TenantModel, Versioned):
    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="actions")
    goal = models.ForeignKey(Goal, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="actions", help_text="The goal this action serves.")
    intervention = models.CharField(max_length=40, choices=Intervention.choices)
    description = models.CharField(max_length=300)
    provider = models.ForeignKey("patients.CareTeamMember", on_delete=models.SET_NULL,
                                 null=True, blank=True, related_name="+",
                                 help_text="Who provides it, from the care team.")
    frequency = models.CharField("how often", max_length=100, blank=True)
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ActionStatus.choices,
                              default=ActionStatus.NOT_STARTED)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start_date", "intervention"]

    def __str__(self) -> str:
        return self.description


class PlanVersion(models.Model):
    """A numbered version of the plan: what it said, and who signed it when. Any change after
    someone has signed makes a new version, which asks for both signatures again."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    patient_signed_at = models.DateTimeField(null=True, blank=True)
    patient_signed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True,
                                          blank=True, related_name="+")
    practitioner_signed_at = models.DateTimeField(null=True, blank=True)
    practitioner_signed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True,
                                               blank=True, related_name="+")

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"],
                                               name="plan_version_number_unique")]

    def __str__(self) -> str:
        return f"Version {self.number}"

    @property
    def signed_by_anyone(self) -> bool:
        return bool(self.patient_signed_at or self.practitioner_signed_at)

    @property
    def fully_signed(self) -> bool:
        return bool(self.patient_signed_at and self.practitioner_signed_at)


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DISCUSS = "discuss", "To talk about together"


class PlanProposal(models.Model):
    """A change the patient proposes from the portal; the practitioner accepts or discusses."""

    plan = models.ForeignKey(CarePlan, on_delete=models.CASCADE, related_name="proposals")
    text = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=20, choices=ProposalStatus.choices,
                              default=ProposalStatus.OPEN)
    response = models.TextField(blank=True, max_length=2000)
    responded_at = models.DateTimeField(null=True, blank=True)
    responded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]


class Review(TenantModel):
    """A dated review meeting: each goal rated on its Goal Attainment Scale, the patient's and
    the practitioner's views recorded separately, a GAS T-score for each view, the next review
    date set (FHIR: a CarePlan revision plus Observations of goal attainment)."""

    plan = models.ForeignKey(CarePlan, on_delete=models.PROTECT, related_name="reviews")
    held_on = models.DateField(default=timezone.localdate)
    next_review = models.DateField()
    notes = models.TextField(blank=True, max_length=5000)
    t_score_patient = models.FloatField(null=True, blank=True)
    t_score_practitioner = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-created_at"]

    def __str__(self) -> str:
        return f"Review of {self.held_on:%d %b %Y}"


class GoalRating(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="ratings")
    goal = models.ForeignKey(Goal, on_delete=models.PROTECT, related_name="ratings")
    patient_level = models.SmallIntegerField(null=True, blank=True)
    practitioner_level = models.SmallIntegerField(null=True, blank=True)
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["review", "goal"],
                                               name="one_rating_per_goal")]

    def __str__(self) -> str:
        return f"{self.goal}: {self.patient_level}/{self.practitioner_level}"
