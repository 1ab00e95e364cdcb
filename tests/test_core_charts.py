"""Tests for the pure SVG chart renderer (no database)."""

import datetime
import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.charts import BandArea, Point, Series, radar_svg, trajectory_svg

NS = "{http://www.w3.org/2000/svg}"
DAY = datetime.date(2026, 3, 3)
AXES = ["Drug use", "Alcohol use", "Physical health", "Psychological health", "Housing"]
PHQ9_BANDS = [BandArea(0, 5, "minimal", 0), BandArea(5, 10, "mild", 1),
              BandArea(10, 15, "moderate", 2), BandArea(15, 20, "moderately severe", 3),
              BandArea(20, 27, "severe", 4)]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises if not well-formed
    assert root.tag == f"{NS}svg"
    return root


def find(root, name, cls=None):
    found = root.iter(f"{NS}{name}")
    return [e for e in found if cls is None or cls in e.get("class", "").split()]


def view_box(root):
    x, y, w, h = map(float, root.get("viewBox").split())
    return x, y, x + w, y + h


def inside(root, x, y):
    x0, y0, x1, y1 = view_box(root)
    return x0 <= x <= x1 and y0 <= y <= y1


def assert_csp_safe(svg: str, root: ET.Element):
    assert not any("style" in e.attrib for e in root.iter())
    assert not find(root, "style") and not find(root, "script")
    assert "<script" not in svg and "javascript:" not in svg


def assert_labelled(root, title, prefix):
    assert root.get("role") == "img"
    labelled_by = root.get("aria-labelledby").split()
    title_el = root.find(f"{NS}title")
    assert title_el.text == title
    assert title_el.get("id") == f"{prefix}-title" == labelled_by[0]
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert set(labelled_by) <= ids


def weekly(values, label=True):
    return [Point(DAY + datetime.timedelta(days=7 * i), v, f"{v} (x)" if label else "")
            for i, v in enumerate(values)]


def test_trajectory_structure_and_accessibility():
    svg = trajectory_svg(weekly([22, 18, 15, 12, 9]), y_min=0, y_max=27, bands=PHQ9_BANDS,
                         title="PHQ-9", description="Depression scores.", id_prefix="phq9-1")
    root = parse(svg)
    assert_labelled(root, "PHQ-9", "phq9-1")
    assert_csp_safe(svg, root)
    desc = root.find(f"{NS}desc")
    assert desc.get("id") == "phq9-1-desc"
    assert "Depression scores." in desc.text and "worse" in desc.text
    circles = find(root, "circle")
    assert len(circles) == 5
    assert circles[0].find(f"{NS}title").text == "3 Mar 2026: 22 (x)"
    assert len(find(root, "polyline")) == 1
    dates = [t.text for t in find(root, "text", "date-label")]
    assert dates[:2] == ["3 Mar 2026", "31 Mar 2026"]
    assert len(dates) <= 6
    assert {t.text for t in find(root, "text", "band-label")} == {b.label for b in PHQ9_BANDS}


def test_higher_is_better_is_mentioned():
    root = parse(trajectory_svg(weekly([3, 5]), y_min=0, y_max=10, title="WEMWBS",
                                higher_is="better"))
    assert "better" in root.find(f"{NS}desc").text


def test_bands_have_one_rect_each_matching_the_limits():
    bands = [*PHQ9_BANDS, BandArea(0, 27, "whole range", 0)]
    svg = trajectory_svg(weekly([0, 27]), y_min=0, y_max=27, bands=bands, title="PHQ-9")
    root = parse(svg)
    rects = find(root, "rect", "band")
    assert len(rects) == len(bands)
    bottom_cy, top_cy = (float(c.get("cy")) for c in find(root, "circle"))
    per_unit = (bottom_cy - top_cy) / 27
    for band, rect in zip(bands, rects, strict=True):
        y, height = float(rect.get("y")), float(rect.get("height"))
        assert y == pytest.approx(bottom_cy - band.high * per_unit, abs=0.15)
        assert y + height == pytest.approx(bottom_cy - band.low * per_unit, abs=0.15)
        assert rect.find(f"{NS}title").text == band.label
    fills = [r.get("fill") for r in rects[:5]]
    assert len(set(fills)) == 5


def test_text_is_escaped():
    nasty = '<b>Score</b> & "more"'
    svg = trajectory_svg([Point(DAY, 4, "<i>4</i>")], y_min=0, y_max=10, title=nasty,
                         description="<script>x</script>", id_prefix='a"b',
                         bands=[BandArea(0, 5, "<low>", 0)])
    root = parse(svg)
    assert root.find(f"{NS}title").text == nasty
    assert find(root, "b") == [] and find(root, "i") == [] and find(root, "script") == []
    assert "<b>" not in svg and "<script>" not in svg
    assert find(root, "circle")[0].find(f"{NS}title").text == "3 Mar 2026: <i>4</i>"
    parse(trajectory_svg([Point(DAY, 1, "bell\x07")], y_min=0, y_max=5, title="nul\x00"))
    radar = radar_svg(["<a>", "b & c", "d"], [Series("<x>", [1, 2, 3], latest=True)], title=nasty)
    root = parse(radar)
    assert root.find(f"{NS}title").text == nasty
    assert [t.text for t in find(root, "text", "axis-label")] == ["<a>", "b & c", "d"]


