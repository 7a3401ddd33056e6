"""KV caching: generate token by token without recomputing the past.

In a causal model, the keys and values at a position never change once that position exists:
later tokens cannot influence earlier ones. So during generation we keep every layer's keys and
values, and each new step only computes the new token's query, key and value. The cost of a
step then grows with the context length only through the attention scores, not through the
whole forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from micourse.transformer.attention import Attention
from micourse.transformer.block import TransformerBlock
from micourse.transformer.model import GPT2, validate_tokens


@dataclass
class LayerCache:
    """The keys and values one attention layer has computed so far ([batch pos head d_head])."""

    k: Float[Tensor, "batch pos head d_head"] | None = None
    v: Float[Tensor, "batch pos head d_head"] | None = None

    @property
    def n_pos(self) -> int:
        return 0 if self.k is None else self.k.shape[1]

    def append(self, k_new: Tensor, v_new: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions; return keys and values for ALL positions so far."""
        self.k = k_new if self.k is None else torch.cat([self.k, k_new], dim=1)
        self.v = v_new if self.v is None else torch.cat([self.v, v_new], dim=1)
        return self.k, self.v


@dataclass
class KVCache:
    layers: list[LayerCache] = field(default_factory=list)

    @classmethod
    def empty(cls, n_layers: int) -> "KVCache":
        return cls([LayerCache() for _ in range(n_layers)])

    @property
    def n_pos(self) -> int:
        """How many positions are cached, i.e. the position of the next token."""
        return self.layers[0].n_pos if self.layers else 0


def attention_with_cache(
    attn: Attention, x_new: Float[Tensor, "batch new_pos d_model"], layer_cache: LayerCache
) -> Float[Tensor, "batch new_pos d_model"]:
    """Attention output for the new positions only; appends their keys and values to the cache."""
    q, k_new, v_new = attn.qkv(x_new)
    k, v = layer_cache.append(k_new, v_new)
    # `attend` masks with queries at the LAST positions of the keys, which is where the new ones are.
    return attn.attend(q, k, v)


def block_with_cache(
    block: TransformerBlock, resid: Float[Tensor, "batch new_pos d_model"], layer_cache: LayerCache
) -> Float[Tensor, "batch new_pos d_model"]:
    resid = resid + attention_with_cache(block.attn, block.ln1(resid), layer_cache)
    if not block.attn_only:
        resid = resid + block.mlp(block.ln2(resid))
    return resid


def forward_with_cache(
    model: GPT2, new_tokens: Int[Tensor, "batch new_pos"], cache: KVCache
) -> Float[Tensor, "batch new_pos d_vocab"]:
    """Logits for `new_tokens`, which continue the sequence whose keys and values are in `cache`."""
    if len(cache.layers) != model.cfg.n_layers:
        raise ValueError(f"The cache has {len(cache.layers)} layers, the model {model.cfg.n_layers}: use KVCache.empty.")
    offset = cache.n_pos
    validate_tokens(new_tokens, model.cfg, offset=offset)
    if cache.layers[0].k is not None and cache.layers[0].k.shape[0] != new_tokens.shape[0]:
        raise ValueError(f"The cache holds a batch of {cache.layers[0].k.shape[0]}, the new tokens {new_tokens.shape[0]}.")
    resid = model.embed_tokens(new_tokens, offset=offset)  # positions continue after the cached ones
    for block, layer_cache in zip(model.blocks, cache.layers):
        resid = block_with_cache(block, resid, layer_cache)
    return model.unembed(model.ln_final(resid))


@torch.no_grad()  # not inference_mode: its tensors could not be fed back into a model with grad on
def generate_greedy(
    model: GPT2, prompt: Int[Tensor, "batch pos"], n_new: int, *, use_cache: bool = True
) -> Int[Tensor, "batch pos_plus_new"]:
    """Append `n_new` most-likely tokens to `prompt`, with or without a KV cache."""
    if n_new < 0:
        raise ValueError(f"n_new must be >= 0, got {n_new}.")
    validate_tokens(prompt, model.cfg)
    if prompt.shape[1] + n_new > model.cfg.n_ctx:
        raise ValueError(f"prompt ({prompt.shape[1]}) + n_new ({n_new}) exceeds n_ctx={model.cfg.n_ctx}.")
    tokens = prompt
    if n_new == 0:
        return tokens
    if use_cache:
        cache = KVCache.empty(model.cfg.n_layers)
        logits = forward_with_cache(model, prompt, cache)
        for _ in range(n_new):
            next_token = logits[:, -1].argmax(dim=-1, keepdim=True)
            tokens = torch.cat([tokens, next_token], dim=1)
            if tokens.shape[1] < prompt.shape[1] + n_new:
                logits = forward_with_cache(model, next_token, cache)
    else:
        for _ in range(n_new):
            next_token = model(tokens)[:, -1].argmax(dim=-1, keepdim=True)
            tokens = torch.cat([tokens, next_token], dim=1)
    return tokens
