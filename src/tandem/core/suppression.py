"""Small-number suppression: what a figure shows once it leaves the service.

No Django. On screen staff see exact figures, with a marker on those `would_suppress`; in
anything that leaves the service (CSV, spreadsheet, PDF) every figure goes through `shown`.

The rule is NHS Digital's disclosure control for figures below national level, written for
Hospital Episode Statistics and the Emergency Care Data Set and since used across its
secondary care, sexual health and child measurement statistics:

- a count of 1 to 7 is shown as "*"; every other count is rounded to the nearest 5 (0 stays 0);
- a mean or median (any figure worked out from several people's values) from 1 to 7 people is
  not worked out: "*" is shown; from 8 or more people it is shown;
- a percentage is worked out from the rounded numerator and the rounded denominator, and is
  "*" when either of them is.

Source: NHS Digital, "Disclosure control methodology for Hospital Episode Statistics (HES) and
Emergency Care Data Set (ECDS)", applied from September 2018
(digital.nhs.uk/data-and-information/data-tools-and-services/data-services/
hospital-episode-statistics/change-to-disclosure-control-methodology-for-hes-and-ecds-from-
september-2018); the same rules, restated, in NHS Digital's "Changes to the Sexual and
Reproductive Health Activity Dataset (SRHAD) disclosure control methodology for 2019-20".

Decisions (Tandem's, within that rule):

- **Percentages from the rounded counts**, as NHS Digital's methodology does (it warns that a
  percentage from the rounded numerator and denominator differs from the unrounded one, more so
  for small denominators). It is also the safe choice: a percentage worked out from the exact
  counts can give them back. "9 of 11" shows as 10 of 10 after rounding, but 82% (9/11 = 81.8%)
  names the exact pair, since no other numerator of 8 to 12 people gives 82%. From the rounded
  counts the percentage (10 of 10: 100%) says nothing the rounded counts do not already say.
  Rounding to the nearest 5 never changes which of two counts is the larger, so a rounded
  numerator is never above its rounded denominator: a shown percentage is 0% to 100%.
- Percentages and means are rounded half up (12.5% shows as 13%), to 0 and 1 decimal places.
- A share with nobody in its denominator, a count, mean or median with no value: nothing to show
  (an empty cell), not "*": there is no one to protect.
- `would_suppress` is True when the figure would be shown as "*" (hidden), not when it would only
  be rounded: the page marks the figures that an export hides.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from tandem.core.report import Kind, Value

SUPPRESSED = "*"
SMALLEST_SHOWN = 8  # a count of 1 to 7, or a mean or median of 1 to 7 people, is "*"
ROUND_TO = 5

# One line for the page and for every export, in plain words.
EXPLANATION = (
    "Small numbers are hidden so that nobody can be recognised (NHS Digital's rule): "
    "a count of 1 to 7 is shown as *, every other count is rounded to the nearest 5, "
    "a mean or median of fewer than 8 people is shown as *, and a percentage is worked out "
    "from the rounded counts and shown as * when either count is hidden. "
    "An empty cell means there was nobody to count."
)
SOURCE = ("NHS Digital, Disclosure control methodology for Hospital Episode Statistics (HES) "
          "and Emergency Care Data Set (ECDS), September 2018")


def is_small(n: int | None) -> bool:
    """A count of 1 to 7: hidden."""
    return n is not None and 1 <= n < SMALLEST_SHOWN


def rounded(n: int) -> int:
    """`n` to the nearest 5 (no count of people ends in a half, so there are no ties)."""
    if n < 0:
        raise ValueError("A count cannot be below 0.")
    return ROUND_TO * ((n + ROUND_TO // 2) // ROUND_TO)


def count_text(n: int | None) -> str:
    """A count as it leaves the service: "*" for 1 to 7, else rounded to the nearest 5."""
    if n is None:
        return ""
    return SUPPRESSED if is_small(n) else str(rounded(n))


def _half_up(x: Fraction | float, places: int) -> Decimal:
    exact = Decimal(x.numerator) / Decimal(x.denominator) if isinstance(x, Fraction) \
        else Decimal(repr(float(x)))
    out = exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return abs(out) if out == 0 else out  # never "-0.0"


def shown_number(kind: Kind, value: Value) -> int | float | str | None:
    """The figure as it leaves the service, as a number where it is shown: a COUNT rounded to
    the nearest 5 (int); a SHARE as a whole percentage from the rounded counts (int, 0 to 100);
    a MEAN or MEDIAN to 1 decimal place (float). "*" when hidden; None when there is nothing
    to show (nobody counted)."""
    if kind == Kind.COUNT:
        if value.count is None:
            return None
        return SUPPRESSED if is_small(value.count) else rounded(value.count)
    if kind == Kind.SHARE:
        if is_small(value.count) or is_small(value.of):
            return SUPPRESSED
        if value.count is None or not value.of:
            return None
        return int(_half_up(Fraction(100 * rounded(value.count), rounded(value.of)), 0))
    # MEAN, MEDIAN: only from 8 or more people. A value whose number of people is not known
    # is hidden: nothing shows that it came from enough people.
    if is_small(value.people):
        return SUPPRESSED
    if value.value is None:
        return None
    if value.people is None or value.people < SMALLEST_SHOWN:
        return SUPPRESSED
    return float(_half_up(value.value, 1))


def would_suppress(kind: Kind, value: Value) -> bool:
    """True when the figure would leave the service as "*" (a count of 1 to 7, a percentage
    with a part of 1 to 7, a mean or median of fewer than 8 people)."""
    return shown_number(kind, value) == SUPPRESSED


def shown(kind: Kind, value: Value) -> str:
    """The text that leaves the service: "*", a count rounded to the nearest 5 ("15"), a
    percentage to 0 decimal places ("67%"), a mean or median to 1 decimal place ("-2.5"), or
    "" when there was nobody to count."""
    number = shown_number(kind, value)
    if number is None:
        return ""
    if number == SUPPRESSED:
        return SUPPRESSED
    if kind == Kind.COUNT:
        return str(number)
    if kind == Kind.SHARE:
        return f"{number}%"
    return f"{number:.1f}"
