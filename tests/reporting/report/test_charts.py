"""SVG bar charts: bar heights in proportion to the values, the reference line at the overall value, marks for
failing and small slices, a text alternative, escaped slice names."""

import xml.etree.ElementTree as ET

import pytest

from tests.support.metric_rows import SLICES, XSS
from tfpretrain.reporting.report import charts

SVG = "{http://www.w3.org/2000/svg}"


def value_of(rows, slice_name, metric, threshold):
    key = (slice_name, metric, threshold)
    return next(r["value"] for r in rows if (r["slice"], r["metric"], r["threshold"]) == key)


def parse(svg):
    root = ET.fromstring(svg)
    return root, [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


@pytest.mark.parametrize("threshold", [0.5, 0.75])
def test_bar_heights_proportional_to_values(rows, gate, threshold):
    svg = charts.render_svg_chart(rows, "false_positive_rate", threshold, gate=gate)
    root, rects = parse(svg)
    assert root.get("role") == "img" and root.get("data-threshold") == f"{threshold:g}"
    values = [value_of(rows, s, "false_positive_rate", threshold) for s in SLICES]
    assert [float(r.get("data-value")) for r in rects] == values
    heights = [float(r.get("height")) for r in rects]
    scale = max(heights) / max(values)  # px per unit: the axis starts at 0
    assert all(abs(h - scale * v) < 0.02 for h, v in zip(heights, values)), (heights, values)  # 0.01 px rounding
    assert scale > 200, "a tall enough plot"
    for r in rects:  # bars stand on the zero line: y + height is the same for all
        assert abs(float(r.get("y")) + float(r.get("height")) - (float(rects[0].get("y")) + heights[0])) < 0.02
    whiskers = [g for g in root.iter(f"{SVG}g") if g.get("class") == "ci"]
    assert len(whiskers) == len(SLICES)
    assert root.find(f"{SVG}title").text == f"False positive rate at threshold {threshold:g}"
    assert "&lt;script&gt;" in svg and "<script" not in svg


def test_reference_line_at_overall_value(rows):
    root, rects = parse(charts.render_svg_chart(rows, "false_negative_rate", 0.5))
    line = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "overall-line")
    assert abs(float(line.find(f"{SVG}line").get("y1")) - float(rects[0].get("y"))) < 0.02
    assert line.find(f"{SVG}text").text == "overall 0.200"


def test_failing_and_small_slices_are_marked_by_more_than_colour(rows, gate):
    root, _ = parse(charts.render_svg_chart(rows, "false_positive_rate", 0.5, gate=gate))
    groups = {g.get("data-slice"): g for g in root.iter(f"{SVG}g") if "bar-group" in (g.get("class") or "")}
    assert list(groups) == list(SLICES)
    female, small = groups["gender=female"], groups[XSS]
    assert "flag-fail" in female.get("class") and "EXCEEDS THE GATE LIMIT of 0.1000" in female.find(f"{SVG}title").text
    rect = female.find(f"{SVG}rect")
    assert rect.get("fill") == charts.COLORS["fail"] and rect.get("stroke-width") == "2", "outlined, not only red"
    assert small.find(f"{SVG}rect").get("fill").startswith("url(#"), "hatched"
    assert [t.text for t in small.iter(f"{SVG}text") if t.get("class") == "n-label warn"] == ["\u26a0 n=20"]
    desc = root.find(f"{SVG}desc").text
    assert "gender=female: 0.2500 (95% CI 0.2200 to 0.2800) n=900 gap to overall +0.1500" in desc
    assert "SMALL SLICE: estimate unreliable" in desc
    legend = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend == ["overall", "slice", "exceeds gate limit (|gap| > 0.1000)", "n < 100: unreliable",
                      "overall value", "95% CI"]


def test_threshold_free_metrics_default_threshold_and_errors(rows):
    assert charts.render_svg_chart(rows, "auc", 0.75) == charts.render_svg_chart(rows, "auc", 0.5)
    assert charts.render_svg_chart(rows, "false_positive_rate") == charts.render_svg_chart(
        rows, "false_positive_rate", 0.5), "default threshold 0.5"
    with pytest.raises(ValueError, match="not in the metrics table"):
        charts.render_svg_chart(rows, "false_positive_rate", 0.6)
    with pytest.raises(ValueError, match="available"):
        charts.render_svg_chart(rows, "precision", 0.5)


def test_count_axis_and_labels(rows):
    root, rects = parse(charts.render_svg_chart(rows, "example_count"))
    ticks = [t.text for t in root.find(f"{SVG}g").iter(f"{SVG}text")]
    assert ticks == ["0", "500", "1,000", "1,500", "2,000"]
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class", "").startswith("bar-value")][:2] == [
        "2,000", "900"]


@pytest.mark.parametrize(("values", "axis"), [
    ([0.23], (0.0, 0.25, 0.05)), ([2000.0], (0.0, 2000.0, 500.0)), ([-0.3, 0.1], (-0.3, 0.1, 0.1)),
    ([0.7, 1.3], (0.0, 1.5, 0.5)), ([None], (0.0, 1.0, 0.2)), ([1.0], (0.0, 1.0, 0.2)),
])
def test_axis_is_round_and_covers_zero_and_every_value(values, axis):
    lo, hi, step = charts.axis(values)
    assert (lo, hi, step) == pytest.approx(axis)


def test_long_and_intersectional_slice_names_are_cut_to_label_lines():
    assert charts.slice_lines("gender=female&religion=muslim") == ["gender=female", "religion=muslim"]
    assert charts.slice_lines("a=" + "x" * 30) == ["a=" + "x" * 15 + "\u2026"]
    assert charts.slice_lines("a=1&b=2&c=3&d=4") == ["a=1", "b=2", "+2 more"]
