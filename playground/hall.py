"""The lecture hall's shared state: what the instructor shows to the participants who follow, and the "guess the
next token" polls with their answers. Kept in SQLite (`runs/hall.sqlite3`, beside the job queue), so several
server processes behind one address agree on it, and a restart keeps the polls.

Why here and not in core: this is app-only state (who follows whom, a class's guesses); nothing outside the app
reads it, unlike the job queue, which the command lines and training processes share. The class `Hall` uses no
Streamlit, so tests drive it from several processes; `get_hall()` is the server's one instance.

WAL mode and short transactions (core.jobs.database, like the job queue's): a follower's poll is one read; an
instructor's change and a participant's answer are one write each. Every text is limited before it is stored. A full
or read-only runs folder is one sentence on the poll page; the other pages work on (following is then off).

Left out: several lecture halls on one server (one instructor leads at a time; the last one to turn it on), and
deleting old polls (they are the class's record; the file stays small: an answer is a few dozen bytes).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.errors import PlaygroundError
from core.jobs.database import Database
from playground.runs import RUNS_DIR

GUESS_CHARS = 60  # a guess is a word or two
PROMPT_CHARS = 2000
VIEW_BYTES = 64 * 1024  # a page's link values (its texts are cut to 5,000 characters each)
ANSWERS_PER_POLL = 5000


@dataclass(frozen=True)
class Lead:
    """What the instructor shows now: the page, its link values (name -> text, as in a URL) and the model."""
    active: bool
    page: str
    values: dict
    model: str
    version: int  # grows with every change; a follower compares it with the one it applied
    updated: float


@dataclass(frozen=True)
class Poll:
    id: int
    prompt: str
    model: str
    space: bool  # guesses are read with a leading space (the prompt ends inside a line)
    opened: float
    closed: float | None

    @property
    def open(self) -> bool:
        return self.closed is None


@dataclass(frozen=True)
class Answer:
    participant: str
    guess: str
    answered: float


class Hall:
    def __init__(self, root):
        self.root = Path(root)
        self.db = Database(self.root / "hall.sqlite3", """
            CREATE TABLE IF NOT EXISTS lead (
                id INTEGER PRIMARY KEY CHECK (id = 1), active INTEGER NOT NULL, page TEXT NOT NULL,
                view TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL, updated REAL NOT NULL);
            CREATE TABLE IF NOT EXISTS polls (
                id INTEGER PRIMARY KEY AUTOINCREMENT, prompt TEXT NOT NULL, model TEXT NOT NULL,
                space INTEGER NOT NULL, opened REAL NOT NULL, closed REAL);
            CREATE TABLE IF NOT EXISTS answers (
                poll INTEGER NOT NULL REFERENCES polls(id), participant TEXT NOT NULL, guess TEXT NOT NULL,
                answered REAL NOT NULL, PRIMARY KEY (poll, participant));""")

    # --- follow the presenter -------------------------------------------------------------------------------
    def lead(self) -> Lead | None:
        with self.db.connect() as db:
            row = db.execute("SELECT active, page, view, model, version, updated FROM lead WHERE id = 1").fetchone()
        if row is None:
            return None
        return Lead(bool(row[0]), row[1], json.loads(row[2]), row[3], row[4], row[5])

    def show(self, page: str, values: dict, model: str) -> int:
        """The instructor shows this page with these link values: followers switch to it. Returns the version
        (unchanged when nothing changed, so an instructor's rerun costs followers nothing)."""
        values = {str(k): str(v) for k, v in values.items()}
        view = json.dumps(values, sort_keys=True, ensure_ascii=False)
        if len(view.encode()) > VIEW_BYTES:
            raise PlaygroundError("This view's settings are too large to share with the audience ({n} bytes).",
                                  n=len(view.encode()))
        with self.db.transaction() as db:
            row = db.execute("SELECT active, page, view, model, version FROM lead WHERE id = 1").fetchone()
            if row and row[:4] == (1, page, view, model):
                return row[4]
            version = (row[4] if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO lead VALUES (1, 1, ?, ?, ?, ?, ?)",
                       (page, view, model, version, time.time()))
            return version

    def stop_leading(self) -> None:
        with self.db.transaction() as db:
            db.execute("UPDATE lead SET active = 0, version = version + 1, updated = ? WHERE id = 1", (time.time(),))

    # --- guess the next token -------------------------------------------------------------------------------
    def open_poll(self, prompt: str, model: str, space: bool) -> Poll:
        """A new poll; any poll still open closes (one question at a time)."""
        if not prompt.strip():
            raise PlaygroundError("Write a prompt for the poll first.")
        if len(prompt) > PROMPT_CHARS:
            raise PlaygroundError("A poll's prompt may have at most {limit} characters, not {n}.",
                                  limit=PROMPT_CHARS, n=len(prompt))
        now = time.time()
        with self.db.transaction() as db:
            db.execute("UPDATE polls SET closed = ? WHERE closed IS NULL", (now,))
            cursor = db.execute("INSERT INTO polls (prompt, model, space, opened) VALUES (?, ?, ?, ?)",
                                (prompt, model, int(space), now))
            poll_id = cursor.lastrowid
        return self.poll(poll_id)

    def close_poll(self, poll_id: int) -> None:
        with self.db.transaction() as db:
            db.execute("UPDATE polls SET closed = ? WHERE id = ? AND closed IS NULL", (time.time(), poll_id))

    def poll(self, poll_id: int) -> Poll | None:
        with self.db.connect() as db:
            row = db.execute("SELECT id, prompt, model, space, opened, closed FROM polls WHERE id = ?",
                             (poll_id,)).fetchone()
        return _poll(row) if row else None

    def latest_poll(self) -> Poll | None:
        """The poll shown to participants: the open one, else the one closed last."""
        with self.db.connect() as db:
            row = db.execute("SELECT id, prompt, model, space, opened, closed FROM polls "
                             "ORDER BY closed IS NULL DESC, id DESC LIMIT 1").fetchone()
        return _poll(row) if row else None

    def answer(self, poll_id: int, participant: str, guess: str) -> None:
        """One answer per participant and poll: answering again replaces the earlier guess."""
        guess = guess.strip()
        if not guess:
            raise PlaygroundError("Type a guess first.")
        if len(guess) > GUESS_CHARS:
            raise PlaygroundError("A guess may have at most {limit} characters, not {n}.", limit=GUESS_CHARS,
                                  n=len(guess))
        with self.db.transaction() as db:
            row = db.execute("SELECT closed FROM polls WHERE id = ?", (poll_id,)).fetchone()
            if row is None or row[0] is not None:
                raise PlaygroundError("This poll is closed; your guess was not counted.")
            known = db.execute("SELECT 1 FROM answers WHERE poll = ? AND participant = ?",
                               (poll_id, participant)).fetchone()
            if not known and db.execute("SELECT COUNT(*) FROM answers WHERE poll = ?",
                                        (poll_id,)).fetchone()[0] >= ANSWERS_PER_POLL:
                raise PlaygroundError("This poll has {limit} answers already; no more are counted.",
                                      limit=ANSWERS_PER_POLL)
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?) ON CONFLICT (poll, participant) "
                       "DO UPDATE SET guess = excluded.guess, answered = excluded.answered",
                       (poll_id, participant, guess, time.time()))

    def answers(self, poll_id: int) -> list[Answer]:
        with self.db.connect() as db:
            rows = db.execute("SELECT participant, guess, answered FROM answers WHERE poll = ? ORDER BY answered",
                              (poll_id,)).fetchall()
        return [Answer(*row) for row in rows]

    def my_answer(self, poll_id: int, participant: str) -> str | None:
        with self.db.connect() as db:
            row = db.execute("SELECT guess FROM answers WHERE poll = ? AND participant = ?",
                             (poll_id, participant)).fetchone()
        return row[0] if row else None


@st.cache_resource
def get_hall() -> Hall:
    return Hall(RUNS_DIR)


def _poll(row) -> Poll:
    return Poll(row[0], row[1], row[2], bool(row[3]), row[4], row[5])
