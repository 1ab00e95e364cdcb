"""Substitute medication records: the plan the prescriber sets, its versions, the dose ledger,
dose requests, what the pharmacy reports, medication reviews and reductions.

Tandem is not a prescribing system and produces no legal prescription: it holds the medication
plan the prescriber, keyworker and patient agree, the decisions and their reasons, and what the
pharmacy reports. FHIR R4: a plan is a MedicationRequest (`dosageInstruction.doseAndRate.
doseRange` is the safe range, `maxDosePerPeriod` the highest daily dose, `dispenseRequest` the
pharmacy); a dispensing day is a MedicationDispense (taken) or a MedicationAdministration with
status not-done (missed).

Every dose a patient is on is a `DoseChange` in the ledger, written only by
`tandem.medication.doses`, which checks it against the plan (`tandem.core.dosing.refusals`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.records.models import PatientRecord, TenantModel, Versioned

User = settings.AUTH_USER_MODEL
DOSE = {"max_digits": 7, "decimal_places": 2}


class PlanStatus(models.TextChoices):
    """FHIR R4 MedicationRequest.status, the two a plan in Tandem can have."""

    ACTIVE = "active", "Current"
    STOPPED = "stopped", "Stopped"


class MedicationPlan(PatientRecord, Versioned):
    """The medication plan for one episode: one medicine, its safe range and step limits,
    dispensing, review date and whether the patient may set their own dose. These columns hold
    the current terms; each change is also a `PlanVersion` (who, when, why)."""

    episode = models.ForeignKey("patients.Episode", on_delete=models.PROTECT,
                                related_name="medication_plans")
    medicine = models.CharField(max_length=40)  # a code of tandem.medication.registry
    status = models.CharField(max_length=10, choices=PlanStatus.choices,
                              default=PlanStatus.ACTIVE)
    started_on = models.DateField()
    # The day it stopped (local), once stopped (doses.stop_plan): the service report's "on
    # medication on a day" reads it.
    stopped_on = models.DateField(null=True, blank=True)
    # The day treatment started or restarted: the medicine's titration limits apply from it.
    titrating_since = models.DateField()
    low = models.DecimalField("lowest daily dose (mg)", **DOSE)
    high = models.DecimalField("highest daily dose (mg)", **DOSE)
    step_up_max = models.DecimalField("largest single rise (mg)", **DOSE)
    step_down_max = models.DecimalField("largest single drop (mg)", **DOSE)
    min_days_between = models.PositiveSmallIntegerField("fewest days at a dose before the next "
                                                        "change")
    max_rise_7_days = models.DecimalField("largest rise in any 7 days (mg)", **DOSE)
    pharmacy = models.CharField(max_length=200, blank=True)
    supervised_days = models.PositiveSmallIntegerField("supervised days a week", default=7)
    take_home_days = models.PositiveSmallIntegerField("take-home days a week", default=0)
    review_date = models.DateField()
    self_setting = models.BooleanField("the patient may set their own dose", default=False)
    # Whether a request within the limits applies at once (True) or waits for the prescriber.
    requests_apply_at_once = models.BooleanField(default=False)
    above_usual_reason = models.CharField("reason for a dose above the usual range",
                                          max_length=500, blank=True)
    last_ecg_on = models.DateField("date of the last ECG", null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_on"]
        constraints = [
            models.UniqueConstraint(fields=["episode"], condition=Q(status="active"),
                                    name="one_current_medication_plan_per_episode"),
            models.CheckConstraint(condition=Q(low__lte=models.F("high")),
                                   name="medication_plan_range_in_order"),
            models.CheckConstraint(condition=Q(supervised_days__lte=7)
                                   & Q(take_home_days__lte=7),
                                   name="medication_plan_days_of_week"),
            # A stopped plan says when it stopped: the report counts who was on medication
            # on a day by it.
            models.CheckConstraint(condition=~Q(status="stopped") | Q(stopped_on__isnull=False),
                                   name="medication_plan_stopped_on_a_day"),
        ]
        indexes = [models.Index(fields=["organisation", "status", "review_date"])]

    def __str__(self) -> str:
        return f"{self.medicine} from {self.started_on:%d %b %Y}"


class PlanVersion(models.Model):
    """One version of a medication plan, as it was set: who, when and why. Never changed."""

    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    terms = models.JSONField()  # every term of the plan at this version, as plain values
    reason = models.CharField(max_length=500)
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"],
                                               name="one_medication_plan_version_number")]

    def __str__(self) -> str:
        return f"Version {self.number}"


class ChangeKind(models.TextChoices):
    START = "start", "Start"
    RESTART = "restart", "Restart"
    CHANGE = "change", "Change"


class ChangeSource(models.TextChoices):
    PRESCRIBER = "prescriber", "Set by the prescriber"
    REQUEST = "request", "Asked for"
    REDUCTION = "reduction", "A step of the reduction"
    REVERSAL = "reversal", "Going back up during a reduction"


class DoseChange(models.Model):
    """One entry of the dose ledger: from `day`, the daily dose is `dose`. Written only by
    `tandem.medication.doses`; a scheduled reduction step has a future day and is cancelled
    (never deleted) if the reduction is paused or changed."""

    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT, related_name="doses")
    day = models.DateField()
    dose = models.DecimalField(**DOSE)
    kind = models.CharField(max_length=10, choices=ChangeKind.choices,
                            default=ChangeKind.CHANGE)
    source = models.CharField(max_length=12, choices=ChangeSource.choices)
    plan_version = models.PositiveIntegerField()  # the plan version whose limits it kept
    reason = models.CharField(max_length=500, blank=True)
    made_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(default=timezone.now)
    request = models.ForeignKey("DoseRequest", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    reduction = models.ForeignKey("Reduction", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="steps")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan", "day", "made_at"]
        constraints = [models.UniqueConstraint(fields=["plan", "day"],
                                               condition=Q(cancelled_at__isnull=True),
                                               name="one_dose_change_a_day")]

    def __str__(self) -> str:
        return f"{self.dose} mg from {self.day:%d %b %Y}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the prescriber"
    APPLIED = "applied", "Applied"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Not agreed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class DoseRequest(models.Model):
    """A new dose asked for by the patient (portal) or by their keyworker on their behalf.
    A request outside the limits is refused before it is stored; one within them applies at
    once or waits for the prescriber, as the plan says. The prescriber sees every request."""

    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT, related_name="requests")
    dose = models.DecimalField(**DOSE)
    from_day = models.DateField()
    current_dose = models.DecimalField(**DOSE)
    note = models.CharField("anything the prescriber should know", max_length=500, blank=True)
    asked_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    on_behalf = models.BooleanField(default=False)  # asked by staff for the patient
    asked_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=RequestStatus.choices)
    answered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=500, blank=True)
    seen_by_prescriber_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-asked_at"]
        indexes = [models.Index(fields=["plan", "status"])]

    def __str__(self) -> str:
        return f"{self.dose} mg asked for from {self.from_day:%d %b %Y}"


class Taken(models.TextChoices):
    SUPERVISED = "supervised", "Taken, supervised"
    HOME = "home", "Taken home"
    MISSED = "missed", "Missed"


class DispensingSource(models.TextChoices):
    STAFF = "staff", "Entered by staff"
    CSV = "csv", "Imported from the pharmacy's file"
    API = "api", "Sent by the pharmacy system"


class DispensingDay(models.Model):
    """What the pharmacy reports for one day of one plan: taken supervised, taken home, or
    missed. One row a day; a later report for the same day replaces the status (audited)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT,
                                     related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT,
                                related_name="dispensing_days")
    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT,
                             related_name="dispensing_days")
    day = models.DateField()
    status = models.CharField(max_length=10, choices=Taken.choices)
    source = models.CharField(max_length=6, choices=DispensingSource.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["plan", "day"]
        constraints = [models.UniqueConstraint(fields=["plan", "day"],
                                               name="one_dispensing_report_a_day")]
        indexes = [models.Index(fields=["patient", "day"])]

    def __str__(self) -> str:
        return f"{self.day:%d %b %Y}: {self.get_status_display()}"


class Adequacy(models.TextChoices):
    RIGHT = "right", "About right"
    TOO_LOW = "too-low", "Too low (withdrawal or craving)"
    TOO_HIGH = "too-high", "Too high (drowsy or sedated)"


class SubstanceGoal(models.TextChoices):
    """What the patient wants next about their medication. None is pushed: stabilising is a
    legitimate goal (UK guidelines 2017, ch. 4)."""

    STABLE = "stable", "Stay stable on this dose"
    REDUCE = "reduce", "Reduce the dose"
    COME_OFF = "come-off", "Come off it"
    UNDECIDED = "undecided", "Not decided yet"


class ChosenBy(models.TextChoices):
    PATIENT = "patient", "The patient"
    TOGETHER = "together", "The patient and prescriber together"
    PRESCRIBER = "prescriber", "The prescriber"


class MedicationReview(TenantModel):
    """A medication review: at least every 3 months (or the service's shorter interval)."""

    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT, related_name="reviews")
    held_on = models.DateField(default=timezone.localdate)
    adequacy = models.CharField("is the dose right", max_length=10, choices=Adequacy.choices)
    use_on_top = models.TextField("use on top of the medication", max_length=2000, blank=True)
    side_effects = models.TextField(max_length=2000, blank=True)
    patient_view = models.TextField("the patient's view, in their words", max_length=2000)
    substance_goal = models.CharField("what the patient wants next", max_length=10,
                                      choices=SubstanceGoal.choices)
    goal_chosen_by = models.CharField("whose choice", max_length=10, choices=ChosenBy.choices)
    # Whether what the patient wants next about the medication was talked about.
    goal_discussed = models.BooleanField(default=True)
    next_review = models.DateField()
    notes = models.TextField(max_length=5000, blank=True)
    held_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-held_on", "-created_at"]


