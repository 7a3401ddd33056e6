"""Causal multi-head self-attention, with TransformerLens's weight shapes and hook names."""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Float
from torch import Tensor, nn

from micourse.transformer.cache import LayerCache
from micourse.transformer.config import Config
from micourse.transformer.hooks import HookPoint


def apply_causal_mask(
    attn_scores: Float[Tensor, "... query_pos key_pos"],
) -> Float[Tensor, "... query_pos key_pos"]:
    """Set the score of every key that lies in a query's future to -inf.

    Queries are the LAST `query_pos` positions of the `key_pos` keys. Without a KV cache the two
    counts are equal and this is the usual upper triangle; with one, new queries sit at the end.
    """
    n_q, n_k = attn_scores.shape[-2:]
    if n_q > n_k:
        raise ValueError(f"More queries ({n_q}) than keys ({n_k}): queries must be the last key positions.")
    future = torch.ones(n_q, n_k, dtype=torch.bool, device=attn_scores.device).triu(diagonal=n_k - n_q + 1)
    return attn_scores.masked_fill(future, float("-inf"))


def split_heads(
    x: Float[Tensor, "batch pos head_times_d_head"], n_heads: int
) -> Float[Tensor, "batch pos head d_head"]:
    """Split the last axis into heads: its first d_head entries belong to head 0, and so on."""
    return einops.rearrange(x, "batch pos (head d_head) -> batch pos head d_head", head=n_heads)


def attention_scores(
    q: Float[Tensor, "batch query_pos head d_head"], k: Float[Tensor, "batch key_pos head d_head"]
) -> Float[Tensor, "batch head query_pos key_pos"]:
    """Every query with every key, scaled by 1/sqrt(d_head) so the softmax is not saturated."""
    dots = einops.einsum(q, k, "batch q_pos head d_head, batch k_pos head d_head -> batch head q_pos k_pos")
    return dots / math.sqrt(q.shape[-1])


def mix_values(
    pattern: Float[Tensor, "batch head query_pos key_pos"], v: Float[Tensor, "batch key_pos head d_head"]
) -> Float[Tensor, "batch query_pos head d_head"]:
    """Each query's pattern-weighted sum of the values (`z` in TransformerLens)."""
    return einops.einsum(v, pattern, "batch k_pos head d_head, batch head q_pos k_pos -> batch q_pos head d_head")


def scaled_dot_product_attention(
    q: Float[Tensor, "batch pos head d_head"],
    k: Float[Tensor, "batch pos head d_head"],
    v: Float[Tensor, "batch pos head d_head"],
    causal: bool = True,
) -> tuple[Float[Tensor, "batch pos head d_head"], Float[Tensor, "batch head query_pos key_pos"]]:
    """Attention without the projections: (z, pattern), TransformerLens's layout."""
    scores = attention_scores(q, k)
    pattern = (apply_causal_mask(scores) if causal else scores).softmax(dim=-1)
    return mix_values(pattern, v), pattern


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        h, d, e = cfg.n_heads, cfg.d_model, cfg.d_head
        self.W_Q = nn.Parameter(torch.empty(h, d, e))
        self.W_K = nn.Parameter(torch.empty(h, d, e))
        self.W_V = nn.Parameter(torch.empty(h, d, e))
        self.W_O = nn.Parameter(torch.empty(h, e, d))
        self.b_Q = nn.Parameter(torch.zeros(h, e))
        self.b_K = nn.Parameter(torch.zeros(h, e))
        self.b_V = nn.Parameter(torch.zeros(h, e))
        self.b_O = nn.Parameter(torch.zeros(d))
        for w in (self.W_Q, self.W_K, self.W_V, self.W_O):
            nn.init.normal_(w, std=cfg.init_range)
        self.hook_q = HookPoint()  # [batch pos head d_head]
        self.hook_k = HookPoint()
        self.hook_v = HookPoint()
        self.hook_attn_scores = HookPoint()  # [batch head query_pos key_pos], after masking
        self.hook_pattern = HookPoint()  # [batch head query_pos key_pos]
        self.hook_z = HookPoint()  # [batch pos head d_head]

    def project(
        self,
        x: Float[Tensor, "batch pos d_model"],
        W: Float[Tensor, "head d_model d_head"],
        b: Float[Tensor, "head d_head"],
    ) -> Float[Tensor, "batch pos head d_head"]:
        """One linear map per head, done as a single matmul over all heads at once."""
        W_all = einops.rearrange(W, "head d_model d_head -> d_model (head d_head)")
        return split_heads(x @ W_all + b.flatten(), W.shape[0])

    def qkv(self, x: Float[Tensor, "batch pos d_model"]) -> tuple[Tensor, Tensor, Tensor]:
        q = self.hook_q(self.project(x, self.W_Q, self.b_Q))
        k = self.hook_k(self.project(x, self.W_K, self.b_K))
        v = self.hook_v(self.project(x, self.W_V, self.b_V))
        return q, k, v

    def attend(
        self,
        q: Float[Tensor, "batch query_pos head d_head"],
        k: Float[Tensor, "batch key_pos head d_head"],
        v: Float[Tensor, "batch key_pos head d_head"],
    ) -> Float[Tensor, "batch query_pos d_model"]:
        """Everything after the projections: scores, mask, softmax, mix values, write out."""
        scores = self.hook_attn_scores(apply_causal_mask(attention_scores(q, k)))
        pattern = self.hook_pattern(scores.softmax(dim=-1))  # over keys: each query's weights sum to 1
        z = self.hook_z(mix_values(pattern, v))
        W_O_all = einops.rearrange(self.W_O, "head d_head d_model -> (head d_head) d_model")
        return z.flatten(-2) @ W_O_all + self.b_O

    def forward(
        self, x: Float[Tensor, "batch pos d_model"], layer_cache: LayerCache | None = None
    ) -> Float[Tensor, "batch pos d_model"]:
        """With a `layer_cache`, `x` holds only the new positions: their keys and values are
        appended to the cache and their queries attend over every cached position too."""
        q, k, v = self.qkv(x)
        if layer_cache is not None:
            k, v = layer_cache.append(k, v)
        # `attend` masks with queries at the LAST positions of the keys, which is where new ones are.
        return self.attend(q, k, v)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # TransformerLens stores its mask and -inf constant as buffers; we build them on the fly.
        for buffer in ("mask", "IGNORE"):
            state_dict.pop(prefix + buffer, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
