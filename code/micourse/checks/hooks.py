"""Checkers for chapter 2, page 3 (hooks, direct logit attribution, ablation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.interp import ablation as ref_ablation
from micourse.interp import attribution as ref_attr
from micourse.interp import detectors
from micourse.interp import findings as ref_findings
from micourse.interp.tokens import repeated_tokens
from micourse.interp.toy import tiny_model, tiny_tokens


def _is_pattern(name: str) -> bool:
    return name.endswith("hook_pattern")


def _left_hooks(model) -> bool:
    if any(h.fwd_hooks or h.bwd_hooks for h in model.hook_dict.values()):
        model.reset_hooks()
        return True
    return False


@one_thread
def check_induction_scores_by_hook(fn: Callable) -> None:
    """`fn(model, tokens)` -> `(layer, head)` induction scores on repeated `tokens`, computed by hooks."""
    model = tiny_model(seed=1, n_layers=3)
    for seq_len, seed in [(6, 0), (4, 1)]:
        tokens = repeated_tokens(0, seq_len, 3, 1, model.cfg.d_vocab, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            out = call(fn, "induction_scores_by_hook", model, tokens.clone())
            if _left_hooks(model):
                raise CheckFailure(
                    "Hooks were left on the model after your function: use model.run_with_hooks (it removes them) rather than add_hook."
                )
            _, cache = model.run_with_cache(tokens)
        expected = ref_findings.induction_scores_by_hook(model, tokens)
        layers = range(model.cfg.n_layers)
        if isinstance(out, torch.Tensor) and out.shape == expected.shape:
            if (out == 0).all(dim=-1).any():
                rows = [l for l in layers if bool((out[l] == 0).all())]
                raise CheckFailure(
                    f"Rows {rows} of your scores are all zero: the hook runs once per layer and should fill row hook.layer() each time."
                )
        compare(
            out,
            expected,
            what=f"induction_scores_by_hook on repeated tokens with seq_len {seq_len}",
            mistakes=[
                (
                    lambda: torch.stack([detectors.induction_score(cache["attn_scores", l], seq_len) for l in layers]),
                    "you hooked hook_attn_scores (before the softmax); the induction score reads the pattern, hook_pattern.",
                ),
                (
                    lambda: torch.stack(
                        [
                            cache["pattern", l].diagonal(-seq_len, dim1=-2, dim2=-1)[..., 1:].mean((0, -1))
                            for l in layers
                        ]
                    ),
                    "offset -seq_len measures attention to the earlier copy of the same token; induction looks one further: -(seq_len - 1).",
                ),
                (
                    lambda: torch.stack(
                        [cache["pattern", l].diagonal(-(seq_len - 1), dim1=-2, dim2=-1).mean((0, -1)) for l in layers]
                    ),
                    "count only the queries of the repeat (the last seq_len entries of the diagonal), as on the previous page.",
                ),
                (lambda: expected.T, "your table is (head, layer); make it (layer, head)."),
                (
                    lambda: expected[-1:].expand_as(expected),
                    "every row holds the last layer's scores: write into row hook.layer() of a tensor made outside the hook.",
                ),
            ],
            hint="seq_len = (tokens.shape[1] - 1) // 2; make store = torch.zeros(n_layers, n_heads); a hook on names ending in hook_pattern writes store[hook.layer()]; run_with_hooks; return store.",
        )
    passed("induction_scores_by_hook")


def _apply_ln_reference(components: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (components - components.mean(-1, keepdim=True)) / scale


@one_thread
def check_apply_final_ln(fn: Callable) -> None:
    """`fn(components, scale)` centres each component and divides by the final LayerNorm's scale."""
    g = torch.Generator().manual_seed(0)
    for c, b, p, d in [(4, 2, 5, 8), (3, 1, 7, 6)]:
        comps = torch.randn(c, b, p, d, generator=g) + torch.randn(c, b, p, 1, generator=g)  # not centred
        scale = torch.rand(b, p, 1, generator=g) + 0.5
        out = call(fn, "apply_final_ln", comps.clone(), scale.clone())
        compare(
            out,
            _apply_ln_reference(comps, scale),
            what="apply_final_ln",
            mistakes=[
                (
                    lambda: comps / scale,
                    "you did not centre the components: subtract each one's mean over d_model (LayerNorm centres, and it is linear in that step).",
                ),
                (
                    lambda: (comps - comps.mean(-1, keepdim=True)) * scale,
                    "you multiplied by the scale; LayerNorm divides by it.",
                ),
                (
                    lambda: (comps - comps.mean(0, keepdim=True)) / scale,
                    "you centred over the component axis; centre each vector over d_model (the last axis).",
                ),
                (
                    lambda: (
                        (comps - comps.mean(-1, keepdim=True))
                        / comps.sum(0).pow(2).mean(-1, keepdim=True).add(1e-5).sqrt()
                    ),
                    "you recomputed the scale from the components; use the scale the model computed (ln_final.hook_scale), which is the same for every component.",
                ),
            ],
            hint="(components - components.mean(-1, keepdim=True)) / scale; scale (batch, pos, 1) broadcasts over the component axis.",
        )
    passed("apply_final_ln")


