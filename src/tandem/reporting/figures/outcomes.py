"""Figures of the report's "outcomes" section (see core/report.py SECTIONS).

Change in days of use, abstinent or reliably improved, reliable change on the mood and distress
questionnaires, life-domain change, and patient-defined success: goals in the patient's own
words rated by the patient, the Goal Attainment Scaling T-score and how far the patient's and
the practitioner's ratings agree. Success is never only abstinence: the goal figures count
whatever the patient set out to do.

"First" is a patient's first completed questionnaire of the kind in their episode (the one
`Scope.in_treatment()` keeps); "latest" is their latest one completed on or before the
period's last day. A patient counts only with two different ones (first and latest differ).

Reliable change thresholds are worked out here once, in Python, from each instrument's file
(`reliable_change`: SD and reliability, Jacobson & Truax 1991, core/rci.py); the database only
compares a difference with that number. The K10's file has none, so its SD is the service's own
(`SERVICE_SD`, below), worked out by the database with the rest of its family. Every figure is
one or two aggregate queries.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import F, OuterRef, QuerySet, Subquery

from tandem.assessment import registry
from tandem.core.rci import threshold
from tandem.core.report import Definition, Kind, Value
from tandem.patients.models import Episode, Patient
from tandem.planning.models import Goal, GoalRating, LifecycleStatus, Review
from tandem.reporting.figures.base import (
    Facts,
    Figure,
    Part,
    any_value,
    figure_of,
    latest_value,
    sql_of,
)
from tandem.reporting.figures.pairs import TOP_PAIRS, first_and_latest_headline
from tandem.reporting.scope import Scope, completed

SECTION = "outcomes"
LIFE_DOMAINS = "life-domains"

# The TOP substances whose days of use (in the 28 days before the profile) are compared, as
# (key part, label). Tobacco is not counted. "Other" is the one other named substance.
USE_SUBSTANCES = (
    ("alcohol", "Alcohol"),
    ("opioids", "Opioids"),
    ("crack", "Crack cocaine"),
    ("cocaine", "Cocaine powder"),
    ("amphetamines", "Amphetamines"),
    ("cannabis", "Cannabis"),
)
ANY_SUBSTANCE = (*(s for s, _ in USE_SUBSTANCES), "other")

# Abstinent or reliably improved, per substance used at the first profile: 0 days at the
# latest, or a fall of at least this many days. The national measure (OHID/PHE NDTMS, with
# per-substance reliable-change thresholds from Marsden et al.'s TOP studies) could not be
# found to cite, so this is Tandem's rule until it is: a fall of a whole week of the 28 days.
RELIABLE_FALL_DAYS = {substance: 7 for substance in ANY_SUBSTANCE}

# The questionnaires with reliable change figures in the report: (code, name).
MOOD = (("phq9", "PHQ-9"), ("gad7", "GAD-7"), ("k10", "K10"))


def _reliable_change(code: str) -> tuple[float | None, str]:
    """The smallest reliable change in the primary scale's points (None when the instrument's
    file has no reliable-change figures), and the file's one-line citation for it."""
    scale = registry.shipped()[code].primary
    rc = scale.reliable_change
    if rc is None:
        return None, ""
    return threshold(rc.sd, rc.reliability), rc.short or rc.citation


# Worked out once from the instrument files: {code: (points, citation)}. The figures are made
# from it when Tandem starts (a test that puts figures in makes the figures again).
THRESHOLDS: dict[str, tuple[float | None, str]] = {code: _reliable_change(code)
                                                   for code, _ in MOOD}

# Goal Attainment Scaling T-score bands, [low, high): 50 is every goal at the expected level.
GAS_BANDS = (
    ("gas-t-below-40", "GAS T-score below 40", None, 40),
    ("gas-t-40-49", "GAS T-score 40 to 49", 40, 50),
    ("gas-t-50-59", "GAS T-score 50 to 59", 50, 60),
    ("gas-t-60-plus", "GAS T-score 60 or more", 60, None),
)


# --- first and latest questionnaire of the episode (figures/pairs.py) -----------------------

