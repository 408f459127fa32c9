"""Names (issue "the house"): the app's session-state names are written once, in playground.keys; a page's own
widgets carry the page's name as prefix (its url path), so links and snapshots may set only a page's own keys."""

import ast
from pathlib import Path

from playground import keys
from playground.navigation import PAGE_NAMES
from tests.support.server import ROOT

APP_CODE = sorted((ROOT / "playground").glob("*.py")) + sorted((ROOT / "pages").glob("*.py"))
NAMES = {value for name, value in vars(keys).items() if name.isupper() and isinstance(value, str)}


def literals(path: Path):
    """Every string literal of a file except the text names given to t() (a label may share its name with the
    state it sets: t("app.presenter") labels the toggle keyed keys.PRESENTER)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    texts = {id(node.args[0]) for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "t" and node.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in texts:
            yield node


def test_the_apps_session_names_are_written_only_in_keys():
    found = [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}" for path in APP_CODE
             if path.name != "keys.py" for node in literals(path) if node.value in NAMES]
    assert not found, found


def widget_keys(path: Path):
    """The literal key= of every widget call in a file (f-strings: their literal start); t(..., key=) is a text's
    placeholder, not a widget."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) != "t":
            for kw in node.keywords:
                if kw.arg == "key" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    yield node.lineno, kw.value.value
                elif kw.arg == "key" and isinstance(kw.value, ast.JoinedStr) and kw.value.values \
                        and isinstance(kw.value.values[0], ast.Constant):
                    yield node.lineno, kw.value.values[0].value


def test_a_pages_widgets_carry_its_name():
    wrong = [f"pages/{page}.py:{line} {key!r}" for page in PAGE_NAMES
             for line, key in widget_keys(ROOT / "pages" / f"{page}.py") if not key.startswith(f"{page}.")]
    assert not wrong, wrong

