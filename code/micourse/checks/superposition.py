"""Checkers for the toy-models part, pages 1 and 2 (superposition; a privileged basis).

Each checker runs the learner's function on small inputs the checker builds itself, compares with
the reference in `micourse.toys`, and names the usual mistake when the output matches one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from micourse.checks._interp_common import call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.toys import computation, geometry
from micourse.toys import superposition as sup


def _g(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _weights(n_inst: int, d: int, n: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    g = _g(seed)
    W = torch.randn(n_inst, d, n, generator=g) * 0.7
    b = torch.randn(n_inst, n, generator=g) * 0.3
    x = torch.rand(6, n_inst, n, generator=g) * (torch.rand(6, n_inst, n, generator=g) < 0.5)
    return W, b, x


def _need_tensor(out: object, what: str, shape: tuple[int, ...]) -> Tensor:
    if out is None:
        raise CheckFailure(f"{what} returned None: did you forget to `return` the result?")
    if not isinstance(out, Tensor):
        raise CheckFailure(f"{what} should return a torch.Tensor, got {type(out).__name__}.")
    if tuple(out.shape) != shape:
        raise CheckFailure(f"{what} returned shape {tuple(out.shape)}, expected {shape}.")
    return out


# ---------------------------------------------------------------------------- page 1


@one_thread
def check_toy_forward(fn: Callable) -> None:
    """`fn(W, b_final, x)` -> ReLU(W^T W x + b) for every instance."""
    for n_inst, d, n, seed in [(3, 2, 5, 0), (2, 4, 7, 1)]:
        W, b, x = _weights(n_inst, d, n, seed)
        out = call(fn, "toy_forward", W.clone(), b.clone(), x.clone())
        compare(
            out,
            sup.forward_from_weights(W, b, x),
            what=f"toy_forward with W {tuple(W.shape)} and x {tuple(x.shape)}",
            mistakes=[
                (
                    lambda: torch.einsum("ihf,ihg,big->bif", W, W, x) + b,
                    "no ReLU at the output: the model is ReLU(W^T W x + b).",
                ),
                (lambda: torch.relu(torch.einsum("ihf,ihg,big->bif", W, W, x)), "you left out the bias b_final."),
                (
                    lambda: torch.relu(torch.einsum("ihf,ihg,big->bif", W, W, x)) + b,
                    "the bias goes inside the ReLU: ReLU(W^T W x + b), not ReLU(W^T W x) + b.",
                ),
                (
                    lambda: torch.relu(torch.einsum("ihf,jhg,big->bif", W, W, x) + b),
                    "you summed over the instance axis: each instance must use only its own W[i].",
                ),
            ],
            hint="h = einsum('ihf,bif->bih', W, x); out = ReLU(einsum('ihf,bih->bif', W, h) + b_final).",
        )
    passed("toy_forward")


def _check_sparse_sample(out: Tensor, p: Tensor, what: str) -> None:
    on = out != 0
    if out.dtype == torch.bool or not out.is_floating_point():
        raise CheckFailure(f"{what} returned dtype {out.dtype}: return float values, not the mask of present features.")
    vals = out[on]
    if vals.numel() and (vals.std() < 0.05 or (vals == 1).float().mean() > 0.5):
        raise CheckFailure(
            f"{what}: every present feature has the same value ({vals.mean():.2f}). Multiply the mask "
            "by a separate uniform sample, so a present feature's value is uniform in [0, 1)."
        )
    if (out < 0).any() or (out >= 1).any():
        raise CheckFailure(
            f"{what} has values outside [0, 1) (min {out.min():.2f}, max {out.max():.2f}): a present "
            "feature's value is uniform in [0, 1), e.g. torch.rand."
        )
    freq = on.float().mean(0)
    err = (freq - p).abs().max().item()
    if err > 0.03:
        i, f = divmod(int((freq - p).abs().argmax()), p.shape[1])
        hint = ""
        if torch.allclose(freq, 1 - p, atol=0.03):
            hint = " It looks like 1 - p: a feature is present when rand < p, not rand > p."
        elif torch.allclose(freq, p[:1].expand_as(p), atol=0.03):
            hint = " Every instance uses instance 0's probability: use the whole [n_inst, n_features] tensor."
        raise CheckFailure(
            f"{what}: instance {i}, feature {f} is present in {freq[i, f]:.3f} of the batch, but its "
            f"feature_probability is {p[i, f]:.3f}.{hint}"
        )


@one_thread
def check_generate_sparse_features(fn: Callable) -> None:
    """`fn(batch_size, feature_probability, generator)` -> [batch, n_inst, n_features] sparse features."""
    p = torch.tensor([[0.9, 0.5, 0.1], [0.05, 0.3, 0.7]])
    out = call(fn, "generate_sparse_features", 6000, p.clone(), _g(0))
    out = _need_tensor(out, "generate_sparse_features", (6000, 2, 3))
    _check_sparse_sample(out, p, "generate_sparse_features")
    again = call(fn, "generate_sparse_features", 50, p.clone(), _g(1))
    twice = call(fn, "generate_sparse_features", 50, p.clone(), _g(1))
    if not torch.equal(again, twice):
        raise CheckFailure(
            "Two calls with equally seeded generators gave different batches: pass `generator=` to torch.rand."
        )
    passed("generate_sparse_features")


@one_thread
def check_weighted_loss(fn: Callable) -> None:
    """`fn(out, features, importance)` -> importance-weighted MSE, mean over batch and features, sum over instances."""
    g = _g(3)
    out, x = torch.rand(8, 3, 5, generator=g), torch.rand(8, 3, 5, generator=g)
    imp = 0.3 + torch.rand(3, 5, generator=g)
    res = call(fn, "weighted_loss", out.clone(), x.clone(), imp.clone())
    if isinstance(res, Tensor) and res.ndim > 0:
        raise CheckFailure(f"weighted_loss returned shape {tuple(res.shape)}: return one number (a 0-d tensor).")
    if isinstance(res, (int, float)):
        res = torch.tensor(float(res))
    sq = (out - x) ** 2
    compare(
        res,
        sup.weighted_mse(out, x, imp),
        what="weighted_loss",
        mistakes=[
            (sq.mean((0, 2)).sum(), "you left out the importance weights."),
            ((imp * sq).mean(), "you averaged over the instances too; SUM over instances (each one is its own model)."),
            ((imp * sq).sum((0, 2)).mean(), "sum over batch and features is too big: take the MEAN over those two."),
            ((imp**2 * sq).mean((0, 2)).sum(), "importance multiplies the squared error once; do not square it."),
            ((imp * sq).mean(0).sum(), "average over the features as well as the batch (mean over dims 0 and 2)."),
        ],
        hint="(importance * (out - features) ** 2).mean(dim=(0, 2)).sum()",
    )
    passed("weighted_loss")


def _w2(angles_deg: list[float], norms: list[float]) -> Tensor:
    a = torch.tensor(angles_deg) * math.pi / 180
    r = torch.tensor(norms)
    return torch.stack([r * a.cos(), r * a.sin()])


@one_thread
def check_neighbour_gaps(fn: Callable) -> None:
    """`fn(w, threshold)` -> angles in degrees between each kept feature and the next, around the circle."""
    cases = [
        (_w2([10, 82, 154, 226, 298], [1, 1, 1, 1, 1]), 0.5),
        (_w2([200, 20, 110, 0, 45], [1.0, 0.9, 1.1, 0.1, 0.05]), 0.5),
        (_w2([-170, 100, 30, -60], [1.2, 0.8, 1.0, 0.7]), 0.5),
    ]
    for w, thr in cases:
        out = call(fn, "neighbour_gaps", w.clone(), thr)
        expected = geometry.neighbour_gaps_2d(w, thr)
        if isinstance(out, Tensor) and out.numel() == expected.numel() - 1:
            raise CheckFailure(
                f"neighbour_gaps returned {out.numel()} gaps for {expected.numel()} kept features: you forgot the "
                "gap from the last feature back round to the first (add 360 degrees to the first angle)."
            )
        if isinstance(out, Tensor) and out.numel() == w.shape[1] != expected.numel():
            raise CheckFailure(
                "neighbour_gaps returned one gap per feature, dropped ones included: keep only features whose "
                f"length is above threshold={thr}."
            )
        if isinstance(out, Tensor) and out.shape == expected.shape:
            o = out.detach().double()
            if torch.allclose(o * 180 / math.pi, expected.double(), atol=1e-3):
                raise CheckFailure("neighbour_gaps looks right but is in radians: return degrees (times 180 / pi).")
            if (o < 0).any():
                raise CheckFailure("neighbour_gaps has negative gaps: sort the angles before taking differences.")
        compare(
            out,
            expected,
            what=f"neighbour_gaps on features at {geometry.angles_2d(w[None])[0].round().tolist()} degrees",
            hint="angles = atan2(w[1], w[0]) of the kept features, sorted; gaps = diff of [angles, angles[0] + 2*pi].",
            atol=1e-3,
        )
        if abs(float(out.sum()) - 360) > 1e-2:
            raise CheckFailure("The gaps should add up to 360 degrees.")
    passed("neighbour_gaps")


@one_thread
def check_classify_phase(fn: Callable) -> None:
    """`fn(W)` for W [n_inst, 1, 2] -> 0 (feature 2 dropped), 1 (superposition), 2 (feature 2 only)."""
    W = torch.tensor(
        [
            [1.0, 0.02],  # feature 2 dropped
            [-1.0, 0.0],  # dropped, feature 1 negative
            [1.0, -1.0],  # antipodal
            [-0.9, 1.1],  # antipodal
            [0.0, 1.0],  # feature 2 only
            [0.03, -1.0],  # feature 2 only, negative
            [1.0, 1.0],  # both kept, same sign: not a clean superposition
            [0.2, 0.1],  # nothing kept
        ]
    )[:, None, :]
    out = call(fn, "classify_phase", W.clone())
    expected = geometry.phase_2in1(W)
    if isinstance(out, (list, tuple)):
        out = torch.tensor(out)
    if not isinstance(out, Tensor):
        raise CheckFailure(f"classify_phase should return a tensor of ints, got {type(out).__name__}.")
    out = out.long().reshape(-1) if out.numel() == len(expected) else out
    cases = [
        "w=(1, 0.02)",
        "w=(-1, 0)",
        "w=(1, -1)",
        "w=(-0.9, 1.1)",
        "w=(0, 1)",
        "w=(0.03, -1)",
        "w=(1, 1)",
        "w=(0.2, 0.1)",
    ]
    if out.shape != expected.shape:
        raise CheckFailure(
            f"classify_phase returned shape {tuple(out.shape)}, expected one label per instance {tuple(expected.shape)}."
        )
    if torch.equal(out, 2 - expected) | torch.equal(out, torch.tensor([2, 2, 1, 1, 0, 0, 0, 0])):
        raise CheckFailure(
            "Your labels 0 and 2 are swapped: 0 means feature 2 is dropped, 2 means only feature 2 is kept."
        )
    for i, (o, e) in enumerate(zip(out.tolist(), expected.tolist())):
        if o != e:
            why = {
                5: "a kept feature can have a NEGATIVE weight: compare |w| with the threshold.",
                1: "a kept feature can have a NEGATIVE weight: compare |w| with the threshold.",
                6: "both features kept with the SAME sign interfere positively; superposition here means an antipodal pair (opposite signs).",
                3: "opposite signs both above the threshold in size is the antipodal pair (superposition).",
                7: "neither weight is above the threshold: feature 2 is not represented (0).",
            }.get(i, "")
            raise CheckFailure(
                f"classify_phase gives {o} for {cases[i]}, expected {e} ({geometry.PHASES[e]}). {why}".rstrip()
            )
    passed("classify_phase")


@one_thread
def check_dimensions_per_feature(fn: Callable) -> None:
    """`fn(W)` -> d_hidden / ||W||_F^2 per instance."""
    for n_inst, d, n, seed in [(4, 3, 7, 0), (2, 5, 9, 1)]:
        W = _weights(n_inst, d, n, seed)[0]
        out = call(fn, "dimensions_per_feature", W.clone())
        fro2 = (W**2).sum((1, 2))
        compare(
            out,
            geometry.dimensions_per_feature(W),
            what=f"dimensions_per_feature on W {tuple(W.shape)}",
            mistakes=[
                (
                    d / fro2.sqrt(),
                    "||W||_F is the square root; the count of features is its SQUARE, ||W||_F^2 = (W**2).sum().",
                ),
                (fro2 / d, "you inverted it: dimensions per feature is d_hidden / ||W||_F^2."),
                (n / fro2, "the numerator is the number of hidden dimensions d_hidden (W.shape[1]), not n_features."),
            ],
            hint="W.shape[1] / (W ** 2).sum(dim=(1, 2))",
        )
        if isinstance(out, Tensor) and out.ndim == 0:
            raise CheckFailure("Return one value per instance, not one for the whole batch of instances.")
    passed("dimensions_per_feature")


@one_thread
def check_feature_dimensionality(fn: Callable) -> None:
    """`fn(W)` -> D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2, [n_inst, n_features]."""
    pent = _w2([0, 72, 144, 216, 288], [1] * 5)
    anti = _w2([0, 180, 90, 45, 270], [1, 1, 1, 0.0, 1])  # two antipodal pairs and a dropped feature
    rnd = _weights(1, 3, 5, 4)[0][0][:2]
    W = torch.stack([pent, anti, rnd])
    out = call(fn, "feature_dimensionality", W.clone())
    norms = W.norm(dim=1)
    unit = W / (norms[:, None] + 1e-8)
    ov = torch.einsum("ihf,ihg->ifg", unit, W)
    compare(
        out,
        geometry.feature_dimensionality(W),
        what="feature_dimensionality on a pentagon, two antipodal pairs plus a dropped feature, and a random W",
        mistakes=[
            (
                lambda: norms**2 / ((torch.einsum("ihf,ihg->ifg", W, W) ** 2).sum(-1) + 1e-8),
                "normalise W_i in the denominator: the sum is over (W_i_hat . W_j)^2 with W_i_hat = W_i / ||W_i||.",
            ),
            (lambda: norms / ((ov**2).sum(-1) + 1e-8), "the numerator is the SQUARED norm ||W_i||^2."),
            (lambda: norms**2 / (ov.abs().sum(-1) + 1e-8), "square the overlaps (W_i_hat . W_j)^2 before summing."),
        ],
        hint="unit = W / norm; overlaps = einsum('ihf,ihg->ifg', unit, W) ** 2; D = norm**2 / overlaps.sum(-1).",
        atol=1e-4,
    )
    if torch.isnan(out).any():
        raise CheckFailure("feature_dimensionality gives NaN for a dropped feature (norm 0): add a small eps.")
    passed("feature_dimensionality")


@one_thread
def check_anticorrelated_features(fn: Callable) -> None:
    """`fn(batch_size, p, generator)` -> [batch, n_inst, 2] features that are never present together."""
    p = torch.tensor([[0.3], [0.1], [0.45]])
    out = call(fn, "anticorrelated_features", 8000, p.clone(), _g(0))
    out = _need_tensor(out, "anticorrelated_features", (8000, 3, 2))
    on = out != 0
    both = (on[..., 0] & on[..., 1]).float().mean().item()
    if both > 0:
        raise CheckFailure(
            f"Both features of the pair are present together in {both:.3f} of the samples: anticorrelated features are "
            "never present at the same time. Draw one coin for the pair, then choose which of the two it is."
        )
    _check_sparse_sample(out, p.expand(3, 2), "anticorrelated_features")
    passed("anticorrelated_features")


# ---------------------------------------------------------------------------- page 2


@one_thread
def check_neuron_forward(fn: Callable) -> None:
    """`fn(W, b_final, x)` -> ReLU(W^T ReLU(W x) + b)."""
    for n_inst, d, n, seed in [(3, 2, 5, 0), (2, 4, 7, 1)]:
        W, b, x = _weights(n_inst, d, n, seed)
        out = call(fn, "neuron_forward", W.clone(), b.clone(), x.clone())
        h = torch.einsum("ihf,bif->bih", W, x)
        compare(
            out,
            sup.forward_from_weights(W, b, x, relu_hidden=True),
            what=f"neuron_forward with W {tuple(W.shape)}",
            mistakes=[
                (
                    sup.forward_from_weights(W, b, x),
                    "that is the page-1 model: the neuron model has a ReLU on the hidden layer too, h = ReLU(W x).",
                ),
                (
                    torch.einsum("ihf,bih->bif", W, torch.relu(h)) + b,
                    "you dropped the output ReLU: out = ReLU(W^T h + b).",
                ),
                (
                    torch.relu(torch.einsum("ihf,bih->bif", W, torch.relu(h + b[:, :d]))) if n >= d else None,
                    "b_final is added at the output, not inside the hidden ReLU.",
                ),
                (
                    torch.relu(torch.einsum("ihf,bih->bif", W, torch.relu(h))),
                    "you left out the bias b_final.",
                ),
            ],
            hint="h = relu(einsum('ihf,bif->bih', W, x)); out = relu(einsum('ihf,bih->bif', W, h) + b_final).",
        )
    passed("neuron_forward")


@one_thread
def check_monosemanticity(fn: Callable) -> None:
    """`fn(W)` -> for each neuron (row W[i, n, :]) the share of its squared weight in its largest feature."""
    for n_inst, d, n, seed in [(3, 4, 6, 0), (2, 5, 10, 1)]:
        W = _weights(n_inst, d, n, seed)[0]
        out = call(fn, "monosemanticity", W.clone())
        sq = W**2
        compare(
            out,
            geometry.neuron_monosemanticity(W),
            what=f"monosemanticity on W {tuple(W.shape)}",
            mistakes=[
                (
                    sq.amax(1) / sq.sum(1),
                    "you went along the neuron axis: a neuron is a ROW W[i, n, :], so reduce over the features (dim -1).",
                ),
                (
                    W.abs().amax(-1) / W.abs().sum(-1),
                    "use squared weights, not absolute values (the share of the neuron's squared norm).",
                ),
                (W.amax(-1) / W.sum(-1), "square the weights first: negative weights must count too, not cancel."),
                (sq.amax(-1), "divide by the neuron's total squared weight, so that the share lies in [0, 1]."),
            ],
            hint="sq = W ** 2; sq.amax(dim=-1) / sq.sum(dim=-1)",
        )
    passed("monosemanticity")


@one_thread
def check_classify_neurons(fn: Callable) -> None:
    """`fn(w, mono, dead)` for one instance's W [d_hidden, n_features] -> a label per neuron."""
    w = torch.tensor(
        [
            [1.1, 0.05, -0.1, 0.0],  # monosemantic
            [0.7, 0.0, -0.7, 0.0],  # polysemantic, signs differ
            [0.02, 0.01, 0.0, 0.03],  # dead
            [0.0, 0.0, -1.0, 0.0],  # monosemantic, negative weight
            [0.0, 0.6, 0.0, 0.8],  # polysemantic
            [0.05, 0.0, 0.0, 0.0],  # dead even though all its weight is on one feature
        ]
    )
    expected = ["monosemantic", "polysemantic", "dead", "monosemantic", "polysemantic", "dead"]
    out = call(fn, "classify_neurons", w.clone(), 0.9, 0.1)
    if not isinstance(out, (list, tuple)) or len(out) != len(expected):
        raise CheckFailure(
            f"classify_neurons should return a list of {len(expected)} labels, one per neuron; got {out!r}."
        )
    reasons = {
        2: "a neuron whose input weights are all tiny does nothing: check its norm against `dead` first.",
        5: "a neuron whose input weights are all tiny does nothing: check its norm against `dead` first, before its share.",
        3: "a negative weight counts: use squared weights for the share.",
        1: "its squared weight is split half and half between two features: that is polysemantic.",
        4: "0.6 and 0.8 give shares 0.36 and 0.64: polysemantic.",
        0: "almost all of its squared weight is on feature 0: monosemantic.",
    }
    for i, (o, e) in enumerate(zip(out, expected)):
        if o != e:
            raise CheckFailure(f"Neuron {i} with weights {w[i].tolist()} is {e!r}, you said {o!r}: {reasons[i]}")
    passed("classify_neurons")