MOOD_PAIRS = {code: first_and_latest_headline(code, "total") for code, _ in MOOD}
LIFE_DOMAIN_PAIRS = first_and_latest_headline(LIFE_DOMAINS, "overall")


# --- change in days of use -------------------------------------------------------------------

def _days_figure(substance: str, label: str) -> Figure:
    first, latest = f"first_{substance}_days", f"latest_{substance}_days"
    return figure_of(Definition(
        key=f"days-of-use-change-{substance}", section=SECTION,
        label=f"Change in days using: {label.lower()}", kind=Kind.MEAN, unit="days",
        who=f"Patients in treatment who used {label.lower()} at their first Treatment Outcomes "
            "Profile (TOP) of the episode and have a later one.",
        dates="Days used in the 28 days before the first TOP of the episode, and before the "
              "latest TOP on or before the period's last day; the mean of latest minus first.",
        source="TOP days of use (Marsden et al., Addiction 2008;103:1450-60); change from the "
               "start to review as in Marsden et al., Lancet 2009;374:1262-70.",
        higher_is_better=False,
    ), TOP_PAIRS, among=f"{first} > 0", of=f"{latest} - {first}")


# --- abstinent or reliably improved ----------------------------------------------------------

def _used_at_first() -> str:
    """Any substance (not tobacco) used at the first TOP."""
    return " OR ".join(f"first_{s}_days > 0" for s in ANY_SUBSTANCE)


def _improved() -> str:
    """Every substance used at the first TOP is at 0 days at the latest or fell by its
    reliable-change days; no substance unused at the first is used at the latest."""
    return " AND ".join(
        f"(latest_{s}_days = 0 OR (first_{s}_days > 0 AND "
        f"latest_{s}_days <= first_{s}_days - {RELIABLE_FALL_DAYS[s]}))"
        for s in ANY_SUBSTANCE)


ABSTINENT_OR_IMPROVED = figure_of(Definition(
    key="abstinent-or-reliably-improved", section=SECTION,
    label="Abstinent or reliably improved", kind=Kind.SHARE, drill=True, higher_is_better=True,
    who="Patients in treatment with two TOPs in the episode who used any drug or alcohol "
        "(not tobacco) at the first.",
    dates="The first TOP of the episode against the latest on or before the period's last day "
          "(each asks about the 28 days before it).",
    source="TOP. OHID/NDTMS per-substance thresholds not found to cite, so Tandem's rule: each "
           "substance used at first at 0 days (Marsden et al., Lancet 2009;374:1262-70) or down "
           "7+ of 28 days; none newly used.",
), TOP_PAIRS, among=_used_at_first(), met=_improved())


# --- reliable change on PHQ-9, GAD-7, K10 ----------------------------------------------------

# Questionnaires whose file has no reliable-change figures because no SD of a comparable
# treatment sample could be found and read (docs/clinical-sources.md), but whose test-retest
# reliability could: {code: (reliability, its source)}. Their SD is the service's own instead,
# the pretreatment group's (one of the three Jacobson & Truax 1991 allow, p. 14): the first
# scored questionnaire of every episode at the service (every team, whatever the filters, any
# date), the very scores each change is measured from. One figure for every period and team.
SERVICE_SD = {
    "k10": (0.80, "test-retest r 0.80 over 1-2 weeks in a treatment-seeking sample (n 289), "
                  "Australian Psychologist 2021;56(1):38-45; its ICC 0.89 is 2r/(1+r), the "
                  "mean of two sittings, not one score"),
}
# The fewest first scores an SD is taken from (Tandem's own): the SD of n scores is known to
# about 1/sqrt(2(n - 1)) of itself, 10 % at 50. With fewer, the figure is not worked out.
FEWEST_FIRST_SCORES = 50


def first_scores(organisation_id: int, code: str) -> QuerySet:
    """The first scored `code` of every episode of the organisation (whatever the report's
    filters or period), as one column `x` (null for an episode without one)."""
    first = (completed(code).filter(episode=OuterRef("pk"), headline__isnull=False)
             .order_by("completed_at", "pk"))
    return (Episode.objects.of(organisation_id)
            .annotate(x=Subquery(first.values("headline")[:1])).values("x"))


