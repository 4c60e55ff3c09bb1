"""manifest.json's "stages": how many documents each step of `prepare`'s clean stage read, removed and kept.

    read = too_short + sum(filters.values()) + exact_duplicates + kept;   cleaned = read - too_short - filtered

(`cleaned` documents entered deduplication). "filter_rules" splits each filter's count by the rule that removed the
document ("gopher.min_words"); "c4_lines_removed" counts the lines C4's line rules cut from documents it kept or
removed; "pii" counts scrubbed spans per type. Built from the clean stage's summed statistics (data/beam_pipeline.py).
"""


def corpus_stages(stats, quality_config):
    """Summed clean-stage statistics + the quality config -> the "stages" mapping of manifest.json."""
    read = stats.get("documents_read", 0)
    too_short = stats.get("documents_too_short", 0)
    filters = {name: stats.get(f"filtered.{name}", 0) for name in quality_config.enabled}
    cleaned = read - too_short - sum(filters.values())
    kept = stats.get("documents_unique", 0)
    return {
        "read": read,
        "too_short": too_short,
        "filters": filters,
        "filter_rules": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("filter_rule.")},
        "c4_lines_removed": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("c4_lines.")},
        "pii": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("pii.")},
        "cleaned": cleaned,
        "exact_duplicates": cleaned - kept,
        "kept": kept,
    }
