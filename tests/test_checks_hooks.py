"""Chapter 2, page 3: each checker accepts the reference and rejects plausible mistakes."""

from functools import partial

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import hooks as chk
from micourse.interp import ablation as abl
from micourse.interp import attribution as attr
from micourse.interp import detectors


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_induction_scores_by_hook():
    from micourse.interp.findings import induction_scores_by_hook

    chk.check_induction_scores_by_hook(induction_scores_by_hook)

    def scores_with(read):
        def fn(model, tokens):
            seq_len = (tokens.shape[1] - 1) // 2
            store = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)

            def hook(act, hook):
                store[hook.layer()] = read(act, seq_len)

            model.run_with_hooks(tokens, fwd_hooks=[(lambda n: n.endswith("hook_pattern"), hook)])
            return store

        return fn

    def on_scores(model, tokens):
        seq_len = (tokens.shape[1] - 1) // 2
        store = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)

        def hook(act, hook):
            store[hook.layer()] = detectors.induction_score(act, seq_len)

        model.run_with_hooks(tokens, fwd_hooks=[(lambda n: n.endswith("hook_attn_scores"), hook)])
        return store

    def leaves_hooks(model, tokens):
        model.add_hook(lambda n: n.endswith("hook_pattern"), lambda act, hook: None)
        return induction_scores_by_hook(model, tokens)

    def first_layer_only(model, tokens):
        out = induction_scores_by_hook(model, tokens)
        out[1:] = 0
        return out

    rejects(chk.check_induction_scores_by_hook, on_scores, "hook_attn_scores")
    rejects(
        chk.check_induction_scores_by_hook,
        scores_with(lambda p, n: p.diagonal(-n, dim1=-2, dim2=-1)[..., 1:].mean((0, -1))),
        "-(seq_len - 1)",
    )
    rejects(
        chk.check_induction_scores_by_hook,
        scores_with(lambda p, n: p.diagonal(-(n - 1), dim1=-2, dim2=-1).mean((0, -1))),
        "queries of the repeat",
    )
    rejects(chk.check_induction_scores_by_hook, lambda m, t: induction_scores_by_hook(m, t).T, "(head, layer)")
    rejects(chk.check_induction_scores_by_hook, leaves_hooks, "Hooks were left")
    rejects(chk.check_induction_scores_by_hook, first_layer_only, "all zero")


def test_apply_final_ln():
    chk.check_apply_final_ln(lambda c, s: (c - c.mean(-1, keepdim=True)) / s)
    rejects(chk.check_apply_final_ln, lambda c, s: c / s, "centre")
    rejects(chk.check_apply_final_ln, lambda c, s: (c - c.mean(-1, keepdim=True)) * s, "multiplied")
    rejects(chk.check_apply_final_ln, lambda c, s: (c - c.mean(0, keepdim=True)) / s, "component axis")
    rejects(chk.check_apply_final_ln, lambda c, s: (c - c.mean(-1, keepdim=True)) / s[..., 0], "shape")


def test_logit_attribution():
    chk.check_logit_attribution(attr.logit_attribution)
    own = lambda c, W, t: torch.einsum("cbpd,dbp->cbp", c[:, :, :-1], W[:, t[:, :-1]])
    rejects(chk.check_logit_attribution, own, "OWN token")
    rejects(
        chk.check_logit_attribution,
        lambda c, W, t: torch.einsum("cbpd,dbp->cbp", c[:, :, 1:], W[:, t[:, 1:]]),
        "first position",
    )
    rejects(chk.check_logit_attribution, lambda c, W, t: c @ W, "every vocabulary logit")
    rejects(
        chk.check_logit_attribution, lambda c, W, t: torch.einsum("cbpd,dbp->bp", c[:, :, :-1], W[:, t[:, 1:]]), "shape"
    )


def test_zero_ablate_head():
    chk.check_zero_ablate_head(abl.zero_ablate_head)

    def wrong_axis(z, hook, head):
        z[:, head] = 0
        return z

    def no_return(z, hook, head):
        z[:, :, head] = 0

    rejects(chk.check_zero_ablate_head, wrong_axis, "third axis")
    rejects(chk.check_zero_ablate_head, no_return, "returned None")
    rejects(chk.check_zero_ablate_head, lambda z, hook, head: z * 0, "all heads")


