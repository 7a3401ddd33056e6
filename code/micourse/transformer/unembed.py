"""The unembedding: read the final residual stream out as one logit per vocabulary token."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from micourse.transformer.config import Config
from micourse.transformer.hooks import HookPoint


class Unembed(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.W_U = nn.Parameter(torch.empty(cfg.d_model, cfg.d_vocab))
        nn.init.normal_(self.W_U, std=cfg.init_range)
        # GPT-2 has no output bias (b_U stays 0), but TransformerLens models, the course's
        # stand-ins among them, may use one: theirs is -30 for tokens never seen in training.
        self.b_U = nn.Parameter(torch.zeros(cfg.d_vocab))
        self.hook_in = HookPoint()  # [batch pos d_model]
        self.hook_out = HookPoint()  # [batch pos d_vocab]

    def forward(self, normalized: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_vocab"]:
        return self.hook_out(self.hook_in(normalized) @ self.W_U + self.b_U)
