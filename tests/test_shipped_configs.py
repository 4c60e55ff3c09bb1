"""Every YAML file shipped in configs/ loads with its strict loader (a typo in a shipped config is a bug)."""


import pytest

from tests.support import ROOT

CONFIGS = ROOT / "configs"


@pytest.mark.parametrize("path", sorted((CONFIGS / "data").glob("*.yaml")), ids=lambda p: p.name)
def test_data_configs(path):
    import dataclasses

    from tfpretrain.data.prepare_config import load_prepare_config
    from tfpretrain.data.quality import QualityConfig

    config = load_prepare_config(path)
    assert config.family in ("bert", "gpt2")
    # every filter on, at the published thresholds (the dataclass defaults, which leave them off)
    on = {name: dataclasses.replace(getattr(QualityConfig(), name), enabled=True) for name in ("language", "gopher",
                                                                                                "c4")}
    assert config.quality == QualityConfig(**on, samples_per_filter=5)


@pytest.mark.parametrize("path", sorted((CONFIGS / "pretrain").glob("*.yaml")), ids=lambda p: p.name)
def test_pretrain_configs(path):
    from tfpretrain.training.experiment import load_experiment, resolve_model_config

    experiment = load_experiment(path)
    assert resolve_model_config(experiment, vocabulary_size=1000).vocabulary_size > 0


@pytest.mark.parametrize("path", sorted((CONFIGS / "finetune").glob("*.yaml")), ids=lambda p: p.name)
def test_finetune_configs(path):
    from tfpretrain.training.finetune import load_finetune_experiment

    assert load_finetune_experiment(path).train.source


EVAL_CONFIGS = sorted(p for p in (CONFIGS / "eval").glob("*.yaml") if p.name != "identity_terms.yaml")


@pytest.mark.parametrize("path", EVAL_CONFIGS, ids=lambda p: p.name)
def test_eval_configs(path):
    from tfpretrain.evaluation.fairness import load_settings

    assert load_settings(path).thresholds
