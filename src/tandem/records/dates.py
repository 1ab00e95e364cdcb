"""Date checks for forms: the rules are in tandem.core.dates."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone

from tandem.core.dates import date_problem

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def check_date(day: datetime.date, what: str, *, born: datetime.date | None = None,
               planned: bool = False) -> datetime.date:
    """`day`, or a form error naming the field when it cannot be true (tandem.core.dates)."""
    problem = date_problem(day, what, timezone.localdate(), born=born, planned=planned)
    if problem:
        raise forms.ValidationError(problem)
    return day
