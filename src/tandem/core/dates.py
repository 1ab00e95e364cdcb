"""Which dates can be true on a record. Pure: no Django; `today` is passed in.

Used by every form with a date (tandem.records.dates.check_date raises the form error) and by
the audit page's date filter."""

from __future__ import annotations

import datetime

# No date on a record is before this (nor before the patient was born).
EARLIEST = datetime.date(1900, 1, 1)
# Planned dates (a care-team membership's start or end) are at most this far ahead.
AHEAD = datetime.timedelta(days=366)


def date_problem(day: datetime.date, what: str, today: datetime.date, *,
                 born: datetime.date | None = None, planned: bool = False) -> str | None:
    """Why `day` cannot be true, in words starting with `what` (e.g. "The start date"), or None:
    before the patient was born, before 1900, or in the future for what already happened
    (`planned`: more than a year ahead)."""
    if born is not None and day < born:
        return f"{what} is before the patient was born ({born.day} {born:%B %Y})."
    if day < EARLIEST:
        return f"{what} cannot be before 1900."
    if planned and day > today + AHEAD:
        return f"{what} cannot be more than a year ahead."
    if not planned and day > today:
        return f"{what} cannot be in the future."
    return None
