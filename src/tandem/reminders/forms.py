"""The forms of the reminders' staff pages: a patient's choices, and an appointment."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from tandem.audit.actor import Actor
from tandem.records import versioning
from tandem.records.versioning import VersionedForm
from tandem.reminders import waiting
from tandem.reminders.models import CHANNELS, GROUPS, Appointment, AppointmentHow, Preferences

CHANNEL_WORDS = dict(CHANNELS)
NONE = ("", "Not used")


class PreferencesForm(VersionedForm, forms.ModelForm):
    """Channels are chosen as a first, second and third way (each once); kinds as boxes."""

    first = forms.ChoiceField(label="First way to reach them", choices=[NONE, *CHANNELS],
                              required=False)
    second = forms.ChoiceField(label="If that goes unanswered", choices=[NONE, *CHANNELS],
                               required=False)
    third = forms.ChoiceField(label="Then", choices=[NONE, *CHANNELS], required=False)
    kinds = forms.MultipleChoiceField(
        label="What they want reminders about", required=False,
        choices=[(g, words) for g, (words, _kinds) in GROUPS.items()],
        widget=forms.CheckboxSelectMultiple)

    saves_fields = ("channels", "groups", "window_opens", "window_closes", "quote_goal",
                    "name_the_service", "postal_address", "opted_out_at")

    class Meta:
        model = Preferences
        fields = ["window_opens", "window_closes", "quote_goal", "name_the_service",
                  "postal_address"]
        widgets = {"window_opens": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "window_closes": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "postal_address": forms.Textarea(attrs={"rows": 4})}
        labels = {"postal_address": "Postal address for letters"}
        help_texts = {"window_opens": "Messages arrive only between these times (local time). "
                                      "The same time twice means any time."}

    restart = forms.BooleanField(
        label="They asked us to start their messages again", required=False,
        help_text="They stopped them from the link in a message.")

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        if self.instance.opted_out_at is None:
            del self.fields["restart"]
        ways = _agreed(patient) if self.instance._state.adding else self.instance.channel_list
        for name, way in zip(("first", "second", "third"), ways, strict=False):
            self.initial.setdefault(name, way)
        self.initial.setdefault("kinds", self.instance.group_list)

    def clean(self):
        data = super().clean()
        ways = [data.get(n) for n in ("first", "second", "third") if data.get(n)]
        if len(set(ways)) != len(ways):
            self.add_error("second", "Choose each way once.")
        if "sms" in ways and not (self.patient.phone and self.patient.agrees_to_sms):
            self.add_error("first" if ways[0] == "sms" else "second",
                           "Text messages need their mobile number and their agreement to "
                           "texts (in their details).")
        if "email" in ways and not (self.patient.email and self.patient.agrees_to_email):
            self.add_error("first" if ways[0] == "email" else "second",
                           "Email needs their email address and their agreement to email (in "
                           "their details).")
        if "letter" in ways and not (data.get("postal_address") or "").strip():
            self.add_error("postal_address", "Letters need a postal address.")
        if data.get("restart"):
            self.instance.opted_out_at = None
        self.instance.channels = ",".join(ways)
        self.instance.groups = ",".join(g for g in GROUPS if g in data.get("kinds", []))
        return data


def _agreed(patient) -> list[str]:
    found = []
    if patient.phone and patient.agrees_to_sms:
        found.append("sms")
    if patient.email and patient.agrees_to_email:
        found.append("email")
    return found


class AppointmentForm(forms.ModelForm):
    class Meta:
        model = Appointment
        fields = ["starts_at", "how", "place", "with_user"]
        widgets = {"starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                    format="%Y-%m-%dT%H:%M")}

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["with_user"].queryset = staff
        self.fields["with_user"].label_from_instance = lambda u: u.display_name

    def clean_starts_at(self):
        at = self.cleaned_data["starts_at"]
        if at <= timezone.now():
            raise forms.ValidationError("The date and time must be in the future.")
        if at > timezone.now() + datetime.timedelta(days=366):
            raise forms.ValidationError("Book at most a year ahead.")
        return at

    def clean(self):
        data = super().clean()
        if data.get("how") == AppointmentHow.IN_PERSON and not data.get("place", "").strip():
            self.add_error("place", "Say where, for a meeting in person.")
        if data.get("how") != AppointmentHow.IN_PERSON:
            data["place"] = ""
        return data


def save_choices(request, patient, form_class):
    """The staff's and the patient's page of choices alike: (saved Preferences or None, the
    form, the conflict if someone saved first). What the new choices no longer allow is
    withdrawn (`waiting.after_choices`)."""
    instance = Preferences.objects.filter(patient=patient).first() or Preferences(
        organisation=patient.organisation, patient=patient)

    def make_form(data, instance):
        return form_class(data, instance=instance, patient=patient)

    form = make_form(request.POST or None, instance)
    if request.method != "POST" or not form.is_valid():
        return None, form, None
    try:
        prefs = versioning.save(form, Actor.of(request), patient=patient)
    except versioning.Stale as conflict:
        return None, versioning.form_again(request, make_form, conflict), conflict
    waiting.after_choices(prefs, "Not sent: their choices changed.")
    return prefs, form, None
