"""Checkers for the "Foundations" page: broadcasting, einops reshapes, scaled dot-product attention."""

from __future__ import annotations

import math
from typing import Any, Callable

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from micourse.checks.core import CheckFailure, Diagnosis, check_close, passed


def _call(fn: Callable, what: str, *args: Any) -> Any:
    if not callable(fn):
        raise CheckFailure(f"Pass the function itself (e.g. `{what}`), not {type(fn).__name__}.")
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        raise CheckFailure(f"{what} raised {type(err).__name__}: {err}") from err


def _close(a: Tensor, b: Tensor) -> bool:
    return isinstance(a, Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-4)


# --- broadcasting --------------------------------------------------------------------------------


def pairwise_distances_reference(x: Float[Tensor, "n d"], y: Float[Tensor, "m d"]) -> Float[Tensor, "n m"]:
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).sqrt()


def check_pairwise_distances(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """`fn(x, y)` with x `(n, d)` and y `(m, d)` returns the `(n, m)` Euclidean distances."""
    g = torch.Generator().manual_seed(0)
    for n, m, d in [(4, 6, 3), (1, 5, 2), (7, 7, 8)]:
        x, y = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)
        out = _call(fn, "pairwise_distances", x.clone(), y.clone())
        sq = ((x[:, None] - y[None]) ** 2).sum(-1)
        diag = [
            Diagnosis(lambda a, sq=sq: _close(a, sq), "you returned squared distances: take the square root at the end."),
            Diagnosis(lambda a, x=x, y=y: _close(a, (x[:, None] - y[None]).abs().sum(-1)), "you summed absolute differences (the L1 distance); square, sum, then square-root."),
            Diagnosis(lambda a, sq=sq: _close(a, sq.T), "your result is transposed: row i should hold the distances from x[i]."),
        ]
        check_close(out, pairwise_distances_reference(x, y), what=f"pairwise_distances for x {tuple(x.shape)}, y {tuple(y.shape)}",
                    diagnoses=diag, hint="x[:, None, :] - y[None, :, :] has shape (n, m, d): square it, sum over the last axis, take the square root.")
    passed("pairwise_distances")


# --- einops --------------------------------------------------------------------------------------


def check_split_heads(fn: Callable[[Tensor, int], Tensor]) -> None:
    """`fn(x, n_heads)`: `(batch, pos, n_heads * d_head)` -> `(batch, pos, n_heads, d_head)`, head-major."""
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).reshape(2, 3, 12)
    for n_heads in (4, 3, 1):
        out = _call(fn, "split_heads", x.clone(), n_heads)
        expected = einops.rearrange(x, "b p (h d) -> b p h d", h=n_heads)
        d_head = 12 // n_heads
        if isinstance(out, torch.Tensor) and n_heads != 3 and tuple(out.shape) == (2, n_heads, 3, d_head):
            raise CheckFailure(f"split_heads returned shape {tuple(out.shape)}: you moved the head axis before pos. "
                               "This course keeps TransformerLens's order (batch, pos, head, d_head).")
        diag = [
            Diagnosis(lambda a, n=n_heads: _close(a, einops.rearrange(x, "b p (d h) -> b p h d", h=n)),
                      "your grouping is '(d_head head)': the first d_head entries of the last axis belong to head 0, so write '(head d_head)'."),
            Diagnosis(lambda a, n=n_heads: _close(a, einops.rearrange(x, "b p (h d) -> b h p d", h=n)),
                      "you moved the head axis before pos; this course keeps TransformerLens's order (batch, pos, head, d_head)."),
        ]
        check_close(out, expected, what=f"split_heads(x of shape {tuple(x.shape)}, n_heads={n_heads})", diagnoses=diag,
                    hint=f"einops.rearrange(x, 'batch pos (head d_head) -> batch pos head d_head', head=n_heads) gives shape (2, 3, {n_heads}, {d_head}).")
    passed("split_heads")


