"""Checkers for the grokking pages (chapter 5, pages 7-9): modular addition, Fourier, training."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from micourse.checks._interp_common import call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.toys.grokking import fourier as ref
from micourse.toys.grokking import progress as ref_progress
from micourse.toys.grokking.data import all_pairs

P_SMALL = 7
P_MID = 11


def _tensor(out, what: str) -> torch.Tensor:
    if out is None:
        raise CheckFailure(f"{what} is None: did you forget to `return` the result?")
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"{what} should be a tensor, got {type(out).__name__}.")
    return out


def _shape(out: torch.Tensor, shape: tuple, what: str, why: str = "") -> None:
    if tuple(out.shape) != tuple(shape):
        raise CheckFailure(f"{what} has shape {tuple(out.shape)}; expected {tuple(shape)}. {why}".strip())


def _raw_basis(p: int, normalise: bool = True, two_pi: bool = True, sin_first: bool = False, shift: int = 0):
    x = torch.arange(p, dtype=torch.float64) + shift
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        w = (2 * math.pi * k / p) if two_pi else k / p
        c, s = torch.cos(w * x), torch.sin(w * x)
        rows += [s, c] if sin_first else [c, s]
    b = torch.stack(rows)
    return (b / b.norm(dim=1, keepdim=True) if normalise else b).float()


# ----------------------------------------------------------------------------- page 7: the task and the bases


@one_thread
def check_make_pairs(fn: Callable) -> None:
    """`fn(p)` -> (p^2, 3): every input `a b =` in row-major order, "=" being token p."""
    for p in (5, P_SMALL):
        out = _tensor(call(fn, "make_pairs", p), "make_pairs(p)")
        if out.ndim == 2 and out.shape[1] == 2:
            raise CheckFailure(
                "make_pairs returned two columns: each input is three tokens, `a b =`; add the '=' token."
            )
        _shape(out, (p * p, 3), f"make_pairs({p})")
        if out.is_floating_point():
            raise CheckFailure("make_pairs returned floats: tokens are integer ids (use torch.long).")
        expected = all_pairs(p)
        a, b = expected[:, 0], expected[:, 1]
        compare(
            out,
            expected,
            what=f"make_pairs({p})",
            mistakes=[
                (
                    torch.stack([b, a, expected[:, 2]], 1),
                    "your pairs are in column-major order: row a * p + b must be (a, b), so a changes slowest.",
                ),
                (
                    torch.stack([a, b, torch.full_like(a, p - 1)], 1),
                    "the '=' token is p - 1, which is a number; the '=' token is p, the one id after the numbers.",
                ),
                (torch.stack([a, b, torch.zeros_like(a)], 1), "the '=' token is 0, which is the number 0; use p."),
            ],
            hint="torch.arange(p).repeat_interleave(p) gives a; torch.arange(p).repeat(p) gives b.",
        )
    passed("make_pairs")


@one_thread
def check_last_token_loss(fn: Callable) -> None:
    """`fn(logits (batch, pos, vocab), labels (batch,))` -> mean cross-entropy at the last position, float64."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, 7, generator=g) * 3
    labels = torch.randint(0, 7, (6,), generator=g)
    out = _tensor(call(fn, "last_token_loss", logits.clone(), labels.clone()), "last_token_loss")
    if out.ndim != 0:
        raise CheckFailure(
            f"last_token_loss returned shape {tuple(out.shape)}: return one number, the mean over the batch."
        )
    expected = torch.nn.functional.cross_entropy(logits[:, -1].double(), labels)
    compare(
        out.double(),
        expected,
        what="last_token_loss on random logits",
        mistakes=[
            (
                lambda: torch.nn.functional.cross_entropy(logits[:, 0].double(), labels),
                "you used the first position; the answer is predicted at the last one, logits[:, -1].",
            ),
            (
                lambda: torch.nn.functional.cross_entropy(logits.reshape(-1, 7).double(), labels.repeat_interleave(3)),
                "you averaged over every position; only the last position (after '=') predicts the answer.",
            ),
            (
                lambda: -logits[:, -1].double().gather(1, labels[:, None]).mean(),
                "you took the raw logit of the answer; take log_softmax first.",
            ),
        ],
        atol=1e-6,
    )
    # a memorised example: the right logit is far ahead, so float32 rounds the loss to exactly 0
    sharp = torch.zeros(2, 3, 5)
    sharp[:, -1, 1] = 20.0
    tiny = _tensor(call(fn, "last_token_loss", sharp, torch.tensor([1, 1])), "last_token_loss")
    if tiny.dtype != torch.float64 or float(tiny) == 0.0:
        raise CheckFailure(
            "On a confidently right prediction (logit margin 20) your loss is "
            f"{float(tiny):.3g} in {tiny.dtype}: compute it in float64 (logits.double()), or a memorised "
            "training loss rounds to 0 and its slow fall is invisible."
        )
    passed("last_token_loss")


