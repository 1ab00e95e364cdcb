"""Early-warning flag rules: each rule's positive, negative and boundary cases, the stable key
of a continuing problem, configuration, and properties over generated patient histories."""

import ast
import dataclasses
import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import tandem.core.flags as flags_module
from tandem.core.flags import (
    RULES,
    SEVERITIES,
    Checkup,
    Facts,
    GoalRating,
    Plan,
    Review,
    RuleConfig,
    SafetyHit,
    Scale,
    day,
    evaluate,
    thresholds,
)

D = datetime.date
TODAY = D(2026, 6, 10)
PHQ9 = Scale("phq9", "total", "PHQ-9 total score", "worse", 5.98)
HOUSING = Scale("life-domains", "housing", "Housing", "better")
MONEY = Scale("life-domains", "money", "Money", "better")
SCALES = {("phq9", "total"): PHQ9, ("life-domains", "housing"): HOUSING,
          ("life-domains", "money"): MONEY}
RE_ENGAGE = (
    " They have left treatment: offer to re-engage them (Re-engage on their page opens a new "
    "episode)."
)


def top(cid, on, *, housing=None, eviction=None, other_name=None, **substances):
    """A TOP check-up. Each substance is given as days per week, *earliest week first*:
    crack=(w4, w3, w2, w1), i.e. 22–28 days ago … the last 7 days."""
    answers = {}
    for s, weeks in substances.items():
        for week, days in zip(("w4", "w3", "w2", "w1"), weeks, strict=True):
            answers[f"{s}_{week}"] = days
    if housing is not None:
        answers["housing_acute"] = housing
    if eviction is not None:
        answers["housing_eviction_risk"] = eviction
    if other_name is not None:
        answers["other_name"] = other_name
    return Checkup(cid, "top", "Outcomes profile", on, answers, {})


def phq9(cid, on, total, safety=()):
    return Checkup(cid, "phq9", "PHQ-9", on, {}, {"total": total}, tuple(safety))


def life(cid, on, **ratings):
    return Checkup(cid, "life-domains", "Life domains", on, dict(ratings), dict(ratings))


def facts(*checkups, **extra):
    values = {"today": TODAY, "episode_status": "active", "scales": SCALES,
              "checkups": tuple(checkups)}
    values.update(extra)
    return Facts(**values)


def found(f, rule, config=None):
    return [x for x in evaluate(f, config) if x.rule == rule]


def only(f, rule, config=None):
    hits = found(f, rule, config)
    assert len(hits) == 1, hits
    return hits[0]


# --- the catalogue -------------------------------------------------------------------------


def test_rules_in_order_with_valid_severities_and_thresholds():
    assert list(RULES) == [
        "safety-answer", "safety-unanswered", "severe-score", "injecting", "return-to-use",
        "reliable-deterioration", "life-domain-drop",
        "checkup-overdue", "review-overdue", "plan-unsigned", "unreachable", "housing",
        "no-contact",
        "goal-not-progressing",
        "missed-doses", "medication-review-overdue", "medication-goal-not-discussed",
        "ecg-missing", "use-during-reduction",
    ]
    assert SEVERITIES == ("urgent", "high", "medium", "low")
    for code, spec in RULES.items():
        assert spec.code == code and spec.severity in SEVERITIES
        assert spec.title and spec.description and spec.suggested_action and spec.source
        for t in spec.thresholds:
            assert t.minimum <= t.default <= t.maximum and t.unit


def test_default_thresholds():
    found_ = {c: thresholds(s, None) for c, s in RULES.items() if s.thresholds}
    assert found_ == {
        "return-to-use": {"weeks_without": 4, "opioid_weeks_without": 1},
        "life-domain-drop": {"points": 3},
        "checkup-overdue": {"days_in_treatment": 14, "days_post_exit": 30},
        "review-overdue": {"days": 0},
        "plan-unsigned": {"days": 14},
        "no-contact": {"days": 28},
        "use-during-reduction": {"weeks_without": 4, "opioid_weeks_without": 1},
    }


def test_thresholds_overridden_by_name_unknown_ignored_and_kept_in_range():
    spec = RULES["checkup-overdue"]
    rc = RuleConfig(thresholds={"days_in_treatment": 7, "nonsense": 3, "days_post_exit": 9999})
    assert thresholds(spec, rc) == {"days_in_treatment": 7, "days_post_exit": 365}
    assert thresholds(spec, RuleConfig(thresholds={"days_in_treatment": "x"}))[
        "days_in_treatment"
    ] == 14


def test_day_format():
    assert day(D(2026, 3, 3)) == "3 March 2026"
    assert day(D(2025, 12, 25)) == "25 December 2025"


