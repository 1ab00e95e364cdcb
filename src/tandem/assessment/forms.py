"""Forms built from an instrument's items. Answers are checked by the pure core
(`check_answer`), so the portal, the staff page and the API give the same messages."""

from __future__ import annotations

import re

from django import forms

from tandem.assessment.models import CheckupSchedule, Mode
from tandem.core.instruments import Instrument, Item
from tandem.core.scoring import DECLINED, DECLINED_LABEL, AnswerError, check_answer


class AnswerField(forms.Field):
    def __init__(self, item: Item, *, declinable: bool = False, staff: bool = False, **kwargs):
        self.item = item
        self.declinable = declinable
        super().__init__(required=False, label=item.text, help_text=hint(item, staff=staff),
                         **kwargs)

    def to_python(self, value):
        try:
            return check_answer(self.item, value, declinable=self.declinable)
        except AnswerError as exc:
            raise forms.ValidationError(str(exc)) from None

    def prepare_value(self, value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return value


# A rating with at most this many points is answered with a row of buttons (0 to 20 makes
# 21: the outcomes profile's health ratings are 0 to 20, the life-domain ratings 0 to 10).
MOST_BUTTONS = 21
ENDS = re.compile(r"^\s*(-?\d+)\s*=\s*(.+?),\s*(-?\d+)\s*=\s*(.+?)\.?\s*$")


def is_rating(item: Item) -> bool:
    """A whole-number rating (no unit: days and amounts stay numbers to type)."""
    return (item.type == "integer" and not item.unit and item.min is not None
            and item.max is not None and float(item.min).is_integer()
            and float(item.max).is_integer() and 1 <= item.max - item.min < MOST_BUTTONS)


def rating_ends(item: Item) -> tuple[str, str] | None:
    """The words at each end of a rating, from its help ("0 = very bad, 10 = very good.")."""
    found = ENDS.match(item.help or "")
    if not found or (float(found[1]), float(found[3])) != (item.min, item.max):
        return None
    return found[2].strip(), found[4].strip()


def hint(item: Item, staff: bool = False) -> str:
    """The item's help (with the interviewer's note for staff), and for numbers the range
    expected (e.g. "0 to 7 days"). A rating's buttons show its range and the words at its ends
    instead."""
    rating = is_rating(item)
    parts = [item.help] if item.help and not (rating and rating_ends(item)) else []
    if staff and item.interviewer_help:
        parts.append(item.interviewer_help)
    if item.type in ("integer", "decimal") and not rating:
        unit = f" {item.unit}" if item.unit else ""
        parts.append(f"{item.min:g} to {item.max:g}{unit}.")
    return " ".join(parts)


class RatingButtons(forms.RadioSelect):
    """A rating as a row of buttons (radio inputs styled as buttons: the keyboard, screen
    readers and pages without JavaScript work as with any radio group), with the words at each
    end shown beneath and said with the end buttons."""

    template_name = "assessment/widgets/rating.html"

    def __init__(self, item: Item, *, declinable: bool = False):
        low, high = int(item.min), int(item.max)
        ends = rating_ends(item)
        choices = [(str(n), str(n)) for n in range(low, high + 1)]
        if declinable:
            choices.append((DECLINED, DECLINED_LABEL))
        super().__init__(choices=choices)
        self.low, self.high, self.ends = str(low), str(high), ends

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"].update(low=self.low, high=self.high, ends=self.ends)
        return context

    def format_value(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super().format_value(value)


def widget_for(item: Item, declinable: bool = False):
    if is_rating(item):
        return RatingButtons(item, declinable=declinable)
    if item.type == "choice":
        choices = [(o.value, o.label) for o in item.options]
        if declinable:  # a safety question: saying so is better than leaving it blank
            choices.append((DECLINED, DECLINED_LABEL))
        return forms.RadioSelect(choices=choices)
    if item.type == "boolean":
        return forms.RadioSelect(choices=[("yes", "Yes"), ("no", "No")])
    if item.type in ("integer", "decimal"):
        attrs = {"inputmode": "numeric" if item.type == "integer" else "decimal",
                 "class": "number", "autocomplete": "off"}
        # A text input (not type=number) so that what was typed is kept and checked by us,
        # with our message, rather than silently dropped by the browser.
        return forms.TextInput(attrs=attrs)
    return forms.TextInput(attrs={"maxlength": 200})


def posted(request):
    """The POST data of a POST, even when empty (an empty POST is still a submission)."""
    return request.POST if request.method == "POST" else None


def field_name(item: Item) -> str:
    return f"item_{item.id}"


class AnswersForm(forms.Form):
    """Fields for some or all of an instrument's items, named item_<id>."""

    def __init__(self, *args, instrument: Instrument, items: list[Item] | None = None,
                 answers: dict | None = None, staff: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.instrument = instrument
        self.items = items if items is not None else list(instrument.items)
        for item in self.items:
            declinable = item.id in instrument.safety_items
            field = AnswerField(item, declinable=declinable, staff=staff,
                                widget=widget_for(item, declinable))
            field.item_required = item.required
            self.fields[field_name(item)] = field
            if answers and item.id in answers:
                self.initial[field_name(item)] = answers[item.id]

    def answers(self) -> dict:
        """The raw values posted, by item id (checked again by the service)."""
        return {item.id: self.data.get(field_name(item), "") for item in self.items}

    def add_item_errors(self, errors: dict[str, str]) -> None:
        for item_id, message in errors.items():
            name = f"item_{item_id}"
            if name in self.fields:
                self.add_error(name, message)
            else:
                self.add_error(None, f"{item_id}: {message}")


# What a settings page says of a row it did not save (assessment/views/admin.py, the flag rules).
CHANGED = "changed since you opened this page"
UNCHECKED = ("not saved: the page did not say which version it was opened at, so it could "
             "not be checked against what is saved now; check it and save again")

SERVICE_SETTING = "service"  # the version token of a schedule using the service's interval


class PatientScheduleForm(forms.ModelForm):
    """A different interval between in-treatment check-ups for one patient.

    The schedule's one editable value is its version: `version` carries the interval the page
    was opened at (or "service"), and a save whose version is not the interval saved now (or
    is missing) saves nothing, so two people changing it at once never overwrite each other
    silently. (The row's other columns are recomputed by the worker and pages all the time.)"""

    version = forms.CharField(widget=forms.HiddenInput, required=False, max_length=10)

    class Meta:
        model = CheckupSchedule
        fields = ["interval_weeks"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["version"] = token(self.instance.interval_weeks)


def token(interval_weeks: int | None) -> str:
    return SERVICE_SETTING if interval_weeks is None else str(interval_weeks)


class StartForm(forms.Form):
    """A practitioner starts entering a check-up."""

    instrument = forms.ChoiceField(label="Questionnaire")
    mode = forms.ChoiceField(
        label="How it is being completed",
        choices=[(Mode.WITH_PRACTITIONER, Mode.WITH_PRACTITIONER.label),
                 (Mode.PHONE, Mode.PHONE.label)],
        widget=forms.RadioSelect, initial=Mode.WITH_PRACTITIONER,
    )

    def __init__(self, *args, instruments: dict[str, Instrument], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [(c, i.title) for c, i in instruments.items()]