def _points_step(code: str) -> str:
    """The name of the step holding `code`'s smallest reliable change (`_points_parts`)."""
    return f"{MOOD_PAIRS[code].name}_points"


def _points_parts(organisation_id: int, code: str, name: str) -> list[Part]:
    """Two steps: `<name>_firsts`, the first scores (first_scores), and `<name>_points`, one row
    of `people` (how many), `sd` (their sample standard deviation, two-pass; null below two)
    and `points`, the smallest reliable change (null below FEWEST_FIRST_SCORES, or when every
    score is the same, which would make any change reliable). In plain SQL, as SQLite's
    STDDEV_SAMP is Django's own, which fails on a null or on fewer than two."""
    factor = threshold(1.0, SERVICE_SD[code][0])  # the threshold is the SD times this
    firsts = f"{name}_firsts"
    spread = (f"SELECT COUNT(f.x) AS people, SQRT(SUM((f.x - m.mean) * (f.x - m.mean)) / "
              f"NULLIF(COUNT(f.x) - 1, 0)) AS sd FROM {firsts} AS f "
              f"CROSS JOIN (SELECT AVG(x) AS mean FROM {firsts}) AS m WHERE f.x IS NOT NULL")
    points = (f"SELECT people, sd, CASE WHEN people >= {FEWEST_FIRST_SCORES:d} AND sd > 0 "
              f"THEN {factor!r} * sd END AS points FROM ({spread}) AS spread")
    return [(firsts, *sql_of(first_scores(organisation_id, code))),
            (f"{name}_points", points, [])]


def service_sd(organisation_id: int, code: str) -> tuple[int, float | None, float | None]:
    """(how many first scores, their SD, the smallest reliable change or None) for `code` at
    the organisation, as the report works them out (the same for every period and filter)."""
    facts = Facts("service_sd", lambda _: _points_parts(organisation_id, code, "service_sd"))
    sql, params = facts.sql(None, "SELECT people, sd, points FROM facts")  # needs no scope
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        people, sd, points = cursor.fetchone()
    return people, None if sd is None else float(sd), None if points is None else float(points)


def _with_service_sd(code: str) -> Facts:
    """The first and latest pairs of `code` (MOOD_PAIRS), each with `points`, the service's
    smallest reliable change (the same on every row; null when not worked out)."""
    pairs = MOOD_PAIRS[code]

    def parts(scope: Scope) -> list[Part]:
        steps = [*pairs.parts(scope), *_points_parts(scope.organisation_id, code, pairs.name)]
        rows = (f"SELECT p.*, r.points FROM {pairs.name} AS p "
                f"CROSS JOIN {_points_step(code)} AS r")
        return [*steps, (f"{pairs.name}_with_points", rows, [])]

    return Facts(f"{pairs.name}_service_sd", parts)


def _mood_figure(code: str, name: str, improvement: bool) -> Figure:
    points, citation = THRESHOLDS[code]
    way = "improvement" if improvement else "deterioration"
    move = "A fall" if improvement else "A rise"
    if points is not None:
        rule = f"{move} of more than {points:.2f} points (Jacobson & Truax 1991; {citation})."
    elif code in SERVICE_SD:
        reliability, source = SERVICE_SD[code]
        rule = (f"{move} of more than {threshold(1.0, reliability):.2f} times the SD (Jacobson "
                f"& Truax 1991), the SD of the first {name} of every episode at the service so "
                f"far, as no published SD of a comparable treatment sample was found; "
                f"reliability: {source}. Not worked out until {FEWEST_FIRST_SCORES} episodes "
                f"have a scored {name}.")
    else:
        rule = (f"The {name} file has no reliable-change figures yet, so this is not worked "
                "out.")
    definition = Definition(
        key=f"{code}-reliable-{way}", section=SECTION, label=f"{name}: reliable {way}",
        kind=Kind.SHARE, drill=True, higher_is_better=improvement,
        who=f"Patients in treatment with two {name} scores in the episode.",
        dates=f"The first {name} of the episode against the latest on or before the period's "
              "last day.",
        source=rule,
    )
    # Lower scores are better on all three. Strictly more than the threshold, as core/rci.py
    # (|RC| > 1.96).
    change = "latest_total - first_total"
    if points is not None:
        met = f"{change} < {-points!r}" if improvement else f"{change} > {points!r}"
        return figure_of(definition, MOOD_PAIRS[code], met=met)
    if code in SERVICE_SD:  # `points` is a column, null when not worked out
        facts = SERVICE_SD_PAIRS[code]
        met = f"{change} < -points" if improvement else f"{change} > points"
        return figure_of(definition, facts, among="points IS NOT NULL", met=met,
                         known=f"EXISTS (SELECT 1 FROM {_points_step(code)} "
                               "WHERE points IS NOT NULL)")
    # No reliable-change figures at all.
    return Figure(definition, lambda scope: Value(),
                  lambda scope: Patient.objects.none().values(patient_id=F("pk")))


