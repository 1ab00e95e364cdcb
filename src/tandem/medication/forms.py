"""The prescriber's forms: a medication plan (start or change), a dose request's answer, a
medication review, a reduction and its controls, and the service's medication settings.

The forms check what a form can (a number, a real date, a field filled in); the rules of
doses — the safe range, the step limits, the medicine's published limits — are the dose
service's (`tandem.medication.doses`), whose refusals the views put on the named fields.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.utils import timezone

from tandem.core.dosing import mg
from tandem.core.medicines import Medicine
from tandem.medication import doses
from tandem.medication.models import (
    DEFAULT_RESTART_RULE,
    Adequacy,
    ChosenBy,
    MedicationSettings,
    SubstanceGoal,
)
from tandem.records.dates import DATE, check_date
from tandem.records.versioning import MAX_VERSION, VersionedForm

# --- fields --------------------------------------------------------------------------------

NUMBER_WORDS = {
    "invalid": "Enter a number, such as 30 or 7.5.",
    "min_value": "This cannot be below 0.",
    "max_digits": "That number is too long: at most 5 figures before the decimal point.",
    "max_whole_digits": "That number is too long: at most 5 figures before the decimal point.",
    "max_decimal_places": "Give at most 2 figures after the decimal point.",
}
DATE_WORDS = {"invalid": "Enter a real date, for example 14 March 2026."}


def dose_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DecimalField:
    """A dose in mg: the column holds up to 99,999.99; the medicine's own limits are checked
    by the dose service, with their sources."""
    return forms.DecimalField(
        label=label, required=required, min_value=0, max_digits=7, decimal_places=2,
        help_text=help_text, error_messages=NUMBER_WORDS | {"required": "Enter the dose."},
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))


def whole_field(label: str, low: int, high: int, *, required: bool = True,
                help_text: str = "") -> forms.IntegerField:
    words = f"Enter a whole number from {low} to {high}."
    return forms.IntegerField(
        label=label, required=required, min_value=low, max_value=high, help_text=help_text,
        error_messages={"invalid": words, "min_value": words, "max_value": words,
                        "required": words})


def date_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DATE, help_text=help_text,
                           error_messages=DATE_WORDS | {"required": "Enter the date."})


def yes_no(label: str, yes: str, no: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=label, choices=[("0", no), ("1", yes)],
                                  coerce=lambda v: v == "1", widget=forms.RadioSelect,
                                  initial="0", empty_value=False)


def per(medicine: Medicine) -> str:
    """How often one dose is given: "a day", "every 7 days"."""
    return "a day" if medicine.period_days == 1 else f"every {medicine.period_days} days"


# --- what the prescriber sees beside the fields ------------------------------------------

@dataclass(frozen=True)
class Limit:
    """One published limit of the medicine, in words, with its source (the medicine file)."""

    text: str
    source: str


def published_limits(medicine: Medicine) -> dict[str, list[Limit]]:
    """The medicine's published limits that bound each group of the plan's fields."""
    lim = medicine.limits
    found: dict[str, list[Limit]] = {"dose": [], "range": [], "steps": [], "ecg": []}
    if lim.start_max is not None:
        found["dose"].append(Limit(f"A first dose or a restart is at most "
                                   f"{mg(lim.start_max.value)} {per(medicine)}.",
                                   lim.start_max.source))
    if medicine.fixed_doses:
        found["dose"].append(Limit("It comes only in doses of "
                                   + ", ".join(mg(d) for d in medicine.fixed_doses) + ".",
                                   lim.step.source))
    else:
        found["dose"].append(Limit(f"Doses go in steps of {mg(lim.step.value)}.",
                                   lim.step.source))
    found["range"].append(Limit(f"The highest dose is at most {mg(lim.daily_max.value)} "
                                f"{per(medicine)}.", lim.daily_max.source))
    if lim.usual_maintenance is not None:
        u = lim.usual_maintenance
        found["range"].append(Limit(f"The usual maintenance dose is {mg(u.low)} to "
                                    f"{mg(u.high)} {per(medicine)}: a highest dose above "
                                    f"{mg(u.high)} needs a recorded reason.", u.source))
    if lim.titration is not None:
        t = lim.titration
        found["steps"].append(Limit(f"In the first {t.days} days from a start or restart, the "
                                    f"dose goes up by at most {mg(t.max_rise_per_day)} a day "
                                    f"and {mg(t.max_rise_per_week)} in a week (Tandem applies "
                                    "this whatever the plan's own limits).", t.source))
    if lim.ecg_at_or_above is not None:
        found["ecg"].append(Limit(f"When the highest dose is {mg(lim.ecg_at_or_above.value)} "
                                  f"{per(medicine)} or more, the date of the last ECG is asked "
                                  "for (QT prolongation).", lim.ecg_at_or_above.source))
    return found


@dataclass(frozen=True)
class Defaults:
    """Step limits offered on a new plan's form (the prescriber changes any of them), and
    which of them are published figures and which are Tandem's own."""

    step_up_max: Decimal | None = None
    step_down_max: Decimal | None = None
    min_days_between: int | None = None
    max_rise_7_days: Decimal | None = None
    note: str = ""


