"""The shipped instruments: every definition is valid, cites its sources and terms, and the
worked examples score as published (tests/data/*.json, each example names its source)."""

import json
from pathlib import Path

import pytest

from tandem.assessment import registry
from tandem.core.scoring import check_answers, score

DATA = Path(__file__).parent / "data"
EXAMPLES = [
    *json.loads((DATA / "instrument_examples.json").read_text()),
    *json.loads((DATA / "top_examples.json").read_text()),
]
SHIPPED = ["phq9", "gad7", "audit", "audit-c", "k10", "top", "life-domains"]


def test_every_required_instrument_ships():
    assert sorted(registry.shipped()) == sorted(SHIPPED)


@pytest.mark.parametrize("code", SHIPPED)
def test_each_instrument_names_its_sources_and_terms(code):
    ins = registry.shipped()[code]
    assert ins.citation and ins.licence.terms and ins.licence.source
    for scale in ins.scales:
        if scale.bands:
            assert scale.bands_citation
        if scale.reliable_change:
            assert scale.reliable_change.citation
        if scale.missing.max_missing:
            assert scale.missing.citation
    for rule in ins.safety:
        assert rule.citation


def test_phq9_item_9_is_a_safety_rule():
    ins = registry.shipped()["phq9"]
    assert [(r.item, r.at_least) for r in ins.safety] == [("9", 1)]


@pytest.mark.parametrize("example", EXAMPLES,
                         ids=[f"{e['instrument']}-{n}" for n, e in enumerate(EXAMPLES)])
def test_worked_examples(example):
    ins = registry.shipped()[example["instrument"]]
    clean, errors = check_answers(ins, example["answers"])
    assert errors == {}
    result = score(ins, clean, sex=example.get("sex"))
    for scale, expected in example["expected"].items():
        assert result.scales[scale].value == expected, example["source"]
    if "band" in example:
        band = result.headline.band
        assert (band.label if band else None) == example["band"], example["source"]


def test_published_reliable_change_thresholds():
    """NHS Talking Therapies (IAPT) count a change of 6 on PHQ-9 and 4 on GAD-7 as reliable."""
    from tandem.core.rci import reliable_change

    for code, threshold, below in (("phq9", 6, 5), ("gad7", 4, 3)):
        rc = registry.shipped()[code].primary.reliable_change
        worse = reliable_change(10, 10 + threshold, sd=rc.sd, reliability=rc.reliability,
                                higher_is="worse")
        same = reliable_change(10, 10 + below, sd=rc.sd, reliability=rc.reliability,
                               higher_is="worse")
        assert (worse.label, same.label) == ("reliably worse", "no reliable change")
