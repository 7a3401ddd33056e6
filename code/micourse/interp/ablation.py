"""Ablating heads: replace a head's output by zero or by its mean and see what the loss does."""

from __future__ import annotations

from functools import partial

import torch
from jaxtyping import Float, Int
from torch import Tensor

from micourse.interp.basics import next_token_log_probs


def zero_ablate_head(
    z: Float[Tensor, "batch pos head d_head"], hook, head: int
) -> Float[Tensor, "batch pos head d_head"]:
    """Hook for `blocks.L.attn.hook_z`: the head writes nothing."""
    z[:, :, head] = 0.0
    return z


def mean_ablate_head(
    z: Float[Tensor, "batch pos head d_head"], hook, head: int
) -> Float[Tensor, "batch pos head d_head"]:
    """Hook for `hook_z`: the head writes its average over the batch (per position), erasing
    what depends on this sequence while keeping the constant part later layers may expect."""
    z[:, :, head] = z[:, :, head].mean(dim=0, keepdim=True)
    return z


def loss(model, tokens: Int[Tensor, "batch pos"], fwd_hooks=()) -> float:
    """Mean next-token loss, optionally with hooks."""
    logits = model.run_with_hooks(tokens, fwd_hooks=list(fwd_hooks))
    return -next_token_log_probs(logits, tokens).mean().item()


@torch.no_grad()
def ablation_loss_increase(
    model, tokens: Int[Tensor, "batch pos"], ablate=mean_ablate_head
) -> Float[Tensor, "layer head"]:
    """Loss with each head ablated (one at a time) minus the clean loss."""
    clean = loss(model, tokens)
    out = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            hook = (f"blocks.{layer}.attn.hook_z", partial(ablate, head=head))
            out[layer, head] = loss(model, tokens, [hook]) - clean
    return out
