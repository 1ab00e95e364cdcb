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
