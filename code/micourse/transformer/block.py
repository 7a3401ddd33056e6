"""One transformer block: attention, then an MLP, each reading from and adding to the residual stream."""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor, nn

from micourse.transformer.attention import Attention
from micourse.transformer.cache import LayerCache
from micourse.transformer.config import Config
from micourse.transformer.hooks import HookPoint
from micourse.transformer.layernorm import LayerNorm
from micourse.transformer.mlp import MLP


class TransformerBlock(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.attn_only = cfg.attn_only
        self.ln1 = LayerNorm(cfg)
        self.attn = Attention(cfg)
        if not cfg.attn_only:
            self.ln2 = LayerNorm(cfg)
            self.mlp = MLP(cfg)
            self.hook_resid_mid = HookPoint()
            self.hook_mlp_out = HookPoint()
        self.hook_resid_pre = HookPoint()
        self.hook_attn_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(
        self, resid_pre: Float[Tensor, "batch pos d_model"], layer_cache: LayerCache | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        resid_pre = self.hook_resid_pre(resid_pre)
        # Pre-LN: each sublayer normalises its own input; the residual stream itself is never normalised.
        resid = resid_pre + self.hook_attn_out(self._attend(self.ln1(resid_pre), layer_cache))
        if not self.attn_only:
            resid = self.hook_resid_mid(resid)
            resid = resid + self.hook_mlp_out(self.mlp(self.ln2(resid)))
        return self.hook_resid_post(resid)

    def _attend(self, x: Tensor, layer_cache: LayerCache | None) -> Tensor:
        # without a cache, call attention as a plain module: a learner's may take one argument
        return self.attn(x) if layer_cache is None else self.attn(x, layer_cache)
