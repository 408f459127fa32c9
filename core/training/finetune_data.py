"""Finetuning data: the SMS spam collection (classification) and Alpaca-style instructions.

Both loaders accept files with other column or key names when the meaning is clear (e.g. `v1`/`v2`,
`category`/`message`; `prompt`/`response`), and say clearly what is wrong otherwise.

Instruction examples use the Alpaca template; the loss sees only the response: the prompt positions
and the padding get the target -100, which cross-entropy ignores (the first end-of-text after the
response stays, so the model learns to stop).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from core.errors import PlaygroundError
from core.training.data import ASSETS, check_size, decode_text

SMS_FILE = ASSETS / "datasets" / "sms-spam-collection.tsv"
INSTRUCTIONS_FILE = ASSETS / "datasets" / "instruction-data.json"
IGNORE = -100
DATA_LIMIT = 50 * 2**20  # a data file of the command line; the app's uploads have their own, smaller limit
LABEL_KEYS = ("label", "v1", "category", "class", "target")
TEXT_KEYS = ("text", "v2", "message", "sms", "sentence")
INSTRUCTION_KEYS = {"instruction": ("instruction", "prompt", "question"), "input": ("input", "context"),
                    "output": ("output", "response", "answer", "completion")}


def check_data_file(path) -> Path:
    """A data file given by path: a regular file within DATA_LIMIT (never /dev/zero or a folder), before it is read."""
    path = Path(path)
    if not path.is_file():
        raise PlaygroundError("There is no data file at {path}.", path=path)
    check_size(path.stat().st_size, path.name, DATA_LIMIT)
    return path


# --- classification ------------------------------------------------------------------------------------------
@dataclass
class LabelledText:
    text: str
    label: int


def read_labelled_table(data: bytes, name: str = "the file") -> tuple[list[LabelledText], list[str]]:
    """A TSV or CSV with a header; returns the rows and the class names (sorted, so 'ham' = 0, 'spam' = 1)."""
    text = decode_text(data, name)
    if not text.strip():
        raise PlaygroundError("{name} is empty.", name=name)
    first = text.splitlines()[0]
    delimiter = "\t" if "\t" in first else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter,
                            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as e:
        raise PlaygroundError("{name} is not a readable table ({problem}).", name=name, problem=str(e)[:80]) from None
    header = {h.strip().lower(): h for h in fieldnames}
    label_key = next((header[k] for k in LABEL_KEYS if k in header), None)
    text_key = next((header[k] for k in TEXT_KEYS if k in header), None)
    if label_key is None or text_key is None:
        raise PlaygroundError(
            "{name} needs a label column ({labels}) and a text column ({texts}); it has {columns}.",
            name=name, labels="/".join(LABEL_KEYS), texts="/".join(TEXT_KEYS),
            columns=", ".join(fieldnames) or "no header")
    try:
        raw = [(row[label_key].strip(), row[text_key]) for row in reader if row.get(text_key) and row.get(label_key)]
    except csv.Error as e:  # e.g. a field longer than the csv module's limit
        raise PlaygroundError("{name} is not a readable table ({problem}).", name=name, problem=str(e)[:80]) from None
    classes = sorted({label for label, _ in raw})
    if len(classes) < 2:
        raise PlaygroundError(
            "{name} has only one class ({label}); a classifier needs two or more.",
            name=name, label=classes[0] if classes else 'none')
    index = {c: i for i, c in enumerate(classes)}
    return [LabelledText(t, index[label]) for label, t in raw], classes


def load_sms() -> tuple[list[LabelledText], list[str]]:
    return read_labelled_table(SMS_FILE.read_bytes(), SMS_FILE.name)


def balanced_split(rows: list[LabelledText], seed: int = 123, fractions=(0.7, 0.1)):
    """Undersample every class to the smallest one, shuffle (seeded), split into train / validation / test."""
    by_class: dict[int, list[LabelledText]] = {}
    for r in rows:
        by_class.setdefault(r.label, []).append(r)
    rng = random.Random(seed)
    n = min(len(v) for v in by_class.values())
    balanced = []
    for label in sorted(by_class):
        balanced += rng.sample(by_class[label], n)
    rng.shuffle(balanced)
    a = int(len(balanced) * fractions[0])
    b = a + int(len(balanced) * fractions[1])
    if not 0 < a < b < len(balanced):
        raise PlaygroundError(
            "With {n} example(s) of its rarest class the data is too small to split into training, validation and "
            "test parts; give at least {need} of each class.", n=n, need=-(-_least_for_splits(fractions) // len(by_class)))
    return balanced[:a], balanced[a:b], balanced[b:]


def _least_for_splits(fractions) -> int:
    """The fewest examples for which each of the three parts gets at least one."""
    n = 3
    while not 0 < int(n * fractions[0]) < int(n * fractions[0]) + int(n * fractions[1]) < n:
        n += 1
    return n


def encode_classification(rows: list[LabelledText], tokenizer, max_len: int):
    """Token ids (truncated to max_len, counted) and labels."""
    ids, truncated = [], 0
    for r in rows:
        tokens = tokenizer.encode(r.text) or [tokenizer.eot_id]
        if len(tokens) > max_len:
            truncated += 1
            tokens = tokens[:max_len]
        ids.append(tokens)
    return ids, [r.label for r in rows], truncated


def pad_batch(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids [B, T] and each sequence's length (the last real token is at length − 1)."""
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, :len(s)] = torch.tensor(s)
    return ids, torch.tensor([len(s) for s in sequences])


