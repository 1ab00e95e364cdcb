"""Accessible, server-side SVG charts: a score trajectory over time and a radar (star) chart.

Standard library only (no Django), so the charts can be tested in isolation. The output suits
a strict Content-Security-Policy: no style attributes, no <style> elements and no script, only
presentation attributes and class names. All text goes through html.escape. Each chart has
role="img" and is labelled by its own <title> and <desc> (ids made unique by `id_prefix`); the
page shows the same data as a table, so the SVG does not need to be navigable. Coordinates are
rounded to one decimal place so that the output is stable.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

SVG_NS = "http://www.w3.org/2000/svg"
# Ink, accent and muted text all meet WCAG AA (>= 4.5:1) on white and on every band fill.
INK, ACCENT, MUTED, GRID = "#1d2a33", "#1f5f5b", "#4d5d68", "#c5ced4"
BAND_FILLS = ("#e9f1ed", "#f0f3e2", "#fbf0d9", "#fbe5d8", "#f8dcdc")  # level 0 best .. 4 worst
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DATE_LABEL_WIDTH = 70.0  # generous estimate for "30 Sep 2026" at font-size 11
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class BandArea:
    """A horizontal band shaded behind a trajectory."""

    low: float
    high: float
    label: str
    level: int  # 0 best .. 4 worst


@dataclass(frozen=True)
class Point:
    when: datetime.date
    value: float
    label: str = ""  # e.g. "12 (moderate)"


@dataclass(frozen=True)
class Series:
    label: str  # e.g. "3 Mar 2026"
    values: list[float | None]  # one per axis, None = not answered
    latest: bool = False  # drawn strongest; earlier series are fainter


def fmt_date(day: datetime.date) -> str:
    """'3 Mar 2026', independent of the locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def esc(text: str) -> str:
    """html.escape, with characters that XML forbids (control codes) replaced by U+FFFD."""
    return escape(NOT_XML.sub("\ufffd", text))


def num(x: float) -> str:
    """A coordinate rounded to one decimal place, without a trailing '.0' or a '-0'."""
    text = f"{round(x, 1) + 0.0:.1f}"
    return text[:-2] if text.endswith(".0") else text


def tag(name: str, body: str = "", **attrs: object) -> str:
    """An element; `class_` -> class, `stroke_width` -> stroke-width; floats are rounded."""
    parts = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(num(v) if isinstance(v, float) else str(v))}"'
        for k, v in attrs.items() if v is not None
    )
    return f"<{name}{parts}>{body}</{name}>" if body else f"<{name}{parts}/>"


def points_attr(coords: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in coords)


def svg_document(id_prefix: str, width: float, height: float, title: str, desc: str,
                 cls: str, body: str) -> str:
    pid = re.sub(r"[^A-Za-z0-9_-]", "-", id_prefix) or "chart"
    labelled_by = f"{pid}-title {pid}-desc" if desc else f"{pid}-title"
    head = tag("title", esc(title), id=f"{pid}-title")
    if desc:
        head += tag("desc", esc(desc), id=f"{pid}-desc")
    return (f'<svg xmlns="{SVG_NS}" viewBox="0 0 {num(width)} {num(height)}" '
            f'width="{num(width)}" height="{num(height)}" role="img" '
            f'aria-labelledby="{labelled_by}" class="{esc(cls)}" '
            f'font-family="system-ui, sans-serif">{head}{body}</svg>')


def y_ticks(low: float, high: float) -> list[int]:
    """Whole-number ticks at a 1/2/5 x 10^k step giving at most six labels."""
    step = 1
    while (high - low) / step > 5:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2  # 1, 2, 5, 10, 20, 50...
    return list(range(math.ceil(low / step) * step, math.floor(high) + 1, step))


