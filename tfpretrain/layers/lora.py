"""Low-rank adapter around a Dense projection (Hu et al. 2021, "LoRA"): y = W x + b + (alpha / r) B A x."""

import tensorflow as tf

from tfpretrain.keras import keras


class LoRADense(keras.layers.Layer):
    """A built, linear Dense `base` [d_in -> d_out] plus `splits` adapters, one per equal block of its output (a
    fused query/key/value projection: 3, each projection its own adapter):

        y = base(x) + (alpha / r) concat_s(B_s A_s x)      A_s [d_in, r] random, B_s [r, d_out / splits] zeros

    so the adapted layer computes exactly what `base` computes until B moves. The A_s read the same x, so they are
    one Dense `down` [d_in, splits * r]; each B_s is a Dense `up[s]`. Plain bias-free Dense layers: ghost clipping
    records them as it records any Dense. `merged_kernel()` is W + (alpha / r) [A_1 B_1 | ... | A_s B_s]: adapted
    models are merged back into plain Dense layers before they are saved (training/lora.py), so this layer has no
    Keras config.
    """

    def __init__(self, base, rank, alpha, splits=1, **kwargs):
        kwargs.setdefault("dtype", base.dtype_policy)
        super().__init__(**kwargs)
        if not base.built or base.activation not in (None, keras.activations.linear):
            raise ValueError(f"LoRA wraps a built Dense without activation; {base.name} is not one")
        out = base.kernel.shape[-1]
        if int(rank) < 1 or int(splits) < 1 or out % int(splits):
            raise ValueError(f"{base.name}: rank {rank} must be >= 1 and splits {splits} must divide {out}")
        self.base, self.rank, self.alpha, self.splits = base, int(rank), float(alpha), int(splits)
        self.scale = self.alpha / self.rank
        # PEFT's kaiming_uniform(a=sqrt(5)) for A: uniform(+-1/sqrt(d_in)) = variance scaling 1/3, fan_in, uniform
        uniform = keras.initializers.VarianceScaling(1 / 3, "fan_in", "uniform")
        self.down = keras.layers.Dense(self.splits * self.rank, use_bias=False, kernel_initializer=uniform,
                                       dtype=self.dtype_policy, name="lora_down")
        self.up = [keras.layers.Dense(out // self.splits, use_bias=False, kernel_initializer="zeros",
                                      dtype=self.dtype_policy, name=f"lora_up_{s}") for s in range(self.splits)]

    def build(self, input_shape):
        with tf.name_scope(self.down.name):
            self.down.build(input_shape)
        for up in self.up:
            with tf.name_scope(up.name):
                up.build(tf.TensorShape(input_shape)[:-1].concatenate([self.rank]))
        super().build(input_shape)

    def call(self, inputs):  # [B, ..., d_in] -> [B, ..., d_out]
        low = tf.split(self.down(inputs), self.splits, axis=-1)  # splits x [B, ..., r]
        delta = tf.concat([up(part) for up, part in zip(self.up, low)], axis=-1)  # [B, ..., d_out]
        return self.base(inputs) + tf.cast(self.scale, delta.dtype) * delta

    def merged_kernel(self):
        """[d_in, d_out]: W + (alpha / r) [A_1 B_1 | ... | A_s B_s], in the kernel's dtype."""
        downs = tf.split(self.down.kernel, self.splits, axis=-1)  # splits x [d_in, r]
        delta = tf.concat([tf.matmul(a, up.kernel) for a, up in zip(downs, self.up)], axis=-1)  # [d_in, d_out]
        return self.base.kernel + tf.cast(self.scale, delta.dtype) * delta

