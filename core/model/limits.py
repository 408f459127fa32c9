"""What every model config must meet before anything is allocated, for every architecture and every loader.

A config's sizes must be plain positive integers, and the parameter count they imply must fit this server's limit
(`LLM_PLAYGROUND_MAX_PARAMETERS`, default two billion: GPT-2 XL's 1.56 billion fit) and this machine's memory
(fp32 weights, 4 bytes each). So `n_layer=10000` or `vocab_size=10**9` is refused in microseconds instead of
allocating until the process dies. A config file is read only when it is a regular file of at most 1 MB (a link to
/dev/zero or a 5 GB "config.json" is refused by its size, not read).

    >>> check_config_size(lambda: 10, n_layer=1, n_embd=8)
    >>> check_config_size(lambda: 10, n_layer=0)
    Traceback (most recent call last):
    ...
    core.errors.PlaygroundError: Impossible model config: n_layer must be at least 1, not 0.

Left out: limits on activations (they grow with the input, which the pages and the training loop bound).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import stat
from collections.abc import Callable
from pathlib import Path

from core.errors import PlaygroundError

MAX_PARAMETERS_ENV = "LLM_PLAYGROUND_MAX_PARAMETERS"
DEFAULT_MAX_PARAMETERS = 2_000_000_000
CONFIG_FILE_LIMIT = 1024 * 1024
BYTES_PER_PARAMETER = 4  # fp32, as every model is held in memory here


def max_parameters() -> int:
    """This server's largest model (parameters), from LLM_PLAYGROUND_MAX_PARAMETERS."""
    try:
        return max(1, int(float(os.environ.get(MAX_PARAMETERS_ENV, DEFAULT_MAX_PARAMETERS))))
    except ValueError:
        return DEFAULT_MAX_PARAMETERS


def memory_bytes() -> int:
    """The machine's physical memory (the most any one model could take)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every system names these
        return 1 << 62


def whole_number(name: str, value, minimum: int = 1) -> int:
    """A config size as a plain int (never bool, float, text or null), at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise PlaygroundError("Impossible model config: {name} must be a whole number, not {value}.",
                              name=name, value=repr(value)[:40])
    if value < minimum:
        raise PlaygroundError("Impossible model config: {name} must be at least {minimum}, not {value}.",
                              name=name, minimum=minimum, value=int(value))
    return int(value)


def check_config_size(parameters: Callable[[], int], **sizes) -> None:
    """Refuse a config before allocation: every named size a positive whole number, then the parameter count
    they imply (`parameters()`, called only once the sizes are plain integers) within the server's limit and the
    machine's memory."""
    for name, value in sizes.items():
        whole_number(name, value)
    count = parameters()
    limit = max_parameters()
    if count > limit:
        raise PlaygroundError(
            "A model of this shape would have {count:,} parameters; this server allows at most {limit:,} "
            "(LLM_PLAYGROUND_MAX_PARAMETERS).", count=count, limit=limit)
    need, have = count * BYTES_PER_PARAMETER, memory_bytes()
    if need > have:
        raise PlaygroundError(
            "A model of this shape needs {need:.1f} GiB for its weights alone, more than this machine's {have:.1f} "
            "GiB of memory.", need=need / 2**30, have=have / 2**30)


def config_from_dict(cls, data, sizes: tuple[str, ...]):
    """A config dataclass from a dict as config.json stores it: a JSON object holding every size in `sizes` (the
    other fields have defaults; unknown keys are left out)."""
    if not isinstance(data, dict):
        raise PlaygroundError("Impossible model config: it must be a JSON object with named fields, not {kind}.",
                              kind=type(data).__name__)
    missing = [name for name in sizes if name not in data]
    if missing:
        raise PlaygroundError("Impossible model config: it lacks {fields}.", fields=", ".join(missing))
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


def read_config_json(path, limit: int = CONFIG_FILE_LIMIT):
    """A small JSON file (a model's config.json, a card): refused by kind and size before it is read."""
    path = Path(path)
    try:
        info = os.stat(path)  # follows links: a link to /dev/zero is a character device here
        if not stat.S_ISREG(info.st_mode):
            raise PlaygroundError("{path} is not a regular file.", path=path)
        if info.st_size > limit:
            raise PlaygroundError("{path} has {size:,} bytes; a config file has at most {limit:,}.",
                                  path=path, size=info.st_size, limit=limit)
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:  # it grew while we looked
            raise PlaygroundError("{path} has more than {limit:,} bytes; a config file has at most that.",
                                  path=path, limit=limit)
        return json.loads(data.decode("utf-8"))
    except PlaygroundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PlaygroundError("{path} is not a readable JSON file ({problem}).", path=path,
                              problem=e.__class__.__name__) from None
