"""Fourier bases on Z_p, and the helpers the grokking pages and checkers share.

The 1D basis has one constant vector and, for each frequency k = 1..p//2, a cosine and a sine:
row 2k-1 is cos(2 pi k x / p) and row 2k is sin(2 pi k x / p), each scaled to unit norm, so the
basis is orthonormal and "how much of frequency k" is a sum of two squared coefficients. The 2D
basis over pairs (a, b) is the outer product of two 1D bases.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float, Int


def _check_p(p: int) -> None:
    if not isinstance(p, int) or isinstance(p, bool) or p < 3 or p % 2 == 0:
        raise ValueError(f"p must be an odd integer >= 3 (a prime, for this task), not {p!r}.")


def basis_names(p: int) -> list[str]:
    """Names of the 1D basis rows: 'const', 'cos 1', 'sin 1', 'cos 2', ..."""
    _check_p(p)
    names = ["const"]
    for k in range(1, p // 2 + 1):
        names += [f"cos {k}", f"sin {k}"]
    return names


def fourier_basis(p: int) -> Float[torch.Tensor, "p p"]:
    """The orthonormal 1D Fourier basis on 0..p-1: one row per basis vector (see the module doc)."""
    _check_p(p)
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        rows.append(torch.sin(2 * math.pi * k * x / p))
    basis = torch.stack(rows)
    return (basis / basis.norm(dim=1, keepdim=True)).float()


def fft1d(x: Float[torch.Tensor, "p ..."]) -> Float[torch.Tensor, "p ..."]:
    """Coefficients of `x` (indexed by a number 0..p-1 along dim 0) in the 1D Fourier basis."""
    basis = fourier_basis(x.shape[0]).to(x.dtype)
    return torch.einsum("kx,x...->k...", basis, x)


def fft2d(x: Float[torch.Tensor, "p p ..."]) -> Float[torch.Tensor, "p p ..."]:
    """Coefficients of `x` (indexed by (a, b) along dims 0, 1) in the 2D Fourier basis."""
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"fft2d needs the first two dimensions to be (a, b), both p; got {tuple(x.shape)}.")
    basis = fourier_basis(x.shape[0]).to(x.dtype)
    return torch.einsum("ia,jb,ab...->ij...", basis, basis, x)


def frequency_norms(coeffs: Float[torch.Tensor, "p ..."]) -> Float[torch.Tensor, " half"]:
    """Squared norm of the coefficients of each frequency k = 1..p//2 (cos and sin rows together).

    `coeffs` is a 1D-basis transform along dim 0 (e.g. `fft1d(W_E[:p])`); other dims are summed.
    """
    sq = coeffs.pow(2).reshape(coeffs.shape[0], -1).sum(dim=1)
    return sq[1::2] + sq[2::2]


def frequency_2d_terms(p: int, k: int) -> list[tuple[int, int]]:
    """The (i, j) indices of the 2D basis that belong to frequency k: its linear terms in a and in b
    (cos/sin k paired with the constant) and its four product terms (cos/sin k a times cos/sin k b)."""
    _check_p(p)
    if not 1 <= k <= p // 2:
        raise ValueError(f"frequency k must be in 1..{p // 2}, not {k!r}.")
    c, s = 2 * k - 1, 2 * k
    return [(c, 0), (s, 0), (0, c), (0, s), (c, c), (c, s), (s, c), (s, s)]


def neuron_frequency_fractions(acts_2d: Float[torch.Tensor, "p p d_mlp"]) -> Float[torch.Tensor, "half d_mlp"]:
    """For each neuron, the fraction of its variance (over all pairs) that each frequency's 2D terms explain.

    `acts_2d` holds neuron activations at the last position as a function of (a, b). The constant
    term is the mean, not variance, so it is left out of the denominator.
    """
    p = acts_2d.shape[0]
    coeffs = fft2d(acts_2d.double())
    power = coeffs.pow(2)
    total = power.sum(dim=(0, 1)) - power[0, 0]
    out = torch.zeros(p // 2, acts_2d.shape[2], dtype=torch.float64)
    for k in range(1, p // 2 + 1):
        for i, j in frequency_2d_terms(p, k):
            out[k - 1] += power[i, j]
    return (out / total.clamp_min(1e-30)).float()


def neuron_clusters(
    acts_2d: Float[torch.Tensor, "p p d_mlp"], min_fraction: float = 0.5
) -> tuple[Int[torch.Tensor, " d_mlp"], Float[torch.Tensor, " d_mlp"]]:
    """Each neuron's best frequency (1..p//2) and the fraction of variance it explains.

    Neurons whose best frequency explains less than `min_fraction` get frequency 0 (no cluster).
    """
    fractions = neuron_frequency_fractions(acts_2d)
    best_fraction, best = fractions.max(dim=0)
    freq = best + 1
    freq[best_fraction < min_fraction] = 0
    return freq, best_fraction


def key_frequencies(
    acts_2d: Float[torch.Tensor, "p p d_mlp"], min_fraction: float = 0.5, min_neurons: int = 8
) -> list[int]:
    """The frequencies the MLP computes with: those with at least `min_neurons` neurons clustered on them."""
    freq, _ = neuron_clusters(acts_2d, min_fraction)
    counts = torch.bincount(freq, minlength=acts_2d.shape[0] // 2 + 1)
    return [k for k in range(1, len(counts)) if counts[k] >= min_neurons]


def sum_directions(p: int, freqs: list[int]) -> Float[torch.Tensor, "n p_sq"]:
    """Unit vectors over the p^2 pairs for cos(w(a+b)) and sin(w(a+b)), w = 2 pi k / p, for each k in `freqs`.

    Row-major over pairs, like `data.all_pairs`. They are orthonormal for distinct k.
    """
    _check_p(p)
    a = torch.arange(p, dtype=torch.float64).repeat_interleave(p)
    b = torch.arange(p, dtype=torch.float64).repeat(p)
    rows = []
    for k in freqs:
        if not isinstance(k, int) or not 1 <= k <= p // 2:
            raise ValueError(f"frequencies must be integers in 1..{p // 2}, got {k!r}.")
        w = 2 * math.pi * k / p
        rows += [torch.cos(w * (a + b)), torch.sin(w * (a + b))]
    if not rows:
        return torch.zeros(0, p * p)
    d = torch.stack(rows)
    return (d / d.norm(dim=1, keepdim=True)).float()


def project_logits(
    logits: Float[torch.Tensor, "p_sq p"], freqs: list[int], keep: bool
) -> Float[torch.Tensor, "p_sq p"]:
    """Logits over all p^2 pairs (row-major) with each output's cos/sin(w(a+b)) parts of `freqs` kept or removed.

    keep=True (restricted): only those parts plus each output's mean over pairs survive.
    keep=False (excluded): those parts are subtracted, everything else stays.
    """
    p = logits.shape[1]
    if logits.shape[0] != p * p:
        raise ValueError(f"logits must be (p^2, p) over all pairs in row-major order; got {tuple(logits.shape)}.")
    dirs = sum_directions(p, freqs).to(logits.dtype)
    part = dirs.T @ (dirs @ logits)
    if keep:
        return logits.mean(dim=0, keepdim=True) + part
    return logits - part