def test_empty_points_say_no_results_yet():
    svg = trajectory_svg([], y_min=0, y_max=27, title="PHQ-9")
    root = parse(svg)
    assert_labelled(root, "PHQ-9", "chart")
    assert [t.text for t in find(root, "text")] == ["No results yet"]
    assert find(root, "circle") == []


def test_single_point_sits_in_the_middle():
    root = parse(trajectory_svg([Point(DAY, 5)], y_min=0, y_max=10, title="t"))
    x0, _, x1, _ = view_box(root)
    (circle,) = find(root, "circle")
    assert float(circle.get("cx")) == pytest.approx((x0 + x1) / 2, abs=20)
    assert find(root, "polyline") == []
    assert [t.text for t in find(root, "text", "date-label")] == ["3 Mar 2026"]


def test_x_is_proportional_to_time():
    points = [Point(DAY, 1), Point(DAY + datetime.timedelta(days=1), 2),
              Point(DAY + datetime.timedelta(days=10), 3)]
    xs = [float(c.get("cx")) for c in find(parse(trajectory_svg(
        points, y_min=0, y_max=5, title="t")), "circle")]
    assert (xs[1] - xs[0]) * 10 == pytest.approx(xs[2] - xs[0], abs=1)


def test_intermediate_date_labels_do_not_overlap():
    root = parse(trajectory_svg(weekly(range(40)), y_min=0, y_max=40, title="t"))
    labels = find(root, "text", "date-label")
    assert 2 < len(labels) <= 6
    xs = sorted(float(t.get("x")) for t in labels if t.get("text-anchor") == "middle")
    assert all(b - a >= 70 for a, b in zip(xs, xs[1:], strict=False))


def test_invalid_range_is_rejected():
    with pytest.raises(ValueError):
        trajectory_svg(weekly([1]), y_min=5, y_max=5, title="t")


dates = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2100, 12, 31))
values = st.floats(allow_nan=False, allow_infinity=True, min_value=None, max_value=None)
ranges = st.tuples(st.floats(-1e6, 1e6), st.floats(0.5, 1e6)).map(lambda t: (t[0], t[0] + t[1]))


@given(st.lists(st.builds(Point, st.one_of(dates, st.just(DAY)), values, st.text(max_size=8)),
                min_size=1, max_size=30), ranges)
def test_points_always_lie_inside_the_view_box(points, y_range):
    y_min, y_max = y_range
    svg = trajectory_svg(points, y_min=y_min, y_max=y_max, title="t",
                         bands=[BandArea(y_min - 5, y_max + 5, "all", 9)])
    root = parse(svg)
    circles = find(root, "circle")
    assert len(circles) == len(points)
    for c in circles:
        assert inside(root, float(c.get("cx")), float(c.get("cy")))
    for line in find(root, "polyline"):
        for pair in line.get("points").split():
            assert inside(root, *map(float, pair.split(",")))
    (rect,) = find(root, "rect", "band")
    assert inside(root, float(rect.get("x")), float(rect.get("y")))
    assert_csp_safe(svg, root)


def radar_example(**kwargs):
    series = [Series("3 Jan 2026", [3, 4, None, 5, 6]),
              Series("3 Feb 2026", [4, 5, 6, 7, 8]),
              Series("3 Mar 2026", [10, 7, 8, None, 9], latest=True)]
    return radar_svg(AXES, series, title="Outcomes star", id_prefix="star-7", **kwargs)


def test_radar_structure():
    svg = radar_example(description="Ten is best.")
    root = parse(svg)
    assert_labelled(root, "Outcomes star", "star-7")
    assert_csp_safe(svg, root)
    polygons = find(root, "polygon")
    assert len(polygons) == 3
    assert len(find(root, "polygon", "series-latest")) == 1
    assert all(p.get("stroke-dasharray") for p in polygons if "series-latest" not in p.get("class"))
    assert len(find(root, "line", "spoke")) == len(AXES)
    assert [t.text for t in find(root, "text", "axis-label")] == AXES
    assert len(find(root, "circle", "ring")) == 4
    assert len(find(root, "circle", "unanswered")) == 2
    legend = [t.text for t in find(root, "text", "legend-label")]
    assert legend == ["3 Jan 2026", "3 Feb 2026", "3 Mar 2026 (latest)"]


