"""Chapter 5, page 3: each checker accepts the reference and rejects plausible mistakes."""

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import toy_sae as chk
from micourse.toys import toy_sae as ref


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_normalize_decoder():
    chk.check_normalize_decoder(ref.normalize_decoder)
    rejects(chk.check_normalize_decoder, lambda W: W / W.norm(dim=-2, keepdim=True), "ROW")
    rejects(chk.check_normalize_decoder, lambda W: W / W.norm(dim=-1, keepdim=True) ** 2, "squared norm")
    rejects(chk.check_normalize_decoder, lambda W: W / W.norm(dim=(-2, -1), keepdim=True), "whole matrix")
    rejects(chk.check_normalize_decoder, lambda W: W / W.abs().sum(-1, keepdim=True), "L1 norm")
    rejects(chk.check_normalize_decoder, lambda W: None, "return")


def test_sae_encode():
    chk.check_sae_encode(ref.sae_encode)
    rejects(chk.check_sae_encode, ref.encode_pre, "ReLU")
    rejects(
        chk.check_sae_encode,
        lambda h, We, be, bd: torch.relu(torch.einsum("bid,ids->bis", h, We) + be),
        "subtract b_dec",
    )
    rejects(
        chk.check_sae_encode,
        lambda h, We, be, bd: torch.relu(torch.einsum("bid,ids->bis", h + bd, We) + be),
        "SUBTRACT",
    )
    rejects(chk.check_sae_encode, lambda h, We, be, bd: torch.relu(torch.einsum("bid,ids->bis", h - bd, We)), "b_enc")


def test_sae_decode():
    chk.check_sae_decode(ref.sae_decode)
    rejects(chk.check_sae_decode, lambda a, Wd, bd: torch.einsum("bis,isd->bid", a, Wd) + bd, "normalise")
    rejects(
        chk.check_sae_decode, lambda a, Wd, bd: torch.einsum("bis,isd->bid", a, ref.normalize_decoder(Wd)), "add b_dec"
    )
    rejects(
        chk.check_sae_decode,
        lambda a, Wd, bd: torch.einsum("bis,isd->bid", a, ref.normalize_decoder(Wd)) - bd,
        "subtracted",
    )


def test_sae_losses():
    chk.check_sae_losses(ref.sae_losses)

    def mean_over_instances(h, h_hat, acts, c):
        recon, sparsity, _ = ref.sae_losses(h, h_hat, acts, c)
        return recon, sparsity, (recon + c * sparsity).mean()

    def summed_recon(h, h_hat, acts, c):
        recon = (h_hat - h).pow(2).sum(-1)
        sparsity = acts.abs().sum(-1)
        return recon, sparsity, (recon + c * sparsity).mean(0).sum()

    def mean_sparsity(h, h_hat, acts, c):
        recon = (h_hat - h).pow(2).mean(-1)
        sparsity = acts.abs().mean(-1)
        return recon, sparsity, (recon + c * sparsity).mean(0).sum()

    def no_coeff(h, h_hat, acts, c):
        recon, sparsity, _ = ref.sae_losses(h, h_hat, acts, c)
        return recon, sparsity, (recon + sparsity).mean(0).sum()

    rejects(chk.check_sae_losses, mean_over_instances, "SUM over instances")
    rejects(chk.check_sae_losses, summed_recon, "take the mean")
    rejects(chk.check_sae_losses, mean_sparsity, "SUMS |acts|")
    rejects(chk.check_sae_losses, no_coeff, "l1_coeff")
    rejects(chk.check_sae_losses, lambda h, h_hat, a, c: ref.sae_losses(h, h_hat, a, c)[2], "tuple of three")


def test_feature_cosines():
    chk.check_feature_cosines(ref.feature_cosines)

    def cos(W_dec, W_true):
        lat = ref.normalize_decoder(W_dec)
        return torch.einsum("isd,idf->isf", lat, W_true / W_true.norm(dim=1, keepdim=True))

    rejects(chk.check_feature_cosines, lambda Wd, Wt: cos(Wd, Wt).max(2).values, "one value per LATENT")
    rejects(chk.check_feature_cosines, lambda Wd, Wt: cos(Wd, Wt).abs().max(1).values, "|cos|")
    rejects(chk.check_feature_cosines, lambda Wd, Wt: cos(Wd, Wt).mean(1), "max")
    rejects(
        chk.check_feature_cosines,
        lambda Wd, Wt: torch.einsum("isd,idf->isf", ref.normalize_decoder(Wd), Wt).max(1).values,
        "true feature directions",
    )
    rejects(
        chk.check_feature_cosines,
        lambda Wd, Wt: torch.einsum("isd,idf->isf", Wd, Wt / Wt.norm(dim=1, keepdim=True)).max(1).values,
        "decoder rows",
    )


