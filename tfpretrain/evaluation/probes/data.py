"""Bias-probe data files as found in the wild: the layout is recognised from the file itself, read and validated.

    data = load_probe_data("crows_pairs_anonymized.csv")    # probe and layout from the header
    data.probe, data.layout, len(data.examples)             # "crows_pairs", "crows_pairs", 1508
    data.description                                        # the layout read, in words

Layouts (`LAYOUTS`; each file says which it is):
  * crows_pairs          CSV with sent_more, sent_less, stereo_antistereo, bias_type (crows_pairs_anonymized.csv)
  * crows_pairs_masked   CSV with sentence (one [MASK]), mask1, mask2, bias_type (toolkits' masked templates)
  * stereoset            JSON {"version", "data": {"intrasentence": [...], "intersentence": [...]}} (dev.json)
  * stereoset_jsonl      JSON lines {type, target, bias_type, context, stereotype, anti-stereotype, unrelated}
A file starting with "{" or "[" is JSON (a whole document, or one object per line); anything else is CSV, known by
its header's column names. Anything else is one ProbeDataError naming the file, what was found and the layouts
accepted; a bad row or item names FILE:LINE (or the JSON path) and the column or key. Details of each layout:
crows_pairs_csv, stereoset_json. Small project-written example files ship in samples/ (`sample_path`). Pure Python.
"""

from __future__ import annotations

import json
import logging
import os
from importlib import resources

from tfpretrain.evaluation.probes import crows_pairs_csv, stereoset_json
from tfpretrain.evaluation.probes.examples import (  # noqa: F401  (re-exported: the probe data API)
    BLANK,
    DIRECTIONS,
    GOLD_LABELS,
    LAYOUTS,
    MASK,
    PROBES,
    SPLITS,
    CrowsPair,
    ProbeData,
    ProbeDataError,
    StereoSetItem,
    StereoSetSentence,
)

log = logging.getLogger(__name__)

SAMPLES = {  # sample name = the layout it shows
    "crows_pairs": "crows_pairs_sample.csv",
    "crows_pairs_masked": "crows_pairs_masked_sample.csv",
    "stereoset": "stereoset_sample.json",
    "stereoset_jsonl": "stereoset_sample.jsonl",
}


def sample_path(name: str) -> str:
    """The path of a shipped example file, by layout name (see SAMPLES)."""
    if name not in SAMPLES:
        raise ValueError(f"no sample {name!r}; samples: {sorted(SAMPLES)}")
    return os.fspath(resources.files(__package__).joinpath("samples", SAMPLES[name]))


def load_probe_data(path: str | os.PathLike, probe: str | None = None) -> ProbeData:
    """Read and validate a probe file in any of LAYOUTS, recognised from its header; `probe` (optional) must be
    the probe the file holds."""
    path = os.fspath(path)
    if probe is not None and probe not in PROBES:
        raise ValueError(f"probe must be one of {list(PROBES)}, got {probe!r}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except FileNotFoundError:
        raise ProbeDataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise ProbeDataError(f"{path}: not UTF-8 text ({e})") from None
    layout, parsed = detect_layout(path, text)
    file_probe = LAYOUTS[layout][0]
    if probe is not None and probe != file_probe:
        raise ProbeDataError(f"{path}: holds {file_probe} data ({LAYOUTS[layout][1]}), not {probe}")
    if layout == "crows_pairs" or layout == "crows_pairs_masked":
        examples = crows_pairs_csv.read_pairs(path, text, layout)
    elif layout == "stereoset":
        examples = stereoset_json.read_document(path, parsed)
    else:
        examples = stereoset_json.read_jsonl(path)
    data = ProbeData(file_probe, layout, path, examples)
    log.info("%s: read %d %s examples as layout %s: %s", path, len(examples), file_probe, layout, data.description)
    return data


def detect_layout(path: str, text: str) -> tuple[str, object]:
    """(the LAYOUTS name of a file's text, its parsed JSON document for the stereoset layout, else None)."""
    first = next((line for line in text.splitlines() if line.strip()), None)
    if first is None:
        raise ProbeDataError(f"{path}: empty file (expected a CSV header, a JSON document or JSON lines)")
    if not first.lstrip().startswith(("{", "[")):
        header = crows_pairs_csv.read_header(path, text)
        layout = crows_pairs_csv.layout_of(header)
        if layout is None:
            missing = {name: f"missing {columns}" for name, columns in crows_pairs_csv.missing_columns(header).items()}
            raise _unknown(path, f"CSV columns {header}", missing)
        return layout, None
    try:  # one JSON object per line?
        line = json.loads(first)
    except json.JSONDecodeError:
        line = None
    if isinstance(line, dict) and "data" not in line:
        if all(k in line for k in stereoset_json.JSONL_KEYS):
            return "stereoset_jsonl", None
        lines = sum(1 for x in text.splitlines() if x.strip())
        found = f"a JSON object with keys {sorted(line)}" if lines == 1 else (
            f"JSON lines, the first an object with keys {sorted(line)}")
        missing = [k for k in stereoset_json.JSONL_KEYS if k not in line]
        raise _unknown(path, found, {"stereoset": 'no key "data"', "stereoset_jsonl": f"missing {missing}"})
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProbeDataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if isinstance(document, dict) and "data" in document:
        return "stereoset", document
    found = f"a JSON object with keys {sorted(document)}" if isinstance(document, dict) else (
        f"a JSON {type(document).__name__}")
    raise _unknown(path, found, {"stereoset": 'no key "data"'})


def _unknown(path: str, found: str, notes: dict[str, str]) -> ProbeDataError:
    accepted = "; ".join(f"{name} = {description}" + (f" [{notes[name]}]" if name in notes else "")
                         for name, (_, description) in LAYOUTS.items())
    return ProbeDataError(f"{path}: not a probe data layout tfpretrain reads: found {found}; accepted layouts: "
                          f"{accepted}")
