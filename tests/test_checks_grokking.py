"""Grokking pages: each checker accepts the reference and rejects plausible mistakes (>= 3 each)."""

import math

import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import grokking as chk
from micourse.toys.grokking import fourier as ref
from micourse.toys.grokking import progress
from micourse.toys.grokking.data import all_pairs


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def _pairs(p, eq=None, col_major=False, two=False):
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    if col_major:
        a, b = b, a
    if two:
        return torch.stack([a, b], 1)
    return torch.stack([a, b, torch.full_like(a, p if eq is None else eq)], 1)


def test_make_pairs():
    chk.check_make_pairs(all_pairs)
    rejects(chk.check_make_pairs, lambda p: _pairs(p, col_major=True), "column-major")
    rejects(chk.check_make_pairs, lambda p: _pairs(p, eq=p - 1), "p - 1")
    rejects(chk.check_make_pairs, lambda p: _pairs(p, eq=0), "'=' token is 0")
    rejects(chk.check_make_pairs, lambda p: _pairs(p, two=True), "three tokens")
    rejects(chk.check_make_pairs, lambda p: _pairs(p).float(), "floats")


def test_last_token_loss():
    def good(logits, labels):
        return torch.nn.functional.cross_entropy(logits[:, -1].double(), labels)

    chk.check_last_token_loss(good)
    rejects(
        chk.check_last_token_loss, lambda l, y: torch.nn.functional.cross_entropy(l[:, 0].double(), y), "first position"
    )
    rejects(
        chk.check_last_token_loss,
        lambda l, y: torch.nn.functional.cross_entropy(l.reshape(-1, l.shape[-1]).double(), y.repeat_interleave(3)),
        "every position",
    )
    rejects(chk.check_last_token_loss, lambda l, y: -l[:, -1].double().gather(1, y[:, None]).mean(), "log_softmax")
    rejects(chk.check_last_token_loss, lambda l, y: torch.nn.functional.cross_entropy(l[:, -1], y), "float64")
    rejects(
        chk.check_last_token_loss,
        lambda l, y: torch.nn.functional.cross_entropy(l[:, -1].double(), y, reduction="none"),
        "one number",
    )


def test_fourier_basis():
    chk.check_fourier_basis(ref.fourier_basis)
    rejects(chk.check_fourier_basis, lambda p: chk._raw_basis(p, normalise=False), "unit norm")
    rejects(chk.check_fourier_basis, lambda p: chk._raw_basis(p, sin_first=True), "swapped")
    rejects(chk.check_fourier_basis, lambda p: chk._raw_basis(p, two_pi=False), "2 pi")
    rejects(chk.check_fourier_basis, lambda p: chk._raw_basis(p, shift=1), "0..p-1")
    rejects(chk.check_fourier_basis, lambda p: ref.fourier_basis(p)[:, :-1], "shape")


def test_fft1d():
    chk.check_fft1d(ref.fft1d)
    rejects(chk.check_fft1d, lambda x: torch.einsum("xk,x...->k...", ref.fourier_basis(x.shape[0]), x), "transposed")
    rejects(
        chk.check_fft1d,
        lambda x: torch.einsum("kx,x...->k...", chk._raw_basis(x.shape[0], normalise=False), x),
        "normalised",
    )
    rejects(chk.check_fft1d, lambda x: x, "differ")
    rejects(chk.check_fft1d, lambda x: ref.fft1d(x)[1:], "shape")


def test_fft2d():
    chk.check_fft2d(ref.fft2d)
    B = ref.fourier_basis
    rejects(chk.check_fft2d, lambda x: torch.einsum("ia,ab...->ib...", B(x.shape[0]), x), "only dim 0")
    rejects(chk.check_fft2d, lambda x: torch.einsum("jb,ab...->aj...", B(x.shape[0]), x), "only dim 1")
    rejects(chk.check_fft2d, lambda x: ref.fft2d(x).transpose(0, 1), "transposed")
    rejects(chk.check_fft2d, lambda x: torch.einsum("ai,bj,ab...->ij...", B(x.shape[0]), B(x.shape[0]), x), "inverse")


