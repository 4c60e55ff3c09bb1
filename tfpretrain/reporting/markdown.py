"""Text from data, made safe and readable in Markdown (the model card, and the HTML a renderer makes of it)."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

NOT_SPECIFIED = "not specified"
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Field names of card entries -> how a person reads them (others: underscores as spaces, first letter capital).
LABELS = {
    # privacy (differential privacy accounting)
    "epsilon": "epsilon (\u03b5)",
    "delta": "delta (\u03b4)",
    "noise_multiplier": "noise multiplier",
    "l2_norm_clip": "clipping norm (L2)",
    "clipping_norm": "clipping norm (L2)",
    "accountant": "accountant",
    "mechanism": "mechanism",
    "unit": "privacy unit",
    "sampling_rate": "sampling rate",
    # energy
    "kwh": "energy (kWh)",
    "energy_kwh": "energy (kWh)",
    "co2_kg": "emissions (kg CO\u2082eq)",
    "co2eq_kg": "emissions (kg CO\u2082eq)",
    "carbon_intensity": "carbon intensity (g CO\u2082eq/kWh)",
    "duration_h": "duration (h)",
    "hardware": "hardware",
    "region": "region",
    "method": "method",
    "tool": "tool",
    # intended use
    "intended_use": "Intended use",
    "intended_uses": "Intended uses",
    "primary_uses": "Primary intended uses",
    "primary_users": "Primary intended users",
    "out_of_scope_uses": "Out-of-scope uses",
}


def md_escape(text: Any) -> str:
    """One line, specials escaped: backslash-escapes \\ ` * [ ] < > | # and word-boundary underscores (an
    underscore inside a word, as in civil_comments, is literal in CommonMark), and "&" only where it would start
    an entity."""
    text = _ENTITY.sub("&amp;", " ".join(str(text).split()))
    out = []
    for i, ch in enumerate(text):
        if ch in "\\`*[]<>|#":
            out.append("\\" + ch)
        elif ch == "_" and not (0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(ch)
    return "".join(out)


def plain(value: Any) -> str:
    """A value given by the caller, as Markdown text (numbers as given, to 6 significant digits)."""
    if value is None:
        return NOT_SPECIFIED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}" if abs(int(value)) >= 10000 else str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return "n/a" if not math.isfinite(value) else f"{value:.6g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{md_escape(k)}: {plain(v)}" for k, v in value.items()) or NOT_SPECIFIED
    if isinstance(value, list | tuple | set):
        return ", ".join(plain(v) for v in value) or NOT_SPECIFIED
    return md_escape(value)


def key_label(key: Any) -> str:
    label = LABELS.get(str(key), str(key).replace("_", " "))
    return label[:1].upper() + label[1:]