@one_thread
def check_fourier_basis(fn: Callable) -> None:
    """`fn(p)` -> (p, p): rows const, cos 1, sin 1, ..., each of unit norm."""
    for p in (P_SMALL, P_MID):
        out = _tensor(call(fn, "fourier_basis", p), "fourier_basis(p)")
        _shape(out, (p, p), f"fourier_basis({p})", "One row per basis vector, one column per x = 0..p-1.")
        compare(
            out.float(),
            ref.fourier_basis(p),
            what=f"fourier_basis({p})",
            mistakes=[
                (_raw_basis(p, normalise=False), "your rows are not of unit norm: divide each row by its norm."),
                (
                    _raw_basis(p, sin_first=True),
                    "row 2k - 1 should be the cosine and row 2k the sine; yours are swapped.",
                ),
                (_raw_basis(p, two_pi=False), "the frequency k means w = 2 pi k / p: you left out the 2 pi."),
                (_raw_basis(p, shift=1), "x runs over 0..p-1, not 1..p."),
                (ref.fourier_basis(p).T, "you returned the transpose: rows are basis vectors."),
            ],
            atol=1e-4,
        )
    passed("fourier_basis")


@one_thread
def check_fft1d(fn: Callable) -> None:
    """`fn(x (p, ...))` -> coefficients in the 1D basis along dim 0."""
    g = torch.Generator().manual_seed(1)
    for shape in ((P_SMALL,), (P_MID, 4)):
        x = torch.randn(*shape, generator=g)
        out = _tensor(call(fn, "fft1d", x.clone()), "fft1d(x)")
        _shape(out, shape, "fft1d(x)", "The transform keeps the shape: dim 0 becomes the frequency index.")
        B = ref.fourier_basis(shape[0])
        compare(
            out.float(),
            ref.fft1d(x),
            what=f"fft1d on shape {shape}",
            mistakes=[
                (
                    torch.einsum("xk,x...->k...", B, x),
                    "you multiplied by the basis transposed, which turns coefficients back into values; coefficients are basis @ x.",
                ),
                (
                    torch.einsum("kx,x...->k...", _raw_basis(shape[0], normalise=False), x),
                    "your basis rows are not normalised.",
                ),
            ],
            atol=1e-4,
        )
    passed("fft1d")


@one_thread
def check_fft2d(fn: Callable) -> None:
    """`fn(x (p, p, ...))` -> coefficients in the 2D basis over dims 0 and 1."""
    g = torch.Generator().manual_seed(2)
    for shape in ((P_SMALL, P_SMALL), (P_MID, P_MID, 3)):
        x = torch.randn(*shape, generator=g)
        out = _tensor(call(fn, "fft2d", x.clone()), "fft2d(x)")
        _shape(out, shape, "fft2d(x)")
        B = ref.fourier_basis(shape[0])
        compare(
            out.float(),
            ref.fft2d(x),
            what=f"fft2d on shape {shape}",
            mistakes=[
                (torch.einsum("ia,ab...->ib...", B, x), "you transformed only dim 0 (a); transform dim 1 (b) too."),
                (torch.einsum("jb,ab...->aj...", B, x), "you transformed only dim 1 (b); transform dim 0 (a) too."),
                (
                    torch.einsum("ia,jb,ab...->ji...", B, B, x),
                    "your result is transposed: entry (i, j) is a's basis vector i times b's basis vector j.",
                ),
                (torch.einsum("ai,bj,ab...->ij...", B, B, x), "you used the basis transposed (the inverse transform)."),
            ],
            atol=1e-4,
        )
    passed("fft2d")


