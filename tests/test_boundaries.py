"""Architecture rules: core never imports streamlit; pages → playground → core, never backwards."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(folder: str) -> set[str]:
    names = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit_or_the_app():
    assert not imported_modules("core") & {"streamlit", "playground", "pages", "plotly"}


def test_importing_core_does_not_load_streamlit():
    code = "import sys, core, core.train, core.generate; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_playground_never_imports_pages():
    assert "pages" not in imported_modules("playground")


def test_checkpoint_loading_never_unpickles():
    for path in (ROOT / "core").rglob("*.py"):
        text = path.read_text()
        assert "pickle" not in text.replace("No pickle", "") or path.name == "checkpoints.py"
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path.name}: {line.strip()}"