# --- attention -----------------------------------------------------------------------------------


def attention_reference(
    q: Float[Tensor, "batch pos head d_head"],
    k: Float[Tensor, "batch pos head d_head"],
    v: Float[Tensor, "batch pos head d_head"],
    causal: bool = True,
) -> tuple[Float[Tensor, "batch pos head d_head"], Float[Tensor, "batch head query key"]]:
    """Scaled dot-product attention, TransformerLens layout; returns (output, pattern)."""
    scores = einops.einsum(q, k, "b q h d, b k h d -> b h q k") / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[1]
        future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    pattern = scores.softmax(-1)
    out = einops.einsum(pattern, v, "b h q k, b k h d -> b q h d")
    return out, pattern


def _variant(q, k, v, causal, *, scale=None, softmax_dim=-1, diagonal=1, mask_after=False):
    scores = einops.einsum(q, k, "b q h d, b k h d -> b h q k")
    scores = scores / (scale if scale is not None else math.sqrt(q.shape[-1]))
    n = q.shape[1]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=diagonal)
    if causal and not mask_after:
        scores = scores.masked_fill(future, float("-inf"))
    pattern = scores.softmax(softmax_dim)
    if causal and mask_after:
        pattern = pattern.masked_fill(future, 0.0)
    return torch.nan_to_num(pattern)


def check_attention(fn: Callable[..., Any]) -> None:
    """`fn(q, k, v, causal)` returns `(output, pattern)` in TransformerLens layout."""
    g = torch.Generator().manual_seed(0)
    for (b, n, h, d), causal in [((2, 5, 3, 4), True), ((1, 4, 2, 8), False), ((2, 6, 1, 16), True)]:
        q, k, v = (torch.randn(b, n, h, d, generator=g) for _ in range(3))
        result = _call(fn, "attention", q.clone(), k.clone(), v.clone(), causal)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise CheckFailure("attention should return a pair (output, pattern).")
        out, pattern = result
        exp_out, exp_pattern = attention_reference(q, k, v, causal)
        where = f"attention with q, k, v of shape {(b, n, h, d)}, causal={causal}"
        if isinstance(pattern, Tensor) and tuple(pattern.shape) == (b, n, h, n) and n != h:
            raise CheckFailure(f"{where}: the pattern has shape {tuple(pattern.shape)}; expected (batch, head, query, key) = {(b, h, n, n)}.")
        diag = [
            Diagnosis(lambda a: _close(a, _variant(q, k, v, causal, scale=1.0)), "you forgot to divide the scores by sqrt(d_head)."),
            Diagnosis(lambda a: _close(a, _variant(q, k, v, causal, scale=float(d))), "you divided by d_head; divide by its square root."),
            Diagnosis(lambda a: _close(a, _variant(q, k, v, causal, softmax_dim=-2)), "you took the softmax over the query axis; each query's weights over the keys must sum to 1 (softmax over the last axis)."),
            Diagnosis(lambda a: _close(a, _variant(q, k, v, causal, diagonal=0)), "your mask also hides the diagonal: a token may attend to itself (torch.triu(..., diagonal=1))."),
            Diagnosis(lambda a: _close(a, _variant(q, k, v, causal, mask_after=True)), "you zeroed future positions after the softmax, so the rows no longer sum to 1: mask the scores with -inf before the softmax."),
            Diagnosis(lambda a: _close(a, _variant(q, k, v, False)), "no causal mask: with causal=True, query i must not see keys after i."),
        ]
        check_close(pattern, exp_pattern, what=f"{where}: the pattern", diagnoses=diag,
                    hint="scores[b, h, q, k] = q[b, q, h] . k[b, k, h] / sqrt(d_head); mask the future with -inf; softmax over the key axis.")
        check_close(out, exp_out, what=f"{where}: the output",
                    hint="the output at query q is the pattern-weighted sum of the values: einsum('b h q k, b k h d -> b q h d').")
    passed("attention")
