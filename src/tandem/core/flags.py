"""Early-warning flag rules: pure functions of one patient's data and the date. No Django imports.

Each rule reads a `Facts` and returns `Finding`s. A finding names the problem by a stable
`key` — the rule's subject plus the *onset* of the problem (the first data point of the
current unbroken run that shows it) — so evaluating the same data twice, or a later check-up
that shows the same problem again, gives the same key: the shell then updates the open flag
instead of raising a second one. A problem that clears and comes back later has a new onset,
so a new key.

Rules, their default severities and thresholds are in `RULES`; a service switches rules on
or off and changes thresholds through `Config` (stored per organisation by the shell).
Sources for the thresholds are given per rule below.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

Date = datetime.date


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyHit:
    """An answer that met an instrument's safety rule (from core.scoring.safety_hits)."""

    item: str
    message: str
    value_text: str


@dataclass(frozen=True)
class Checkup:
    """One completed questionnaire."""

    id: str
    instrument: str  # instrument code, e.g. "phq9", "top", "life-domains"
    instrument_name: str
    completed_on: Date
    answers: Mapping[str, Any]
    scores: Mapping[str, float | None]  # {scale code: value}
    safety: tuple[SafetyHit, ...] = ()
    declined: tuple[str, ...] = ()  # safety questions answered "I'd rather not say"


@dataclass(frozen=True)
class Scale:
    """What the deterioration and life-domain rules need to know about one scale."""

    instrument: str
    code: str
    title: str
    higher_is: str  # "better" | "worse"
    reliable_change: float | None = None  # smallest reliable difference (core.rci.threshold)
    severe_at: float | None = None  # the most severe band starts here (instrument file)
    severe_label: str = ""  # e.g. "severe depression"
    instrument_name: str = ""


@dataclass(frozen=True)
class GoalRating:
    goal_id: str
    goal: str  # the goal in the patient's words
    patient_level: int | None
    practitioner_level: int | None


@dataclass(frozen=True)
class Review:
    id: str
    held_on: Date
    ratings: tuple[GoalRating, ...]


@dataclass(frozen=True)
class Plan:
    id: str
    review_date: Date
    version: int
    version_created_on: Date
    patient_signed: bool


@dataclass(frozen=True)
class Medication:
    """What the medication rules need about the patient's current medication plan (one plan:
    the latest current one). Doses are mg a day; dispensing days are the pharmacy's reports of
    the last weeks (`DISPENSING_DAYS`), oldest first."""

    plan_id: str
    medicine: str  # as staff read it, e.g. "Methadone oral solution 1 mg/ml"
    started_on: Date
    review_date: Date  # the plan's own review date
    # The dose ledger in force up to today, oldest first: (from day, mg a day).
    doses: tuple[tuple[Date, float], ...] = ()
    last_review: Date | None = None  # the latest medication review held
    next_review: Date | None = None  # the next review that review set
    last_goal_review: Date | None = None  # the latest review where the goal was talked about
    ecg_at_or_above: float | None = None  # the medicine's ECG threshold (mg a day), if any
    last_ecg_on: Date | None = None
    # (day, "supervised" | "home" | "missed"): the missed days at least (a day not given is
    # not known to be missed); `last_reported` is the latest day reported, whatever it said.
    dispensing: tuple[tuple[Date, str], ...] = ()
    last_reported: Date | None = None
    # The day a restart after missed days was recorded (the prescriber has reviewed): missed
    # days up to it are behind the restart.
    restarted_on: Date | None = None
    # Missed days lower tolerance to this medicine (a daily opioid substitute; not an
    # injection that lasts a week or a month, nor a medicine for alcohol).
    tolerance_falls: bool = True
    reduction_id: str | None = None  # the open reduction (going ahead or paused), if any
    reduction_started_on: Date | None = None
    reduction_status: str | None = None  # "active" | "paused"
    # The service's medication settings (medication.models.MedicationSettings).
    missed_days_for_flag: int = 3
    review_every_days: int = 91
    restart_rule: str = ""

    @property
    def dose(self) -> float | None:
        """The daily dose in force on the last day of the ledger given (today's)."""
        return self.doses[-1][1] if self.doses else None


@dataclass(frozen=True)
class Facts:
    today: Date
    episode_status: str | None  # "active" | "post-exit-monitoring" | "finished" | None
    episode_start: Date | None = None
    checkups: tuple[Checkup, ...] = ()  # completed, oldest first (any instruments)
    scales: Mapping[tuple[str, str], Scale] = field(default_factory=dict)
    next_checkup_due: Date | None = None
    plan: Plan | None = None
    reviews: tuple[Review, ...] = ()  # oldest first
    last_contact: Date | None = None
    medication: Medication | None = None  # the current medication plan, if any


# --- outputs and configuration -------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    rule: str
    key: str
    severity: str  # "urgent" | "high" | "medium" | "low"
    evidence: str  # plain words, with dates and figures
    suggested_action: str
    response_id: str | None = None  # the check-up that shows it, where there is one


@dataclass(frozen=True)
class RuleConfig:
    enabled: bool = True
    severity: str | None = None  # None: the rule's default
    thresholds: Mapping[str, float] = field(default_factory=dict)


Config = Mapping[str, RuleConfig]


# --- rules and their thresholds ------------------------------------------------------------

SEVERITIES = ("urgent", "high", "medium", "low")  # most severe first
# Each severity's place, 0 the most severe: the one order for sorting flags everywhere
# (monitoring.models.Severity holds the same values, with their words).
SEVERITY_ORDER = {severity: n for n, severity in enumerate(SEVERITIES)}

POST_EXIT = (
    " They have left treatment: offer to re-engage them (Re-engage on their page opens a new "
    "episode)."
)


@dataclass(frozen=True)
class Threshold:
    name: str
    label: str
    default: float
    minimum: float
    maximum: float
    unit: str