def test_radar_first_spoke_points_up_and_goes_clockwise():
    root = parse(radar_example())
    spokes = find(root, "line", "spoke")
    first, second = ({k: float(s.get(k)) for k in ("x1", "y1", "x2", "y2")} for s in spokes[:2])
    assert first["x2"] == pytest.approx(first["x1"]) and first["y2"] < first["y1"]
    assert second["x2"] > second["x1"]  # clockwise: the next spoke leans right


def test_radar_max_value_lands_on_outer_ring_and_labels_fit():
    root = parse(radar_example())
    outer = max(find(root, "circle", "ring"), key=lambda c: float(c.get("r")))
    cx, cy, r = (float(outer.get(k)) for k in ("cx", "cy", "r"))
    latest = find(root, "polygon", "series-latest")[0]
    x, y = map(float, latest.get("points").split()[0].split(","))  # first axis has value 10
    assert math.hypot(x - cx, y - cy) == pytest.approx(r, abs=0.2)
    x0, _, x1, _ = view_box(root)
    for label in find(root, "text", "axis-label"):
        lx, width = float(label.get("x")), 7 * len(label.text)
        start = {"start": lx, "end": lx - width}.get(label.get("text-anchor"), lx - width / 2)
        assert x0 <= start and start + width <= x1


def test_radar_unanswered_values_sit_at_the_centre():
    root = parse(radar_example())
    ring = find(root, "circle", "ring")[0]
    for marker in find(root, "circle", "unanswered"):
        assert marker.get("cx") == ring.get("cx") and marker.get("cy") == ring.get("cy")
        assert marker.get("fill") == "#ffffff"


def test_radar_rejects_too_few_axes_and_ragged_series():
    with pytest.raises(ValueError):
        radar_svg(["a", "b"], [Series("s", [1, 2])], title="t")
    with pytest.raises(ValueError):
        radar_svg(["a", "b", "c"], [Series("s", [1, 2])], title="t")


@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False)), min_size=3, max_size=12))
def test_radar_points_lie_inside_the_view_box(raw):
    axes = [f"Axis {i}" for i in range(len(raw))]
    root = parse(radar_svg(axes, [Series("now", raw, latest=True)], title="t"))
    (polygon,) = find(root, "polygon")
    for pair in polygon.get("points").split():
        assert inside(root, *map(float, pair.split(",")))
    assert len(find(root, "line", "spoke")) == len(raw)


# --- the dose chart (a step chart) ---------------------------------------------------------

from tandem.core.charts import dose_svg  # noqa: E402


def days(n):
    return DAY + datetime.timedelta(days=n)


def dose_example(**kwargs):
    args = {"start": DAY, "end": days(60), "today": days(30),
            "planned": [(days(40), 55.0), (days(50), 50.0)],
            "use_days": [(days(20), 12), (days(48), 28)], "safe_range": (20, 80),
            "title": "Methadone dose", "desc": "From 30 mg to 60 mg.", "id_prefix": "dose-1"}
    args.update(kwargs)
    steps = args.pop("steps", [(DAY, 30.0), (days(5), 40.0), (days(12), 60.0)])
    return dose_svg(steps, **args)


def polyline_points(line):
    return [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]


def test_dose_chart_structure_and_accessibility():
    svg = dose_example()
    root = parse(svg)
    assert_labelled(root, "Methadone dose", "dose-1")
    assert root.find(f"{NS}desc").text == "From 30 mg to 60 mg."
    assert_csp_safe(svg, root)
    (line,) = find(root, "polyline", "dose-line")
    assert line.get("stroke-dasharray") is None
    (ahead,) = find(root, "polyline", "dose-planned")
    assert ahead.get("stroke-dasharray")
    tips = [c.find(f"{NS}title").text for c in find(root, "circle", "dose-point")]
    assert sorted(tips) == sorted(["3 Mar 2026: 30 mg", "8 Mar 2026: 40 mg",
                                   "15 Mar 2026: 60 mg"])
    planned = [c.find(f"{NS}title").text for c in find(root, "circle", "dose-point-planned")]
    assert planned == ["12 Apr 2026: 55 mg (planned)", "22 Apr 2026: 50 mg (planned)"]
    legend = [t.text for t in find(root, "text", "legend-label")]
    assert legend == ["Dose (mg)", "Planned", "Safe range",
                      "Days used, of the 28 before a check-up"]


def test_dose_chart_is_a_step_line_each_dose_flat_until_the_next_change():
    root = parse(dose_example(planned=(), use_days=(), today=days(60)))
    (line,) = find(root, "polyline", "dose-line")
    pts = polyline_points(line)
    # Every segment is horizontal or vertical, alternately: a dose holds until it changes.
    for (x1, y1), (x2, y2) in zip(pts, pts[1:], strict=False):
        assert x1 == x2 or y1 == y2
    ys = [y for _x, y in pts]
    assert ys[0] == ys[1] and ys[0] > ys[-1]  # 30 mg first, lower on the page than 60 mg
    xs = [x for x, _y in pts]
    assert xs == sorted(xs)
    assert not find(root, "polyline", "dose-planned")  # nothing after today: no dashes


