"""LayerNorm: give every position's residual vector mean 0 and variance 1, then rescale."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

from micourse.transformer.config import Config
from micourse.transformer.hooks import HookPoint


class LayerNorm(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.eps = cfg.layer_norm_eps
        self.w = nn.Parameter(torch.ones(cfg.d_model))
        self.b = nn.Parameter(torch.zeros(cfg.d_model))
        self.hook_scale = HookPoint()  # [batch pos 1]
        self.hook_normalized = HookPoint()  # [batch pos d_model]

    def forward(self, residual: Float[Tensor, "batch pos d_model"]) -> Float[Tensor, "batch pos d_model"]:
        centred = residual - residual.mean(dim=-1, keepdim=True)
        # The biased variance (divide by d_model), and eps inside the square root: GPT-2's choice.
        scale = self.hook_scale((centred.pow(2).mean(dim=-1, keepdim=True) + self.eps).sqrt())
        normalized = self.hook_normalized(centred / scale)
        return normalized * self.w + self.b
