"""Figures of the report's "harm" section: injecting and sharing injecting equipment at the
start of the episode against the latest profile, overdose-risk flags, and urgent flags seen the
same day.

Rules Tandem decides here (each one line in its figure's definition):

- **First and latest profile**: the completed (or amended) Treatment Outcomes Profiles of the
  patient's episode in the report, completed on or before the period's last day; the first is
  the earliest, the latest the last. Only patients with two or more (first and latest differ)
  count, so "at the start" and "latest" have the same denominator.
- **Injected**: days injected in the past 28 (TOP `inject_days`) more than 0. **Shared**: "yes"
  to injecting with a needle or syringe, or a spoon, water or filter, someone else had used.
- **Overdose risk**: the "return to use" and "missed doses" early-warning flags (tolerance may
  have fallen), raised in the period; flags entered in error never count.
- **The same day**: acknowledged on the local date (Europe/London) it was raised.
"""

from __future__ import annotations

from tandem.core.report import Definition, Kind
from tandem.reporting.figures.base import Figure, figure_of
from tandem.reporting.figures.flags import FLAGS
from tandem.reporting.figures.pairs import TOP_PAIRS

SECTION = "harm"

TOP_SOURCE = ("Treatment Outcomes Profile: days injected and needle or equipment sharing, past "
              "28 days (Marsden et al. 2008, Addiction 103(9):1450-60)")
WHO_TWO_PROFILES = ("Patients in treatment in the period with two or more outcomes profiles in "
                    "their episode by its last day")


def _profile_figure(key: str, label: str, met: str, dates: str, what: str) -> Figure:
    return figure_of(Definition(
        key=key, section=SECTION, label=label, kind=Kind.SHARE, who=WHO_TWO_PROFILES,
        dates=dates, source=f"{what}. {TOP_SOURCE}", drill=True, higher_is_better=False,
    ), TOP_PAIRS, met=met)


AT_START = "The first profile of the episode"
LATEST = "The latest profile of the episode on or before the period's last day"
INJECTED = "Injected on 1 or more of the 28 days before the profile"
SHARED = ("Used a needle or syringe, or a spoon, water or filter, someone else had used, in the "
          "28 days before the profile")

PROFILE_FIGURES = [
    _profile_figure("injecting-at-start", "Injecting at the start", "first_inject_days > 0",
                    AT_START, INJECTED),
    _profile_figure("injecting-latest", "Injecting at the latest profile",
                    "latest_inject_days > 0", LATEST, INJECTED),
    _profile_figure("sharing-at-start", "Sharing injecting equipment at the start",
                    "first_shared = 1", AT_START, SHARED),
    _profile_figure("sharing-latest", "Sharing injecting equipment at the latest profile",
                    "latest_shared = 1", LATEST, SHARED),
]


OVERDOSE_RISK_FLAGS = figure_of(Definition(
    key="overdose-risk-flags", section=SECTION, label="Overdose-risk flags", kind=Kind.COUNT,
    who="Patients in treatment in the period with a return-to-use or missed-doses flag",
    dates="Flags raised in the period (local dates); flags entered in error do not count",
    source="Early-warning flags: return to use, and missed doses of a substitute medicine (both "
           "mean tolerance may have fallen)",
    drill=True, higher_is_better=False,
), FLAGS, met="in_period = 1 AND overdose = 1")


# Urgent flags raised in the period, less those Tandem closed itself the same day before anyone
# acknowledged them (the reviews section's rule for flags on target: nothing was left to
# acknowledge).
URGENT_ACKNOWLEDGED_SAME_DAY = figure_of(Definition(
    key="urgent-acknowledged-same-day", section=SECTION,
    label="Urgent flags acknowledged the same day", kind=Kind.SHARE,
    who="Urgent flags (not patients) of patients in treatment, raised in the period; not those "
        "Tandem closed itself that day before anyone acknowledged them",
    dates="Acknowledged on the same local date it was raised",
    source="Early-warning flags and when staff acknowledged them; urgent means the same day",
    higher_is_better=True,
), FLAGS, among="in_period = 1 AND urgent = 1 AND closed_same_day = 0",
    met="acknowledged_same_day = 1")


FIGURES: list[Figure] = [*PROFILE_FIGURES, OVERDOSE_RISK_FLAGS, URGENT_ACKNOWLEDGED_SAME_DAY]
