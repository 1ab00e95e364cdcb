"""Check-ups: responses to instruments, schedules, and each service's check-up settings.

FHIR R4 mapping:
- an instrument is a Questionnaire (definitions are data files: see registry.py);
- a `Response` is a QuestionnaireResponse (status codes below are its value set:
  http://hl7.org/fhir/R4/valueset-questionnaire-answers-status.html); its scores are
  Observations derived from it;
- a `Checkup` (the questionnaires due together, done as one sitting) has no resource of its
  own; each of its responses is a QuestionnaireResponse as above (a FHIR server could group
  them with a List or by `QuestionnaireResponse.partOf`);
- `LifeDomain` cards have no FHIR resource (they are the organisation's own code system).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import Organisation, User
from tandem.patients.models import Episode, Patient
from tandem.records.models import PatientRecord, TenantQuerySet, Versioned


class ResponseStatus(models.TextChoices):
    IN_PROGRESS = "in-progress", "Not finished"
    COMPLETED = "completed", "Completed"
    AMENDED = "amended", "Amended"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"
    STOPPED = "stopped", "Stopped"


class Mode(models.TextChoices):
    SELF = "self", "By the patient, in the portal"
    WITH_PRACTITIONER = "with-practitioner", "With a practitioner"
    PHONE = "phone", "By phone"
    INTEGRATION = "integration", "From another system"


class Checkup(PatientRecord):
    """The questionnaires due together, done by the patient as one check-up: one start, one
    progress bar across all of them, one review and one "done" page (assessment/checkups.py).

    Each questionnaire keeps its own `Response` (linked here), so staff entry, the API and
    every score and chart work as before. `position` is the step the patient was last on
    (1 = the first question of the first questionnaire), kept in the database so they carry
    on where they left off on any device. A patient has at most one open check-up."""

    instrument_codes = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)
    started_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Two "start" presses at once (a double tap, two tabs) make one check-up.
            models.UniqueConstraint(fields=["patient"], condition=Q(completed_at__isnull=True),
                                    name="one_open_checkup_per_patient"),
        ]

    def __str__(self) -> str:
        return f"Check-up of {self.patient_id} ({'done' if self.completed_at else 'open'})"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None


class Response(PatientRecord):
    """One completion (or draft) of one instrument by or for one patient."""

    # The check-up it was done in, by the patient in the portal (none: staff entry, the API).
    # The database default (none) serves bulk inserts that do not name it (the API, the demo).
    checkup = models.ForeignKey(
        Checkup, on_delete=models.PROTECT, null=True, blank=True, related_name="responses",
        db_default=None,
    )
    episode = models.ForeignKey(
        Episode, on_delete=models.PROTECT, null=True, blank=True, related_name="responses"
    )
    instrument_code = models.CharField(max_length=40)
    instrument_version = models.CharField(max_length=40)
    status = models.CharField(
        max_length=20, choices=ResponseStatus.choices, default=ResponseStatus.IN_PROGRESS
    )
    mode = models.CharField(max_length=20, choices=Mode.choices)
    entered_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The service's local date of completion: schedules count in days.
    completed_on = models.DateField(null=True, blank=True)
    # {item id: value}; the question the person is on, so they resume where they left off.
    answers = models.JSONField(default=dict)
    position = models.PositiveSmallIntegerField(default=0)
    # Filled in at completion: {scale code: value or null}, the headline score and its band.
    scores = models.JSONField(default=dict)
    headline = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=80, blank=True)
    band_level = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["patient", "completed_on"]),
            models.Index(fields=["organisation", "status"]),
            # An episode's questionnaires of one kind in the order they were done (by time,
            # then id), whether completed, and their headline score: the service report finds
            # the first and latest of each from this index alone (reporting/figures/pairs.py,
            # goals.py). The id is in it because it is not SQLite's row id (a UUID).
            models.Index(fields=["episode", "instrument_code", "completed_at", "id", "status",
                                 "headline"],
                         name="response_episode_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_code} for {self.patient_id} ({self.status})"

    def save(self, *args, **kwargs):
        self.completed_on = timezone.localdate(self.completed_at) if self.completed_at else None
        super().save(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == ResponseStatus.IN_PROGRESS


# Column order for writing many responses at once (tandem.bulk): the API's batches, the demo.
RESPONSE_COLUMNS = ("id", "organisation_id", "patient_id", "episode_id", "instrument_code",
                    "instrument_version", "status", "mode", "entered_by_id", "started_at",
                    "updated_at", "completed_at", "completed_on", "answers", "position", "scores",
                    "headline", "band", "band_level")


class CheckupSettings(Versioned):
    """A service's schedule rules and standard check-up. Missing row = the defaults."""

    DEFAULT_INSTRUMENTS = ["top", "life-domains", "phq9", "gad7"]

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="checkup_settings"
    )
    interval_weeks = models.PositiveSmallIntegerField(
        "weeks between check-ups in treatment", default=12,
        validators=[MinValueValidator(1), MaxValueValidator(52)],
    )
    post_exit_every_months = models.PositiveSmallIntegerField(
        "months between check-ups after treatment", default=3,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    post_exit_for_months = models.PositiveSmallIntegerField(
        "months of check-ups after treatment", default=12,
        validators=[MinValueValidator(0), MaxValueValidator(60)],
        help_text="0 stops check-ups at exit.",
    )
    instruments = models.JSONField("questionnaires in a check-up", default=list)

    def __str__(self) -> str:
        return f"Check-up settings of {self.organisation}"

    def instrument_codes(self) -> list[str]:
        return list(self.instruments) or list(self.DEFAULT_INSTRUMENTS)


class CheckupSchedule(models.Model):
    """Each patient's next check-up, recomputed whenever a check-up or episode changes."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT)
    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="checkup_schedule"
    )
    interval_weeks = models.PositiveSmallIntegerField(
        "weeks between check-ups for this patient",
        validators=[MinValueValidator(1), MaxValueValidator(52)],
        null=True,
        blank=True,
        help_text="Leave blank to use the service's setting.",
    )
    next_due = models.DateField(null=True, blank=True)
    next_kind = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organisation", "next_due"])]

    def __str__(self) -> str:
        return f"Next check-up of {self.patient_id}: {self.next_due}"


class LifeDomain(Versioned):
    """One card of the organisation's life-domain set (rated in check-ups, sorted in planning).

    An organisation without rows uses the default set in the life-domains instrument file."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="life_domains"
    )
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=80)
    question = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="life_domain_unique")
        ]

    def __str__(self) -> str:
        return self.label


class CrisisContact(Versioned):
    """Who a patient can reach at once. With none configured, national helplines are shown."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="crisis_contacts"
    )
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=40, blank=True)
    text = models.CharField("text message number", max_length=40, blank=True)
    hours = models.CharField(max_length=120, blank=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class UrgentAnswer(Versioned):
    """An answer the service marks as needing same-day attention, on top of the instrument's
    own safety rules (e.g. any report of injecting with a used needle)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="urgent_answers"
    )
    instrument_code = models.CharField(max_length=40)
    item_id = models.CharField("question", max_length=40)
    at_least = models.FloatField("when the answer is at least")
    message = models.CharField(max_length=200)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "instrument_code", "item_id"], name="urgent_answer_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument_code} {self.item_id} ≥ {self.at_least:g}"


class UploadedInstrument(models.Model):
    """An instrument definition a service admin uploaded. Every version is kept."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="instruments"
    )
    code = models.CharField(max_length=40)
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    definition = models.JSONField()
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    active = models.BooleanField(default=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["code", "-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "code", "version"], name="uploaded_instrument_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version})"
