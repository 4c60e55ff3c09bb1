"""benchmarks/op_profile.py: ops put in the right category, and op time summed as the profile's events say.

The XSpace protos here are written by hand with known events, so every expected sum is arithmetic on those
durations; the op names are ones the profiled BERT steps (ours and Model Garden's) really carry."""

import json

import pytest

from tests.support import load_benchmark

op_profile = load_benchmark("op_profile")

REAL_OPS = [  # (op_type, op_name, HLO opcode or None) -> category, assigned by reading the name
    ("MatMul", "gradient_tape/bert_pretrainer/mlm_head/token_embedding/MatMul/MatMul", "dot", "matmul"),
    ("Einsum", "bert/bert_encoder/transformer/layer_0/self_attention/query/einsum/Einsum", None, "matmul"),
    ("Einsum", "bert/bert_encoder/transformer/layer_0/intermediate/einsum/Einsum", "fusion", "matmul"),
    ("BatchMatMulV2", "gradient_tape/bert_pretrainer/bert_backbone/attention/einsum/MatMul", None, "matmul"),
    ("Erfc", "bert_pretrainer/bert_backbone/transformer_layer_0/intermediate/Gelu/Erfc", "fusion", "gelu"),
    ("Mul", "bert/bert_encoder/transformer/layer_1/activation/Gelu/mul_1", None, "gelu"),
    ("StatelessRandomUniformV2", "bert_pretrainer/bert_backbone/transformer_layer_0/attention/dropout/"
     "stateless_random_uniform/StatelessRandomUniformV2", "fusion", "dropout"),
    ("RandomUniform", "bert/bert_encoder/transformer/layer_0/dropout/random_uniform/RandomUniform", None, "dropout"),
    ("SparseSoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits_1/SparseSoftmaxCrossEntropyWithLogits",
     "fusion", "softmax_cross_entropy"),
    ("Softmax", "bert_pretrainer/bert_backbone/transformer_layer_2/attention/Softmax", None, "softmax_cross_entropy"),
    ("Mean", "bert_pretrainer/bert_backbone/transformer_layer_3/ffn_norm/moments/mean", "fusion", "layer_norm"),
    ("Mul", "bert/bert_encoder/transformer/layer_0/output_layer_norm/batchnorm/mul", None, "layer_norm"),
    ("UnsortedSegmentSum", "AddN_35/inputs_1", "scatter", "gather_gradient"),
    ("UnsortedSegmentSum", "gradient_tape/bert_pretrainer/mlm_head/UnsortedSegmentSum", None, "gather_gradient"),
    ("AssignSubVariableOp", "Adam/AssignSubVariableOp_12", "fusion", "optimizer_update"),
    ("Sqrt", "Adam/Sqrt_3", None, "optimizer_update"),
    ("L2Loss", "global_norm/L2Loss_40", "fusion", "optimizer_update"),
    ("AddV2", "bert_pretrainer/mlm_head/add", "fusion", "other"),
    ("Unpack", "bert_pretrainer/bert_backbone/transformer_layer_1/attention/unstack", None, "other"),
]


@pytest.mark.parametrize("op_type, op_name, opcode, expected", REAL_OPS)
def test_each_real_op_lands_in_its_category(op_type, op_name, opcode, expected):
    assert op_profile.categorize(op_type, op_name, opcode) == expected


MS = 10**9  # picoseconds per millisecond