@one_thread
def check_frequency_norms(fn: Callable) -> None:
    """`fn(coeffs (p, ...))` -> (p // 2,): squared norm of each frequency's cos and sin rows."""
    g = torch.Generator().manual_seed(3)
    for shape in ((P_MID,), (P_MID, 5)):
        c = torch.randn(*shape, generator=g)
        out = _tensor(call(fn, "frequency_norms", c.clone()), "frequency_norms(coeffs)")
        half = P_MID // 2
        if out.shape == (half + 1,):
            raise CheckFailure(
                f"frequency_norms has {half + 1} entries: the constant row is not a frequency; return k = 1..{half} only."
            )
        _shape(
            out, (half,), "frequency_norms(coeffs)", "One number per frequency k = 1..p//2, summed over the other dims."
        )
        sq = c.pow(2).reshape(P_MID, -1).sum(1)
        compare(
            out.float(),
            ref.frequency_norms(c),
            what="frequency_norms",
            mistakes=[
                (sq[1::2], "you kept only the cosine rows; frequency k is cos k AND sin k (rows 2k - 1 and 2k)."),
                (
                    sq[2::2] + torch.cat([sq[3::2], torch.zeros(1)]),
                    "your pairs are off by one: frequency k is rows 2k - 1 and 2k (row 0 is the constant).",
                ),
                (
                    (sq[1::2] + sq[2::2]).sqrt(),
                    "you returned norms; the page uses squared norms (so they add up to the total).",
                ),
            ],
            atol=1e-4,
        )
    passed("frequency_norms")


@one_thread
def check_top_frequencies(fn: Callable) -> None:
    """`fn(norms (p // 2,), n)` -> list of the n frequencies (1-based) with the largest norms, ascending."""
    norms = torch.tensor([0.1, 5.0, 0.2, 0.3, 7.0, 0.05, 3.0, 0.4])
    out = call(fn, "top_frequencies", norms.clone(), 3)
    if isinstance(out, torch.Tensor):
        out = out.tolist()
    if not isinstance(out, list) or not all(isinstance(k, int) for k in out):
        raise CheckFailure(f"top_frequencies should return a list of ints, got {out!r} (use .tolist()).")
    expected = [2, 5, 7]
    if out == [1, 4, 6]:
        raise CheckFailure("Your frequencies are 0-based indices; entry i of the norms is frequency i + 1.")
    if out == [5, 2, 7]:
        raise CheckFailure("Return the frequencies in ascending order (sorted by frequency, not by norm).")
    if sorted(out) == [1, 3, 6] or sorted(out) == [2, 3, 4]:
        raise CheckFailure("You picked the smallest norms; key frequencies are the largest.")
    if out != expected:
        raise CheckFailure(f"top_frequencies(norms, 3) gave {out}; expected {expected} for norms {norms.tolist()}.")
    passed("top_frequencies")


# ----------------------------------------------------------------------------- page 8: the circuit


@one_thread
def check_trig_sum(fn: Callable) -> None:
    """`fn(cos_a, sin_a, cos_b, sin_b)` -> (cos(a + b), sin(a + b)) from products."""
    g = torch.Generator().manual_seed(4)
    a, b = torch.rand(9, generator=g) * 6, torch.rand(9, generator=g) * 6
    out = call(fn, "trig_sum", a.cos(), a.sin(), b.cos(), b.sin())
    if not isinstance(out, tuple) or len(out) != 2:
        raise CheckFailure("trig_sum should return a pair (cos(a + b), sin(a + b)).")
    c, s = _tensor(out[0], "cos(a + b)"), _tensor(out[1], "sin(a + b)")
    if torch.allclose(c, (a - b).cos(), atol=1e-5):
        raise CheckFailure("Your cosine is cos(a - b): cos(a + b) = cos a cos b MINUS sin a sin b.")
    if torch.allclose(c, (a + b).sin(), atol=1e-5) and torch.allclose(s, (a + b).cos(), atol=1e-5):
        raise CheckFailure("You returned (sin, cos); the order is (cos(a + b), sin(a + b)).")
    if torch.allclose(s, (a - b).sin(), atol=1e-5) or torch.allclose(s, (b - a).sin(), atol=1e-5):
        raise CheckFailure("Your sine is sin(a - b): sin(a + b) = sin a cos b PLUS cos a sin b.")
    compare(c, (a + b).cos(), what="cos(a + b)", atol=1e-5)
    compare(s, (a + b).sin(), what="sin(a + b)", atol=1e-5)
    passed("trig_sum")


