"""The report in headless Chromium (tests.support.browser): no console errors and not blank; the threshold selector,
the URL fragment and hashchange only switch which pre-drawn chart and table show; table sorting; no network
request (and the CSP blocks one); with JavaScript off the default threshold shows."""

import io
import re

import pytest
from PIL import Image

from tests.support import browser
from tests.support.metric_rows import SLICES, XSS
from tfpretrain import reporting

pytestmark = pytest.mark.slow
FPR = 'section[data-metric="false_positive_rate"]'


@pytest.fixture
def report(tmp_path, rows, gate):
    return reporting.write_report(tmp_path / "report.html", rows, title="Toxicity v3", gate=gate,
                                  model_info={"model": "bert-tiny"})


def value_of(rows, slice_name, threshold):
    return next(r["value"] for r in rows
                if (r["slice"], r["metric"], r["threshold"]) == (slice_name, "false_positive_rate", threshold))


def shown(page, selector=FPR):
    """The thresholds of the visible chart/table variants and badges under `selector`, and the visible bars."""
    variants = page.locator(f"{selector} [data-at-threshold]")
    thresholds = [variants.nth(i).get_attribute("data-at-threshold") for i in range(variants.count())
                  if variants.nth(i).is_visible()]
    bars = page.locator(f"{selector} .variant:visible rect.bar")
    return thresholds, [float(bars.nth(i).get_attribute("data-value")) for i in range(bars.count())]


def near(pixel, colour, tol=8):
    return all(abs(a - b) <= tol for a, b in zip(pixel, colour))


def test_renders_without_errors_and_not_blank(chromium, report):
    opened = browser.open_page(chromium, report, height=1800)
    assert opened.errors == []
    chart = opened.page.locator(f"{FPR} .variant:visible svg.chart")
    assert chart.count() == 1
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 250
    image = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    pixels = list(image.getdata())
    ink = sum(p != (255, 255, 255) for p in pixels)
    assert ink > 0.08 * len(pixels), f"chart area nearly blank: {ink} of {len(pixels)} pixels drawn"
    assert len(set(pixels)) > 20
    assert sum(near(p, (0, 114, 178)) for p in pixels) > 500, "blue slice bars drawn"
    assert sum(near(p, (213, 94, 0)) for p in pixels) > 500, "vermillion failing bar drawn"


def test_selector_switches_only_visibility_and_updates_the_fragment(chromium, report, rows):
    opened = browser.open_page(chromium, report)
    page = opened.page
    assert shown(page) == (["0.5", "0.5"], [value_of(rows, s, 0.5) for s in SLICES])  # badge + variant
    before = page.locator("main").inner_html()
    page.select_option("#threshold-select", "1")
    assert shown(page) == (["0.75", "0.75"], [value_of(rows, s, 0.75) for s in SLICES])
    assert page.evaluate("location.hash") == "#threshold=0.75"
    assert page.evaluate("document.body.dataset.threshold") == "0.75"
    assert shown(page, 'section[data-metric="auc"]')[1][0] == pytest.approx(0.9), "threshold-free: unchanged"
    after = page.locator("main").inner_html()
    assert after != before and re.sub(r" hidden(?:=\"\")?", "", after) == re.sub(r" hidden(?:=\"\")?", "", before), \
        "only hidden attributes changed"
    assert page.locator(f"{FPR} .variant:visible tbody tr").nth(1).inner_text().split("\t")[:3] == [
        "gender=female", "900", "0.1250"]
    assert opened.errors == []


@pytest.mark.parametrize("how", ["fragment", "query"])
def test_url_selects_the_threshold(chromium, report, rows, how):
    opened = browser.open_page(chromium, report, **{how: "threshold=0.75"})
    assert shown(opened.page) == (["0.75", "0.75"], [value_of(rows, s, 0.75) for s in SLICES])
    assert opened.page.input_value("#threshold-select") == "1" and opened.errors == []


def test_hashchange_and_unknown_thresholds(chromium, report):
    opened = browser.open_page(chromium, report)
    page = opened.page
    page.evaluate("location.hash = 'threshold=0.75'")
    page.wait_for_function("document.body.dataset.threshold === '0.75'")
    assert shown(page)[0] == ["0.75", "0.75"]
    reopened = browser.open_page(chromium, report, fragment="threshold=0.6")
    assert shown(reopened.page)[0] == ["0.5", "0.5"]
    assert "Threshold 0.6 is not in this report; showing 0.5." in reopened.page.inner_text("#threshold-status")
    assert opened.errors == [] and reopened.errors == []


def test_sorting_a_table(chromium, report):
    opened = browser.open_page(chromium, report, fragment="threshold=0.75")
    page = opened.page
    table = page.locator(f"{FPR} .variant:visible table.metric-table")
    value_header = table.locator("thead th").nth(2)

    def first_column():
        cells = table.locator("tbody tr th")
        return [cells.nth(i).inner_text() for i in range(cells.count())]

    value_header.locator("button").click()
    # overall stays pinned first; the rest by value (0.75: male .04, muslim .07, female .125, small .2)
    assert first_column() == ["overall", "gender=male", "gender=female&religion=muslim", "gender=female", XSS]
    assert value_header.get_attribute("aria-sort") == "ascending"
    value_header.locator("button").click()
    assert first_column() == ["overall", XSS, "gender=female", "gender=female&religion=muslim", "gender=male"]
    assert value_header.get_attribute("aria-sort") == "descending"
    assert table.locator("thead th").nth(0).get_attribute("aria-sort") == "none" and opened.errors == []


def test_no_network_request_and_the_csp_blocks_one(chromium, report):
    opened = browser.open_page(chromium, report)
    assert opened.requests and all(url.startswith("file://") for url in opened.requests), opened.requests
    opened.page.evaluate("""() => { const img = document.createElement('img');
                                    img.src = 'http://127.0.0.1:9/pixel.png'; document.body.appendChild(img); }""")
    opened.page.wait_for_function("document.querySelector('img').complete")
    assert opened.failures == {"http://127.0.0.1:9/pixel.png": "csp"}, "blocked before it reached the network"
    assert any("Content Security Policy" in e for e in opened.errors), opened.errors


def test_without_javascript_the_default_threshold_shows(chromium, report, rows):
    opened = browser.open_page(chromium, report, javascript=False, fragment="threshold=0.75")
    page = opened.page
    assert shown(page) == (["0.5", "0.5"], [value_of(rows, s, 0.5) for s in SLICES]), "the fragment needs JS"
    assert page.locator("noscript").count() == 1
    chart = page.locator(f"{FPR} .variant:visible svg.chart")
    pixels = list(Image.open(io.BytesIO(chart.screenshot())).convert("RGB").getdata())
    assert sum(near(p, (213, 94, 0)) for p in pixels) > 500, "drawn without any script"
    assert opened.errors == []
