"""The form to ask for a new dose: the patient's own (portal) and the keyworker's on their behalf.

The form only reads what was typed, in plain words naming the field; whether the dose keeps to
the plan is decided by `tandem.medication.doses.request_dose`, whose reasons are put back on the
form's fields (`add_refusal`), so what was typed is kept beside them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from tandem.medication.models import DoseRequest
from tandem.records.dates import DATE

NOTE_MAX = DoseRequest._meta.get_field("note").max_length
# A daily dose as people type it: "45", "7.5", "7,5", "45 mg" (no signs, exponents or spaces
# inside the number). The ledger holds at most 5 figures before the point and 2 after it.
DOSE_TYPED = re.compile(r"^(?P<whole>\d+)(?:[.,](?P<part>\d+))?\s*(?:mg)?$", re.IGNORECASE)
MOST_FIGURES = 5
MOST_DECIMALS = 2


class DoseRequestForm(forms.Form):
    dose = forms.CharField(
        label="New daily dose (mg)", max_length=20, strip=True,
        error_messages={"required": "Type the dose you would like, in mg, for example 45.",
                        "max_length": "Type the dose as a number of mg, for example 45."},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off",
                                      "class": "number"}))
    from_day = forms.DateField(
        label="From which day", widget=DATE,
        error_messages={"required": "Choose the day the new dose should start.",
                        "invalid": "That is not a date we can read: choose the day from the "
                                   "calendar, or type it as year-month-day, for example "
                                   "2026-03-06."})
    note = forms.CharField(
        label="Anything your prescriber should know (you can leave this empty)",
        required=False, strip=True,
        widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, on_behalf: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if on_behalf:
            self.fields["note"].label = ("Anything the prescriber should know (you can leave "
                                         "this empty)")

    def clean_dose(self) -> Decimal:
        typed = self.cleaned_data["dose"]
        found = DOSE_TYPED.match(typed)
        if found is None:
            raise forms.ValidationError("Type the dose as a number of mg, for example 45 or "
                                        "7.5.")
        whole, part = found["whole"].lstrip("0") or "0", found["part"] or ""
        if len(whole) > MOST_FIGURES:
            raise forms.ValidationError(f"{typed} is far more than any daily dose: check the "
                                        "number.")
        if len(part.rstrip("0")) > MOST_DECIMALS:
            raise forms.ValidationError("Give the dose with at most 2 figures after the point, "
                                        "for example 7.5.")
        return Decimal(f"{whole}.{part or '0'}")

    def clean_note(self) -> str:
        note = self.cleaned_data["note"]
        if len(note) > NOTE_MAX:
            raise forms.ValidationError(
                f"Please keep this to {NOTE_MAX} characters or fewer: it has {len(note)} now. "
                "Nothing you wrote is lost; shorten it and send again.")
        return note

    def add_refusal(self, reasons: dict[str, list[str]]) -> None:
        """Put the service's reasons (`doses.Refused.reasons`) on the fields they name."""
        for field, messages in reasons.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
