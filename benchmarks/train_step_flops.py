"""benchmarks/train_step.py's yardsticks: the useful FLOPs of a training step, counted analytically, and the best
dense float32 matmul rate this process reaches (the denominator of useful_flops_fraction)."""

import dataclasses
import statistics
import time

import tensorflow as tf


# -- FLOPs -----------------------------------------------------------------------------------------------------
def useful_flops_per_step(family, cfg):
    """Analytic matmul FLOPs of one training step (forward x 3), counting only the work the task needs."""
    b, s, h, i = cfg.batch_size, cfg.sequence_length, cfg.hidden_dim, cfg.intermediate_dim
    tokens = b * s
    per_layer = (
        2 * tokens * h * 3 * h  # fused QKV projection
        + 2 * tokens * h * h  # attention output projection
        + 2 * 2 * tokens * h * i  # FFN in and out
        + 2 * 2 * tokens * s * h  # scores QK^T and context PV, all heads, full S x S
    )
    forward = cfg.num_layers * per_layer
    v = cfg.vocabulary_size(family)
    if family == "bert":
        predictions = b * cfg.masked_positions
        forward += 2 * b * h * h + 2 * b * h * 2  # pooler, NSP head
        forward += 2 * predictions * h * h + 2 * predictions * h * v  # MLM transform + vocab projection at P only
    else:
        forward += 2 * tokens * h * v  # tied vocabulary projection at every position
    return 3 * forward


# -- timing ----------------------------------------------------------------------------------------------------
MATMUL_SHAPES = ((4096, 256, 1024), (4096, 1024, 256), (2048, 2048, 2048))


@dataclasses.dataclass
class MatmulRate:
    """Best dense float32 matmul rate seen so far: per wall-clock second and per process CPU-second."""

    flops_per_s: float = 0.0
    flops_per_cpu_s: float = 0.0
    label: str = ""

    def measure(self, repeats=8, shapes=MATMUL_SHAPES):
        """Time `tf.matmul` of each shape, with and without XLA (median of `repeats` calls); keep the best."""
        for m, k, n in shapes:
            a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
            for jit in (False, True):
                fn = tf.function(lambda x, y: tf.matmul(x, y)[:1, :1], jit_compile=jit)
                fn(a, b).numpy()  # trace / compile
                wall, cpu = [], []
                for _ in range(repeats):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    fn(a, b).numpy()  # the 1x1 slice only forces completion
                    wall.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
                flops = 2 * m * k * n
                if flops / statistics.median(wall) > self.flops_per_s:
                    self.flops_per_s = flops / statistics.median(wall)
                    self.label = f"{m}x{k} @ {k}x{n}, jit_compile={jit}"
                if statistics.median(cpu) > 0:
                    self.flops_per_cpu_s = max(self.flops_per_cpu_s, flops / statistics.median(cpu))
        return self
