"""Toy-models part, pages 1 and 2: each checker accepts the reference and rejects plausible mistakes."""

import math

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import superposition as chk
from micourse.toys import computation, geometry
from micourse.toys import superposition as sup


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


# ---------------------------------------------------------------------------- page 1


def test_toy_forward():
    chk.check_toy_forward(sup.forward_from_weights)
    rejects(chk.check_toy_forward, lambda W, b, x: torch.einsum("ihf,ihg,big->bif", W, W, x) + b, "no ReLU")
    rejects(chk.check_toy_forward, lambda W, b, x: torch.relu(torch.einsum("ihf,ihg,big->bif", W, W, x)), "bias")
    rejects(
        chk.check_toy_forward,
        lambda W, b, x: torch.relu(torch.einsum("ihf,ihg,big->bif", W, W, x)) + b,
        "inside the ReLU",
    )
    rejects(
        chk.check_toy_forward,
        lambda W, b, x: torch.relu(torch.einsum("ihf,jhg,big->bif", W, W, x) + b),
        "instance axis",
    )


def _sparse_ref(batch, p, generator=None):
    shape = (batch, *p.shape)
    v = torch.rand(shape, generator=generator)
    return torch.where(torch.rand(shape, generator=generator) < p, v, 0.0)


def test_generate_sparse_features():
    chk.check_generate_sparse_features(_sparse_ref)

    def flipped(batch, p, generator=None):
        shape = (batch, *p.shape)
        return torch.where(torch.rand(shape, generator=generator) > p, torch.rand(shape, generator=generator), 0.0)

    def mask_only(batch, p, generator=None):
        return (torch.rand((batch, *p.shape), generator=generator) < p).float()

    def first_instance(batch, p, generator=None):
        return _sparse_ref(batch, p[:1].expand_as(p), generator)

    def unseeded(batch, p, generator=None):
        return _sparse_ref(batch, p)

    rejects(chk.check_generate_sparse_features, flipped, "rand < p")
    rejects(chk.check_generate_sparse_features, mask_only, "same value")
    rejects(chk.check_generate_sparse_features, first_instance, "instance 0")
    rejects(chk.check_generate_sparse_features, unseeded, "generator")
    rejects(chk.check_generate_sparse_features, lambda b, p, generator=None: torch.randn(b, *p.shape), "outside [0, 1)")


def test_weighted_loss():
    chk.check_weighted_loss(sup.weighted_mse)
    rejects(chk.check_weighted_loss, lambda o, x, imp: ((o - x) ** 2).mean((0, 2)).sum(), "importance")
    rejects(chk.check_weighted_loss, lambda o, x, imp: (imp * (o - x) ** 2).mean(), "SUM over instances")
    rejects(chk.check_weighted_loss, lambda o, x, imp: (imp * (o - x) ** 2).sum((0, 2)).mean(), "MEAN")
    rejects(chk.check_weighted_loss, lambda o, x, imp: (imp**2 * (o - x) ** 2).mean((0, 2)).sum(), "do not square")
    rejects(chk.check_weighted_loss, lambda o, x, imp: (imp * (o - x) ** 2).mean((0, 2)), "one number")


def _gaps(w, threshold=0.5):
    return geometry.neighbour_gaps_2d(w, threshold)


def test_neighbour_gaps():
    chk.check_neighbour_gaps(_gaps)

    def no_wrap(w, threshold=0.5):
        keep = w.norm(dim=0) > threshold
        return torch.diff(torch.atan2(w[1, keep], w[0, keep]).sort().values) * 180 / math.pi

    def radians(w, threshold=0.5):
        return _gaps(w, threshold) * math.pi / 180

    def unsorted(w, threshold=0.5):
        keep = w.norm(dim=0) > threshold
        a = torch.atan2(w[1, keep], w[0, keep])
        return torch.diff(torch.cat([a, a[:1] + 2 * math.pi])) * 180 / math.pi

    def all_features(w, threshold=0.5):
        return _gaps(w, 0.0)

    rejects(chk.check_neighbour_gaps, no_wrap, "back round")
    rejects(chk.check_neighbour_gaps, radians, "radians")
    rejects(chk.check_neighbour_gaps, unsorted, "sort")
    rejects(chk.check_neighbour_gaps, all_features, "threshold")


def test_classify_phase():
    chk.check_classify_phase(geometry.phase_2in1)

    def signed(W, threshold=0.5):
        w1, w2 = W[:, 0, 0], W[:, 0, 1]
        out = torch.zeros(W.shape[0], dtype=torch.long)
        out[(w1 > threshold) & (w2 < -threshold) | (w1 < -threshold) & (w2 > threshold)] = 1
        out[(w2 > threshold) & (w1.abs() <= threshold)] = 2
        return out

    def sign_blind(W, threshold=0.5):
        k1, k2 = W[:, 0, 0].abs() > threshold, W[:, 0, 1].abs() > threshold
        out = torch.zeros(W.shape[0], dtype=torch.long)
        out[k1 & k2] = 1
        out[k2 & ~k1] = 2
        return out

    def swapped(W, threshold=0.5):
        return 2 - geometry.phase_2in1(W, threshold)

    rejects(chk.check_classify_phase, signed, "NEGATIVE")
    rejects(chk.check_classify_phase, sign_blind, "SAME sign")
    rejects(chk.check_classify_phase, swapped, "swapped")


