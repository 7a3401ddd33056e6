"""Scores saying how much each head attends in a recognisable way, and head names from scores.

Every score takes a pattern `Float[Tensor, "batch head query key"]` (TransformerLens's
`cache["pattern", layer]`) and returns one number per head, averaged over the batch and over
the query positions where the score is defined.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

Pattern = Float[Tensor, "batch head query key"]


def _check_pattern(pattern: Tensor) -> None:
    if pattern.ndim != 4 or pattern.shape[-1] != pattern.shape[-2]:
        raise ValueError(f"Expected a pattern of shape (batch, head, query, key), got {tuple(pattern.shape)}.")


def current_token_score(pattern: Pattern) -> Float[Tensor, " head"]:
    """Mean attention from each position to itself."""
    _check_pattern(pattern)
    return pattern.diagonal(dim1=-2, dim2=-1).mean(dim=(0, -1))


def previous_token_score(pattern: Pattern) -> Float[Tensor, " head"]:
    """Mean attention from each position (but the first) to the one before it."""
    _check_pattern(pattern)
    return pattern.diagonal(offset=-1, dim1=-2, dim2=-1).mean(dim=(0, -1))


def first_token_score(pattern: Pattern) -> Float[Tensor, " head"]:
    """Mean attention from each position to position 0 (the BOS token)."""
    _check_pattern(pattern)
    return pattern[..., 0].mean(dim=(0, -1))


def induction_score(pattern: Pattern, seq_len: int) -> Float[Tensor, " head"]:
    """On BOS + x + x (x of length `seq_len`), mean attention from each token of the repeat to
    the token right after its earlier copy: query q attends to key q - seq_len + 1.

    The repeat sits at positions seq_len + 1 .. 2 * seq_len; queries of the first copy have no
    earlier copy to look back at and do not count.
    """
    _check_pattern(pattern)
    if pattern.shape[-1] != 2 * seq_len + 1:
        raise ValueError(
            f"A repeated sequence of seq_len {seq_len} has {2 * seq_len + 1} positions, the pattern has {pattern.shape[-1]}."
        )
    diag = pattern.diagonal(offset=-(seq_len - 1), dim1=-2, dim2=-1)  # queries seq_len - 1 .. 2 * seq_len
    return diag[..., -seq_len:].mean(dim=(0, -1))  # the repeat's queries


def scores_by_layer(cache, n_layers: int, score: Callable[[Pattern], Tensor]) -> Float[Tensor, "layer head"]:
    """Apply a per-head `score` to every layer's pattern in a cache."""
    return torch.stack([score(cache["pattern", layer]) for layer in range(n_layers)])


def heads_above(scores: Float[Tensor, "layer head"], threshold: float) -> list[str]:
    """Names "layer.head" of the heads scoring above `threshold`, best first."""
    if scores.ndim != 2:
        raise ValueError(f"Expected scores of shape (layer, head), got {tuple(scores.shape)}.")
    idx = (scores > threshold).nonzero().tolist()
    idx.sort(key=lambda lh: -float(scores[lh[0], lh[1]]))
    return [f"{l}.{h}" for l, h in idx]


def best_head(scores: Float[Tensor, "layer head"], layer: int | None = None) -> tuple[int, int]:
    """(layer, head) of the highest score, optionally within one layer."""
    if layer is not None:
        return layer, int(scores[layer].argmax())
    flat = int(scores.argmax())
    return flat // scores.shape[1], flat % scores.shape[1]
