"""The layout rules of ARCHITECTURE.md, checked on the source: file size, import direction, no cycles, imports of
the project's own modules at module top, and model-family branches only in the registries."""

import ast
import re

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "tfpretrain"
MAX_LINES = 400
# What each top-level area may import from the project (besides itself and the shared leaf modules).
LEAVES = {"tfpretrain", "tfpretrain.keras", "tfpretrain.config", "tfpretrain.atomic", "tfpretrain.errors"}
ALLOWED = {
    "layers": set(),
    "data": set(),
    "models": {"layers", "data"},  # data: feature keys and the corpus formats a family trains on
    "checkpoints": {"models", "layers", "data"},
    "training": {"models", "layers", "data", "checkpoints", "runs"},  # runs: the run-directory layout it writes
    "evaluation": {"models", "layers", "data", "checkpoints", "training", "runs"},
    "runs": {"models", "layers", "data", "checkpoints"},
    "reporting": {"evaluation", "data"},
    "commands": {"models", "layers", "data", "checkpoints", "training", "evaluation", "reporting", "runs"},
    "cli": {"commands"},
}
# Modules allowed to branch on a model family by name: the registries themselves.
REGISTRIES = {"tfpretrain/models/families.py", "tfpretrain/data/formats.py"}
FAMILY_BRANCH = re.compile(r"""(family|task|model_type)\s*(==|!=|in|not in)\s*\(?\s*["'](bert|gpt2)["']"""
                           r"""|TASK_(BERT|GPT2)|\bif\b.*["'](bert|gpt2)["']""")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


MODULES = dict(_modules())


def _area(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _project_imports(path, module):
    """(top-level imports, imports inside functions) of project modules, resolved to module names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, nested = [], []

    def visit(node, inside):
        for child in ast.iter_child_nodes(node):
            is_scope = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import | ast.ImportFrom):
                names = []
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                elif child.module and child.level == 0:
                    names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
                for name in names:
                    if name.startswith("tfpretrain"):
                        target = name if name in MODULES else name.rpartition(".")[0]
                        if target in MODULES and target != module:
                            entry = (target, child.lineno)
                            bucket = nested if inside else top
                            if entry not in bucket:
                                bucket.append(entry)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue
            visit(child, inside or is_scope)

    visit(tree, False)
    return top, nested


def _is_type_checking(node):
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


IMPORTS = {m: _project_imports(p, m) for m, p in MODULES.items()}


def test_no_file_over_the_line_limit():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_project_imports_are_at_module_top():
    nested = {m: [f"{t}:{line}" for t, line in IMPORTS[m][1]] for m in MODULES if IMPORTS[m][1]}
    assert not nested, f"imports of project modules inside functions: {nested}"


def test_dependency_direction():
    wrong = []
    for module, (top, nested) in IMPORTS.items():
        area = _area(module)
        for target, line in top + nested:
            target_area = _area(target)
            if target in LEAVES or target_area == area:
                continue
            if target_area not in ALLOWED.get(area, set()):
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "imports against the dependency direction:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = {m: {t for t, _ in IMPORTS[m][0]} for m in MODULES}
    # A package's __init__ importing its own submodules is not a cycle of concepts; a submodule importing its
    # package is the Python import of the parent (always loaded first).
    graph = {m: {t for t in ts if not (m.startswith(t + ".") or t.startswith(m + "."))} for m, ts in graph.items()}
    state, stack, cycles = {}, [], []

    def dfs(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_family_branches_only_in_the_registries(module):
    path = MODULES[module]
    rel = str(path.relative_to(ROOT))
    if rel in REGISTRIES:
        return
    hits = [f"{rel}:{i}: {line.strip()}" for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if FAMILY_BRANCH.search(line)]
    assert not hits, "family branches outside the registries:\n" + "\n".join(hits)
