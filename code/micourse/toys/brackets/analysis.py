"""Reference tools for taking the bracket classifier apart (the pages' exercises check against these).

Everything reads the classification at the `[start]` position (position 0): the logit difference
"unbalanced minus balanced" there is what the model's answer comes from, so each tool measures
how much of that difference a direction, a component or an ablation accounts for.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from micourse.toys.brackets.data import CLOSE, KINDS, OPEN, PAD, BracketData
from micourse.toys.brackets.model import BALANCED, UNBALANCED


def elevation(toks: Int[Tensor, "batch pos"]) -> Int[Tensor, "batch pos"]:
    """The elevation after each position, read left to right (+1 per `(`, -1 per `)`, 0 otherwise)."""
    step = (toks == OPEN).long() - (toks == CLOSE).long()
    return step.cumsum(-1)


def is_balanced_tokens(toks: Int[Tensor, "batch pos"]) -> Bool[Tensor, " batch"]:
    """The hand-made classifier on tokens: total elevation zero and never below zero."""
    elev = elevation(toks)
    return (elev[:, -1] == 0) & (elev.min(-1).values >= 0)


def kinds_from_tokens(toks: Int[Tensor, "batch pos"]) -> list[str]:
    """Each row's kind (one of `KINDS`), from the two conditions."""
    elev = elevation(toks)
    total_bad = (elev[:, -1] != 0).tolist()
    negative_bad = (elev.min(-1).values < 0).tolist()
    return [KINDS[int(t) + 2 * int(n)] for t, n in zip(total_bad, negative_bad)]


def unbalanced_direction(model) -> Float[Tensor, " d_model"]:
    """After the final LayerNorm: the direction whose dot product is logit(unbalanced) - logit(balanced)."""
    return model.W_U[:, UNBALANCED] - model.W_U[:, BALANCED]


def logit_diff(model, toks: Int[Tensor, "batch pos"]) -> Float[Tensor, " batch"]:
    """logit(unbalanced) - logit(balanced) at [start]: positive means "unbalanced"."""
    logits = model(toks)[:, 0]
    return logits[:, UNBALANCED] - logits[:, BALANCED]


def fit_final_ln(
    resid: Float[Tensor, "batch d_model"], normalized: Float[Tensor, "batch d_model"]
) -> tuple[Float[Tensor, "d_model d_model"], Float[Tensor, " d_model"]]:
    """Least squares fit of `normalized ≈ resid @ L + b` (the final LayerNorm as one linear map).

    LayerNorm divides by a norm that depends on the input, so it is not linear; over the inputs the
    model actually sees at [start] the norm varies little, and a fitted linear map is close.
    """
    ones = torch.ones(resid.shape[0], 1, dtype=resid.dtype)
    solution = torch.linalg.lstsq(torch.cat([resid, ones], 1), normalized).solution
    return solution[:-1], solution[-1]


def pre_ln_direction(L: Float[Tensor, "d_model d_model"], post: Float[Tensor, " d_model"]) -> Float[Tensor, " d_model"]:
    """Before the final LayerNorm: (resid @ L) · post = resid · (L @ post)."""
    return L @ post


def component_names(model) -> list[str]:
    """The residual stream's writers, in order: embeddings, then each layer's heads and MLP."""
    names = ["embed"]
    for layer in range(model.cfg.n_layers):
        names += [f"{layer}.{h}" for h in range(model.cfg.n_heads)] + [f"mlp{layer}"]
    return names


def component_outputs(model, cache) -> Float[Tensor, "component batch pos d_model"]:
    """What each writer adds to the residual stream, at every position (biases of attention in 'embed')."""
    outs = [cache["hook_embed"] + cache["hook_pos_embed"]]
    for layer in range(model.cfg.n_layers):
        z = cache["z", layer]  # batch pos head d_head
        per_head = torch.einsum("bphd,hdm->hbpm", z, model.W_O[layer])
        outs[0] = outs[0] + model.b_O[layer]  # the attention bias is no head's
        outs += list(per_head) + [cache["mlp_out", layer]]
    return torch.stack(outs)


def contributions(model, cache, direction: Float[Tensor, " d_model"]) -> Float[Tensor, "component batch"]:
    """Each writer's output at [start], projected on `direction` (e.g. the pre-LN unbalanced one)."""
    return component_outputs(model, cache)[:, :, 0] @ direction


def accuracy_by_kind(pred_balanced: Bool[Tensor, " batch"], d: BracketData) -> dict[str, float]:
    """Accuracy on each kind present in `d`, given predictions True = balanced."""
    right = pred_balanced == d.balanced
    out = {}
    for k in KINDS:
        mask = torch.tensor([x == k for x in d.kinds])
        if mask.any():
            out[k] = float(right[mask].float().mean())
    return out


def hook_name(component: str) -> str:
    """The hook whose output is that component's: a head's `hook_z` or an MLP's `hook_mlp_out`."""
    if component.startswith("mlp"):
        return f"blocks.{int(component[3:])}.hook_mlp_out"
    layer, _ = component.split(".")
    return f"blocks.{int(layer)}.attn.hook_z"


def mean_ablation_hook(component: str, reference: Tensor) -> tuple[str, Callable]:
    """A hook replacing `component`'s output by `reference` (its mean on balanced strings, per position)."""
    name = hook_name(component)
    if component.startswith("mlp"):

        def hook(act, hook):
            return reference.expand_as(act).clone()

    else:
        head = int(component.split(".")[1])

        def hook(act, hook):
            act = act.clone()
            act[:, :, head] = reference[..., head, :]
            return act

    return name, hook