@dataclass(frozen=True)
class RuleSpec:
    code: str
    title: str
    description: str
    severity: str
    suggested_action: str
    thresholds: tuple[Threshold, ...]
    source: str
    # Safety rules: always on, and their severity cannot be changed by a service.
    fixed: bool = False
    # Rules about a state that a later action ends (a check-up done, a plan signed): when the
    # condition no longer holds, the open flag closes itself with this reason. Empty: only a
    # person closes the flag (clinical evidence is always looked at by someone).
    clears_itself: str = ""
    # Rules whose problem grows (missed days going on): the key is the problem's own key
    # (`problem_key`) and, after it, how many times the threshold has been reached again. An
    # open flag of the same problem takes the new key with its evidence; once a person has
    # resolved it, the problem growing by the threshold again raises a new flag.
    grows: bool = False


RULES: dict[str, RuleSpec] = {
    spec.code: spec
    for spec in (
        RuleSpec(
            code="safety-answer",
            title="Safety answer",
            description="An answer in a check-up met the instrument's safety rule (for example "
            "thoughts of self-harm).",
            severity="urgent",
            suggested_action="Contact the patient today. If you cannot reach them, follow the "
            "service's escalation procedure (duty worker, then the crisis team; 999 if life is "
            "at risk). Record what you did when you resolve this flag.",
            thresholds=(),
            source="Each instrument's own safety rule, given in its definition file (e.g. PHQ-9 "
            "item 9: Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16(9):606-13).",
            fixed=True,
        ),
        RuleSpec(
            code="safety-unanswered",
            title="Safety question not answered",
            description="They chose “I'd rather not say” on a safety question (for example "
            "PHQ-9 question 9, about thoughts of self-harm).",
            severity="high",
            suggested_action="Ask them about it in person, gently, at the next contact (soon): "
            "a question left unanswered is not a “no”.",
            thresholds=(),
            source="Tandem's own rule: a safety question is never estimated from other answers "
            "or taken as “no” (see docs/clinical-safety.md).",
            fixed=True,
        ),
        RuleSpec(
            code="severe-score",
            title="Score in the most severe band",
            description="A questionnaire score is in its most severe band (PHQ-9 20 or more, "
            "GAD-7 15 or more, K10 30 or more, AUDIT 20 or more), with or without an earlier "
            "check-up to compare.",
            severity="high",
            suggested_action="Talk with them soon about how they are, review risk, and consider "
            "a fuller assessment or referral (for AUDIT zone IV: assess for dependence and "
            "withdrawal before any change in drinking).",
            thresholds=(),
            source="The most severe band of each instrument, with its source in the instrument's "
            "definition file: PHQ-9 20-27 severe (Kroenke, Spitzer & Williams 2001); GAD-7 "
            "15-21 severe (Spitzer et al. 2006); K10 30-50 very high (Andrews & Slade 2001); "
            "AUDIT 20-40 zone IV (Babor et al. 2001, WHO/MSD/MSB/01.6a).",
        ),
        RuleSpec(
            code="injecting",
            title="Injecting risk",
            description="They report injecting for the first time in this episode, or sharing "
            "needles, syringes or other injecting equipment.",
            severity="high",
            suggested_action="Talk with them about safer injecting today: the needle and syringe "
            "programme, not sharing any equipment, blood-borne virus testing and vaccination, "
            "and naloxone.",
            thresholds=(),
            source="Sharing injecting equipment transmits HIV and hepatitis B and C (NICE PH52, "
            "Needle and syringe programmes, 2014); injecting raises the risk of overdose (Drug "
            "misuse and dependence: UK guidelines on clinical management, 2017). Items follow "
            "the Treatment Outcomes Profile (Marsden et al. 2008).",
        ),
        RuleSpec(
            code="return-to-use",
            title="Return to use",
            description="They report using a substance that was a problem for them again, after "
            "some weeks without it.",
            severity="high",
            suggested_action="Talk with them about the return to use soon, review their plan and "
            "harm-reduction advice (naloxone, safer use), and consider an earlier review.",
            thresholds=(
                Threshold("weeks_without", "Weeks without the substance before it counts as a "
                          "return", 4, 1, 52, "weeks"),
                Threshold("opioid_weeks_without", "Weeks without illicit opioids before a lapse "
                          "counts as a return (overdose risk)", 1, 1, 52, "weeks"),
            ),
            source="A service-defined early-warning rule; TOP substance-use days per week follow "
            "the Treatment Outcomes Profile (Marsden et al. 2008, Addiction 103(9):1450-60). "
            "Opioids after one week without: tolerance falls quickly, and the weeks after "
            "detoxification, prison release or leaving residential treatment carry the highest "
            "overdose risk (Strang et al. 2003, BMJ 326:959-60; Merrall et al. 2010, Addiction "
            "105(9):1545-54: drug-related deaths 3 to 8 times higher in the first two weeks "
            "after release).",
        ),
        RuleSpec(
            code="reliable-deterioration",
            title="Reliable deterioration",
            description="A questionnaire score got worse by more than measurement error "
            "explains, since the start of the episode or since the check-up before.",
            severity="high",
            suggested_action="Check in with them about what has changed, and consider bringing "
            "the plan review forward.",
            thresholds=(),
            source="Reliable change index (Jacobson & Truax 1991, J Consult Clin Psychol "
            "59(1):12-19); the smallest reliable change for each scale is given, with its "
            "source, in the instrument's definition file.",
        ),
        RuleSpec(
            code="life-domain-drop",
            title="Life-domain rating dropped",
            description="Their own rating of one or more parts of their life fell by several "
            "points and has not recovered (one flag names every domain that fell).",
            severity="medium",
            suggested_action="Ask about what has happened with the life domain, and whether the "
            "plan needs a new goal or action.",
            thresholds=(Threshold("points", "Drop in the 0–10 rating", 3, 1, 10, "points"),),
            source="Tandem's own threshold (3 points on the 0–10 life-domain rating); not a "
            "validated cut-off.",
        ),
        RuleSpec(
            code="checkup-overdue",
            title="Check-up overdue",
            description="A check-up is overdue by more than the allowed number of days.",
            severity="medium",
            suggested_action="Contact them to arrange the check-up (it can be done on their "
            "phone).",
            thresholds=(
                Threshold("days_in_treatment", "Days overdue allowed in treatment", 14, 0, 180,
                          "days"),
                Threshold("days_post_exit", "Days overdue allowed after exit", 30, 0, 365,
                          "days"),
            ),
            source="Tandem's service default: overdue by more than 14 days in treatment or 30 "
            "days after exit.",
            clears_itself="no check-up is overdue beyond the days allowed any more (one was "
            "done, the schedule or the episode changed, or the service changed the rule)",
        ),
        RuleSpec(
            code="review-overdue",
            title="Plan review overdue",
            description="The care plan's review date has passed.",
            severity="medium",
            suggested_action="Book the review with them; plans are reviewed at least every 3 "
            "months.",
            thresholds=(Threshold("days", "Days past the review date allowed", 0, 0, 90,
                                  "days"),),
            source="NICE CG51 / Drug misuse and dependence: UK guidelines on clinical management "
            "(2017): care plans reviewed at least every 3 months.",
            clears_itself="the plan's review date is no longer past (it was reviewed or the date "
            "was moved, or the service changed the rule)",
        ),
        RuleSpec(
            code="plan-unsigned",
            title="Plan not signed",
            description="The latest version of the care plan has not been signed by the patient.",
            severity="low",
            suggested_action="Go through the changes with them and ask them to sign in the "
            "portal or at the next appointment.",
            thresholds=(Threshold("days", "Days after a change before flagging", 14, 1, 90,
                                  "days"),),
            source="Tandem's service default: plan not signed by the patient 14 days after a "
            "change.",
            clears_itself="the latest version of the plan is signed or has been replaced, or the "
            "service changed the rule",
        ),
        RuleSpec(
            code="unreachable",
            title="Couldn't reach them",
            description="Two invitations to a check-up in a row went unanswered by the same "
            "way (text, email or letter); the next goes another way they agreed to.",
            severity="low",
            suggested_action="Try to reach them another way (a call, their next appointment, "
            "someone they named) and check their contact details and their choices for "
            "messages are still right.",
            thresholds=(),
            source="Recovery management check-ups reach people after treatment only when "
            "contact is kept up, with more than one way of reaching them (Scott & Dennis, "
            "Addiction 2009;104:959-71). Two unanswered is Tandem's service default. Raised by "
            "the day's reminders (tandem.reminders.planner), not by these rules.",
        ),
        RuleSpec(
            code="housing",
            title="Housing problem",
            description="At their latest outcomes check-up they reported an acute housing "
            "problem or a risk of eviction.",
            severity="high",
            suggested_action="Refer to the housing worker or the local authority housing options "
            "team today.",
            thresholds=(),
            source="Treatment Outcomes Profile housing items (Marsden et al. 2008).",
        ),
        RuleSpec(
            code="no-contact",
            title="No recent contact",
            description="No contact has been recorded for a while during treatment.",
            severity="medium",
            suggested_action="Try to reach them by their preferred contact method; if you "
            "cannot, follow the service's disengagement procedure.",
            thresholds=(Threshold("days", "Days without recorded contact", 28, 7, 180,
                                  "days"),),
            source="Tandem's service default: 28 days in treatment without contact by a person "
            "(a contact a practitioner records, a review, or a check-up done with a "
            "practitioner or by phone); a check-up the patient completed alone, or one imported "
            "from another system, is not contact.",
            clears_itself="there is no longer a gap in contact while in treatment (a contact was "
            "recorded, the episode changed, or the service changed the rule)",
        ),
        RuleSpec(
            code="goal-not-progressing",
            title="Goal not progressing",
            description="A goal was rated −2 (much less than expected) at two reviews in a row.",
            severity="medium",
            suggested_action="Revisit this goal with them: is it still theirs, and is the plan "
            "giving them the help they need?",
            thresholds=(),
            source="Goal attainment scaling levels (Kiresuk & Sherman 1968); two reviews in a "
            "row at −2 is Tandem's service default.",
        ),
        RuleSpec(
            code="missed-doses",
            title="Missed doses",
            description="The pharmacy reported missed doses of a daily opioid substitute on 3 "
            "days in a row (or the fewer days the service's medication settings say): "
            "tolerance may be lower, so the usual dose must not be given before the prescriber "
            "has reviewed (the “3-day rule”).",
            severity="urgent",
            suggested_action="Tell the prescriber today: after missed days in a row tolerance "
            "may be lower, so the usual dose is not given until the prescriber has reviewed (it "
            "could cause an overdose). Try to contact the patient today (people who drop out of "
            "treatment are at high risk of harm).",
            thresholds=(),
            source="Drug misuse and dependence: UK guidelines on clinical management (2017, the "
            "Orange book): after missed doses tolerance may be reduced and the dose is reviewed "
            "before it is given again (its own wording was not found in a stored source; the "
            "3-day figure was confirmed in these): NHS Lothian community pharmacy guidance, "
            "“OST – Missed Doses (‘3 Day Rule’)”: if a patient misses 3 consecutive days the "
            "prescriber is informed as soon as possible, as the patient “may have lost "
            "tolerance to the drug and the usual dose may cause overdose” "
            "(communitypharmacy.scot.nhs.uk); South Tyneside LPC: pharmacists inform the "
            "prescriber after 3 missed doses, “as the client will need to be seen and "
            "re-titrated by a prescriber”; Australian national methadone guidelines (health."
            "gov.au, s3.5): not collected for 3 or more consecutive days, the dose is withheld "
            "or reduced until the prescriber has assessed the patient. The service's restart "
            "rule is in its medication settings.",
            fixed=True,
            grows=True,
        ),
        RuleSpec(
            code="medication-review-overdue",
            title="Medication review overdue",
            description="The medication plan's review date has passed, or more time than the "
            "service allows has gone by since the last medication review (or the plan's start).",
            severity="medium",
            suggested_action="Book a medication review with them and the prescriber: is the "
            "dose right, any use on top, side effects, their view, and what they want next.",
            thresholds=(),
            source="Medication reviewed at least every 3 months, as care plans are (Drug misuse "
            "and dependence: UK guidelines on clinical management, 2017; the issue's figure, its "
            "wording not found in a stored source); a service may ask sooner in its medication "
            "settings (days between medication reviews, at most 91).",
            clears_itself="the medication review is no longer overdue (a review was held, the "
            "plan's review date moved, or the plan stopped)",
        ),
        RuleSpec(
            code="medication-goal-not-discussed",
            title="Talk about what they want next",
            description="On the same medicine for over 12 months, and what they want next about "
            "it has not been talked about in a medication review in the last 12 months.",
            severity="low",
            suggested_action="At the next medication review, talk with them about what they want "
            "next: staying stable on their medication is as good a choice as reducing or coming "
            "off. Record what they want and whose choice it was.",
            thresholds=(),
            source="Tandem's service default (12 months). Recovery goals are negotiated with "
            "each person, spanning harm reduction and abstinence (Notley et al., long-term "
            "opiate substitution clients in a UK service: “a need for services to negotiate "
            "individualised recovery goals”); reviews of people on substitute prescriptions "
            "look at their recovery, with no time limit on treatment (Strang et al. 2012, "
            "Medications in recovery, National Treatment Agency, as summarised by Drug and "
            "Alcohol Findings).",
            clears_itself="what they want next was talked about in a medication review, or the "
            "plan changed",
        ),
        RuleSpec(
            code="ecg-missing",
            title="ECG not recorded",
            description="The daily dose is at or above the medicine's ECG threshold (methadone "
            "100 mg a day or more) and no ECG date is recorded on the medication plan.",
            severity="high",
            suggested_action="Arrange an ECG (QT interval) soon and record its date on the "
            "medication plan; ask about other QT risks (heart or liver disease, low potassium "
            "or magnesium, other medicines that prolong QT, cocaine).",
            thresholds=(),
            source="MHRA, Current Problems in Pharmacovigilance 2006;31:1-12 (as summarised by "
            "nursing-notebook.com): patients needing more than 100 mg of methadone a day are "
            "closely monitored for QT prolongation; Mayet et al. 2011 (Drug Alcohol Rev) give "
            "the MHRA criterion as methadone >100 mg daily; Medsafe (NZ) Prescriber Update "
            "2014: ECG before titration above 100 mg a day. The threshold is the medicine "
            "file's (methadone: 100 mg, the stricter reading). High, not urgent: QT "
            "prolongation can lead to torsade de pointes, a fatal arrhythmia, so the ECG is "
            "arranged within days; it is not a same-day emergency like a safety answer or "
            "missed doses.",
            fixed=True,
            clears_itself="an ECG date was recorded, or the dose went below the ECG threshold",
        ),
        RuleSpec(
            code="use-during-reduction",
            title="Use during a reduction",
            description="During a reduction of their medication, they report using a substance "
            "again after some weeks without it (read from the outcomes check-ups as for "
            "“Return to use”).",
            severity="high",
            suggested_action="Talk with them soon about how the reduction is going and what they "
            "want now: pausing it, or going back up to a dose that holds them, is a choice and "
            "not a failure. Review harm-reduction advice (naloxone, safer use).",
            thresholds=(
                Threshold("weeks_without", "Weeks without the substance before it counts as a "
                          "return", 4, 1, 52, "weeks"),
                Threshold("opioid_weeks_without", "Weeks without illicit opioids before a lapse "
                          "counts as a return (overdose risk)", 1, 1, 52, "weeks"),
            ),
            source="As for “Return to use” (Treatment Outcomes Profile, Marsden et al. 2008; "
            "overdose after time without opioids: Strang et al. 2003, BMJ 326:959-60); a dose "
            "going down lowers tolerance too. A reversal is not a failure (Tandem's reductions "
            "are the patient's choice, paused or reversed at any time).",
        ),
    )
}