def test_mean_ablate_head():
    chk.check_mean_ablate_head(abl.mean_ablate_head)

    def over(axes):
        def fn(z, hook, head):
            z[:, :, head] = z[:, :, head].mean(axes, keepdim=True)
            return z

        return fn

    rejects(chk.check_mean_ablate_head, over((0, 1)), "positions too")
    rejects(chk.check_mean_ablate_head, over(-1), "d_head")
    rejects(chk.check_mean_ablate_head, abl.zero_ablate_head, "zero-ablated")


def test_ablation_loss_increase():
    chk.check_ablation_loss_increase(abl.ablation_loss_increase)

    def ablated_loss(model, tokens, ablate):
        return abl.ablation_loss_increase(model, tokens, ablate) + abl.loss(model, tokens)

    def leaves_hooks(model, tokens, ablate):
        out = abl.ablation_loss_increase(model, tokens, ablate)
        model.add_hook("blocks.0.attn.hook_z", partial(ablate, head=0))
        return out

    def cumulative(model, tokens, ablate):
        clean = abl.loss(model, tokens)
        out, hooks = torch.zeros(model.cfg.n_layers, model.cfg.n_heads), []
        for l in range(model.cfg.n_layers):
            for h in range(model.cfg.n_heads):
                hooks.append((f"blocks.{l}.attn.hook_z", partial(ablate, head=h)))
                out[l, h] = abl.loss(model, tokens, hooks) - clean
        return out

    rejects(chk.check_ablation_loss_increase, ablated_loss, "subtract the clean loss")
    rejects(chk.check_ablation_loss_increase, leaves_hooks, "Hooks were left")
    rejects(chk.check_ablation_loss_increase, cumulative, "differ")
    rejects(chk.check_ablation_loss_increase, lambda m, t, a: -abl.ablation_loss_increase(m, t, a), "sign")


def test_repeat_attribution():
    from micourse.interp.findings import repeat_attribution

    chk.check_repeat_attribution(repeat_attribution)
    rejects(chk.check_repeat_attribution, lambda a, n: a[:, :, n:].mean((1, 2)), "column seq_len")
    rejects(chk.check_repeat_attribution, lambda a, n: a[:, :, :n].mean((1, 2)), "FIRST copy")
    rejects(chk.check_repeat_attribution, lambda a, n: a.mean((1, 2)), "every prediction")
    rejects(chk.check_repeat_attribution, lambda a, n: a[:, :, n + 1 :].sum((1, 2)), "summed")


def test_loss_increase_ablating():
    from micourse.interp.findings import loss_increase_ablating

    chk.check_loss_increase_ablating(loss_increase_ablating)

    def hooks_for(heads, ablate):
        return [(f"blocks.{l}.attn.hook_z", partial(ablate, head=h)) for l, h in heads]

    def one_at_a_time(model, tokens, heads, ablate):
        clean = abl.loss(model, tokens)
        return sum(abl.loss(model, tokens, hooks_for([lh], ablate)) - clean for lh in heads)

    def dict_of_hooks(model, tokens, heads, ablate):
        by_name = dict(hooks_for(heads, ablate))
        return abl.loss(model, tokens, list(by_name.items())) - abl.loss(model, tokens)

    def no_clean(model, tokens, heads, ablate):
        return abl.loss(model, tokens, hooks_for(heads, ablate))

    def first_only(model, tokens, heads, ablate):
        return abl.loss(model, tokens, hooks_for(heads[:1], ablate)) - abl.loss(model, tokens)

    rejects(chk.check_loss_increase_ablating, one_at_a_time, "one at a time")
    rejects(chk.check_loss_increase_ablating, dict_of_hooks, "one head per layer")
    rejects(chk.check_loss_increase_ablating, no_clean, "subtract the clean loss")
    rejects(chk.check_loss_increase_ablating, first_only, "first head")


def test_readable_tokens():
    from micourse.interp.findings import readable_tokens

    chk.check_readable_tokens(readable_tokens)
    rejects(chk.check_readable_tokens, lambda W, lo, hi: readable_tokens(W, lo, hi) - lo, "from `low`")
    rejects(
        chk.check_readable_tokens, lambda W, lo, hi: torch.nonzero(W[lo:hi].mean(-1) != 0)[:, 0] + lo, "sum (or mean)"
    )
    rejects(chk.check_readable_tokens, lambda W, lo, hi: torch.arange(lo, hi), "every id")
    rejects(chk.check_readable_tokens, lambda W, lo, hi: W[lo:hi].norm(dim=-1) > 0, "boolean mask")
    rejects(chk.check_readable_tokens, lambda W, lo, hi: torch.nonzero(W[lo:hi].norm(dim=-1) == 0)[:, 0] + lo, "ZERO")
