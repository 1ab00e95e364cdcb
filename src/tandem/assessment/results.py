"""What a patient's check-ups show: per questionnaire, the scores over time as a chart and a
table, reliable change between check-ups, the life-domain star chart and the substance-by-week
profile. Reads only; the pictures come from the pure core (core/charts.py, core/rci.py)."""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

from django.utils.safestring import mark_safe

from tandem.assessment import registry
from tandem.assessment.models import CrisisContact, Response, ResponseStatus
from tandem.assessment.schedules import checkup_status, is_due
from tandem.core import charts
from tandem.core.instruments import Instrument, Scale
from tandem.core.rci import Change, reliable_change, threshold
from tandem.core.scoring import SEXES, band_for, bands_for

LIFE_DOMAINS = registry.LIFE_DOMAINS
TOP = "top"
TOP_SUBSTANCES = ["alcohol", "opioids", "crack", "cocaine", "amphetamines", "cannabis", "other",
                  "tobacco", "inject"]


def crisis_contacts(organisation) -> list[dict]:
    own = list(CrisisContact.objects.of(organisation).values(
        "name", "phone", "text", "hours", "description"))
    return own or registry.default_crisis_contacts()


def due_context(patient) -> dict:
    """Template context for the check-up box (assessment/checkup_due.html)."""
    statuses = checkup_status(patient)
    return {"statuses": statuses, "checkup_due": is_due(statuses),
            # the check-up the patient has started and not sent (portal: "Carry on")
            "open_checkup": patient.checkups.filter(completed_at__isnull=True).first(),
            "has_drafts": any(s.draft for s in statuses if s.instrument)}


def completed(patient, code: str | None = None):
    qs = patient.responses.filter(status=ResponseStatus.COMPLETED)
    if code:
        qs = qs.filter(instrument_code=code)
    return qs.order_by("completed_at")


def history_rows(patient, limit: int | None = None) -> list[Response]:
    """Completed check-ups, newest first, each with its instrument's short name."""
    available = registry.available(patient.organisation)
    rows = list(completed(patient).order_by("-completed_at")[:limit])
    for row in rows:
        ins = available.get(row.instrument_code)
        row.instrument_name = ins.name if ins else row.instrument_code
    return rows


def change_between(scale: Scale, before: float | None, after: float | None) -> Change | None:
    rc = scale.reliable_change
    if rc is None or before is None or after is None:
        return None
    return reliable_change(before, after, sd=rc.sd, reliability=rc.reliability,
                           higher_is=scale.higher_is)


# How a score moved from one check-up to another, as a code each page words in its own way.
IMPROVED, WORSE, SAME = "improved", "worse", "same"
_CODES = {"reliably improved": IMPROVED, "reliably worse": WORSE, "no reliable change": SAME}


@dataclass(frozen=True)
class Movement:
    """How a score moved between two check-ups.

    `code` is IMPROVED, WORSE or SAME. Where the scale has reliable-change figures (Jacobson &
    Truax 1991, core/rci.py), the reliable change decides: `reliable` is True for a reliable
    improvement or worsening and False for SAME (a change smaller than reliable); `change`
    has the index. Without figures, `reliable` is None and the code only follows the sign of
    the difference and which way is better for the scale."""

    code: str
    reliable: bool | None
    change: Change | None = None


def movement(scale: Scale, before: float | None, after: float | None) -> Movement | None:
    """The Movement from `before` to `after`; None if either score is missing."""
    if before is None or after is None:
        return None
    change = change_between(scale, before, after)
    if change is not None:
        code = _CODES[change.label]
        return Movement(code, code != SAME, change)
    if after == before:
        return Movement(SAME, None)
    better = after < before if scale.higher_is == "worse" else after > before
    return Movement(IMPROVED if better else WORSE, None)


@dataclass(frozen=True)
class LatestChanges:
    """The latest score of a scale, the one before and the first, and how it moved since
    each. Rows are dicts with at least "value" and "date" (ScaleTrack.rows, or any rows the
    caller has), oldest first; rows without a score are skipped."""

    latest: dict
    previous: dict | None
    first: dict
    since_last: Movement | None  # None for a first check-up
    since_first: Movement | None  # None for a first check-up; the same as since_last for two
    scored: int  # how many check-ups have a score


def latest_changes(scale: Scale, rows: list[dict]) -> LatestChanges | None:
    """The one way every page works out "the latest score and what changed since last time"
    (the portal home, the feedback report, the staff summary); None with no score at all."""
    scored = [row for row in rows if row.get("value") is not None]
    if not scored:
        return None
    latest, first = scored[-1], scored[0]
    previous = scored[-2] if len(scored) > 1 else None
    since_last = movement(scale, previous["value"], latest["value"]) if previous else None
    since_first = movement(scale, first["value"], latest["value"]) if previous else None
    return LatestChanges(latest, previous, first, since_last, since_first, len(scored))


@dataclass
class ScaleTrack:
    scale: Scale
    rows: list[dict]  # date, value, band, change from the previous check-up
    overall: Change | None  # first to latest
    chart: str
    # The bands differ by sex and it is not recorded: the lower threshold was used.
    sex_not_recorded: bool = False

    @property
    def reliable_points(self) -> str:
        """The smallest change that counts as reliable, in points (e.g. "6")."""
        rc = self.scale.reliable_change
        if rc is None:
            return ""
        points = threshold(rc.sd, rc.reliability)
        return str(math.ceil(points - 1e-9)) if self.scale.method == "sum" else f"{points:.1f}"

    @property
    def latest(self):
        return self.rows[-1] if self.rows else None

    @property
    def changes(self) -> LatestChanges | None:
        """The latest score, the one before, the first, and how it moved since each."""
        return latest_changes(self.scale, self.rows)