@one_thread
def check_logit_attribution(fn: Callable) -> None:
    """`fn(components, W_U, tokens)` -> `(component, batch, pos - 1)` direct contributions to the next token's logit."""
    g = torch.Generator().manual_seed(1)
    for c, b, p, d, v in [(5, 2, 6, 8, 13), (3, 1, 4, 4, 9)]:
        comps = torch.randn(c, b, p, d, generator=g)
        W_U = torch.randn(d, v, generator=g)
        tokens = torch.randint(0, v, (b, p), generator=g)
        out = call(fn, "logit_attribution", comps.clone(), W_U.clone(), tokens.clone())
        all_logits = comps @ W_U  # c b p v
        if isinstance(out, torch.Tensor) and tuple(out.shape) in {(c, b, p, v), (c, b, p - 1, v)}:
            raise CheckFailure(
                "logit_attribution returned every vocabulary logit: keep only the logit of the actual next token."
            )
        compare(
            out,
            ref_attr.logit_attribution(comps, W_U, tokens),
            what="logit_attribution",
            mistakes=[
                (
                    lambda: all_logits[:, :, :-1].gather(-1, tokens[None, :, :-1, None].expand(c, -1, -1, 1))[..., 0],
                    "you scored each position on its OWN token; position p contributes to the logit of token p + 1.",
                ),
                (
                    lambda: all_logits[:, :, 1:].gather(-1, tokens[None, :, 1:, None].expand(c, -1, -1, 1))[..., 0],
                    "you dropped the first position instead of the last: position p (0 .. pos - 2) predicts token p + 1.",
                ),
                (
                    lambda: (
                        all_logits[:, :, :-1]
                        .log_softmax(-1)
                        .gather(-1, tokens[None, :, 1:, None].expand(c, -1, -1, 1))[..., 0]
                    ),
                    "no softmax here: a direct logit attribution is linear, so the contributions add up to the logit.",
                ),
            ],
            hint="W_U[:, tokens[:, 1:]] is (d_model, batch, pos - 1): the unembedding direction of each next token. einsum it with components[:, :, :-1].",
        )
    passed("logit_attribution")


