"""A tiny random TransformerLens model: lets checkers and tests run hooks in milliseconds."""

from __future__ import annotations

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig


def tiny_model(
    seed: int = 0, n_layers: int = 2, n_heads: int = 3, d_vocab: int = 40, attn_only: bool = True
) -> HookedTransformer:
    """2 layers, 3 heads, d_model 24, no tokenizer; weights scaled up so patterns are far from uniform."""
    cfg = HookedTransformerConfig(
        n_layers=n_layers,
        d_model=24,
        n_heads=n_heads,
        d_head=8,
        d_mlp=None if attn_only else 48,
        n_ctx=64,
        d_vocab=d_vocab,
        attn_only=attn_only,
        act_fn="gelu_new",
        normalization_type="LN",
        seed=seed,
    )
    model = HookedTransformer(cfg, move_to_device=False)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.6)
            elif name.endswith(("b_Q", "b_K", "b_V", "b_O", "b_U")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    model.eval()
    return model


def tiny_tokens(batch: int = 3, pos: int = 12, d_vocab: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, d_vocab, (batch, pos), generator=g)
