"""Forms for what the pharmacy reports: days entered by staff, and the pharmacy's file."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from tandem.medication.models import Taken
from tandem.records.dates import DATE

# The import page takes files up to this size (about 600,000 lines of days); larger files are
# split. Pasted text is limited by the size of a form (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB).
MAX_UPLOAD = 20 * 1024 * 1024
MAX_PASTE = 2_000_000
ROWS = 7  # days offered on the entry form: the last week


class DayForm(forms.Form):
    """One day: the date, and what the pharmacy reported (blank: leave this day out)."""

    day = forms.DateField(label="Day", widget=DATE, required=False, error_messages={
        "invalid": "Write the day as a date, e.g. 2026-03-01."})
    status = forms.ChoiceField(label="What the pharmacy reported", required=False,
                               choices=[("", "Leave out"), *Taken.choices])

    def clean(self):
        data = super().clean()
        if data.get("status") and not data.get("day") and "day" not in self.errors:
            self.add_error("day", "Give the day this report is for.")
        return data

    @property
    def report(self) -> tuple[datetime.date, str] | None:
        data = self.cleaned_data
        if data.get("status") and data.get("day"):
            return data["day"], data["status"]
        return None


class BaseDaysFormSet(forms.BaseFormSet):
    def clean(self):
        if any(form.errors for form in self.forms):
            return
        if not self.reports():
            raise forms.ValidationError("Choose what the pharmacy reported for at least one "
                                        "day.")

    def reports(self) -> list[tuple[datetime.date, str]]:
        return [form.report for form in self.forms if form.report]


DaysFormSet = forms.formset_factory(DayForm, formset=BaseDaysFormSet, extra=0, max_num=31,
                                    validate_max=True, absolute_max=31)


def days_formset(data=None) -> BaseDaysFormSet:
    """The entry form: the last week, today first, each day to be reported or left out."""
    today = timezone.localdate()
    initial = [{"day": today - datetime.timedelta(days=n)} for n in range(ROWS)]
    return DaysFormSet(data, initial=initial, prefix="days")


class ImportForm(forms.Form):
    """The pharmacy's file: uploaded, or its text pasted."""

    file = forms.FileField(label="The pharmacy's file (CSV)", required=False,
                           help_text="At most 20 MB. Save a spreadsheet as \"CSV UTF-8\".")
    text = forms.CharField(label="Or paste its lines here", required=False,
                           widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
                           max_length=MAX_PASTE, strip=False, error_messages={
                               "max_length": "Paste at most 2 MB here; upload a larger file "
                                             "instead."})

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > MAX_UPLOAD:
            raise forms.ValidationError(
                f"This file is {upload.size / 1024 / 1024:.0f} MB; at most 20 MB is taken at "
                "once. Split it into smaller files.")
        return upload

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data.get("file") is None and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose the pharmacy's file, or paste its lines.")
        if data.get("file") is not None and (data.get("text") or "").strip():
            raise forms.ValidationError("Give the file or the pasted lines, not both.")
        return data

    def content(self) -> str | bytes:
        """The file's bytes (read by the import as UTF-8), or the pasted text."""
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return upload.read()
        return self.cleaned_data["text"]
