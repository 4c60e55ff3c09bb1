"""Schedules and optimizers against numpy references: WarmupDecay values, AdamW and LAMB steps (decay exclusions on
our real variable names, trust ratios, zero norms), serialisation, XLA, MirroredStrategy over 2 logical CPUs (in a
subprocess: logical devices must be configured before TensorFlow starts) and a tiny BertPretrainer that learns.

    python -m tests.training.test_optimization     # the subprocess body; its last stdout line is a JSON object
"""

import json
import math
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import factories, subprocess_json
from tfpretrain.keras import keras
from tfpretrain.training import optimization as O
from tfpretrain.training.optimization import LAMB, AdamW, WarmupDecay, build_optimizer, global_norm

TIMEOUT_S = 180


# -- numpy references ------------------------------------------------------------------------------------------------
def schedule_reference(step, peak, warmup, decay_steps, kind, end=0.0, power=1.0):
    if step < warmup:
        return peak * step / warmup
    if kind == "constant":
        return peak
    p = min((step - warmup) / decay_steps, 1.0)
    fraction = {"linear": 1 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p)), "polynomial": (1 - p) ** power}[kind]
    return end + (peak - end) * fraction


def optimizer_reference(w, grads, lrs, *, wd=0.0, lamb=False, adapt=True, b1=0.9, b2=0.999, eps=1e-6):
    """Adam (epsilon on the bias-corrected sqrt(v_hat)) + decoupled decay lr*wd*w, optionally LAMB's trust ratio."""
    w = np.asarray(w, np.float64)
    m = v = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        u = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * w
        ratio = 1.0
        if lamb and adapt:
            w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(u)
            ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
        w = w - lr * ratio * u
    return w


def clip_reference(grads, clipnorm):
    norm = math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))
    return [g * min(1.0, clipnorm / norm) for g in grads]


def _apply(optimizer, initial, grads_per_step, xla=False):
    """Run `optimizer` on fresh variables {name: initial value} for the given per-step {name: gradient} dicts;
    `xla`: each step in a tf.function(jit_compile=True), with the optimizer's own XLA update path forced on (Keras
    enables it only on GPUs)."""
    variables = {name: tf.Variable(value, name=name) for name, value in initial.items()}
    apply = lambda grads: optimizer.apply_gradients(zip(grads, variables.values()))
    if xla:
        optimizer.jit_compile = True
        apply = tf.function(apply, jit_compile=True)
    for grads in grads_per_step:
        apply([tf.constant(grads[k]) for k in variables])
    return {name: v.numpy() for name, v in variables.items()}


# -- WarmupDecay -----------------------------------------------------------------------------------------------------
SCHEDULE = dict(peak_learning_rate=1e-3, warmup_steps=10, decay_steps=90, end_learning_rate=1e-4, power=2.0)
STEPS = [0, 1, 5, 9, 10, 11, 32, 55, 77, 99, 100, 101, 1000, 10**7]


@pytest.mark.parametrize("kind", O.DECAY_KINDS)
def test_warmup_decay_matches_the_formula_at_every_phase(kind):
    schedule = WarmupDecay(**SCHEDULE, decay=kind)
    got = [float(schedule(tf.constant(s, tf.int64))) for s in STEPS]
    args = (1e-3, 10, 90, kind, 1e-4, 2.0)
    np.testing.assert_allclose(got, [schedule_reference(s, *args) for s in STEPS], rtol=1e-6, atol=1e-12)
    assert got[0] == 0.0 and got[STEPS.index(10)] == pytest.approx(1e-3)
    assert got[-1] == pytest.approx(1e-3 if kind == "constant" else 1e-4)  # clamped after the end


