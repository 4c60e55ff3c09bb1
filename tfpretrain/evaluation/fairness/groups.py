"""Group annotations -> slice columns, before a fairness evaluation. Pure Python (+ numpy for array inputs), no TF.

A `GroupSpec` describes one slice column and how it is made from an input column (`source`, default: the same name):

| kind        | input                                             | slice values                                 |
| ----------- | ------------------------------------------------- | -------------------------------------------- |
| categorical | the group itself ("female"); multi-valued is OK  | the values (one slice per value)             |
| binary      | 0/1, True/False, "yes"/"no", "true"/"false"       | 0 / 1                                        |
| continuous  | civil_comments-style annotator fraction in [0, 1] | 1 if value >= threshold else 0               |
| derived     | free text                                         | a term-list category, both/multiple or none  |

Missing inputs (absent, None, NaN, empty string or array) are never a group: the example is simply in no slice of
that column (an unannotated civil_comments row is *unknown*, not "not a member").

Identity-term matching (`derive_groups_from_text`) is case-insensitive on whole words: "he" matches "He said" but not
"the" or "hero"; multi-word terms match across any whitespace ("trans woman" matches "trans\\nwoman"). When a text
mentions terms of two or more categories of a group its value is "both" for two-category groups (female/male) and
"multiple" otherwise; with no mention it is "none". Term lists are YAML (`load_term_lists`), default
configs/eval/identity_terms.yaml.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfpretrain.config import CONFIGS_DIR, ConfigError

KINDS = ("binary", "continuous", "categorical", "derived")
NONE_LABEL = "none"
BOTH_LABEL = "both"
MULTIPLE_LABEL = "multiple"
DEFAULT_TERM_LISTS = CONFIGS_DIR / "eval" / "identity_terms.yaml"

_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n"})
_SPEC_KEYS = ("column", "kind", "source", "threshold", "terms")

TermLists = Mapping[str, Mapping[str, Sequence[str]]]


# ---------------------------------------------------------------------------------------------------------- values


def is_missing(value: Any) -> bool:
    """None, NaN, an empty (byte) string or an empty array/list: no annotation."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, str | bytes):
        return not value.strip()
    if isinstance(value, np.ndarray | list | tuple):
        return len(value) == 0
    return False


def _scalar(value: Any, what: str) -> Any:
    """Unwrap a one-element array/list (TFMA features are arrays); None if missing; error if multi-valued."""
    if isinstance(value, np.ndarray | list | tuple):
        if len(value) == 0:
            return None
        if len(value) > 1:
            raise ValueError(f"{what}: expected one value per example, got {len(value)}: {list(value)[:5]!r}")
        value = value[0]
    if isinstance(value, np.generic):
        value = value.item()
    return None if is_missing(value) else value


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


def binarize_identity(value: Any, threshold: float = 0.5) -> int | None:
    """A continuous identity annotation (fraction of annotators, civil_comments-style) -> 1 if value >= threshold.

    Returns None for a missing annotation (None / NaN / ""): unannotated is unknown, not "not a member". Numeric
    strings (from CSV) and bytes are accepted.
    """
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, bool) or not math.isfinite(threshold):
        raise ValueError(f"identity threshold must be a finite number, got {threshold!r}")
    value = _scalar(value, "identity value")
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"continuous identity value must be a number, got the bool {value!r} (use kind 'binary')")
    if isinstance(value, str | bytes):
        try:
            value = float(_text(value))
        except ValueError:
            raise ValueError(f"continuous identity value must be a number, got {value!r}") from None
        if math.isnan(value):
            return None
    if not isinstance(value, numbers.Real):
        raise ValueError(f"continuous identity value must be a number, got {value!r} ({type(value).__name__})")
    if math.isinf(value):
        raise ValueError(f"continuous identity value must be finite, got {value!r}")
    return int(value >= threshold)


def binary_value(value: Any) -> int | None:
    """0/1, True/False, 0.0/1.0, "yes"/"no", "true"/"false", "t"/"f", "y"/"n" (any case) -> 0/1; missing -> None."""
    value = _scalar(value, "binary value")
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real):
        if value in (0, 1):
            return int(value)
        raise ValueError(f"binary group value must be 0 or 1, got {value!r}")
    if isinstance(value, str | bytes):
        text = _text(value).strip().lower()
        if text in _TRUE:
            return 1
        if text in _FALSE:
            return 0
    raise ValueError(f"binary group value must be 0/1, true/false or yes/no, got {value!r}")


def categorical_value(value: Any) -> str | int | list[str | int] | None:
    """A categorical group value as a clean slice value: bytes -> str, integral floats -> int (CSV NaN-padded ints).

    Multi-valued inputs give a list (one slice per distinct value, first-seen order); missing -> None.
    """

    def one(v: Any) -> str | int | None:
        if isinstance(v, np.generic):
            v = v.item()
        if is_missing(v):
            return None
        if isinstance(v, bytes):
            return v.decode("utf-8", errors="replace")
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            if math.isinf(v):
                raise ValueError(f"categorical group value must be finite, got {v!r}")
            return int(v) if v.is_integer() else v
        if isinstance(v, int | str):
            return v
        raise ValueError(f"unsupported categorical group value {v!r} ({type(v).__name__})")

    if isinstance(value, np.ndarray | list | tuple):
        values = [v for v in (one(v) for v in value) if v is not None]
        values = list(dict.fromkeys(values))
        if not values:
            return None
        return values[0] if len(values) == 1 else values
    return one(value)


