"""One harness for every model test (after keras-hub's run_backbone_test / run_task_test): a backbone or a task is
checked for its outputs, config round trip, save / load and XLA, each check against an independent run of the model.

    check_model(lambda: BertPretrainer(factories.bert_backbone()), features, {"mlm_logits": (4, 4, 97), ...}, tmp_path)

`build` makes a fresh model (fresh random weights each call); `features` is one flat dict of numpy arrays holding the
model's inputs and, for a task, its labels.
"""

import contextlib
import json

import numpy as np
import tensorflow as tf

from tfpretrain.keras import keras
from tfpretrain.models.task import Task


def check_model(build, features, output_shapes, tmp_path, train_steps=15):
    """output_shapes: {output key: shape} for dict outputs, else one shape. Every output is float32 (the tests run under
    the float32 policy). A task's XLA check trains a fixed batch for 2 x train_steps steps and expects a lower loss."""
    model = build()
    inputs = {k: features[k] for k in model.input_keys}
    outputs = _numpy(model(inputs, training=False))
    with _check("outputs"):
        _check_outputs(outputs, output_shapes)
    with _check("config round trip"):
        _check_config_round_trip(model, inputs, outputs)
    with _check("weights save / load"):
        _check_weights_round_trip(model, build, inputs, outputs, tmp_path)
    with _check("SavedModel save / load"):
        loaded = _check_saved_model(model, inputs, outputs, tmp_path)
    with _check("XLA"):
        if isinstance(model, Task):
            # The revived task is the one trained: one train_step trace and compile show both that a SavedModel's
            # custom train_step still trains and that it trains under XLA.
            _check_xla_task(loaded, features, inputs, outputs, train_steps)
        else:
            _check_xla_backbone(model, inputs, outputs)
    return model


@contextlib.contextmanager
def _check(name):
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"{name}: {error}") from error


def _numpy(outputs):
    """Model outputs as {key: numpy} (a single output under the key None)."""
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    return {None: np.asarray(outputs)}


def _assert_same(got, expected, atol=1e-6, rtol=0.0):
    got = _numpy(got)
    assert sorted(got, key=str) == sorted(expected, key=str), f"output keys {sorted(got, key=str)}"
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, atol=atol, rtol=rtol, err_msg=f"output {key}")


def _assert_differs(got, expected):
    """Guards the round trips: a freshly initialised model must not already give the outputs."""
    got = _numpy(got)
    assert any(not np.allclose(got[k], v, atol=1e-4) for k, v in expected.items()), "a fresh model gives these outputs"


def _check_outputs(outputs, output_shapes):
    shapes = output_shapes if isinstance(output_shapes, dict) else {None: output_shapes}
    assert set(outputs) == set(shapes), f"output keys {sorted(outputs, key=str)}, expected {sorted(shapes, key=str)}"
    for key, shape in shapes.items():
        assert outputs[key].shape == tuple(shape), f"{key}: shape {outputs[key].shape}, expected {tuple(shape)}"
        assert outputs[key].dtype == np.float32, f"{key}: dtype {outputs[key].dtype}"
        assert np.isfinite(outputs[key]).all(), f"{key}: not finite"


def _check_config_round_trip(model, inputs, outputs):
    """get_config is JSON (as a saved model stores it); from_config of it rebuilds the same model, directly and through
    Keras' registered-name deserialisation."""
    config = json.loads(json.dumps(model.get_config()))
    for clone in (type(model).from_config(config),
                  keras.layers.deserialize(json.loads(json.dumps(keras.layers.serialize(model))))):
        assert type(clone) is type(model)
        assert clone.get_config() == model.get_config()
        _assert_differs(clone(inputs, training=False), outputs)
        clone.set_weights(model.get_weights())
        _assert_same(clone(inputs, training=False), outputs)


def _check_weights_round_trip(model, build, inputs, outputs, tmp_path):
    for suffix in ("ckpt", "weights.h5"):  # TF checkpoint and Keras H5
        path = str(tmp_path / f"model.{suffix}")
        model.save_weights(path)
        other = build()
        _assert_differs(other(inputs, training=False), outputs)
        other.load_weights(path)
        _assert_same(other(inputs, training=False), outputs)


def _check_saved_model(model, inputs, outputs, tmp_path):
    """A SavedModel (of a compiled task too) revives the registered class with its outputs. -> the loaded model."""
    if isinstance(model, Task):
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.save(tmp_path / "saved")
    loaded = keras.models.load_model(tmp_path / "saved")
    assert type(loaded) is type(model), f"loaded a {type(loaded).__name__}"
    _assert_same(loaded(inputs, training=False), outputs)
    return loaded


def _check_xla_backbone(model, inputs, outputs):
    """The model compiled by XLA gives the eager outputs, and its XLA training gradient equals the eager one."""
    variables = model.trainable_variables

    def gradients(inputs):
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(tf.square(o)) for o in tf.nest.flatten(model(inputs, training=True))])
        return tape.gradient(loss, variables)

    # One XLA compile for both (each compile costs seconds, even for a tiny model).
    compiled_outputs, compiled = tf.function(lambda x: (model(x, training=False), gradients(x)), jit_compile=True)(
        inputs)
    _assert_same(compiled_outputs, outputs, atol=1e-5, rtol=1e-5)
    eager = gradients(inputs)
    assert all(g is not None for g in eager), "a variable gets no gradient"
    for variable, a, b in zip(variables, eager, compiled):
        a, b = tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy()
        # XLA fuses and reorders float32 sums, and a sum's rounding error scales with its terms, not its result: an
        # entry that cancels to -0.006 among terms of ~50 differed by 1.3e-4 (GPT-2 token embedding, 2026-12-03).
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=max(1e-4, 1e-5 * float(np.abs(a).max())),
                                   err_msg=f"gradient of {variable.name}")


def _check_xla_task(model, features, inputs, outputs, train_steps):
    """predict under XLA gives the eager outputs; fit compiles the task's custom train_step with jit_compile=True (the
    TPU-shape contract) and learns a fixed batch, logging exactly the task's metrics."""
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=True)
    _assert_same(model.predict(inputs, verbose=0), outputs, atol=1e-5, rtol=1e-5)
    data = tf.data.Dataset.from_tensors(features).repeat()
    history = model.fit(data, steps_per_epoch=train_steps, epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0], f"loss {history['loss']}"
    assert set(history) == {m.name for m in model.metrics} and "gradient_norm" in history
