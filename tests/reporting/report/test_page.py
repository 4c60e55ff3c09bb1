"""The static HTML fairness report: self-contained, escaped, the data round-trips, a chart and a table for every
threshold of which exactly one shows, the gate verdict first, sections and model information after the metrics."""

import html
import os
import re

import pytest

from tests.support.metric_rows import SLICES, XSS
from tfpretrain import reporting
from tfpretrain.evaluation.fairness.gate import FairnessGate
from tfpretrain.reporting import Section
from tfpretrain.reporting.report import page as report


@pytest.fixture
def page(tmp_path, rows, gate):
    path = reporting.write_report(
        tmp_path / "report.html", rows, title="Toxicity <b>v3</b>", gate=gate,
        model_info={"model": "bert-tiny", "layers": {"n": 2}},
        sections=[("Bias <probes>", "<p id='probe'>probe results</p>"),
                  Section("Privacy", html="<p>eps</p>", card_field="privacy", card_entry={"x": "y"}),
                  Section("Card only", markdown="*not in the report*")],
    )
    return path, open(path, encoding="utf-8").read()


def metric_section(html_text, metric):
    match = re.search(rf'<section class="metric"[^>]*data-metric="{metric}".*?</section>', html_text, re.S)
    assert match, f"no section for {metric}"
    return match.group(0)


def variants(section_html):
    """{threshold label or None: (hidden, html)} of a metric section's chart + table variants."""
    out = {}
    pattern = r'<div class="variant"( data-at-threshold="([^"]*)")?( hidden)?>(.*?)</div>\n(?=<div|</section)'
    for match in re.finditer(pattern, section_html, re.S):
        out[match.group(2)] = (bool(match.group(3)), match.group(4))
    return out


def table_cells(html_text):
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html_text.split("<tbody>", 1)[1], re.S)
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


