"""The GAS T-score (Kiresuk & Sherman 1968) against published figures and its algebra.

Formula as corrected in the erratum to Turner-Stokes, Clin Rehabil 2009;23:362-370:
T = 50 + 10·Σwx / √(0.7·Σw² + 0.3·(Σw)²) with the conventional ρ = 0.3.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.gas import LEVEL_LABELS, LEVELS, RHO, Rating, change, t_score


def unweighted(*levels):
    return [Rating(level) for level in levels]


def test_levels_and_labels():
    assert LEVELS == (-2, -1, 0, 1, 2)
    assert set(LEVEL_LABELS) == set(LEVELS)
    assert LEVEL_LABELS[0] == "expected level"
    assert LEVEL_LABELS[-2] == "much less than expected"
    assert LEVEL_LABELS[2] == "much more than expected"
    assert RHO == 0.3


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_goals_met_exactly_score_50(n):
    # Turner-Stokes 2009 (abstract): T is 50 "if the goals are achieved precisely".
    assert t_score(unweighted(*[0] * n)) == 50


@pytest.mark.parametrize(("n", "expected"), [(3, 22.6), (4, 21.0), (5, 19.8)])
def test_every_goal_at_minus_two(n, expected):
    # n unweighted goals all at −2: T = 50 − 20n / √(0.7n + 0.3n²).
    #   n = 3: 50 − 60/√4.8 = 22.61;  n = 4: 50 − 80/√7.6 = 20.98;  n = 5: 50 − 100/√11 = 19.85.
    # Turner-Stokes & Williams, Clin Rehabil 2010;24:66-73 (PubMed 20026573) set every
    # baseline goal at −2 ("version 1") and report a baseline median of 21.0 (IQR 19.8-22.6)
    # for patients with 1-6 goals: exactly these values for 4, 5 and 3 goals, to 1 d.p.
    assert round(t_score(unweighted(*[-2] * n)), 1) == expected


@pytest.mark.parametrize(
    ("levels", "expected"), [((-1,) * 5, 34.9), ((-2, -1, -1, -1), 31.9), ((-1,) * 4, 35.5)]
)
def test_standard_baselines(levels, expected):
    # The same paper's standard rating (each baseline goal −1 or −2) gives a baseline median
    # of 34.9 (IQR 31.9-35.5). By the formula: five goals at −1 = 50 − 50/√11 = 34.92;
    # four goals at −2, −1, −1, −1 = 50 − 50/√7.6 = 31.86; four at −1 = 50 − 40/√7.6 = 35.49.
    assert round(t_score(unweighted(*levels)), 1) == expected


def test_weighted_example_importance_times_difficulty():
    # PhysioClinical (x-biosignal) scoreGAS reference page, published example output:
    # "Transfers" importance 3 × difficulty 2 (w = 6) reached +1, "Stairs" 2 × 3 (w = 6)
    # reached 0 → "T = 56.20". By hand: 60 / √(0.7·72 + 0.3·144) = 60/√93.6 = 6.2017.
    ratings = [Rating(1, weight=3 * 2), Rating(0, weight=2 * 3)]
    assert t_score(ratings) == pytest.approx(56.20, abs=0.005)


def test_weighted_example_six_goals():
    # The calc_tscore example in gasr (taylordunn/gasr, R/calculate.R): scores
    # (−2, 0, −1, 2, 0, 1) with weights (3, 5, 1, 4, 2, 6). The package prints no result;
    # by hand Σwx = 7, Σw² = 91, Σw = 21, so T = 50 + 70/√(63.7 + 132.3) = 50 + 70/14 = 55.
    levels, weights = (-2, 0, -1, 2, 0, 1), (3, 5, 1, 4, 2, 6)
    ratings = [Rating(x, weight=w) for x, w in zip(levels, weights, strict=True)]
    assert t_score(ratings) == pytest.approx(55.0, abs=1e-12)


def test_weights_change_the_score():
    # Doubling the weight of the goal that was overachieved pulls T up (Turner-Stokes 2009:
    # weighting reflects importance and difficulty).
    plain = t_score([Rating(1), Rating(-1)])
    assert plain == 50
    assert t_score([Rating(1, weight=2), Rating(-1)]) > plain


def test_change_is_outcome_minus_baseline():
    # Turner-Stokes & Williams 2010 report baseline T and change in T. Three goals from −1 to
    # 0: baseline 50 − 30/√4.8 = 36.31, outcome 50, change 13.69.
    baseline, outcome = unweighted(-1, -1, -1), unweighted(0, 0, 0)
    assert change(baseline, outcome) == pytest.approx(30 / math.sqrt(4.8))
    assert change(baseline, outcome) == pytest.approx(13.69, abs=0.005)


@pytest.mark.parametrize(
    ("ratings", "rho"),
    [
        ([], RHO),
        ([Rating(3)], RHO),
        ([Rating(-3)], RHO),
        ([Rating(0, weight=0)], RHO),
        ([Rating(0, weight=-1)], RHO),
        ([Rating(0, weight=math.nan)], RHO),
        ([Rating(0)], -0.1),
        ([Rating(0)], 1),
        ([Rating(0)], 1.5),
    ],
)
def test_rejects_impossible_input(ratings, rho):
    with pytest.raises(ValueError):
        t_score(ratings, rho)


levels = st.sampled_from(LEVELS)
weights = st.floats(min_value=0.1, max_value=9)
rhos = st.floats(min_value=0, max_value=0.95)
ratings = st.lists(st.builds(Rating, levels, weights), min_size=1, max_size=8)


@given(st.lists(weights, min_size=1, max_size=8), rhos)
def test_property_all_expected_is_exactly_50(ws, rho):
    assert t_score([Rating(0, w) for w in ws], rho) == 50


@given(ratings, rhos)
def test_property_negating_every_level_mirrors_about_50(rs, rho):
    mirrored = [Rating(-r.level, r.weight) for r in rs]
    assert t_score(mirrored, rho) == pytest.approx(100 - t_score(rs, rho), abs=1e-9)


@given(ratings, rhos, st.data())
def test_property_raising_one_level_never_lowers_t(rs, rho, data):
    i = data.draw(st.integers(0, len(rs) - 1))
    if rs[i].level == 2:
        return
    raised = [*rs[:i], Rating(rs[i].level + 1, rs[i].weight), *rs[i + 1 :]]
    assert t_score(raised, rho) >= t_score(rs, rho)


@given(levels, weights, rhos)
def test_property_one_goal_is_50_plus_10x_whatever_rho(level, weight, rho):
    # With one goal the root is √((1 − ρ)w² + ρw²) = w, so T = 50 + 10x.
    assert t_score([Rating(level, weight)], rho) == pytest.approx(50 + 10 * level)