# ---------------------------------------------------------------------------------------------------- term lists


def _normalize_term(term: str) -> str:
    return " ".join(term.split()).casefold()


def validate_term_lists(term_lists: Any, source: str = "<term lists>") -> dict[str, dict[str, list[str]]]:
    """Check {group: {category: [term, ...]}} and return a plain-dict copy; every mistake is one ConfigError.

    Rules: groups and categories are non-empty strings, each category has at least one non-empty string term,
    category names are not the reserved labels ("none", "both", "multiple"), and no term (case/whitespace-
    insensitively) belongs to two categories of one group, which would make the category ambiguous.
    """
    if not isinstance(term_lists, Mapping) or not term_lists:
        raise ConfigError(source, "", "term lists must be a non-empty mapping {group: {category: [terms]}}")
    out: dict[str, dict[str, list[str]]] = {}
    for group, categories in term_lists.items():
        if not isinstance(group, str) or not group:
            raise ConfigError(source, str(group), "group names must be non-empty strings")
        if not isinstance(categories, Mapping) or not categories:
            raise ConfigError(source, group, "must be a non-empty mapping {category: [terms]}")
        seen: dict[str, str] = {}
        out[group] = {}
        for category, terms in categories.items():
            key = f"{group}.{category}"
            if not isinstance(category, str) or not category:
                raise ConfigError(source, key, "category names must be non-empty strings")
            if category in (NONE_LABEL, BOTH_LABEL, MULTIPLE_LABEL):
                raise ConfigError(source, key, f"{category!r} is a reserved label, rename the category")
            if isinstance(terms, str) or not isinstance(terms, Sequence) or not terms:
                raise ConfigError(source, key, "must be a non-empty list of terms")
            clean = []
            for term in terms:
                if not isinstance(term, str) or not term.strip():
                    raise ConfigError(source, key, f"terms must be non-empty strings, got {term!r}")
                norm = _normalize_term(term)
                if norm in seen and seen[norm] != category:
                    raise ConfigError(source, key, f"term {term!r} is also listed under {group}.{seen[norm]}")
                seen[norm] = category
                clean.append(term.strip())
            out[group][category] = clean
    return out