def test_module_does_not_import_django():
    tree = ast.parse(Path(flags_module.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "django"]


# --- safety-answer -------------------------------------------------------------------------

SAFETY_ACTION = (
    "Contact the patient today. If you cannot reach them, follow the service's escalation "
    "procedure (duty worker, then the crisis team; 999 if life is at risk). Record what you did "
    "when you resolve this flag."
)


def test_safety_answer_one_finding_per_hit():
    hits = [SafetyHit("9", "Thoughts of self-harm", "Several days"),
            SafetyHit("3", "Service rule", "Nearly every day")]
    f = facts(phq9("r1", D(2026, 6, 1), 12, hits))
    out = found(f, "safety-answer")
    assert [x.key for x in out] == ["r1:9", "r1:3"]
    assert out[0].evidence == (
        "PHQ-9, question 9: Thoughts of self-harm (answered “Several days”)."
    )
    assert out[0].severity == "urgent" and out[0].response_id == "r1"
    assert out[0].suggested_action == SAFETY_ACTION


def test_safety_answer_none_without_hits_and_never_twice():
    assert found(facts(phq9("r1", D(2026, 6, 1), 12)), "safety-answer") == []
    hit = SafetyHit("9", "Thoughts of self-harm", "Several days")
    twice = facts(phq9("r1", D(2026, 6, 1), 12, [hit, hit]))
    assert [x.key for x in found(twice, "safety-answer")] == ["r1:9"]


def test_safety_answer_on_an_older_checkup_is_still_reported():
    hit = SafetyHit("9", "Thoughts of self-harm", "Several days")
    f = facts(phq9("r1", D(2026, 1, 1), 12, [hit]), phq9("r2", D(2026, 6, 1), 3))
    assert only(f, "safety-answer").key == "r1:9"


# --- return-to-use -------------------------------------------------------------------------

USE_ACTION = (
    "Talk with them about the return to use soon, review their plan and harm-reduction advice "
    "(naloxone, safer use), and consider an earlier review."
)


def crack_history():
    return [
        top("t1", D(2025, 12, 2), crack=(2, 1, 0, 0)),
        top("t2", D(2026, 1, 2), crack=(0, 0, 0, 0)),
        top("t3", D(2026, 3, 3), crack=(0, 0, 4, 5)),
    ]


def test_return_to_use_example_evidence():
    f = only(facts(*crack_history()), "return-to-use")
    assert f.key == "crack:t3" and f.response_id == "t3" and f.severity == "high"
    assert f.evidence == (
        "Days using crack rose from 0 to 9 in the 28 days before the check-up on 3 March 2026."
    )
    assert f.suggested_action == USE_ACTION


def test_return_to_use_same_problem_later_keeps_key_and_updates_evidence():
    history = [*crack_history(), top("t4", D(2026, 6, 5), crack=(3, 3, 3, 3))]
    f = only(facts(*history), "return-to-use")
    assert f.key == "crack:t3" and f.response_id == "t4"
    assert f.evidence == (
        "Days using crack rose from 0 to 9 in the 28 days before the check-up on 3 March 2026. "
        "Still using at the check-up on 5 June 2026: 12 days in 28."
    )


def test_return_to_use_cleared_then_returned_gets_a_new_key():
    history = [*crack_history(), top("t4", D(2026, 4, 1), crack=(0, 0, 0, 0)),
               top("t5", D(2026, 5, 1), crack=(0, 0, 0, 2))]
    assert found(facts(*history[:4]), "return-to-use") == []  # not using now: nothing
    assert only(facts(*history), "return-to-use").key == "crack:t5"


def test_return_to_use_needs_an_earlier_problem():
    history = [top("t1", D(2026, 1, 2), crack=(0, 0, 0, 0)),
               top("t2", D(2026, 3, 3), crack=(0, 0, 4, 5))]
    assert found(facts(*history), "return-to-use") == []
    assert found(facts(history[1]), "return-to-use") == []  # a first check-up with use


def test_return_to_use_continuous_use_is_not_a_return():
    history = [top("t1", D(2026, 1, 2), crack=(1, 1, 1, 1)),
               top("t2", D(2026, 2, 2), crack=(1, 1, 1, 1))]
    assert found(facts(*history), "return-to-use") == []


def across_two(latest_weeks):
    """Use at t2's earliest week, then zeros, then t3: the zero weeks span both check-ups."""
    return [
        top("t1", D(2026, 1, 1), crack=(0, 0, 0, 2)),
        top("t2", D(2026, 2, 1), crack=(5, 0, 0, 0)),  # 3 zero weeks after the use in w4
        top("t3", D(2026, 3, 3), crack=latest_weeks),
    ]


def test_return_to_use_four_zero_weeks_across_two_checkups_is_a_return():
    f = only(facts(*across_two((0, 3, 0, 0))), "return-to-use")  # 1 + 3 zero weeks
    assert f.key == "crack:t3"
    assert f.evidence == (
        "Using crack again after at least 4 weeks without it: 3 days in the 28 days before the "
        "check-up on 3 March 2026."
    )


def test_return_to_use_three_zero_weeks_is_not_a_return_by_default():
    three = facts(*across_two((3, 0, 0, 0)))  # 0 + 3 zero weeks
    assert found(three, "return-to-use") == []
    config = {"return-to-use": RuleConfig(thresholds={"weeks_without": 3})}
    assert only(three, "return-to-use", config).key == "crack:t3"


def test_return_to_use_a_missing_week_stops_the_count():
    history = [
        top("t1", D(2026, 1, 1), crack=(2, 2, 0, 0)),
        top("t2", D(2026, 2, 1), crack=(0, 0, 0, None)),
        top("t3", D(2026, 3, 3), crack=(0, 0, 0, 4)),  # 3 zero weeks, then t2's missing w1
    ]
    assert found(facts(*history), "return-to-use") == []
    complete = [*history[:1], top("t2", D(2026, 2, 1), crack=(0, 0, 0, 0)), history[2]]
    assert only(facts(*complete), "return-to-use").key == "crack:t3"


def test_return_to_use_within_one_checkup():
    history = [top("t1", D(2026, 1, 1), cannabis=(3, 3, 3, 3)),
               top("t2", D(2026, 3, 3), cannabis=(0, 0, 0, 0)),
               top("t3", D(2026, 5, 3), cannabis=(0, 0, 0, 0)),
               top("t4", D(2026, 6, 3), cannabis=(0, 0, 0, 7))]
    f = only(facts(*history), "return-to-use")
    assert f.key == "cannabis:t4"
    assert f.evidence.startswith("Days using cannabis rose from 0 to 7 ")


def test_return_to_use_names_alcohol_and_the_other_drug():
    history = [top("t1", D(2026, 1, 1), alcohol=(1, 0, 0, 0), other=(1, 0, 0, 0)),
               top("t2", D(2026, 2, 1), alcohol=(0, 0, 0, 0), other=(0, 0, 0, 0)),
               top("t3", D(2026, 3, 3), alcohol=(0, 0, 0, 2), other=(0, 0, 0, 1),
                   other_name="ketamine")]
    out = found(facts(*history), "return-to-use")
    assert [x.key for x in out] == ["alcohol:t3", "other:t3"]
    assert out[0].evidence.startswith("Days drinking rose from 0 to 2 ")
    assert out[1].evidence.startswith("Days using ketamine rose from 0 to 1 ")
    unnamed = [*history[:2], top("t3", D(2026, 3, 3), other=(0, 0, 0, 1))]
    assert "the other drug" in only(facts(*unnamed), "return-to-use").evidence


def test_return_to_use_ignores_tobacco():
    history = [top("t1", D(2026, 1, 1), tobacco=(7, 7, 7, 7)),
               top("t2", D(2026, 2, 1), tobacco=(0, 0, 0, 0)),
               top("t3", D(2026, 3, 3), tobacco=(0, 0, 0, 7))]
    assert found(facts(*history), "return-to-use") == []


# --- reliable-deterioration ----------------------------------------------------------------

DETERIORATION_ACTION = (
    "Check in with them about what has changed, and consider bringing the plan review forward."
)


def test_reliable_deterioration_example_evidence():
    f = only(facts(phq9("p1", D(2026, 1, 2), 6), phq9("p2", D(2026, 3, 3), 15)),
             "reliable-deterioration")
    assert f.key == "phq9:total:p2" and f.response_id == "p2" and f.severity == "high"
    assert f.evidence == (
        "PHQ-9 total score went from 6 to 15 between the check-ups on 2 January 2026 and "
        "3 March 2026: a reliable deterioration (a change of 6 or more is reliable)."
    )
    assert f.suggested_action == DETERIORATION_ACTION


def test_reliable_deterioration_exactly_at_the_threshold():
    scale = Scale("phq9", "total", "PHQ-9 total score", "worse", 6)
    at = facts(phq9("p1", D(2026, 1, 2), 6), phq9("p2", D(2026, 3, 3), 12),
               scales={("phq9", "total"): scale})
    below = facts(phq9("p1", D(2026, 1, 2), 6), phq9("p2", D(2026, 3, 3), 11),
                  scales={("phq9", "total"): scale})
    assert only(at, "reliable-deterioration").key == "phq9:total:p2"
    assert found(below, "reliable-deterioration") == []


def test_reliable_deterioration_since_the_previous_checkup():
    f = only(facts(phq9("p1", D(2026, 1, 2), 20), phq9("p2", D(2026, 2, 2), 5),
                   phq9("p3", D(2026, 3, 3), 12)), "reliable-deterioration")
    assert f.key == "phq9:total:p3"
    assert "went from 5 to 12 between the check-ups on 2 February 2026 and 3 March" in f.evidence


def test_reliable_deterioration_baseline_is_the_first_checkup_of_the_episode():
    history = [phq9("p0", D(2025, 6, 1), 20), phq9("p1", D(2026, 1, 5), 3),
               phq9("p2", D(2026, 3, 3), 7), phq9("p3", D(2026, 4, 3), 10)]
    f = only(facts(*history, episode_start=D(2026, 1, 1)), "reliable-deterioration")
    assert f.key == "phq9:total:p3"
    assert "went from 3 to 10 between the check-ups on 5 January 2026" in f.evidence
    # without an episode start the first check-up ever is the baseline: 10 is better than 20
    assert found(facts(*history), "reliable-deterioration") == []


def test_reliable_deterioration_continuing_keeps_key_clearing_then_returning_changes_it():
    history = [phq9("p1", D(2026, 1, 2), 5), phq9("p2", D(2026, 2, 2), 12),
               phq9("p3", D(2026, 3, 2), 14)]
    f = only(facts(*history), "reliable-deterioration")
    assert f.key == "phq9:total:p2" and f.response_id == "p3"
    assert "from 5 to 14" in f.evidence
    recovered = [*history, phq9("p4", D(2026, 4, 2), 6)]
    assert found(facts(*recovered), "reliable-deterioration") == []
    again = [*recovered, phq9("p5", D(2026, 5, 2), 13)]
    assert only(facts(*again), "reliable-deterioration").key == "phq9:total:p5"


def test_reliable_deterioration_where_higher_is_better_and_without_a_threshold():
    scale = Scale("wemwbs", "total", "Wellbeing score", "better", 3)
    lower = [Checkup("w1", "wemwbs", "WEMWBS", D(2026, 1, 1), {}, {"total": 50}),
             Checkup("w2", "wemwbs", "WEMWBS", D(2026, 2, 1), {}, {"total": 46.5})]
    f = only(facts(*lower, scales={("wemwbs", "total"): scale}), "reliable-deterioration")
    assert "went from 50 to 46.5" in f.evidence and "a change of 3 or more" in f.evidence
    no_rc = dataclasses.replace(scale, reliable_change=None)
    assert found(facts(*lower, scales={("wemwbs", "total"): no_rc}), "reliable-deterioration") == []


def test_reliable_deterioration_skips_checkups_without_a_score():
    history = [phq9("p1", D(2026, 1, 2), 5), phq9("p2", D(2026, 2, 2), 15),
               phq9("p3", D(2026, 3, 2), None)]
    assert only(facts(*history), "reliable-deterioration").response_id == "p2"


# --- life-domain-drop ----------------------------------------------------------------------


def test_life_domain_drop_evidence_and_action():
    f = only(facts(life("l1", D(2026, 1, 2), housing=7), life("l2", D(2026, 3, 3), housing=3)),
             "life-domain-drop")
    assert f.key == "domains:l2" and f.response_id == "l2" and f.severity == "medium"
    assert f.evidence == (
        "At the check-up on 3 March 2026, ratings had fallen by 3 or more: Housing from 7 to 3."
    )
    assert f.suggested_action == (
        "Ask about what has happened (housing), and whether the plan needs a new goal or "
        "action."
    )


def test_life_domains_falling_together_are_one_flag_naming_each():
    f = only(facts(life("l1", D(2026, 1, 2), housing=7, money=8),
                   life("l2", D(2026, 3, 3), housing=3, money=4)), "life-domain-drop")
    assert f.key == "domains:l2"
    assert "Housing from 7 to 3" in f.evidence and "Money from 8 to 4" in f.evidence


def test_life_domain_drop_of_exactly_three_counts_two_does_not():
    assert only(facts(life("l1", D(2026, 1, 2), money=7), life("l2", D(2026, 3, 3), money=4)),
                "life-domain-drop").key == "domains:l2"
    two = facts(life("l1", D(2026, 1, 2), money=7), life("l2", D(2026, 3, 3), money=5))
    assert found(two, "life-domain-drop") == []
    config = {"life-domain-drop": RuleConfig(thresholds={"points": 2})}
    assert only(two, "life-domain-drop", config).key == "domains:l2"


def test_life_domain_drop_continuing_keeps_key_and_updates_evidence():
    history = [life("l1", D(2026, 1, 2), housing=7), life("l2", D(2026, 3, 3), housing=3),
               life("l3", D(2026, 6, 5), housing=2)]
    f = only(facts(*history), "life-domain-drop")
    assert f.key == "domains:l2" and f.response_id == "l3"
    assert f.evidence == (
        "At the check-up on 5 June 2026, ratings had fallen by 3 or more: Housing from 7 to 3 "
        "(3 March 2026; now 2)."
    )
    # 4 is still 3 below the 7 before the drop: the same problem
    still = [*history[:2], life("l3", D(2026, 6, 5), housing=4)]
    assert only(facts(*still), "life-domain-drop").key == "domains:l2"


def test_life_domain_drop_recovered_then_dropped_again_is_new():
    history = [life("l1", D(2026, 1, 2), housing=7), life("l2", D(2026, 3, 3), housing=3),
               life("l3", D(2026, 4, 5), housing=5)]
    assert found(facts(*history), "life-domain-drop") == []
    again = [*history, life("l4", D(2026, 5, 5), housing=2)]
    f = only(facts(*again), "life-domain-drop")
    assert f.key == "domains:l4" and "Housing from 5 to 2" in f.evidence


def test_life_domain_drop_skips_unanswered_and_other_domains():
    history = [life("l1", D(2026, 1, 2), housing=7, money=5),
               life("l2", D(2026, 2, 2), money=5),
               life("l3", D(2026, 3, 3), housing=4, money=6)]
    assert [x.key for x in found(facts(*history), "life-domain-drop")] == ["domains:l3"]


# --- checkup-overdue -----------------------------------------------------------------------


def test_checkup_overdue_14_days_in_treatment_is_allowed_15_is_not():
    assert found(facts(next_checkup_due=TODAY - datetime.timedelta(14)), "checkup-overdue") == []
    f = only(facts(next_checkup_due=D(2026, 5, 26)), "checkup-overdue")
    assert f.key == "due:2026-05-26" and f.severity == "medium"
    assert f.evidence == "Their check-up was due on 26 May 2026 and is 15 days overdue."
    assert f.suggested_action == (
        "Contact them to arrange the check-up (it can be done on their phone)."
    )


def test_checkup_overdue_after_exit_allows_30_days():
    post = {"episode_status": "post-exit-monitoring"}
    assert found(facts(next_checkup_due=TODAY - datetime.timedelta(30), **post),
                 "checkup-overdue") == []
    f = only(facts(next_checkup_due=TODAY - datetime.timedelta(31), **post), "checkup-overdue")
    assert f.evidence.endswith("is 31 days overdue.")
    assert f.suggested_action.endswith(RE_ENGAGE)


def test_checkup_overdue_not_when_finished_or_nothing_due():
    late = TODAY - datetime.timedelta(100)
    assert found(facts(next_checkup_due=late, episode_status="finished"), "checkup-overdue") == []
    assert found(facts(next_checkup_due=late, episode_status=None), "checkup-overdue") == []
    assert found(facts(), "checkup-overdue") == []


def test_checkup_overdue_threshold_override():
    config = {"checkup-overdue": RuleConfig(thresholds={"days_in_treatment": 0})}
    f = only(facts(next_checkup_due=TODAY - datetime.timedelta(1)), "checkup-overdue", config)
    assert f.evidence.endswith("is 1 day overdue.")


# --- review-overdue ------------------------------------------------------------------------


PLAN_REVIEW, PLAN_CHANGED = D(2026, 7, 1), D(2026, 6, 1)


def plan(review_date=PLAN_REVIEW, version=3, changed=PLAN_CHANGED, signed=False):
    return Plan("plan1", review_date, version, changed, signed)


def test_review_overdue_the_day_after_the_review_date():
    assert found(facts(plan=plan(review_date=TODAY)), "review-overdue") == []
    f = only(facts(plan=plan(review_date=D(2026, 5, 21))), "review-overdue")
    assert f.key == "plan1:2026-05-21" and f.response_id is None
    assert f.evidence == "The care plan review was due on 21 May 2026 (20 days ago)."
    assert f.suggested_action == (
        "Book the review with them; plans are reviewed at least every 3 months."
    )
    assert found(facts(), "review-overdue") == []


def test_review_overdue_threshold_override():
    config = {"review-overdue": RuleConfig(thresholds={"days": 20})}
    assert found(facts(plan=plan(review_date=D(2026, 5, 21))), "review-overdue", config) == []
    assert found(facts(plan=plan(review_date=D(2026, 5, 20))), "review-overdue", config)


# --- plan-unsigned -------------------------------------------------------------------------


def test_plan_unsigned_after_14_days_not_13():
    assert found(facts(plan=plan(changed=TODAY - datetime.timedelta(13))), "plan-unsigned") == []
    f = only(facts(plan=plan(changed=D(2026, 5, 21))), "plan-unsigned")
    assert f.key == "plan1:v3" and f.severity == "low"
    assert f.evidence == (
        "Version 3 of the care plan, changed on 21 May 2026, has not been signed by them after "
        "20 days."
    )
    assert f.suggested_action == (
        "Go through the changes with them and ask them to sign in the portal or at the next "
        "appointment."
    )


def test_plan_unsigned_not_when_signed_or_no_plan():
    assert found(facts(plan=plan(changed=D(2026, 1, 1), signed=True)), "plan-unsigned") == []
    assert found(facts(), "plan-unsigned") == []


# --- housing -------------------------------------------------------------------------------


def test_housing_both_problems():
    f = only(facts(top("t1", D(2026, 3, 3), housing=True, eviction=True)), "housing")
    assert f.key == "housing:t1" and f.response_id == "t1" and f.severity == "high"
    assert f.evidence == (
        "At the check-up on 3 March 2026 they reported an acute housing problem and a risk of "
        "eviction."
    )
    assert f.suggested_action == (
        "Refer to the housing worker or the local authority housing options team today."
    )


def test_housing_continuing_keeps_key_and_names_what_is_true_now():
    history = [top("t1", D(2026, 1, 2), housing=True, eviction=False),
               top("t2", D(2026, 3, 3), housing=False, eviction=True)]
    f = only(facts(*history), "housing")
    assert f.key == "housing:t1" and f.response_id == "t2"
    assert f.evidence == (
        "At the check-up on 3 March 2026 they reported a risk of eviction. "
        "First reported on 2 January 2026."
    )


def test_housing_cleared_then_returned_is_new_and_cleared_is_nothing():
    history = [top("t1", D(2026, 1, 2), housing=True),
               top("t2", D(2026, 2, 2), housing=False, eviction=False)]
    assert found(facts(*history), "housing") == []
    again = [*history, top("t3", D(2026, 3, 3), housing=True)]
    assert only(facts(*again), "housing").key == "housing:t3"
    # other instruments in between do not matter
    mixed = [*again, phq9("p1", D(2026, 4, 1), 3)]
    assert only(facts(*mixed), "housing").key == "housing:t3"


# --- no-contact ----------------------------------------------------------------------------


def test_no_contact_at_28_days_not_27():
    assert found(facts(last_contact=TODAY - datetime.timedelta(27)), "no-contact") == []
    f = only(facts(last_contact=TODAY - datetime.timedelta(28)), "no-contact")
    assert f.key == "since:2026-05-13" and f.severity == "medium"
    assert f.evidence == "No contact has been recorded since 13 May 2026 (28 days)."
    assert f.suggested_action == (
        "Try to reach them by their preferred contact method; if you cannot, follow the "
        "service's disengagement procedure."
    )


def test_no_contact_counts_from_the_episode_start_without_contact():
    f = only(facts(episode_start=D(2026, 5, 1)), "no-contact")
    assert f.key == "since:2026-05-01"
    assert f.evidence == (
        "No contact has been recorded since their episode started on 1 May 2026 (40 days)."
    )
    assert found(facts(), "no-contact") == []


def test_no_contact_only_in_treatment():
    long_ago = D(2025, 1, 1)
    for status in ("post-exit-monitoring", "finished", None):
        assert found(facts(last_contact=long_ago, episode_status=status), "no-contact") == []


# --- goal-not-progressing ------------------------------------------------------------------


def review(rid, on, *ratings):
    return Review(rid, on, tuple(GoalRating(g, "Get my own flat", p, q) for g, p, q in ratings))


def test_goal_not_progressing_two_reviews_at_minus_two():
    reviews = (review("v1", D(2026, 1, 2), ("g1", -2, -1)),
               review("v2", D(2026, 3, 3), ("g1", -2, -2)))
    f = only(facts(reviews=reviews), "goal-not-progressing")
    assert f.key == "g1:v1" and f.severity == "medium"
    assert f.evidence == (
        "“Get my own flat” was rated −2 (much less than expected) at the reviews on "
        "2 January 2026 and 3 March 2026 (the patient's view)."
    )
    assert f.suggested_action == (
        "Revisit this goal with them: is it still theirs, and is the plan giving them the help "
        "they need?"
    )


def test_goal_not_progressing_needs_the_latest_two():
    one = (review("v1", D(2026, 1, 2), ("g1", 0, 0)), review("v2", D(2026, 3, 3), ("g1", -2, -2)))
    assert found(facts(reviews=one), "goal-not-progressing") == []
    better = (review("v1", D(2026, 1, 2), ("g1", -2, -2)),
              review("v2", D(2026, 2, 2), ("g1", -2, -2)),
              review("v3", D(2026, 3, 3), ("g1", -1, -1)))
    assert found(facts(reviews=better), "goal-not-progressing") == []


def test_goal_not_progressing_continuing_keeps_key_unrated_reviews_skipped():
    reviews = (review("v1", D(2026, 1, 2), ("g1", -1, -2)),
               review("v2", D(2026, 2, 2), ("g1", None, None), ("g2", 1, 1)),
               review("v3", D(2026, 3, 3), ("g1", None, -2)),
               review("v4", D(2026, 4, 4), ("g1", 0, -2)))
    f = only(facts(reviews=reviews), "goal-not-progressing")
    assert f.key == "g1:v1"
    assert f.evidence.endswith(
        "at every review from 2 January 2026 to 4 April 2026 (3 reviews) (the practitioner's "
        "view)."
    )
    mixed = (review("v1", D(2026, 1, 2), ("g1", -2, 0)), review("v2", D(2026, 2, 2), ("g1", 0, -2)))
    assert "(the patient's or the practitioner's view)" in only(
        facts(reviews=mixed), "goal-not-progressing").evidence


def test_goal_not_progressing_cleared_then_returned_is_new():
    reviews = (review("v1", D(2026, 1, 2), ("g1", -2, -2)),
               review("v2", D(2026, 2, 2), ("g1", -2, -2)),
               review("v3", D(2026, 3, 3), ("g1", 0, 0)),
               review("v4", D(2026, 4, 4), ("g1", -2, -2)),
               review("v5", D(2026, 5, 5), ("g1", -2, -2)))
    f = only(facts(reviews=reviews), "goal-not-progressing")
    assert f.key == "g1:v4" and f.evidence.endswith("(both views).")


# --- evaluate: order, configuration, post-exit ---------------------------------------------


def busy_facts(**extra):
    hit = SafetyHit("9", "Thoughts of self-harm", "Several days")
    return facts(
        phq9("p1", D(2026, 1, 2), 6), *crack_history(), phq9("p2", D(2026, 5, 3), 15, [hit]),
        plan=plan(review_date=D(2026, 5, 1), changed=D(2026, 5, 1)),
        last_contact=D(2026, 4, 1), next_checkup_due=D(2026, 5, 1), **extra,
    )


def test_findings_sorted_by_severity_then_rule_order():
    out = evaluate(busy_facts())
    assert [(x.rule, x.severity) for x in out] == [
        ("safety-answer", "urgent"),
        ("return-to-use", "high"),
        ("reliable-deterioration", "high"),
        ("checkup-overdue", "medium"),
        ("review-overdue", "medium"),
        ("no-contact", "medium"),
        ("plan-unsigned", "low"),
    ]


def test_disabled_rule_gives_nothing_and_severity_override_moves_it():
    config = {
        "return-to-use": RuleConfig(enabled=False),
        "plan-unsigned": RuleConfig(severity="urgent"),
        "no-contact": RuleConfig(severity="nonsense"),  # not a severity: the default stays
    }
    out = evaluate(busy_facts(), config)
    assert "return-to-use" not in [x.rule for x in out]
    assert [(x.rule, x.severity) for x in out][:2] == [
        ("safety-answer", "urgent"), ("plan-unsigned", "urgent")]
    assert only(busy_facts(), "no-contact", config).severity == "medium"


def test_post_exit_suffix_on_every_finding():
    out = evaluate(busy_facts(episode_status="post-exit-monitoring"))
    assert out and all(x.suggested_action.endswith(RE_ENGAGE) for x in out)
    assert all(not x.suggested_action.endswith(RE_ENGAGE) for x in evaluate(busy_facts()))
    safety = only(busy_facts(episode_status="post-exit-monitoring"), "safety-answer")
    assert safety.suggested_action == SAFETY_ACTION + RE_ENGAGE


def test_nothing_for_an_empty_record():
    assert evaluate(Facts(today=TODAY, episode_status=None)) == []


# --- properties ----------------------------------------------------------------------------

STABLE_RULES = {"return-to-use", "housing", "life-domain-drop", "reliable-deterioration"}
week = st.one_of(st.none(), st.just(0), st.just(0), st.integers(0, 7))
substance = st.one_of(st.none(), st.tuples(week, week, week, week))
rating = st.one_of(st.none(), st.integers(0, 10))
level = st.one_of(st.none(), st.integers(-2, 2))


@st.composite
def checkup_histories(draw):
    kinds = draw(st.lists(st.sampled_from(["top", "life", "phq9"]), max_size=8))
    gaps = draw(st.lists(st.integers(0, 60), min_size=len(kinds), max_size=len(kinds)))
    on, out = D(2025, 6, 1), []
    for i, (kind, gap) in enumerate(zip(kinds, gaps, strict=True)):
        on += datetime.timedelta(gap)
        cid = f"c{i}"
        if kind == "top":
            weeks = {s: draw(substance) for s in ("crack", "alcohol", "tobacco", "other")}
            out.append(top(cid, on, housing=draw(st.one_of(st.none(), st.booleans())),
                           eviction=draw(st.one_of(st.none(), st.booleans())),
                           **{s: w for s, w in weeks.items() if w is not None}))
        elif kind == "life":
            out.append(life(cid, on, housing=draw(rating), money=draw(rating)))
        else:
            hits = draw(st.lists(st.sampled_from(["9", "3"]), max_size=2))
            out.append(phq9(cid, on, draw(st.one_of(st.none(), st.integers(0, 27))),
                            [SafetyHit(h, "Risk", "Several days") for h in hits]))
    return out


@st.composite
def generated_facts(draw):
    checkups = draw(checkup_histories())
    last = checkups[-1].completed_on if checkups else D(2025, 6, 1)
    today = last + datetime.timedelta(draw(st.integers(0, 120)))
    some_day = st.dates(min_value=D(2025, 1, 1), max_value=today)
    reviews = []
    for i, on in enumerate(sorted(draw(st.lists(some_day, max_size=4)))):
        ratings = [(g, draw(level), draw(level)) for g in ("g1", "g2") if draw(st.booleans())]
        reviews.append(review(f"v{i}", on, *ratings))
    the_plan = draw(st.one_of(st.none(), st.builds(
        Plan, st.just("plan1"), some_day, st.integers(1, 5), some_day, st.booleans())))
    return Facts(
        today=today,
        episode_status=draw(st.sampled_from(["active", "post-exit-monitoring", "finished", None])),
        episode_start=draw(st.one_of(st.none(), st.dates(D(2025, 1, 1), D(2025, 9, 1)))),
        checkups=tuple(checkups),
        scales=SCALES,
        next_checkup_due=draw(st.one_of(st.none(), some_day)),
        plan=the_plan,
        reviews=tuple(reviews),
        last_contact=draw(st.one_of(st.none(), some_day)),
    )


@settings(max_examples=150)
@given(generated_facts())
def test_evaluate_is_deterministic_without_duplicates(f):
    out = evaluate(f)
    assert out == evaluate(f)
    pairs = [(x.rule, x.key) for x in out]
    assert len(pairs) == len(set(pairs))
    order = [(SEVERITIES.index(x.severity), list(RULES).index(x.rule)) for x in out]
    assert order == sorted(order)


@settings(max_examples=150)
@given(generated_facts())
def test_severities_valid_and_evidence_and_keys_non_empty(f):
    for x in evaluate(f):
        assert x.severity in SEVERITIES and x.rule in RULES
        assert isinstance(x.key, str) and x.key
        assert x.evidence.strip() and x.suggested_action.strip()


def subject(key):
    return key.rsplit(":", 1)[0]


@settings(max_examples=200)
@given(generated_facts(), st.sampled_from(["top", "life-domains", "phq9"]))
def test_repeating_the_latest_checkup_keeps_keys_stable(f, instrument):
    same = [c for c in f.checkups if c.instrument == instrument]
    if not same:
        return
    again = dataclasses.replace(same[-1], id="repeat",
                                completed_on=f.checkups[-1].completed_on + datetime.timedelta(1))
    later = dataclasses.replace(f, checkups=(*f.checkups, again),
                                today=max(f.today, again.completed_on))
    before = {(x.rule, subject(x.key)): x.key for x in evaluate(f) if x.rule in STABLE_RULES}
    after = {(x.rule, subject(x.key)): x.key for x in evaluate(later) if x.rule in STABLE_RULES}
    for problem, key in after.items():
        if problem in before:
            assert key == before[problem]
    # the same answers again still show a return, a housing problem or a drop (a deterioration
    # shown only against the check-up before is gone: the repeat is no worse than that one)
    for (rule, name), key in before.items():
        if rule != "reliable-deterioration":
            assert after.get((rule, name)) == key


# --- severe scores (pure) ------------------------------------------------------------------

SEVERE_PHQ9 = {("phq9", "total"): dataclasses.replace(
    PHQ9, severe_at=20, severe_label="severe depression", instrument_name="PHQ-9")}


@given(st.lists(st.integers(0, 27), min_size=1, max_size=6))
def test_severe_score_fires_exactly_when_the_latest_is_in_the_top_band(totals):
    checkups = [phq9(f"c{i}", TODAY - datetime.timedelta(days=30 * (len(totals) - i)), t)
                for i, t in enumerate(totals)]
    found = [f for f in evaluate(facts(*checkups, scales=SEVERE_PHQ9))
             if f.rule == "severe-score"]
    assert bool(found) == (totals[-1] >= 20)
    if found:
        (f,) = found
        onset = len(totals) - 1
        while onset > 0 and totals[onset - 1] >= 20:
            onset -= 1
        assert f.key == f"phq9:total:c{onset}" and f.severity == "high"
        assert f.response_id == f"c{len(totals) - 1}"
        assert f"{totals[-1]} at the check-up on" in f.evidence


def test_safety_rules_keep_their_severity_and_stay_on_whatever_the_config():
    hit = SafetyHit("9", "thoughts of self-harm", "Several days")
    c = dataclasses.replace(phq9("c1", TODAY, 5), safety=(hit,), declined=("9",))
    config = {"safety-answer": RuleConfig(enabled=False, severity="low"),
              "safety-unanswered": RuleConfig(enabled=False, severity="low")}
    found = {f.rule: f.severity for f in evaluate(facts(c), config)}
    assert found == {"safety-answer": "urgent", "safety-unanswered": "high"}


def test_an_opioid_lapse_inside_one_profile_is_a_return_with_overdose_risk():
    history = [top("t1", D(2026, 1, 2), opioids=(7, 7, 7, 7)),
               top("t2", D(2026, 2, 2), opioids=(5, 0, 0, 2))]  # detox, 2 weeks, a lapse
    f = only(facts(*history), "return-to-use")
    assert f.key == "opioids:t2" and "Risk of overdose" in f.evidence
    assert f.evidence.startswith("Using illicit opioids again after at least 2 weeks without it")
    assert "naloxone" in f.suggested_action


def test_a_second_opioid_lapse_after_weeks_without_is_a_new_flag():
    first = [top("t1", D(2026, 1, 2), opioids=(7, 7, 7, 7)),
             top("t2", D(2026, 2, 2), opioids=(0, 0, 0, 1))]
    assert only(facts(*first), "return-to-use").key == "opioids:t2"
    again = [*first, top("t3", D(2026, 3, 2), opioids=(0, 0, 0, 3))]
    assert only(facts(*again), "return-to-use").key == "opioids:t3"
    still = [*first, top("t3", D(2026, 3, 2), opioids=(2, 2, 2, 3))]
    assert only(facts(*still), "return-to-use").key == "opioids:t2"  # the same lapse going on


# --- medication (pure) ---------------------------------------------------------------------

from tandem.core.flags import (  # noqa: E402
    Medication,
    add_months,
    medication_review_due,
    missed_runs,
    problem_key,
)

METHADONE = "Methadone oral solution 1 mg/ml"


def ago(n):
    return TODAY - datetime.timedelta(n)


def med(**extra):
    values = {"plan_id": "plan1", "medicine": METHADONE, "started_on": ago(60),
              "review_date": TODAY + datetime.timedelta(30),
              "doses": ((TODAY - datetime.timedelta(60), 60.0),),
              "last_review": TODAY - datetime.timedelta(20), "last_goal_review": None,
              "restart_rule": "Restart at no more than 30 mg."}
    values.update(extra)
    return Medication(**values)


def days_ago(*ns, status="missed"):
    return tuple((TODAY - datetime.timedelta(n), status) for n in ns)


def test_three_missed_days_in_a_row_raise_the_urgent_fixed_flag_with_dates_and_the_rule():
    m = med(dispensing=days_ago(5, 4, status="supervised") + days_ago(3, 2, 1))
    x = only(facts(medication=m), "missed-doses")
    assert x.severity == "urgent" and x.key == f"plan1:{(TODAY - datetime.timedelta(3))}"
    assert x.evidence == (f"The pharmacy reported {METHADONE} missed on 3 days in a row: 7, 8 "
                          "and 9 June 2026. The dose is 60 mg a day.")
    assert "usual dose is not given until the prescriber has reviewed" in x.suggested_action
    assert x.suggested_action.endswith("The service's restart rule: Restart at no more than "
                                       "30 mg.")
    # A service cannot switch it off or lower it.
    off = {"missed-doses": RuleConfig(enabled=False, severity="low")}
    assert only(facts(medication=m), "missed-doses", off).severity == "urgent"
    assert RULES["missed-doses"].fixed


def test_two_missed_days_or_a_gap_do_not_flag_and_a_longer_run_keeps_its_key():
    two = med(dispensing=days_ago(2, 1))
    assert found(facts(medication=two), "missed-doses") == []
    gap = med(dispensing=days_ago(5, 4, 2, 1))  # day 3 not reported: no run of 3
    assert found(facts(medication=gap), "missed-doses") == []
    taken = med(dispensing=days_ago(4, 3, 1) + days_ago(2, status="home"))
    assert found(facts(medication=taken), "missed-doses") == []
    three = only(facts(medication=med(dispensing=days_ago(4, 3, 2))), "missed-doses")
    four = only(facts(medication=med(dispensing=days_ago(4, 3, 2, 1))), "missed-doses")
    assert three.key == four.key and "4 days in a row" in four.evidence
    # Taken again after the run: still flagged (someone looks), saying so.
    again = med(dispensing=days_ago(4, 3, 2) + days_ago(1, status="supervised"))
    assert "Reported taken again on 9 June 2026." in only(facts(medication=again),
                                                           "missed-doses").evidence


def test_missed_doses_follow_the_services_setting_a_restart_and_the_medicine():
    m = med(dispensing=days_ago(2, 1), missed_days_for_flag=2)
    assert "2 days in a row" in only(facts(medication=m), "missed-doses").evidence
    restarted = med(dispensing=days_ago(4, 3, 2), restarted_on=TODAY - datetime.timedelta(2))
    assert found(facts(medication=restarted), "missed-doses") == []
    injection = med(dispensing=days_ago(4, 3, 2), tolerance_falls=False)
    assert found(facts(medication=injection), "missed-doses") == []
    assert found(facts(), "missed-doses") == []  # no medication plan


def test_two_runs_are_two_flags():
    m = med(dispensing=days_ago(9, 8, 7, 3, 2, 1) + days_ago(6, 5, 4, status="supervised"))
    keys = [x.key for x in found(facts(medication=m), "missed-doses")]
    assert keys == [f"plan1:{TODAY - datetime.timedelta(9)}",
                    f"plan1:{TODAY - datetime.timedelta(3)}"]


statuses = st.sampled_from(["missed", "missed", "supervised", "home"])


@given(st.dictionaries(st.integers(0, 40), statuses, max_size=40), st.integers(1, 3))
def test_missed_doses_fire_exactly_for_each_run_of_enough_consecutive_missed_days(reports, need):
    dispensing = tuple((TODAY - datetime.timedelta(n), s) for n, s in reports.items())
    m = med(dispensing=dispensing, missed_days_for_flag=need)
    missed = sorted(TODAY - datetime.timedelta(n) for n, s in reports.items() if s == "missed")
    # brute force: a day starts a run if the day before was not missed; its length counts on
    starts = [d for d in missed if d - datetime.timedelta(1) not in missed]
    expected = []
    for start in starts:
        length = 0
        while start + datetime.timedelta(length) in missed:
            length += 1
        if length >= need:  # then a count for each further `need` days (a new flag)
            times = f":{length // need}" if length // need > 1 else ""
            expected.append(f"plan1:{start.isoformat()}{times}")
    keys = [x.key for x in found(facts(medication=m), "missed-doses")]
    assert keys == expected
    assert [problem_key(k) for k in keys] == [k[:len("plan1:") + 10] for k in expected]
    assert sum(len(r) for r in missed_runs(dispensing)) == len(missed)


def test_medication_review_overdue_by_the_plans_date_or_the_services_interval():
    assert found(facts(medication=med()), "medication-review-overdue") == []
    late = med(review_date=TODAY - datetime.timedelta(3))
    x = only(facts(medication=late), "medication-review-overdue")
    assert x.severity == "medium" and x.key == f"plan1:{TODAY - datetime.timedelta(3)}"
    assert x.evidence == (f"The medication review ({METHADONE}) was due on 7 June 2026 (3 days "
                          "ago). The last medication review was on 21 May 2026.")
    # The service reviews every 28 days: 20 days since the last is fine, 30 is not.
    assert found(facts(medication=med(review_every_days=28)), "medication-review-overdue") == []
    stale = med(review_every_days=28, last_review=TODAY - datetime.timedelta(30))
    x = only(facts(medication=stale), "medication-review-overdue")
    assert x.key == f"plan1:{TODAY - datetime.timedelta(2)}"
    never = med(last_review=None, started_on=TODAY - datetime.timedelta(100))
    assert "No medication review has been recorded since the plan started on 2 March 2026." in \
        only(facts(medication=never), "medication-review-overdue").evidence
    # A review that set a later next date moves the plan's date on.
    moved = med(review_date=TODAY - datetime.timedelta(3), next_review=TODAY +
                datetime.timedelta(40))
    assert found(facts(medication=moved), "medication-review-overdue") == []
    assert RULES["medication-review-overdue"].clears_itself


@given(st.integers(0, 200), st.integers(-100, 100), st.one_of(st.none(), st.integers(0, 200)),
       st.integers(7, 91))
def test_the_review_is_due_no_later_than_the_interval_after_the_last_review(
        start, plan_in, last, every):
    m = med(started_on=TODAY - datetime.timedelta(start),
            review_date=TODAY + datetime.timedelta(plan_in),
            last_review=None if last is None else TODAY - datetime.timedelta(last),
            review_every_days=every)
    due = medication_review_due(m)
    since = max(d for d in (m.started_on, m.last_review) if d is not None)
    assert due <= since + datetime.timedelta(every) and due <= m.review_date
    flagged = bool(found(facts(medication=m), "medication-review-overdue"))
    assert flagged == (TODAY > due)


def test_goal_not_discussed_after_12_months_low_and_never_pushing_a_reduction():
    year_ago = add_months(TODAY, -12)
    assert found(facts(medication=med(started_on=year_ago)), "medication-goal-not-discussed") == []
    m = med(started_on=year_ago - datetime.timedelta(1))
    x = only(facts(medication=m), "medication-goal-not-discussed")
    assert x.severity == "low" and x.key == f"plan1:{TODAY - datetime.timedelta(1)}"
    assert x.evidence.endswith("Talk about what the patient wants next.")
    assert "stable" in x.suggested_action
    spec = RULES["medication-goal-not-discussed"]
    for text in (x.evidence, x.suggested_action, spec.description):
        lowered = text.lower()
        assert "should reduce" not in lowered and "encourage" not in lowered
        assert "reduc" not in lowered or "stable" in lowered  # reducing only beside stabilising
    # Talked about in a review in the last 12 months: nothing; longer ago: flagged again.
    talked = med(started_on=D(2024, 1, 1), last_goal_review=TODAY - datetime.timedelta(100))
    assert found(facts(medication=talked), "medication-goal-not-discussed") == []
    old = med(started_on=D(2024, 1, 1), last_goal_review=D(2025, 5, 1))
    x = only(facts(medication=old), "medication-goal-not-discussed")
    assert x.key == "plan1:2026-05-01" and "last talked about at the medication review on 1 May " \
        "2025" in x.evidence


def test_add_months_keeps_the_day_or_the_months_last():
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2024, 2, 29), 12) == D(2025, 2, 28)
    assert add_months(D(2025, 11, 15), 3) == D(2026, 2, 15)
    assert add_months(D(2026, 6, 10), -12) == D(2025, 6, 10)


