"""Instrument definitions: every problem named by path, structural and cross-reference together."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.assessment import registry
from tandem.core.instruments import DefinitionError, parse

BASE = registry.shipped()["phq9"].model_dump(mode="json")


def problems(data):
    with pytest.raises(DefinitionError) as caught:
        parse(data)
    return caught.value.problems


def test_shipped_definitions_round_trip():
    for ins in registry.shipped().values():
        assert parse(ins.model_dump(mode="json")) == ins


def test_structural_and_cross_reference_problems_come_together():
    data = copy.deepcopy(BASE)
    del data["items"][3]["options"][2]["value"]
    data["items"][4]["id"] = data["items"][0]["id"]
    data["scales"][0]["bands"][1]["min"] = 2
    data["safety"][0]["item"] = "99"
    data["licence"] = {"terms": "free"}
    assert problems(data) == [
        "licence.source: missing",
        "items[3].options[2].value: missing",
        "items[4].id: '1' is used by an earlier item",
        "scales[0].items[4]: no item has the id '5'",
        "scales[0].bands[1].min: overlaps the band 'Minimal'",
        "safety[0].item: no item has the id '99'",
    ]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(code="Has Spaces"), "code: String should match pattern"),
    (lambda d: d.update(extra=1), "extra: not a known field"),
    (lambda d: d["items"][0].update(type="integer", options=[]), "items[0].min: missing"),
    (lambda d: d["scales"][0].update(range=[27, 0]), "scales[0].range: the first number"),
    (lambda d: d["scales"][0].update(reversed=["nope"]), "scales[0].reversed[0]: 'nope' is not"),
    (lambda d: d["scales"][0]["missing"].update(max_missing=9),
     "scales[0].missing.max_missing: must be fewer"),
    (lambda d: d.update(items=[]), "items: List should have at least 1 item"),
])
def test_each_rule_names_its_path(change, expected):
    data = copy.deepcopy(BASE)
    change(data)
    assert any(p.startswith(expected) for p in problems(data)), problems(data)


def test_not_an_object():
    assert problems([1, 2]) == ["(top level): must be an object"]


@given(st.sampled_from(list(registry.shipped())), st.data())
def test_removing_any_required_item_field_is_reported_at_its_path(code, data):
    definition = registry.shipped()[code].model_dump(mode="json")
    n = data.draw(st.integers(0, len(definition["items"]) - 1))
    field = data.draw(st.sampled_from(["id", "text", "type"]))
    del definition["items"][n][field]
    assert f"items[{n}].{field}: missing" in problems(definition)