def load_term_lists(path: str | Path = DEFAULT_TERM_LISTS) -> dict[str, dict[str, list[str]]]:
    """YAML {group: {category: [terms]}} -> validated dict (errors name the file and the group.category)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "", "term lists file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "", f"invalid YAML: {e}") from None
    return validate_term_lists(data, str(path))


def _term_pattern(terms: Iterable[str]) -> re.Pattern:
    # Longest first so alternation prefers "trans woman" over "trans"; whole words via \w look-around (Unicode).
    alternatives = sorted({_normalize_term(t) for t in terms}, key=lambda t: (-len(t), t))
    body = "|".join(r"\s+".join(re.escape(w) for w in t.split(" ")) for t in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


class TermMatcher:
    """Compiled term lists: `match(text) -> {group: category | "both" | "multiple" | "none"}`. Picklable."""

    def __init__(self, term_lists: TermLists):
        term_lists = validate_term_lists(term_lists)
        self.groups = {
            group: tuple((category, _term_pattern(terms)) for category, terms in categories.items())
            for group, categories in term_lists.items()
        }
        self.multiple = {group: multiple_label(categories) for group, categories in term_lists.items()}

    def match(self, text: str | bytes) -> dict[str, str]:
        if not isinstance(text, str | bytes):
            raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
        text = _text(text)
        out = {}
        for group, patterns in self.groups.items():
            found = [category for category, pattern in patterns if pattern.search(text)]
            out[group] = found[0] if len(found) == 1 else self.multiple[group] if found else NONE_LABEL
        return out


def multiple_label(categories: Iterable[str]) -> str:
    """The value for a text mentioning several categories: "both" for two-category groups, else "multiple"."""
    return BOTH_LABEL if len(list(categories)) == 2 else MULTIPLE_LABEL


def derive_groups_from_text(text: str | bytes, term_lists: TermLists | TermMatcher) -> dict[str, str]:
    """Identity-term matching: {"gender": {"female": [...], "male": [...]}} -> {"gender": "female"}.

    Per group: the one category whose terms occur (whole words, any case); "both" (two-category group) or
    "multiple" when terms of several categories occur; "none" when none does. Pass a `TermMatcher` to avoid
    recompiling the patterns for every text.
    """
    matcher = term_lists if isinstance(term_lists, TermMatcher) else TermMatcher(term_lists)
    return matcher.match(text)


# ------------------------------------------------------------------------------------------------------ GroupSpec


@dataclasses.dataclass(frozen=True)
class GroupSpec:
    """One slice column: its name, its kind and how it is made from the `source` input column.

    `threshold` is used by kind "continuous" (member iff value >= threshold); `terms` by kind "derived":
    {category: [terms]} for this one group (see `from_config` to take them from a term-lists file).
    """

    column: str
    kind: str = "categorical"
    source: str | None = None
    threshold: float = 0.5
    terms: Mapping[str, Sequence[str]] | None = dataclasses.field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"GroupSpec.column must be a non-empty string, got {self.column!r}")
        where = f"group {self.column!r}"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not one of {KINDS}")
        if self.source is not None and (not isinstance(self.source, str) or not self.source):
            raise ValueError(f"{where}: source must be a non-empty string or None, got {self.source!r}")
        if (
            not isinstance(self.threshold, numbers.Real)
            or isinstance(self.threshold, bool)
            or not math.isfinite(self.threshold)
        ):
            raise ValueError(f"{where}: threshold must be a finite number, got {self.threshold!r}")
        if self.kind == "derived":
            if self.terms is None:
                raise ValueError(f"{where}: kind 'derived' needs terms {{category: [terms]}}")
            terms = validate_term_lists({self.column: self.terms}, where)[self.column]
            object.__setattr__(self, "terms", terms)
            object.__setattr__(self, "_matcher", TermMatcher({self.column: terms}))
        elif self.terms is not None:
            raise ValueError(f"{where}: terms are only used by kind 'derived', not {self.kind!r}")

    @property
    def input_column(self) -> str:
        return self.source or self.column

    @property
    def is_passthrough(self) -> bool:
        """True when the slice column is the raw input column unchanged (categorical, same name)."""
        return self.kind == "categorical" and self.input_column == self.column

    def derive(self, value: Any) -> Any:
        """The slice value(s) of one example's input value (scalar or TFMA-style array); None when missing."""
        try:
            if self.kind == "categorical":
                return categorical_value(value)
            if self.kind == "binary":
                return binary_value(value)
            if self.kind == "continuous":
                return binarize_identity(value, self.threshold)
            text = _scalar(value, "text")
            if text is None:
                return None
            if not isinstance(text, str | bytes):
                raise ValueError(f"expected text, got {text!r} ({type(text).__name__})")
            return self._matcher.match(text)[self.column]
        except ValueError as e:
            raise ValueError(f"group {self.column!r} (kind {self.kind}, column {self.input_column!r}): {e}") from None

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "kind": self.kind}
        if self.source:
            out["source"] = self.source
        if self.kind == "continuous":
            out["threshold"] = self.threshold
        if self.kind == "derived":
            out["terms"] = {k: list(v) for k, v in self.terms.items()}
        return out

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any] | str, term_lists: TermLists | None = None, source: str = "<config>"
    ) -> GroupSpec:
        """{column, kind, source?, threshold?, terms?} (or just a column name: categorical) -> GroupSpec.

        For kind "derived", `terms` may be the mapping itself, the name of a group in `term_lists`, or omitted
        (then the group named like the column). Errors are ConfigErrors naming the column.
        """
        if isinstance(config, str):
            config = {"column": config}
        if not isinstance(config, Mapping):
            raise ConfigError(source, "groups", f"each group must be a mapping or a column name, got {config!r}")
        column = config.get("column")
        key = f"groups.{column}" if isinstance(column, str) else "groups"
        unknown = sorted(set(config) - set(_SPEC_KEYS))
        if unknown:
            raise ConfigError(source, key, f"unknown keys {unknown}; allowed: {list(_SPEC_KEYS)}")
        kwargs = dict(config)
        if kwargs.get("kind") == "derived" and not isinstance(kwargs.get("terms"), Mapping):
            name = kwargs.get("terms") or column
            if term_lists is None:
                raise ConfigError(source, key, "kind 'derived' needs terms (a mapping) or term lists to look up")
            if name not in term_lists:
                raise ConfigError(source, key, f"no term list {name!r}; available: {sorted(term_lists)}")
            kwargs["terms"] = term_lists[name]
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as e:
            raise ConfigError(source, key, str(e)) from None


def apply_groups(record: Mapping[str, Any], specs: Iterable[GroupSpec]) -> dict[str, Any]:
    """A copy of `record` with every spec's slice column set from its input column (None when missing)."""
    out = dict(record)
    for spec in specs:
        out[spec.column] = spec.derive(record.get(spec.input_column))
    return out


def check_unique_columns(specs: Iterable[GroupSpec]) -> tuple[GroupSpec, ...]:
    specs = tuple(specs)
    seen = set()
    for spec in specs:
        if not isinstance(spec, GroupSpec):
            raise TypeError(f"groups must be GroupSpec objects, got {spec!r}")
        if spec.column in seen:
            raise ValueError(f"two groups define the slice column {spec.column!r}")
        seen.add(spec.column)
    return specs