def test_warmup_decay_hand_computed_values():
    mid = tf.constant(55, tf.int64)  # halfway through the decay
    assert float(WarmupDecay(1e-3, 10, 90, "linear", 1e-4)(mid)) == pytest.approx(5.5e-4)
    assert float(WarmupDecay(1e-3, 10, 90, "cosine", 1e-4)(mid)) == pytest.approx(5.5e-4)
    assert float(WarmupDecay(1e-3, 10, 90, "cosine", 0.0)(tf.constant(10 + 30))) == pytest.approx(7.5e-4)  # cos(pi/3)
    assert float(WarmupDecay(1e-3, 10, 90, "polynomial", 1e-4, power=2.0)(mid)) == pytest.approx(3.25e-4)
    assert float(WarmupDecay(1e-3, 0, 10, "linear")(tf.constant(0))) == pytest.approx(1e-3)  # no warmup
    assert float(WarmupDecay(2e-3, 4, 0, "constant")(tf.constant(1))) == pytest.approx(5e-4)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(O.DECAY_KINDS),
    peak=st.floats(1e-6, 1.0),
    end_fraction=st.floats(0.0, 1.0),
    warmup=st.integers(0, 1000),
    decay_steps=st.integers(1, 10**6),
    power=st.floats(0.1, 4.0),
    steps=st.lists(st.integers(0, 2 * 10**6), min_size=1, max_size=8),
)
def test_warmup_decay_property(kind, peak, end_fraction, warmup, decay_steps, power, steps):
    end = peak * end_fraction
    schedule = WarmupDecay(peak, warmup, decay_steps, kind, end, power)
    got = schedule(tf.constant(steps, tf.int64)).numpy()
    expected = [schedule_reference(s, peak, warmup, decay_steps, kind, end, power) for s in steps]
    # float32 steps are exact below 2**24; the schedule is within [0, peak]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * peak)
    assert ((got >= 0) & (got <= peak * (1 + 1e-6))).all()


def test_warmup_is_monotonic_and_decay_never_rises():
    for kind in ("linear", "cosine", "polynomial"):
        values = WarmupDecay(**SCHEDULE, decay=kind)(tf.range(0, 120, dtype=tf.int64)).numpy()
        assert (np.diff(values[:11]) > 0).all(), kind
        assert (np.diff(values[10:]) <= 1e-12).all(), kind


def test_warmup_decay_compiles_with_xla_in_tf_function():
    schedule = WarmupDecay(**SCHEDULE, decay="cosine")
    compiled = tf.function(lambda step: schedule(step), jit_compile=True)
    for step in (0, 7, 10, 60, 500):
        assert float(compiled(tf.constant(step, tf.int64))) == pytest.approx(float(schedule(step)), rel=1e-6)
    assert compiled(tf.constant(3, tf.int64)).dtype == tf.float32


def test_warmup_decay_config_round_trip():
    schedule = WarmupDecay(**SCHEDULE, decay="polynomial", name="lr")
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert type(restored) is WarmupDecay and restored.get_config() == schedule.get_config()
    assert json.loads(json.dumps(schedule.get_config())) == schedule.get_config()
    assert float(restored(33)) == float(schedule(33))