class ReductionStatus(models.TextChoices):
    ACTIVE = "active", "Going ahead"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"


class Reduction(models.Model):
    """A reduction the patient chose with the prescriber: down by `step` every `every_days`
    to `target`. Paused, resumed or reversed at any time; a reversal is not a failure."""

    plan = models.ForeignKey(MedicationPlan, on_delete=models.PROTECT, related_name="reductions")
    started_on = models.DateField()
    step = models.DecimalField("step down (mg)", **DOSE)
    every_days = models.PositiveSmallIntegerField("days between steps")
    target = models.DecimalField("aim (mg a day)", **DOSE)
    chosen_by = models.CharField(max_length=10, choices=ChosenBy.choices)
    status = models.CharField(max_length=10, choices=ReductionStatus.choices,
                              default=ReductionStatus.ACTIVE)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_on", "-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["plan"], condition=Q(status__in=["active", "paused"]),
            name="one_open_reduction_per_plan")]

    def __str__(self) -> str:
        return f"Down {self.step} mg every {self.every_days} days to {self.target} mg"


class ReductionEventKind(models.TextChoices):
    PLANNED = "planned", "Planned"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    REVERSED = "reversed", "Went back up"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"


class ReductionEvent(models.Model):
    reduction = models.ForeignKey(Reduction, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=ReductionEventKind.choices)
    on = models.DateField()
    note = models.CharField(max_length=500, blank=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["reduction", "at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.on:%d %b %Y}"


# The UK guidance on missed doses (Drug misuse and dependence: UK guidelines on clinical
# management, 2017, ch. 4): after 3 or more consecutive missed doses tolerance may be reduced,
# so the usual dose is not given before the prescriber has reviewed; a restart may need a
# lower dose and re-titration. A service words its own rule; this is the default.
DEFAULT_RESTART_RULE = (
    "After 3 or more missed days in a row, tolerance may be lower: the pharmacy does not give "
    "the usual dose until the prescriber has reviewed. The prescriber may restart at a lower "
    "dose (methadone: no more than 30 mg a day) and build it up again."
)


class MedicationSettings(Versioned):
    """One organisation's medication rules, stricter than the national defaults only. Saved
    with the version the page showed, so two admins never overwrite each other."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.CASCADE,
                                        related_name="medication_settings")
    # Medication reviews at least every 3 months (UK guidelines 2017); a service may ask sooner.
    review_every_days = models.PositiveSmallIntegerField("days between medication reviews",
                                                         default=91)
    # Consecutive missed days that raise the urgent flag: 3 (the "3-day rule"), or fewer.
    missed_days_for_flag = models.PositiveSmallIntegerField(
        "missed days in a row that raise the urgent flag", default=3)
    restart_rule = models.TextField("the service's restart rule, as staff and pharmacies see it",
                                    max_length=2000, default=DEFAULT_RESTART_RULE)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = models.Manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(review_every_days__gte=7)
                                   & Q(review_every_days__lte=91),
                                   name="medication_review_at_most_3_months"),
            models.CheckConstraint(condition=Q(missed_days_for_flag__gte=1)
                                   & Q(missed_days_for_flag__lte=3),
                                   name="missed_dose_flag_at_most_3_days"),
        ]

    def __str__(self) -> str:
        return "Medication settings"


def settings_for(organisation_id) -> MedicationSettings:
    """The organisation's medication settings, or the defaults (unsaved) if it has none."""
    found = MedicationSettings.objects.filter(organisation_id=organisation_id).first()
    return found or MedicationSettings(organisation_id=organisation_id)
