"""The static HTML fairness report: self-contained, escaped, data round-trips, charts correct; in headless Chromium:
no console errors, the script renders, the screenshot is not blank, and #threshold=0.75 re-renders at 0.75."""

import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tests.support import browser
from tests.support.metric_rows import LIMITS, SLICES, XSS, make_rows
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting.report import page as report


@pytest.fixture
def rows():
    return make_rows()


@pytest.fixture
def gate():
    return FairnessGate(LIMITS, threshold=0.5, min_slice_size=100)


@pytest.fixture
def page(tmp_path, rows, gate):
    path = report.write_report(
        tmp_path / "report.html",
        rows,
        title="Toxicity <b>v3</b>",
        gate=gate,
        model_info={"model": "bert-tiny", "layers": {"n": 2}},
        sections=[("Bias <probes>", "<p id='probe'>probe results</p>")],
    )
    return path, open(path, encoding="utf-8").read()


def value_of(rows, slice_name, metric, threshold):
    return next(
        r["value"] for r in rows if (r["slice"], r["metric"], r["threshold"]) == (slice_name, metric, threshold)
    )


class _Collect(HTMLParser):
    """Start tags with their attributes (in document order)."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def start_tags(html_text):
    parser = _Collect()
    parser.feed(html_text)
    return parser.tags


def metric_section(html_text, metric):
    match = re.search(rf'<section class="metric"[^>]*data-metric="{metric}".*?</section>', html_text, re.S)
    assert match, f"no section for {metric}"
    return match.group(0)


def bars(section_html):
    """[(slice, value, height, class)] of the chart's bars, in order."""
    out, current = [], None
    for tag, attrs in start_tags(section_html):
        if tag == "g" and "bar-group" in attrs.get("class", ""):
            current = (attrs["data-slice"], attrs["class"])
        if tag == "rect" and attrs.get("class") == "bar":
            out.append((current[0], float(attrs["data-value"]), float(attrs["height"]), current[1], attrs))
    return out


def table_cells(section_html):
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section_html.split("<tbody>", 1)[1], re.S)
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


# ------------------------------------------------------------------------------------------ static properties


def test_self_contained_no_external_resources(page, tmp_path):
    path, text = page
    assert path == os.fspath(tmp_path / "report.html")
    assert not re.search(r"https?://", text), "no URL at all: nothing can be fetched"
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?!#)", text), "CSS url() only for in-document #fragments"
    assert not re.search(r"\b(?:src|href)\s*=\s*['\"](?!#)", text), "links only to in-page anchors"
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert sorted(os.listdir(tmp_path)) == ["report.html"], "no temp file left behind"


def test_embedded_data_round_trips(page, rows):
    path, text = page
    data = report.read_report_data(path)
    assert data["rows"] == rows
    assert json.loads(json.dumps(data["rows"])) == rows
    assert report.read_report_data(text)["rows"] == rows
    assert [t["label"] for t in data["thresholds"]] == ["0.5", "0.75"]
    assert data["gate"]["passed"] is False


def test_text_from_data_is_escaped(tmp_path, rows, gate):
    evil = "x</script><script>alert(2)</script><!--"
    rows = rows + [dict(r, slice=evil) for r in rows if r["slice"] == "gender=male"]
    text = open(
        report.write_report(
            tmp_path / "r.html", rows, title="<img src=x onerror=alert(3)>", gate=gate, model_info={"<k>": "<v>"}
        ),
        encoding="utf-8",
    ).read()
    assert "<script>alert" not in text and "<img" not in text and "<k>" not in text
    assert text.count("<script") == 2, "only the data block and the report script"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "\\u003c/script\\u003e" in text
    assert report.read_report_data(text)["rows"] == rows


def test_threshold_selector_lists_both_thresholds(page):
    _, text = page
    select = re.search(r'<select id="threshold-select".*?</select>', text, re.S).group(0)
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', select)
    assert [(label, bool(sel)) for _, sel, label in options] == [("0.5", True), ("0.75", False)]
    assert re.search(r'<label for="threshold-select">', text)