@pytest.mark.parametrize(
    "override, argument",
    [
        (dict(peak_learning_rate=-1.0), "peak_learning_rate"),
        (dict(peak_learning_rate="1e-3"), "peak_learning_rate"),
        (dict(warmup_steps=-1), "warmup_steps"),
        (dict(warmup_steps=2.5), "warmup_steps"),
        (dict(decay_steps=0), "decay_steps"),
        (dict(decay="step"), "decay"),
        (dict(end_learning_rate=2e-3), "end_learning_rate"),
        (dict(power=0.0), "power"),
    ],
)
def test_warmup_decay_rejects_bad_arguments(override, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must"):
        WarmupDecay(**{**SCHEDULE, "decay": "linear", **override})


# -- AdamW -----------------------------------------------------------------------------------------------------------
NAMES = ("dense/kernel", "dense/bias", "encoder/layer_norm/gamma", "token_embedding/embeddings")
EXCLUDED = {"dense/bias", "encoder/layer_norm/gamma"}


def _problem(seed=0, steps=3):
    """Initial values and per-step gradients; small gradients and a large epsilon make the epsilon placement count."""
    rng = np.random.default_rng(seed)
    shapes = {"dense/kernel": (3, 4), "dense/bias": (4,), "encoder/layer_norm/gamma": (4,),
              "token_embedding/embeddings": (5, 3)}
    initial = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    grads = [{k: (1e-3 * rng.normal(size=s)).astype(np.float32) for k, s in shapes.items()} for _ in range(steps)]
    return initial, grads


@pytest.mark.parametrize("xla", [False, True])
def test_adamw_steps_match_numpy_with_decay_only_on_included_variables(xla):
    initial, grads = _problem()
    schedule = WarmupDecay(0.1, 0, 4, "linear", 0.02)
    lrs = [schedule_reference(s, 0.1, 0, 4, "linear", 0.02) for s in range(3)]
    got = _apply(O.adamw(schedule, weight_decay=0.1, epsilon=1e-3), initial, grads, xla=xla)
    for name in NAMES:
        wd = 0.0 if name in EXCLUDED else 0.1
        expected = optimizer_reference(initial[name], [g[name] for g in grads], lrs, wd=wd, eps=1e-3)
        np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)
        if wd:  # the decay is big enough to be seen
            plain = optimizer_reference(initial[name], [g[name] for g in grads], lrs, eps=1e-3)
            assert np.abs(got[name] - plain).max() > 1e-3, name


def test_adamw_without_exclusions_decays_everything_and_respects_keras_exclusion_api():
    initial, grads = _problem(steps=1)
    optimizer = AdamW(0.1, weight_decay=0.1, exclude_from_weight_decay=None)
    optimizer.exclude_from_weight_decay(var_names=["embeddings"])  # the Keras API still works on top
    got = _apply(optimizer, initial, grads)
    for name in NAMES:
        wd = 0.0 if name == "token_embedding/embeddings" else 0.1
        expected = optimizer_reference(initial[name], [grads[0][name]], [0.1], wd=wd)
        np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.fixture(scope="module")
def bert_pretrainer():
    """A tiny float32 BertPretrainer, shared (its names are read before a test trains it)."""
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    return BertPretrainer(factories.bert_backbone())


def test_default_exclusions_on_our_real_variable_names(bert_pretrainer):
    """Embeddings, dense kernels and heads decay; every bias and LayerNorm gamma/beta does not (same for LAMB's
    layer adaptation)."""
    from tfpretrain.models.gpt2.gpt2_causal_lm import GPT2CausalLM

    variables = bert_pretrainer.trainable_variables + GPT2CausalLM(factories.gpt2_backbone()).trainable_variables
    adamw, lamb = O.adamw(1e-3), build_optimizer("lamb", 1e-3, weight_decay=0.01)
    names = [v.name for v in variables]
    weights = [n for n in names if re.search(r"/(kernel|embeddings):0$", n)]
    others = [n for n in names if re.search(r"/(\w*bias|gamma|beta):0$", n)]
    assert sorted(weights + others) == sorted(names)  # nothing unexpected in our models
    assert {"token_embedding/embeddings:0", "position_embedding/embeddings:0", "segment_embedding/embeddings:0",
            "mlm_head/kernel:0", "nsp_head/kernel:0", "pooler/kernel:0"} <= set(weights)
    assert {"embeddings_norm/gamma:0", "final_norm/beta:0", "mlm_head/output_bias:0"} <= set(others)
    for variable in variables:
        decays = variable.name in weights
        assert adamw.decays(variable) == lamb.decays(variable) == lamb.adapts(variable) == decays, variable.name
    assert not AdamW(1e-3, weight_decay=0.0).decays(variables[0])
    anchored = AdamW(1e-3, exclude_from_weight_decay=[r"bias$", r"^token_embedding/"])  # names without ":0"
    assert [n for n, v in zip(names, variables) if not anchored.decays(v)] == [
        n for n in names if n.endswith("bias:0") or n.startswith("token_embedding/")]


