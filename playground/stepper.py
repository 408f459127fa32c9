"""The state of step-through generation: the chosen path and every branch explored, as a small tree.

Plain Python (no streamlit), so it is tested directly; the Generation page keeps one in session state.

    >>> t = StepTree((1, 2))
    >>> t.choose(5, 0.5); t.choose(7, 0.25); t.undo(); t.choose(8, 0.1)
    >>> t.path, t.branches()
    ([5, 8], [[5, 7], [5, 8]])
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StepTree:
    prompt: tuple[int, ...]
    path: list[int] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)  # the probability each chosen token had
    children: dict[tuple[int, ...], dict[int, float]] = field(default_factory=dict)  # prefix -> {token: prob}
    likeliest: dict[tuple[int, ...], list[tuple[int, float]]] = field(default_factory=dict)  # prefix -> top (id, p)

    @property
    def ids(self) -> list[int]:
        return list(self.prompt) + self.path

    def choose(self, token: int, prob: float, likeliest: list[tuple[int, float]] = ()) -> None:
        """Append a token; `likeliest`: the step's most likely tokens (shown on hover), kept per prefix."""
        self.children.setdefault(tuple(self.path), {})[int(token)] = float(prob)
        if likeliest:
            self.likeliest[tuple(self.path)] = list(likeliest)
        self.path.append(int(token))
        self.probs.append(float(prob))

    def undo(self) -> None:
        if self.path:
            self.path.pop()
            self.probs.pop()

    def alternatives(self) -> list[list[tuple[int, float]] | None]:
        """For each chosen token, the likeliest tokens of its step (None where they were not kept)."""
        return [self.likeliest.get(tuple(self.path[:i])) for i in range(len(self.path))]

    def goto(self, path: list[int]) -> None:
        """Jump to an explored path (its probabilities are remembered in the tree)."""
        probs = []
        for i, token in enumerate(path):
            probs.append(self.children[tuple(path[:i])][token])
        self.path, self.probs = list(path), probs

    def branches(self) -> list[list[int]]:
        """Every explored path that has no explored continuation (the leaves), in order."""
        leaves = []

        def walk(prefix):
            kids = self.children.get(tuple(prefix), {})
            if not kids and prefix:
                leaves.append(list(prefix))
            for token in kids:
                walk(prefix + [token])
        walk([])
        return leaves