def balanced_mean(model, component: str, balanced_toks: Int[Tensor, "batch pos"]) -> Tensor:
    """`component`'s hooked activation averaged over balanced strings, per position."""
    _, cache = model.run_with_cache(balanced_toks, names_filter=hook_name(component))
    return cache[hook_name(component)].mean(0, keepdim=True)


@torch.no_grad()
def ablated_accuracy(model, component: str, d: BracketData, balanced_toks: Tensor) -> dict[str, float]:
    """Accuracy per kind when `component` always says what it says on a balanced string."""
    name, hook = mean_ablation_hook(component, balanced_mean(model, component, balanced_toks))
    logits = model.run_with_hooks(d.toks, fwd_hooks=[(name, hook)])[:, 0]
    return accuracy_by_kind(logits.argmax(-1) == BALANCED, d)


# ---- ablations at the [start] position ---------------------------------------------------------


def start_ablation_hook(component: str, reference: Tensor) -> tuple[str, Callable]:
    """A hook setting `component`'s output at position 0 only to `reference` (its balanced mean there).

    Only the [start] position is read for the answer, so this removes what the component tells
    the answer directly (and through later layers at [start]), leaving every other position alone.
    """
    name = hook_name(component)
    head = None if component.startswith("mlp") else int(component.split(".")[1])

    def hook(act, hook):
        act = act.clone()
        if head is None:
            act[:, 0] = reference
        else:
            act[:, 0, head] = reference[head]
        return act

    return name, hook


@torch.no_grad()
def start_ablated_accuracy(model, component: str, d: BracketData, balanced_toks: Tensor) -> dict[str, float]:
    """Accuracy per kind when `component`, at [start], always says what it says on balanced strings."""
    reference = balanced_mean(model, component, balanced_toks)[0, 0]
    name, hook = start_ablation_hook(component, reference)
    logits = model.run_with_hooks(d.toks, fwd_hooks=[(name, hook)])[:, 0]
    return accuracy_by_kind(logits.argmax(-1) == BALANCED, d)


EVERYWHERE = " (all positions)"


def ablation_table(
    model, d: BracketData, balanced_toks: Tensor, everywhere: bool = True
) -> dict[str, dict[str, float]]:
    """{ablation: accuracy per kind}: every head and MLP set to its balanced mean at [start] ("1.0"),
    and, with `everywhere`, at every position ("1.0 (all positions)": what it feeds later layers too)."""
    table = {c: start_ablated_accuracy(model, c, d, balanced_toks) for c in component_names(model)[1:]}
    if everywhere:
        for c in component_names(model)[1:]:
            table[c + EVERYWHERE] = ablated_accuracy(model, c, d, balanced_toks)
    return table


def selectivity(acc: dict[str, float], kind: str, other: str) -> float:
    """How cleanly an ablation hits `kind` only: accuracy lost on `kind` minus that lost on `other` and on balanced."""
    return (1 - acc[kind]) - (1 - acc[other]) - (1 - acc["balanced"])


def component_for(table: dict[str, dict[str, float]], kind: str) -> str:
    """The component whose ablation removes accuracy on `kind` ("total" or "negative") and least else."""
    other = {"total": "negative", "negative": "total"}[kind]
    return max(table, key=lambda c: selectivity(table[c], kind, other))


# ---- the total-elevation circuit ---------------------------------------------------------------


def uniformity_score(
    pattern: Float[Tensor, "batch head q k"], toks: Int[Tensor, "batch pos"]
) -> Float[Tensor, " head"]:
    """1 - the mean total-variation distance between each real query's attention and uniform over real keys.

    "Real" means not `[pad]`. 1 is perfectly even attention over the whole string (with [start]
    and [end]); 0 is attention entirely on keys a uniform head would give nothing to.
    """
    real = toks != PAD
    n_real = real.sum(-1, keepdim=True).float()  # batch 1
    uniform = real.float() / n_real  # batch k
    tv = 0.5 * (pattern - uniform[:, None, None, :]).abs().sum(-1)  # batch head q
    q_mask = real[:, None, :].float()
    return 1 - (tv * q_mask).sum((0, 2)) / q_mask.sum((0, 2))


def open_proportion(toks: Int[Tensor, "batch pos"]) -> Float[Tensor, " batch"]:
    """The share of `(` among a string's brackets (1/2 exactly when the total elevation is 0)."""
    opens = (toks == OPEN).sum(-1).float()
    closes = (toks == CLOSE).sum(-1).float()
    return opens / (opens + closes).clamp(min=1)


def neurons_by_difference(acts: Float[Tensor, "batch d_mlp"], flag: Bool[Tensor, " batch"], k: int) -> list[int]:
    """The k neurons whose mean activation differs most between flagged and unflagged strings (largest first)."""
    gap = (acts[flag].mean(0) - acts[~flag].mean(0)).abs()
    return gap.argsort(descending=True)[:k].tolist()


def total_string(n: int, h: int, rng) -> str:
    """A `total` string of length n ending at elevation h > 0 that never dips: a balanced string plus h `(`."""
    from micourse.toys.brackets.data import random_dyck

    if h <= 0 or h > n or (n - h) % 2:
        raise ValueError(f"need 0 < h <= n and n - h even, got n={n}, h={h}")
    s = random_dyck(n - h, rng)
    for _ in range(h):
        i = int(rng.integers(0, len(s) + 1))
        s = s[:i] + "(" + s[i:]
    return s


def dip_string(n: int, k: int) -> str:
    """A `negative` string of length n (even) whose one dip, to -1, comes right after bracket k (odd, 1..n-1)."""
    if n % 2 or k % 2 == 0 or not 1 <= k <= n - 1:
        raise ValueError(f"need n even and k odd with 1 <= k <= n - 1, got n={n}, k={k}")
    before = "()" * ((k - 1) // 2)
    after = "()" * ((n - k - 1) // 2)
    return before + ")(" + after
