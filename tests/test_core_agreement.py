"""Agreement between two card sorts: weighted kappa, Spearman's ρ and the comparison."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.agreement import (
    PILES,
    Comparison,
    compare,
    sort_ranks,
    spearman_rho,
    weighted_kappa,
)


def from_table(table):
    """Paired ratings from a contingency table (rater a in rows, rater b in columns)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


# --- weighted kappa -----------------------------------------------------------------------


def test_weighted_kappa_sas_example():
    # SAS PROC FREQ weighted kappa for this 3 × 3 table, as reproduced in statsmodels'
    # test suite (statsmodels/stats/tests/test_inter_rater.py, TestWeightedCohens):
    # "Weighted Kappa 0.4701". By hand: margins (5, 8, 6) and (0, 13, 6), n = 19;
    # Σ|i−j|·obs = 7, Σ|i−j|·row·col = 251, κw = 1 − 19·7/251 = 0.47012.
    a, b = from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    assert weighted_kappa(a, b, 3) == pytest.approx(0.4701, abs=5e-5)
    assert weighted_kappa(a, b, 3) == pytest.approx(1 - 19 * 7 / 251)


# The anxiety data of R's irr package, raters 2 and 3, with irr's kappa2 results as recorded
# in statsmodels' test suite (test_cohens_kappa_irr): "equal" weights 0.1459075, "squared"
# 0.2520325. irr orders the levels that occur (1, 2, 3, 4, 6; nobody used 5) as categories.
ANXIETY_RATER2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
ANXIETY_RATER3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]
LEVEL_INDEX = {1: 0, 2: 1, 3: 2, 4: 3, 6: 4}


@pytest.mark.parametrize(("weights", "expected"), [("linear", 0.1459075), ("quadratic", 0.2520325)])
def test_weighted_kappa_irr_anxiety(weights, expected):
    a = [LEVEL_INDEX[v] for v in ANXIETY_RATER2]
    b = [LEVEL_INDEX[v] for v in ANXIETY_RATER3]
    assert weighted_kappa(a, b, 5, weights) == pytest.approx(expected, abs=5e-8)


def test_everything_in_one_shared_category_is_complete_agreement():
    # κw is 0/0 here; scikit-learn returns NaN (issues #9624, #14256). Our documented choice: 1.
    assert weighted_kappa([1, 1, 1], [1, 1, 1], 3) == 1.0
    assert weighted_kappa([0], [0], 1) == 1.0


def test_opposite_single_categories_are_not_agreement():
    assert weighted_kappa([0, 0], [2, 2], 3) == 0.0


@pytest.mark.parametrize(
    ("a", "b", "categories", "weights"),
    [
        ([0, 1], [0], 3, "linear"),
        ([], [], 3, "linear"),
        ([0, 3], [0, 1], 3, "linear"),
        ([0, -1], [0, 1], 3, "linear"),
        ([0, 1], [0, 1], 3, "cubic"),
    ],
)
def test_weighted_kappa_rejects_bad_input(a, b, categories, weights):
    with pytest.raises(ValueError):
        weighted_kappa(a, b, categories, weights)


rated_pairs = st.integers(1, 5).flatmap(
    lambda k: st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1).map(
        lambda ps: (k, [p for p, _ in ps], [q for _, q in ps])
    )
)


@given(rated_pairs, st.sampled_from(["linear", "quadratic"]))
def test_property_kappa_symmetric_and_at_most_one(case, weights):
    k, a, b = case
    kappa = weighted_kappa(a, b, k, weights)
    assert kappa == weighted_kappa(b, a, k, weights)
    assert kappa <= 1
    assert weighted_kappa(a, a, k, weights) == 1


# --- Spearman's rho -----------------------------------------------------------------------


def test_spearman_without_ties():
    # Wikipedia, "Spearman's rank correlation coefficient", worked example: IQ against hours
    # of TV a week for 10 people, Σd² = 194, ρ = 1 − 6·194/(10·99) = −0.175757575…
    iq = [106, 86, 100, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 0, 27, 50, 28, 29, 20, 12, 6, 17]
    assert spearman_rho(iq, tv) == pytest.approx(-29 / 165)


def test_spearman_with_ties():
    # scipy.stats.spearmanr documentation example (average ranks for the two 7s):
    # spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic == 0.8207826816681233.
    assert spearman_rho([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(0.8207826816681233)


def test_spearman_without_variation_is_none():
    assert spearman_rho([1, 2, 3], [4, 4, 4]) is None
    assert spearman_rho([2, 2], [1, 2]) is None
    assert spearman_rho([1], [1]) is None


def test_spearman_rejects_bad_input():
    with pytest.raises(ValueError):
        spearman_rho([1, 2], [1])
    with pytest.raises(ValueError):
        spearman_rho([], [])


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30))
def test_property_spearman_symmetric_bounded_and_one_with_itself(pairs):
    x, y = [p for p, _ in pairs], [q for _, q in pairs]
    rho = spearman_rho(x, y)
    assert rho == spearman_rho(y, x)
    if rho is not None:
        assert -1 <= rho <= 1
    if len(set(x)) > 1:
        assert spearman_rho(x, x) == 1.0


# --- sort ranks and comparison ------------------------------------------------------------


def test_sort_ranks():
    # "now" 1..3 in order; two "later" share ranks 4 and 5 → 4.5; three "not" share 6-8 → 7.
    ranks = sort_ranks(["c", "a", "e"], ["b", "d"], ["f", "g", "h"])
    assert ranks == {
        "c": 1, "a": 2, "e": 3, "b": 4.5, "d": 4.5, "f": 7, "g": 7, "h": 7,
    }  # fmt: skip
    assert sort_ranks([], ["x"], []) == {"x": 1}


