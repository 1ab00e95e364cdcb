"""The reliable change index against Jacobson & Truax (1991) and known published thresholds."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.rci import reliable_change, s_diff, threshold


def test_formula_worked_by_hand():
    # s1 = 7.5, r_xx = .80: S_E = 7.5 × √.2 = 3.354; S_diff = √(2 × 3.354²) = 4.743;
    # a change from 90 to 100 gives RC = 10 / 4.743 = 2.108 > 1.96 → reliable.
    assert s_diff(7.5, 0.80) == pytest.approx(4.743, abs=0.001)
    change = reliable_change(90, 100, sd=7.5, reliability=0.80, higher_is="better")
    assert change.index == pytest.approx(2.108, abs=0.001)
    assert change.label == "reliably improved"


def test_direction_depends_on_what_higher_means():
    worse = reliable_change(5, 20, sd=5, reliability=0.8, higher_is="worse")
    assert worse.label == "reliably worse"
    better = reliable_change(20, 5, sd=5, reliability=0.8, higher_is="worse")
    assert better.label == "reliably improved"
    assert reliable_change(10, 11, sd=5, reliability=0.8, higher_is="worse").label == (
        "no reliable change"
    )


def test_threshold_is_the_smallest_reliable_difference():
    t = threshold(5, 0.8)
    assert reliable_change(0, t * 0.999, sd=5, reliability=0.8, higher_is="worse").label == (
        "no reliable change"
    )
    assert reliable_change(0, t * 1.001, sd=5, reliability=0.8, higher_is="worse").label == (
        "reliably worse"
    )


@pytest.mark.parametrize(("sd", "r"), [(0, 0.5), (-1, 0.5), (5, 0), (5, 1), (5, 1.2)])
def test_rejects_impossible_figures(sd, r):
    with pytest.raises(ValueError):
        s_diff(sd, r)


@given(st.floats(0, 50), st.floats(0, 50), st.floats(0.5, 20), st.floats(0.05, 0.95))
def test_symmetry(a, b, sd, r):
    forward = reliable_change(a, b, sd=sd, reliability=r, higher_is="worse")
    backward = reliable_change(b, a, sd=sd, reliability=r, higher_is="worse")
    assert forward.index == pytest.approx(-backward.index)
    flip = {
        "reliably improved": "reliably worse",
        "reliably worse": "reliably improved",
        "no reliable change": "no reliable change",
    }
    assert backward.label == flip[forward.label]
