"""Measurements of where a toy model puts its features (Elhage et al. 2022, sections 2-4).

All functions take the batched weights `W: [n_inst, d_hidden, n_features]` of a
`micourse.toys.superposition.ToyModel` (column f of W[i] is feature f's direction) and return
one value per instance or per (instance, feature). They are the reference versions of what the
toy-model pages ask the learner to write.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor


def _check_w(W: Tensor, name: str = "W") -> None:
    if not isinstance(W, Tensor) or W.ndim != 3:
        shape = tuple(W.shape) if isinstance(W, Tensor) else type(W).__name__
        raise ValueError(f"{name} must be a tensor [n_inst, d_hidden, n_features], got {shape}")


def feature_norms(W: Float[Tensor, "n_inst d_hidden n_features"]) -> Float[Tensor, "n_inst n_features"]:
    """Length of each feature's direction: about 1 when the model represents the feature, about 0 when it drops it."""
    _check_w(W)
    return W.norm(dim=1)


def kept_features(W: Float[Tensor, "n_inst d_hidden n_features"], threshold: float = 0.5) -> Tensor:
    """Boolean [n_inst, n_features]: which features have a direction longer than `threshold`."""
    return feature_norms(W) > threshold


def interference(W: Float[Tensor, "n_inst d_hidden n_features"]) -> Float[Tensor, "n_inst n_features n_features"]:
    """W^T W per instance: the diagonal is each feature's squared norm, the rest how much
    feature g leaks into feature f's read-out."""
    _check_w(W)
    return torch.einsum("ihf,ihg->ifg", W, W)


def angles_2d(W: Float[Tensor, "n_inst 2 n_features"]) -> Float[Tensor, "n_inst n_features"]:
    """Angle of each feature's direction in a 2-d hidden space, in degrees in (-180, 180]."""
    _check_w(W)
    if W.shape[1] != 2:
        raise ValueError(f"angles_2d needs d_hidden = 2, got {W.shape[1]}")
    return torch.atan2(W[:, 1], W[:, 0]) * 180 / math.pi


def neighbour_gaps_2d(w: Float[Tensor, "2 n_features"], threshold: float = 0.5) -> Float[Tensor, " n_kept"]:
    """For ONE instance in 2-d: the angles (degrees) between each kept feature and the next one
    counter-clockwise. Five equal gaps of 72 degrees is a regular pentagon."""
    if not isinstance(w, Tensor) or w.ndim != 2 or w.shape[0] != 2:
        raise ValueError(
            f"neighbour_gaps_2d takes one instance's W of shape [2, n_features], got {getattr(w, 'shape', w)}"
        )
    keep = w.norm(dim=0) > threshold
    if keep.sum() < 2:
        return torch.empty(0)
    a = torch.atan2(w[1, keep], w[0, keep]).sort().values
    gaps = torch.diff(torch.cat([a, a[:1] + 2 * math.pi]))
    return gaps * 180 / math.pi


def dimensions_per_feature(W: Float[Tensor, "n_inst d_hidden n_features"]) -> Float[Tensor, " n_inst"]:
    """d_hidden / ||W||_F^2: hidden dimensions per represented feature (1 = no superposition,
    1/2 = antipodal pairs). ||W||_F^2 counts the features the model represents, each weighted by
    its squared norm."""
    _check_w(W)
    return W.shape[1] / (W**2).sum(dim=(1, 2))


def feature_dimensionality(
    W: Float[Tensor, "n_inst d_hidden n_features"], eps: float = 1e-8
) -> Float[Tensor, "n_inst n_features"]:
    """D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2 (Elhage et al., section 4).

    The fraction of a dimension feature i gets: 1 for a feature alone in its direction, 1/2 for
    each of an antipodal pair, 2/5 in a pentagon; about 0 for a dropped feature. The sum over j
    includes i itself, so the denominator is at least ||W_i||^2.
    """
    _check_w(W)
    norms = W.norm(dim=1, keepdim=True)
    unit = W / (norms + eps)
    overlaps = torch.einsum("ihf,ihg->ifg", unit, W) ** 2
    return norms.squeeze(1) ** 2 / (overlaps.sum(-1) + eps)


# ---- 2 features in 1 dimension ----------------------------------------------------------------

PHASES = ("feature 2 dropped", "superposition", "feature 2 only")


def phase_2in1(W: Float[Tensor, "n_inst 1 2"], threshold: float = 0.5) -> Tensor:
    """For 2 features in 1 hidden dimension, classify each instance (an int per instance):

    0 "feature 2 dropped": feature 2's weight is near 0 (feature 1 may have the dimension);
    1 "superposition": both are kept, with opposite signs (an antipodal pair);
    2 "feature 2 only": feature 2 is kept and feature 1 is not.
    Both kept with the SAME sign is not a stable solution; it counts as 0 (not a clean superposition).
    """
    _check_w(W)
    if W.shape[1:] != (1, 2):
        raise ValueError(f"phase_2in1 needs W of shape [n_inst, 1, 2], got {tuple(W.shape)}")
    w1, w2 = W[:, 0, 0], W[:, 0, 1]
    k1, k2 = w1.abs() > threshold, w2.abs() > threshold
    out = torch.zeros(W.shape[0], dtype=torch.long)
    out[k1 & k2 & (w1 * w2 < 0)] = 1
    out[k2 & ~k1] = 2
    return out


# ---- neurons (privileged basis) ---------------------------------------------------------------


def neuron_monosemanticity(W: Float[Tensor, "n_inst d_hidden n_features"], eps: float = 1e-12) -> Tensor:
    """For each neuron (row of W[i]): the share of its squared input weight that goes to its
    largest feature, [n_inst, d_hidden]. 1 = monosemantic; 1/k = spread evenly over k features."""
    _check_w(W)
    sq = W**2
    return sq.amax(dim=-1) / (sq.sum(dim=-1) + eps)