def thresholds(spec: RuleSpec, rc: RuleConfig | None) -> dict[str, float]:
    """The rule's threshold values: its defaults, overridden by name from the service's config
    (unknown names and values that are not numbers are ignored; values are kept in range)."""
    values = {t.name: float(t.default) for t in spec.thresholds}
    if rc is None:
        return values
    for t in spec.thresholds:
        raw = rc.thresholds.get(t.name)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            values[t.name] = min(max(value, float(t.minimum)), float(t.maximum))
    return values


# --- wording helpers -----------------------------------------------------------------------


def day(d: Date) -> str:
    """3 March 2026."""
    return f"{d.day} {d:%B %Y}"


def num(x: float) -> str:
    """A figure without a trailing .0 (at most two decimal places)."""
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def plural(n: float, word: str) -> str:
    return f"{num(n)} {word}" if n == 1 else f"{num(n)} {word}s"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# --- the rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    """What a rule found, before the rule's severity and action are added."""

    key: str
    evidence: str
    response_id: str | None = None
    suggested_action: str | None = None  # None: the rule's own


def safety_evidence(instrument_name: str, item: str, message: str, value_text: str,
                    later: str = "") -> str:
    """The safety flag's evidence; `later`: the answer it was changed to, below the rule."""
    changed = f", later changed to “{later}”" if later else ""
    return (f"{instrument_name}, question {item}: {message} "
            f"(answered “{value_text}”{changed}).")


