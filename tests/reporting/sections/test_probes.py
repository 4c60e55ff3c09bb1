"""The bias-probe section: per probe a table by bias type, what the metrics mean, the most stereotypical examples,
all escaped; the card entry names the probe, the file and the model family."""

import pytest

from tfpretrain.evaluation.probes.data import GOLD_LABELS, sample_path
from tfpretrain.evaluation.probes.run import run_probe
from tfpretrain.evaluation.probes.scoring import ProbeScorer
from tfpretrain.reporting.sections.probes import probe_section

HEADER = "sent_more,sent_less,stereo_antistereo,bias_type\n"


class TableScorer(ProbeScorer):
    """Scores from fixed lists: CrowS (score_more, score_less) pairs, StereoSet (stereotype, anti, unrelated)."""

    family, source = "bert", "fake-<model>"

    def __init__(self, pairs=(), options=()):
        self.pairs, self.options = list(pairs), list(options)

    def crows_pairs(self, pairs):
        return [{"score_more": more, "score_less": less} for more, less in self.pairs[: len(pairs)]]

    def stereoset(self, items):
        return [dict(zip(GOLD_LABELS, option)) for option in self.options[: len(items)]]


@pytest.fixture
def summaries(tmp_path):
    path = tmp_path / "xss.csv"
    path.write_text(HEADER + '"<script>alert(1)</script> x.",B x.,stereo,<b>age</b>\nC y.,D y.,antistereo,gender\n')
    crows = run_probe(TableScorer(pairs=[(-1.0, -3.0), (-4.0, -2.0)]), "crows_pairs", path, tmp_path / "c",
                      tfma=False)
    stereo = run_probe(TableScorer(options=[(0.5, 0.2, 0.1)] * 20), "stereoset", sample_path("stereoset"),
                       tmp_path / "s", tfma=False)
    return crows, stereo


def test_section_is_escaped_and_explains_the_metrics(summaries):
    crows, stereo = summaries
    section = probe_section([crows, stereo])
    html = section.html
    assert section.heading == "Bias probes (CrowS-Pairs, StereoSet)" and section.card_field == "bias_probes"
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;age" in html
    assert "Model fake-&lt;model&gt; (bert); 2 examples" in html
    assert '<th scope="col">% stereotypical (ideal 50)</th>' in html
    assert '<tr><th scope="row">overall</th><td>2</td><td>50.0 (+0.0 vs 50)</td>' in html  # 1 of 2 stereotypical
    assert "100.0 (+50.0 vs 50)" in html and "SS (ideal 50)" in html and "ICAT" in html
    assert "<caption>StereoSet intrasentence</caption>" in html and "<caption>StereoSet intersentence</caption>" in html
    assert html.count("<li>") == 1 + 5  # CrowS: one stereotypical pair; StereoSet: the top 5
    assert "CI" not in html, "no TFMA intervals were computed"


def test_card_entry_names_probe_file_and_family(summaries):
    crows, stereo = summaries
    card = probe_section([crows, stereo, crows]).card_entry
    assert list(card) == ["CrowS-Pairs (bert)", "StereoSet (bert)", "CrowS-Pairs (bert) #2"]
    assert card["CrowS-Pairs (bert)"] == ("xss.csv: 50.0% of 2 pairs prefer the more stereotypical sentence (ideal "
                                          "50%; 0 neutral; bert scoring); by bias type: <b>age</b> 100.0% (n=1), "
                                          "gender 0.0% (n=1)")
    assert card["StereoSet (bert)"].startswith(
        "stereoset_sample.json: overall LMS 100.0, SS 100.0 (ideal 50), ICAT 0.0")


def test_tfma_interval_column_and_bad_summaries(summaries):
    crows, _ = summaries
    with_ci = {**crows, "tfma": {"confidence": "jackknife",
                                 "slices": {"overall": {"mean_label": {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9}}}}}
    html = probe_section([with_ci]).html
    assert "95% CI (jackknife, TFMA)" in html and "<td>[10.0, 90.0]</td>" in html and "<td>n/a</td>" in html
    with pytest.raises(ValueError, match="not a probe summary"):
        probe_section([{"probe": "other"}])