# -- LAMB ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xla", [False, True])
def test_lamb_steps_match_numpy_with_trust_ratio(xla):
    initial, grads = _problem(seed=1)
    lrs = [0.05] * 3
    got = _apply(LAMB(0.05, weight_decay=0.1, epsilon=1e-3), initial, grads, xla=xla)
    for name in NAMES:
        excluded = name in EXCLUDED
        g = [step[name] for step in grads]
        expected = optimizer_reference(initial[name], g, lrs, wd=0.0 if excluded else 0.1, lamb=True,
                                       adapt=not excluded, eps=1e-3)
        np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)
        if not excluded:  # the trust ratio matters
            adam = optimizer_reference(initial[name], g, lrs, wd=0.1, eps=1e-3)
            assert np.abs(got[name] - adam).max() > 1e-2, name


def test_lamb_layer_adaptation_can_be_configured_separately():
    initial, grads = _problem(seed=2, steps=2)
    optimizer = LAMB(0.05, weight_decay=0.1, exclude_from_weight_decay=["bias"], exclude_from_layer_adaptation=[])
    got = _apply(optimizer, initial, grads)
    for name in NAMES:
        g = [step[name] for step in grads]
        expected = optimizer_reference(initial[name], g, [0.05] * 2, wd=0.0 if "bias" in name else 0.1, lamb=True)
        np.testing.assert_allclose(got[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("xla", [False, True])
def test_lamb_zero_norms_give_ratio_one(xla):
    grad = np.full((2, 3), 1e-2, np.float32)
    initial = {"zero/kernel": np.zeros((2, 3), np.float32), "still/kernel": np.ones((2, 3), np.float32)}
    grads = [{"zero/kernel": grad, "still/kernel": np.zeros((2, 3), np.float32)}]
    got = _apply(LAMB(0.1, weight_decay=0.0), initial, grads, xla=xla)
    # ||w|| = 0: a plain Adam step (first step: m_hat / sqrt(v_hat) = sign(g)); ||u|| = 0: no change, no NaN.
    np.testing.assert_allclose(got["zero/kernel"], optimizer_reference(initial["zero/kernel"], [grad], [0.1]),
                               rtol=1e-6)
    np.testing.assert_allclose(got["zero/kernel"], -0.1 * 1e-2 / (1e-2 + 1e-6), rtol=1e-5)
    np.testing.assert_array_equal(got["still/kernel"], initial["still/kernel"])


@pytest.mark.parametrize("cls", [AdamW, LAMB])
def test_sparse_gradients_update_like_their_dense_form(cls):
    """IndexedSlices (e.g. from an embedding gather, duplicate rows included) give the same step as the dense sum."""
    initial = np.random.default_rng(6).normal(size=(5, 3)).astype(np.float32)
    rows = tf.constant([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [-1.0, 0.0, 1.0]])
    sparse = tf.IndexedSlices(rows, tf.constant([4, 1, 4]), tf.constant([5, 3]))
    results = []
    for grad in (sparse, tf.convert_to_tensor(sparse)):
        variable = tf.Variable(initial, name="token_embedding/embeddings")
        cls(0.1, weight_decay=0.1).apply_gradients([(grad, variable)])
        results.append(variable.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    assert np.abs(results[0] - initial).max() > 1e-3


@pytest.mark.parametrize("cls", [AdamW, LAMB])
def test_optimizer_config_round_trip(cls):
    schedule = WarmupDecay(1e-3, 10, 100, "cosine", 1e-5)
    optimizer = cls(schedule, weight_decay=0.02, beta_2=0.98, epsilon=1e-7, exclude_from_weight_decay=["bias"],
                    global_clipnorm=1.0)
    config = optimizer.get_config()
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(restored) is cls and restored.get_config() == config
    assert isinstance(restored._learning_rate, WarmupDecay)
    assert (config["weight_decay"], config["global_clipnorm"], config["exclude_from_weight_decay"]) == (0.02, 1.0,
                                                                                                        ["bias"])
    if cls is LAMB:
        assert config["exclude_from_layer_adaptation"] == ["bias"]
    assert cls.from_config(cls(1e-2).get_config()).get_config() == cls(1e-2).get_config()


@pytest.mark.parametrize(
    "kwargs, argument",
    [(dict(weight_decay=-0.1), "weight_decay"), (dict(beta_1=1.0), "beta_1"), (dict(beta_2=-0.5), "beta_2"),
     (dict(epsilon=0.0), "epsilon"), (dict(global_clipnorm=0.0), "global_clipnorm"),
     (dict(exclude_from_weight_decay=["("]), "exclude_from_weight_decay"),
     (dict(exclude_from_layer_adaptation=[3]), "exclude_from_layer_adaptation")],
)
def test_lamb_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        LAMB(1e-3, **kwargs)


def _tiny_keras_model():
    """Dense + LayerNormalization + Dense with fixed numpy weights (identical in every process)."""
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="tanh", name="dense"),
        keras.layers.LayerNormalization(name="layer_norm"),
        keras.layers.Dense(1, name="out"),
    ])
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(1.0 if "gamma" in w.name else 0.0, 0.5, w.shape) for w in model.weights])
    return model