@one_thread
def check_abs_with_two_neurons(fn: Callable) -> None:
    """`fn()` -> (W1 [2, 1], W2 [1, 2], b [1]) such that ReLU(W2 ReLU(W1 x) + b) = |x| for x in [-1, 1]."""
    got = call(fn, "abs_with_two_neurons")
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailure("abs_with_two_neurons should return three tensors: (W1, W2, b).")
    W1, W2, b = (torch.as_tensor(t, dtype=torch.float32) for t in got)
    if W1.shape != (2, 1) or W2.shape != (1, 2) or b.numel() != 1:
        raise CheckFailure(
            f"Shapes: W1 must be (2, 1), W2 (1, 2) and b one number; got {tuple(W1.shape)}, {tuple(W2.shape)}, {tuple(b.shape)}."
        )
    x = torch.linspace(-1, 1, 41)[:, None]
    out = torch.relu(torch.relu(x @ W1.T) @ W2.T + b.reshape(1))
    if torch.allclose(out, x.abs(), atol=1e-5):
        passed("abs_with_two_neurons")
        return
    if out[:20].abs().max() < 1e-6:  # zero for every negative x
        if (W1 > 0).all() or (W1 < 0).all():
            raise CheckFailure(
                "Your model is 0 for every negative x: both neurons read x with the same sign. One neuron must read +x "
                "and the other -x (W1 = [[1], [-1]])."
            )
        raise CheckFailure(
            "Your model outputs ReLU(x): the second neuron's read-out cancels the first. Add them (W2 = [[1, 1]]): "
            "ReLU(x) + ReLU(-x) = |x|."
        )
    if torch.allclose(out - out[20], x.abs(), atol=1e-5):
        raise CheckFailure(f"Right shape, but shifted by {float(out[20]):.2f}: the bias should be 0.")
    worst = int((out - x.abs()).abs().argmax())
    raise CheckFailure(
        f"At x = {x[worst].item():.2f} your model gives {out[worst].item():.3f}, but |x| = {abs(x[worst].item()):.3f}. "
        "Hint: ReLU(x) + ReLU(-x) = |x|."
    )


