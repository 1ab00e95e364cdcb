"""The card sort as a plain form: for each card, a pile, a rank (for "work on this now"),
"I want help with this" and a short note. Works without JavaScript and by keyboard alone."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from tandem.patients.models import CareTeamMember
from tandem.planning.care_plan import default_review_date
from tandem.planning.models import (
    SUBSTANCE_CARDS,
    CarePlan,
    Goal,
    GoalType,
    Pile,
    PlanAction,
    Proposer,
)
from tandem.records.dates import DATE, check_date
from tandem.records.versioning import VersionedForm

# A goal's target, or the end of a plan action, is at most this far ahead: GAS goals are
# reviewed every 3 months, but a long-term aim (back in work, a tenancy kept) may take years;
# beyond 5 years a date is a slip (9999), not a plan.
LONGEST_AHEAD = datetime.timedelta(days=5 * 365 + 1)


def kept(form: forms.ModelForm, name: str) -> bool:
    """An existing record's date the person did not change: left as it is, so a record saved
    before these bounds can still be edited for something else."""
    return form.instance.pk is not None and name not in form.changed_data


def check_far_date(day: datetime.date, what: str, *, born=None) -> datetime.date:
    """A planned end (a goal's target, an action's end): not before the patient's birth or
    1900, and at most 5 years ahead."""
    today = timezone.localdate()
    if day > today + LONGEST_AHEAD:
        raise forms.ValidationError(f"{what} cannot be more than 5 years ahead.")
    check_date(min(day, today), what, born=born)  # the lower bounds only
    return day


class SortForm(forms.Form):
    def __init__(self, *args, cards: list[tuple[str, str, str]], entries: list[dict] = (),
                 **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.cards = cards
        known = {e["code"]: e for e in entries}
        ranks = [("", "—")] + [(str(n), str(n)) for n in range(1, len(cards) + 1)]
        for code, label, _question in cards:
            entry = known.get(code, {})
            self.fields[f"pile_{code}"] = forms.ChoiceField(
                label="Pile", choices=Pile.choices, widget=forms.RadioSelect, required=False,
                initial=entry.get("pile"))
            self.fields[f"rank_{code}"] = forms.TypedChoiceField(
                label=f"Rank of {label} (if “work on this now”)", choices=ranks, coerce=int,
                empty_value=None, required=False, initial=entry.get("rank"))
            self.fields[f"help_{code}"] = forms.BooleanField(
                label=f"I want help with {label.lower()}", required=False,
                initial=entry.get("help", False))
            self.fields[f"note_{code}"] = forms.CharField(
                label=f"Note about {label.lower()}", max_length=200, required=False,
                initial=entry.get("note", ""))

    def groups(self):
        """(label, [bound fields]) per card, for the template."""
        return [(label, [self[f"{kind}_{code}"] for kind in ("pile", "rank", "help", "note")])
                for code, label, _q in self.cards]

    def entries(self) -> list[dict]:
        data = self.cleaned_data
        return [{"code": code, "pile": data.get(f"pile_{code}") or None,
                 "rank": data.get(f"rank_{code}") if data.get(f"pile_{code}") == Pile.NOW
                 else None,
                 "help": bool(data.get(f"help_{code}")),
                 "note": data.get(f"note_{code}", "").strip()}
                for code, _label, _q in self.cards]

    def check_complete(self) -> bool:
        """For submission: every card in a pile, every "now" card a rank, no rank twice."""
        self.is_valid()  # runs the field checks; the whole-sort checks below run as well
        seen: dict[int, str] = {}
        for code, label, _q in self.cards:
            pile = self.cleaned_data.get(f"pile_{code}")
            rank = self.cleaned_data.get(f"rank_{code}")
            if f"pile_{code}" in self.errors or f"rank_{code}" in self.errors:
                continue
            if not pile:
                self.add_error(f"pile_{code}", f"Choose a pile for {label.lower()}.")
            elif pile == Pile.NOW:
                if rank is None:
                    self.add_error(f"rank_{code}", f"Give {label.lower()} a rank.")
                elif rank in seen:
                    self.add_error(f"rank_{code}", f"Rank {rank} is also given to "
                                   f"{seen[rank].lower()}; give each card its own rank.")
                else:
                    seen[rank] = label
        return not self.errors


class DiscussionForm(forms.Form):
    discussion = forms.CharField(
        label="What you talked about: how feasible each priority is and what it would bring",
        widget=forms.Textarea(attrs={"rows": 5}), max_length=5000, required=False)


class GoalForm(VersionedForm, forms.ModelForm):
    """A goal in the patient's words, with its GAS levels. Its version (VersionedForm) is the
    one the person started from, so two people editing at once never overwrite each other
    silently."""

    type_change_reason = forms.CharField(
        label="Why the kind of goal is changing", max_length=300, required=False,
        help_text="Needed when the kind of substance goal changes; kept in the goal's history.")

    class Meta:
        model = Goal
        fields = ["card", "statement", "proposed_by", "priority", "start_date", "target_date",
                  "lifecycle_status", "achievement_status", "goal_type", "goal_type_chosen_by",
                  "gas_minus2", "gas_minus1", "gas_0", "gas_plus1", "gas_plus2"]
        widgets = {"start_date": DATE, "target_date": DATE,
                   "statement": forms.Textarea(attrs={"rows": 3})}
        labels = {"goal_type_chosen_by": "Whose choice is the kind of goal",
                  "priority": "Priority (1 first)"}
        help_texts = {
            "statement": "As the patient puts it.",
            "goal_type": "For drug and alcohol goals only. The patient chooses; it can change "
                         "at any time.",
        }

    def __init__(self, *args, cards, patient, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.born = patient.date_of_birth
        self.fields["card"] = forms.ChoiceField(
            label="Area of life", choices=[(code, label) for code, label, _q in cards])
        self.fields["goal_type"].choices = [("", "— (not a substance goal)")] + list(
            GoalType.choices)
        self.fields["goal_type_chosen_by"].choices = [("", "—")] + list(Proposer.choices)

    def clean_start_date(self):  # a goal may start later, e.g. after a detox (planned)
        day = self.cleaned_data["start_date"]
        if not day or kept(self, "start_date"):
            return day
        return check_date(day, "The start date", born=self.born, planned=True)

    def clean_target_date(self):
        day = self.cleaned_data["target_date"]
        if not day or kept(self, "target_date"):
            return day
        return check_far_date(day, "The target date", born=self.born)

    def clean(self):
        data = super().clean()
        card, kind = data.get("card"), data.get("goal_type")
        if card in SUBSTANCE_CARDS:
            if not kind:
                self.add_error("goal_type", "Choose the kind of goal the patient wants.")
            if not data.get("goal_type_chosen_by"):
                self.add_error("goal_type_chosen_by", "Say whose choice it was.")
        elif kind and card:
            self.add_error("goal_type", "Only drug and alcohol goals have a kind of goal.")
        start, target = data.get("start_date"), data.get("target_date")
        if start and target and target < start:
            self.add_error("target_date", "The target date is before the start date.")
        changing = self.instance.pk and kind and kind != self.instance.goal_type
        if changing and self.instance.goal_type and not data.get("type_change_reason"):
            self.add_error("type_change_reason", "Say why the kind of goal is changing.")
        return data


class CarePlanForm(VersionedForm, forms.ModelForm):

    class Meta:
        model = CarePlan
        fields = ["review_date", "status"]
        widgets = {"review_date": DATE}
        help_texts = {"review_date": "No later than 3 months ahead."}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_review_date(self):
        day = self.cleaned_data["review_date"]
        today = timezone.localdate()
        if day < today:
            raise forms.ValidationError("The review date cannot be in the past.")
        if day > default_review_date(today):
            raise forms.ValidationError(
                f"Review the plan no later than 3 months ahead "
                f"({default_review_date(today).day} {default_review_date(today):%B %Y}).")
        return day


class ActionForm(VersionedForm, forms.ModelForm):

    class Meta:
        model = PlanAction
        fields = ["intervention", "description", "goal", "provider", "frequency", "start_date",
                  "end_date", "status"]
        widgets = {"start_date": DATE, "end_date": DATE}
        labels = {"provider": "Who provides it", "goal": "For which goal"}

    def __init__(self, *args, patient, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["goal"].queryset = patient.goals.all()
        self.fields["provider"].queryset = CareTeamMember.objects.filter(
            care_team__patient=patient).select_related("user")
        self.born = patient.date_of_birth

    def clean_start_date(self):
        day = self.cleaned_data["start_date"]
        if not day or kept(self, "start_date"):
            return day
        return check_date(day, "The start date", born=self.born, planned=True)

    def clean_end_date(self):
        day = self.cleaned_data["end_date"]
        if not day or kept(self, "end_date"):
            return day
        return check_far_date(day, "The end date", born=self.born)

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date is before the start date.")
        return data


class ProposalForm(forms.Form):
    text = forms.CharField(label="What would you like to change in your plan?",
                           widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)


class ResponseForm(forms.Form):
    status = forms.ChoiceField(label="Answer", choices=[
        ("accepted", "Accept: I will change the plan"),
        ("discuss", "Let's talk about it together")], widget=forms.RadioSelect)
    response = forms.CharField(label="A note for the patient", required=False, max_length=2000,
                               widget=forms.Textarea(attrs={"rows": 3}))


LEVEL_CHOICES = [("", "Not rated")] + [(str(level), f"{level:+d}" if level else "0")
                                      for level in (-2, -1, 0, 1, 2)]


class ReviewForm(forms.Form):
    """Each goal rated on its own five levels, by the patient and by the practitioner."""

    held_on = forms.DateField(label="Date of the review", widget=DATE)
    next_review = forms.DateField(label="Next review", widget=DATE,
                                  help_text="No later than 3 months after this review.")
    notes = forms.CharField(label="Notes from the review", required=False, max_length=5000,
                            widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, goals, patient, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.goals = goals
        self.born = patient.date_of_birth
        for goal in goals:
            levels = [("", "Not rated")] + [
                (str(level), f"{level:+d}: {text}" if level else f"0: {text}")
                for level, text in reversed(goal.gas_levels())]
            for who, label in (("patient", "The patient's view"),
                               ("practitioner", "The practitioner's view")):
                self.fields[f"{who}_{goal.pk}"] = forms.TypedChoiceField(
                    label=label, choices=levels, coerce=int, empty_value=None, required=False,
                    widget=forms.RadioSelect)
            self.fields[f"comment_{goal.pk}"] = forms.CharField(
                label="Comment", required=False, max_length=300)

    def groups(self):
        return [(goal, [self[f"{kind}_{goal.pk}"] for kind in
                        ("patient", "practitioner", "comment")]) for goal in self.goals]

    def clean(self):
        data = super().clean()
        held, nxt = data.get("held_on"), data.get("next_review")
        if held and held > timezone.localdate():
            self.add_error("held_on", "The review cannot be in the future.")
        elif held:
            try:
                check_date(held, "The date of the review", born=self.born)
            except forms.ValidationError as problem:
                self.add_error("held_on", problem)
        if held and nxt:
            if nxt <= held:
                self.add_error("next_review", "The next review must be after this one.")
            elif nxt > default_review_date(held):
                self.add_error("next_review",
                               "Set the next review no later than 3 months after this one.")
        if self.goals and not any(data.get(f"{who}_{g.pk}") is not None
                                  for g in self.goals for who in ("patient", "practitioner")):
            self.add_error(None, "Rate at least one goal.")
        return data

    def ratings(self) -> list[tuple]:
        data = self.cleaned_data
        return [(goal, data.get(f"patient_{goal.pk}"), data.get(f"practitioner_{goal.pk}"),
                 data.get(f"comment_{goal.pk}", "")) for goal in self.goals]
