"""manifest.json's "stages": how many documents each step of `prepare`'s clean stage read, removed and kept.

    read = too_short + sum(filters.values()) + exact_duplicates + near_duplicates_removed + kept
    cleaned = read - too_short - filtered      (the documents that entered deduplication)

"filter_rules" splits each filter's count by the rule that removed the document ("gopher.min_words");
"c4_lines_removed" counts the lines C4's line rules cut from documents it kept or removed; "pii" counts scrubbed
spans per type; "near_duplicate_clusters" the clusters near-dedup collapsed to one document each, "near_dedup" its
settings (None when off). Planted near-duplicate canary copies are not corpus documents: "canary_copies_kept"
counts those that survived, outside the sum. Built from the clean stage's summed statistics (data/beam_pipeline.py).
"""


def corpus_stages(stats, quality_config, near_dedup_config):
    """Summed clean-stage statistics + the quality and near-dedup configs -> the "stages" mapping of manifest.json."""
    read = stats.get("documents_read", 0)
    too_short = stats.get("documents_too_short", 0)
    filters = {name: stats.get(f"filtered.{name}", 0) for name in quality_config.enabled}
    cleaned = read - too_short - sum(filters.values())
    kept = stats.get("documents_unique", 0)
    near = stats.get("near_duplicates_removed", 0)
    return {
        "read": read,
        "too_short": too_short,
        "filters": filters,
        "filter_rules": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("filter_rule.")},
        "c4_lines_removed": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("c4_lines.")},
        "pii": {k.split(".", 1)[1]: n for k, n in sorted(stats.items()) if k.startswith("pii.")},
        "cleaned": cleaned,
        "exact_duplicates": cleaned - near - kept,
        "near_duplicates_removed": near,
        "near_duplicate_clusters": stats.get("near_duplicate_clusters", 0),
        "near_dedup": near_dedup_config.settings() if near_dedup_config.enabled else None,
        "kept": kept,
        **({"canary_copies_kept": stats["canary_copies_kept"]} if "canary_copies_kept" in stats else {}),
    }
