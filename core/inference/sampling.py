"""The sampling pipeline, as small pure functions on a logit vector.

Order (the lecture's "Kontrollparameter"):
    logits → logit bias → classroom filter → repetition / frequency / presence penalties → temperature
           → top-k → top-p → min-p → softmax (renormalised) → sample

Each stage takes and returns logits of shape [..., vocab]; removed tokens get
−inf. `pipeline_stages` returns every intermediate so a page can show what each
stage did; `next_token_distribution` is the one used by `core.generate`.
Temperature 0 means greedy: all probability on the arg-max.

Left out: beam search, typical sampling, mirostat.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch

from core.errors import PlaygroundError
from core.inference.classroom import ClassroomFilter
from core.model.base import require_numbers

NEG_INF = float("-inf")


@dataclass
class SamplingSettings:
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float = 1.0  # CTRL-style: >1 makes repeats less likely
    frequency_penalty: float = 0.0  # OpenAI-style: minus this times the count
    presence_penalty: float = 0.0  # OpenAI-style: minus this once a token occurred
    logit_bias: dict[int, float] = field(default_factory=dict)
    classroom: ClassroomFilter | None = None  # bans the listed words of core.inference.classroom (None: off)

    def __post_init__(self):
        validate(self)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def validate(s: SamplingSettings) -> None:
    """Raise one clear sentence for an impossible setting."""
    if s.temperature is None or s.temperature != s.temperature or s.temperature < 0:
        raise PlaygroundError(
            "Temperature must be 0 (greedy) or positive, not {temperature}.",
            temperature=s.temperature)
    if s.top_k is not None and int(s.top_k) < 1:
        raise PlaygroundError("top-k must be at least 1 (or off), not {top_k}.", top_k=s.top_k)
    if s.top_p is not None and not 0 < s.top_p <= 1:
        raise PlaygroundError("top-p must be in (0, 1], not {top_p}.", top_p=s.top_p)
    if s.min_p is not None and not 0 <= s.min_p <= 1:
        raise PlaygroundError("min-p must be in [0, 1], not {min_p}.", min_p=s.min_p)
    if s.repetition_penalty <= 0:
        raise PlaygroundError(
            "The repetition penalty must be positive (1 = off), not {repetition_penalty}.",
            repetition_penalty=s.repetition_penalty)
    for token_id, value in s.logit_bias.items():
        check_bias_value(token_id, value)


def check_bias_value(token_id, value) -> None:
    """A bias is a finite number, or −inf (ban the token); +inf and nan would make every probability nan."""
    if not isinstance(value, (int, float)) or value != value or value == float("inf"):
        raise PlaygroundError(
            "The logit bias of token {token_id} must be a finite number (or -100 and below to ban it), not {value}.",
            token_id=token_id, value=value)


def softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(z / T) in float64 for the teaching tables; T = 0 gives the one-hot arg-max.

    >>> [round(p, 3) for p in softmax(torch.tensor([3.23, -7.1, 5.57, 0.39, 2.4])).tolist()]
    [0.084, 0.0, 0.87, 0.005, 0.037]
    """
    z = logits.to(torch.float64)
    if temperature == 0:
        return greedy_distribution(z)
    return torch.softmax(z / temperature, dim=-1)


def greedy_distribution(logits: torch.Tensor) -> torch.Tensor:
    probs = torch.zeros_like(logits, dtype=torch.float32 if logits.dtype != torch.float64 else torch.float64)
    return probs.scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)


def apply_logit_bias(logits: torch.Tensor, bias: dict[int, float]) -> torch.Tensor:
    """Add bias[id] to those logits; −inf (or −100 and below) bans a token."""
    if not bias:
        return logits
    out = logits.clone()
    vocab = logits.shape[-1]
    for token_id, value in bias.items():
        check_bias_value(token_id, value)
        if not 0 <= int(token_id) < vocab:
            raise PlaygroundError(
                "Logit bias names token id {token_id}, outside the vocabulary (0 to {last}).",
                token_id=token_id, last=vocab - 1)
        out[..., int(token_id)] = NEG_INF if value <= -100 else out[..., int(token_id)] + value
    return out


def token_counts(context_ids, vocab: int, device=None) -> torch.Tensor:
    counts = torch.zeros(vocab, device=device)
    if len(context_ids):
        ids = torch.as_tensor(list(context_ids), device=device)
        counts.index_add_(0, ids, torch.ones_like(ids, dtype=counts.dtype))
    return counts


