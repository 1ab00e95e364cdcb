"""Forms of the portal-access pages. Passwords follow the same rules as staff passwords
(AUTH_PASSWORD_VALIDATORS); a date of birth is typed as day, month and year."""

from __future__ import annotations

import calendar
import datetime

from django import forms
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)

from tandem.accounts.models import User
from tandem.core.dates import EARLIEST
from tandem.outbox.models import Channel
from tandem.portal_access import services
from tandem.records.dates import check_date

EARLIEST_YEAR = EARLIEST.year  # a year of birth before it is a typing slip (0000 is no year)


class DateOfBirthWidget(forms.MultiWidget):
    template_name = "portal_access/widgets/date_of_birth.html"

    def __init__(self):
        number = {"inputmode": "numeric", "autocomplete": "off"}
        super().__init__([
            forms.TextInput(attrs={**number, "size": 2, "maxlength": 2,
                                   "autocomplete": "bday-day"}),
            forms.TextInput(attrs={**number, "size": 2, "maxlength": 2,
                                   "autocomplete": "bday-month"}),
            forms.TextInput(attrs={**number, "size": 4, "maxlength": 4,
                                   "autocomplete": "bday-year"}),
        ])

    def decompress(self, value):
        return [value.day, value.month, value.year] if value else [None, None, None]


class DateOfBirthField(forms.MultiValueField):
    """Day, month and year, each a box: a date that cannot be is named in words."""

    widget = DateOfBirthWidget

    def __init__(self, **kwargs):
        parts = [forms.CharField(required=False, max_length=4) for _ in range(3)]
        super().__init__(parts, require_all_fields=False, **kwargs)
        self.error_messages["required"] = "Enter your date of birth: day, month and year."

    def compress(self, data_list):
        if not data_list:
            return None
        day, month, year = ((part or "").strip() for part in data_list)
        missing = [name for name, part in (("day", day), ("month", month), ("year", year))
                   if not part]
        if missing:
            raise forms.ValidationError(
                f"Enter the {' and the '.join(missing)} you were born, for example 17 5 1985.")
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            raise forms.ValidationError("Use numbers only, for example 17 5 1985.")
        d, m, y = int(day), int(month), int(year)
        if len(year) != 4:
            raise forms.ValidationError("Enter the year with four digits, for example 1985.")
        if y < EARLIEST_YEAR:
            raise forms.ValidationError(
                f"Check the year: it must be {EARLIEST_YEAR} or later, for example 1985.")
        if not 1 <= m <= 12:
            raise forms.ValidationError("The month must be a number from 1 to 12.")
        last = calendar.monthrange(y, m)[1]
        if not 1 <= d <= last:
            month_name = datetime.date(2000, m, 1).strftime("%B")
            raise forms.ValidationError(
                f"There is no day {d} in {month_name} {y}: check the day "
                f"({month_name} {y} has {last} days).")
        return check_date(datetime.date(y, m, d), "Your date of birth")


def password_fields(form: forms.Form) -> None:
    form.fields["password1"] = forms.CharField(
        label="Password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html())
    form.fields["password2"] = forms.CharField(
        label="Password again", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Type the same password again, to be sure of it.")


def check_passwords(form: forms.Form, user) -> None:
    one, two = form.cleaned_data.get("password1"), form.cleaned_data.get("password2")
    if one and two and one != two:
        form.add_error("password2", "The two passwords are not the same.")
    elif one:
        try:
            validate_password(one, user)
        except forms.ValidationError as error:
            form.add_error("password1", error)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Your code", max_length=20,
        help_text="8 letters and numbers, from your letter or message (for example "
                  "ACDE-FG34). Capital or small letters both work.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                      "spellcheck": "false"}))


class ActivateForm(forms.Form):
    """Date of birth, then the username (a new account only) and a password. Whether the
    username is taken is not checked here: only once the date of birth has matched."""

    date_of_birth = DateOfBirthField(label="Date of birth")

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.existing = patient.portal_user_id is not None
        if not self.existing:
            self.fields["username"] = forms.CharField(
                label="Choose a username", max_length=150,
                validators=[User.username_validator],
                help_text="You will type it to sign in. Letters, numbers and @ . + - _ only; "
                          "it need not be your name.",
                widget=forms.TextInput(attrs={"autocomplete": "username",
                                              "autocapitalize": "none",
                                              "spellcheck": "false"}))
        password_fields(self)

    def clean_username(self):
        # Whether it is taken is asked only once the date of birth matched (the view).
        return self.cleaned_data["username"].strip()

    def clean(self):
        data = super().clean()
        check_passwords(self, services.proposed_user(self.patient, data.get("username", "")))
        return data


class ForgotForm(forms.Form):
    username = forms.CharField(
        label="Your username", max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false"}))
    channel = forms.ChoiceField(
        label="How should we send it?", widget=forms.RadioSelect,
        choices=[(Channel.SMS, "A code by text message to my phone"),
                 (Channel.EMAIL, "A link by email")], initial=Channel.SMS)


class ResetCodeForm(forms.Form):
    username = forms.CharField(
        label="Your username", max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false"}))
    code = forms.CharField(
        label="The code from the text message", max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        password_fields(self)

    def clean(self):
        data = super().clean()
        check_passwords(self, None)
        return data


class ChannelForm(forms.Form):
    """Staff: the channel to send an invitation or a reset by."""

    channel = forms.ChoiceField(
        label="Send it by", widget=forms.RadioSelect,
        choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "Text message"),
                 (Channel.LETTER, "Letter, printed here to hand over or post")])

    def __init__(self, *args, patient, letter=True, **kwargs):
        super().__init__(*args, **kwargs)
        usable = services.channels(patient)
        choices = []
        for value, label in self.fields["channel"].choices:
            if value == Channel.LETTER and not letter:
                continue
            problem = usable[value]
            if value == Channel.LETTER and patient.do_not_contact:
                label = ("Letter, printed here to hand over in person (not to post: \"do not "
                         "contact\" is recorded)")
            if problem is None and value != Channel.LETTER:
                label = f"{label} to {services.recipient(patient, value)}"
            choices.append((value, label if problem is None else f"{label} — {problem}"))
        self.fields["channel"].choices = choices
        first = next((value for value, _ in choices if usable[value] is None), None)
        self.fields["channel"].initial = first
