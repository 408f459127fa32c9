"""Architecture rules, read off the source: the import graph has no cycles, every import runs with the order
pages → playground → core, and inside core tokens → model → inference | analysis → training → jobs → entry
points (core/__init__, core/train, core/finetune). core never imports streamlit, plotly or the app."""

import ast
import subprocess
import sys

from tests.support.server import ROOT

PACKAGES = ("core", "playground", "pages")
# Inside core: a module may import only modules of a lower rank, or of its own sub-package.
CORE_RANKS = {"errors": 0, "assets": 0, "tokens": 1, "model": 2, "inference": 3, "analysis": 3, "training": 4,
              "jobs": 5, "train": 6, "finetune": 6, "__init__": 6}
LAYERS = {"core": 0, "playground": 1, "pages": 2}


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, list[tuple[str, int]]]:
    """Every module of ours -> the modules of ours it imports (with the line), at any depth of the code."""
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    names = {module_name(p) for p in paths}
    graph = {}
    for path in paths:
        edges = []
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in names else node.module
                           for a in node.names]
            for target in targets:
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target and target.split(".")[0] in PACKAGES:
                    edges.append((target, node.lineno))
        graph[module_name(path)] = edges
    return graph


def core_rank(name: str) -> int:
    parts = name.split(".")
    return CORE_RANKS["__init__" if len(parts) == 1 else parts[1]]


def test_no_import_cycles():
    graph = modules()
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target, _ in graph.get(node, []):
            if target == node or (node.startswith(target + ".") and target.count(".") == 0):
                continue  # a package's modules may import the package's own top (core/__init__ is the facade)
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, cycles


def test_every_import_runs_with_the_order():
    against = []
    for name, edges in modules().items():
        for target, line in edges:
            top, target_top = name.split(".")[0], target.split(".")[0]
            if LAYERS[target_top] > LAYERS[top]:
                against.append(f"{name}:{line} imports {target}")
            elif top == target_top == "core" and target != "core":
                same_package = name.split(".")[:2] == target.split(".")[:2]
                if not same_package and core_rank(target) >= core_rank(name):
                    against.append(f"{name}:{line} imports {target}")
    assert not against, against


def test_core_never_imports_streamlit_plotly_or_the_app():
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not {n.split(".")[0] for n in names} & {"streamlit", "plotly", "playground", "pages"}, path


def test_importing_core_does_not_load_streamlit():
    code = "import sys, core, core.train, core.finetune, core.jobs; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_checkpoint_loading_never_unpickles():
    for path in (ROOT / "core").rglob("*.py"):
        for line in path.read_text().splitlines():
            assert "pickle" not in line.replace("No pickle", ""), f"{path.name}: {line.strip()}"
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path.name}: {line.strip()}"


def test_the_test_harness_is_not_shipped():
    assert not (ROOT / "playground" / "server.py").exists()
    assert all("tests" not in module_name(p) for p in (ROOT / "playground").rglob("*.py"))