# Methadone: a rise of at most 10 mg and 30 mg in a week are the published limits for the first
# two weeks (RCGP 2011, in methadone.json); methadone takes about 5 days to reach a steady state
# and "doses can be up-titrated every 3-5 days" (Meducate, Cracking Addiction: methadone
# pharmacology and induction).
METHADONE = Defaults(
    Decimal(10), Decimal(10), 3, Decimal(30),
    "Offered limits: rises of at most 10 mg, and 30 mg in 7 days, are the published limits for "
    "the first two weeks (RCGP guidance 2011, kept by Tandem as the plan's limits after them). "
    "At least 3 days between changes is Tandem's default, in line with rises 'every 3-5 days' "
    "(Meducate, methadone pharmacology and induction), as methadone takes about 5 days to "
    "settle at a new dose. Drops of at most 10 mg are Tandem's default.")
# Buprenorphine: rises of 2-4 mg at 1-3 day intervals (myVMC, in buprenorphine.json).
BUPRENORPHINE = Defaults(
    Decimal(4), Decimal(2), 2, Decimal(8),
    "Offered limits: rises of at most 4 mg are published ('increase daily dose by 2-4mg at 1-3 "
    "day intervals', myVMC, in the medicine file). At least 2 days between changes (within the "
    "published 1 to 3), at most 8 mg more in 7 days and drops of at most 2 mg are Tandem's "
    "defaults.")
DEFAULTS = {"methadone": METHADONE, "buprenorphine": BUPRENORPHINE,
            "buprenorphine-naloxone": BUPRENORPHINE}


def defaults_for(medicine: Medicine) -> Defaults:
    if medicine.code in DEFAULTS:
        return DEFAULTS[medicine.code]
    if medicine.fixed_doses:  # an injection: one strength at a time, once a dose has run
        doses_ = sorted(medicine.fixed_doses)
        gap = min((b - a for a, b in zip(doses_, doses_[1:], strict=False)), default=doses_[0])
        return Defaults(gap, gap, medicine.period_days, gap,
                        f"Offered limits (Tandem's defaults): one strength up or down at a "
                        f"time ({mg(gap)}), at most once every {medicine.period_days} days, "
                        f"the time one dose lasts.")
    return Defaults(note="No limits are offered for this medicine: set each one.")


# --- the plan ------------------------------------------------------------------------------

STEP_FIELDS = ("step_up_max", "step_down_max", "min_days_between", "max_rise_7_days")
SELF_SETTING_FIELDS = ("self_setting", "requests_apply_at_once")
DISPENSING_DAY_FIELDS = ("supervised_days", "take_home_days")