def trajectory_svg(points: list[Point], *, y_min: float, y_max: float,
                   bands: Sequence[BandArea] = (), title: str, description: str = "",
                   higher_is: str = "worse", id_prefix: str = "chart", width: int = 640,
                   height: int = 240) -> str:
    """Scores over time, over shaded severity bands; returns an SVG string."""
    if not (math.isfinite(y_min) and math.isfinite(y_max) and y_min < y_max):
        raise ValueError("y_min and y_max must be finite with y_min < y_max")
    direction = "better" if higher_is == "better" else "worse"
    desc = f"{description} Higher scores are {direction}.".strip()
    if not points:
        body = tag("text", "No results yet", x=width / 2, y=28, text_anchor="middle",
                   font_size=14, fill=MUTED)
        return svg_document(id_prefix, width, 44, title, desc, "chart chart-empty", body)

    left, right, top, bottom = 44.0, width - 16.0, 12.0, height - 30.0
    pts = sorted(points, key=lambda p: p.when)
    first, last = pts[0].when, pts[-1].when
    days = (last - first).days

    def x_of(day: datetime.date) -> float:
        if days == 0:
            return (left + right) / 2
        return left + (day - first).days / days * (right - left)

    def y_of(value: float) -> float:
        value = y_min if math.isnan(value) else min(max(value, y_min), y_max)
        return bottom - (value - y_min) / (y_max - y_min) * (bottom - top)

    out = []
    for band in bands:
        y1, y2 = y_of(max(band.low, band.high)), y_of(min(band.low, band.high))
        level = min(max(band.level, 0), 4)
        out.append(tag("rect", tag("title", esc(band.label)), x=left, y=y1, width=right - left,
                       height=y2 - y1, fill=BAND_FILLS[level], class_=f"band band-{level}"))
        if y2 - y1 >= 10:  # too thin a band gets no label (its rect still has a tooltip)
            out.append(tag("text", esc(band.label), x=right - 4, y=(y1 + y2) / 2,
                           text_anchor="end", dominant_baseline="middle", font_size=10,
                           fill=MUTED, class_="band-label"))
    for tick in y_ticks(y_min, y_max):
        out.append(tag("line", x1=left, x2=right, y1=y_of(tick), y2=y_of(tick), stroke=GRID,
                       stroke_width=1, opacity=0.8))
        out.append(tag("text", str(tick), x=left - 6, y=y_of(tick), text_anchor="end",
                       dominant_baseline="middle", font_size=11, fill=MUTED))
    out.append(tag("line", x1=left, x2=right, y1=bottom, y2=bottom, stroke=MUTED, stroke_width=1))

    def extent(x: float, anchor: str) -> tuple[float, float]:
        start = {"start": x, "end": x - DATE_LABEL_WIDTH}.get(anchor, x - DATE_LABEL_WIDTH / 2)
        return start, start + DATE_LABEL_WIDTH

    labels = [(first, "start"), (last, "end")] if days else [(first, "middle")]
    taken = [extent(x_of(day), anchor) for day, anchor in labels]
    middle = sorted({p.when for p in pts} - {first, last})
    if len(middle) > 4:
        middle = sorted({middle[round(k * (len(middle) - 1) / 3)] for k in range(4)})
    for day in middle:
        a, b = extent(x_of(day), "middle")
        if all(b + 6 <= lo or a - 6 >= hi for lo, hi in taken):
            taken.append((a, b))
            labels.append((day, "middle"))
    for day, anchor in labels:
        out.append(tag("text", fmt_date(day), x=x_of(day), y=bottom + 18, text_anchor=anchor,
                       font_size=11, fill=MUTED, class_="date-label"))

    coords = [(x_of(p.when), y_of(p.value)) for p in pts]
    if len(coords) > 1:
        out.append(tag("polyline", points=points_attr(coords), fill="none", stroke=ACCENT,
                       stroke_width=2, stroke_linejoin="round", class_="trajectory"))
    for p, (x, y) in zip(pts, coords, strict=True):
        tip = f"{fmt_date(p.when)}: {p.label or format(p.value, 'g')}"
        out.append(tag("circle", tag("title", esc(tip)), cx=x, cy=y, r=4, fill=ACCENT,
                       stroke="#ffffff", stroke_width=1.5, class_="point"))
    return svg_document(id_prefix, width, height, title, desc, "chart chart-trajectory",
                        "".join(out))


