"""Patients, episodes of care and care teams.

Status codes follow FHIR R4 value sets where one exists:
- EpisodeOfCare.status (http://hl7.org/fhir/R4/valueset-episode-of-care-status.html):
  planned | waitlist | active | onhold | finished | cancelled | entered-in-error.
  Tandem's "post-exit monitoring" has no FHIR code; it is kept as a local code and maps to
  FHIR "finished" (treatment has ended) — see `Episode.fhir_status`.
- CareTeam.status (http://hl7.org/fhir/R4/valueset-care-team-status.html):
  proposed | active | suspended | inactive | entered-in-error.
"""

from __future__ import annotations

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.accounts.models import Organisation, Team, User
from tandem.records.models import PatientRecord, TenantModel, TenantQuerySet, Versioned


class ContactMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    SMS = "sms", "Text message"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "Only in person"


class SexForThresholds(models.TextChoices):
    """Sex as used by clinical thresholds that differ by it (e.g. AUDIT-C: 3 or more for
    women, 4 or more for men). Not recorded: the lower threshold is used, and results say so."""

    NOT_RECORDED = "", "Not recorded"
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class Patient(TenantModel, Versioned):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="patients")
    service_id = models.CharField("service ID", max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    pronouns = models.CharField(max_length=40, blank=True)
    sex_for_thresholds = models.CharField(
        "sex for clinical thresholds", max_length=10, choices=SexForThresholds.choices,
        blank=True, default=SexForThresholds.NOT_RECORDED,
        help_text="Used only where a questionnaire's thresholds differ by sex (AUDIT-C). When "
        "not recorded, the lower threshold is used.",
    )
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    preferred_contact = models.CharField(
        max_length=20, choices=ContactMethod.choices, default=ContactMethod.PHONE
    )
    ok_to_leave_message = models.BooleanField("OK to leave a message", default=False)
    # Nothing is sent to them by anyone (reminders, invitations, resets): every sender reads
    # this (tandem.portal_access, tandem.reminders); recording it withdraws what was waiting
    # (tandem.outbox.receivers).
    do_not_contact = models.BooleanField(
        "do not contact", default=False, db_default=False,
        help_text="Nothing is sent to them: no reminders, no invitations, no messages.")
    # Consent to be sent messages (portal invitations, password resets, later reminders) by
    # each channel; nothing is sent by email or text without it (tandem.portal_access).
    agrees_to_email = models.BooleanField(
        "agrees to email", default=False, db_default=False,
        help_text="The patient agreed that the service may email them (for example a link "
                  "to sign in to their online record).")
    agrees_to_sms = models.BooleanField(
        "agrees to text messages", default=False, db_default=False,
        help_text="The patient agreed that the service may send text messages to their phone.")
    contact_notes = models.CharField(max_length=300, blank=True)
    portal_user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="patient_record"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "service_id"], name="patient_service_id_unique"
            )
        ]
        indexes = [models.Index(fields=["organisation", "family_name", "given_name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        first = self.preferred_name or self.given_name
        return f"{first} {self.family_name}"

    def age(self, on: datetime.date | None = None) -> int:
        on = on or timezone.localdate()
        dob = self.date_of_birth
        return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


class Setting(models.TextChoices):
    COMMUNITY = "community", "Community"
    INPATIENT = "inpatient", "Inpatient"
    RESIDENTIAL = "residential", "Residential"
    SECURE = "secure", "Prison or secure setting"


class EpisodeStatus(models.TextChoices):
    ACTIVE = "active", "In treatment"
    MONITORING = "post-exit-monitoring", "Post-exit monitoring"
    FINISHED = "finished", "Closed"


OPEN_STATUSES = (EpisodeStatus.ACTIVE, EpisodeStatus.MONITORING)


class ExitReason(models.TextChoices):
    COMPLETED_FREE = "completed_free", "Treatment completed: free of problem use"
    COMPLETED_OCCASIONAL = "completed_occasional", "Treatment completed: occasional use"
    TRANSFERRED = "transferred", "Transferred to another service"
    TRANSFERRED_CUSTODY = "transferred_custody", "Transferred into custody"
    LEFT = "left", "Left treatment before completing"
    WITHDRAWN = "withdrawn", "Treatment withdrawn by the service"
    MOVED = "moved", "Moved away"
    DIED = "died", "Died"
    OTHER = "other", "Other"


class Episode(PatientRecord, Versioned):
    """One treatment journey (FHIR EpisodeOfCare). A re-entry is a new episode."""

    start_date = models.DateField()
    setting = models.CharField(max_length=20, choices=Setting.choices)
    status = models.CharField(
        max_length=24, choices=EpisodeStatus.choices, default=EpisodeStatus.ACTIVE
    )
    exit_date = models.DateField(null=True, blank=True)
    exit_reason = models.CharField(max_length=24, choices=ExitReason.choices, blank=True)
    closed_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["active", "post-exit-monitoring"]),
                name="one_open_episode_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(exit_date__isnull=True) | Q(exit_date__gte=models.F("start_date")),
                name="episode_exit_after_start",
            ),
        ]
        indexes = [models.Index(fields=["patient", "status"]),
                   # The latest episode of each patient (the caseload asks for it per row).
                   models.Index(fields=["patient", "start_date"])]

    def __str__(self) -> str:
        return f"{self.get_setting_display()} from {self.start_date:%d %b %Y}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def fhir_status(self) -> str:
        return "active" if self.status == EpisodeStatus.ACTIVE else "finished"


class CareTeamStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    INACTIVE = "inactive", "Inactive"


class CareTeam(TenantModel):
    """The people around one patient (FHIR CareTeam)."""

    # One per patient (not a PatientRecord, which is one of many).
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="care_team")
    status = models.CharField(
        max_length=20, choices=CareTeamStatus.choices, default=CareTeamStatus.ACTIVE
    )

    def __str__(self) -> str:
        return f"Care team of {self.patient}"


class CareRole(models.TextChoices):
    KEYWORKER = "keyworker", "Keyworker"
    PRESCRIBER = "prescriber", "Prescriber"
    PSYCHOLOGIST = "psychologist", "Psychologist"
    PEER_MENTOR = "peer_mentor", "Peer mentor"
    GP = "gp", "GP"
    HOUSING = "housing", "Housing worker"
    EMPLOYMENT = "employment", "Employment adviser"
    MENTAL_HEALTH = "mental_health", "Mental health worker"
    PROBATION = "probation", "Probation officer"
    FAMILY = "family", "Family member"
    OTHER = "other", "Other"


STAFF_CARE_ROLES = {
    CareRole.KEYWORKER,
    CareRole.PRESCRIBER,
    CareRole.PSYCHOLOGIST,
    CareRole.PEER_MENTOR,
}


def active_membership(on: datetime.date, prefix: str = "") -> Q:
    """Members whose dates cover `on` (start on or before, no end or end on or after)."""
    return Q(**{f"{prefix}start_date__lte": on}) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": on})
    )


class CareTeamMember(TenantModel, Versioned):
    """A staff member (with a Tandem account) or an outside professional on a care team."""

    care_team = models.ForeignKey(CareTeam, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="care_roles"
    )
    name = models.CharField(max_length=200, blank=True, help_text="For people without an account")
    organisation_name = models.CharField("organisation", max_length=200, blank=True)
    contact = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=CareRole.choices)
    start_date = models.DateField(default=timezone.localdate)
    end_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(name=""), name="member_has_person"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="member_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["user", "care_team"])]

    def __str__(self) -> str:
        return f"{self.person_name} ({self.get_role_display()})"

    @property
    def person_name(self) -> str:
        return self.user.display_name if self.user_id else self.name

    def is_active_on(self, on: datetime.date) -> bool:
        return self.start_date <= on and (self.end_date is None or self.end_date >= on)


class CaseloadEntry(models.Model):
    """One patient's standing on the caseload ("who needs me today"), so the caseload page reads
    one row per patient however large the team.

    Kept by the caseload app (`tandem.caseload.entries.refresh`, which sits above every app whose
    data it summarises) whenever the patient, an episode, a flag, the check-up schedule, a care
    plan, a plan version or the care team changes (caseload/signals.py; bulk writes announce
    `patients.events.records_changed`); the nightly sweep refreshes every entry. What needs
    today's date (overdue, and so the need itself) is worked out when the page is read. The
    table lives here, with the patient it belongs to, so no migration moves it.
    """

    patient = models.OneToOneField(Patient, primary_key=True, on_delete=models.CASCADE,
                                   related_name="+")
    # No index of their own: the page finds entries by patient, or by team (Meta.indexes).
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+",
                                     db_index=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    service_id = models.CharField(max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    episode_status = models.CharField(max_length=30, null=True)  # the latest episode's
    episode_start = models.DateField(null=True)
    flag_rank = models.PositiveSmallIntegerField(null=True)  # most severe open flag, 0 = urgent
    flag_count = models.PositiveIntegerField(default=0)
    checkup_due = models.DateField(null=True)
    review_due = models.DateField(null=True)  # the current plan's
    awaiting_signature = models.BooleanField(default=False)  # its latest version
    # The keyworker today (the longest-serving, if two): memberships that start or end on a
    # later date take effect at the nightly sweep, which refreshes every entry.
    keyworker = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        # Every column, team first: a team lead's caseload, its counts and the keyworkers'
        # loads are read from the index alone, never from the table (bench/caseload_load.py).
        indexes = [models.Index(
            fields=["organisation", "team", "family_name", "given_name", "preferred_name",
                    "service_id", "episode_status", "episode_start", "flag_rank", "flag_count",
                    "checkup_due", "review_due", "awaiting_signature", "keyworker", "patient"],
            name="caseload_by_team")]

    def __str__(self) -> str:
        return f"Caseload entry of {self.given_name} {self.family_name}"