def test_frequency_norms():
    chk.check_frequency_norms(ref.frequency_norms)

    def sq(c):
        return c.pow(2).reshape(c.shape[0], -1).sum(1)

    rejects(chk.check_frequency_norms, lambda c: sq(c)[1::2], "cosine")
    rejects(chk.check_frequency_norms, lambda c: ref.frequency_norms(c).sqrt(), "squared")
    rejects(chk.check_frequency_norms, lambda c: torch.cat([sq(c)[:1], ref.frequency_norms(c)]), "constant")
    rejects(chk.check_frequency_norms, lambda c: sq(c)[2::2] + torch.cat([sq(c)[3::2], torch.zeros(1)]), "off by one")


def test_top_frequencies():
    def good(norms, n):
        return sorted((norms.topk(n).indices + 1).tolist())

    chk.check_top_frequencies(good)
    rejects(chk.check_top_frequencies, lambda nm, n: sorted(nm.topk(n).indices.tolist()), "0-based")
    rejects(chk.check_top_frequencies, lambda nm, n: (nm.topk(n).indices + 1).tolist(), "ascending")
    rejects(
        chk.check_top_frequencies, lambda nm, n: sorted((nm.topk(n, largest=False).indices + 1).tolist()), "smallest"
    )
    rejects(chk.check_top_frequencies, lambda nm, n: nm.topk(n).indices + 1, "ascending")


def test_trig_sum():
    def good(ca, sa, cb, sb):
        return ca * cb - sa * sb, sa * cb + ca * sb

    chk.check_trig_sum(good)
    rejects(chk.check_trig_sum, lambda ca, sa, cb, sb: (ca * cb + sa * sb, sa * cb + ca * sb), "MINUS")
    rejects(chk.check_trig_sum, lambda ca, sa, cb, sb: (ca * cb - sa * sb, sa * cb - ca * sb), "PLUS")
    rejects(chk.check_trig_sum, lambda ca, sa, cb, sb: (sa * cb + ca * sb, ca * cb - sa * sb), "(sin, cos)")
    rejects(chk.check_trig_sum, lambda ca, sa, cb, sb: ca * cb - sa * sb, "pair")


def _fraction(coeffs, k, terms=None, const=False):
    power = coeffs.pow(2)
    t = ref.frequency_2d_terms(coeffs.shape[0], k)
    t = t if terms is None else [t[i] for i in terms]
    den = power.sum((0, 1)) - (0 if const else power[0, 0])
    return sum(power[i, j] for i, j in t) / den


def test_frequency_fraction():
    chk.check_frequency_fraction(_fraction)
    rejects(chk.check_frequency_fraction, lambda c, k: _fraction(c, k, const=True), "constant term")
    rejects(chk.check_frequency_fraction, lambda c, k: _fraction(c, k, terms=[4, 5, 6, 7]), "only the four product")
    rejects(chk.check_frequency_fraction, lambda c, k: _fraction(c, k, terms=[0, 1, 2, 3]), "only the linear")
    rejects(chk.check_frequency_fraction, lambda c, k: _fraction(c, k)[:1], "shape")


def test_cluster_neurons():
    def good(fr, m):
        best, idx = fr.max(0)
        return torch.where(best >= m, idx + 1, torch.zeros_like(idx))

    chk.check_cluster_neurons(good)
    rejects(chk.check_cluster_neurons, lambda fr, m: torch.where(fr.max(0).values >= m, fr.argmax(0), -1), "0-based")
    rejects(chk.check_cluster_neurons, lambda fr, m: fr.argmax(0) + 1, "0.35")
    rejects(chk.check_cluster_neurons, lambda fr, m: torch.where(fr.max(0).values > m, fr.argmax(0) + 1, 0), ">=")


def test_sum_directions():
    chk.check_sum_directions(lambda p, k: ref.sum_directions(p, [k]))
    rejects(chk.check_sum_directions, lambda p, k: chk._dirs(p, k, sign=-1), "a - b")
    rejects(chk.check_sum_directions, lambda p, k: chk._dirs(p, k, normalise=False), "unit norm")
    rejects(chk.check_sum_directions, lambda p, k: chk._dirs(p, k, w_scale=1.0), "2 pi k / p")
    rejects(chk.check_sum_directions, lambda p, k: chk._dirs(p, k).flip(0), "(cos, sin)")