def _z_and_hook(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(4, 5, 3, 2, generator=g) + torch.randn(1, 5, 3, 2, generator=g) * 3


@one_thread
def check_zero_ablate_head(fn: Callable) -> None:
    """`fn(z, hook, head)` returns z with head `head` zeroed (and nothing else changed)."""
    for head in (0, 2):
        z = _z_and_hook(head)
        out = call(fn, "zero_ablate_head", z.clone(), None, head)
        if out is None:
            raise CheckFailure("zero_ablate_head returned None: return the (edited) activation, so the model uses it.")
        expected = z.clone()
        expected[:, :, head] = 0
        wrong_axis = z.clone()
        wrong_axis[:, head] = 0
        others = z.clone()
        others[:, :, [h for h in range(3) if h != head]] = 0
        compare(
            out,
            expected,
            what=f"zero_ablate_head(head={head})",
            mistakes=[
                (
                    wrong_axis,
                    "you zeroed a position: z is (batch, pos, head, d_head), so the head is the third axis: z[:, :, head].",
                ),
                (others, "you zeroed every head except `head`."),
                (torch.zeros_like(z), "you zeroed all heads; only `head` should go."),
            ],
            hint="z[:, :, head] = 0, then return z.",
        )
    passed("zero_ablate_head")


@one_thread
def check_mean_ablate_head(fn: Callable) -> None:
    """`fn(z, hook, head)` replaces head `head` by its mean over the batch (per position)."""
    for head in (1, 2):
        z = _z_and_hook(head + 5)
        out = call(fn, "mean_ablate_head", z.clone(), None, head)
        if out is None:
            raise CheckFailure("mean_ablate_head returned None: return the (edited) activation, so the model uses it.")
        expected = z.clone()
        expected[:, :, head] = z[:, :, head].mean(0, keepdim=True)

        def variant(axes):
            w = z.clone()
            w[:, :, head] = z[:, :, head].mean(axes, keepdim=True)
            return w

        compare(
            out,
            expected,
            what=f"mean_ablate_head(head={head})",
            mistakes=[
                (
                    variant((0, 1)),
                    "you averaged over positions too; average over the batch only, keeping one mean per position.",
                ),
                (variant(1), "you averaged over positions; average over the batch (axis 0)."),
                (variant(-1), "you averaged over d_head; average over the batch (axis 0)."),
                (
                    lambda: ref_ablation.zero_ablate_head(z.clone(), None, head),
                    "you zero-ablated; replace the head by its batch mean instead.",
                ),
            ],
            hint="z[:, :, head] = z[:, :, head].mean(dim=0, keepdim=True), then return z.",
        )
    passed("mean_ablate_head")


@one_thread
def check_ablation_loss_increase(fn: Callable) -> None:
    """`fn(model, tokens, ablate)` -> `(layer, head)`: loss with that head ablated minus the clean loss."""
    model = tiny_model(seed=2)
    tokens = tiny_tokens(batch=4, pos=10, d_vocab=model.cfg.d_vocab, seed=1)
    for ablate in (ref_ablation.mean_ablate_head, ref_ablation.zero_ablate_head):
        out = call(fn, "ablation_loss_increase", model, tokens, ablate)
        if len(model.hook_dict) and any(h.fwd_hooks for h in model.hook_dict.values()):
            model.reset_hooks()
            raise CheckFailure(
                "Hooks were left on the model after your function: use model.run_with_hooks (it removes them) rather than add_hook."
            )
        expected = ref_ablation.ablation_loss_increase(model, tokens, ablate)
        clean = ref_ablation.loss(model, tokens)
        compare(
            out,
            expected,
            what=f"ablation_loss_increase with {ablate.__name__}",
            atol=1e-4,
            mistakes=[
                (lambda: expected + clean, "you returned the ablated loss itself; subtract the clean loss."),
                (lambda: -expected, "your sign is flipped: ablated loss MINUS clean loss."),
                (lambda: expected.T, "your table is (head, layer); make it (layer, head)."),
            ],
            hint="For each (layer, head): run_with_hooks with (f'blocks.{layer}.attn.hook_z', partial(ablate, head=head)), compute the mean next-token loss, subtract the clean loss.",
        )
    passed("ablation_loss_increase")


@one_thread
def check_repeat_attribution(fn: Callable) -> None:
    """`fn(attr, seq_len)` -> `(component,)`: mean direct contribution over the predictions copying can make."""
    g = torch.Generator().manual_seed(3)
    for c, b, seq_len in [(5, 2, 6), (3, 3, 4)]:
        attr = torch.randn(c, b, 2 * seq_len, generator=g) + torch.arange(2 * seq_len) * 0.3  # later columns differ
        out = call(fn, "repeat_attribution", attr.clone(), seq_len)
        compare(
            out,
            ref_findings.repeat_attribution(attr, seq_len),
            what=f"repeat_attribution (attr {tuple(attr.shape)}, seq_len {seq_len})",
            mistakes=[
                (
                    lambda: attr[:, :, seq_len:].mean((1, 2)),
                    "you kept column seq_len: it predicts the first token of the repeat from the last token of the first copy, which has no earlier copy. Nothing can be copied there; start at seq_len + 1.",
                ),
                (
                    lambda: attr[:, :, :seq_len].mean((1, 2)),
                    "those columns predict the FIRST copy, where there is nothing to copy from.",
                ),
                (lambda: attr.mean((1, 2)), "you averaged over every prediction; keep only those copying can make."),
                (
                    lambda: attr[:, :, seq_len + 2 :].mean((1, 2)),
                    "you skipped one prediction too many: from column seq_len + 1 on, the current token has an earlier copy.",
                ),
                (lambda: attr[:, :, seq_len + 1 :].sum((1, 2)), "you summed; take the mean over batch and positions."),
            ],
            hint="Column p predicts token p + 1 from the token at p. Tokens seq_len + 1 .. 2 * seq_len are repeats, each with an earlier copy: attr[:, :, seq_len + 1:], averaged over batch and positions.",
        )
    passed("repeat_attribution")


@one_thread
def check_loss_increase_ablating(fn: Callable) -> None:
    """`fn(model, tokens, heads, ablate)` -> the loss with all `heads` ablated together, minus the clean loss."""
    model = tiny_model(seed=2)
    tokens = tiny_tokens(batch=4, pos=10, d_vocab=model.cfg.d_vocab, seed=1)
    clean = ref_ablation.loss(model, tokens)
    for heads, ablate in [
        ([(0, 1), (1, 2)], ref_ablation.mean_ablate_head),
        ([(1, 0), (1, 2)], ref_ablation.mean_ablate_head),
        ([(0, 0), (0, 2), (1, 1)], ref_ablation.zero_ablate_head),
    ]:
        out = call(fn, "loss_increase_ablating", model, tokens, list(heads), ablate)
        if _left_hooks(model):
            raise CheckFailure(
                "Hooks were left on the model after your function: use model.run_with_hooks (it removes them) rather than add_hook."
            )
        out = as_tensor(out, "loss_increase_ablating's output").double().reshape(-1)
        if out.numel() != 1:
            raise CheckFailure(f"loss_increase_ablating should return one number, got shape {tuple(out.shape)}.")

        def ablated(hs):
            return ref_ablation.loss(
                model, tokens, [(f"blocks.{l}.attn.hook_z", partial(ablate, head=h)) for l, h in hs]
            )

        last_per_layer = list({l: (l, h) for l, h in heads}.values())
        singles = sum(ablated([lh]) - clean for lh in heads)
        compare(
            out[0],
            torch.tensor(ablated(heads) - clean, dtype=torch.float64),
            what=f"loss_increase_ablating(heads={heads}, ablate={ablate.__name__})",
            atol=1e-4,
            mistakes=[
                (
                    torch.tensor(ablated(heads), dtype=torch.float64),
                    "you returned the ablated loss itself; subtract the clean loss.",
                ),
                (
                    torch.tensor(singles, dtype=torch.float64),
                    "you ablated the heads one at a time and added up the increases; ablate them all in ONE run (one hook per head in the same fwd_hooks list): heads that back each other up only show their worth together.",
                ),
                (
                    torch.tensor(ablated(heads[:1]) - clean, dtype=torch.float64),
                    "only the first head was ablated: add one hook per head.",
                ),
                (
                    torch.tensor(ablated(last_per_layer) - clean, dtype=torch.float64),
                    "only one head per layer was ablated (a dict keyed by hook name keeps the last): pass a list with one (name, hook) pair per head.",
                ),
            ],
            hint="fwd_hooks = [(f'blocks.{layer}.attn.hook_z', partial(ablate, head=head)) for layer, head in heads]; one run_with_hooks with all of them, then subtract the clean loss.",
        )
    passed("loss_increase_ablating")


@one_thread
def check_readable_tokens(fn: Callable) -> None:
    """`fn(W_E, low, high)` -> the ids in [low, high) whose embedding is not all zeros."""
    g = torch.Generator().manual_seed(5)
    for d_vocab, d_model, low, high in [(40, 6, 5, 30), (25, 4, 0, 25), (60, 8, 10, 50)]:
        W_E = torch.randn(d_vocab, d_model, generator=g)
        W_E -= W_E.mean(-1, keepdim=True)  # centred, as processed weights are: every row sums to zero
        W_E[torch.rand(d_vocab, generator=g) < 0.5] = 0.0  # untrained ids
        W_E[0] = 0.0
        out = call(fn, "readable_tokens", W_E.clone(), low, high)
        expected = ref_findings.readable_tokens(W_E, low, high)
        if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
            raise CheckFailure(
                f"readable_tokens returned a boolean mask of shape {tuple(out.shape)}; return the ids themselves (torch.nonzero, plus low)."
            )
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            raise CheckFailure("readable_tokens returned floats; token ids are integers.")
        compare(
            out,
            expected,
            what=f"readable_tokens(W_E of shape {tuple(W_E.shape)}, low={low}, high={high})",
            mistakes=[
                (
                    lambda: expected - low,
                    "your ids are counted from `low`, not from 0: add `low` back after slicing W_E[low:high].",
                ),
                (
                    lambda: torch.nonzero(W_E[low:high].sum(-1) != 0)[:, 0] + low,
                    "you tested the sum (or mean) of each row: processed embeddings are centred, so every row sums to zero. Test the norm.",
                ),
                (
                    lambda: torch.arange(low, high),
                    "you kept every id in [low, high): drop those whose embedding is all zeros.",
                ),
                (
                    lambda: torch.nonzero(W_E.norm(dim=-1) > 0)[:, 0],
                    "you searched the whole vocabulary; keep only ids in [low, high).",
                ),
                (
                    lambda: torch.nonzero(W_E[low:high].norm(dim=-1) == 0)[:, 0] + low,
                    "those are the ids with ZERO embeddings, the ones the model cannot read.",
                ),
            ],
            hint="W_E[low:high].norm(dim=-1) > 0 marks the rows with a trained embedding; torch.nonzero(...)[:, 0] + low turns the mask into ids.",
        )
    passed("readable_tokens")
