"""GPT-2: embed, a stack of blocks, a final LayerNorm, unembed.

Parameter names and shapes are TransformerLens's, so `model.load_state_dict(hooked.state_dict())`
works, and `run_with_cache` returns activations under TransformerLens's hook names. Weights
from elsewhere come through `micourse.transformer.loading` (which imports this module, never
the reverse); pages get a loaded reference from `micourse.models.load_reference`.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from micourse.transformer.block import TransformerBlock
from micourse.transformer.cache import KVCache
from micourse.transformer.config import Config
from micourse.transformer.embed import Embed, PosEmbed
from micourse.transformer.hooks import HookedModule, HookPoint
from micourse.transformer.layernorm import LayerNorm
from micourse.transformer.unembed import Unembed


def validate_tokens(tokens: object, cfg: Config, offset: int = 0) -> None:
    """Refuse input that would otherwise crash deep inside, or silently give wrong logits."""
    if not isinstance(tokens, Tensor):
        raise TypeError(
            f"tokens must be a torch.Tensor of token ids, got {type(tokens).__name__}. "
            "Tokenize text first (e.g. tokenizer(text, return_tensors='pt').input_ids)."
        )
    if tokens.dtype == torch.bool or tokens.is_floating_point() or tokens.is_complex():
        raise TypeError(f"tokens must have an integer dtype (token ids), got {tokens.dtype}. Use tokens.long().")
    if tokens.ndim != 2:
        hint = " Add a batch axis with tokens[None]." if tokens.ndim == 1 else ""
        raise ValueError(f"tokens must have shape [batch, pos], got shape {tuple(tokens.shape)}.{hint}")
    if tokens.shape[1] == 0:
        raise ValueError("tokens has no positions: the model needs at least one token.")
    if offset + tokens.shape[1] > cfg.n_ctx:
        raise ValueError(
            f"{offset + tokens.shape[1]} positions do not fit the context window n_ctx={cfg.n_ctx}: "
            "truncate the input (keep the last n_ctx tokens)."
        )
    lo, hi = int(tokens.min()), int(tokens.max())
    if lo < 0 or hi >= cfg.d_vocab:
        raise ValueError(f"token ids must lie in [0, {cfg.d_vocab}), got values from {lo} to {hi}.")


class GPT2(HookedModule):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed = Embed(cfg)
        self.hook_embed = HookPoint()
        self.pos_embed = PosEmbed(cfg)
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList([TransformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.ln_final = LayerNorm(cfg)
        self.unembed = Unembed(cfg)

    def embed_tokens(self, tokens: Int[Tensor, "batch pos"], offset: int = 0) -> Float[Tensor, "batch pos d_model"]:
        """The residual stream before block 0; `offset` is the position of the first token."""
        return self.hook_embed(self.embed(tokens)) + self.hook_pos_embed(self.pos_embed(tokens, offset))

    def final_residual(
        self, tokens: Int[Tensor, "batch pos"], past_kv_cache: KVCache | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        """The normalised residual stream the unembedding reads (a restricted-vocabulary loss needs it)."""
        if past_kv_cache is None:
            validate_tokens(tokens, self.cfg)
            layer_caches = [None] * len(self.blocks)
            resid = self.embed_tokens(tokens)
        else:
            if len(past_kv_cache.layers) != self.cfg.n_layers:
                raise ValueError(
                    f"The cache has {len(past_kv_cache.layers)} layers, the model {self.cfg.n_layers}: use KVCache.empty."
                )
            offset = past_kv_cache.n_pos  # read before the blocks append the new positions
            validate_tokens(tokens, self.cfg, offset=offset)
            layer_caches = past_kv_cache.layers
            resid = self.embed_tokens(tokens, offset=offset)  # positions continue after the cached ones
        for block, layer_cache in zip(self.blocks, layer_caches):
            # without a cache, call blocks as plain modules: a learner's block may take one argument
            resid = block(resid) if layer_cache is None else block(resid, layer_cache)
        return self.ln_final(resid)

    def forward(
        self, tokens: Int[Tensor, "batch pos"], past_kv_cache: KVCache | None = None
    ) -> Float[Tensor, "batch pos d_vocab"]:
        """Logits for `tokens`; with `past_kv_cache`, `tokens` continue the cached sequence
        (TransformerLens's argument name) and the cache grows by their positions."""
        return self.unembed(self.final_residual(tokens, past_kv_cache))