def test_excluded_logits():
    chk.check_excluded_logits(lambda l, f: ref.project_logits(l, f, keep=False))
    p = chk.P_MID
    rejects(chk.check_excluded_logits, lambda l, f: ref.project_logits(l, f, keep=True), "REMOVE")
    rejects(
        chk.check_excluded_logits, lambda l, f: ref.sum_directions(p, f).T @ (ref.sum_directions(p, f) @ l), "subtract"
    )
    rejects(
        chk.check_excluded_logits,
        lambda l, f: l - ref.sum_directions(p, f)[::2].T @ (ref.sum_directions(p, f)[::2] @ l),
        "cosines",
    )
    raw = lambda f: torch.cat([chk._dirs(p, k, normalise=False) for k in f])  # noqa: E731
    rejects(chk.check_excluded_logits, lambda l, f: l - raw(f).T @ (raw(f) @ l), "unit vectors")


def test_restricted_logits():
    chk.check_restricted_logits(lambda l, f: ref.project_logits(l, f, keep=True))
    p = chk.P_MID

    def part(l, f):
        d = ref.sum_directions(p, f)
        return d.T @ (d @ l)

    rejects(chk.check_restricted_logits, part, "constant term")
    rejects(chk.check_restricted_logits, lambda l, f: part(l, f) + l.mean(1, keepdim=True), "OUTPUTS")
    rejects(chk.check_restricted_logits, lambda l, f: ref.project_logits(l, f, keep=False), "KEEP")


def test_ideal_logits():
    chk.check_ideal_logits(lambda p, f: chk._ideal(p, f))
    rejects(chk.check_ideal_logits, lambda p, f: chk._ideal(p, f, sign_c=1), "a + b + c")
    rejects(chk.check_ideal_logits, lambda p, f: chk._ideal(p, f, fn=torch.sin), "use cos")
    rejects(chk.check_ideal_logits, lambda p, f: chk._ideal(p, f[:1]), "first frequency")
    rejects(chk.check_ideal_logits, lambda p, f: chk._ideal(p, f).T, "shape")


def test_weight_norm_sq():
    chk.check_weight_norm_sq(progress.weight_norm_sq)
    rejects(chk.check_weight_norm_sq, lambda s: math.sqrt(progress.weight_norm_sq(s)), "square")
    rejects(chk.check_weight_norm_sq, lambda s: sum(float(v.pow(2).sum()) for v in s.values() if v.ndim > 1), "biases")
    rejects(chk.check_weight_norm_sq, lambda s: sum(float(v.pow(2).mean()) for v in s.values()), "averaged")


def test_first_step_below():
    chk.check_first_step_below(progress.first_step_below)

    def index(steps, values, t):
        hits = (values < t).nonzero()
        return None if len(hits) == 0 else int(hits[0, 0])

    def le(steps, values, t):
        hits = (values <= t).nonzero()
        return None if len(hits) == 0 else int(steps[hits[0, 0]])

    def stays(steps, values, t):
        for i in range(len(values)):
            if (values[i:] < t).all():
                return int(steps[i])
        return None

    rejects(chk.check_first_step_below, index, "index")
    rejects(chk.check_first_step_below, le, "strict")
    rejects(chk.check_first_step_below, stays, "STAY")
    rejects(
        chk.check_first_step_below, lambda s, v, t: int(s[(v < t).nonzero()[0, 0]]) if (v < t).any() else -1, "None"
    )


def test_gini():
    chk.check_gini(progress.gini)

    def double(x):
        return float((x[:, None] - x[None, :]).abs().sum() / (len(x) ** 2 * x.mean()))

    def unsorted(x):
        n = len(x)
        r = torch.arange(1, n + 1, dtype=torch.float64)
        return float(((2 * r - n - 1) * x.double()).sum() / (n * x.sum()))

    rejects(chk.check_gini, double, "twice")
    rejects(chk.check_gini, lambda x: progress.gini(x) * len(x) / (len(x) - 1), "n - 1")
    rejects(chk.check_gini, unsorted, "sorted")


def test_key_fraction():
    def good(norms, freqs):
        idx = torch.tensor(freqs) - 1
        return norms[:, idx].sum(1) / norms.sum(1)

    chk.check_key_fraction(good)
    rejects(chk.check_key_fraction, lambda n, f: n[:, torch.tensor(f)].sum(1) / n.sum(1), "column k - 1")
    rejects(
        chk.check_key_fraction,
        lambda n, f: n[:, torch.tensor(f) - 1].sqrt().sum(1) / n.sqrt().sum(1),
        "already squared",
    )
    rejects(chk.check_key_fraction, lambda n, f: n[:, torch.tensor(f) - 1].sum(1) / n.sum(), "ITS total")