class PlanForm(forms.Form):
    """Every term of a plan (doses.Terms), the reason, and a dose: the first dose on a new
    plan, an optional new dose on a change. Fields that mean nothing for the medicine are
    left out and given values that keep the plan valid (`hidden_terms`)."""

    dose = dose_field("First dose")
    started_on = date_field("Start date")
    from_day = date_field("From", required=False,
                          help_text="The day the new dose starts. Empty: today.")
    restart = forms.BooleanField(
        label="This is a restart after missed doses", required=False,
        help_text="The new dose counts as a restart: at most the medicine's starting dose, "
                  "and the limits of the first days of treatment apply again.")
    low = dose_field("Lowest dose")
    high = dose_field("Highest dose")
    step_up_max = dose_field("Largest single rise")
    step_down_max = dose_field("Largest single drop")
    min_days_between = whole_field("Fewest days at a dose before the next change", 1, 365)
    max_rise_7_days = dose_field("Largest rise in any 7 days")
    pharmacy = forms.CharField(label="Pharmacy", max_length=200, required=False)
    supervised_days = whole_field("Supervised days a week", 0, 7)
    take_home_days = whole_field("Take-home days a week", 0, 7)
    review_date = date_field("Review date",
                             help_text="At most 3 months ahead: medication is reviewed at least "
                                       "every 3 months.")
    self_setting = forms.BooleanField(
        label="The patient may set their own dose within these limits", required=False,
        help_text="In the portal, or their keyworker for them. Anything outside the range or "
                  "the step limits is refused, with the reason.")
    requests_apply_at_once = yes_no(
        "A dose the patient asks for within the limits", "applies at once",
        "waits for the prescriber's approval")
    above_usual_reason = forms.CharField(
        label="Reason for a highest dose above the usual range", max_length=500,
        required=False, widget=forms.Textarea(attrs={"rows": 2}))
    last_ecg_on = date_field("Date of the last ECG", required=False)
    reason = forms.CharField(label="Why", max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Kept with this version of the plan.",
                             error_messages={"required": "Say why."})
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_VERSION,
                                 required=False)

    def __init__(self, *args, medicine: Medicine, patient, editing: bool = False,
                 ecg_needed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.medicine, self.patient, self.editing = medicine, patient, editing
        unit = f"mg {per(medicine)}"
        for name in ("dose", "low", "high", "step_up_max", "step_down_max", "max_rise_7_days"):
            self.fields[name].label = f"{self.fields[name].label} ({unit})"
        if editing:
            del self.fields["started_on"]
            self.fields["dose"].required = False
            self.fields["dose"].label = f"New dose ({unit})"
            self.fields["dose"].help_text = "Empty: the dose stays as it is."
        else:
            for name in ("from_day", "restart", "version"):
                del self.fields[name]
        if not medicine.self_setting:
            for name in SELF_SETTING_FIELDS:
                del self.fields[name]
        if not medicine.substitute:
            for name in STEP_FIELDS:
                del self.fields[name]
        if medicine.given_by_professional:
            for name in DISPENSING_DAY_FIELDS:
                del self.fields[name]
            self.fields["pharmacy"].label = "Where it is given"
        if medicine.limits.usual_maintenance is None:
            del self.fields["above_usual_reason"]
        if medicine.limits.ecg_at_or_above is None and not ecg_needed:
            del self.fields["last_ecg_on"]
        self.reasons_moved: list[str] = []

    def hidden_terms(self) -> dict:
        """Values for the terms this medicine's form leaves out, keeping the plan valid."""
        top = self.medicine.limits.daily_max.value
        values: dict = {}
        if "self_setting" not in self.fields:
            values |= {"self_setting": False, "requests_apply_at_once": False}
        if "step_up_max" not in self.fields:  # a record of the medicine: no step limits
            values |= {"step_up_max": top, "step_down_max": top, "min_days_between": 1,
                       "max_rise_7_days": top}
        if "supervised_days" not in self.fields:  # given by a professional
            values |= {"supervised_days": 0, "take_home_days": 0}
        if "above_usual_reason" not in self.fields:
            values["above_usual_reason"] = ""
        if "last_ecg_on" not in self.fields:
            values["last_ecg_on"] = None
        return values

    def clean_started_on(self):
        day = self.cleaned_data["started_on"]
        return check_date(min(day, timezone.localdate()), "The start date",
                          born=self.patient.date_of_birth) and day

    def clean_last_ecg_on(self):
        day = self.cleaned_data.get("last_ecg_on")
        if day is None:
            return None
        return check_date(day, "The date of the last ECG", born=self.patient.date_of_birth)

    def clean_reason(self):
        text = self.cleaned_data["reason"].strip()
        if not text:
            raise forms.ValidationError("Say why.")
        return text

    def terms(self) -> doses.Terms:
        data = {**self.cleaned_data, **self.hidden_terms()}
        return doses.Terms(**{name: data[name] for name in doses.TERMS})


# --- requests ------------------------------------------------------------------------------

class AnswerForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", "Agree"), ("decline", "Do not agree")],
                               error_messages={"required": "Choose to agree or not.",
                                               "invalid_choice": "Choose to agree or not."})
    answer = forms.CharField(
        label="Your answer, in words the patient will read", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed when you do not agree.")

    def clean(self):
        data = super().clean()
        if data.get("action") == "decline" and not data.get("answer", "").strip():
            self.add_error("answer", "Say why, in words the patient will read.")
        return data


# --- stopping the plan ---------------------------------------------------------------------

class StopForm(forms.Form):
    reason = forms.CharField(label="Why the plan is stopping", max_length=500,
                             error_messages={"required": "Say why the plan is stopping."})
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_VERSION)


# --- reviews -------------------------------------------------------------------------------