def _tiny_lamb():
    return build_optimizer("lamb", WarmupDecay(1e-2, 1, 5), weight_decay=0.01, global_clipnorm=1.0)


def _fit_tiny(optimizer, jit_compile=False, steps=3):
    """(per-step losses, final weights) of `steps` steps of global batch 8 (mse) from the fixed weights."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8 * steps, 6)).astype(np.float32), rng.normal(size=(8 * steps, 1)).astype(np.float32)
    model = _tiny_keras_model()
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    history = model.fit(x, y, batch_size=8, epochs=steps, steps_per_epoch=1, shuffle=False, verbose=0).history
    return history["loss"], [w.numpy() for w in model.weights]


@pytest.fixture(scope="module")
def tiny_lamb_fit():
    """The reference: the tiny model fitted with LAMB in a plain graph on one device."""
    return _fit_tiny(_tiny_lamb())


def test_fit_with_jit_compile_matches_the_plain_graph(tiny_lamb_fit):
    """model.compile(jit_compile=True) + the optimizer's own XLA update (as Keras runs it on GPUs) give the weights
    of the plain graph."""
    optimizer = _tiny_lamb()
    optimizer.jit_compile = True
    losses, weights = _fit_tiny(optimizer, jit_compile=True)
    reference_losses, reference = tiny_lamb_fit
    assert reference_losses[-1] < reference_losses[0]
    assert max(np.abs(a - b.numpy()).max() for a, b in zip(reference, _tiny_keras_model().weights)) > 1e-3  # trained
    np.testing.assert_allclose(losses, reference_losses, rtol=1e-5)
    for a, b in zip(weights, reference):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- MirroredStrategy (subprocess) -----------------------------------------------------------------------------------
CLIPNORM, SPLIT_STEPS = 0.5, 3


def _split_problem():
    """Per-step gradients for 2 replicas (float32), each with a norm well above CLIPNORM, so clipping before the
    all-reduce (per replica) would give a different update from clipping after it."""
    initial, _ = _problem(seed=3)
    rng = np.random.default_rng(4)
    replica_grads = [[{k: rng.normal(size=v.shape).astype(np.float32) for k, v in initial.items()} for _ in range(2)]
                     for _ in range(SPLIT_STEPS)]
    return initial, replica_grads


def _split_optimizer(name):
    if name == "sgd":
        return build_optimizer("sgd", 0.1, global_clipnorm=CLIPNORM)
    return build_optimizer(name, WarmupDecay(0.05, 1, 4), weight_decay=0.1, global_clipnorm=CLIPNORM)


def _apply_split(strategy, name):
    """SPLIT_STEPS steps of `name` where replica i's gradient is replica_grads[step][i] (one replica: their sum)."""
    initial, replica_grads = _split_problem()
    with strategy.scope():
        variables = [tf.Variable(value, name=key) for key, value in initial.items()]
        optimizer = _split_optimizer(name)

    @tf.function
    def step(first, second):
        def replica_fn(first, second):
            context = tf.distribute.get_replica_context()
            if context.num_replicas_in_sync == 1:
                grads = [a + b for a, b in zip(first, second)]
            else:
                grads = [tf.where(context.replica_id_in_sync_group == 0, a, b) for a, b in zip(first, second)]
            optimizer.apply_gradients(zip(grads, variables))

        strategy.run(replica_fn, args=(first, second))

    for first, second in replica_grads:
        step([tf.constant(first[k]) for k in initial], [tf.constant(second[k]) for k in initial])
    return {key: v.numpy().tolist() for key, v in zip(initial, variables)}


