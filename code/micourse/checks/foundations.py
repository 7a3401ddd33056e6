"""Checkers for the "Foundations" page: broadcasting, einops reshapes, scaled dot-product attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import einops
import torch
from torch import Tensor

from micourse.checks.core import CheckFailure, assert_close, call, like, passed
from micourse.tensors import pairwise_distances
from micourse.transformer.attention import attention_scores, scaled_dot_product_attention

# --- broadcasting --------------------------------------------------------------------------------


def check_pairwise_distances(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """`fn(x, y)` with x `(n, d)` and y `(m, d)` returns the `(n, m)` Euclidean distances."""
    g = torch.Generator().manual_seed(0)
    for n, m, d in [(4, 6, 3), (1, 5, 2), (7, 7, 8)]:
        x, y = torch.randn(n, d, generator=g), torch.randn(m, d, generator=g)
        out = call(fn, x.clone(), y.clone(), what="pairwise_distances")
        sq = ((x[:, None] - y[None]) ** 2).sum(-1)
        diag = [
            like(sq, "you returned squared distances: take the square root at the end."),
            like(
                (x[:, None] - y[None]).abs().sum(-1),
                "you summed absolute differences (the L1 distance); square, sum, then square-root.",
            ),
            like(sq.T, "your result is transposed: row i should hold the distances from x[i]."),
        ]
        assert_close(
            out,
            pairwise_distances(x, y),
            what=f"pairwise_distances for x {tuple(x.shape)}, y {tuple(y.shape)}",
            diagnoses=diag,
            hint="x[:, None, :] - y[None, :, :] has shape (n, m, d): square it, sum over the last axis, take the square root.",
        )
    passed("pairwise_distances")


# --- einops --------------------------------------------------------------------------------------


def check_split_heads(fn: Callable[[Tensor, int], Tensor]) -> None:
    """`fn(x, n_heads)`: `(batch, pos, n_heads * d_head)` -> `(batch, pos, n_heads, d_head)`, head-major."""
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).reshape(2, 3, 12)
    for n_heads in (4, 3, 1):
        out = call(fn, x.clone(), n_heads, what="split_heads")
        expected = einops.rearrange(x, "b p (h d) -> b p h d", h=n_heads)
        d_head = 12 // n_heads
        if isinstance(out, torch.Tensor) and n_heads != 3 and tuple(out.shape) == (2, n_heads, 3, d_head):
            raise CheckFailure(
                f"split_heads returned shape {tuple(out.shape)}: you moved the head axis before pos. "
                "This course keeps TransformerLens's order (batch, pos, head, d_head)."
            )
        diag = [
            like(
                einops.rearrange(x, "b p (d h) -> b p h d", h=n_heads),
                "your grouping is '(d_head head)': the first d_head entries of the last axis belong to head 0, so write '(head d_head)'.",
            ),
            like(
                einops.rearrange(x, "b p (h d) -> b h p d", h=n_heads),
                "you moved the head axis before pos; this course keeps TransformerLens's order (batch, pos, head, d_head).",
            ),
        ]
        assert_close(
            out,
            expected,
            what=f"split_heads(x of shape {tuple(x.shape)}, n_heads={n_heads})",
            diagnoses=diag,
            hint=f"einops.rearrange(x, 'batch pos (head d_head) -> batch pos head d_head', head=n_heads) gives shape (2, 3, {n_heads}, {d_head}).",
        )
    passed("split_heads")


# --- attention -----------------------------------------------------------------------------------


def _variant(q, k, v, causal, *, scale=None, softmax_dim=-1, diagonal=1, mask_after=False):
    """The attention pattern with one classic mistake (the scale, the softmax axis, the mask)."""
    scores = attention_scores(q, k)
    if scale is not None:
        scores = scores * q.shape[-1] ** 0.5 / scale
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
        result = call(fn, q.clone(), k.clone(), v.clone(), causal, what="attention")
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise CheckFailure("attention should return a pair (output, pattern).")
        out, pattern = result
        exp_out, exp_pattern = scaled_dot_product_attention(q, k, v, causal)
        where = f"attention with q, k, v of shape {(b, n, h, d)}, causal={causal}"
        if isinstance(pattern, Tensor) and tuple(pattern.shape) == (b, n, h, n) and n != h:
            raise CheckFailure(
                f"{where}: the pattern has shape {tuple(pattern.shape)}; expected (batch, head, query, key) = {(b, h, n, n)}."
            )
        diag = [
            like(lambda: _variant(q, k, v, causal, scale=1.0), "you forgot to divide the scores by sqrt(d_head)."),
            like(
                lambda: _variant(q, k, v, causal, scale=float(d)), "you divided by d_head; divide by its square root."
            ),
            like(
                lambda: _variant(q, k, v, causal, softmax_dim=-2),
                "you took the softmax over the query axis; each query's weights over the keys must sum to 1 (softmax over the last axis).",
            ),
            like(
                lambda: _variant(q, k, v, causal, diagonal=0),
                "your mask also hides the diagonal: a token may attend to itself (torch.triu(..., diagonal=1)).",
            ),
            like(
                lambda: _variant(q, k, v, causal, mask_after=True),
                "you zeroed future positions after the softmax, so the rows no longer sum to 1: mask the scores with -inf before the softmax.",
            ),
            like(
                lambda: _variant(q, k, v, False), "no causal mask: with causal=True, query i must not see keys after i."
            ),
        ]
        assert_close(
            pattern,
            exp_pattern,
            what=f"{where}: the pattern",
            diagnoses=diag,
            hint="scores[b, h, q, k] = q[b, q, h] . k[b, k, h] / sqrt(d_head); mask the future with -inf; softmax over the key axis.",
        )
        assert_close(
            out,
            exp_out,
            what=f"{where}: the output",
            hint="the output at query q is the pattern-weighted sum of the values: einsum('b h q k, b k h d -> b q h d').",
        )
    passed("attention")
