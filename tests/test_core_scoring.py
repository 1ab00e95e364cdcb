"""Scoring in the pure core: answer checking, sums, reversed items, missing-item rules, bands,
safety rules; property tests over generated answers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.instruments import parse
from tandem.core.scoring import (
    DECLINED,
    AnswerError,
    check_answer,
    check_answers,
    declined_safety,
    missing_required,
    round_half_up,
    score,
    unanswered_safety,
)

FREQ = [{"value": v, "label": f"option {v}"} for v in range(4)]


def make(**scale_extra):
    scale = {
        "code": "total",
        "title": "Total",
        "items": [f"q{i}" for i in range(1, 6)],
        "range": [0, 15],
        "higher_is": "worse",
        "primary": True,
        "bands": [
            {"min": 0, "max": 4, "label": "low", "level": 0},
            {"min": 5, "max": 9, "label": "middle", "level": 1},
            {"min": 10, "max": 15, "label": "high", "level": 2},
        ],
        "bands_citation": "test bands",
    }
    scale.update(scale_extra)
    return parse(
        {
            "code": "test",
            "title": "Test",
            "version": "1",
            "licence": {"terms": "test only", "source": "here"},
            "citation": "here",
            "items": [
                {"id": f"q{i}", "text": f"Question {i}", "type": "choice", "options": FREQ}
                for i in range(1, 6)
            ]
            + [
                {
                    "id": "days",
                    "text": "Days",
                    "type": "integer",
                    "min": 0,
                    "max": 7,
                    "unit": "days",
                    "required": False,
                },
                {
                    "id": "amount",
                    "text": "Amount",
                    "type": "decimal",
                    "min": 0,
                    "max": 50,
                    "required": False,
                },
                {"id": "shared", "text": "Shared?", "type": "boolean", "required": False},
                {"id": "name", "text": "Name", "type": "string", "required": False},
            ],
            "scales": [
                scale,
                {
                    "code": "days",
                    "title": "Days",
                    "method": "value",
                    "items": ["days"],
                    "range": [0, 7],
                    "higher_is": "worse",
                },
            ],
            "safety": [{"item": "q5", "at_least": 1, "message": "q5 answered", "citation": "x"}],
        }
    )


INS = make()


def test_sum_and_band():
    result = score(INS, {"q1": 3, "q2": 2, "q3": 0, "q4": 0, "q5": 0})
    assert result.headline.value == 5
    assert result.headline.band.label == "middle"
    assert result.safety == []


def test_band_edges():
    assert (
        score(INS, dict.fromkeys(["q1", "q2", "q3", "q4"], 1) | {"q5": 0}).headline.band.label
        == "low"
    )
    assert score(INS, {"q1": 3, "q2": 3, "q3": 3, "q4": 1, "q5": 0}).headline.band.label == "high"


def test_reversed_items_score_from_the_other_end():
    ins = make(reversed=["q1"])
    assert score(ins, {"q1": 0, "q2": 0, "q3": 0, "q4": 0, "q5": 0}).headline.value == 3
    assert score(ins, {"q1": 3, "q2": 0, "q3": 0, "q4": 0, "q5": 0}).headline.value == 0


def test_no_missing_allowed_gives_no_score():
    result = score(INS, {"q1": 3, "q2": 2, "q3": 0, "q4": 0})
    assert result.headline.value is None and result.headline.band is None
    assert result.headline.answered == 4 and result.headline.of == 5


def test_prorating_rounds_half_up():
    ins = make(missing={"max_missing": 1, "method": "prorate", "citation": "test"})
    # 4 answered summing to 6: 6 * 5/4 = 7.5 → 8 (q4 missing; q5 is the safety question)
    result = score(ins, {"q1": 3, "q2": 2, "q3": 1, "q5": 0})
    assert result.headline.value == 8 and result.headline.prorated
    assert score(ins, {"q1": 3, "q2": 2, "q5": 1}).headline.value is None


def test_a_safety_question_is_never_prorated():
    ins = make(missing={"max_missing": 2, "method": "prorate", "citation": "test"})
    for answers in ({"q1": 3, "q2": 2, "q3": 1, "q4": 0},
                    {"q1": 3, "q2": 2, "q3": 1, "q4": 0, "q5": DECLINED}):
        head = score(ins, answers).headline
        assert head.value is None and head.band is None and head.safety_missing
    assert unanswered_safety(ins, {"q1": 3}) == ["q5"]
    assert unanswered_safety(ins, {"q5": DECLINED}) == []
    assert declined_safety(ins, {"q5": DECLINED}) == ["q5"]


def test_declining_is_allowed_on_a_safety_question_only():
    clean, errors = check_answers(INS, {"q5": "declined", "q1": "declined"})
    assert clean == {"q5": DECLINED}
    assert errors == {"q1": "Choose one of the answers given."}
    assert score(INS, {"q5": DECLINED}).safety == []  # declining is not a "yes"


@pytest.mark.parametrize("raw", [10**400, -(10**400), float("inf"), float("nan"), "1e400",
                                 "NaN", "-Infinity", 2.5, "2.5"])
def test_overflowing_non_finite_and_fractional_answers_are_refused_by_name(raw):
    clean, errors = check_answers(INS, {"q1": raw, "days": raw})
    assert set(errors) == {"q1", "days"} and clean == {}
    assert errors["days"] == "Enter a whole number from 0 to 7 days."


def test_mean_scale_and_value_scale():
    ins = make(
        method="mean",
        range=[0, 3],
        bands=[],
        bands_citation="",
        missing={"max_missing": 2, "method": "prorate"},
    )
    assert score(ins, {"q1": 3, "q2": 2, "q5": 2}).headline.value == 2.3
    assert score(INS, {"days": 4}).scales["days"].value == 4


def test_safety_rule_fires_at_threshold_only():
    assert score(INS, {"q5": 0}).safety == []
    assert [r.message for r in score(INS, {"q5": 1}).safety] == ["q5 answered"]


@pytest.mark.parametrize(
    ("item", "raw", "message"),
    [
        ("q1", "7", "Choose one of the answers given."),
        ("q1", "two", "Choose one of the answers given."),
        ("days", "8", "Enter a whole number from 0 to 7 days."),
        ("days", "2.5", "Enter a whole number from 0 to 7 days."),
        ("days", "-1", "Enter a whole number from 0 to 7 days."),
        ("days", True, "Enter a whole number from 0 to 7 days."),
        ("amount", "nan", "Enter a number from 0 to 50."),
        ("amount", "lots", "Enter a number from 0 to 50."),
        ("shared", "maybe", "Answer yes or no."),
        ("name", 5, "Enter text."),
        ("name", "x" * 201, "Use 200 characters or fewer."),
    ],
)
def test_bad_answers_get_plain_messages(item, raw, message):
    with pytest.raises(AnswerError) as caught:
        check_answer(INS.item(item), raw)
    assert str(caught.value) == message


def test_good_answers_are_normalised():
    assert check_answer(INS.item("q1"), "2") == 2
    assert check_answer(INS.item("days"), " 7 ") == 7
    assert check_answer(INS.item("amount"), "2.5") == 2.5
    assert check_answer(INS.item("shared"), "yes") is True
    assert check_answer(INS.item("shared"), False) is False
    assert check_answer(INS.item("name"), "  ketamine ") == "ketamine"
    assert check_answer(INS.item("days"), "") is None


def test_check_answers_reports_each_item_and_unknown_ids():
    clean, errors = check_answers(INS, {"q1": "1", "q2": "9", "q99": 1})
    assert clean == {"q1": 1}
    assert errors == {
        "q2": "Choose one of the answers given.",
        "q99": "This instrument has no such question.",
    }
    assert missing_required(INS, clean) == ["q2", "q3", "q4", "q5"]


def test_round_half_up():
    assert round_half_up(2.5) == 3 and round_half_up(3.5) == 4 and round_half_up(2.45, 1) == 2.5


answers = st.fixed_dictionaries({f"q{i}": st.integers(0, 3) for i in range(1, 6)})


@given(answers)
def test_total_is_always_inside_the_range(chosen):
    value = score(INS, chosen).headline.value
    assert 0 <= value <= 15
    assert score(INS, chosen).headline.band is not None


@given(answers, st.sampled_from([f"q{i}" for i in range(1, 6)]), st.integers(0, 3))
def test_changing_one_answer_changes_total_by_the_option_difference(chosen, item, new):
    before = score(INS, chosen).headline.value
    after = score(INS, chosen | {item: new}).headline.value
    assert after - before == new - chosen[item]


@given(answers, st.sampled_from([f"q{i}" for i in range(1, 5)]))
def test_prorated_score_stays_inside_the_range(chosen, drop):
    ins = make(missing={"max_missing": 1, "method": "prorate"})
    partial = {k: v for k, v in chosen.items() if k != drop}
    assert 0 <= score(ins, partial).headline.value <= 15


# --- thresholds by sex, and answers that cannot both be true ------------------------------


@given(st.integers(0, 12))
def test_audit_c_never_under_calls_when_sex_is_not_recorded(total):
    from tandem.assessment import registry
    from tandem.core.scoring import band_for

    scale = registry.shipped()["audit-c"].primary
    female, male = band_for(scale, total, "female"), band_for(scale, total, "male")
    assert female.level >= male.level
    assert band_for(scale, total, "") == band_for(scale, total, None) == female
    assert (female.level >= 1) == (total >= 3) and (male.level >= 1) == (total >= 4)


@given(st.lists(st.integers(0, 7), min_size=6, max_size=6), st.integers(0, 7))
def test_injecting_days_never_exceed_the_days_of_use_that_week(use, injecting):
    from tandem.assessment import registry
    from tandem.core.scoring import inconsistent

    top = registry.shipped()["top"]
    drugs = ("opioids", "crack", "cocaine", "amphetamines", "cannabis", "other")
    answers = {f"{d}_w1": n for d, n in zip(drugs, use, strict=True)} | {"inject_w1": injecting}
    errors = inconsistent(top, answers)
    assert ("inject_w1" in errors) == (injecting > sum(use))
    if errors:
        assert f"{injecting} days" in errors["inject_w1"] and f"({sum(use)} in all" in (
            errors["inject_w1"])