def _distributed_main():
    """Everything under MirroredStrategy over 2 logical CPUs; the test process compares with one-device runs."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    result = {"replicas": mirrored.num_replicas_in_sync}
    for name in ("sgd", "adamw", "lamb"):
        result[name] = _apply_split(mirrored, name)
    with mirrored.scope():
        losses, weights = _fit_tiny(_tiny_lamb())
    result["fit"] = {"losses": losses, "weights": [w.tolist() for w in weights]}
    return result


@pytest.fixture(scope="module")
def _distributed_process():
    process = subprocess_json.start("tests.training.test_optimization")
    yield process
    subprocess_json.stop(process)


@pytest.fixture(scope="module", autouse=True)
def _start_distributed_early(request):
    """Start the subprocess with the first test of this module when any selected test needs it, so it runs while the
    in-process tests do."""
    ours = [item for item in request.session.items if getattr(item, "module", None) is request.module]
    if any("distributed" in item.fixturenames for item in ours):
        request.getfixturevalue("_distributed_process")


@pytest.fixture(scope="module")
def distributed(_distributed_process):
    return subprocess_json.result(_distributed_process, TIMEOUT_S, "MirroredStrategy")


def test_global_clipnorm_clips_after_the_cross_replica_sum(distributed):
    assert distributed["replicas"] == 2
    initial, replica_grads = _split_problem()
    expected = {k: v.astype(np.float64) for k, v in initial.items()}
    for first, second in replica_grads:
        clipped = clip_reference([first[k] + second[k] for k in initial], CLIPNORM)
        expected = {k: expected[k] - 0.1 * g for k, g in zip(initial, clipped)}
    # The data has teeth: clipping each replica's gradient before the sum would move the weights elsewhere.
    per_replica = {k: v.astype(np.float64) for k, v in initial.items()}
    for first, second in replica_grads:
        parts = [clip_reference([grads[k] for k in initial], CLIPNORM) for grads in (first, second)]
        per_replica = {k: per_replica[k] - 0.1 * (parts[0][i] + parts[1][i]) for i, k in enumerate(initial)}
    assert max(np.abs(per_replica[k] - expected[k]).max() for k in initial) > 1e-2
    for key in initial:
        np.testing.assert_allclose(distributed["sgd"][key], expected[key], atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", ["sgd", "adamw", "lamb"])
def test_one_device_split_runs_match_mirrored(distributed, name):
    one_device = _apply_split(tf.distribute.get_strategy(), name)
    for key, value in one_device.items():
        np.testing.assert_allclose(distributed[name][key], value, rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_mirrored_updates_equal_the_single_device_reference(distributed, name):
    initial, replica_grads = _split_problem()
    summed = [clip_reference([first[k] + second[k] for k in initial], CLIPNORM) for first, second in replica_grads]
    lrs = [schedule_reference(s, 0.05, 1, 4, "linear") for s in range(SPLIT_STEPS)]
    for i, key in enumerate(initial):
        excluded = key in EXCLUDED
        expected = optimizer_reference(initial[key], [g[i] for g in summed], lrs, wd=0.0 if excluded else 0.1,
                                       lamb=name == "lamb", adapt=not excluded)
        np.testing.assert_allclose(distributed[name][key], expected, rtol=1e-5, atol=1e-6, err_msg=key)


def test_lamb_fit_under_mirrored_strategy_matches_one_device(distributed, tiny_lamb_fit):
    losses, weights = tiny_lamb_fit
    np.testing.assert_allclose(distributed["fit"]["losses"], losses, rtol=1e-5)
    for a, b in zip(distributed["fit"]["weights"], weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- a real model, the factory, global_norm --------------------------------------------------------------------------
@pytest.mark.parametrize("name, learning_rate, policy", [("lamb", 5e-2, "float32"), ("adamw", 1e-2, "mixed_float16")])
def test_tiny_bert_pretrainer_learns(name, learning_rate, policy, rng, bert_pretrainer):
    """Task.train_step (run eagerly: tracing BERT's train step costs more than these steps) with our optimizers;
    under mixed_float16 Keras wraps AdamW in a LossScaleOptimizer."""
    from tfpretrain.models.bert.bert_pretrainer import BertPretrainer

    keras.mixed_precision.set_global_policy(policy)
    model = bert_pretrainer if policy == "float32" else BertPretrainer(factories.bert_backbone())
    schedule = WarmupDecay(learning_rate, 0, 20)
    model.compile(optimizer=build_optimizer(name, schedule, weight_decay=0.01, global_clipnorm=1.0), run_eagerly=True)
    assert isinstance(model.optimizer, keras.mixed_precision.LossScaleOptimizer) == (policy == "mixed_float16")
    features = factories.bert_pretraining_features(rng)
    losses = [model.train_on_batch(features, return_dict=True)["loss"] for _ in range(5)]
    assert np.isfinite(losses).all() and losses[-1] < 0.9 * losses[0], losses


def test_build_optimizer_choices():
    assert isinstance(build_optimizer("adamw", 1e-3, weight_decay=0.01), AdamW)
    lamb = build_optimizer("lamb", 1e-3, weight_decay=0.01, global_clipnorm=2.0, beta_2=0.99)
    assert isinstance(lamb, LAMB) and (lamb.global_clipnorm, lamb.beta_2, lamb.weight_decay) == (2.0, 0.99, 0.01)
    adam = build_optimizer("adam", 1e-3, global_clipnorm=1.0)
    assert type(adam) is keras.optimizers.Adam and adam.global_clipnorm == 1.0
    sgd = build_optimizer("sgd", 0.1, momentum=0.9)
    assert type(sgd) is keras.optimizers.SGD and sgd.momentum == 0.9
    with pytest.raises(ValueError, match="takes no weight_decay.*'adamw' or 'lamb'"):
        build_optimizer("sgd", 0.1, weight_decay=0.01)
    with pytest.raises(ValueError, match="global_clipnorm"):
        build_optimizer("adam", 0.1, global_clipnorm=-1.0)


@pytest.mark.parametrize("name", ["adafactor", "Adam", "", None])
def test_build_optimizer_rejects_unknown_names(name):
    with pytest.raises(ValueError, match=r"unknown optimizer .*expected one of adamw, lamb, adam, sgd"):
        build_optimizer(name, 1e-3)


def test_global_norm_ignores_none_and_handles_sparse_and_float16():
    dense = tf.constant([3.0, 0.0])
    sparse = tf.IndexedSlices(tf.constant([[1.0, 1.0], [1.0, 1.0]]), tf.constant([0, 0]), tf.constant([3, 2]))
    # the sparse rows share index 0: densified [[2, 2], [0, 0], [0, 0]] has norm sqrt(8)
    assert float(global_norm([dense, None, sparse])) == pytest.approx(math.sqrt(9 + 8))
    assert float(global_norm({"a": tf.constant([300.0, 400.0], tf.float16)})) == pytest.approx(500.0)
    big = tf.fill([4], tf.constant(60000.0, tf.float16))  # squares overflow float16
    assert float(global_norm([big])) == pytest.approx(120000.0)
    assert float(global_norm([None, None])) == 0.0
    assert global_norm([dense]).dtype == tf.float32


if __name__ == "__main__":
    print(json.dumps(_distributed_main()), flush=True)
