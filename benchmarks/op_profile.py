"""Where a train step's time goes: the op events of a TensorFlow profile, summed per kind of work.

Reads the XSpace (`*.xplane.pb`) that `tf.profiler.experimental` writes. Without XLA the executor records one
event per TensorFlow op, named "op_name:OpType". With XLA (jit_compile) XLA:CPU records one event per thunk, named
after the optimised HLO instruction ("MatMul.124", "add_bitcast_fusion"); the HLO dump (XLA_FLAGS=--xla_dump_to=DIR
--xla_dump_hlo_as_text) maps each instruction to its opcode and to the TensorFlow op it came from (its metadata
op_type / op_name; a fusion carries its root's). Either way each op is put in one CATEGORY by `categorize`, and
time is summed over every thread: op time per step is CPU-thread time, which can exceed the wall time.

Control flow carries no work of its own: XLA call / while / conditional thunks and TensorFlow function-call and
control-flow ops are skipped and the ops they run counted (an HLO instruction without metadata inside a called
computation is attributed to its caller's op). Of the remaining, only outermost events count.
"""

import collections
import dataclasses
import glob
import os
import re

CATEGORIES = ("matmul", "softmax_cross_entropy", "layer_norm", "gelu", "dropout", "gather_gradient",
              "optimizer_update", "other")

_OPTIMIZER = re.compile(r"(^|/)(Adam|AdamW|SGD|adam|global_norm|clip_by_global_norm)(_\d+)?(/|$)")
_LAYER_NORM = re.compile(r"layer_norm|layernorm|LayerNorm|_norm/|/norm/|batchnorm", re.IGNORECASE)
_SOFTMAX = re.compile(r"softmax|cross_?entropy|log_?prob", re.IGNORECASE)
_MATMUL_TYPES = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "_FusedMatMul"}
_SCATTER_TYPES = {"UnsortedSegmentSum", "ScatterNd", "TensorScatterAdd", "ResourceScatterAdd", "SparseSegmentSum"}
_CONTROL_OPCODES = {"call", "while", "conditional", "async-start", "async-done"}
_CONTROL_TYPES = {"PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If", "StatelessIf",
                  "Case", "StatelessCase"}
_TF_OP = re.compile(r"[^:\s]+:[A-Z_]\w*")  # "scope/name:OpType", not "ExecutorState::Process"
_RANDOM = re.compile(r"Random|RngBitGenerator|RngReadAndSkip|Philox")


def categorize(op_type, op_name, opcode=None):
    """-> one of CATEGORIES for an op, from its TensorFlow op type and name (and its HLO opcode under XLA)."""
    op_type, op_name = op_type or "", op_name or ""
    if opcode in ("dot", "convolution") or op_type in _MATMUL_TYPES:  # incl. a fusion whose root is a matmul
        return "matmul"
    if opcode == "scatter" or op_type in _SCATTER_TYPES:
        return "gather_gradient"  # a gather's gradient: the embedding tables', the masked positions'
    if _OPTIMIZER.search(op_name) or op_type.startswith(("ResourceApply", "Apply", "Assign")):
        return "optimizer_update"
    if "dropout" in op_name.lower() or _RANDOM.search(op_type) or opcode == "rng-bit-generator":
        return "dropout"
    if "gelu" in op_name.lower():
        return "gelu"
    if _SOFTMAX.search(op_type) or _SOFTMAX.search(op_name):
        return "softmax_cross_entropy"
    if _LAYER_NORM.search(op_name) or op_type in ("FusedBatchNormV3", "FusedBatchNormGradV3"):
        return "layer_norm"
    return "other"


_INSTRUCTION = re.compile(r"^\s+(?:ROOT\s+)?%?([\w.\-]+) = (?:\([^=]*?\)|\S+) ([a-z][\w\-]*)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+) ")
_METADATA = re.compile(r'metadata=\{[^}]*?op_type="([^"]*)"[^}]*?op_name="([^"]*)"')
_OPERAND = re.compile(r"%([\w.\-]+)")
_CALLS = re.compile(r"(?:to_apply|calls|body|condition)=%?([\w.\-]+)")