SERVICE_SD_PAIRS = {code: _with_service_sd(code) for code in SERVICE_SD}


# --- life-domain change ----------------------------------------------------------------------

LIFE_DOMAIN_CHANGE = figure_of(Definition(
    key="life-domain-change", section=SECTION, label="Change in life-domain ratings",
    kind=Kind.MEAN, unit="points (0 to 10)", higher_is_better=True,
    who="Patients in treatment with two life-domain ratings in the episode.",
    dates="The first rating of the episode against the latest on or before the period's last "
          "day; the mean of latest minus first.",
    source="The life-domain check-up's overall score (the mean of the areas the patient "
           "rated, 0 very bad to 10 very good): Tandem's own measure.",
), LIFE_DOMAIN_PAIRS, of="latest_overall - first_overall")


# --- patient-defined success: goal ratings ---------------------------------------------------

def _rating_parts(scope: Scope) -> list[Part]:
    """A row per goal of a patient in treatment (not entered in error) rated at a review held in
    the period, with `level`, the patient's level at the goal's latest rating by the patient,
    and `gap`, how many levels apart the two were at its latest rating by both (latest: by the
    review's date, then the review). Worked out from every rating in the period in one pass
    (base.latest_value), not goal by goal."""
    reviews = (Review.objects.of(scope.organisation_id)
               .filter(held_on__gte=scope.start, held_on__lte=scope.end).values("id", "held_on"))
    goals = (Goal.objects.filter(patient_id__in=scope.patients())
             .exclude(lifecycle_status=LifecycleStatus.ENTERED_IN_ERROR)
             .values("id", "patient_id"))
    patient = "r.patient_level IS NOT NULL"
    both = f"{patient} AND r.practitioner_level IS NOT NULL"
    gap = "ABS(r.patient_level - r.practitioner_level)"
    # Each rating joined to the two steps (on SQLite, to their automatic indexes: a rating's
    # review looked up by its UUID in the table itself cost twice as long).
    latest = (f"SELECT {any_value('g.patient_id')} AS patient_id, "
              f"{latest_value('v.held_on', 'v.id', 'r.patient_level', patient)} AS level, "
              f"{latest_value('v.held_on', 'v.id', gap, both)} AS gap "
              f"FROM {GoalRating._meta.db_table} AS r "
              "JOIN rating_reviews AS v ON v.id = r.review_id "
              "JOIN rating_goals AS g ON g.id = r.goal_id GROUP BY r.goal_id")
    return [("rating_reviews", *sql_of(reviews)), ("rating_goals", *sql_of(goals)),
            ("ratings", latest, [])]


RATINGS = Facts("ratings", _rating_parts)

GOALS_AT_EXPECTED = figure_of(Definition(
    key="goals-at-expected-level", section=SECTION,
    label="Goals at or above the expected level (patient's rating)", kind=Kind.SHARE,
    higher_is_better=True,  # no list: it counts goals, and a list of patients would not match
    who="Goals, in the patient's own words, of patients in treatment, rated by the patient at "
        "a review in the period (unit: goals).",
    dates="Each goal's latest rating by the patient at a review held in the period.",
    source="Goal Attainment Scaling: 0 is the expected level, +1 and +2 above it (Kiresuk & "
           "Sherman 1968; Turner-Stokes, Clin Rehabil 2009;23:362-70).",
), RATINGS, among="level IS NOT NULL", met="level >= 0")


