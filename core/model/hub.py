"""The Hugging Face Hub over plain HTTPS: a model repository's files into a local cache folder (online only).

    config.json first, so a caller can refuse a model (unsupported, too big) before gigabytes arrive; then
    tokenizer.json and tokenizer_config.json when asked for; then model.safetensors, or the shards listed
    in model.safetensors.index.json.

Files land as `<name>.part` and are renamed when whole, and a folder counts as complete only once every
file is there (a `.complete` marker), so an interrupted download starts again instead of loading half a
model. A token in HF_TOKEN is sent as a header (gated repositories such as meta-llama), never in a URL.

Left out: revisions other than main, resuming half files, the huggingface_hub cache layout.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from core.errors import PlaygroundError

HUB = "https://huggingface.co"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMPLETE = ".complete"
INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
SHARD_NAME = re.compile(r"^[\w.-]+\.safetensors$")


def cache_root() -> Path:
    return Path(os.environ.get("LLM_PLAYGROUND_CACHE", Path.home() / ".cache" / "llm-playground"))


def is_repo_id(key: str) -> bool:
    """'HuggingFaceTB/SmolLM2-135M' looks like a Hub repository (a local path is checked first by the caller)."""
    return bool(REPO_ID.match(key)) and ".." not in key


def download(repo_id: str, check=None, tokenizer: bool = True, cache_dir: Path | None = None,
             on_progress=None) -> Path:
    """The repository's model files in `cache_dir/<owner>/<name>`; `check(config_dict)` may raise to refuse the
    model before its weights are downloaded; `on_progress(file, done_bytes, total_bytes)` sees each chunk."""
    folder = (cache_dir or cache_root()) / repo_id
    if (folder / COMPLETE).exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fetch(repo_id, "config.json", folder, on_progress=on_progress)
    if check is not None:
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except ValueError:
            raise PlaygroundError("The config.json of '{name}' on the Hub is not valid JSON.", name=repo_id) from None
        check(config)
    if tokenizer:
        fetch(repo_id, "tokenizer.json", folder, on_progress=on_progress)
        fetch(repo_id, "tokenizer_config.json", folder, required=False, on_progress=on_progress)
    if fetch(repo_id, INDEX, folder, required=False, on_progress=on_progress):
        for shard in shard_names(folder / INDEX):
            fetch(repo_id, shard, folder, on_progress=on_progress)
    else:
        fetch(repo_id, SINGLE, folder, on_progress=on_progress)
    (folder / COMPLETE).write_text("")
    return folder


def shard_names(index: Path) -> list[str]:
    """The shard files an index lists, each a plain file name (never a path that leaves the folder)."""
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise PlaygroundError("{path} is not a valid safetensors index (no weight_map).", path=index) from None
    bad = [n for n in names if not (isinstance(n, str) and SHARD_NAME.match(n))]
    if bad:
        raise PlaygroundError("{path} names a shard that is not a plain .safetensors file name: {name}.",
                              path=index, name=str(bad[0])[:80])
    return names


def fetch(repo_id: str, file: str, folder: Path, required: bool = True, on_progress=None) -> bool:
    """One file of the repository into folder (kept if already there). False when an optional file is missing."""
    target = folder / file
    if target.exists():
        return True
    request = urllib.request.Request(f"{HUB}/{repo_id}/resolve/main/{file}")
    if os.environ.get("HF_TOKEN"):
        request.add_header("Authorization", f"Bearer {os.environ['HF_TOKEN']}")
    tmp = folder / (file + ".part")
    try:
        with urllib.request.urlopen(request, timeout=10) as response, open(tmp, "wb") as out:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(file, done, total)
    except urllib.error.HTTPError as e:
        tmp.unlink(missing_ok=True)
        if e.code == 404 and not required:
            return False
        if e.code in (401, 403):
            raise PlaygroundError(
                "'{name}' on the Hugging Face Hub needs a login (a gated model): accept its licence on the Hub, "
                "set HF_TOKEN, or download it yourself and load the folder.", name=repo_id) from None
        if e.code == 404:
            raise PlaygroundError("The Hugging Face Hub has no file {file} in '{name}'.", file=file,
                                  name=repo_id) from None
        raise PlaygroundError("The Hugging Face Hub answered {code} for {file} of '{name}'.", code=e.code, file=file,
                              name=repo_id) from None
    except (urllib.error.URLError, OSError, TimeoutError):
        tmp.unlink(missing_ok=True)
        raise PlaygroundError(
            "'{name}' must be downloaded from the Hugging Face Hub, and this machine is offline; use the bundled "
            "model or a local model folder.", name=repo_id) from None
    os.replace(tmp, target)
    return True
