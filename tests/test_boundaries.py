"""Architecture rules, read off the source: the import graph has no cycles, every import runs with the order
pages → playground → core, and inside core tokens → model → inference | analysis → training → jobs → the facade
(core/__init__) → the entry points (core/train, core/finetune). core never imports streamlit, plotly or the app. A
test module never imports another: tests share helpers through tests/support/ and conftest.py."""

import ast
import subprocess
import sys

from tests.support.server import ROOT

PACKAGES = ("core", "playground", "pages")
# Inside core: a module may import only modules of a lower rank, or of its own sub-package. The facade sits on top
# of the sub-packages, so none of them may use it (it imports them); only the entry points and code outside core do.
CORE_RANKS = {"errors": 0, "assets": 0, "tokens": 1, "model": 2, "inference": 3, "analysis": 3, "training": 4,
              "jobs": 5, "__init__": 6, "train": 7, "finetune": 7}
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


def cycles(graph) -> list[list[str]]:
    state, stack, found = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target, _ in graph.get(node, []):
            if target == node:
                continue
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return found


def against_the_order(graph) -> list[str]:
    against = []
    for name, edges in graph.items():
        for target, line in edges:
            top, target_top = name.split(".")[0], target.split(".")[0]
            if LAYERS[target_top] > LAYERS[top]:
                against.append(f"{name}:{line} imports {target}")
            elif top == target_top == "core":
                same_package = name.split(".")[:2] == target.split(".")[:2]
                if not same_package and core_rank(target) >= core_rank(name):
                    against.append(f"{name}:{line} imports {target}")
    return against


def test_no_import_cycles():
    assert not cycles(modules())


def test_every_import_runs_with_the_order():
    assert not against_the_order(modules())


def test_only_the_entry_points_and_the_app_use_the_facade():
    """`from core import load_model` inside a sub-package of core runs against the order, and in a module the facade
    imports it is also a cycle; the entry points and code outside core use the facade freely."""
    graph = modules()
    graph["core.training.pretrain"].append(("core", 1))
    graph["core.model.checkpoints"].append(("core", 1))
    assert set(against_the_order(graph)) == {"core.training.pretrain:1 imports core",
                                             "core.model.checkpoints:1 imports core"}
    assert [cycle[-2:] for cycle in cycles(graph)] == [["core.model.checkpoints", "core"]]
    graph = modules()
    for name in ("core.train", "core.finetune", "playground.loaders", "pages.finetuning"):
        graph[name].append(("core", 1))
    assert not against_the_order(graph) and not cycles(graph)


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


def as_text(node: ast.AST) -> str:
    """A string constant's text, an f-string's with each placeholder read as a name; "" for any other node."""
    if isinstance(node, ast.JoinedStr):
        return "".join(as_text(v) if isinstance(v, ast.Constant) else "_" for v in node.values)
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def imported(tree: ast.AST, package: list[str], line: int | None = None):
    """(module or name in a module, line) for every import of the code, relative ones resolved against its package;
    also those of the programs it holds as strings (the scripts a test hands to a subprocess)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((a.name, line or node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, line or node.lineno
            yield from ((f"{module}.{a.name}", line or node.lineno) for a in node.names)
        elif "import" in (text := as_text(node)):
            try:
                program = ast.parse(text)
            except SyntaxError:
                continue
            yield from imported(program, package, line or node.lineno)


def test_no_test_module_imports_another():
    imports = set()
    for path in (ROOT / "tests").rglob("*.py"):
        package = list(path.relative_to(ROOT).parent.parts)
        for name, line in imported(ast.parse(path.read_text()), package):
            parts = name.split(".")
            tests = [i for i, part in enumerate(parts) if i and part.startswith("test_")]
            if parts[0] == "tests" and tests:
                imports.add(f"{path.relative_to(ROOT)}:{line} imports {'.'.join(parts[:tests[0] + 1])}")
    assert not imports, sorted(imports)


def test_the_tests_runs_stay_out_of_the_repositorys_runs_folder():
    """What the tests train lands under .pytest_cache, never in runs/, which the app's model picker lists."""
    import os
    from pathlib import Path

    from playground import runs
    assert runs.RUNS_DIR == Path(os.environ["LLM_PLAYGROUND_RUNS"]) != ROOT / "runs"