def radar_svg(axes: list[str], series: list[Series], *, max_value: float = 10, title: str,
              description: str = "", id_prefix: str = "radar", size: int = 420) -> str:
    """A star chart, one spoke per axis clockwise from the top; returns an SVG string."""
    n = len(axes)
    if n < 3:
        raise ValueError("a radar chart needs at least 3 axes")
    if not (math.isfinite(max_value) and max_value > 0):
        raise ValueError("max_value must be a positive number")
    if any(len(s.values) != n for s in series):
        raise ValueError("every series needs one value per axis")
    radius = size / 2 - 34
    label_gap, label_width = 12, max(len(a) for a in axes) * 7.0
    cx, cy = max(size / 2, radius + label_gap + label_width + 8), size / 2
    view_w, view_h = 2 * cx, size + (20 * len(series) + 8 if series else 0)

    def unit(i: int) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        return math.cos(angle), math.sin(angle)

    def at(i: int, r: float) -> tuple[float, float]:
        dx, dy = unit(i)
        return cx + r * dx, cy + r * dy

    out = []
    for k in range(1, 5):  # the 0% ring is the centre itself
        out.append(tag("circle", cx=cx, cy=cy, r=radius * k / 4, fill="none", stroke=GRID,
                       stroke_width=1, class_="ring"))
        out.append(tag("text", format(max_value * k / 4, "g"), x=cx + 3,
                       y=cy - radius * k / 4 - 2, font_size=9, fill=MUTED, class_="ring-label"))
    for i, axis in enumerate(axes):
        x, y = at(i, radius)
        out.append(tag("line", x1=cx, y1=cy, x2=x, y2=y, stroke=GRID, stroke_width=1,
                       class_="spoke"))
        dx, dy = unit(i)
        anchor = "start" if dx > 0.1 else "end" if dx < -0.1 else "middle"
        baseline = "hanging" if dy > 0.3 else "auto" if dy < -0.3 else "middle"
        lx, ly = at(i, radius + label_gap)
        out.append(tag("text", esc(axis), x=lx, y=ly, text_anchor=anchor,
                       dominant_baseline=baseline, font_size=12, fill=INK, class_="axis-label"))

    def strokes(s: Series) -> dict[str, object]:
        if s.latest:
            return {"stroke": ACCENT, "stroke_width": 2.5}
        return {"stroke": MUTED, "stroke_width": 1.5, "stroke_dasharray": "4 3", "opacity": 0.7}

    for s in sorted(series, key=lambda s: s.latest):  # latest drawn last, on top
        values = [0.0 if v is None or math.isnan(v) else min(max(v, 0.0), max_value)
                  for v in s.values]
        coords = [at(i, radius * v / max_value) for i, v in enumerate(values)]
        fill = {"fill": ACCENT, "fill_opacity": "0.15"} if s.latest else {"fill": "none"}
        out.append(tag("polygon", points=points_attr(coords), stroke_linejoin="round",
                       class_="series series-latest" if s.latest else "series", **fill,
                       **strokes(s)))
        for axis, raw, (x, y) in zip(axes, s.values, coords, strict=True):
            if raw is None:
                tip = f"{axis}: not answered ({s.label})"
                out.append(tag("circle", tag("title", esc(tip)), cx=x, cy=y, r=3.5,
                               fill="#ffffff", stroke=ACCENT if s.latest else MUTED,
                               stroke_width=1.5, class_="unanswered"))
            elif s.latest:
                tip = f"{axis}: {format(raw, 'g')} ({s.label})"
                out.append(tag("circle", tag("title", esc(tip)), cx=x, cy=y, r=3,
                               fill=ACCENT, class_="value"))
    for j, s in enumerate(series):
        y = size + 10 + 20 * j
        out.append(tag("line", x1=16, x2=40, y1=y, y2=y, class_="legend-key", **strokes(s)))
        text = f"{s.label} (latest)" if s.latest else s.label
        out.append(tag("text", esc(text), x=48, y=y, dominant_baseline="middle", font_size=12,
                       fill=INK, class_="legend-label"))
    return svg_document(id_prefix, view_w, view_h, title, description, "chart chart-radar",
                        "".join(out))