class ReviewForm(forms.Form):
    held_on = date_field("Date of the review")
    adequacy = forms.ChoiceField(label="Is the dose right?", choices=Adequacy.choices,
                                 widget=forms.RadioSelect,
                                 error_messages={"required": "Choose one of the answers."})
    use_on_top = forms.CharField(label="Use on top of the medication", max_length=2000,
                                 required=False, widget=forms.Textarea(attrs={"rows": 3}))
    side_effects = forms.CharField(label="Side effects", max_length=2000, required=False,
                                   widget=forms.Textarea(attrs={"rows": 3}))
    patient_view = forms.CharField(
        label="The patient's view, in their words", max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write the patient's view, in their words."})
    substance_goal = forms.ChoiceField(
        label="What the patient wants next about their medication",
        choices=SubstanceGoal.choices, widget=forms.RadioSelect,
        help_text="Staying stable on medication is a goal in its own right, as are reducing "
                  "and coming off. Record what the patient wants.",
        error_messages={"required": "Choose what the patient wants next."})
    goal_chosen_by = forms.ChoiceField(label="Whose choice", choices=ChosenBy.choices,
                                       widget=forms.RadioSelect,
                                       error_messages={"required": "Choose whose choice it was."})
    goal_discussed = forms.BooleanField(
        label="We talked about what the patient wants next about their medication",
        required=False, initial=True)
    next_review = date_field("Next review")
    notes = forms.CharField(label="Notes", max_length=5000, required=False,
                            widget=forms.Textarea(attrs={"rows": 4}))
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=MAX_VERSION)

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient

    def clean_held_on(self):
        day = self.cleaned_data["held_on"]
        return check_date(day, "The date of the review", born=self.patient.date_of_birth)

    def clean_next_review(self):
        day = self.cleaned_data["next_review"]
        if day > timezone.localdate() + datetime.timedelta(days=doses.REVIEW_AHEAD_DAYS):
            raise forms.ValidationError("The next review is at most 3 months ahead.")
        return day

    def fields_for_service(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


# --- reductions ----------------------------------------------------------------------------

class ReductionForm(forms.Form):
    started_on = date_field("First step from")
    step = dose_field("Step down (mg)")
    every_days = whole_field("Days between steps", 1, 365)
    target = dose_field("Aim (mg)", help_text="The dose the reduction stops at. 0 mg: coming "
                                              "off, where the plan's range goes down to 0.")
    chosen_by = forms.ChoiceField(label="Whose choice", choices=ChosenBy.choices,
                                  widget=forms.RadioSelect, initial=ChosenBy.PATIENT,
                                  error_messages={"required": "Choose whose choice it was."})

    def clean_started_on(self):
        day = self.cleaned_data["started_on"]
        if day < timezone.localdate():
            raise forms.ValidationError("A reduction cannot start in the past.")
        if day > timezone.localdate() + datetime.timedelta(days=366):
            raise forms.ValidationError("The first step can be at most a year ahead.")
        return day


REDUCTION_ACTIONS = ("pause", "resume", "stop", "reverse")


class ReductionControlForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in REDUCTION_ACTIONS],
                               error_messages={"required": "Choose what to do.",
                                               "invalid_choice": "Choose what to do."})
    dose = dose_field("Dose to go back up to (mg)", required=False)
    note = forms.CharField(label="Note", max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == "reverse" and data.get("dose") is None \
                and "dose" not in self.errors:
            self.add_error("dose", "Enter the dose to go back up to.")
        return data


# --- the service's settings --------------------------------------------------------------

REVIEW_WORDS = ("Enter a number of days from 7 to 91. Medication is reviewed at least every 3 "
                "months (91 days; UK guidelines 2017); a service may ask for reviews sooner, "
                "never later.")
MISSED_WORDS = ("Enter 1, 2 or 3. After 3 missed days in a row tolerance may be lower (UK "
                "guidelines 2017, the '3-day rule'): a service may raise the flag sooner, "
                "never later.")


class SettingsForm(VersionedForm, forms.ModelForm):
    review_every_days = whole_field("Days between medication reviews", 7, 91,
                                    help_text="At most 91 (3 months).")
    missed_days_for_flag = whole_field("Missed days in a row that raise the urgent flag", 1, 3,
                                       help_text="At most 3 (the '3-day rule').")

    class Meta:
        model = MedicationSettings
        fields = ["review_every_days", "missed_days_for_flag", "restart_rule"]
        widgets = {"restart_rule": forms.Textarea(attrs={"rows": 5})}
        error_messages = {"restart_rule": {"required": "Write the restart rule: staff and "
                                                       "pharmacies read it after missed doses."}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["restart_rule"].help_text = (
            "Shown where missed doses are. The default follows the UK guidance: "
            + DEFAULT_RESTART_RULE)
        for name, words in (("review_every_days", REVIEW_WORDS),
                            ("missed_days_for_flag", MISSED_WORDS)):
            for key in ("invalid", "min_value", "max_value", "required"):
                self.fields[name].error_messages[key] = words

    def clean_restart_rule(self):
        text = self.cleaned_data["restart_rule"].strip()
        if not text:
            raise forms.ValidationError("Write the restart rule: staff and pharmacies read it "
                                        "after missed doses.")
        return text