def apply_penalties(logits, context_ids, repetition: float = 1.0, frequency: float = 0.0, presence: float = 0.0):
    """Penalise tokens already in the context.

    repetition (CTRL, as transformers): a seen token's logit is divided by r when positive, multiplied when negative.
    frequency / presence (OpenAI): logit − frequency·count − presence·[count > 0].
    """
    if repetition == 1.0 and frequency == 0.0 and presence == 0.0:
        return logits
    counts = token_counts(context_ids, logits.shape[-1], logits.device).to(logits.dtype)
    seen = counts > 0
    out = logits.clone()
    if repetition != 1.0:
        penalised = torch.where(out > 0, out / repetition, out * repetition)
        out = torch.where(seen, penalised, out)
    return out - frequency * counts - presence * seen.to(logits.dtype)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """z / T. T = 0 is handled as greedy by the caller; here it keeps only the arg-max."""
    if temperature == 0:
        return torch.where(greedy_distribution(logits) > 0, logits, torch.full_like(logits, NEG_INF))
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the k largest logits (ties with the k-th kept, as transformers)."""
    if k is None or k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, int(k), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probability sums to at least p (nucleus).

    Summed in float64: in float32 the running sum of 50k small probabilities drifts by ~1e-4, enough to drop
    the last token of the nucleus at p = 0.999."""
    if p is None or p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(sorted_logits.double(), dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # mass of the strictly more likely tokens
    drop_sorted = mass_before >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, NEG_INF)


def min_p_filter(logits: torch.Tensor, min_p: float | None) -> torch.Tensor:
    """Drop tokens whose probability is below min_p times the top token's probability."""
    if not min_p:
        return logits
    probs = torch.softmax(logits, dim=-1)
    threshold = min_p * probs.max(dim=-1, keepdim=True).values
    return logits.masked_fill(probs < threshold, NEG_INF)


def apply_classroom_filter(logits: torch.Tensor, classroom: ClassroomFilter | None, context_ids=()) -> torch.Tensor:
    """Part of the logit bias: the classroom filter's banned ids after this context get −inf (None: off)."""
    if classroom is None:
        return logits
    banned = [i for i in classroom.banned_after(list(context_ids)) if i < logits.shape[-1]]
    return logits.index_fill(-1, torch.tensor(banned, dtype=torch.long, device=logits.device), NEG_INF) if banned \
        else logits


STAGES = ("raw", "bias", "classroom", "penalties", "temperature", "top_k", "top_p", "min_p")


def pipeline_stages(logits: torch.Tensor, settings: SamplingSettings, context_ids=()) -> dict[str, torch.Tensor]:
    """Every stage's logits, in order (keys of STAGES), for showing what each one did."""
    stages = {"raw": require_numbers(logits)}
    stages["bias"] = apply_logit_bias(stages["raw"], settings.logit_bias)
    stages["classroom"] = apply_classroom_filter(stages["bias"], settings.classroom, context_ids)
    stages["penalties"] = apply_penalties(
        stages["classroom"], context_ids, settings.repetition_penalty, settings.frequency_penalty, settings.presence_penalty
    )
    stages["temperature"] = apply_temperature(stages["penalties"], settings.temperature)
    stages["top_k"] = top_k_filter(stages["temperature"], settings.top_k)
    stages["top_p"] = top_p_filter(stages["top_k"], settings.top_p)
    stages["min_p"] = min_p_filter(stages["top_p"], settings.min_p)
    if torch.isneginf(stages["min_p"]).all(dim=-1).any():
        raise PlaygroundError("Bias and penalties removed every token: there is nothing left to sample; loosen them.")
    return stages


def next_token_distribution(logits: torch.Tensor, settings: SamplingSettings, context_ids=()) -> torch.Tensor:
    """Probabilities of the next token after the whole pipeline."""
    return distribution_from_stages(pipeline_stages(logits.float(), settings, context_ids), settings)


def distribution_from_stages(stages: dict[str, torch.Tensor], settings: SamplingSettings) -> torch.Tensor:
    """The final probabilities from stages already computed by pipeline_stages (greedy: all on the arg-max)."""
    final = stages["min_p"]
    return greedy_distribution(final) if settings.greedy else torch.softmax(final, dim=-1)