def bars_svg(axes: list[str], series: list[Series], *, max_value: float = 10, title: str,
             description: str = "", id_prefix: str = "bars", width: int = 420) -> str:
    """Horizontal bars, one group per axis and one bar per series (latest strongest); for
    sets too small for a star chart. Returns an SVG string."""
    if not (math.isfinite(max_value) and max_value > 0):
        raise ValueError("max_value must be a positive number")
    if any(len(s.values) != len(axes) for s in series):
        raise ValueError("every series needs one value per axis")
    label_width = max((len(a) for a in axes), default=0) * 7.0 + 12
    left, right, bar, gap = label_width, width - 16.0, 12.0, 14.0
    group = bar * max(len(series), 1) + gap
    top = 8.0
    out = []
    for i, axis in enumerate(axes):
        y0 = top + i * group
        out.append(tag("text", esc(axis), x=left - 8, y=y0 + bar * max(len(series), 1) / 2,
                       text_anchor="end", dominant_baseline="middle", font_size=12, fill=INK,
                       class_="axis-label"))
        for j, s in enumerate(series):
            raw = s.values[i]
            y = y0 + j * bar
            if raw is None or math.isnan(raw):
                out.append(tag("text", tag("title", esc(f"{axis}: not answered ({s.label})"))
                               + "not answered", x=left + 4, y=y + bar / 2, font_size=10,
                               dominant_baseline="middle", fill=MUTED, class_="unanswered"))
                continue
            value = min(max(raw, 0.0), max_value)
            tip = f"{axis}: {format(raw, 'g')} ({s.label})"
            out.append(tag("rect", tag("title", esc(tip)), x=left, y=y + 1,
                           width=(right - left) * value / max_value, height=bar - 2,
                           fill=ACCENT if s.latest else GRID,
                           class_="series series-latest" if s.latest else "series"))
    height = top + group * len(axes)
    out.append(tag("line", x1=left, x2=left, y1=top, y2=height - gap, stroke=MUTED,
                   stroke_width=1, class_="axis"))
    for j, s in enumerate(series):
        y = height + 10 + 20 * j
        out.append(tag("rect", x=16, y=y - 5, width=24, height=10,
                       fill=ACCENT if s.latest else GRID, class_="legend-key"))
        text = f"{s.label} (latest)" if s.latest else s.label
        out.append(tag("text", esc(text), x=48, y=y, dominant_baseline="middle", font_size=12,
                       fill=INK, class_="legend-label"))
    return svg_document(id_prefix, width, height + 20 * len(series) + 8, title, description,
                        "chart chart-bars", "".join(out))


def areas_svg(axes: list[str], series: list[Series], *, max_value: float = 10, title: str,
              description: str = "", id_prefix: str = "radar") -> str:
    """A star chart of ratings by area of life, or bars when there are fewer than three
    areas (a star needs three spokes): a service's small set never breaks a page."""
    if len(axes) >= 3:
        return radar_svg(axes, series, max_value=max_value, title=title,
                         description=description, id_prefix=id_prefix)
    return bars_svg(axes, series, max_value=max_value, title=title, description=description,
                    id_prefix=id_prefix)


# The dose chart's own colours: the range shading and the days-of-use bars (the bars meet
# WCAG 1.4.11's 3:1 for graphics on white and on the range shading).
RANGE_FILL, USE_FILL = "#e3efe9", "#8a5a12"
USE_DAYS_MAX = 28  # check-ups ask about the 28 days before them


