"""Token and position embeddings: how integers become vectors in the residual stream."""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from micourse.transformer.config import Config


class Embed(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))
        nn.init.normal_(self.W_E, std=cfg.init_range)

    def forward(self, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
        # Indexing with a [batch pos] tensor picks one row of W_E per token.
        return self.W_E[tokens]


class PosEmbed(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
        nn.init.normal_(self.W_pos, std=cfg.init_range)

    def forward(self, tokens: Int[Tensor, "batch pos"], offset: int = 0) -> Float[Tensor, "batch pos d_model"]:
        """`offset` is the position of the first token: 0 normally, the cache length with a KV cache."""
        batch, seq_len = tokens.shape
        return self.W_pos[offset : offset + seq_len].expand(batch, seq_len, -1)
