"""Goal Attainment Scaling (GAS): the aggregate T-score. No Django imports.

Source: Kiresuk TJ, Sherman RE. Goal attainment scaling: a general method for evaluating
comprehensive community mental health programs. Community Ment Health J 1968;4:443-453.
Formula as corrected in the erratum to Turner-Stokes L. Goal attainment scaling (GAS) in
rehabilitation: a practical guide. Clin Rehabil 2009;23:362-370:

    T = 50 + 10·Σ(wᵢxᵢ) / √((1 − ρ)·Σwᵢ² + ρ·(Σwᵢ)²)

xᵢ is the level reached on goal i (−2 … +2, 0 = the expected outcome), wᵢ its weight (1 when
goals are unweighted; Turner-Stokes weights a goal by importance × difficulty) and ρ the
assumed correlation between goal scales, conventionally 0.3. All goals at the expected level
give T = 50; a single goal gives T = 50 + 10·x whatever ρ, since the root is then √(w²) = w.

Weights must be positive here. Turner-Stokes's importance and difficulty ratings start at 0,
so a goal weighted 0 adds nothing to the score: leave it out rather than pass it in.

Change from baseline (outcome T − baseline T) is how Turner-Stokes L, Williams H. Goal
attainment scaling: a direct comparison of alternative rating methods. Clin Rehabil
2010;24:66-73 report progress, with each goal scored −1 or −2 at baseline.

Level wording: "much more / somewhat more than expected" and "expected level (of outcome)"
as in PubMed Central PMC7370244, table 1; "much less than expected" as in PMC6414821,
table 1; "somewhat less than expected" mirrors +1, as on common GAS calculators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LEVELS = (-2, -1, 0, 1, 2)

LEVEL_LABELS = {
    -2: "much less than expected",
    -1: "somewhat less than expected",
    0: "expected level",
    1: "somewhat more than expected",
    2: "much more than expected",
}

RHO = 0.3  # Kiresuk & Sherman 1968; Turner-Stokes 2009


@dataclass(frozen=True)
class Rating:
    level: int
    weight: float = 1.0


def t_score(ratings: list[Rating], rho: float = RHO) -> float:
    if not ratings:
        raise ValueError("at least one goal is needed")
    if not 0 <= rho < 1:
        raise ValueError("rho must be at least 0 and less than 1")
    for rating in ratings:
        if rating.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {rating.level!r}")
        if not (math.isfinite(rating.weight) and rating.weight > 0):
            raise ValueError(f"weight must be a positive number, not {rating.weight!r}")
    weighted = sum(r.weight * r.level for r in ratings)
    squares = sum(r.weight**2 for r in ratings)
    total = sum(r.weight for r in ratings)
    return 50 + 10 * weighted / math.sqrt((1 - rho) * squares + rho * total**2)


def change(baseline: list[Rating], outcome: list[Rating], rho: float = RHO) -> float:
    """Outcome T-score minus baseline T-score (Turner-Stokes & Williams 2010)."""
    return t_score(outcome, rho) - t_score(baseline, rho)
