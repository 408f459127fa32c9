"""Embedding-space arithmetic for the pages: cosine similarity, nearest neighbours, analogies, PCA,
and the sinusoidal position encoding of "Attention Is All You Need" for comparison.

    >>> cosine_matrix(torch.tensor([[1.0, 0.0], [1.0, 1.0]])).round(decimals=3).tolist()
    [[1.0, 0.707], [0.707, 1.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import PlaygroundError


def cosine_matrix(x: torch.Tensor) -> torch.Tensor:
    """[n, d] -> [n, n] cosine similarities."""
    unit = torch.nn.functional.normalize(x.float(), dim=-1)
    return unit @ unit.T


@dataclass(frozen=True)
class Neighbour:
    token_id: int
    text: str
    score: float


def nearest(matrix: torch.Tensor, vector: torch.Tensor, tokenizer, k: int = 10, exclude=()) -> list[Neighbour]:
    """The k rows of matrix most similar (cosine) to vector, skipping ids in exclude."""
    scores = torch.nn.functional.normalize(matrix.float(), dim=-1) @ torch.nn.functional.normalize(vector.float(), dim=0)
    if exclude:
        scores[list(exclude)] = float("-inf")
    top = torch.topk(scores, k)
    return [Neighbour(int(i), tokenizer.token_text(int(i)), float(s)) for s, i in zip(top.values, top.indices)]


def single_token(tokenizer, word: str) -> int:
    """The id of a word that is one token (without a start token the tokenizer puts before every text); a clear
    error otherwise."""
    ids = tokenizer.encode_piece(word)
    if not ids:
        raise PlaygroundError("The word is empty: type a word that is one token (a leading space often helps).")
    if len(ids) != 1:
        pieces = " + ".join(repr(tokenizer.token_text(i)) for i in ids)
        raise PlaygroundError(
            "'{word}' is {n_ids} tokens ({pieces}) in {name}; pick a word that is one token (a leading space often "
            "helps).",
            word=word, n_ids=len(ids), pieces=pieces, name=tokenizer.name)
    return ids[0]


def analogy(matrix: torch.Tensor, tokenizer, a: str, b: str, c: str, k: int = 10) -> list[Neighbour]:
    """Nearest tokens to vec(a) − vec(b) + vec(c), excluding the three inputs (king − man + woman ≈ queen)."""
    ia, ib, ic = (single_token(tokenizer, w) for w in (a, b, c))
    target = matrix[ia] - matrix[ib] + matrix[ic]
    return nearest(matrix, target, tokenizer, k, exclude=(ia, ib, ic))


def pca(x: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Project rows of x onto their top-k principal components: (coordinates [n, k], explained variance ratio [k])."""
    x = x.float()
    if not torch.isfinite(x).all():
        raise PlaygroundError("These vectors are not all numbers (NaN or inf): the model's weights are damaged, so they "
                              "have no principal components.")
    centred = x - x.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    k = min(k, vh.shape[0])
    variance = s ** 2
    return centred @ vh[:k].T, variance[:k] / variance.sum()


def sinusoidal_positions(n_positions: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(pos / 10000^(2i/d))."""
    pos = torch.arange(n_positions, dtype=torch.float32)[:, None]
    i = torch.arange(0, d_model, 2, dtype=torch.float32)
    angle = pos / torch.pow(10000.0, i / d_model)
    pe = torch.zeros(n_positions, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


def frequent_tokens(ids, k: int) -> list[int]:
    """The k most frequent ids of a token sequence."""
    counts = torch.bincount(torch.as_tensor(ids))
    return torch.topk(counts, min(k, int((counts > 0).sum()))).indices.tolist()