def test_dead_latents():
    chk.check_dead_latents(ref.dead_latents)
    rejects(chk.check_dead_latents, lambda a: (a > 0).any(0), "LIVE")
    rejects(chk.check_dead_latents, lambda a: ~(a > 0).all(0), "ALL inputs")
    rejects(chk.check_dead_latents, lambda a: (a == 0).any(0), "ALL inputs")
    rejects(chk.check_dead_latents, lambda a: a.mean(0) < 0.01, "rarely or weakly")
    rejects(chk.check_dead_latents, lambda a: ~(a > 0).any(-1), "dim 0")
    rejects(chk.check_dead_latents, lambda a: (a.sum(0) == 0).float(), "torch.bool")


def test_topk_activation():
    chk.check_topk_activation(lambda p, k: ref.topk_activation(p, k))

    def no_relu(p, k):
        top = p.topk(k, dim=-1)
        return torch.zeros_like(p).scatter(-1, top.indices, top.values)

    def smallest(p, k):
        top = p.topk(k, dim=-1, largest=False)
        return torch.zeros_like(p).scatter(-1, top.indices, top.values.relu())

    rejects(chk.check_topk_activation, no_relu, "ReLU")
    rejects(chk.check_topk_activation, smallest, "SMALLEST")
    rejects(chk.check_topk_activation, lambda p, k: p.topk(k, dim=-1).values.relu(), "scatter")
    rejects(chk.check_topk_activation, lambda p, k: torch.relu(p), "only a ReLU")

    def over_instances(p, k):
        top = p.topk(min(k, p.shape[1]), dim=1)
        return torch.zeros_like(p).scatter(1, top.indices, top.values.relu())

    rejects(chk.check_topk_activation, over_instances)


def test_fraction_variance_unexplained():
    chk.check_fraction_variance_unexplained(ref.fraction_variance_unexplained)
    rejects(
        chk.check_fraction_variance_unexplained,
        lambda h, hh: (h - hh).pow(2).sum((0, 2)) / h.pow(2).sum((0, 2)),
        "centre h",
    )
    rejects(
        chk.check_fraction_variance_unexplained, lambda h, hh: 1 - ref.fraction_variance_unexplained(h, hh), "EXPLAINED"
    )
    rejects(
        chk.check_fraction_variance_unexplained,
        lambda h, hh: ((h - hh).pow(2).sum(-1) / (h - h.mean(0, keepdim=True)).pow(2).sum(-1)).mean(0),
        "per-input ratios",
    )
    rejects(
        chk.check_fraction_variance_unexplained,
        lambda h, hh: (h - hh).pow(2).sum() / (h - h.mean(0, keepdim=True)).pow(2).sum(),
        "shape",
    )


def _resampler(*, uniform=False, center=True, normalise=True, scale=0.5, reset_bias=True, touch_alive=False):
    """A resample_dead with one chosen mistake."""

    @torch.no_grad()
    def resample(sae, h, dead, generator):
        loss = (sae(h).h_hat - h).pow(2).sum(-1)
        mask = torch.ones_like(dead) if touch_alive else dead
        for i in range(sae.cfg.n_inst):
            idx = mask[i].nonzero().squeeze(-1)
            if len(idx) == 0:
                continue
            w = torch.ones_like(loss[:, i]) if uniform else loss[:, i].pow(2)
            picks = torch.multinomial(w, len(idx), replacement=True, generator=generator)
            dirs = h[picks, i] - (sae.b_dec[i] if center else 0)
            if normalise:
                dirs = dirs / dirs.norm(dim=-1, keepdim=True)
            alive = ~dead[i]
            live = sae.W_enc[i][:, alive].norm(dim=0).mean()
            sae.W_dec[i, idx] = dirs
            sae.W_enc[i][:, idx] = dirs.T * (scale * live if scale else 1.0)
            if reset_bias:
                sae.b_enc[i, idx] = 0.0

    return resample


def test_resample_dead():
    chk.check_resample_dead(ref.resample_dead)
    chk.check_resample_dead(_resampler())  # the page's solution, written out
    rejects(chk.check_resample_dead, _resampler(touch_alive=True), "live latent")
    rejects(chk.check_resample_dead, _resampler(uniform=True), "loss")
    rejects(chk.check_resample_dead, _resampler(center=False), "subtract b_dec")
    rejects(chk.check_resample_dead, _resampler(normalise=False), "norms")
    rejects(chk.check_resample_dead, _resampler(scale=None), "equal the decoder rows")
    rejects(chk.check_resample_dead, _resampler(scale=1.0), "0.5 times")
    rejects(chk.check_resample_dead, _resampler(reset_bias=False), "b_enc")