def _fraction_case(seed: int = 5):
    g = torch.Generator().manual_seed(seed)
    coeffs = torch.randn(P_MID, P_MID, 4, generator=g)
    coeffs[0, 0] += 10  # a big mean, which is not variance
    return coeffs


@one_thread
def check_frequency_fraction(fn: Callable) -> None:
    """`fn(coeffs (p, p, n), k)` -> (n,): share of each neuron's variance in frequency k's 2D terms."""
    coeffs = _fraction_case()
    power = coeffs.pow(2)
    for k in (1, 3, P_MID // 2):
        out = _tensor(call(fn, "frequency_fraction", coeffs.clone(), k), f"frequency_fraction(coeffs, {k})")
        _shape(out, (4,), f"frequency_fraction(coeffs, {k})", "One fraction per neuron.")
        terms = ref.frequency_2d_terms(P_MID, k)
        num = sum(power[i, j] for i, j in terms)
        var = power.sum((0, 1)) - power[0, 0]
        compare(
            out.float(),
            (num / var).float(),
            what=f"frequency_fraction for k = {k}",
            mistakes=[
                (
                    num / power.sum((0, 1)),
                    "you divided by the total power including the constant term (0, 0); that is the mean, not variance: leave it out.",
                ),
                (
                    sum(power[i, j] for i, j in terms[4:]) / var,
                    "you counted only the four product terms; the linear terms (cos k a, sin k a, cos k b, sin k b with the constant) belong to frequency k too.",
                ),
                (
                    sum(power[i, j] for i, j in terms[:4]) / var,
                    "you counted only the linear terms; the product terms (cos k a cos k b, ...) are the ones the MLP makes.",
                ),
                (
                    sum(coeffs[i, j].abs() for i, j in terms) / coeffs.abs().sum((0, 1)),
                    "you summed absolute coefficients; variance is the sum of SQUARED coefficients.",
                ),
            ],
            atol=1e-4,
        )
    passed("frequency_fraction")


@one_thread
def check_cluster_neurons(fn: Callable) -> None:
    """`fn(fractions (p // 2, n), min_fraction)` -> (n,) long: best frequency (1-based) or 0 below the threshold."""
    fr = torch.tensor([[0.9, 0.1, 0.3, 0.5], [0.05, 0.8, 0.3, 0.2], [0.05, 0.1, 0.35, 0.3]])
    out = _tensor(call(fn, "cluster_neurons", fr.clone(), 0.5), "cluster_neurons")
    _shape(out, (4,), "cluster_neurons", "One frequency per neuron.")
    expected = torch.tensor([1, 2, 0, 1])
    out_l = out.long()
    if torch.equal(out_l, torch.tensor([0, 1, 2, 0])) or torch.equal(out_l, torch.tensor([0, 1, -1, 0])):
        raise CheckFailure(
            "Your frequencies are 0-based; row i of `fractions` is frequency i + 1 (0 means 'no cluster')."
        )
    if torch.equal(out_l, torch.tensor([1, 2, 3, 1])):
        raise CheckFailure(
            "Neuron 2's best frequency explains only 0.35 < 0.5 of its variance: give it 0 (no cluster)."
        )
    if torch.equal(out_l, torch.tensor([1, 2, 0, 0])):
        raise CheckFailure("A neuron whose best fraction equals min_fraction (0.5) belongs to the cluster: use >=.")
    if not torch.equal(out_l, expected):
        raise CheckFailure(f"cluster_neurons gave {out_l.tolist()}; expected {expected.tolist()}.")
    passed("cluster_neurons")


def _dirs(p: int, k: int, sign: int = 1, normalise: bool = True, w_scale: float | None = None) -> torch.Tensor:
    a = torch.arange(p, dtype=torch.float64).repeat_interleave(p)
    b = torch.arange(p, dtype=torch.float64).repeat(p)
    w = 2 * math.pi * k / p if w_scale is None else w_scale * k
    d = torch.stack([torch.cos(w * (a + sign * b)), torch.sin(w * (a + sign * b))])
    return (d / d.norm(dim=1, keepdim=True) if normalise else d).float()


@one_thread
def check_sum_directions(fn: Callable) -> None:
    """`fn(p, k)` -> (2, p^2): unit vectors cos(w(a + b)), sin(w(a + b)) over pairs in row-major order."""
    for p, k in ((P_SMALL, 2), (P_MID, 3)):
        out = _tensor(call(fn, "sum_directions", p, k), f"sum_directions({p}, {k})")
        _shape(out, (2, p * p), f"sum_directions({p}, {k})", "Two rows (cos, sin), one column per pair.")
        compare(
            out.float(),
            ref.sum_directions(p, [k]),
            what=f"sum_directions({p}, {k})",
            mistakes=[
                (_dirs(p, k, sign=-1), "you used a - b; the answer depends on a + b."),
                (
                    _dirs(p, k, normalise=False),
                    "your vectors are not of unit norm; divide each by its norm (projections assume unit vectors).",
                ),
                (_dirs(p, k, w_scale=1.0), "w = 2 pi k / p, not k."),
                (_dirs(p, k).flip(0), "the rows are (cos, sin), in that order."),
            ],
            atol=1e-4,
        )
    passed("sum_directions")


def _logits_case(p: int = P_MID, seed: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(p * p, p, generator=g) + torch.arange(p, dtype=torch.float32)


@one_thread
def check_excluded_logits(fn: Callable) -> None:
    """`fn(logits (p^2, p), freqs)` -> logits with the cos/sin(w(a + b)) parts of `freqs` removed."""
    logits, freqs = _logits_case(), [2, 4]
    out = _tensor(call(fn, "excluded_logits", logits.clone(), freqs), "excluded_logits")
    _shape(out, tuple(logits.shape), "excluded_logits", "Same shape as the logits.")
    D = ref.sum_directions(P_MID, freqs)
    raw = torch.cat([_dirs(P_MID, k, normalise=False) for k in freqs])
    compare(
        out.float(),
        ref.project_logits(logits, freqs, keep=False),
        what="excluded_logits",
        mistakes=[
            (
                ref.project_logits(logits, freqs, keep=True),
                "you kept the key frequencies; excluded logits REMOVE them.",
            ),
            (D.T @ (D @ logits), "you returned the part along the key directions; subtract it from the logits."),
            (logits - raw.T @ (raw @ logits), "your directions are not unit vectors, so you subtracted too much."),
            (logits - D[::2].T @ (D[::2] @ logits), "you removed only the cosines; remove sin(w(a + b)) as well."),
        ],
        atol=1e-3,
    )
    passed("excluded_logits")


@one_thread
def check_restricted_logits(fn: Callable) -> None:
    """`fn(logits (p^2, p), freqs)` -> each output's mean over pairs plus its cos/sin(w(a + b)) parts of `freqs`."""
    logits, freqs = _logits_case(seed=7), [1, 3]
    out = _tensor(call(fn, "restricted_logits", logits.clone(), freqs), "restricted_logits")
    _shape(out, tuple(logits.shape), "restricted_logits", "Same shape as the logits.")
    D = ref.sum_directions(P_MID, freqs)
    part = D.T @ (D @ logits)
    compare(
        out.float(),
        ref.project_logits(logits, freqs, keep=True),
        what="restricted_logits",
        mistakes=[
            (
                part,
                "you dropped each output's mean over pairs (the constant term); keep it, it sets how likely each answer is a priori.",
            ),
            (
                part + logits.mean(dim=1, keepdim=True),
                "you added the mean over OUTPUTS; the constant term is each output's mean over the p^2 pairs (dim 0).",
            ),
            (
                ref.project_logits(logits, freqs, keep=False),
                "you removed the key frequencies; restricted logits KEEP only them.",
            ),
            (
                logits.mean(0, keepdim=True) + D[::2].T @ (D[::2] @ logits),
                "you kept only the cosines; keep sin(w(a + b)) too.",
            ),
        ],
        atol=1e-3,
    )
    passed("restricted_logits")


def _ideal(p: int, freqs: list[int], sign_c: int = -1, fn=torch.cos) -> torch.Tensor:
    a = torch.arange(p, dtype=torch.float64).repeat_interleave(p)[:, None]
    b = torch.arange(p, dtype=torch.float64).repeat(p)[:, None]
    c = torch.arange(p, dtype=torch.float64)[None, :]
    return sum(fn(2 * math.pi * k / p * (a + b + sign_c * c)) for k in freqs).float()


@one_thread
def check_ideal_logits(fn: Callable) -> None:
    """`fn(p, freqs)` -> (p^2, p): sum over freqs of cos(w (a + b - c))."""
    p, freqs = P_MID, [1, 4]
    out = _tensor(call(fn, "ideal_logits", p, freqs), "ideal_logits")
    _shape(out, (p * p, p), "ideal_logits", "One row per pair (row-major), one column per answer c.")
    compare(
        out.float(),
        _ideal(p, freqs),
        what="ideal_logits",
        mistakes=[
            (
                _ideal(p, freqs, sign_c=1),
                "you used a + b + c; the logit of c peaks where c = a + b, i.e. at a + b - c = 0.",
            ),
            (_ideal(p, freqs, fn=torch.sin), "sin(w(a + b - c)) is 0 at c = a + b, not a peak: use cos."),
            (_ideal(p, freqs[:1]), "you used only the first frequency; sum over all of them."),
        ],
        atol=1e-4,
    )
    passed("ideal_logits")


# ----------------------------------------------------------------------------- page 9: over training


def _state_case() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(8)
    return {
        "embed.W_E": torch.randn(6, 4, generator=g),
        "blocks.0.mlp.W_in": torch.randn(4, 5, generator=g),
        "blocks.0.mlp.b_in": torch.randn(5, generator=g) + 2,
        "unembed.b_U": torch.randn(3, generator=g),
    }


@one_thread
def check_weight_norm_sq(fn: Callable) -> None:
    """`fn(state)` -> float: the sum of squares of every parameter."""
    state = _state_case()
    out = call(fn, "weight_norm_sq", {k: v.clone() for k, v in state.items()})
    try:
        val = float(out)
    except (TypeError, ValueError):
        raise CheckFailure(f"weight_norm_sq should return a number, got {type(out).__name__}.") from None
    expected = sum(float(v.pow(2).sum()) for v in state.values())
    if math.isclose(val, math.sqrt(expected), rel_tol=1e-4):
        raise CheckFailure("You returned the norm; return its square (the sum of squares, which weight decay shrinks).")
    if math.isclose(val, sum(float(v.pow(2).sum()) for v in state.values() if v.ndim > 1), rel_tol=1e-4):
        raise CheckFailure(
            "You skipped the biases; AdamW's weight decay here acts on every parameter, so count them all."
        )
    if math.isclose(val, sum(float(v.pow(2).mean()) for v in state.values()), rel_tol=1e-4):
        raise CheckFailure("You averaged the squares within each tensor; sum them.")
    if not math.isclose(val, expected, rel_tol=1e-4):
        raise CheckFailure(f"weight_norm_sq gave {val:.5g}; expected {expected:.5g}.")
    passed("weight_norm_sq")


@one_thread
def check_first_step_below(fn: Callable) -> None:
    """`fn(steps, values, threshold)` -> the first step with value < threshold, or None."""
    steps = torch.tensor([0, 100, 200, 300, 400, 500])
    values = torch.tensor([5.0, 3.0, 1.0, 2.0, 0.5, 0.1])
    out = call(fn, "first_step_below", steps.clone(), values.clone(), 1.5)
    if isinstance(out, torch.Tensor):
        out = out.item()
    if out == 2:
        raise CheckFailure("You returned the index (2); return the step at that index (200).")
    if out == 400:
        raise CheckFailure(
            "You returned the step after which the values STAY below; the question is the first step below."
        )
    if out != 200:
        raise CheckFailure(f"first_step_below(..., 1.5) gave {out!r}; expected 200.")
    edge = call(fn, "first_step_below", steps.clone(), values.clone(), 1.0)
    edge = edge.item() if isinstance(edge, torch.Tensor) else edge
    if edge == 200:
        raise CheckFailure("At threshold 1.0 the value 1.0 is not below it: use a strict <.")
    if edge != 400:
        raise CheckFailure(f"first_step_below(..., 1.0) gave {edge!r}; expected 400.")
    never = call(fn, "first_step_below", steps.clone(), values.clone(), 0.0)
    if never is not None:
        raise CheckFailure(f"When no value is below the threshold return None, not {never!r}.")
    passed("first_step_below")


@one_thread
def check_gini(fn: Callable) -> None:
    """`fn(x (n,))` -> float: the Gini coefficient of non-negative numbers."""
    cases = [
        torch.tensor([1.0, 1.0, 1.0, 1.0]),
        torch.tensor([0.0, 0.0, 0.0, 8.0]),
        torch.tensor([3.0, 1.0, 4.0, 1.0, 5.0, 9.0]),
    ]
    for x in cases:
        out = call(fn, "gini", x.clone())
        try:
            val = float(out)
        except (TypeError, ValueError):
            raise CheckFailure(f"gini should return a number, got {type(out).__name__}.") from None
        expected = ref_progress.gini(x)
        n = len(x)
        diffs = (x[:, None] - x[None, :]).abs().sum().item()
        if not math.isclose(val, expected, rel_tol=1e-4, abs_tol=1e-6):
            if math.isclose(val, diffs / (n * n * x.mean().item()), rel_tol=1e-4):
                raise CheckFailure(
                    "Your value is twice the Gini coefficient: divide the sum of |x_i - x_j| by 2 n^2 mean(x)."
                )
            if math.isclose(val, expected * n / (n - 1), rel_tol=1e-4):
                raise CheckFailure(
                    "You normalised by n - 1; the Gini coefficient here divides by n (so n equal numbers give 0, one non-zero gives 1 - 1/n)."
                )
            ranks = torch.arange(1, n + 1, dtype=torch.float64)
            unsorted = float(((2 * ranks - n - 1) * x.double()).sum() / (n * x.sum()))
            if math.isclose(val, unsorted, rel_tol=1e-4, abs_tol=1e-6):
                raise CheckFailure("The rank formula needs x sorted in ascending order first.")
            raise CheckFailure(f"gini({x.tolist()}) gave {val:.4f}; expected {expected:.4f}.")
    passed("gini")


@one_thread
def check_key_fraction(fn: Callable) -> None:
    """`fn(norms (steps, p // 2), freqs)` -> (steps,): share of the squared norm in the key frequencies."""
    g = torch.Generator().manual_seed(9)
    norms = torch.rand(5, 8, generator=g) + 0.1
    freqs = [2, 5]
    out = _tensor(call(fn, "key_fraction", norms.clone(), freqs), "key_fraction")
    _shape(out, (5,), "key_fraction", "One fraction per step.")
    idx = torch.tensor(freqs) - 1
    compare(
        out.float(),
        norms[:, idx].sum(1) / norms.sum(1),
        what="key_fraction",
        mistakes=[
            (
                norms[:, torch.tensor(freqs)].sum(1) / norms.sum(1),
                "you indexed with the frequencies themselves; column k - 1 holds frequency k.",
            ),
            (norms[:, idx].sqrt().sum(1) / norms.sqrt().sum(1), "the norms are already squared: add them as they are."),
            (
                norms[:, idx].sum(1) / norms.sum(),
                "divide each step by ITS total (sum over dim 1), not by the total over all steps.",
            ),
        ],
        atol=1e-5,
    )
    passed("key_fraction")