# --- instructions ---------------------------------------------------------------------------------------------
PREAMBLE = ("Below is an instruction that describes a task. Write a response that appropriately completes the "
            "request.")


def format_prompt(instruction: str, input_text: str = "") -> str:
    """The Alpaca prompt, ending where the response starts."""
    prompt = f"{PREAMBLE}\n\n### Instruction:\n{instruction}"
    if input_text:
        prompt += f"\n\n### Input:\n{input_text}"
    return prompt + "\n\n### Response:\n"


def read_instructions(data: bytes, name: str = "the file") -> list[dict]:
    try:
        records = json.loads(decode_text(data, name))
    except (ValueError, RecursionError) as e:  # also numbers of 5,000 digits and lists nested 100,000 deep
        if isinstance(e, PlaygroundError):
            raise
        raise PlaygroundError("{name} is not valid JSON (line {lineno}).", name=name,
                              lineno=getattr(e, "lineno", "?")) from None
    if not isinstance(records, list) or not records:
        raise PlaygroundError("{name} must hold a non-empty list of records.", name=name)
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise PlaygroundError("Record {i} of {name} is not an object with keys.", i=i, name=name)
        mapped = {}
        for key, options in INSTRUCTION_KEYS.items():
            mapped[key] = next((str(rec[o]) for o in options if o in rec and rec[o] is not None), "")
        if not mapped["instruction"] or not mapped["output"]:
            raise PlaygroundError(
                "Record {i} of {name} needs an instruction and an output (keys like {instruction_keys} and "
                "{output_keys}); it has {keys}.",
                i=i, name=name, instruction_keys="/".join(INSTRUCTION_KEYS["instruction"]),
                output_keys="/".join(INSTRUCTION_KEYS["output"]), keys=", ".join(rec))
        out.append(mapped)
    return out


def load_instructions() -> list[dict]:
    return read_instructions(INSTRUCTIONS_FILE.read_bytes(), INSTRUCTIONS_FILE.name)


def split_instructions(records: list[dict], seed: int = 123, fractions=(0.85, 0.05)):
    rng = random.Random(seed)
    shuffled = records[:]
    rng.shuffle(shuffled)
    a = int(len(shuffled) * fractions[0])
    b = a + int(len(shuffled) * fractions[1])
    if not 0 < a < b < len(shuffled):
        raise PlaygroundError(
            "{n} instruction record(s) are too few to split into training, validation and test parts; give at least "
            "{need}.", n=len(records), need=_least_for_splits(fractions))
    return shuffled[:a], shuffled[a:b], shuffled[b:]


def instruction_example(tokenizer, record: dict, max_len: int) -> tuple[list[int], list[int], bool]:
    """(ids, targets, truncated): targets are ids shifted by one, with the prompt part set to IGNORE."""
    prompt = tokenizer.encode(format_prompt(record["instruction"], record["input"]))
    response = tokenizer.encode(record["output"]) + [tokenizer.eot_id]
    full = prompt + response
    truncated = len(full) > max_len + 1
    full = full[:max_len + 1]
    ids, targets = full[:-1], full[1:]
    targets = [IGNORE if i < len(prompt) - 1 else t for i, t in enumerate(targets)]
    return ids, targets, truncated


def collate_instructions(examples: list[tuple[list[int], list[int]]], pad_id: int):
    """Pad to the longest example; padded targets are IGNORE."""
    length = max(len(ids) for ids, _ in examples)
    x = torch.full((len(examples), length), pad_id, dtype=torch.long)
    y = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    for i, (ids, targets) in enumerate(examples):
        x[i, :len(ids)] = torch.tensor(ids)
        y[i, :len(targets)] = torch.tensor(targets)
    return x, y
