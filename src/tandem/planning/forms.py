"""The card sort as a plain form: for each card, a pile, a rank (for "work on this now"),
"I want help with this" and a short note. Works without JavaScript and by keyboard alone."""

from __future__ import annotations

from django import forms

from tandem.planning.models import Pile


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
