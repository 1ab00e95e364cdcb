"""The caseload's filters."""

from django import forms

from tandem.caseload.entries import Filters
from tandem.core.flags import RULES
from tandem.patients.models import EpisodeStatus


class CaseloadFilterForm(forms.Form):
    """Filters on the caseload; every field optional, a GET form."""

    q = forms.CharField(label="Name or service ID", required=False, max_length=100)
    team = forms.TypedChoiceField(label="Team", required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label="Episode", required=False,
                               choices=[("", "Any"), *EpisodeStatus.choices])
    flag = forms.ChoiceField(label="Flag", required=False)

    def __init__(self, *args, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "All my teams"), *[(t.pk, t.name) for t in teams]]
        self.fields["flag"].choices = [("", "Any or none"),
                                       *[(code, spec.title) for code, spec in RULES.items()]]

    def selects(self):
        """Each choice field with its options as (value, label, selected), for the caseload
        page to write out directly: Django's widget templates render each option as a
        template of its own, a visible part of the page's time."""
        for name in ("team", "status", "flag"):
            field = self[name]
            current = str(field.value() or "")
            yield field, [(str(v), label, str(v) == current) for v, label in field.field.choices]

    def filters(self):
        d = self.cleaned_data
        return Filters(search=d.get("q") or "", team=d.get("team"), status=d.get("status") or "",
                       rule=d.get("flag") or "")