@dataclass
class InstrumentResults:
    instrument: Instrument
    responses: list[Response]
    tracks: list[ScaleTrack]
    radar: str = ""
    radar_rows: list[dict] = field(default_factory=list)
    radar_dates: list[datetime.date] = field(default_factory=list)
    profile: dict | None = None


def _date(response: Response) -> datetime.date:
    return response.completed_on


def track(instrument: Instrument, scale: Scale, responses: list[Response],
          prefix: str, chart: bool = True, sex: str = "") -> ScaleTrack:
    rows, previous = [], None
    unknown_sex = scale.sex_bands is not None and sex not in SEXES
    for r in responses:
        value = r.scores.get(scale.code)
        band = _band_label(scale, value, sex)
        rows.append({"date": _date(r), "value": value, "band": band, "mode": r.get_mode_display(),
                     "change": change_between(scale, previous, value), "response": r})
        if value is not None:
            previous = value
    values = [row["value"] for row in rows if row["value"] is not None]
    overall = change_between(scale, values[0], values[-1]) if len(values) > 1 else None
    if not chart:
        return ScaleTrack(scale, rows, overall, "", unknown_sex)
    points = [charts.Point(row["date"], row["value"],
                           f"{row['value']:g}" + (f" ({row['band']})" if row["band"] else ""))
              for row in rows if row["value"] is not None]
    bands = [charts.BandArea(b.min, b.max, b.label, b.level) for b in bands_for(scale, sex)]
    low, high = scale.range
    better = "Lower is better." if scale.higher_is == "worse" else "Higher is better."
    svg = charts.trajectory_svg(
        points, y_min=low, y_max=high, bands=bands, higher_is=scale.higher_is,
        title=f"{instrument.name}: {scale.title} over time",
        description=f"{len(points)} check-ups. {better} The table beside the chart has the "
        "same figures.",
        id_prefix=prefix,
    )
    return ScaleTrack(scale, rows, overall, mark_safe(svg),  # noqa: S308 - built by core.charts, all text escaped
                      unknown_sex)


def _band_label(scale: Scale, value, sex: str = "") -> str:
    band = band_for(scale, value, sex)
    return band.label if band else ""


def results_for(patient) -> list[InstrumentResults]:
    """Every questionnaire this patient has completed, in the order of the service's list."""
    available = registry.available(patient.organisation)
    by_code: dict[str, list[Response]] = {}
    for r in completed(patient):
        by_code.setdefault(r.instrument_code, []).append(r)
    found = []
    for code, responses in by_code.items():
        instrument = available.get(code)
        if instrument is None:
            continue
        if code == LIFE_DOMAINS:
            scales = [instrument.primary]
        elif code == TOP:
            scales = [s for s in instrument.scales if s.higher_is == "better"]
        else:
            scales = [instrument.primary, *[s for s in instrument.scales
                                            if s.reliable_change and not s.primary]]
        tracks = [track(instrument, s, responses, f"{code}-{s.code}",
                        sex=patient.sex_for_thresholds) for s in scales]
        result = InstrumentResults(instrument, responses, tracks)
        if code == LIFE_DOMAINS:
            _add_radar(result)
        if code == TOP:
            result.profile = top_profile(instrument, responses)
        found.append(result)
    order = {code: n for n, code in enumerate(available)}
    return sorted(found, key=lambda r: order.get(r.instrument.code, 99))


def _add_radar(result: InstrumentResults, keep: int = 4) -> None:
    ins = result.instrument
    domain_scales = [s for s in ins.scales if not s.primary]
    recent = result.responses[-keep:]
    series = [
        charts.Series(charts.fmt_date(_date(r)), [r.answers.get(s.items[0]) for s in domain_scales],
                      latest=(n == len(recent) - 1))
        for n, r in enumerate(recent)
    ]
    result.radar = mark_safe(charts.areas_svg(  # noqa: S308 - built by core.charts, escaped
        [s.title for s in domain_scales], series, max_value=10,
        title="How things are in each area of life",
        description="Ratings from 0 (very bad) to 10 (very good); the latest check-up is the "
        "solid shape, earlier ones are dashed. The table below has the same figures.",
        id_prefix="radar",
    ))
    result.radar_dates = [_date(r) for r in recent]
    result.radar_rows = [
        {"label": s.title, "values": [r.answers.get(s.items[0]) for r in recent]}
        for s in domain_scales
    ]


def top_profile(instrument: Instrument, responses: list[Response]) -> dict:
    """Days used in each week of the 28 days before each check-up, substance by substance.

    Week 1 is the most recent week before the check-up; columns run oldest to newest."""
    weeks = []  # (week ending, response)
    for r in responses:
        end = _date(r)
        for w in (4, 3, 2, 1):
            weeks.append((end - datetime.timedelta(days=7 * (w - 1)), r, w))
    rows = []
    for substance in TOP_SUBSTANCES:
        ids = [f"{substance}_w{w}" for w in (1, 2, 3, 4)]
        if not all(i in instrument.items_by_id for i in ids):
            continue
        cells = [r.answers.get(f"{substance}_w{w}") for _end, r, w in weeks]
        if not any(cells):
            continue  # a substance never used in any check-up stays off the picture
        section = instrument.item(ids[0]).section
        label = _other_name(responses) if substance == "other" else section
        rows.append({"label": label or section, "cells": cells})
    return {"weeks": [end for end, _r, _w in weeks], "rows": rows}


def _other_name(responses: list[Response]) -> str:
    names = [r.answers.get("other_name") for r in responses if r.answers.get("other_name")]
    return f"Other: {names[-1]}" if names else ""
