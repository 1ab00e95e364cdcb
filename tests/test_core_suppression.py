"""Small-number suppression (core/suppression.py): NHS Digital's rule, as properties that hold for
every count and as worked examples."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tandem.core.report import Kind, Value
from tandem.core.suppression import (
    SUPPRESSED,
    count_text,
    rounded,
    shown,
    shown_number,
    would_suppress,
)

counts = st.integers(min_value=0, max_value=100_000)
small = st.integers(min_value=1, max_value=7)
means = st.floats(min_value=-28, max_value=28, allow_nan=False)


# Counts --------------------------------------------------------------------------------------

@given(counts)
def test_no_count_leaves_as_an_exact_1_to_7(n):
    assert count_text(n) not in {str(k) for k in range(1, 8)}
    assert shown(Kind.COUNT, Value(count=n)) not in {str(k) for k in range(1, 8)}


@given(counts)
def test_every_shown_count_is_a_multiple_of_5_and_never_5(n):
    text = count_text(n)
    if text == SUPPRESSED:
        assert 1 <= n <= 7
    else:
        assert int(text) % 5 == 0
        assert int(text) == 0 or int(text) >= 10  # 5 could only come from 3 to 7, hidden
        assert abs(int(text) - n) <= 2  # the nearest 5


@given(counts, counts)
def test_rounding_keeps_the_order_of_two_counts(a, b):
    assume(a <= b)
    assert rounded(a) <= rounded(b)


@given(counts)
def test_rounding_twice_is_rounding_once(n):
    assert rounded(rounded(n)) == rounded(n)


@given(counts)
def test_a_count_is_hidden_exactly_when_it_is_1_to_7(n):
    assert would_suppress(Kind.COUNT, Value(count=n)) is (1 <= n <= 7)


@pytest.mark.parametrize("n, text", [
    (0, "0"),  # 0 stays 0
    (1, "*"), (3, "*"), (7, "*"),
    (8, "10"),  # 8 is 2 from 10 and 3 from 5
    (12, "10"),  # 12 is 2 from 10
    (13, "15"),  # 13 is 2 from 15
    (17, "15"), (18, "20"),
    (1234, "1235"),  # 1234 is 1 from 1235
    (None, ""),
])
def test_counts_worked_examples(n, text):
    assert count_text(n) == text
    assert shown(Kind.COUNT, Value(count=n)) == text


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        rounded(-1)


# Percentages ----------------------------------------------------------------------------------

@given(small, counts)
def test_a_share_with_a_numerator_of_1_to_7_is_hidden(count, extra):
    value = Value(count=count, of=count + extra)
    assert shown(Kind.SHARE, value) == SUPPRESSED
    assert would_suppress(Kind.SHARE, value)


@given(small, small)
def test_a_share_with_a_denominator_of_1_to_7_is_hidden(of, count):
    assume(count <= of)
    for numerator in (0, count):  # even 0 of 5: the 5 would show
        value = Value(count=numerator, of=of)
        assert shown(Kind.SHARE, value) == SUPPRESSED


@given(counts, counts)
def test_a_shown_share_is_worked_out_from_the_rounded_counts_only(count, extra):
    """Two shares whose counts leave the service the same show the same percentage: nothing
    of the exact counts can be worked back from it."""
    value = Value(count=count, of=count + extra)
    text = shown(Kind.SHARE, value)
    assume(text not in ("", SUPPRESSED))
    percent = int(text.removesuffix("%"))
    assert 0 <= percent <= 100
    exact = 100 * rounded(count) / rounded(count + extra)
    assert abs(percent - exact) <= 0.5
    # Any other pair with the same rounded counts shows the same.
    for other_count in range(max(count - 2, 8 if count >= 8 else 0), count + 3):
        for other_of in range(max(count + extra - 2, other_count), count + extra + 3):
            if (count_text(other_count), count_text(other_of)) == (
                    count_text(count), count_text(count + extra)):
                assert shown(Kind.SHARE, Value(count=other_count, of=other_of)) == text


@pytest.mark.parametrize("count, of, text", [
    (3, 40, "*"),  # numerator 3: hidden
    (10, 5, "*"),  # denominator 5: hidden (whatever the numerator)
    (0, 9, "0%"),  # 0 of 10 (9 rounds to 10) = 0%
    (9, 11, "100%"),  # 10 of 10 (9 and 11 both round to 10) = 100%, not 81.8% = 9/11 exactly
    (13, 40, "38%"),  # 15 of 40 = 37.5%, half up: 38%
    (8, 30, "33%"),  # 10 of 30 = 33.3%
    (12, 23, "40%"),  # 10 of 25 = 40%, though 12/23 = 52.2%
    (0, 0, ""),  # nobody to count
    (None, None, ""),
])
def test_shares_worked_examples(count, of, text):
    assert shown(Kind.SHARE, Value(count=count, of=of)) == text


# Means and medians ----------------------------------------------------------------------------

@given(small, means, st.sampled_from([Kind.MEAN, Kind.MEDIAN]))
def test_a_mean_or_median_of_fewer_than_8_people_is_hidden(people, x, kind):
    assert shown(kind, Value(value=x, people=people)) == SUPPRESSED
    assert would_suppress(kind, Value(value=x, people=people))


@given(st.integers(min_value=8, max_value=100_000), means, st.sampled_from([Kind.MEAN,
                                                                              Kind.MEDIAN]))
def test_a_mean_or_median_of_8_or_more_is_shown_to_1_decimal(people, x, kind):
    value = Value(value=x, people=people)
    number = shown_number(kind, value)
    assert abs(number - x) <= 0.05 + 1e-9
    assert shown(kind, value) == f"{number:.1f}"
    assert not would_suppress(kind, value)


@pytest.mark.parametrize("value, text", [
    (Value(value=-2.25, people=8), "-2.3"),  # 8 people: shown; -2.25 rounds half away to -2.3
    (Value(value=-2.25, people=7), "*"),  # 7 people: hidden
    (Value(value=14.0, people=120), "14.0"),
    (Value(value=-0.04, people=20), "0.0"),  # never "-0.0"
    (Value(value=None, people=0), ""),  # nobody
    (Value(value=3.0, people=None), "*"),  # from how many people is not known: hidden
])
def test_means_worked_examples(value, text):
    assert shown(Kind.MEAN, value) == text
    assert shown(Kind.MEDIAN, value) == text


# would_suppress is the "*" of shown, for every kind -------------------------------------------

@given(st.sampled_from(list(Kind)), st.none() | counts, st.none() | counts,
       st.none() | means, st.none() | counts)
def test_would_suppress_is_exactly_a_star(kind, count, of, x, people):
    value = Value(count=count, of=of, value=x, people=people)
    assert would_suppress(kind, value) is (shown(kind, value) == SUPPRESSED)
