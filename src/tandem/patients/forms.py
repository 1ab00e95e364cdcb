import datetime

from django import forms
from django.utils import timezone

from tandem.accounts.models import Role, Team, User
from tandem.patients.models import (
    STAFF_CARE_ROLES,
    CareRole,
    CareTeamMember,
    Episode,
    EpisodeStatus,
    Patient,
    Setting,
)
from tandem.records.dates import DATE, check_date
from tandem.records.versioning import VersionedForm


class PatientForm(VersionedForm, forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
            "service_id", "given_name", "family_name", "preferred_name", "date_of_birth",
            "pronouns", "sex_for_thresholds", "team", "phone", "email", "preferred_contact",
            "ok_to_leave_message", "do_not_contact", "agrees_to_email", "agrees_to_sms",
            "contact_notes",
        ]
        widgets = {"date_of_birth": DATE}
        help_texts = {"preferred_name": "The name the patient likes to be called, if different."}

    def __init__(self, *args, organisation, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        self.fields["team"].queryset = Team.objects.of(organisation).filter(pk__in=teams)
        self.fields["team"].empty_label = None

    def clean_date_of_birth(self):
        return check_date(self.cleaned_data["date_of_birth"], "Date of birth")

    def clean(self):
        data = super().clean()
        if data.get("agrees_to_email") and not data.get("email") and "email" not in self.errors:
            self.add_error("agrees_to_email", "Enter the email address the patient agreed to.")
        if data.get("agrees_to_sms") and not data.get("phone") and "phone" not in self.errors:
            self.add_error("agrees_to_sms", "Enter the phone number the patient agreed to.")
        return data

    def clean_service_id(self):
        service_id = self.cleaned_data["service_id"].strip()
        clash = Patient.objects.of(self.organisation).filter(service_id=service_id)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another patient already has this service ID.")
        return service_id

    def save(self, commit=True):
        self.instance.organisation = self.organisation
        return super().save(commit)


class NewEpisodeForm(forms.Form):
    start_date = forms.DateField(widget=DATE, initial=timezone.localdate)
    setting = forms.ChoiceField(choices=Setting.choices)

    def __init__(self, *args, patient=None, born: datetime.date | None = None, **kwargs):
        """`patient`: whose episode (None when registering them: give `born` then)."""
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.born = patient.date_of_birth if patient is not None else born

    def clean_start_date(self):
        start = check_date(self.cleaned_data["start_date"], "The start date", born=self.born)
        if self.patient is not None:
            if self.patient.episodes.filter(status=EpisodeStatus.ACTIVE).exists():
                raise forms.ValidationError(
                    "This patient is already in treatment. Record the exit of the current "
                    "episode before starting a new one."
                )
            latest = self.patient.episodes.order_by("-start_date").first()
            if latest and start < (latest.exit_date or latest.start_date):
                raise forms.ValidationError(
                    "A new episode must start on or after the end of the previous one."
                )
        return start


class EpisodeForm(VersionedForm, forms.ModelForm):
    """Record an exit (into post-exit monitoring, or closed) or end the monitoring."""

    class Meta:
        model = Episode
        fields = ["setting", "status", "exit_date", "exit_reason"]
        widgets = {"exit_date": DATE}
        labels = {"status": "Status"}

    # The columns a save writes (versioning.save): the form's fields and the closing date.
    saves_fields = ("setting", "status", "exit_date", "exit_reason", "closed_date")

    def clean(self):
        data = super().clean()
        status, exit_date = data.get("status"), data.get("exit_date")
        if status == EpisodeStatus.ACTIVE:
            if exit_date or data.get("exit_reason"):
                self.add_error("status", "An episode with an exit date cannot be in treatment.")
            others = self.instance.patient.episodes.exclude(pk=self.instance.pk)
            if self.instance.status != EpisodeStatus.ACTIVE and others.filter(
                status__in=[EpisodeStatus.ACTIVE, EpisodeStatus.MONITORING]
            ).exists():
                self.add_error("status", "The patient has another open episode.")
        else:
            if not exit_date:
                self.add_error("exit_date", "Enter the date treatment ended.")
            elif exit_date < self.instance.start_date:
                self.add_error("exit_date", "The exit date is before the episode started.")
            elif exit_date > timezone.localdate():
                self.add_error("exit_date", "The exit date cannot be in the future.")
            if not data.get("exit_reason"):
                self.add_error("exit_reason", "Choose why treatment ended.")
        return data

    def save(self, commit=True):
        episode = super().save(commit=False)
        if episode.status == EpisodeStatus.FINISHED and not episode.closed_date:
            episode.closed_date = timezone.localdate()
        if episode.status != EpisodeStatus.FINISHED:
            episode.closed_date = None
        if commit:
            episode.save()
        return episode


class MemberForm(forms.ModelForm):
    """Add a colleague (with an account) or an outside professional to the care team."""

    class Meta:
        model = CareTeamMember
        fields = ["role", "user", "name", "organisation_name", "contact", "start_date"]
        widgets = {"start_date": DATE}
        labels = {"user": "Colleague", "name": "Name (someone outside the service)"}
        help_texts = {"user": "Choose a colleague, or leave blank and give a name below."}

    def __init__(self, *args, organisation, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.born = patient.date_of_birth if patient is not None else None
        self.fields["user"].queryset = (
            User.objects.filter(
                organisation=organisation,
                is_active=True,
                grants__role__in=[Role.PRACTITIONER, Role.PRESCRIBER, Role.TEAM_LEAD],
            )
            .distinct()
            .order_by("last_name", "first_name")
        )

    def clean_start_date(self):
        return check_date(self.cleaned_data["start_date"], "The start date", born=self.born,
                          planned=True)

    def clean(self):
        data = super().clean()
        user, name = data.get("user"), (data.get("name") or "").strip()
        if not user and not name:
            self.add_error("user", "Choose a colleague or enter the person's name.")
        if user and name:
            self.add_error("name", "Give either a colleague or a name, not both.")
        role = data.get("role")
        if role in STAFF_CARE_ROLES and not user:
            self.add_error("user", "This role is held by a colleague with a Tandem account.")
        if role == CareRole.PRESCRIBER and user:
            if not user.grants.filter(role=Role.PRESCRIBER).exists():
                self.add_error("user", "This colleague is not a prescriber.")
        return data


class EndMemberForm(VersionedForm, forms.ModelForm):
    class Meta:
        model = CareTeamMember
        fields = ["end_date"]
        widgets = {"end_date": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["end_date"].required = True
        self.initial.setdefault("end_date", timezone.localdate())

    def clean_end_date(self):
        end = self.cleaned_data["end_date"]
        if end < self.instance.start_date:
            raise forms.ValidationError("The end date is before this person joined the team.")
        return check_date(end, "The end date", planned=True)