def _signed_sample_checks(out: Tensor, p: Tensor, what: str) -> None:
    on = out != 0
    if (out >= 0).all():
        raise CheckFailure(
            f"{what} has no negative values: a present feature is uniform in [-1, 1), e.g. 2 * rand - 1."
        )
    if (out < -1).any() or (out >= 1).any():
        raise CheckFailure(f"{what} has values outside [-1, 1): use 2 * torch.rand(...) - 1, not randn.")
    freq = on.float().mean(0)
    if (freq - p).abs().max() > 0.03:
        raise CheckFailure(
            f"{what}: a feature is present in {freq.flatten()[int((freq - p).abs().argmax())]:.3f} of the batch, but its "
            f"probability is {p.flatten()[int((freq - p).abs().argmax())]:.3f}. Make the mask from a SEPARATE uniform sample "
            "(rand < p), not from the value itself."
        )
    vals = out[on]
    if vals.numel() and (vals.mean().abs() > 0.05 or (vals.abs().mean() - 0.5).abs() > 0.05):
        raise CheckFailure(
            f"{what}: present values should be uniform in [-1, 1) (mean 0, mean |x| 1/2), got mean |x| "
            f"{vals.abs().mean():.2f}. Decide presence with a SEPARATE uniform sample, not from the value itself."
        )