def test_verdict_at_the_top_lists_failures(page):
    _, text = page
    verdict = re.search(r'<section class="verdict verdict-fail".*?</section>', text, re.S).group(0)
    assert "Fairness gate FAILED" in verdict
    assert text.index("Fairness gate FAILED") < text.index('<section class="metric"')
    cells = table_cells(verdict)
    assert ["gender=female", "False positive rate @ 0.5", "0.2500", "0.1000", "+0.1500", "0.1000", "900"] in cells
    assert ["gender=female", "False negative rate @ 0.5", "0.3500", "0.2000", "+0.1500", "0.1000", "900"] in cells
    assert "2 slice/metric check(s) skipped" in verdict  # the small slice, for both gated metrics


def test_gate_forms_agree(rows, gate):
    result = gate.check(rows)
    by_check = report.gate_summary(gate, rows)
    by_result = report.gate_summary(result)
    by_config = report.gate_summary({"max_gap": LIMITS, "min_slice_size": 100}, rows)
    as_dict = report.gate_summary({"passed": False, "failures": [f._asdict() for f in result.failures]})
    for other in (by_result, by_config, as_dict):
        assert other["failures"] == by_check["failures"]
    assert by_check["max_gap"] == by_config["max_gap"] == LIMITS and by_result["max_gap"] == {}
    assert report.gate_summary(None)["configured"] is False
    with pytest.raises(ValueError):
        report.gate_summary(object())


def test_passing_and_absent_gate(tmp_path, rows):
    passing = FairnessGate({"false_positive_rate": 0.5}, min_slice_size=100)
    text = open(report.write_report(tmp_path / "p.html", rows, title="t", gate=passing), encoding="utf-8").read()
    assert "Fairness gate PASSED" in text and 'class="verdict verdict-pass"' in text
    text = open(report.write_report(tmp_path / "n.html", rows, title="t"), encoding="utf-8").read()
    assert "No fairness gate was applied" in text and "bar-group flag-fail" not in text
    assert "exceeds the fairness gate" not in text, "no gate: no gate legend entry"


def test_charts_mark_failing_and_small_slices(page, rows):
    _, text = page
    fpr = bars(metric_section(text, "false_positive_rate"))
    flags = {name: cls for name, _, _, cls, _ in fpr}
    assert "flag-overall" in flags["overall"]
    assert "flag-fail" in flags["gender=female"]
    assert "flag-small" in flags[XSS] and "flag-fail" not in flags[XSS], "small slices are not judged"
    assert "flag-slice" in flags["gender=male"]
    fill = {name: attrs["fill"] for name, _, _, _, attrs in fpr}
    assert fill["gender=female"] == report.COLORS["fail"] and fill[XSS].startswith("url(#")
    assert "\u26a0 n=20" in text and "fewer than 100 examples" in text
    assert [name for name, *_ in fpr] == list(SLICES), "overall first, then the table's order"
    assert [v for _, v, *_ in fpr] == [value_of(rows, s, "false_positive_rate", 0.5) for s in SLICES]


def test_metric_table_values_ci_and_gap(page):
    _, text = page
    cells = table_cells(metric_section(text, "false_positive_rate"))
    assert cells[0] == ["overall", "2,000", "0.1000", "[0.0700, 0.1300]", "", "reference"]
    assert cells[1] == ["gender=female", "900", "0.2500", "[0.2200, 0.2800]", "+0.1500", "exceeds gate limit (0.1000)"]
    assert cells[2][4] == "-0.0200" and cells[2][5] == ""
    assert cells[3][0] == XSS.replace("<", "&lt;").replace(">", "&gt;") and cells[3][5] == "small slice (n &lt; 100)"


def test_sections_and_model_info(page):
    _, text = page
    assert "<h2 id=\"extra-0-h\">Bias &lt;probes&gt;</h2><p id='probe'>probe results</p>" in text
    assert '<th scope="row">model</th><td>bert-tiny</td>' in text
    assert text.index("Fairness gate FAILED") < text.index('id="model-info"') < text.index('id="extra-0"')


