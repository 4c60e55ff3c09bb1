"""The canary-exposure section: escaped, canaries by id only (no secret), a well-formed SVG with bars in proportion
to the mean exposure, and the card's memorization entry."""

import math
import xml.etree.ElementTree as ET

import pytest

from tfpretrain.reporting.sections.exposure import exposure_section

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def summary():
    exposures = [(1, 1.0), (1, 3.0), (16, 12.0), (16, 19.0)]
    rows = [{"id": f"canary-00{i}", "repetitions": r, "rank": 1 + i, "exposure": e, "exposure_rank": e / 2,
             "score": -3.0, "secret_tokens": 4, "unknown_token": i == 3} for i, (r, e) in enumerate(exposures)]
    levels = [{"repetitions": 1, "count": 2, "mean_exposure": 2.0, "median_exposure": 2.0, "max_exposure": 3.0,
               "mean_exposure_rank": 1.0},
              {"repetitions": 16, "count": 2, "mean_exposure": 15.5, "median_exposure": 15.5, "max_exposure": 19.0,
               "mean_exposure_rank": 7.75}]
    return {"model": "runs/<gpt2>", "model_family": "gpt2", "scoring": "causal log-probabilities",
            "template": "<b>{secret}</b> & co", "space_size": 10**6, "exposure_bound": math.log2(10**6),
            "candidates": 999, "exhaustive": False, "rank_exposure_bound": math.log2(1000), "canaries": rows,
            "by_repetitions": levels}


def test_section_is_escaped_and_names_canaries_by_id(summary):
    section = exposure_section(summary)
    html = section.html
    assert section.heading == "Memorisation: canary exposure (gpt2)" and section.card_field == "memorization"
    assert "<b>" not in html and "&lt;b&gt;{secret}&lt;/b&gt; &amp; co" in html
    assert all(f"<td>{row['id']}</td>" in html for row in summary["canaries"]) and "<td>3 of 1000</td>" in html
    assert "log2|R| = 19.93 bits" in html and "at most 9.97 bits with these candidates" in html
    assert "<strong>Warning:</strong> 1 secrets contain the tokenizer's unknown token" in html.replace("&#39;", "'")
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), "fetches nothing"


def test_chart_bars_in_proportion_to_mean_exposure(summary):
    html = exposure_section(summary).html
    svg = ET.fromstring(html[html.index("<svg"): html.index("</svg>") + 6])  # well-formed, self-contained SVG
    bars = list(svg.iter(f"{SVG}rect"))
    assert [b.find(f"{SVG}title").text for b in bars] == ["1x: mean 2.00, max 3.00 bits",
                                                          "16x: mean 15.50, max 19.00 bits"]
    assert float(bars[1].get("height")) / float(bars[0].get("height")) == pytest.approx(15.5 / 2.0, rel=0.01)
    bottoms = {round(float(b.get("y")) + float(b.get("height")), 1) for b in bars}
    assert len(bottoms) == 1, "bars stand on one axis"


def test_card_entry(summary):
    assert exposure_section(summary).card_entry == {"gpt2 model <gpt2>": {
        "method": "canary exposure (Carlini et al. 2019, The Secret Sharer), skew-normal extrapolation",
        "scoring": "causal log-probabilities", "canaries": 4, "candidates": 999,
        "exposure bound (log2|R|, bits)": 19.93,
        "inserted 1x": "mean 2.00 bits, max 3.00 (2 canaries)",
        "inserted 16x": "mean 15.50 bits, max 19.00 (2 canaries)"}}