@one_thread
def check_signed_sparse_features(fn: Callable) -> None:
    """`fn(batch_size, feature_probability, generator)` -> values uniform in [-1, 1) where present."""
    p = torch.tensor([[0.9, 0.4, 0.1], [0.05, 0.3, 0.7]])
    out = call(fn, "signed_sparse_features", 6000, p.clone(), _g(0))
    out = _need_tensor(out, "signed_sparse_features", (6000, 2, 3))
    _signed_sample_checks(out, p, "signed_sparse_features")
    a = call(fn, "signed_sparse_features", 40, p.clone(), _g(2))
    b = call(fn, "signed_sparse_features", 40, p.clone(), _g(2))
    if not torch.equal(a, b):
        raise CheckFailure("Equally seeded generators gave different batches: pass `generator=` to every torch.rand.")
    passed("signed_sparse_features")


@one_thread
def check_abs_loss(fn: Callable) -> None:
    """`fn(out, features, importance)` -> importance-weighted MSE against |features|."""
    g = _g(5)
    out = torch.rand(8, 3, 5, generator=g)
    x = 2 * torch.rand(8, 3, 5, generator=g) - 1
    imp = 0.3 + torch.rand(3, 5, generator=g)
    res = call(fn, "abs_loss", out.clone(), x.clone(), imp.clone())
    if isinstance(res, (int, float)):
        res = torch.tensor(float(res))
    compare(
        res,
        computation.abs_loss(out, x, imp),
        what="abs_loss",
        mistakes=[
            (
                (imp * (out - x) ** 2).mean((0, 2)).sum(),
                "the target is |x|, not x: the model has to compute the absolute value.",
            ),
            (((out - x.abs()) ** 2).mean((0, 2)).sum(), "you left out the importance weights."),
            ((imp * (out - x.abs()) ** 2).mean(), "SUM over the instances (mean over batch and features only)."),
            (
                (imp * (out.abs() - x.abs()) ** 2).mean((0, 2)).sum() if (out < 0).any() else None,
                "compare out with |x|.",
            ),
        ],
        hint="(importance * (out - features.abs()) ** 2).mean(dim=(0, 2)).sum()",
    )
    passed("abs_loss")


