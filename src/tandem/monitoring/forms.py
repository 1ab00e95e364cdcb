from django import forms

from tandem.monitoring.models import Contact, RuleSetting, Severity
from tandem.patients.forms import NewEpisodeForm
from tandem.records.dates import DATE, check_date
from tandem.records.versioning import VersionedForm


class ResolveForm(forms.Form):
    action_taken = forms.CharField(
        label="What was done", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required: who you spoke to, what you did and what happens next.",
        error_messages={"required": "Write what was done before resolving the flag."},
    )
    in_error = forms.BooleanField(label="This flag was raised in error", required=False)


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["on", "method", "note"]
        widgets = {"on": DATE}

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.born = patient.date_of_birth if patient is not None else None

    def clean_on(self):
        return check_date(self.cleaned_data["on"], "The date of the contact", born=self.born)


class ReengageForm(NewEpisodeForm):
    """A new episode (same checks as starting one), and whether the last plan comes along."""

    carry_plan = forms.BooleanField(
        label="Bring their last care plan into the new episode as a draft to revisit together",
        required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].label = "New episode starts"


class RuleSettingForm(VersionedForm, forms.ModelForm):
    """One rule's settings; a number field per threshold the rule has. Its version is that of
    the saved row the page was opened at (0: none yet)."""

    class Meta:
        model = RuleSetting
        fields = ["enabled", "severity", "suggested_action"]
        widgets = {"suggested_action": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, spec=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.fields["suggested_action"].label = (
            "Escalation steps" if spec.code == "safety-answer" else "Suggested action")
        self.fields["suggested_action"].help_text = f"Leave blank for: {spec.suggested_action}"
        if spec.fixed:
            # A safety rule is always on at its own severity: neither is offered, and a
            # posted value is ignored (disabled fields take their initial value).
            default = Severity(spec.severity).label
            self.fields["enabled"].disabled = True
            self.fields["enabled"].initial = True
            self.fields["enabled"].help_text = (
                "Always on, at this severity: a safety rule is never switched off or lowered.")
            self.fields["severity"].disabled = True
            self.fields["severity"].choices = [("", default)]
            self.fields["severity"].initial = ""
            self.fields["severity"].help_text = f"Always “{default}”: it cannot be lowered."
        else:
            self.fields["severity"].choices = [("", f"Default ({spec.severity})"),
                                               *Severity.choices]
        saved = (self.instance.thresholds or {}) if self.instance.pk else {}
        for t in spec.thresholds:
            self.fields[f"t_{t.name}"] = forms.FloatField(
                label=f"{t.label} ({t.unit})", min_value=t.minimum, max_value=t.maximum,
                initial=saved.get(t.name, t.default))

    def clean(self):
        data = super().clean()
        if self.spec.fixed:
            posted = self.data.get(self.add_prefix("severity"), "")
            if posted not in ("", self.spec.severity):
                self.add_error("severity", f"{self.spec.title} flags are always "
                               f"“{Severity(self.spec.severity).label}”; this cannot be changed.")
            if self.data.get(self.add_prefix("enabled"), "on") in ("", "off", "false"):
                self.add_error("enabled", f"{self.spec.title} is always on.")
        return data

    def save(self, commit=True):
        setting = super().save(commit=False)
        if self.spec.fixed:
            setting.enabled, setting.severity = True, ""
        setting.thresholds = {t.name: self.cleaned_data[f"t_{t.name}"]
                              for t in self.spec.thresholds
                              if self.cleaned_data.get(f"t_{t.name}") is not None}
        if commit:
            setting.save()
        return setting


def rule_values(setting: RuleSetting | None, spec) -> dict:
    """A rule's settings in words for the audit trail (a missing row: the defaults)."""
    saved = setting or RuleSetting(rule=spec.code)
    return {"on": saved.enabled, "severity": saved.severity or "default",
            "action": saved.suggested_action or "default",
            **{t.name: float((saved.thresholds or {}).get(t.name, t.default))
               for t in spec.thresholds}}