def sample(probs: torch.Tensor, generator: torch.Generator | None = None) -> int:
    """Draw one token id from a probability vector (the weighted dice)."""
    return int(torch.multinomial(probs, 1, generator=generator).item())


def entropy_bits(probs: torch.Tensor) -> float:
    """Shannon entropy in bits; 0·log 0 counted as 0."""
    p = probs.double()
    nz = p[p > 0]
    return float(-(nz * nz.log2()).sum())


LOGIT_LIMIT = 1000  # a hand-written logit beyond ±1000 teaches nothing, and z / T must stay finite for T ≥ 0.01


def parse_logits(text: str) -> torch.Tensor:
    """A small logit vector written by hand: 2 to 20 finite numbers, each between −1000 and 1000 (float64).

    Commas or semicolons separate them; between semicolons a comma inside a number is a decimal comma, as
    German writes it.

    >>> parse_logits("3.23, -7.1; 5.57").tolist(), parse_logits("3,23; -7,1; 5").tolist()
    ([3.23, -7.1, 5.57], [3.23, -7.1, 5.0])
    """
    parts = []
    for part in text.split(";"):
        decimal_comma = ";" in text and re.fullmatch(r"\s*[-+−]?\d+,\d+\s*", part)
        parts += [part.replace(",", ".")] if decimal_comma else part.split(",")
    try:
        values = [float(v.replace("−", "-")) for v in parts if v.strip()]
    except ValueError:
        raise PlaygroundError("Write the logits as numbers separated by commas, e.g. 3.23, -7.1, 5.57.") from None
    if not 2 <= len(values) <= 20:
        raise PlaygroundError("Give between 2 and 20 logits.")
    for v in values:
        if not math.isfinite(v) or abs(v) > LOGIT_LIMIT:
            raise PlaygroundError("Each logit must be a number between -{limit} and {limit}, not {value}.",
                                  limit=LOGIT_LIMIT, value=v)
    return torch.tensor(values, dtype=torch.float64)


def parse_logit_bias(text: str, tokenizer) -> dict[int, float]:
    """Lines of `token: value`, where token is an id or a text that is one token (quotes keep spaces).

    >>> from core.tokens.encodings import load_tokenizer
    >>> parse_logit_bias('" the": -100\\n995: 2.5', load_tokenizer("gpt2"))
    {262: -100.0, 995: 2.5}
    """
    bias: dict[int, float] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.rpartition(":")
        if not sep or not key.strip():
            raise PlaygroundError(
                'Line {number} of the logit bias needs the form  token: value  (e.g. " the": -100).',
                number=number)
        try:
            amount = float(value)
        except ValueError:
            raise PlaygroundError(
                "Line {number} of the logit bias: '{value}' is not a number.",
                number=number, value=value.strip()) from None
        if amount != amount or amount == float("inf"):
            raise PlaygroundError(
                "Line {number} of the logit bias: {value} is not allowed; use a finite number (or -100 to ban the "
                "token).", number=number, value=value.strip())
        key = key.strip()
        if key.lstrip("-").isdigit():
            token_id = int(key)
            if not 0 <= token_id < tokenizer.n_vocab:
                raise PlaygroundError(
                    "Line {number}: token id {token_id} is not in the vocabulary (0 to {last}).",
                    number=number, token_id=token_id, last=tokenizer.n_vocab - 1)
        else:
            token_text = key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'" else key
            ids = tokenizer.encode(token_text)
            if len(ids) != 1:
                raise PlaygroundError(
                    "Line {number}: '{token_text}' is {n_ids} tokens, not one; bias one token at a time (a leading "
                    "space, inside quotes, often makes a word one token).",
                    number=number, token_text=token_text, n_ids=len(ids))
            token_id = ids[0]
        bias[token_id] = amount
    return bias


def stage_summary(stages: dict[str, torch.Tensor]) -> list[dict]:
    """Per stage: tokens still possible and the probability mass (under the previous stage) that was kept."""
    rows = []
    previous = None
    for name, logits in stages.items():
        alive = ~torch.isneginf(logits)
        kept = 1.0 if previous is None else float(torch.softmax(previous, -1)[alive].sum())
        rows.append({"stage": name, "tokens_left": int(alive.sum()), "mass_kept": kept})
        previous = logits
    return rows
