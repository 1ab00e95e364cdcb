"""Reading JSON without silently wrong answers (tandem.core.strict_json): property tests."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.strict_json import JSONProblem, loads

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**15) + 1, 10**15 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=10)


@given(values)
def test_ordinary_json_reads_as_the_standard_library_reads_it(value):
    text = json.dumps(value)
    assert loads(text) == json.loads(text)


@given(st.dictionaries(st.text(max_size=4), st.integers(0, 9), min_size=1, max_size=4),
       st.data())
def test_any_repeated_key_is_refused_naming_it(mapping, data):
    key = data.draw(st.sampled_from(sorted(mapping)))
    text = json.dumps(mapping)[:-1] + f", {json.dumps(key)}: 0}}"
    with pytest.raises(JSONProblem) as problem:
        loads(text)
    assert f"“{key}”" in str(problem.value)


@given(st.integers(16, 500), st.booleans())
def test_numbers_too_large_to_be_meant_read_as_infinity(digits, negative):
    text = ("-" if negative else "") + "1" + "0" * (digits - 1)
    assert loads(text) == (float("-inf") if negative else float("inf"))
    assert loads("1" + "0" * 14) == 10**14


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_constants_are_refused(constant):
    with pytest.raises(JSONProblem, match="is not a number"):
        loads(f'{{"a": {constant}}}')
