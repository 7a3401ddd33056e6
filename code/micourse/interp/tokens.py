"""Repeated random tokens: the input on which induction heads show themselves."""

from __future__ import annotations

import torch
from jaxtyping import Int
from torch import Tensor


def bos_id(model) -> int:
    """The model's BOS token id (the real attn-only-2l has its own tokenizer, so never assume GPT-2's)."""
    tok = getattr(model, "tokenizer", None)
    if tok is not None and tok.bos_token_id is not None:
        return int(tok.bos_token_id)
    return int(model.cfg.d_vocab - 1)


def repeated_tokens(
    bos: int, seq_len: int, batch: int, low: int, high: int, generator: torch.Generator | None = None
) -> Int[Tensor, "batch 1+2*seq_len"]:
    """BOS, then `seq_len` tokens drawn uniformly from [low, high), then the same tokens again."""
    if seq_len < 1 or batch < 1 or high <= low:
        raise ValueError(f"Need seq_len >= 1, batch >= 1 and low < high; got {seq_len}, {batch}, [{low}, {high}).")
    half = torch.randint(low, high, (batch, seq_len), generator=generator)
    return torch.cat([torch.full((batch, 1), bos, dtype=torch.long), half, half], dim=1)


def vocab_range(model) -> tuple[int, int]:
    """Token ids to draw from: skip the first 1000 (often punctuation or special tokens), stay under 50k."""
    high = min(50_000, model.cfg.d_vocab)
    return min(1000, high // 2), high


def known_tokens(model, low: int = 1000, high: int = 50000) -> Int[Tensor, " n"] | None:
    """Ids in [low, high) whose embedding is not zero, or None if all are (any pretrained model).

    A stand-in has embedded only the tokens it was trained on and keeps the rest at zero; random
    tokens for an induction test must be ones the model has seen, or the test says nothing.
    """
    high = min(high, model.cfg.d_vocab)
    low = min(low, high // 2)
    norms = model.W_E[low:high].norm(dim=-1)
    if bool((norms > 0).all()):
        return None
    return torch.nonzero(norms > 0)[:, 0] + low


def repeated_tokens_for(
    model, batch: int, seq_len: int, seed: int = 0, low: int = 1000, high: int = 50000
) -> Int[Tensor, "batch 1+2*seq_len"]:
    """Repeated random tokens that `model` can read: THE helper every page and recipe uses.

    BOS (the model's own), then `seq_len` tokens, then the same tokens again. On a real model the
    tokens come uniformly from [low, high) (skipping the first 1000 ids: bytes and word pieces);
    on a stand-in, only from the ids in that range it was trained on (`known_tokens`): an untrained
    id has a zero embedding, and a test on it would say nothing about the model's heads.
    """
    if seq_len < 1 or batch < 1:
        raise ValueError(f"Need seq_len >= 1 and batch >= 1; got seq_len={seq_len}, batch={batch}.")
    high = min(high, model.cfg.d_vocab)
    low = min(low, high // 2)
    pool = known_tokens(model, low, high)
    g = torch.Generator().manual_seed(seed)
    if pool is None:
        half = torch.randint(low, high, (batch, seq_len), generator=g)
    else:
        half = pool[torch.randint(0, len(pool), (batch, seq_len), generator=g)]
    bos = torch.full((batch, 1), bos_id(model), dtype=torch.long)
    return torch.cat([bos, half, half], dim=1)