def test_sort_ranks_rejects_a_card_twice():
    with pytest.raises(ValueError):
        sort_ranks(["a"], ["a"], [])


A = {"now": ["drink", "sleep", "money"], "later": ["work", "family"], "not": ["housing"]}
B = {"now": ["sleep", "family"], "later": ["drink", "money", "work"], "not": ["housing"]}


def test_compare_worked_example():
    result = compare(A, B)
    assert isinstance(result, Comparison)
    assert result.agree == ["housing", "sleep", "work"]
    assert result.disagreements == [
        ("drink", "now", "later", 1),
        ("family", "later", "now", 1),
        ("money", "now", "later", 1),
    ]
    assert result.only_a_now == ["drink", "money"]
    assert result.only_b_now == ["family"]
    # Piles by card (drink, family, housing, money, sleep, work): a = 0 1 2 0 0 1,
    # b = 1 0 2 1 0 1. Margins (3, 2, 1) and (2, 3, 1), n = 6; Σ|i−j|·obs = 3 and
    # Σ|i−j|·row·col = 3·3 + 2·3·1 + 2·2 + 2·1 + 2·1·2 + 1·3 = 28, so κw = 1 − 6·3/28 = 5/14.
    assert result.kappa == pytest.approx(5 / 14)
    assert result.kappa == weighted_kappa([0, 1, 2, 0, 0, 1], [1, 0, 2, 1, 0, 1], 3)
    ranks_a = sort_ranks(A["now"], A["later"], A["not"])
    ranks_b = sort_ranks(B["now"], B["later"], B["not"])
    cards = sorted(ranks_a)
    assert result.rho == spearman_rho([ranks_a[c] for c in cards], [ranks_b[c] for c in cards])


def test_compare_identical_sorts():
    result = compare(A, A)
    assert result.kappa == 1 and result.rho == 1
    assert result.disagreements == [] and result.only_a_now == [] and result.only_b_now == []
    assert result.agree == sorted(A["now"] + A["later"] + A["not"])


def test_compare_everything_later_has_kappa_one_and_no_rho():
    everything_later = {"now": [], "later": ["a", "b"], "not": []}
    result = compare(everything_later, everything_later)
    assert result.kappa == 1.0 and result.rho is None


def test_distance_two_comes_first():
    a = {"now": ["x", "y"], "later": [], "not": ["z"]}
    b = {"now": ["z"], "later": ["y"], "not": ["x"]}
    assert compare(a, b).disagreements == [
        ("x", "now", "not", 2),
        ("z", "not", "now", 2),
        ("y", "now", "later", 1),
    ]


@pytest.mark.parametrize(
    "b",
    [
        {"now": ["drink"], "later": [], "not": []},  # different cards
        {"now": A["now"], "later": A["later"], "not": A["not"] + ["drink"]},  # a card twice
        {"now": A["now"], "later": A["later"]},  # a pile missing
    ],
)
def test_compare_rejects_mismatched_sorts(b):
    with pytest.raises(ValueError):
        compare(A, b)
    with pytest.raises(ValueError):
        compare(b, A)


@st.composite
def card_sorts(draw):
    cards = draw(st.lists(st.text("abcdefghij", min_size=1, max_size=3), unique=True, max_size=12))
    piles = draw(st.lists(st.sampled_from(PILES), min_size=len(cards), max_size=len(cards)))
    ordered = draw(st.permutations(cards))
    return {pile: [c for c in ordered if piles[cards.index(c)] == pile] for pile in PILES}


def reshuffle(draw, sort):
    """Another sort of the same cards: every card to a random pile, in a random order."""
    cards = draw(st.permutations([c for pile in PILES for c in sort[pile]]))
    piles = draw(st.lists(st.sampled_from(PILES), min_size=len(cards), max_size=len(cards)))
    return {pile: [c for c, p in zip(cards, piles, strict=True) if p == pile] for pile in PILES}


@given(card_sorts(), st.data())
def test_property_comparison_is_symmetric(a, data):
    if not any(a.values()):
        return
    b = reshuffle(data.draw, a)
    ab, ba = compare(a, b), compare(b, a)
    assert ab.kappa == ba.kappa and ab.kappa <= 1
    assert ab.rho == ba.rho
    assert ab.agree == ba.agree
    assert ab.only_a_now == ba.only_b_now and ab.only_b_now == ba.only_a_now
    assert [(c, y, x, d) for c, x, y, d in ab.disagreements] == ba.disagreements


@given(card_sorts())
def test_property_identical_sorts_agree_fully(a):
    if not any(a.values()):
        return
    result = compare(a, a)
    assert result.kappa == 1
    assert result.disagreements == []
    ranks = list(sort_ranks(a["now"], a["later"], a["not"]).values())
    assert result.rho == (1.0 if len(set(ranks)) > 1 else None)


@given(card_sorts(), st.data())
def test_property_swapping_two_cards_between_piles(a, data):
    filled = [pile for pile in PILES if a[pile]]
    if len(filled) < 2:
        return
    p, q = data.draw(st.permutations(filled))[:2]
    x, y = data.draw(st.sampled_from(a[p])), data.draw(st.sampled_from(a[q]))
    b = {pile: list(cards) for pile, cards in a.items()}
    b[p][b[p].index(x)], b[q][b[q].index(y)] = y, x
    distance = abs(PILES.index(p) - PILES.index(q))
    result = compare(a, b)
    assert result.disagreements == sorted([(x, p, q, distance), (y, q, p, distance)])
    assert x not in result.agree and y not in result.agree
    assert len(result.agree) == sum(len(cards) for cards in a.values()) - 2