def test_dimensions_per_feature():
    chk.check_dimensions_per_feature(geometry.dimensions_per_feature)
    rejects(chk.check_dimensions_per_feature, lambda W: W.shape[1] / W.norm(dim=(1, 2)), "SQUARE")
    rejects(chk.check_dimensions_per_feature, lambda W: (W**2).sum((1, 2)) / W.shape[1], "inverted")
    rejects(chk.check_dimensions_per_feature, lambda W: W.shape[2] / (W**2).sum((1, 2)), "d_hidden")
    rejects(chk.check_dimensions_per_feature, lambda W: W.shape[1] * W.shape[0] / (W**2).sum(), "shape")


def test_feature_dimensionality():
    chk.check_feature_dimensionality(geometry.feature_dimensionality)

    def unnormalised(W, eps=1e-8):
        return W.norm(dim=1) ** 2 / ((torch.einsum("ihf,ihg->ifg", W, W) ** 2).sum(-1) + eps)

    def norm_not_squared(W, eps=1e-8):
        n = W.norm(dim=1, keepdim=True)
        return n.squeeze(1) / ((torch.einsum("ihf,ihg->ifg", W / (n + eps), W) ** 2).sum(-1) + eps)

    def abs_overlaps(W, eps=1e-8):
        n = W.norm(dim=1, keepdim=True)
        return n.squeeze(1) ** 2 / (torch.einsum("ihf,ihg->ifg", W / (n + eps), W).abs().sum(-1) + eps)

    def no_eps(W, eps=1e-8):
        n = W.norm(dim=1, keepdim=True)
        return n.squeeze(1) ** 2 / (torch.einsum("ihf,ihg->ifg", W / n, W) ** 2).sum(-1)

    rejects(chk.check_feature_dimensionality, unnormalised, "normalise")
    rejects(chk.check_feature_dimensionality, norm_not_squared, "SQUARED")
    rejects(chk.check_feature_dimensionality, abs_overlaps, "square the overlaps")
    rejects(chk.check_feature_dimensionality, no_eps, "NaN")


def _anti_ref(batch, p, generator=None):
    cfg = sup.ToyConfig(n_inst=p.shape[0], n_features=2, n_anticorrelated_pairs=1)
    return sup.generate_features(cfg, p.expand(-1, 2), batch, generator)


def test_anticorrelated_features():
    chk.check_anticorrelated_features(_anti_ref)

    def independent(batch, p, generator=None):
        return _sparse_ref(batch, p.expand(-1, 2), generator)

    def pair_prob_p(batch, p, generator=None):
        return _anti_ref(batch, p / 2, generator)

    def always_one(batch, p, generator=None):
        first = torch.rand(batch, p.shape[0], 1, generator=generator) < 0.5
        v = torch.rand(batch, p.shape[0], 2, generator=generator)
        return torch.where(torch.cat([first, ~first], -1), v, 0.0)

    rejects(chk.check_anticorrelated_features, independent, "never present")
    rejects(chk.check_anticorrelated_features, pair_prob_p, "feature_probability is")
    rejects(chk.check_anticorrelated_features, always_one, "feature_probability is")


# ---------------------------------------------------------------------------- page 2


def test_neuron_forward():
    ref = lambda W, b, x: sup.forward_from_weights(W, b, x, relu_hidden=True)  # noqa: E731
    chk.check_neuron_forward(ref)
    rejects(chk.check_neuron_forward, sup.forward_from_weights, "page-1 model")

    def no_out_relu(W, b, x):
        return torch.einsum("ihf,bih->bif", W, torch.relu(torch.einsum("ihf,bif->bih", W, x))) + b

    def no_bias(W, b, x):
        return sup.forward_from_weights(W, torch.zeros_like(b), x, relu_hidden=True)

    rejects(chk.check_neuron_forward, no_out_relu, "output ReLU")
    rejects(chk.check_neuron_forward, no_bias, "bias")


def test_monosemanticity():
    chk.check_monosemanticity(geometry.neuron_monosemanticity)
    rejects(chk.check_monosemanticity, lambda W: (W**2).amax(1) / (W**2).sum(1), "ROW")
    rejects(chk.check_monosemanticity, lambda W: W.abs().amax(-1) / W.abs().sum(-1), "squared weights")
    rejects(chk.check_monosemanticity, lambda W: W.amax(-1) / W.sum(-1), "square the weights")
    rejects(chk.check_monosemanticity, lambda W: (W**2).amax(-1), "divide")


