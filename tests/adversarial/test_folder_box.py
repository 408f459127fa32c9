"""The sidebar's "load a folder" box opens only the participant's own runs, runs shared with them and the folders the
operator offers; links are resolved first, and every refusal is the same sentence whether or not the path exists."""

import os

import pytest
import torch

from core import PlaygroundError
from core.jobs.store import JobStore
from core.model.checkpoints import save_checkpoint
from core.model.gpt import GPT, GPTConfig
from core.training.runfolder import RunFolder
from playground import loaders
from tests.support.app import assert_clean, open_page
from tests.support.jobs import tiny

TINY = GPTConfig(vocab_size=50257, context_length=16, n_layer=1, n_head=2, n_embd=8)


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """A runs folder with one run of ada, one of bob, one of bob shared; an operator folder with a model; a
    secret folder elsewhere with a model; links from inside the allowed places to outside."""
    root = tmp_path_factory.mktemp("places")
    store = JobStore(root / "runs")
    ids = {}
    for owner, shared in (("ada", False), ("bob", False), ("bob", True)):
        run = store.submit(tiny(steps=3), owner=owner)
        torch.manual_seed(0)
        save_checkpoint(GPT(TINY), RunFolder(run.folder).path("best"))
        if shared:
            store.share(run.id, True, instructor=True)
        ids[owner, shared] = run.folder
    offered = root / "offered"
    save_checkpoint(GPT(TINY), offered / "model")
    secret = root / "secret"
    save_checkpoint(GPT(TINY), secret / "model")
    os.symlink(secret / "model", offered / "link-out")
    os.symlink(secret, ids["ada", False] / "escape")
    os.symlink("/etc", offered / "etc")
    return {"root": root, "store": store, "ada": ids["ada", False], "bob": ids["bob", False],
            "shared": ids["bob", True], "offered": offered, "secret": secret}


@pytest.fixture
def as_server(places, monkeypatch):
    monkeypatch.setattr(loaders, "get_store", lambda: places["store"])
    monkeypatch.setenv(loaders.MODEL_DIRS_ENV, str(places["offered"]))
    return places


def cases(p):
    allowed = [p["ada"] / "best", p["ada"], p["shared"] / "best", p["offered"] / "model", p["offered"],
               f"{p['offered']}/model/../model", f"{p['ada']}//best/", str(p["ada"] / "best") + "/."]
    refused = [p["bob"] / "best", p["bob"], p["secret"] / "model", p["secret"], p["offered"] / "link-out",
               p["ada"] / "escape", p["ada"] / "escape" / "model", p["offered"] / "etc", f"{p['offered']}/../secret/model",
               f"{p['ada']}/../../secret/model", p["root"], p["root"] / "runs", p["root"] / "runs" / "jobs.sqlite3",
               "/", "/etc", "/etc/passwd", "/etc/shadow", "/dev/zero", "/proc/self/environ", "/proc/self/root",
               "/root", "~", "~/.ssh", "..", ".", "../..", "runs", "shakespeare", "gpt2", "gpt2-xl",
               "/nonexistent/folder", "/tmp", "C:\\Windows", "file:///etc/passwd", "\x00", "/etc\x00/passwd",
               "a" * 5000, "/" + "a/" * 2000, "🙂", "$HOME", "`id`", "$(id)", "*", "/proc/1/cwd", "\n/etc"]
    return [(str(a), True) for a in allowed] + [(str(r), False) for r in refused]


def test_the_folder_box_opens_only_allowed_places(as_server):
    sentences = set()
    for typed, ok in cases(as_server):
        try:
            folder = loaders.allowed_folder(typed, "ada")
        except PlaygroundError as e:
            assert not ok, f"{typed!r} should open"
            sentences.add(str(e))
            continue
        assert ok, f"{typed!r} must not open (gave {folder})"
        resolved = os.path.realpath(folder)
        assert resolved == folder and not resolved.startswith(str(as_server["secret"]))
    assert len(sentences) == 1  # one sentence for all: it never tells whether a path exists


def test_the_instructor_may_open_every_run(as_server):
    assert loaders.allowed_folder(str(as_server["bob"] / "best"), "someone", instructor=True)


@pytest.mark.parametrize("typed", ["/etc/passwd", "/dev/zero", "\x00", "a" * 1200, "/nonexistent", "🙂", "~"])
def test_the_box_in_the_app(as_server, typed):
    at = open_page("home")
    at.text_input(key="app.folder").set_value(typed)
    at.button(key="app.folder_load").click()
    at.run()
    assert_clean(at)
    assert "app.model" not in at.session_state or at.session_state["app.model"] == "shakespeare"
    assert any("opens only" in e.value for e in at.error)
