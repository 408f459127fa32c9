"""The one exception type the playground raises for bad input, and messages kept as template + values.

Every message is one sentence a learner can act on; the app shows it as is, never a traceback. PlaygroundError
subclasses ValueError so plain Python code can catch it without knowing about us.

A message is a template with named values, `PlaygroundError("top-p must be in (0, 1], not {top_p}.", top_p=p)`,
so the app can show it in the learner's language: it looks the English template up in its translations and
fills in the same values. core itself stays English and UI-agnostic. `message(...)` makes the same kind of
sentence for things that are not exceptions (why a training run stopped); it is stored as
`{"template": ..., "values": ...}` (status.json, the job queue) and translated when shown.

    >>> str(message("stopped at step {step}", step=3))
    'stopped at step 3'
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _plain(value):
    """A value a JSON file can hold as is (numbers, text, booleans); anything else as its text."""
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


@dataclass(frozen=True)
class Message:
    template: str
    values: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template.format(**self.values) if self.values else self.template

    def __bool__(self) -> bool:
        return bool(self.template)

    def to_dict(self) -> dict:
        return {"template": self.template, "values": {k: _plain(v) for k, v in self.values.items()}}

    @classmethod
    def from_stored(cls, stored) -> Message:
        """A message read back from a file or the queue: a dict as to_dict writes, or plain text."""
        if isinstance(stored, Message):
            return stored
        if isinstance(stored, dict) and isinstance(stored.get("template"), str):
            values = stored.get("values") if isinstance(stored.get("values"), dict) else {}
            return cls(stored["template"], values)
        return cls("" if stored is None else str(stored).replace("{", "{{").replace("}", "}}"))


class PlaygroundError(ValueError):
    """Bad input to the playground: the message names the problem and the fix."""

    def __init__(self, template: str, /, **values):
        self.template, self.values = template, values
        super().__init__(template.format(**values) if values else template)

    @property
    def message(self) -> Message:
        return Message(self.template, self.values)


def message(template: str, /, **values) -> Message:
    """A sentence for the learner that is not an error to raise (why a run stopped): a template like
    PlaygroundError's, kept with its values so the app can show it translated."""
    return Message(template, values)


def unexpected(error: BaseException) -> Message:
    """Why a run stopped on an error nobody foresaw, named as it is (the traceback goes to the run's log)."""
    if isinstance(error, OSError) and error.errno == 28:
        return message("The disk is full: the run stopped; its metrics and last whole checkpoint are kept.")
    if isinstance(error, OSError) and error.errno == 30:
        return message("The runs folder is read-only: the run cannot write its files.")
    return message("The run stopped with an unexpected error: {error}.",
                   error=f"{type(error).__name__}: {str(error)[:200]}")