def test_ecg_missing_at_the_threshold_with_its_onset_and_not_below_or_when_recorded():
    base = {"ecg_at_or_above": 100.0}
    d = ago
    below = med(doses=((d(50), 60.0), (d(20), 99.0)), **base)
    assert found(facts(medication=below), "ecg-missing") == []
    at = med(doses=((d(50), 60.0), (d(20), 100.0), (d(10), 110.0)), **base)
    x = only(facts(medication=at), "ecg-missing")
    assert x.severity == "high" and x.key == f"plan1:{d(20)}"
    assert x.evidence == (f"{METHADONE} at 110 mg a day (at 100 mg a day or more since 21 May "
                          "2026), and no ECG date is recorded on the medication plan.")
    assert found(facts(medication=dataclasses.replace(at, last_ecg_on=d(5))), "ecg-missing") == []
    assert found(facts(medication=dataclasses.replace(at, ecg_at_or_above=None)),
                 "ecg-missing") == []
    # Down below it and back up: a new onset, so a new key.
    again = med(doses=((d(50), 100.0), (d(30), 90.0), (d(5), 100.0)), **base)
    assert only(facts(medication=again), "ecg-missing").key == f"plan1:{d(5)}"


def test_use_during_a_reduction_reuses_return_to_use_and_needs_the_reduction_started():
    d = ago
    checkups = (top("c1", d(120), crack=(2, 3, 1, 2)), top("c2", d(60), crack=(0, 0, 0, 0)),
                top("c3", d(2), crack=(0, 0, 1, 2)))
    during = med(reduction_id="r1", reduction_started_on=d(30), reduction_status="paused")
    x = only(facts(*checkups, medication=during), "use-during-reduction")
    assert x.severity == "high" and x.key == "r1:crack:c3" and x.response_id == "c3"
    assert x.evidence.startswith(f"During the reduction of {METHADONE} that started on 11 May "
                                 "2026 (paused now): Days using crack rose from 0 to 3")
    assert "not a failure" in x.suggested_action
    assert found(facts(*checkups, medication=med()), "use-during-reduction") == []
    later = dataclasses.replace(during, reduction_started_on=d(1))
    assert found(facts(*checkups, medication=later), "use-during-reduction") == []
    # Opioids: the overdose risk comes first.
    heroin = (top("o1", d(90), opioids=(3, 3, 3, 3)), top("o2", d(40), opioids=(0, 0, 0, 0)),
              top("o3", d(3), opioids=(0, 0, 0, 2)))
    x = only(facts(*heroin, medication=during), "use-during-reduction")
    assert x.suggested_action.startswith("After time without opioids")
    assert x.suggested_action.endswith(RULES["use-during-reduction"].suggested_action)
    # The service's weeks are read as for return to use.
    strict = {"use-during-reduction": RuleConfig(thresholds={"weeks_without": 8})}
    assert found(facts(*checkups, medication=during), "use-during-reduction", strict) == []