def test_gated_metrics_come_first_counts_last(page):
    _, text = page
    order = re.findall(r'<section class="metric"[^>]*data-metric="([^"]+)"', text)
    assert order == ["false_positive_rate", "false_negative_rate", "auc", "example_count"]


# ----------------------------------------------------------------------------------------------- the SVG chart


def parse_svg(svg):
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
    return root, ns, rects


@pytest.mark.parametrize("threshold", [0.5, 0.75])
def test_svg_bar_heights_proportional_to_values(rows, gate, threshold):
    svg = report.render_svg_chart(rows, "false_positive_rate", threshold, gate=gate)
    root, _, rects = parse_svg(svg)
    assert root.get("role") == "img" and root.get("data-threshold") == f"{threshold:g}"
    values = [value_of(rows, s, "false_positive_rate", threshold) for s in SLICES]
    assert [float(r.get("data-value")) for r in rects] == values
    heights = [float(r.get("height")) for r in rects]
    scale = max(heights) / max(values)  # px per unit: the axis starts at 0
    assert all(abs(h - scale * v) < 0.02 for h, v in zip(heights, values)), (heights, values)  # 0.01 px rounding
    assert scale > 200, "a tall enough plot"
    for r in rects:  # bars stand on the zero line: y + height is the same for all
        assert abs(float(r.get("y")) + float(r.get("height")) - (float(rects[0].get("y")) + heights[0])) < 0.02
    whiskers = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "ci"]
    assert len(whiskers) == len(SLICES)
    assert f"False positive rate at threshold {threshold:g}" in svg
    assert "&lt;script&gt;" in svg and "<script" not in svg


def test_svg_reference_line_at_overall_value(rows):
    svg = report.render_svg_chart(rows, "false_negative_rate", 0.5)
    root, _, rects = parse_svg(svg)
    overall_rect = rects[0]
    line = next(g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "overall-line")
    y_line = float(line.find("{http://www.w3.org/2000/svg}line").get("y1"))
    assert abs(y_line - float(overall_rect.get("y"))) < 0.02, "the dashed line is level with the overall bar's top"
    assert "overall 0.200" in svg


def test_svg_threshold_free_metric_and_errors(rows):
    assert report.render_svg_chart(rows, "auc", 0.75) == report.render_svg_chart(rows, "auc", 0.5)
    assert report.render_svg_chart(rows, "false_positive_rate") == report.render_svg_chart(
        rows, "false_positive_rate", 0.5
    ), "default threshold 0.5"
    with pytest.raises(ValueError, match="not in the metrics table"):
        report.render_svg_chart(rows, "false_positive_rate", 0.6)
    with pytest.raises(ValueError, match="available"):
        report.render_svg_chart(rows, "precision", 0.5)


def test_csv_string_rows_render_the_same(rows, gate):
    def cell(v):
        return "" if v is None else repr(v) if isinstance(v, float) else str(v)

    as_csv = [{k: cell(v) for k, v in r.items()} for r in rows]
    assert report.normalize_rows(as_csv) == rows
    assert report.render_svg_chart(as_csv, "false_positive_rate", 0.5, gate=gate) == report.render_svg_chart(
        rows, "false_positive_rate", 0.5, gate=gate
    )


def test_undefined_values_and_suppressed_slices(tmp_path, rows):
    rows = [dict(r) for r in rows]
    for r in rows:
        if r["slice"] == "gender=male" and r["metric"] == "false_positive_rate":
            r.update(value=None, ci_low=None, ci_high=None, gap_to_overall=None)
    rows.append(
        dict(
            slice="age=90+",
            metric="example_count",
            threshold=None,
            value=None,
            ci_low=None,
            ci_high=None,
            n=None,
            gap_to_overall=None,
            note="Example count for this slice key is lower than 5",
        )
    )
    text = open(report.write_report(tmp_path / "u.html", rows, title="t"), encoding="utf-8").read()
    fpr = metric_section(text, "false_positive_rate")
    assert 'data-slice="gender=male"' in fpr and "undefined" in fpr
    assert "Slices without metrics" in text and "lower than 5" in text