def hlo_instructions(path):
    """HLO text (after optimisations) -> {instruction name: (opcode, op_type, op_name)}. An instruction without
    metadata of its own inside a computation that a call / while / fusion runs takes that caller's metadata (e.g.
    the random-bit fusions XLA expands a StatelessRandomUniformV2 into); one still without takes the metadata of
    the first instruction that consumes it (e.g. the partial reductions XLA splits a softmax's reduce into)."""
    table, members, callees, computation = {}, collections.defaultdict(list), [], None
    consumers = collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            match = _INSTRUCTION.match(line)
            if match is None:
                header = _COMPUTATION.match(line) if line.rstrip().endswith("{") else None
                computation = header.group(1) if header else computation
                continue
            meta = _METADATA.search(line)
            name = match.group(1)
            table[name] = (match.group(2),) + (meta.groups() if meta else ("", ""))
            members[computation].append(name)
            called = _CALLS.findall(line)
            callees.extend((name, c) for c in called)
            for operand in _OPERAND.findall(line[match.end():]):
                if operand not in called:
                    consumers[operand].append(name)
    for caller, called in reversed(callees):  # HLO text defines callees first: outer callers are handled first
        for name in members.get(called, ()):
            if not table[name][1] and table[caller][1]:
                table[name] = (table[name][0],) + table[caller][1:]
    for name, (opcode, op_type, _) in table.items():
        user = next((u for u in consumers.get(name, ()) if table[u][1]), None) if not op_type else None
        if user is not None:
            table[name] = (opcode,) + table[user][1:]
    return table


def op_events(profile_dir):
    """-> [(thread key, start ps, duration ps, event name)] of every event on the host CPU plane of every profile
    (`*.xplane.pb`, one per profiling session) under `profile_dir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(glob.glob(os.path.join(profile_dir, "**", "*.xplane.pb"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no *.xplane.pb under {profile_dir}")
    events = []
    for index, path in enumerate(files):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if plane.name.startswith("/host:CPU"):
                names = {key: meta.name for key, meta in plane.event_metadata.items()}
                events.extend(((index, line.id), e.offset_ps, e.duration_ps, names.get(e.metadata_id, ""))
                              for line in plane.lines for e in line.events)
    return events


def _attribute(events, describe):
    """Work events -> [((opcode, op_type, op_name), seconds)]. `describe(name)` -> (opcode, op_type, op_name) or
    None for an event that is not an op. Control flow is not counted itself (the ops it runs are); an op inside
    another counted op of the same thread is not counted again."""
    kept, ends = [], collections.defaultdict(lambda: -1)  # thread -> end of the counted op it is in
    for thread, start, duration, name in sorted(events, key=lambda e: (e[0], e[1], -e[2])):
        op = describe(name)
        if op is None or op[0] in _CONTROL_OPCODES or op[1] in _CONTROL_TYPES or start < ends[thread]:
            continue
        ends[thread] = start + duration
        kept.append((op, duration * 1e-12))
    return kept


def hlo_module_for(events, dump_dir):
    """The optimised HLO module of the dump that names the most event time (the train step's module)."""
    best, best_time = {}, 0.0
    seconds = collections.Counter()
    for _, _, duration, name in events:
        seconds[name] += duration * 1e-12
    for path in glob.glob(os.path.join(dump_dir, "*after_optimizations.txt")):
        table = hlo_instructions(path)
        covered = sum(t for name, t in seconds.items() if name in table)
        if covered > best_time:
            best, best_time = table, covered
    return best


def _tf_op(name):
    """An executor event "scope/name:OpType" -> (None, OpType, scope/name); anything else -> None."""
    if not _TF_OP.fullmatch(name):
        return None
    op_name, op_type = name.rsplit(":", 1)
    return None, op_type, op_name


@dataclasses.dataclass
class Breakdown:
    """Op time per category, per step (seconds of CPU-thread time), with the op kinds that make up each."""

    seconds: dict
    top_ops: dict  # category -> [(op label, seconds per step)] largest first
    steps: int

    @property
    def total(self):
        return sum(self.seconds.values())

    def shares(self):
        total = self.total or 1.0
        return {c: self.seconds.get(c, 0.0) / total for c in CATEGORIES}


def breakdown(profile_dir, steps, hlo_dump_dir=None):
    """Per-category op time per step over the `steps` profiled steps; XLA thunks need `hlo_dump_dir`."""
    events = op_events(profile_dir)
    table = hlo_module_for(events, hlo_dump_dir) if hlo_dump_dir else {}
    ops = _attribute(events, table.get if table else _tf_op)
    if not ops:
        raise ValueError(f"{profile_dir}: no op events" + (" matching the HLO dump" if hlo_dump_dir else ""))
    seconds, kinds = collections.Counter(), collections.defaultdict(collections.Counter)
    for (opcode, op_type, op_name), t in ops:
        category = categorize(op_type, op_name, opcode)
        seconds[category] += t / steps
        kinds[category][_label(op_type or opcode, op_name)] += t / steps
    top = {c: kinds[c].most_common(4) for c in CATEGORIES}
    return Breakdown({c: seconds.get(c, 0.0) for c in CATEGORIES}, top, steps)


def _label(op_type, op_name):
    """A short, stable name for an op kind: its type and the last two name-scope parts without numbers."""
    scope = "/".join(re.sub(r"_\d+$", "", part) for part in op_name.split("/")[-3:-1])
    return f"{op_type} {scope}".strip()
