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
