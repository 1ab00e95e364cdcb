"""The patient's choices for their report: which parts go in, and their own words."""

from __future__ import annotations

from django import forms

from tandem.feedback.content import PARTS
from tandem.feedback.models import OWN_WORDS_MAX, FeedbackReport
from tandem.records.versioning import VersionedForm


class ReportForm(VersionedForm, forms.ModelForm):
    # Not a model field of the form (the versioned save compares only those): the service
    # writes the chosen codes to the report.
    parts = forms.MultipleChoiceField(
        label="What goes in my report", choices=PARTS, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Untick anything you would rather leave out. The name a questionnaire "
                  "gives the range of your score goes in only if you tick it. Your own words "
                  "always go in.")

    class Meta:
        model = FeedbackReport
        fields = ["own_words"]
        labels = {"own_words": "What I want my keyworker to know"}
        widgets = {"own_words": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial.setdefault("parts", list(self.instance.parts))
        words = self.fields["own_words"]
        words.help_text = (f"A few lines in your own words, up to {OWN_WORDS_MAX:,} "
                           "characters. Your keyworker sees them only if you share the report.")
        words.max_length = None  # checked in clean_own_words, so nothing pasted is cut short
        words.validators = []
        words.widget.attrs.pop("maxlength", None)
        words.widget.attrs["aria-describedby"] = "id_own_words_helptext words-count"

    def clean_own_words(self):
        text = self.cleaned_data["own_words"]
        if len(text) > OWN_WORDS_MAX:
            raise forms.ValidationError(
                f"Please keep this to {OWN_WORDS_MAX:,} characters or fewer: it has "
                f"{len(text):,} now. Nothing you wrote is lost; shorten it and save again.")
        return text
