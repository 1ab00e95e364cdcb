"""Agreement between two independent priority sorts of the same cards. No Django imports.

Each sort puts every card in one of three ordered piles: "now" (work on this now, ranked
1..k), "later", and "not" (not for me / fine as it is).

Weighted kappa — Cohen J. Weighted kappa: nominal scale agreement with provision for scaled
disagreement or partial credit. Psychol Bull 1968;70:213-220. With disagreement weights vᵢⱼ,
observed proportions oᵢⱼ and chance proportions eᵢⱼ (the product of the two raters' margins):

    κw = 1 − Σ vᵢⱼ·oᵢⱼ / Σ vᵢⱼ·eᵢⱼ,   vᵢⱼ = |i − j| (linear) or (i − j)² (quadratic)

the form scikit-learn's cohen_kappa_score computes. Scaling the weights does not change κw,
so |i − j| gives the same value as the Cicchetti-Allison agreement weights 1 − |i − j|/(k − 1)
(statsmodels' "linear") and irr's kappa2 "equal" weights.
When both raters put every item in one and the same category, chance disagreement is zero
and κw is 0/0. scikit-learn returns NaN there (or `replace_undefined_by`; issues #9624,
#14256, pull request #31172). Here it is 1.0: the two raters agree completely, and a care
plan comparison needs a number, not NaN.

Spearman's ρ is the Pearson correlation of the ranks, tied values sharing the mean of the
ranks they span (the rule given for ties in Spearman's rank correlation coefficient,
Wikipedia; scipy.stats.spearmanr does the same). It is None when either side has no
variation, where the correlation is undefined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PILES = ("now", "later", "not")


def weighted_kappa(a: list[int], b: list[int], categories: int, weights: str = "linear") -> float:
    if len(a) != len(b):
        raise ValueError("the two raters must rate the same number of items")
    if not a:
        raise ValueError("there are no ratings")
    if weights not in ("linear", "quadratic"):
        raise ValueError('weights must be "linear" or "quadratic"')
    power = 1 if weights == "linear" else 2
    for value in (*a, *b):
        if not (isinstance(value, int) and 0 <= value < categories):
            raise ValueError(f"ratings must be whole numbers from 0 to {categories - 1}")
    rows = [a.count(i) for i in range(categories)]
    cols = [b.count(j) for j in range(categories)]
    # Counts, not proportions, so the sums are exact: κw = 1 − n·Σv(a,b) / Σ vᵢⱼ·rowᵢ·colⱼ.
    observed = len(a) * sum(abs(i - j) ** power for i, j in zip(a, b, strict=True))
    chance = sum(
        abs(i - j) ** power * rows[i] * cols[j]
        for i in range(categories)
        for j in range(categories)
    )
    if chance == 0:  # both raters used one and the same category throughout
        return 1.0
    return 1 - observed / chance


def _ranks(values: list[float]) -> list[int]:
    """Twice each value's rank (ties share the mean rank), so that every rank is a whole number."""
    order = sorted(range(len(values)), key=values.__getitem__)
    doubled = [0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            doubled[order[position]] = start + end + 2  # (start + 1) + (end + 1)
        start = end + 1
    return doubled


def spearman_rho(x: list[float], y: list[float]) -> float | None:
    if len(x) != len(y):
        raise ValueError("x and y must be the same length")
    if not x:
        raise ValueError("there are no values")
    rx, ry = _ranks(x), _ranks(y)
    n = len(x)
    # Whole-number sums of squares and products: exact, and symmetric in x and y.
    sxy = n * sum(p * q for p, q in zip(rx, ry, strict=True)) - sum(rx) * sum(ry)
    sxx = n * sum(p * p for p in rx) - sum(rx) ** 2
    syy = n * sum(q * q for q in ry) - sum(ry) ** 2
    if sxx == 0 or syy == 0:
        return None
    product = sxx * syy
    root = math.isqrt(product)
    rho = sxy / (root if root * root == product else math.sqrt(product))
    return max(-1.0, min(1.0, rho))


def _check_unique(*piles: list[str]) -> None:
    seen: set[str] = set()
    for pile in piles:
        for card in pile:
            if card in seen:
                raise ValueError(f"card {card!r} appears more than once")
            seen.add(card)


def sort_ranks(now: list[str], later: list[str], not_for_me: list[str]) -> dict[str, float]:
    """A rank for every card: "now" cards 1..k in order, then each other pile tied at the
    mean of the ranks it spans."""
    _check_unique(now, later, not_for_me)
    ranks = {card: float(position) for position, card in enumerate(now, start=1)}
    first = len(now) + 1
    for pile in (later, not_for_me):
        last = first + len(pile) - 1
        ranks.update((card, (first + last) / 2) for card in pile)
        first = last + 1
    return ranks


@dataclass(frozen=True)
class Comparison:
    kappa: float  # linear weighted kappa on the piles, now=0, later=1, not=2
    rho: float | None  # Spearman's ρ on sort_ranks; None if either sort has no variation
    agree: list[str]  # cards both put in the same pile, by card code
    disagreements: list[tuple[str, str, str, int]]  # (card, pile_a, pile_b, distance)
    only_a_now: list[str]  # in a's "now" but not b's, in a's order
    only_b_now: list[str]  # in b's "now" but not a's, in b's order


def _piles(sort: dict[str, list[str]]) -> dict[str, int]:
    if set(sort) != set(PILES):
        raise ValueError(f"a sort must have exactly the piles {PILES}")
    _check_unique(*(sort[pile] for pile in PILES))
    return {card: index for index, pile in enumerate(PILES) for card in sort[pile]}


def compare(a: dict[str, list[str]], b: dict[str, list[str]]) -> Comparison:
    pile_a, pile_b = _piles(a), _piles(b)
    if set(pile_a) != set(pile_b):
        raise ValueError("the two sorts must cover the same cards")
    cards = sorted(pile_a)
    ranks_a = sort_ranks(a["now"], a["later"], a["not"])
    ranks_b = sort_ranks(b["now"], b["later"], b["not"])
    disagreements = [
        (card, PILES[pile_a[card]], PILES[pile_b[card]], abs(pile_a[card] - pile_b[card]))
        for card in cards
        if pile_a[card] != pile_b[card]
    ]
    disagreements.sort(key=lambda item: (-item[3], item[0]))
    return Comparison(
        kappa=weighted_kappa([pile_a[c] for c in cards], [pile_b[c] for c in cards], 3),
        rho=spearman_rho([ranks_a[c] for c in cards], [ranks_b[c] for c in cards]),
        agree=[card for card in cards if pile_a[card] == pile_b[card]],
        disagreements=disagreements,
        only_a_now=[card for card in a["now"] if pile_b[card] != 0],
        only_b_now=[card for card in b["now"] if pile_a[card] != 0],
    )