def _classify_ref(w, mono=0.9, dead=0.1):
    share = geometry.neuron_monosemanticity(w[None])[0]
    return [
        "dead" if n < dead else "monosemantic" if s >= mono else "polysemantic"
        for n, s in zip(w.norm(dim=1).tolist(), share.tolist())
    ]


def test_classify_neurons():
    chk.check_classify_neurons(_classify_ref)

    def share_first(w, mono=0.9, dead=0.1):
        share = geometry.neuron_monosemanticity(w[None])[0]
        return [
            "monosemantic" if s >= mono else "dead" if n < dead else "polysemantic"
            for n, s in zip(w.norm(dim=1).tolist(), share.tolist())
        ]

    def abs_share(w, mono=0.9, dead=0.1):
        share = w.amax(-1) / w.abs().sum(-1)
        return [
            "dead" if n < dead else "monosemantic" if s >= mono else "polysemantic"
            for n, s in zip(w.norm(dim=1).tolist(), share.tolist())
        ]

    def no_dead(w, mono=0.9, dead=0.1):
        return ["monosemantic" if s >= mono else "polysemantic" for s in geometry.neuron_monosemanticity(w[None])[0]]

    rejects(chk.check_classify_neurons, share_first, "dead")
    rejects(chk.check_classify_neurons, abs_share, "squared weight")
    rejects(chk.check_classify_neurons, no_dead, "does nothing")


def test_abs_with_two_neurons():
    chk.check_abs_with_two_neurons(lambda: (torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0, 1.0]]), torch.zeros(1)))
    chk.check_abs_with_two_neurons(lambda: (torch.tensor([[2.0], [-0.5]]), torch.tensor([[0.5, 2.0]]), torch.zeros(1)))
    rejects(
        chk.check_abs_with_two_neurons,
        lambda: (torch.tensor([[1.0], [1.0]]), torch.tensor([[0.5, 0.5]]), torch.zeros(1)),
        "same sign",
    )
    rejects(
        chk.check_abs_with_two_neurons,
        lambda: (torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0, -1.0]]), torch.zeros(1)),
        "ReLU(x)",
    )
    rejects(
        chk.check_abs_with_two_neurons,
        lambda: (torch.tensor([[1.0], [-1.0]]), torch.tensor([[1.0, 1.0]]), torch.ones(1)),
        "bias should be 0",
    )
    rejects(chk.check_abs_with_two_neurons, lambda: (torch.ones(1, 2), torch.ones(2, 1), torch.zeros(1)), "Shapes")


def test_signed_sparse_features():
    chk.check_signed_sparse_features(computation.signed_features)

    def unsigned(b, p, generator=None):
        return _sparse_ref(b, p, generator)

    def mask_from_value(b, p, generator=None):
        v = 2 * torch.rand((b, *p.shape), generator=generator) - 1
        return torch.where(v.abs() < p, v, 0.0)

    def gaussian(b, p, generator=None):
        v = torch.randn((b, *p.shape), generator=generator)
        return torch.where(torch.rand((b, *p.shape), generator=generator) < p, v, 0.0)

    def unseeded(b, p, generator=None):
        return computation.signed_features(b, p)

    rejects(chk.check_signed_sparse_features, unsigned, "no negative")
    rejects(chk.check_signed_sparse_features, mask_from_value, "SEPARATE")
    rejects(chk.check_signed_sparse_features, gaussian, "outside [-1, 1)")
    rejects(chk.check_signed_sparse_features, unseeded, "generator")


def test_abs_loss():
    chk.check_abs_loss(computation.abs_loss)
    rejects(chk.check_abs_loss, sup.weighted_mse, "|x|, not x")
    rejects(chk.check_abs_loss, lambda o, x, imp: ((o - x.abs()) ** 2).mean((0, 2)).sum(), "importance")
    rejects(chk.check_abs_loss, lambda o, x, imp: (imp * (o - x.abs()) ** 2).mean(), "SUM")


def test_fraction_explained():
    chk.check_fraction_explained(computation.fraction_explained)

    def var_of_x(out, x):
        return 1 - ((out - x.abs()) ** 2).mean(0) / x.var(0, unbiased=False)

    def unexplained(out, x):
        return ((out - x.abs()) ** 2).mean(0) / x.abs().var(0, unbiased=False)

    def mean_square(out, x):
        return 1 - ((out - x.abs()) ** 2).mean(0) / (x.abs() ** 2).mean(0)

    rejects(chk.check_fraction_explained, var_of_x, "TARGET")
    rejects(chk.check_fraction_explained, unexplained, "1 minus")
    rejects(chk.check_fraction_explained, mean_square, "mean square")
