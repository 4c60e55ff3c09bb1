"""configs/finetune/dp_demo.yaml (the DP-SGD recipe) loads, and on the demo's 4,000 examples it plans Poisson batches
of 512 expected examples within epsilon 3 (dp_accounting, computed here), as dp_demo_40k.yaml does batches of 2,048
from 40,000 examples and dp_minilm_lora.yaml batches of 512 within epsilon 8, at delta <= 1 / n; `tfpretrain demo
--dp-recipe` hands its trainer section to the DP fine-tune (fine-tuning itself stubbed: the settings are tested)."""

import json

import pytest

from tfpretrain.commands import demo
from tfpretrain.config import CONFIGS_DIR
from tfpretrain.training.finetune import load_finetune_experiment
from tfpretrain.training.privacy.plan import plan_dp

RECIPE = CONFIGS_DIR / "finetune" / "dp_demo.yaml"
RECIPE_40K = CONFIGS_DIR / "finetune" / "dp_demo_40k.yaml"  # 40,000 examples: not for `demo --dp-recipe`
RECIPE_MINILM = CONFIGS_DIR / "finetune" / "dp_minilm_lora.yaml"  # LoRA on all-MiniLM-L6-v2 at epsilon 8


@pytest.mark.parametrize("recipe, examples, target", [(RECIPE, 4000, 3.0), (RECIPE_40K, 40_000, 3.0),
                                                       (RECIPE_MINILM, 4000, 8.0)])
def test_the_recipe_plans_large_poisson_batches_within_its_epsilon(recipe, examples, target):
    import dp_accounting
    from dp_accounting.rdp import RdpAccountant

    t = load_finetune_experiment(recipe).trainer
    assert t.dp.sampling == "poisson" and t.dp.target_epsilon == target and t.global_batch_size >= 512
    plan = plan_dp(t, examples, "one example")
    q, delta = t.global_batch_size / examples, t.dp.delta or 1 / examples
    event = dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(plan.noise_multiplier)), t.train_steps)
    assert RdpAccountant().compose(event).get_epsilon(delta) <= target and delta <= 1 / examples
    assert plan.expected_batch_size == t.global_batch_size
    assert plan.physical_batch_size % t.gradient_accumulation_steps == 0
    assert t.global_batch_size < plan.physical_batch_size < 1.5 * t.global_batch_size


def test_the_demo_fine_tunes_with_the_recipe_trainer(tmp_path, monkeypatch):
    seen = []

    def fake_finetune(experiment, run_dir, verbose=0):
        seen.append(experiment)
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 0.5}) + "\n")

    monkeypatch.setattr(demo, "finetune", fake_finetune)
    demo._finetune(tmp_path / "run", tmp_path, tmp_path / "labeled", 100, dp=demo.DP, recipe=str(RECIPE))
    t = seen[0].trainer
    recipe = load_finetune_experiment(RECIPE).trainer
    assert (t.dp, t.optimizer, t.global_batch_size, t.train_steps) == (
        recipe.dp, recipe.optimizer, recipe.global_batch_size, recipe.train_steps)
    assert t.validation_every == recipe.train_steps and t.validation_steps == -(-demo.EVAL_EXAMPLES // 512)
    assert seen[0].init == str(tmp_path / "bert")  # the demo's own BERT and data, not the recipe's paths


@pytest.mark.parametrize("recipe", [None])
def test_without_a_recipe_the_demo_keeps_its_dp_settings(tmp_path, monkeypatch, recipe):
    seen = []

    def fake_finetune(experiment, run_dir, verbose=0):
        seen.append(experiment)
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "metrics.jsonl").write_text(json.dumps({"step": 1}) + "\n")

    monkeypatch.setattr(demo, "finetune", fake_finetune)
    demo._finetune(tmp_path / "run", tmp_path, tmp_path / "labeled", 100, dp=demo.DP, recipe=recipe)
    t = seen[0].trainer
    assert (t.dp.noise_multiplier, t.dp.l2_norm_clip, t.dp.sampling, t.global_batch_size) == (0.6, 1.0, "shuffle", 32)
