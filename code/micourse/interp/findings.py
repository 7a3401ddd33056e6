"""Measurements that name heads on repeated random tokens: the ones chapter 2's pages 1-3 glue.

Every conclusion a page prints about a model's heads comes from one of these functions, so that
`tests/test_induction_findings.py` can run the same measurement on the stand-ins and compare it
with their scorecard (`micourse.standins.metrics`).
"""

from __future__ import annotations

from functools import partial

import einops
import torch
from jaxtyping import Float, Int
from torch import Tensor

from micourse.interp import ablation, detectors

Pattern = Float[Tensor, "batch head query key"]


def repeat_seq_len(tokens: Int[Tensor, "batch pos"]) -> int:
    """`seq_len` of BOS + x + x: tokens have 1 + 2 * seq_len positions (an even count is an error)."""
    n = tokens.shape[-1]
    if n < 3 or n % 2 == 0:
        raise ValueError(f"Repeated tokens have 1 + 2 * seq_len positions (an odd number >= 3); got {n}.")
    return (n - 1) // 2


@torch.no_grad()
def induction_scores_by_hook(model, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "layer head"]:
    """(layer, head) induction scores of `model` on repeated `tokens`, from a hook on every
    `hook_pattern`: nothing is cached, so this scales to big models and long batches."""
    seq_len = repeat_seq_len(tokens)
    store = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)

    def hook(pattern: Pattern, hook) -> None:
        store[hook.layer()] = detectors.induction_score(pattern, seq_len)

    model.run_with_hooks(tokens, return_type=None, fwd_hooks=[(lambda name: name.endswith("hook_pattern"), hook)])
    return store


def uniform_induction_baseline(seq_len: int) -> float:
    """The induction score of a head that spreads its attention evenly over every key it can see.

    At query q a causal head sees q + 1 keys, so a uniform head gives the induction key 1 / (q + 1);
    the score averages that over the repeat's queries q = seq_len + 1 .. 2 * seq_len. A score far
    above this baseline is attention aimed at the induction key, not attention spread thin.
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}.")
    q = torch.arange(seq_len + 1, 2 * seq_len + 1, dtype=torch.float64)
    return float((1.0 / (q + 1)).mean())


def duplicate_token_score(pattern: Pattern, seq_len: int) -> Float[Tensor, " head"]:
    """On BOS + x + x: mean attention from each token of the repeat to its own earlier copy
    (query q to key q - seq_len), over the repeat's queries q = seq_len + 1 .. 2 * seq_len."""
    if pattern.ndim != 4 or pattern.shape[-1] != 2 * seq_len + 1:
        raise ValueError(
            f"Expected a pattern (batch, head, query, key) over {2 * seq_len + 1} positions, got {tuple(pattern.shape)}."
        )
    diag = pattern.diagonal(offset=-seq_len, dim1=-2, dim2=-1)  # queries seq_len .. 2 * seq_len
    return diag[..., -seq_len:].mean(dim=(0, -1))


def repeat_attribution(attr: Float[Tensor, "component batch pred"], seq_len: int) -> Float[Tensor, " component"]:
    """Mean direct contribution of each component to the correct logit, over the predictions that
    copying can make: column p predicts token p + 1, and from p = seq_len + 1 on, the current token
    has an earlier copy whose successor is the answer. Column seq_len (predicting the first token
    of the repeat) cannot be copied: the current token is still new there."""
    if attr.ndim != 3 or attr.shape[-1] != 2 * seq_len:
        raise ValueError(
            f"Expected attributions (component, batch, 2 * seq_len = {2 * seq_len}), got {tuple(attr.shape)}."
        )
    return attr[:, :, seq_len + 1 :].mean(dim=(1, 2))


def z_from_pattern(
    pattern: Float[Tensor, "batch head query key"], v: Float[Tensor, "batch key head d_head"]
) -> Float[Tensor, "batch query head d_head"]:
    """Each head's output before W_O: at every query, the pattern-weighted sum of the values."""
    return einops.einsum(pattern, v, "batch head query key, batch key head d_head -> batch query head d_head")


def parse_heads(names: list[str]) -> list[tuple[int, int]]:
    """["1.2", "0.3"] -> [(1, 2), (0, 3)]."""
    return [(int(n.split(".")[0]), int(n.split(".")[1])) for n in names]


@torch.no_grad()
def loss_increase_ablating(
    model, tokens: Int[Tensor, "batch pos"], heads: list[tuple[int, int]], ablate=ablation.mean_ablate_head
) -> float:
    """Mean next-token loss with every head in `heads` ablated at once, minus the clean loss.

    Heads that share a job back each other up: ablating one leaves the others, so the loss barely
    moves; ablating them together shows what the job was worth.
    """
    hooks = [(f"blocks.{layer}.attn.hook_z", partial(ablate, head=head)) for layer, head in heads]
    return ablation.loss(model, tokens, hooks) - ablation.loss(model, tokens)


def readable_tokens(W_E: Float[Tensor, "d_vocab d_model"], low: int, high: int) -> Int[Tensor, " n"]:
    """Ids in [low, high) whose embedding row is not all zeros: the tokens a model can tell apart.

    A row of zeros is what an embedding keeps when training never saw its token. Test the norm, not
    the sum: processed weights are centred, so every row sums to zero, trained or not.
    """
    if not 0 <= low < high <= W_E.shape[0]:
        raise ValueError(f"Need 0 <= low < high <= d_vocab = {W_E.shape[0]}; got [{low}, {high}).")
    return torch.nonzero(W_E[low:high].norm(dim=-1) > 0)[:, 0] + low