@st.composite
def medications(draw):
    d = ago
    doses = sorted({(d(n), float(v)) for n, v in draw(st.lists(
        st.tuples(st.integers(0, 500), st.integers(5, 150)), min_size=1, max_size=6))})
    reports = draw(st.dictionaries(st.integers(0, 59), statuses, max_size=30))
    return med(started_on=d(draw(st.integers(0, 800))), review_date=d(draw(st.integers(-60, 90))),
               doses=tuple(doses), last_review=draw(st.one_of(st.none(), st.builds(d, st.integers(
                   0, 400)))), last_goal_review=draw(st.one_of(st.none(), st.builds(
                       d, st.integers(0, 800)))), ecg_at_or_above=draw(st.sampled_from([None,
                                                                                       100.0])),
               dispensing=tuple((d(n), s) for n, s in reports.items()),
               missed_days_for_flag=draw(st.integers(1, 3)),
               reduction_id=draw(st.sampled_from([None, "r1"])), reduction_started_on=d(40))


@settings(max_examples=150)
@given(generated_facts(), medications())
def test_medication_rules_are_deterministic_with_unique_keys_and_words(f, m):
    f = dataclasses.replace(f, medication=m)
    out = evaluate(f)
    assert out == evaluate(f)
    pairs = [(x.rule, x.key) for x in out]
    assert len(pairs) == len(set(pairs))
    for x in out:
        assert x.evidence.strip() and x.suggested_action.strip() and x.severity in SEVERITIES
    # Medication findings name the plan or its reduction in their key, so two plans never share.
    for x in out:
        if x.rule in {"missed-doses", "medication-review-overdue",
                      "medication-goal-not-discussed", "ecg-missing"}:
            assert x.key.startswith("plan1:")
        if x.rule == "use-during-reduction":
            assert x.key.startswith("r1:")


def test_taken_again_is_read_from_the_latest_report_when_only_missed_days_are_given():
    run = days_ago(5, 4, 3)
    taken = med(dispensing=run, last_reported=ago(1))  # the latest report is not a miss
    assert "Reported taken again on 9 June 2026." in only(facts(medication=taken),
                                                           "missed-doses").evidence
    still = med(dispensing=run, last_reported=ago(3))  # nothing reported since the run
    assert "taken again" not in only(facts(medication=still), "missed-doses").evidence
    later_miss = med(dispensing=run + days_ago(1), last_reported=ago(1))
    assert "taken again" not in only(facts(medication=later_miss), "missed-doses").evidence


def test_evaluate_can_run_only_some_rules():
    m = med(dispensing=days_ago(3, 2, 1), review_date=ago(5))
    everything = {x.rule for x in evaluate(facts(medication=m))}
    assert {"missed-doses", "medication-review-overdue"} <= everything
    assert [x.rule for x in evaluate(facts(medication=m), only=frozenset({"missed-doses"}))] == [
        "missed-doses"]