def test_number_formatting_matches_javascript_rounding():
    assert report._fixed(0.0625, 3) == "0.063"  # Number.prototype.toFixed: ties away from zero
    assert report._fixed(-0.0625, 3) == "-0.063"
    assert report._fixed(-0.0001, 3) == "0.000"
    assert report.format_value(1234567.0, "example_count") == "1,234,567"
    assert report.format_gap(0.0, "auc") == "0.0000" and report.format_gap(-0.25, "auc") == "-0.2500"
    assert report._axis([0.23]) == (0.0, 0.25, 0.05)
    assert report._axis([2000.0]) == (0.0, 2000.0, 500.0)


def test_bad_input_is_rejected(tmp_path, rows):
    with pytest.raises(ValueError, match="no slice"):
        report.write_report(tmp_path / "x.html", [{"metric": "auc", "value": 1}], title="t")
    with pytest.raises(ValueError, match="no metrics rows"):
        report.write_report(tmp_path / "x.html", [], title="t")
    with pytest.raises(ValueError, match="sections"):
        report.write_report(tmp_path / "x.html", rows, title="t", sections=["just a string"])
    assert not os.listdir(tmp_path)


def test_rewrite_replaces_atomically(tmp_path, rows):
    path = tmp_path / "r.html"
    path.write_text("old")
    report.write_report(path, rows, title="new")
    assert "<title>new</title>" in path.read_text()
    assert sorted(os.listdir(tmp_path)) == ["r.html"]


# ---------------------------------------------------------------------------------------- in headless Chromium


@pytest.fixture(scope="module")
def chromium():
    path = browser.find_chromium()
    if path is None:
        pytest.skip(browser.unavailable_reason())
    return path


BOX_JS = (
    "JSON.stringify(document.querySelector('section[data-metric=\"false_positive_rate\"] svg.chart')"
    ".getBoundingClientRect())"
)


def near(pixel, colour, tol=8):
    return all(abs(a - b) <= tol for a, b in zip(pixel, colour))


@pytest.mark.slow
def test_browser_renders_without_errors_and_not_blank(chromium, page, tmp_path):
    path, text = page
    shot = tmp_path / "shot.png"
    result = browser.render_page(path, shot, 1280, 1800, script=BOX_JS)
    assert result.console_errors == []
    assert re.search(r'<body[^>]*data-rendered="1"', result.dom)
    assert re.search(r'<body[^>]*data-threshold="0.5"', result.dom)
    assert all(url.startswith("file://") for url in result.requests), result.requests
    box = json.loads(result.evaluate_result)
    assert box["width"] > 300 and box["height"] > 250 and box["bottom"] < 1800
    image = browser.read_png(shot)
    assert image[:2] == (1280, 1800)
    pixels = browser.crop(image, int(box["left"]), int(box["top"]), int(box["right"]), int(box["bottom"]))
    ink = sum(1 for p in pixels if p != (255, 255, 255))
    assert ink > 0.08 * len(pixels), f"chart area nearly blank: {ink} of {len(pixels)} pixels drawn"
    assert len(set(pixels)) > 20
    assert sum(near(p, (0, 114, 178)) for p in pixels) > 500, "blue slice bars drawn"
    assert sum(near(p, (213, 94, 0)) for p in pixels) > 500, "vermillion failing bar drawn"