@one_thread
def check_fraction_explained(fn: Callable) -> None:
    """`fn(out, features)` -> 1 - MSE(out, |x|) / Var(|x|) per instance and feature."""
    g = _g(6)
    x = (2 * torch.rand(400, 2, 4, generator=g) - 1) * (torch.rand(400, 2, 4, generator=g) < 0.5)
    out = (x.abs() + 0.2 * torch.randn(400, 2, 4, generator=g) * torch.tensor([0.1, 1.0, 2.0, 0.5])).clamp_min(0)
    res = call(fn, "fraction_explained", out.clone(), x.clone())
    t = x.abs()
    mse = ((out - t) ** 2).mean(0)
    compare(
        res,
        computation.fraction_explained(out, x),
        what="fraction_explained",
        mistakes=[
            (1 - mse / x.var(0, unbiased=False), "divide by the variance of the TARGET |x|, not of x."),
            (mse / t.var(0, unbiased=False), "that is the unexplained fraction: return 1 minus it."),
            (
                1 - mse / (t**2).mean(0),
                "divide by the variance of |x| (its error around its mean), not its mean square.",
            ),
        ],
        hint="t = features.abs(); 1 - ((out - t) ** 2).mean(0) / t.var(0, unbiased=False)",
        atol=1e-4,
    )
    passed("fraction_explained")
