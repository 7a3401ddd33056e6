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


def good_store(pattern, hook, store, seq_len):
    store[hook.layer()] = detectors.induction_score(pattern, seq_len)


def test_store_induction_score():
    chk.check_store_induction_score(good_store)

    def rebinds(pattern, hook, store, seq_len):
        store = detectors.induction_score(pattern, seq_len)  # noqa: F841  (the mistake: rebinding the name)

    def fixed_layer(pattern, hook, store, seq_len):
        store[0] = detectors.induction_score(pattern, seq_len)

    def wrong_offset(pattern, hook, store, seq_len):
        store[hook.layer()] = pattern.diagonal(-seq_len, dim1=-2, dim2=-1)[..., 1:].mean((0, -1))

    def keeps_first(pattern, hook, store, seq_len):
        store[hook.layer()] = pattern.diagonal(-(seq_len - 1), dim1=-2, dim2=-1).mean((0, -1))

    rejects(chk.check_store_induction_score, rebinds, "wrote nothing")
    rejects(chk.check_store_induction_score, fixed_layer, "never written")
    rejects(chk.check_store_induction_score, wrong_offset, "-(seq_len - 1)")
    rejects(chk.check_store_induction_score, keeps_first, "queries of the repeat")


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