def _agreement_figure(key: str, label: str, within: int, rule: str) -> Figure:
    return figure_of(Definition(
        key=key, section=SECTION, label=label, kind=Kind.SHARE,
        who="Goals of patients in treatment rated by both the patient and the practitioner at "
            "a review in the period (unit: goals).",
        dates="Each goal's latest rating by both at a review held in the period.",
        source=f"Goal Attainment Scaling levels -2 to +2 recorded separately for each; {rule} "
               "Tandem's measure of agreement.",
    ), RATINGS, among="gap IS NOT NULL", met=f"gap <= {within:d}")


RATINGS_AGREE = _agreement_figure(
    "ratings-agree", "Patient and practitioner rate a goal the same", 0,
    "the same level counts.")
RATINGS_WITHIN_ONE = _agreement_figure(
    "ratings-within-one", "Patient and practitioner within one level", 1,
    "levels at most one apart count.")


# --- patient-defined success: GAS T-scores ---------------------------------------------------

def _t_parts(scope: Scope) -> list[Part]:
    """A row per patient in treatment with a review held in the period with a patient T-score:
    `t`, the T-score of their latest such review (by date, then the review)."""
    reviews = (Review.objects
               .filter(held_on__gte=scope.start, held_on__lte=scope.end,
                       t_score_patient__isnull=False, plan__patient_id__in=scope.patients())
               .values("id", "held_on", patient_id=F("plan__patient_id"),
                       t=F("t_score_patient")))
    latest = ("SELECT patient_id, t FROM (SELECT patient_id, t, ROW_NUMBER() OVER (PARTITION BY "
              "patient_id ORDER BY held_on DESC, id DESC) AS n FROM t_reviews) AS numbered "
              "WHERE n = 1")
    return [("t_reviews", *sql_of(reviews)), ("gas_t", latest, [])]


T_SCORES = Facts("gas_t", _t_parts)

GAS_T_MEDIAN = figure_of(Definition(
    key="gas-t-patient-median", section=SECTION, label="GAS T-score (patient's ratings)",
    kind=Kind.MEDIAN, unit="T-score", higher_is_better=True,
    who="Patients in treatment with a review in the period whose goals the patient rated.",
    dates="Each patient's latest review held in the period.",
    source="The patient's GAS T-score: 50 when every goal is at the expected level (Kiresuk & "
           "Sherman 1968, formula as in Turner-Stokes 2009; core/gas.py).",
), T_SCORES, of="t")


def _band_figure(key: str, label: str, low: float | None, high: float | None) -> Figure:
    band = " AND ".join([*([f"t >= {low!r}"] if low is not None else []),
                         *([f"t < {high!r}"] if high is not None else [])])
    span = ("below 40" if low is None else f"{low} or more" if high is None
            else f"{low} or more and below {high}")
    return figure_of(Definition(
        key=key, section=SECTION, label=label, kind=Kind.COUNT, drill=True,
        who=f"Patients in treatment whose latest patient GAS T-score in the period is {span}.",
        dates="Each patient's latest review held in the period with the patient's ratings.",
        source="The patient's GAS T-score (Kiresuk & Sherman 1968; Turner-Stokes 2009); "
               "the bands are Tandem's, ten points (one level on every goal) wide around 50.",
    ), T_SCORES, met=band)


FIGURES: list[Figure] = [
    *(_days_figure(s, label) for s, label in USE_SUBSTANCES),
    ABSTINENT_OR_IMPROVED,
    *(_mood_figure(code, name, improvement) for code, name in MOOD
      for improvement in (True, False)),
    LIFE_DOMAIN_CHANGE,
    GOALS_AT_EXPECTED,
    GAS_T_MEDIAN,
    *(_band_figure(*band) for band in GAS_BANDS),
    RATINGS_AGREE,
    RATINGS_WITHIN_ONE,
]