def _write_space(path, lines):
    """lines: {line id: [(name, start ms, duration ms)]} on the host CPU plane."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    for line_id, events in lines.items():
        line = plane.lines.add(id=line_id)
        for name, start, duration in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].name = name
            line.events.add(metadata_id=ids[name], offset_ps=start * MS, duration_ps=duration * MS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(space.SerializeToString())


HLO = """HloModule a_inference_run_step_1, entry_computation_layout={()->f32[]}
%rng.4 (s: u64[2]) -> f32[8] {
  %s = u64[2]{0} parameter(0)
  ROOT %bits_fusion = u32[8]{0} fusion(%s), kind=kLoop, calls=%fused_computation.2
}
%fused_computation.1 (p: f32[8]) -> f32[8] {
  %p = f32[8]{0} parameter(0)
  ROOT %erfc.1 = f32[8]{0} erfc(f32[8]{0} %p), metadata={op_type="Erfc" op_name="m/layer_0/intermediate/Gelu/Erfc"}
}
ENTRY %main.9 () -> f32[] {
  %MatMul.3 = f32[640,256]{1,0} dot(%a, %b), lhs_contracting_dims={1}, metadata={op_type="MatMul" op_name="m/d/MatMul"}
  %call.2 = (f32[8]{0}, s32[]) call(%c), to_apply=%rng.4, metadata={op_type="StatelessRandomUniformV2" op_name="m/a/r"}
  %add_fusion = f32[8]{0} fusion(%d), kind=kLoop, calls=%fused_computation.1
  %gelu_fusion = f32[8]{0} fusion(%e), calls=%fused_computation.1, metadata={op_type="Erfc" op_name="m/l0/Gelu/Erfc"}
  %partial_max = f32[8]{0} fusion(%x), kind=kLoop, calls=%fused_computation.3
  %softmax.6 = f32[8]{0} fusion(%partial_max, %x), metadata={op_type="Softmax" op_name="m/a/Softmax"}
  ROOT %scatter.5 = f32[97,16]{1,0} scatter(%f, %g), metadata={op_type="UnsortedSegmentSum" op_name="AddN_3/inputs_1"}
}
"""


def test_xla_thunks_are_summed_through_the_hlo_dump(tmp_path):
    # Two profiling sessions of one step each. Thread 1: a dot with a thunk inside it (not counted twice), a call
    # (not counted itself) running a fusion without metadata in the called computation: dropout work, 12 ms; a
    # fusion of the entry computation without metadata: other, 8 ms; a GELU fusion, a gather gradient, a partial
    # reduction without metadata that a softmax consumes: softmax, 3 ms.
    # Thread 2, at the same time: another dot and (partitioned work of the call) random bits. Unknown events (the
    # executor's own) are ignored.
    (tmp_path / "hlo").mkdir()
    (tmp_path / "hlo" / "module_0001.a_inference_run_step_1.cpu_after_optimizations.txt").write_text(HLO)
    for session in ("round0", "round1"):
        _write_space(tmp_path / "profile" / session / "host.xplane.pb", {
            1: [("ThunkExecutor::Execute", 0, 100), ("MatMul.3", 0, 40), ("add_fusion", 10, 5),
                ("call.2", 40, 30), ("bits_fusion", 41, 12), ("add_fusion", 55, 8),
                ("gelu_fusion", 70, 6), ("scatter.5", 80, 4), ("partial_max", 90, 3)],
            2: [("MatMul.3", 0, 30), ("train_function", 0, 100), ("bits_fusion", 41, 7)],
        })
    found = op_profile.breakdown(tmp_path / "profile", steps=2, hlo_dump_dir=tmp_path / "hlo")
    ms = {c: round(s * 1e3, 6) for c, s in found.seconds.items()}
    assert ms == {"matmul": 70.0, "softmax_cross_entropy": 3.0, "layer_norm": 0.0, "gelu": 6.0, "dropout": 19.0,
                  "gather_gradient": 4.0, "optimizer_update": 0.0, "other": 8.0}
    assert found.total == pytest.approx(0.110)
    assert sum(found.shares().values()) == pytest.approx(1.0)
    assert found.top_ops["matmul"] == [("MatMul m/d", pytest.approx(0.070))]


def test_executor_op_events_are_summed_without_a_dump(tmp_path):
    # Without XLA: "scope/name:OpType" events; a function-call op is not counted itself, the ops in it are.
    _write_space(tmp_path / "p" / "host.xplane.pb", {
        7: [("ExecutorState::Process", 0, 90), ("m/dense/Tensordot/MatMul:MatMul", 0, 50),
            ("m/f/PartitionedCall:StatefulPartitionedCall", 50, 30), ("Adam/sub_2:Sub", 52, 10),
            ("m/attention_norm/moments/mean:Mean", 70, 9), ("EagerLocalExecute: __inference_train_function_1", 0, 90)],
    })
    found = op_profile.breakdown(tmp_path / "p", steps=1)
    ms = {c: round(s * 1e3, 6) for c, s in found.seconds.items() if s}
    assert ms == {"matmul": 50.0, "optimizer_update": 10.0, "layer_norm": 9.0}


def test_a_profile_without_op_events_is_refused(tmp_path):
    _write_space(tmp_path / "p" / "host.xplane.pb", {1: [("ExecutorState::Process", 0, 9)]})
    with pytest.raises(ValueError, match="no op events"):
        op_profile.breakdown(tmp_path / "p", steps=1)
    with pytest.raises(FileNotFoundError, match="xplane"):
        op_profile.breakdown(tmp_path / "empty", steps=1)


def test_a_real_optimised_hlo_module_maps_its_ops(tmp_path):
    """XLA's own optimised HLO text for a dense layer, dropout from our layer and a softmax cross-entropy: every dot
    is a matmul; every fusion (what XLA:CPU runs as a thunk) has an op; the dropout and softmax work is found.
    (Attribution of instructions without metadata is tested above, on a module written for it.)"""
    import tensorflow as tf

    from tfpretrain.layers.dropout import Dropout

    dense, drop = tf.keras.layers.Dense(8), Dropout(0.1, seed=3)
    labels = tf.constant([1, 2, 3, 0])

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            logits = drop(dense(x), training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return tape.gradient(loss, dense.trainable_variables)

    x = tf.random.normal([4, 16])
    step(x)
    text = step.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    (tmp_path / "m.txt").write_text(text)
    table = op_profile.hlo_instructions(tmp_path / "m.txt")
    category = {name: op_profile.categorize(op[1], op[2], op[0]) for name, op in table.items()}
    dots = [name for name, op in table.items() if op[0] == "dot"]
    assert dots and all(category[name] == "matmul" for name in dots)
    fusions = [name for name, op in table.items() if op[0] == "fusion"]
    assert fusions and all(table[name][1] for name in fusions), {n: table[n] for n in fusions}
    assert {"dropout", "softmax_cross_entropy"} <= {category[name] for name in fusions}


def test_profile_step_runs_and_prints_its_json(tmp_path, capsys):
    """The script end to end at a tiny size (executor ops; the XLA path's mapping is tested above): its JSON has
    every category, shares that add up, and the op kinds. Never asserts on timings."""
    profile_step = load_benchmark("profile_step")
    profile_step.main(["--quick", "--json", "--rounds", "1", "--steps", "1", "--warmup", "1", "--jit", "off",
                       "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    (ours,) = report["models"]
    assert ours["jit_compile"] is False and ours["op_s_per_step"] > 0 and 0 < ours["busy_fraction"]
    assert set(ours["categories"]) == set(op_profile.CATEGORIES)
    assert ours["categories"]["matmul"]["s"] > 0 and ours["categories"]["optimizer_update"]["s"] > 0
    assert sum(c["share"] for c in ours["categories"].values()) == pytest.approx(1.0)
    assert "profiled steps" in profile_step.format_report(report)
