"""Small computations on TransformerLens outputs: log-probs, accuracy, attention from weights."""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor


def next_token_log_probs(
    logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]
) -> Float[Tensor, "batch pos_minus_1"]:
    """Log-probability the model gave to each actual next token (position p predicts p + 1)."""
    log_probs = logits[:, :-1].log_softmax(dim=-1)
    return log_probs.gather(-1, tokens[:, 1:, None])[..., 0]


def token_accuracy(logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, ""]:
    """Fraction of positions whose top prediction is the token that actually comes next."""
    return (logits[:, :-1].argmax(dim=-1) == tokens[:, 1:]).float().mean()


def attention_inputs(
    model, cache, layer: int
) -> tuple[Float[Tensor, "batch pos d_model"], Float[Tensor, "batch pos d_model"]]:
    """What layer `layer`'s queries/keys read: LayerNorm-ed residual (+ positions for shortformer models).

    Returns `(qk_input, v_input)`. Works with folded (`LNPre`) and unfolded (`LN`) LayerNorms,
    because `hook_normalized` is the LayerNorm's output either way.
    """
    x = cache[f"blocks.{layer}.ln1.hook_normalized"]
    if model.cfg.positional_embedding_type == "shortformer":
        return x + cache["hook_pos_embed"], x
    return x, x


def pattern_from_weights(
    x: Float[Tensor, "batch pos d_model"],
    W_Q: Float[Tensor, "head d_model d_head"],
    b_Q: Float[Tensor, "head d_head"],
    W_K: Float[Tensor, "head d_model d_head"],
    b_K: Float[Tensor, "head d_head"],
) -> Float[Tensor, "batch head query key"]:
    """Causal attention pattern recomputed from the attention input and the weights."""
    q = einops.einsum(x, W_Q, "b p d, h d e -> b p h e") + b_Q
    k = einops.einsum(x, W_K, "b p d, h d e -> b p h e") + b_K
    scores = einops.einsum(q, k, "b q h e, b k h e -> b h q k") / math.sqrt(W_Q.shape[-1])
    n = x.shape[1]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool, device=x.device), diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


def head_outputs(
    z: Float[Tensor, "batch pos head d_head"], W_O: Float[Tensor, "head d_head d_model"]
) -> Float[Tensor, "batch pos head d_model"]:
    """What each head writes into the residual stream (their sum plus b_O is `hook_attn_out`)."""
    return einops.einsum(z, W_O, "b p h e, h e d -> b p h d")


def logit_lens(resid_stack: Float[Tensor, "component batch pos d_model"], model) -> Int[Tensor, "component batch pos"]:
    """Top next-token prediction read off each partial residual stream by the final LN and unembedding."""
    return model.unembed(model.ln_final(resid_stack)).argmax(dim=-1)
