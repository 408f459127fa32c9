"""Autoregressive generation, one step at a time, with a KV cache.

`generation_steps` is a generator: each step yields the full next-token
distribution (after the sampling pipeline), the sampled id and the greedy id,
so the generation page can show and change every choice. `generate` is built
on it and returns prompt plus new ids.

Once the text is longer than the model's context, the model sees only the
last `context_length` tokens (learned absolute positions cannot slide, and a
rotary model's positions would restart), so each step then re-reads that
window: the same numbers as without the cache. Only the last position goes
through the unembedding (for a 50k–150k vocabulary it is most of a step's work).

Left out: batched generation of different prompts, beam search.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from core.errors import Message, PlaygroundError, message
from core.inference.sampling import SamplingSettings, next_token_distribution, sample
from core.model.base import KVCache, LanguageModel


@dataclass
class Step:
    index: int  # 0 for the first new token
    probs: torch.Tensor  # [vocab], after the sampling pipeline (on CPU)
    logits: torch.Tensor  # [vocab], raw model logits (on CPU)
    token: int  # the chosen id
    greedy_token: int

    @property
    def prob(self) -> float:
        return float(self.probs[self.token])


def _as_id_list(ids) -> list[int]:
    if isinstance(ids, torch.Tensor):
        if ids.dim() == 2:
            if ids.shape[0] != 1:
                raise PlaygroundError("generate takes one prompt at a time (batch size 1).")
            ids = ids[0]
        ids = ids.tolist()
    return [int(i) for i in ids]


@torch.no_grad()
def generation_steps(model: LanguageModel, ids, max_new_tokens: int, settings: SamplingSettings | None = None,
                     seed: int | None = None, use_kv_cache: bool = True, stop_ids: set[int] | None = None):
    """Yield a `Step` per new token. The caller may `send` nothing; choices are the sampler's."""
    settings = settings or SamplingSettings()
    tokens = _as_id_list(ids)
    if not tokens:
        raise PlaygroundError("The prompt is empty: start from at least one token (e.g. <|endoftext|>).")
    if max_new_tokens < 0:
        raise PlaygroundError("max_new_tokens must be 0 or more, not {max_new_tokens}.", max_new_tokens=max_new_tokens)
    model.eval()
    device = model.device
    ctx = model.config.context_length
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    kv = None
    pending = tokens[-ctx:]  # tokens not yet read by the model
    for index in range(max_new_tokens):
        if use_kv_cache and kv is not None and kv.length + len(pending) <= ctx:
            read = pending
        else:
            read = tokens[-ctx:]
            # room for every token this call can still read, not the whole context (128k for Llama 3.2)
            room = min(ctx, len(tokens) + max_new_tokens - index)
            kv = KVCache(model.config.n_layer, room) if use_kv_cache and len(read) < ctx else None
        logits = model.unembed(model.hidden(torch.tensor([read], device=device), kv=kv)[0, -1])
        logits = logits.float().cpu()
        probs = next_token_distribution(logits, settings, tokens)
        greedy_token = int(probs.argmax())
        token = greedy_token if settings.greedy else sample(probs, generator)
        tokens.append(token)
        pending = [token]
        yield Step(index, probs, logits, token, greedy_token)
        if stop_ids and token in stop_ids:
            return


@dataclass
class TextChunk:
    token: int
    prob: float  # the probability the token had when it was chosen
    text: str  # all new text so far (stop sequence cut off)
    stopped: str | None  # the stop sequence that ended generation, if any
    alternatives: list[tuple[int, float]] = field(default_factory=list)  # the step's likeliest ids, best first


def stream_text(model: LanguageModel, ids, max_new_tokens: int, settings: SamplingSettings | None = None,
                seed: int | None = None, stop_sequences=(), use_kv_cache: bool = True, alternatives: int = 5):
    """Yield a TextChunk per new token; stop at a stop sequence (which is not part of the text) or the end-of-text id.
    Each chunk keeps the `alternatives` most likely tokens of its step (id, probability after the pipeline)."""
    tokenizer = model.tokenizer
    new: list[int] = []
    stop_sequences = [s for s in stop_sequences if s]
    eot = {tokenizer.eot_id} if tokenizer is not None else None
    for step in generation_steps(model, ids, max_new_tokens, settings, seed, use_kv_cache, stop_ids=eot):
        new.append(step.token)
        text = tokenizer.decode(new)
        top = torch.topk(step.probs, min(alternatives, len(step.probs)))
        likeliest = list(zip(top.indices.tolist(), top.values.tolist()))
        hit = next((s for s in stop_sequences if s in text), None)
        if hit:
            yield TextChunk(step.token, step.prob, text[: text.index(hit)], hit, likeliest)
            return
        yield TextChunk(step.token, step.prob, text, None, likeliest)


def generate(model: LanguageModel, ids, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = None, use_kv_cache: bool = True,
             settings: SamplingSettings | None = None, stop_ids: set[int] | None = None):
    """Prompt plus up to max_new_tokens new ids. Temperature 0 is greedy; a seed makes sampling repeatable.

    Returns the same kind it was given: a list, or a tensor [1, T] / [T].
    """
    settings = settings or SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p)
    prompt = _as_id_list(ids)
    new = [s.token for s in generation_steps(model, prompt, max_new_tokens, settings, seed, use_kv_cache, stop_ids)]
    out = prompt + new
    if isinstance(ids, torch.Tensor):
        result = torch.tensor(out, dtype=torch.long, device=ids.device)
        return result.unsqueeze(0) if ids.dim() == 2 else result
    return out


def prepare_prompt(tokenizer, text: str, context_length: int) -> tuple[list[int], Message | None]:
    """Prompt ids and a note for the user (a message, so the app can show it in the learner's language): empty
    text starts from <|endoftext|>; a prompt longer than the context keeps its end (the model can only read
    context_length tokens)."""
    if not text:
        return [tokenizer.eot_id], message(
            "The prompt is empty, so the model starts from <|endoftext|>, the start of a document.")
    ids = tokenizer.encode(text)
    if len(ids) > context_length - 1:
        kept = ids[-(context_length - 1):]
        return kept, message("The prompt has {n} tokens but the model reads at most {context}; it keeps the last "
                             "{kept}.", n=len(ids), context=context_length, kept=len(kept))
    return ids, None
