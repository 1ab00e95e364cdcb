"""The reliable change index (Jacobson & Truax). No Django imports.

Source: Jacobson NS, Truax P. Clinical significance: a statistical approach to defining
meaningful change in psychotherapy research. J Consult Clin Psychol 1991;59(1):12-19.

    S_E    = s₁ · √(1 − r_xx)        standard error of measurement
    S_diff = √(2 · S_E²)             standard error of the difference
    RC     = (x₂ − x₁) / S_diff      |RC| > 1.96 is change unlikely (p < .05) to be error

s₁ (the standard deviation of a reference sample) and r_xx (the measure's reliability) are
given per scale, with their source, in each instrument's definition file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

CRITICAL = 1.96  # two-tailed p < .05 (Jacobson & Truax 1991, p. 14)

Label = Literal["reliably improved", "no reliable change", "reliably worse"]


@dataclass(frozen=True)
class Change:
    before: float
    after: float
    index: float
    label: Label

    @property
    def difference(self) -> float:
        return self.after - self.before


def s_diff(sd: float, reliability: float) -> float:
    if sd <= 0 or not 0 < reliability < 1:
        raise ValueError("sd must be positive and reliability between 0 and 1")
    standard_error = sd * math.sqrt(1 - reliability)
    return math.sqrt(2 * standard_error**2)


def threshold(sd: float, reliability: float) -> float:
    """The smallest difference in scores that counts as reliable change."""
    return CRITICAL * s_diff(sd, reliability)


def reliable_change(
    before: float, after: float, *, sd: float, reliability: float, higher_is: str
) -> Change:
    index = (after - before) / s_diff(sd, reliability)
    label: Label = "no reliable change"
    if abs(index) > CRITICAL:
        better = index < 0 if higher_is == "worse" else index > 0
        label = "reliably improved" if better else "reliably worse"
    return Change(before, after, index, label)
