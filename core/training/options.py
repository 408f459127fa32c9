"""Config dataclasses as command lines: one flag per field (with its help text), and back.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class C:
    ...     steps: int = option(10, "optimizer steps")
    >>> to_argv(C(steps=5))
    ['--steps', '5']
"""

from __future__ import annotations

import argparse
from dataclasses import field, fields


def option(default, help_text: str):
    """A config field whose help text becomes the command line's --help (see build_parser)."""
    return field(default=default, metadata={"help": help_text})


def build_parser(config_type, prog: str, description: str) -> argparse.ArgumentParser:
    """One flag per field of the config dataclass, with its help text and default."""
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(config_type):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=f.default, help=f.metadata["help"])
    return parser


def to_argv(cfg) -> list[str]:
    """The flags that differ from the defaults: the exact command that reproduces this run."""
    argv = []
    for f in fields(type(cfg)):
        value = getattr(cfg, f.name)
        if value == f.default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            argv += [flag, str(value)]
    return argv


def command_line(module: str, cfg) -> str:
    """`python -m <module> <flags>`, quoted so a shell runs it as is (e.g. --trainable 'last block + head')."""
    import shlex
    return " ".join(["python", "-m", module, *(shlex.quote(a) for a in to_argv(cfg))])