def test_dose_chart_x_is_proportional_to_time_and_spans_start_to_end():
    root = parse(dose_example(planned=(), use_days=(), today=days(60)))
    pts = polyline_points(find(root, "polyline", "dose-line")[0])
    left, right = pts[0][0], pts[-1][0]
    change_at_5 = pts[1][0]
    assert change_at_5 - left == pytest.approx((right - left) * 5 / 60, abs=0.2)


def test_dose_chart_dose_in_force_before_the_window_starts_at_the_left_edge():
    root = parse(dose_example(steps=[(days(-30), 45.0), (days(10), 50.0)], planned=(),
                              use_days=()))
    pts = polyline_points(find(root, "polyline", "dose-line")[0])
    assert pts[0][0] == 48  # the chart's left edge, at 45 mg
    tips = {c.find(f"{NS}title").text for c in find(root, "circle", "dose-point")}
    assert "1 Feb 2026: 45 mg" in tips


def test_dose_chart_shades_the_safe_range_around_doses_within_it():
    root = parse(dose_example())
    (rect,) = find(root, "rect", "safe-range")
    y1, y2 = float(rect.get("y")), float(rect.get("y")) + float(rect.get("height"))
    assert rect.find(f"{NS}title").text == "Safe range: 20 mg to 80 mg"
    for c in find(root, "circle", "dose-point"):
        assert y1 <= float(c.get("cy")) <= y2
    assert not find(parse(dose_example(safe_range=None)), "rect", "safe-range")


def test_dose_chart_days_of_use_are_bars_on_a_0_to_28_axis():
    root = parse(dose_example(use_days=[(days(10), 7), (days(20), 28), (days(30), 40),
                                        (days(90), 5)]))
    bars = find(root, "rect", "use-days")
    assert len(bars) == 3  # the one after the chart's end is left out
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] * 4 == pytest.approx(heights[1], abs=0.2)
    assert heights[2] == heights[1]  # more than 28 is drawn as 28
    assert bars[0].find(f"{NS}title").text == "13 Mar 2026: used on 7 of the 28 days before"
    ticks = [t.text for t in find(root, "text", "use-tick")]
    assert ticks == ["0", "7", "14", "21", "28"]
    assert not find(parse(dose_example(use_days=())), "text", "use-tick")


def test_dose_chart_today_is_marked():
    root = parse(dose_example())
    (today,) = find(root, "line", "today")
    (line,) = find(root, "polyline", "dose-line")
    assert polyline_points(line)[-1][0] == float(today.get("x1"))  # solid up to today
    assert "Today" in [t.text for t in find(root, "text", "date-label")]


def test_dose_chart_text_is_escaped_and_empty_says_so():
    svg = dose_svg([], start=DAY, end=days(1), today=DAY, title="<b>&", id_prefix="e")
    root = parse(svg)
    assert "No doses yet" in svg and root.find(f"{NS}title").text == "<b>&"


def test_dose_chart_rejects_an_end_before_its_start_and_numbers_that_are_not():
    with pytest.raises(ValueError):
        dose_example(end=days(-1))
    with pytest.raises(ValueError):
        dose_example(steps=[(DAY, math.nan)])
    with pytest.raises(ValueError):
        dose_example(use_days=[(DAY, math.inf)])


doses_st = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@given(st.lists(st.tuples(dates, doses_st), min_size=1, max_size=20),
       st.lists(st.tuples(dates, doses_st), max_size=10),
       st.lists(st.tuples(dates, st.floats(0, 100)), max_size=10), dates,
       st.integers(0, 4000), st.integers(-100, 5000))
def test_dose_chart_always_lies_inside_its_view_box(steps, planned, use, start, length, after):
    end = start + datetime.timedelta(days=length)
    today = start + datetime.timedelta(days=after)
    svg = dose_svg(steps, start=start, end=end, today=today, planned=planned, use_days=use,
                   safe_range=(10, 90), title="t", id_prefix="p")
    root = parse(svg)
    assert_csp_safe(svg, root)
    for c in find(root, "circle"):
        assert inside(root, float(c.get("cx")), float(c.get("cy")))
    for line in find(root, "polyline"):
        for x, y in polyline_points(line):
            assert inside(root, x, y)
    for r in find(root, "rect"):
        assert inside(root, float(r.get("x")), float(r.get("y")))
        assert inside(root, float(r.get("x")) + float(r.get("width")),
                      float(r.get("y")) + float(r.get("height")))
