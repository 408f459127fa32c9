"""Bits per character: how many bits a model needs, on average, to encode each character of a text.

Unlike the loss per token, it compares models with different tokenizers (a token of GPT-2 covers more
characters than one of a 2,000-token BPE). Defined exactly as computed here:

    ids   = tokenizer.encode(text)                  (the whole text, tokenized once)
    bits  = Σ_{i=1}^{N−1} −log₂ p(ids[i] | context_i)  (every token after the first is scored once)
    chars = len(text) − len(characters of ids[0])   (the first token is given, not predicted)
    bpc   = bits / chars

Context: a sliding window of the model's context length W and a stride S (default W/2). The first window
holds ids[0:W] and scores every one of its predictions (tokens 1 … W−1 are predicted from all tokens
before them); each later window ends S tokens further on and scores only its last S tokens, so every
token is scored exactly once and, after the first window, sees at least W − S tokens before it. S = 1
gives every token the longest context the model can read (slowest); S = W gives no overlap.

Left out: a start-of-text token (the models are trained without one), and bits of special tokens.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.errors import PlaygroundError
from core.model.gpt import GPT


def windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int]]:
    """(start, scored) per window: the input is ids[start : start+L] with L = min(window, n_tokens − 1), its
    predictions are of ids[start+1 : start+L+1], and the last `scored` of them count.

    >>> windows(10, 4, 2)  # tokens 1-4, then 5-6, 7-8, 9: each scored once
    [(0, 4), (2, 2), (4, 2), (5, 1)]
    """
    if n_tokens < 2:
        return []
    length = min(window, n_tokens - 1)
    spans, end = [(0, length)], length  # tokens 1 … end are scored so far
    while end < n_tokens - 1:
        new_end = min(end + stride, n_tokens - 1)
        spans.append((new_end - length, new_end - end))
        end = new_end
    return spans


@torch.no_grad()
def total_bits(model: GPT, ids: list[int], stride: int | None = None, batch_size: int = 16) -> float:
    """Σ −log₂ p(ids[i] | its window's context) over i = 1 … N−1, windows as described above."""
    window = model.config.context_length
    stride = stride or max(1, window // 2)
    if not 1 <= stride <= window:
        raise PlaygroundError("The stride must be between 1 and the context length {window}, not {stride}.",
                              window=window, stride=stride)
    spans = windows(len(ids), window, stride)
    if not spans:
        return 0.0
    data = torch.tensor(ids, dtype=torch.long)
    length = min(window, len(ids) - 1)
    was_training = model.training
    model.eval()
    nats = 0.0
    try:
        for i in range(0, len(spans), batch_size):
            group = spans[i:i + batch_size]
            x = torch.stack([data[s:s + length] for s, _ in group]).to(model.device)
            y = torch.stack([data[s + 1:s + length + 1] for s, _ in group]).to(model.device)
            losses = F.cross_entropy(model(x).float().flatten(0, 1), y.flatten(), reduction="none").view(y.shape)
            scored = torch.tensor([n for _, n in group], device=losses.device)
            keep = torch.arange(length, device=losses.device)[None, :] >= length - scored[:, None]
            nats += float(losses[keep].double().sum())
    finally:
        model.train(was_training)
    return nats / math.log(2)


def bits_per_character(model: GPT, text: str, stride: int | None = None) -> dict:
    """The model's bits per character on text (see the module docstring for what is counted), with the parts."""
    tokenizer = model.tokenizer
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise PlaygroundError("Bits per character need a text of at least two tokens.")
    first_chars = len(tokenizer.encoding.decode_single_token_bytes(ids[0]).decode("utf-8", errors="ignore"))
    chars = len(text) - first_chars
    bits = total_bits(model, ids, stride)
    return {"bits_per_character": bits / chars, "bits": bits, "characters": chars, "tokens": len(ids),
            "scored_tokens": len(ids) - 1, "window": model.config.context_length,
            "stride": stride or max(1, model.config.context_length // 2)}
