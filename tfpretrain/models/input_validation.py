"""One clear ValueError for malformed model inputs (wrong container, key, dtype, rank or length)."""

import tensorflow as tf


def validate_token_inputs(inputs, required_keys, max_sequence_length, model_name):
    """Static checks only (no ops are added to the graph): TPU- and XLA-safe."""
    if not isinstance(inputs, dict):
        raise ValueError(
            f"{model_name} expects a dict of tensors with keys {list(required_keys)}, got {type(inputs).__name__}"
        )
    missing = [k for k in required_keys if k not in inputs]
    if missing:
        raise ValueError(f"{model_name} inputs are missing key(s) {missing}; got keys {sorted(inputs)}")
    for key in required_keys:
        value = inputs[key]
        dtype = tf.as_dtype(getattr(value, "dtype", None) or tf.convert_to_tensor(value).dtype)
        if not (dtype.is_integer or dtype == tf.bool):
            raise ValueError(f"{model_name} input '{key}' must be an integer tensor (int32), got {dtype.name}")
        shape = tf.TensorShape(getattr(value, "shape", None))
        if shape.rank is not None and shape.rank != 2:
            raise ValueError(f"{model_name} input '{key}' must have rank 2 [batch, sequence], got shape {shape}")
        length = shape[1] if shape.rank == 2 else None
        if length is not None and length > max_sequence_length:
            raise ValueError(
                f"{model_name} input '{key}' has sequence length {length}, longer than "
                f"max_sequence_length={max_sequence_length}"
            )