@pytest.mark.slow
def test_browser_rendering_matches_server_side(chromium, page, tmp_path):
    path, text = page
    result = browser.render_page(path, tmp_path / "s.png", 1280, 900)
    assert result.console_errors == []
    for metric in ("false_positive_rate", "false_negative_rate", "auc", "example_count"):
        server, client = metric_section(text, metric), metric_section(result.dom, metric)
        for (s1, v1, _, c1, a1), (s2, v2, _, c2, a2) in zip(bars(server), bars(client), strict=True):
            assert (s1, v1, c1) == (s2, v2, c2)
            for key in ("x", "y", "width", "height", "fill"):
                assert a1[key] == a2[key] or abs(float(a1[key]) - float(a2[key])) < 0.011, (metric, key)
        assert table_cells(server) == table_cells(client), metric
        assert re.findall(r"<text[^>]*>([^<]*)</text>", server.split("<svg", 1)[1]) == re.findall(
            r"<text[^>]*>([^<]*)</text>", client.split("<svg", 1)[1]
        ), f"{metric}: the same labels"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["fragment", "query"])
def test_browser_threshold_from_url(chromium, page, rows, tmp_path, how):
    path, _ = page
    kwargs = {"fragment": "threshold=0.75"} if how == "fragment" else {"query": "threshold=0.75"}
    result = browser.render_page(path, tmp_path / "t.png", 1280, 900, **kwargs)
    assert result.console_errors == []
    assert re.search(r'<body[^>]*data-threshold="0.75"', result.dom)
    fpr = metric_section(result.dom, "false_positive_rate")
    assert [v for _, v, *_ in bars(fpr)] == [value_of(rows, s, "false_positive_rate", 0.75) for s in SLICES]
    assert "False positive rate at threshold 0.75" in fpr and "threshold 0.75</span>" in fpr
    assert table_cells(fpr)[1][:3] == ["gender=female", "900", "0.1250"]
    auc = metric_section(result.dom, "auc")
    assert [v for _, v, *_ in bars(auc)] == [value_of(rows, s, "auc", None) for s in SLICES], "threshold-free"


@pytest.mark.slow
def test_browser_selector_and_sorting(chromium, page, tmp_path):
    path, _ = page
    script = """(() => {
      const sel = document.getElementById('threshold-select');
      sel.value = '1'; sel.dispatchEvent(new Event('change'));
      const section = document.querySelector('section[data-metric="false_positive_rate"]');
      const after = [...section.querySelectorAll('rect.bar')].map(r => Number(r.getAttribute('data-value')));
      const valueHeader = section.querySelectorAll('thead th')[2];
      valueHeader.querySelector('button').click();
      const asc = [...section.querySelectorAll('tbody tr')].map(tr => tr.cells[0].textContent);
      valueHeader.querySelector('button').click();
      const desc = [...section.querySelectorAll('tbody tr')].map(tr => tr.cells[0].textContent);
      return JSON.stringify({threshold: document.body.dataset.threshold, hash: location.hash, after, asc, desc,
                             sort: valueHeader.getAttribute('aria-sort')});
    })()"""
    result = browser.render_page(path, tmp_path / "x.png", 1280, 900, script=script)
    assert result.console_errors == []
    got = json.loads(result.evaluate_result)
    assert got["threshold"] == "0.75" and got["hash"] == "#threshold=0.75"
    assert got["after"] == [value_of(make_rows(), s, "false_positive_rate", 0.75) for s in SLICES]
    # overall stays pinned first; the rest by value (0.75: male .04, muslim .07, female .125, small .2)
    assert got["asc"] == ["overall", "gender=male", "gender=female&religion=muslim", "gender=female", XSS]
    assert got["desc"] == ["overall", XSS, "gender=female", "gender=female&religion=muslim", "gender=male"]
    assert got["sort"] == "descending"


def test_png_decoder_matches_pillow(tmp_path):
    image_mod = pytest.importorskip("PIL.Image")
    import random

    rnd = random.Random(0)
    img = image_mod.new("RGB", (23, 17))
    img.putdata([(rnd.randrange(256), (x * 11) % 256, 40) for x in range(23 * 17)])
    for mode in ("RGB", "RGBA", "L"):
        path = tmp_path / f"{mode}.png"
        img.convert(mode).save(path)
        width, height, pixels = browser._decode_png(path.read_bytes())
        assert (width, height) == (23, 17)
        assert pixels == list(img.convert(mode).convert("RGB").getdata())