def dose_svg(steps: Sequence[tuple[datetime.date, float]], *, start: datetime.date,
             end: datetime.date, today: datetime.date,
             planned: Sequence[tuple[datetime.date, float]] = (),
             use_days: Sequence[tuple[datetime.date, float]] = (),
             safe_range: tuple[float, float] | None = None, title: str, desc: str = "",
             id_prefix: str = "dose", unit: str = "mg", width: int = 640,
             height: int = 260) -> str:
    """A dose over time as a step chart: each dose in `steps` (day, dose) holds, as a
    horizontal line, until the next change; after `today` the line is dashed and follows the
    `planned` steps (a reduction's schedule) to `end`. `safe_range` (lowest, highest) is
    shaded behind it. `use_days` (day, days of use out of 28, from check-ups) are small bars
    on a second axis, 0 to 28 on the right. Returns an SVG string."""
    if end < start:
        raise ValueError("end must not be before start")
    values = [v for _d, v in (*steps, *planned)] + list(safe_range or ())
    if not all(math.isfinite(v) for v in values) or not all(
            math.isfinite(u) for _d, u in use_days):
        raise ValueError("doses and days of use must be finite numbers")
    if not steps and not planned:
        body = tag("text", "No doses yet", x=width / 2, y=28, text_anchor="middle",
                   font_size=14, fill=MUTED)
        return svg_document(id_prefix, width, 44, title, desc, "chart chart-empty", body)

    left, top, bottom = 48.0, 26.0, height - 30.0
    right = width - (44.0 if use_days else 16.0)
    span = max((end - start).days, 1)
    y_max = max([*values, 0.0]) * 1.1 or 1.0

    def x_of(day: datetime.date) -> float:
        days = min(max((day - start).days, 0), span)
        return left + days / span * (right - left)

    def y_of(value: float) -> float:
        return bottom - min(max(value, 0.0), y_max) / y_max * (bottom - top)

    def words(value: float) -> str:
        return f"{format(value, 'g')} {unit}"

    out = []
    shown: set[str] = set()
    if safe_range is not None:
        low, high = sorted(safe_range)
        tip = f"Safe range: {words(low)} to {words(high)}"
        out.append(tag("rect", tag("title", esc(tip)), x=left, y=y_of(high), width=right - left,
                       height=max(y_of(low) - y_of(high), 1.0), fill=RANGE_FILL,
                       class_="safe-range"))
        shown.add("range")
    ticks = y_ticks(0, y_max)
    for t in ticks:
        out.append(tag("line", x1=left, x2=right, y1=y_of(t), y2=y_of(t), stroke=GRID,
                       stroke_width=1, opacity=0.8))
        out.append(tag("text", str(t), x=left - 6, y=y_of(t), text_anchor="end",
                       dominant_baseline="middle", font_size=11, fill=MUTED))
    out.append(tag("text", esc(unit), x=left - 6, y=12, text_anchor="end", font_size=10,
                   fill=MUTED, class_="axis-unit"))
    out.append(tag("line", x1=left, x2=right, y1=bottom, y2=bottom, stroke=MUTED,
                   stroke_width=1))

    if use_days:
        def y_use(days: float) -> float:
            return bottom - min(max(days, 0.0), USE_DAYS_MAX) / USE_DAYS_MAX * (bottom - top)

        for t in (0, 7, 14, 21, 28):
            out.append(tag("text", str(t), x=right + 6, y=y_use(t), dominant_baseline="middle",
                           font_size=11, fill=MUTED, class_="use-tick"))
        out.append(tag("text", "days", x=right + 6, y=12, font_size=10, fill=MUTED,
                       class_="axis-unit"))
        for day, days in sorted(use_days):
            if not start <= day <= end:
                continue
            tip = f"{fmt_date(day)}: used on {format(days, 'g')} of the 28 days before"
            x = x_of(day)
            out.append(tag("rect", tag("title", esc(tip)), x=x - 3, y=y_use(days), width=6,
                           height=max(bottom - y_use(days), 1.0), fill=USE_FILL,
                           class_="use-days"))
        shown.add("use")

    held = sorted(steps)
    now = min(max(today, start), end)
    # The dose in force at the chart's start, then each change inside the window.
    before = [s for s in held if s[0] <= start]
    inside_ = [s for s in held if start < s[0] <= end]
    path: list[tuple[float, float]] = []
    current = before[-1][1] if before else None
    if current is not None:
        path.append((x_of(start), y_of(current)))
    for day, dose in inside_:
        if current is not None:
            path.append((x_of(day), y_of(current)))
        path.append((x_of(day), y_of(dose)))
        current = dose
    last_day = inside_[-1][0] if inside_ else start
    solid_end = max(now, min(last_day, end))
    if path:
        path.append((x_of(solid_end), path[-1][1]))
        out.append(tag("polyline", points=points_attr(path), fill="none", stroke=ACCENT,
                       stroke_width=2.5, stroke_linejoin="round", class_="dose-line"))
        shown.add("dose")
    future = [(d, v) for d, v in sorted(planned) if d > solid_end and d <= end]
    if (future or end > solid_end) and current is not None:
        ahead = [(x_of(solid_end), y_of(current))]
        level = current
        for day, dose in future:
            ahead += [(x_of(day), y_of(level)), (x_of(day), y_of(dose))]
            level = dose
        ahead.append((x_of(end), y_of(level)))
        out.append(tag("polyline", points=points_attr(ahead), fill="none", stroke=ACCENT,
                       stroke_width=2, stroke_dasharray="6 4", stroke_linejoin="round",
                       class_="dose-planned"))
        if future:
            shown.add("planned")
    if start <= today <= end:
        out.append(tag("line", x1=x_of(today), x2=x_of(today), y1=top, y2=bottom, stroke=MUTED,
                       stroke_width=1, stroke_dasharray="2 3", class_="today"))
    for day, dose in inside_ + before[-1:]:
        tip = f"{fmt_date(day)}: {words(dose)}"
        out.append(tag("circle", tag("title", esc(tip)), cx=x_of(max(day, start)),
                       cy=y_of(dose), r=4, fill=ACCENT, stroke="#ffffff", stroke_width=1.5,
                       class_="dose-point"))
    for day, dose in future:
        tip = f"{fmt_date(day)}: {words(dose)} (planned)"
        out.append(tag("circle", tag("title", esc(tip)), cx=x_of(day), cy=y_of(dose), r=4,
                       fill="#ffffff", stroke=ACCENT, stroke_width=2, class_="dose-point-planned"))

    # Dates: the start and the end, and today between them where it fits.
    labels = [(start, "start", fmt_date(start))]
    if end != start:
        labels.append((end, "end", fmt_date(end)))
    if start < today < end:
        a = x_of(today) - DATE_LABEL_WIDTH / 2
        if a - 6 >= left + DATE_LABEL_WIDTH and a + DATE_LABEL_WIDTH + 6 <= right - \
                DATE_LABEL_WIDTH:
            labels.append((today, "middle", "Today"))
    for day, anchor, text in labels:
        out.append(tag("text", esc(text), x=x_of(day), y=bottom + 18, text_anchor=anchor,
                       font_size=11, fill=MUTED, class_="date-label"))

    legend = [(key, text) for key, text in (
        ("dose", f"Dose ({unit})"), ("planned", "Planned"), ("range", "Safe range"),
        ("use", "Days used, of the 28 before a check-up")) if key in shown]
    y = height + 6
    x = left
    for key, text in legend:
        needed = 30 + len(text) * 6.2
        if x > left and x + needed > width:
            x, y = left, y + 18
        if key == "dose":
            out.append(tag("line", x1=x, x2=x + 24, y1=y, y2=y, stroke=ACCENT, stroke_width=2.5,
                           class_="legend-key"))
        elif key == "planned":
            out.append(tag("line", x1=x, x2=x + 24, y1=y, y2=y, stroke=ACCENT, stroke_width=2,
                           stroke_dasharray="6 4", class_="legend-key"))
        else:
            out.append(tag("rect", x=x, y=y - 5, width=24, height=10,
                           fill=RANGE_FILL if key == "range" else USE_FILL,
                           class_="legend-key"))
        out.append(tag("text", esc(text), x=x + 30, y=y, dominant_baseline="middle",
                       font_size=11, fill=INK, class_="legend-label"))
        x += needed + 16
    total = y + 12 if legend else height
    return svg_document(id_prefix, width, total, title, desc, "chart chart-dose", "".join(out))