def unanswered_evidence(instrument_name: str, item: str) -> str:
    return (f"{instrument_name}, question {item}: safety question not answered (they chose "
            "“I'd rather not say”). Ask about it in person.")


def _safety_answer(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    seen, found = set(), []
    for c in facts.checkups:
        for hit in c.safety:
            if (c.id, hit.item) not in seen:  # one flag per question
                seen.add((c.id, hit.item))
                found.append(_Found(f"{c.id}:{hit.item}", safety_evidence(
                    c.instrument_name, hit.item, hit.message, hit.value_text), c.id))
    return found


def _safety_unanswered(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    return [_Found(f"{c.id}:{item}:declined", unanswered_evidence(c.instrument_name, item), c.id)
            for c in facts.checkups for item in c.declined]


def _severe_score(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    """The latest score of a scale is in its most severe band. The onset is the first
    check-up of the unbroken run in that band."""
    found = []
    for scale in facts.scales.values():
        if scale.severe_at is None:
            continue
        series = [(c, float(v)) for c in facts.checkups if c.instrument == scale.instrument
                  and (v := _number(c.scores.get(scale.code))) is not None]
        if not series or series[-1][1] < scale.severe_at:
            continue
        onset = len(series) - 1
        while onset > 0 and series[onset - 1][1] >= scale.severe_at:
            onset -= 1
        first, (latest, value) = series[onset][0], series[-1]
        name = f"{scale.instrument_name} ({scale.title.lower()})" if scale.instrument_name \
            else scale.title
        evidence = (f"{name}: {num(value)} at the check-up on {day(latest.completed_on)}, in the "
                    f"most severe band ({num(scale.severe_at)} or more: {scale.severe_label}).")
        if first is not latest:
            evidence += f" In this band since {day(first.completed_on)}."
        found.append(_Found(f"{scale.instrument}:{scale.code}:{first.id}", evidence, latest.id))
    return found


SHARED = (("inject_shared_needle", "a needle or syringe"),
          ("inject_shared_equipment", "a spoon, water or filter"))


def _shared(c: Checkup) -> list[str]:
    return [words for item, words in SHARED if c.answers.get(item) is True]


def _injecting(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    """Sharing any injecting equipment (at the latest outcomes check-up), and injecting for
    the first time in the episode (after an earlier check-up in it with no injecting)."""
    tops = [c for c in facts.checkups if c.instrument == "top"
            and (facts.episode_start is None or c.completed_on >= facts.episode_start)]
    if not tops:
        return []
    found = []
    latest = tops[-1]
    if _shared(latest):
        onset = len(tops) - 1
        while onset > 0 and _shared(tops[onset - 1]):
            onset -= 1
        evidence = (f"At the check-up on {day(latest.completed_on)} they said they had injected "
                    f"with {' and '.join(_shared(latest))} that someone else had used.")
        if onset != len(tops) - 1:
            evidence += f" First reported on {day(tops[onset].completed_on)}."
        found.append(_Found(f"sharing:{tops[onset].id}", evidence, latest.id))
    first = next((i for i, c in enumerate(tops) if _days(c, "inject") >= 1), None)
    if first:  # not None and not the episode's first check-up (injecting already known)
        c, before = tops[first], tops[first - 1]
        days = plural(_days(c, "inject"), "day")
        evidence = (f"Injecting for the first time this episode: {days}"
                    f" in the 28 days before the check-up on {day(c.completed_on)} (none at the "
                    f"check-up on {day(before.completed_on)}).")
        found.append(_Found(f"first:{c.id}", evidence, c.id))
    return found


SUBSTANCES = ("alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis", "other")
SUBSTANCE_NAMES = {
    "alcohol": "drinking",
    "opioids": "illicit opioids",
    "crack": "crack",
    "cocaine": "cocaine powder",
    "amphetamines": "amphetamines",
    "cannabis": "cannabis",
}
WEEKS = ("w4", "w3", "w2", "w1")  # earliest first: w4 is 22–28 days ago, w1 the last 7 days


def _weeks(c: Checkup, s: str) -> list[float | None]:
    """Days of use of `s` per week, earliest week first; None where not answered."""
    return [_number(c.answers.get(f"{s}_{w}")) for w in WEEKS]


def _days(c: Checkup, s: str) -> float:
    return sum(v for v in _weeks(c, s) if v is not None)


def _latest_return(tops: list[Checkup], s: str, need: float) -> tuple[int, int] | None:
    """The latest week of use of `s` that follows at least `need` known weeks without it,
    after some earlier use (in an earlier week, of this check-up or an earlier one), as
    (index of its check-up, weeks without before it). A week not answered breaks the run of
    weeks without. A lapse inside one 28-day profile counts as much as one across two."""
    found, zeros, used = None, 0, False
    for k, c in enumerate(tops):
        for v in _weeks(c, s):
            if v is None:
                zeros = 0
            elif v == 0:
                zeros += 1
            else:
                if used and zeros >= need:
                    found = (k, zeros)
                used, zeros = True, 0
    return found


def _substance_phrases(s: str, tops: list[Checkup]) -> tuple[str, str]:
    """("using crack", "using") or ("drinking", "drinking")."""
    if s == "alcohol":
        return "drinking", "drinking"
    if s == "other":
        named = [c.answers.get("other_name") for c in reversed(tops)]
        name = next((n.strip() for n in named if isinstance(n, str) and n.strip()), None)
        return f"using {name or 'the other drug'}", "using"
    return f"using {SUBSTANCE_NAMES[s]}", "using"


OVERDOSE_RISK = (
    "After time without opioids their tolerance will have fallen, so the risk of overdose is "
    "at its highest: contact them today, make sure they have naloxone and know how to use it, "
    "talk about not using alone and using less, and review their plan and medication."
)


def _return_to_use(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    tops = [c for c in facts.checkups if c.instrument == "top"]
    found = []
    for s in SUBSTANCES:
        weeks_without = limits["opioid_weeks_without" if s == "opioids" else "weeks_without"]
        using = [_days(c, s) >= 1 for c in tops]
        if not using or not using[-1]:
            continue
        start = len(tops) - 1  # the trailing run of check-ups that report use
        while start > 0 and using[start - 1]:
            start -= 1
        lapse = _latest_return(tops, s, weeks_without)
        if lapse is None or lapse[0] < start:
            continue
        onset, weeks = lapse
        r, latest = tops[onset], tops[-1]
        doing, still = _substance_phrases(s, tops)
        before = tops[onset - 1] if onset > 0 else None
        if before is not None and all(v == 0 for v in _weeks(before, s)) and weeks >= 4:
            evidence = (
                f"Days {doing} rose from 0 to {num(_days(r, s))} in the 28 days before the "
                f"check-up on {day(r.completed_on)}."
            )
        else:
            evidence = (
                f"{doing[0].upper()}{doing[1:]} again after at least {plural(weeks, 'week')} "
                f"without it: {plural(_days(r, s), 'day')} in the 28 days before the check-up "
                f"on {day(r.completed_on)}."
            )
        if latest is not r:
            evidence += (
                f" Still {still} at the check-up on {day(latest.completed_on)}: "
                f"{plural(_days(latest, s), 'day')} in 28."
            )
        if s == "opioids":
            evidence += " Risk of overdose: tolerance falls after time without opioids."
            found.append(_Found(f"{s}:{r.id}", evidence, latest.id, OVERDOSE_RISK))
        else:
            found.append(_Found(f"{s}:{r.id}", evidence, latest.id))
    return found


def _worse_by(scale: Scale, before: float, after: float) -> float:
    return after - before if scale.higher_is == "worse" else before - after


def _reference(scale: Scale, series: list[tuple[Checkup, float]], i: int) -> int | None:
    """Which earlier point makes check-up i a reliable deterioration: 0 (the baseline, first
    in `series`) if it does, else i - 1 (the check-up before) if that does, else None."""
    rc = scale.reliable_change or 0.0
    if _worse_by(scale, series[0][1], series[i][1]) >= rc - 1e-9:
        return 0
    if _worse_by(scale, series[i - 1][1], series[i][1]) >= rc - 1e-9:
        return i - 1
    return None


def _reliable_deterioration(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    found = []
    for scale in facts.scales.values():
        rc = scale.reliable_change
        if rc is None or rc <= 0:
            continue
        series = [
            (c, float(v))
            for c in facts.checkups
            if c.instrument == scale.instrument
            and (v := _number(c.scores.get(scale.code))) is not None
        ]
        if len(series) < 2:
            continue
        first = 0
        if facts.episode_start is not None:
            first = next(
                (i for i, (c, _) in enumerate(series) if c.completed_on >= facts.episode_start), 0
            )
        series = series[first:]
        last = len(series) - 1
        if last == 0 or (ref := _reference(scale, series, last)) is None:
            continue
        onset = last
        while onset > 1 and _reference(scale, series, onset - 1) is not None:
            onset -= 1
        (ref_c, ref_v), (latest, value) = series[ref], series[last]
        whole = all(abs(v - round(v)) < 1e-9 for _, v in series)
        smallest = num(math.ceil(rc - 1e-9)) if whole else num(rc)
        evidence = (
            f"{scale.title} went from {num(ref_v)} to {num(value)} between the check-ups on "
            f"{day(ref_c.completed_on)} and {day(latest.completed_on)}: a reliable "
            f"deterioration (a change of {smallest} or more is reliable)."
        )
        key = f"{scale.instrument}:{scale.code}:{series[onset][0].id}"
        found.append(_Found(key, evidence, latest.id))
    return found


def _life_domain_drop(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    """One finding for all the domains that fell: a relapse moves many at once, and the care
    team needs one flag that names them, not one per domain. The onset is the first check-up
    of the current run in which any domain is down."""
    points = limits["points"]
    checkups = [c for c in facts.checkups if c.instrument == "life-domains"]
    index = {c.id: i for i, c in enumerate(checkups)}
    down_at = [False] * len(checkups)  # some domain is in a drop at this check-up
    latest_drops = []  # (scale, value before, value at onset, onset check-up, value now)
    for scale in facts.scales.values():
        if scale.instrument != "life-domains":
            continue
        series = [(c, float(v)) for c in checkups
                  if (v := _number(c.scores.get(scale.code))) is not None]
        onset: int | None = None  # index in `series` of the first check-up of the drop
        for i in range(1, len(series)):
            value = series[i][1]
            if not (onset is not None and series[onset - 1][1] - points >= value):
                onset = i if value <= series[i - 1][1] - points else None
            if onset is not None:
                down_at[index[series[i][0].id]] = True
        if onset is not None and checkups and series[-1][0] is checkups[-1]:
            latest_drops.append((scale, series[onset - 1][1], series[onset][1],
                                 series[onset][0], series[-1][1]))
    if not latest_drops:
        return []
    first = len(checkups) - 1
    while first > 0 and down_at[first - 1]:
        first -= 1
    latest = checkups[-1]
    parts = []
    for scale, before, at, when, now in sorted(latest_drops, key=lambda d: d[0].title):
        text = f"{scale.title} from {num(before)} to {num(at)}"
        if when is not latest:
            text += f" ({day(when.completed_on)}; now {num(now)})"
        parts.append(text)
    evidence = (f"At the check-up on {day(latest.completed_on)}, ratings had fallen by "
                f"{num(points)} or more: " + "; ".join(parts) + ".")
    titles = ", ".join(d[0].title.lower() for d in latest_drops)
    action = (f"Ask about what has happened ({titles}), and whether the plan needs a new goal "
              "or action.")
    return [_Found(f"domains:{checkups[first].id}", evidence, latest.id, action)]


def _checkup_overdue(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    due = facts.next_checkup_due
    if due is None:
        return []
    allowed = {
        "active": limits["days_in_treatment"],
        "post-exit-monitoring": limits["days_post_exit"],
    }.get(facts.episode_status or "")
    late = (facts.today - due).days
    if allowed is None or late <= allowed:
        return []
    evidence = f"Their check-up was due on {day(due)} and is {plural(late, 'day')} overdue."
    return [_Found(f"due:{due.isoformat()}", evidence)]


def _review_overdue(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    plan = facts.plan
    if plan is None:
        return []
    late = (facts.today - plan.review_date).days
    if late <= limits["days"]:
        return []
    evidence = (
        f"The care plan review was due on {day(plan.review_date)} ({plural(late, 'day')} ago)."
    )
    return [_Found(f"{plan.id}:{plan.review_date.isoformat()}", evidence)]


def _plan_unsigned(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    plan = facts.plan
    if plan is None or plan.patient_signed:
        return []
    waiting = (facts.today - plan.version_created_on).days
    if waiting < limits["days"]:
        return []
    evidence = (
        f"Version {plan.version} of the care plan, changed on {day(plan.version_created_on)}, "
        f"has not been signed by them after {plural(waiting, 'day')}."
    )
    return [_Found(f"{plan.id}:v{plan.version}", evidence)]


def _housing_problems(c: Checkup) -> list[str]:
    problems = []
    if c.answers.get("housing_acute") is True:
        problems.append("an acute housing problem")
    if c.answers.get("housing_eviction_risk") is True:
        problems.append("a risk of eviction")
    return problems


def _housing(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    tops = [c for c in facts.checkups if c.instrument == "top"]
    if not tops or not _housing_problems(tops[-1]):
        return []
    onset = len(tops) - 1
    while onset > 0 and _housing_problems(tops[onset - 1]):
        onset -= 1
    first, latest = tops[onset], tops[-1]
    evidence = (
        f"At the check-up on {day(latest.completed_on)} they reported "
        f"{' and '.join(_housing_problems(latest))}."
    )
    if latest is not first:
        evidence += f" First reported on {day(first.completed_on)}."
    return [_Found(f"housing:{first.id}", evidence, latest.id)]


def _no_contact(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    if facts.episode_status != "active":
        return []
    since = facts.last_contact or facts.episode_start
    if since is None:
        return []
    days = (facts.today - since).days
    if days < limits["days"]:
        return []
    when = day(since) if facts.last_contact else f"their episode started on {day(since)}"
    evidence = f"No contact has been recorded since {when} ({plural(days, 'day')})."
    return [_Found(f"since:{since.isoformat()}", evidence)]


def _dates(dates: list[Date]) -> str:
    if len(dates) == 2:
        return f"at the reviews on {day(dates[0])} and {day(dates[1])}"
    return f"at every review from {day(dates[0])} to {day(dates[-1])} ({len(dates)} reviews)"


def _goal_not_progressing(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    rated: dict[str, list[tuple[Review, GoalRating]]] = {}
    for review in facts.reviews:
        seen = set()
        for rating in review.ratings:
            if rating.goal_id in seen:
                continue
            if rating.patient_level is None and rating.practitioner_level is None:
                continue
            seen.add(rating.goal_id)
            rated.setdefault(rating.goal_id, []).append((review, rating))
    found = []
    for goal_id, history in rated.items():
        low = [-2 in (g.patient_level, g.practitioner_level) for _, g in history]
        if len(low) < 2 or not (low[-1] and low[-2]):
            continue
        onset = len(low) - 2
        while onset > 0 and low[onset - 1]:
            onset -= 1
        run = history[onset:]
        patient = all(g.patient_level == -2 for _, g in run)
        practitioner = all(g.practitioner_level == -2 for _, g in run)
        views = (
            "both views" if patient and practitioner
            else "the patient's view" if patient
            else "the practitioner's view" if practitioner
            else "the patient's or the practitioner's view"
        )
        evidence = (
            f"“{run[-1][1].goal}” was rated −2 (much less than expected) "
            f"{_dates([r.held_on for r, _ in run])} ({views})."
        )
        found.append(_Found(f"{goal_id}:{run[0][0].id}", evidence))
    return found


# --- medication ----------------------------------------------------------------------------

# How far back the pharmacy's reports are read (runs of missed days, the timeline's own reading
# aside): the 3-day rule needs days, the evidence a few weeks.
DISPENSING_DAYS = 60
MISSED = "missed"


def missed_runs(dispensing, after: Date | None = None) -> list[list[Date]]:
    """Each unbroken run of missed days (consecutive days, each reported missed), oldest first;
    a day not reported, or reported taken, ends a run. Days up to `after` (a restart the
    prescriber made) are left out."""
    runs: list[list[Date]] = []
    for on, status in sorted(set(dispensing)):
        if after is not None and on <= after:
            continue
        if status != MISSED:
            runs.append([])
            continue
        if runs and runs[-1] and (on - runs[-1][-1]).days == 1:
            runs[-1].append(on)
        else:
            runs.append([on])
    return [run for run in runs if run]


def _days_span(days: list[Date]) -> str:
    if len(days) == 1:
        return day(days[0])
    if len(days) <= 4:
        first = [str(d.day) if (d.month, d.year) == (days[-1].month, days[-1].year) else day(d)
                 for d in days[:-1]]
        return f"{', '.join(first)} and {day(days[-1])}"
    return f"from {day(days[0])} to {day(days[-1])}"


def _mg(x: float) -> str:
    return f"{num(x)} mg a day"


def problem_key(key: str) -> str:
    """A growing rule's key without its count (`RuleSpec.grows`): "<plan>:<first day>"."""
    return ":".join(key.split(":")[:2])


def missed_key(plan_id: str, run: list[Date], need: int) -> str:
    """The missed-dose flag's key for this run: the plan and the run's first day, then, from
    twice the service's number of days, how many times that number of days has been missed
    (so each further `need` days missed after a flag was resolved raise a new one)."""
    key = f"{plan_id}:{run[0].isoformat()}"
    times = len(run) // need
    return key if times <= 1 else f"{key}:{times}"


def _missed_doses(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    m = facts.medication
    if m is None or not m.tolerance_falls:
        return []
    need = max(1, int(m.missed_days_for_flag))
    found = []
    missed = {on for on, status in m.dispensing if status == MISSED}
    latest = max([on for on, _s in m.dispensing] + [m.last_reported or Date.min])
    for run in missed_runs(m.dispensing, m.restarted_on):
        if len(run) < need:
            continue
        evidence = (f"The pharmacy reported {m.medicine} missed on {plural(len(run), 'day')} in "
                    f"a row: {_days_span(run)}.")
        if m.dose is not None:
            evidence += f" The dose is {_mg(m.dose)}."
        if latest > run[-1] and latest not in missed:  # the latest report is a dose taken
            evidence += f" Reported taken again on {day(latest)}."
        action = RULES["missed-doses"].suggested_action
        if m.restart_rule.strip():
            action += f" The service's restart rule: {m.restart_rule.strip()}"
        found.append(_Found(missed_key(m.plan_id, run, need), evidence, None, action))
    return found


def medication_review_due(m: Medication) -> Date:
    """When the medication review is due: the plan's review date (or the later date the last
    review set), and no later than the service's interval after the last review (or the
    plan's start)."""
    planned = max(m.review_date, m.next_review) if m.next_review else m.review_date
    since = m.last_review if m.last_review and m.last_review > m.started_on else m.started_on
    return min(planned, since + datetime.timedelta(days=int(m.review_every_days)))


def _medication_review_overdue(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    m = facts.medication
    if m is None:
        return []
    due = medication_review_due(m)
    late = (facts.today - due).days
    if late <= 0:
        return []
    evidence = (f"The medication review ({m.medicine}) was due on {day(due)} "
                f"({plural(late, 'day')} ago).")
    if m.last_review:
        evidence += f" The last medication review was on {day(m.last_review)}."
    else:
        evidence += (f" No medication review has been recorded since the plan started on "
                     f"{day(m.started_on)}.")
    return [_Found(f"{m.plan_id}:{due.isoformat()}", evidence)]


GOAL_MONTHS = 12


def add_months(d: Date, months: int) -> Date:
    """The same day `months` later (the month's last day where it has fewer days)."""
    month = d.month - 1 + months
    year, month = d.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return d.replace(year=year, month=month, day=min(d.day, last))
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover - every month has 28 days


def _goal_not_discussed(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    m = facts.medication
    if m is None:
        return []
    talked = m.last_goal_review if m.last_goal_review and m.last_goal_review > m.started_on \
        else None
    onset = add_months(talked or m.started_on, GOAL_MONTHS)
    if facts.today <= onset:
        return []
    evidence = f"On {m.medicine} since {day(m.started_on)} (more than {GOAL_MONTHS} months). "
    if talked:
        evidence += (f"What they want next about it was last talked about at the medication "
                     f"review on {day(talked)}.")
    else:
        evidence += "What they want next about it has not been talked about in a medication review."
    evidence += " Talk about what the patient wants next."
    return [_Found(f"{m.plan_id}:{onset.isoformat()}", evidence)]


def _ecg_missing(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    m = facts.medication
    if m is None or m.ecg_at_or_above is None or m.last_ecg_on is not None:
        return []
    at = float(m.ecg_at_or_above)
    if m.dose is None or m.dose < at - 1e-9:
        return []
    onset = len(m.doses) - 1  # the first change of the current stretch at or above it
    while onset > 0 and m.doses[onset - 1][1] >= at - 1e-9:
        onset -= 1
    since = m.doses[onset][0]
    evidence = (f"{m.medicine} at {_mg(m.dose)} (at {num(at)} mg a day or more since "
                f"{day(since)}), and no ECG date is recorded on the medication plan.")
    return [_Found(f"{m.plan_id}:{since.isoformat()}", evidence)]


def _use_during_reduction(facts: Facts, limits: dict[str, float]) -> list[_Found]:
    m = facts.medication
    if m is None or m.reduction_id is None or m.reduction_started_on is None:
        return []
    completed = {c.id: c.completed_on for c in facts.checkups}
    paused = " (paused now)" if m.reduction_status == "paused" else ""
    found = []
    for f in _return_to_use(facts, limits):
        onset_id = f.key.split(":", 1)[1]
        on = completed.get(onset_id)
        if on is None or on < m.reduction_started_on:
            continue
        evidence = (f"During the reduction of {m.medicine} that started on "
                    f"{day(m.reduction_started_on)}{paused}: {f.evidence}")
        action = RULES["use-during-reduction"].suggested_action
        if f.suggested_action:  # opioids: the overdose risk first
            action = f"{f.suggested_action} {action}"
        found.append(_Found(f"{m.reduction_id}:{f.key}", evidence, f.response_id, action))
    return found


_RULE_FUNCTIONS = {
    "safety-answer": _safety_answer,
    "safety-unanswered": _safety_unanswered,
    "severe-score": _severe_score,
    "injecting": _injecting,
    "return-to-use": _return_to_use,
    "reliable-deterioration": _reliable_deterioration,
    "life-domain-drop": _life_domain_drop,
    "checkup-overdue": _checkup_overdue,
    "review-overdue": _review_overdue,
    "plan-unsigned": _plan_unsigned,
    "housing": _housing,
    "no-contact": _no_contact,
    "goal-not-progressing": _goal_not_progressing,
    "missed-doses": _missed_doses,
    "medication-review-overdue": _medication_review_overdue,
    "medication-goal-not-discussed": _goal_not_discussed,
    "ecg-missing": _ecg_missing,
    "use-during-reduction": _use_during_reduction,
    "unreachable": lambda facts, thresholds: [],  # raised by the reminders' planning
}


def evaluate(facts: Facts, config: Config | None = None,
             only: frozenset[str] | None = None) -> list[Finding]:
    """Every enabled rule's findings, most severe first, then in the order of `RULES`; with
    `only`, just those rules' (e.g. the rules pharmacy reports decide)."""
    config = config or {}
    facts = replace(
        facts,
        checkups=tuple(sorted(facts.checkups, key=lambda c: c.completed_on)),
        reviews=tuple(sorted(facts.reviews, key=lambda r: r.held_on)),
    )
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for code, spec in RULES.items():
        if only is not None and code not in only:
            continue
        rc = config.get(code)
        if rc is not None and not rc.enabled and not spec.fixed:
            continue
        severity = spec.severity
        if rc is not None and rc.severity in SEVERITIES and not spec.fixed:
            severity = rc.severity
        for f in _RULE_FUNCTIONS[code](facts, thresholds(spec, rc)):
            if (code, f.key) in seen:
                continue
            seen.add((code, f.key))
            action = f.suggested_action or spec.suggested_action
            if facts.episode_status == "post-exit-monitoring":
                action += POST_EXIT
            findings.append(Finding(code, f.key, severity, f.evidence, action, f.response_id))
    rule_order = {code: i for i, code in enumerate(RULES)}
    findings.sort(key=lambda f: (SEVERITIES.index(f.severity), rule_order[f.rule]))
    return findings