def test_self_contained_no_external_resources(page, tmp_path):
    path, text = page
    assert path == os.fspath(tmp_path / "report.html")
    assert not re.search(r"https?://", text), "no URL at all: nothing can be fetched"
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I) and not re.search(r"<link\b", text, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(?!#)", text), "CSS url() only for in-document #fragments"
    assert not re.search(r"\b(?:src|href)\s*=\s*['\"](?!#)", text), "links only to in-page anchors"
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert sorted(os.listdir(tmp_path)) == ["report.html"], "no temp file left behind"


def test_embedded_data_round_trips(page, rows):
    path, text = page
    data = reporting.read_report_data(path)
    assert data["rows"] == rows and reporting.read_report_data(text)["rows"] == rows
    assert [t["label"] for t in data["thresholds"]] == ["0.5", "0.75"] and data["default_threshold"] == 0
    assert data["gate"]["passed"] is False
    with pytest.raises(ValueError, match="no embedded report data"):
        reporting.read_report_data("<html><body></body></html>")


def test_text_from_data_is_escaped(tmp_path, rows, gate):
    evil = "x</script><script>alert(2)</script><!--"
    rows = rows + [dict(r, slice=evil) for r in rows if r["slice"] == "gender=male"]
    path = reporting.write_report(tmp_path / "r.html", rows, title="<img src=x onerror=alert(3)>", gate=gate,
                                  model_info={"<k>": "<v>"}, sections=[("<h>", "<p>trusted</p>")])
    text = open(path, encoding="utf-8").read()
    assert "<script>alert" not in text and "<img" not in text and "<k>" not in text and "<h>" not in text
    assert text.count("<script") == 2, "only the data block and the report script"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "\\u003c/script\\u003e" in text
    assert reporting.read_report_data(text)["rows"] == rows


def test_every_threshold_is_drawn_and_only_the_default_shows(page, rows):
    _, text = page
    select = re.search(r'<select id="threshold-select".*?</select>', text, re.S).group(0)
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', select)
    assert [(label, bool(sel)) for _, sel, label in options] == [("0.5", True), ("0.75", False)]
    assert '<body data-threshold="0.5">' in text
    fpr = variants(metric_section(text, "false_positive_rate"))
    assert {t: hidden for t, (hidden, _) in fpr.items()} == {"0.5": False, "0.75": True}
    for threshold, (_, shown) in fpr.items():
        values = [float(v) for v in re.findall(r'class="bar"[^>]*data-value="([^"]+)"', shown)]
        assert values == [next(r["value"] for r in rows if (r["slice"], r["metric"], r["threshold"]) ==
                               (s, "false_positive_rate", float(threshold))) for s in SLICES]
        assert f"False positive rate at threshold {threshold}" in shown
    assert table_cells(fpr["0.75"][1])[1][:3] == ["gender=female", "900", "0.1250"]
    auc = variants(metric_section(text, "auc"))
    assert list(auc) == [None] and auc[None][0] is False, "a threshold-free metric: one variant, shown"
    badges = re.findall(r'<span class="badge" data-at-threshold="([^"]+)"( hidden)?>', text)
    assert badges[:2] == [("0.5", ""), ("0.75", " hidden")]
    assert "JavaScript is off: charts and tables show the default threshold 0.5" in text


def test_verdict_at_the_top_lists_failures(page):
    _, text = page
    verdict = re.search(r'<section class="verdict verdict-fail".*?</section>', text, re.S).group(0)
    assert "Fairness gate FAILED" in verdict and text.index("Fairness gate FAILED") < text.index('class="metric"')
    cells = table_cells(verdict)
    assert ["gender=female", "False positive rate @ 0.5", "0.2500", "0.1000", "+0.1500", "0.1000", "900"] in cells
    assert ["gender=female", "False negative rate @ 0.5", "0.3500", "0.2000", "+0.1500", "0.1000", "900"] in cells
    assert "2 slice/metric check(s) skipped" in verdict  # the small slice, for both gated metrics
    assert ("limits on |gap to overall|: False positive rate \u2264 0.1000, False negative rate \u2264 0.1000; "
            "threshold 0.5, slices with n \u2265 100; 6 slice/metric gaps checked; 2 skipped.") in verdict


def test_passing_and_absent_gate(tmp_path, rows):
    passing = FairnessGate({"false_positive_rate": 0.5}, min_slice_size=100)
    text = open(reporting.write_report(tmp_path / "p.html", rows, title="t", gate=passing), encoding="utf-8").read()
    assert "Fairness gate PASSED" in text and 'class="verdict verdict-pass"' in text
    text = open(reporting.write_report(tmp_path / "n.html", rows, title="t"), encoding="utf-8").read()
    assert "No fairness gate was applied" in text and "bar-group flag-fail" not in text
    assert "exceeds the fairness gate" not in text, "no gate: no gate legend entry"


def test_interval_methods_are_named(tmp_path, rows):
    methods = {"auc": "hanley-mcneil score", "false_positive_rate": "wilson"}
    rows = [dict(r, ci_method=methods.get(r["metric"])) for r in rows]
    text = open(reporting.write_report(tmp_path / "m.html", rows, title="t"), encoding="utf-8").read()
    assert "whiskers: 95% CI (wilson); dashed line" in metric_section(text, "false_positive_rate")
    assert "whiskers: 95% CI (hanley-mcneil score); dashed line" in metric_section(text, "auc")
    assert "whiskers: 95% CI; dashed line" in metric_section(text, "false_negative_rate"), "no method: none named"


def test_a_gate_that_checked_nothing_says_so(tmp_path, rows):
    gate = FairnessGate({"false_positive_rate": 0.1, "precision": 0.1}, threshold=0.5, min_slice_size=5000)
    text = open(reporting.write_report(tmp_path / "u.html", rows, title="t", gate=gate), encoding="utf-8").read()
    verdict = re.search(r'<section class="verdict verdict-unchecked".*?</section>', text, re.S).group(0)
    assert "Fairness gate NOT CHECKED" in verdict and "PASSED" not in verdict
    assert "<li>False positive rate @ 0.5: all 4 slices skipped (4 below min_slice_size=5000)</li>" in verdict
    assert "<li>Precision: not in the metrics table" in verdict


def test_metric_table_values_ci_gap_and_sort_keys(page):
    _, text = page
    html = variants(metric_section(text, "false_positive_rate"))["0.5"][1]
    cells = table_cells(html)
    assert cells[0] == ["overall", "2,000", "0.1000", "[0.0700, 0.1300]", "", "reference"]
    assert cells[1] == ["gender=female", "900", "0.2500", "[0.2200, 0.2800]", "+0.1500", "exceeds gate limit (0.1000)"]
    assert cells[2][4] == "-0.0200" and cells[2][5] == ""
    assert cells[3][0] == XSS.replace("<", "&lt;").replace(">", "&gt;") and cells[3][5] == "small slice (n &lt; 100)"
    assert '<td data-sort="900">900</td>' in html and '<td data-sort="0.25">0.2500</td>' in html
    assert html.count('aria-sort="none"') == 6 and html.count("<button type=\"button\">") == 6


def test_sections_model_info_and_order(page):
    _, text = page
    assert "<h2 id=\"extra-0-h\">Bias &lt;probes&gt;</h2><p id='probe'>probe results</p>" in text
    assert '<h2 id="extra-1-h">Privacy</h2><p>eps</p>' in text and "Card only" not in text, "no html: card only"
    assert '<th scope="row">model</th><td>bert-tiny</td>' in text
    assert '<td><pre>{\n "n": 2\n}</pre></td>' in html.unescape(text), "nested values as indented JSON"
    assert text.index("Fairness gate FAILED") < text.index('id="model-info"') < text.index('id="extra-0"')
    order = re.findall(r'<section class="metric"[^>]*data-metric="([^"]+)"', text)
    assert order == ["false_positive_rate", "false_negative_rate", "auc", "example_count"]
    assert re.findall(r'<nav aria-label="Sections">(.*?)</nav>', text, re.S)[0].count("<a ") == 1 + 4 + 1 + 2


def test_small_and_suppressed_slices_are_explained(tmp_path, rows, gate):
    rows = rows + [dict(slice="age=90+", metric="example_count", threshold=None, value=None, ci_low=None,
                        ci_high=None, n=None, gap_to_overall=None, note="Example count for this slice key is lower "
                                                                        "than 5")]
    text = open(reporting.write_report(tmp_path / "u.html", rows, title="t", gate=gate), encoding="utf-8").read()
    assert "Slices without metrics" in text and "<strong>age=90+</strong>: Example count for this slice" in text
    assert "1 slice(s) have fewer than 100 examples (religion=&lt;script&gt;" in text
    assert "\u26a0 Slice with fewer than 100 examples" in text, "the legend explains the hatching"


def test_bad_input_is_rejected_and_nothing_written(tmp_path, rows):
    with pytest.raises(ValueError, match="no slice"):
        reporting.write_report(tmp_path / "x.html", [{"metric": "auc", "value": 1}], title="t")
    with pytest.raises(ValueError, match="no metrics rows"):
        reporting.write_report(tmp_path / "x.html", [], title="t")
    with pytest.raises(ValueError, match="sections"):
        reporting.write_report(tmp_path / "x.html", rows, title="t", sections=["just a string"])
    assert not os.listdir(tmp_path)


def test_rewrite_replaces_atomically(tmp_path, rows):
    path = tmp_path / "r.html"
    path.write_text("old")
    report.write_report(path, rows, title="new")
    assert "<title>new</title>" in path.read_text() and sorted(os.listdir(tmp_path)) == ["r.html"]
