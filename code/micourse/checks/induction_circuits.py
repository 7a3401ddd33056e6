"""Checkers for chapter 2, page 4 (reverse-engineering induction circuits)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from transformer_lens import FactoredMatrix

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.interp import circuits as ref
from micourse.interp.toy import tiny_model


@one_thread
def check_full_ov_circuit(fn: Callable) -> None:
    """`fn(W_E, W_OV, W_U)` -> the factored product W_E W_OV W_U."""
    g = torch.Generator().manual_seed(0)
    for vocab, d, e in [(30, 12, 4), (17, 8, 2)]:
        W_E, W_U = torch.randn(vocab, d, generator=g), torch.randn(d, vocab, generator=g)
        W_OV = FactoredMatrix(torch.randn(d, e, generator=g), torch.randn(e, d, generator=g))
        out = call(fn, "full_ov_circuit", W_E, W_OV, W_U)
        if isinstance(out, torch.Tensor):
            raise CheckFailure(
                "full_ov_circuit returned a plain tensor: keep it factored (a FactoredMatrix), because for a real "
                "vocabulary the full vocab x vocab matrix does not fit in memory. `W_E @ W_OV` is already a FactoredMatrix."
            )
        if not isinstance(out, FactoredMatrix):
            raise CheckFailure(f"full_ov_circuit should return a FactoredMatrix, got {type(out).__name__}.")
        expected = ref.full_ov_circuit(W_E, W_OV, W_U).AB
        compare(
            out.AB,
            expected,
            what="full_ov_circuit(...).AB",
            atol=1e-3,
            mistakes=[
                (lambda: W_E @ W_U, "you left out the OV circuit: the path is W_E, then the head's W_OV, then W_U."),
                (
                    lambda: W_U.T @ W_OV.AB @ W_E.T,
                    "you wrote the product right to left; TransformerLens multiplies row vectors, so it reads W_E @ W_OV @ W_U.",
                ),
                (
                    lambda: W_E @ W_OV.AB.T @ W_U,
                    "you transposed the OV circuit; with row vectors it is W_V @ W_O, used as is.",
                ),
                (
                    lambda: expected.T,
                    "your matrix is transposed: rows should be the attended-to (source) token, columns the logit.",
                ),
            ],
            hint="(W_E @ W_OV) @ W_U: a FactoredMatrix times a tensor stays factored.",
        )
    passed("full_ov_circuit")


class _NoFullProduct(FactoredMatrix):
    """A FactoredMatrix that refuses to be multiplied out whole."""

    @property
    def AB(self):
        raise CheckFailure(
            "You materialised the whole matrix (.AB). For a real vocabulary it would not fit in memory: "
            "take rows in batches, e.g. M.A[start:stop] @ M.B."
        )


def _planted(n: int, hit_rows: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    A, B = torch.randn(n, 6, generator=g), torch.randn(6, n, generator=g)
    full = A @ B
    # make the chosen rows peak on the diagonal by adding a rank-n correction folded into A and B
    bump = torch.zeros(n, n)
    bump[hit_rows, hit_rows] = full.abs().max() * 3
    A2 = torch.cat([A, bump], dim=1)
    B2 = torch.cat([B, torch.eye(n)], dim=0)
    return A2, B2


@one_thread
def check_top1_diagonal_fraction(fn: Callable) -> None:
    """`fn(M, batch_size)` -> fraction of rows whose argmax is the diagonal, without forming M whole."""
    for n, batch_size, seed in [(50, 16, 0), (37, 10, 1), (20, 20, 2)]:
        g = torch.Generator().manual_seed(seed)
        hit_rows = torch.randperm(n, generator=g)[: n // 2 + seed]
        A, B = _planted(n, hit_rows, seed)
        out = call(fn, "top1_diagonal_fraction", _NoFullProduct(A, B), batch_size)
        out = as_tensor(out, "top1_diagonal_fraction's output").reshape(())
        full = A @ B
        expected = (full.argmax(-1) == torch.arange(n)).float().mean()
        wrong_batches = (
            sum(
                ((A[s : s + batch_size] @ B).argmax(-1) == torch.arange(min(batch_size, n - s))).sum().item()
                for s in range(0, n, batch_size)
            )
            / n
        )
        compare(
            out.float(),
            expected,
            what=f"top1_diagonal_fraction ({n} x {n}, batch_size {batch_size})",
            mistakes=[
                (
                    lambda: (full.argmax(0) == torch.arange(n)).float().mean(),
                    "you took the argmax over each column; take it over each row (dim=-1).",
                ),
                (
                    lambda: (full.argmax(-1) == torch.arange(n)).float().sum(),
                    "you returned a count; divide by the number of rows.",
                ),
                (
                    torch.tensor(wrong_batches),
                    "within a batch you compared with torch.arange(batch): row i of the batch starting at `start` is row start + i, so its diagonal is column start + i.",
                ),
            ],
            hint="for start in range(0, n, batch_size): rows = M.A[start:start + batch_size] @ M.B; compare rows.argmax(-1) with torch.arange(start, start + len(rows)).",
        )
    passed("top1_diagonal_fraction")


@one_thread
def check_positional_pattern(fn: Callable) -> None:
    """`fn(pos, W_Q, W_K)` -> `(n, n)` causal pattern from positional inputs only."""
    g = torch.Generator().manual_seed(3)
    for n, d, e in [(8, 10, 4), (5, 6, 9)]:
        pos, W_Q, W_K = torch.randn(n, d, generator=g), torch.randn(d, e, generator=g), torch.randn(d, e, generator=g)
        out = call(fn, "positional_pattern", pos, W_Q, W_K)
        raw = (pos @ W_Q) @ (pos @ W_K).T
        future = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        pat = lambda s, dim=-1: s.masked_fill(future, float("-inf")).softmax(dim)
        if isinstance(out, torch.Tensor) and out.shape == (n, n) and out.masked_select(future).abs().max() > 1e-6:
            raise CheckFailure(
                "positional_pattern gives weight to future keys: mask key > query with -inf before the softmax."
            )
        compare(
            out,
            ref.positional_pattern(pos, W_Q, W_K),
            what=f"positional_pattern ({n} positions, d_head {e})",
            mistakes=[
                (lambda: pat(raw), "you did not divide the scores by sqrt(d_head)."),
                (
                    lambda: pat(((pos @ W_K) @ (pos @ W_Q).T) / math.sqrt(e)),
                    "queries and keys are swapped: rows are queries (pos @ W_Q), columns keys (pos @ W_K).",
                ),
                (
                    lambda: pat(raw / math.sqrt(e), -2).nan_to_num(),
                    "you took the softmax over queries; it goes over keys (dim=-1).",
                ),
            ],
            hint="scores = (pos @ W_Q) @ (pos @ W_K).T / sqrt(d_head); mask the upper triangle with -inf; softmax(dim=-1).",
        )
    passed("positional_pattern")


@one_thread
def check_composition_score(fn: Callable) -> None:
    """`fn(W_A, W_B)` -> ||W_A W_B||_F / (||W_A||_F ||W_B||_F)."""
    g = torch.Generator().manual_seed(4)
    for a, b, c in [(6, 6, 6), (5, 7, 3), (8, 8, 8)]:
        W_A, W_B = torch.randn(a, b, generator=g), torch.randn(b, c, generator=g)
        out = as_tensor(call(fn, "composition_score", W_A.clone(), W_B.clone()), "composition_score's output").reshape(
            ()
        )
        expected = torch.tensor(ref.composition_score(W_A, W_B))
        sq = lambda m: m.pow(2).sum()
        mistakes = [
            (lambda: (W_A @ W_B).norm(), "you did not normalise: divide by the product of the two norms."),
            (
                lambda: (W_A @ W_B).norm() / (W_A.norm() + W_B.norm()),
                "divide by the PRODUCT of the norms, not their sum.",
            ),
            (
                lambda: sq(W_A @ W_B) / (sq(W_A) * sq(W_B)),
                "you used squared norms; use the Frobenius norms themselves (.norm()).",
            ),
            (
                lambda: (W_A @ W_B).norm(p=2) / (torch.linalg.matrix_norm(W_A, 2) * torch.linalg.matrix_norm(W_B, 2)),
                "you used spectral norms; the score uses Frobenius norms.",
            ),
        ]
        if a == c:
            mistakes.insert(
                0,
                (
                    lambda: (W_B @ W_A).norm() / (W_A.norm() * W_B.norm()),
                    "you multiplied in the wrong order: W_A writes first, so W_A @ W_B.",
                ),
            )
        compare(
            out.double(),
            expected.double(),
            what=f"composition_score for shapes {(a, b)} and {(b, c)}",
            mistakes=mistakes,
            hint="(W_A @ W_B).norm() / (W_A.norm() * W_B.norm()); .norm() of a matrix is the Frobenius norm.",
        )
    passed("composition_score")


@one_thread
def check_composition_scores(fn: Callable) -> None:
    """`fn(model, kind)` -> `(n_heads, n_heads)` Q/K/V-composition scores from layer 0 into layer 1."""
    model = tiny_model(seed=4, n_heads=3)
    results = {}
    for kind in ("Q", "K", "V"):
        out = call(fn, "composition_scores", model, kind)
        expected = ref.composition_scores(model, kind)
        results[kind] = out
        others = {k: ref.composition_scores(model, k) for k in ("Q", "K", "V") if k != kind}
        mistakes = [
            (
                lambda: expected.T,
                "your table is transposed: rows are the writing heads (layer 0), columns the reading heads (layer 1).",
            )
        ]
        for k, table in others.items():
            tip = {
                "Q": "the query side reads the writer's output: W_OV @ W_QK.",
                "K": "the key side reads the writer's output: W_OV @ W_QK.T (the QK circuit transposed).",
                "V": "the value side reads the writer's output: W_OV(writer) @ W_OV(reader).",
            }[kind]
            mistakes.append((table, f"for kind '{kind}' you computed {k}-composition; {tip}"))
        compare(
            out,
            expected,
            what=f"composition_scores(model, '{kind}')",
            mistakes=mistakes,
            atol=1e-4,
            hint="For writer i in layer 0 and reader j in layer 1: composition_score(model.OV[0, i].AB, reader matrix), "
            "with reader matrix model.QK[1, j].AB (Q), its transpose (K) or model.OV[1, j].AB (V).",
        )
    passed("composition_scores")


@one_thread
def check_score_by_key_source(fn: Callable) -> None:
    """`fn(q, key_components, W_K)` -> `(component, query, key)` score contributions."""
    g = torch.Generator().manual_seed(5)
    for c, n, d, e in [(4, 6, 10, 3), (2, 5, 8, 8)]:
        q, comps, W_K = (
            torch.randn(n, e, generator=g),
            torch.randn(c, n, d, generator=g),
            torch.randn(d, e, generator=g),
        )
        out = call(fn, "score_by_key_source", q.clone(), comps.clone(), W_K.clone())
        keys = comps @ W_K
        expected = ref.score_by_key_source(q, comps, W_K)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (n, n):
            raise CheckFailure(
                "score_by_key_source returned (query, key): you summed over the components. Keep one score table per component."
            )
        compare(
            out,
            expected,
            what="score_by_key_source",
            mistakes=[
                (
                    lambda: q @ keys.transpose(-1, -2),
                    "you did not divide by sqrt(d_head), as the model does before the softmax.",
                ),
                (
                    lambda: expected.transpose(-1, -2),
                    "your table is (component, key, query); make it (component, query, key).",
                ),
                (
                    lambda: (q @ keys.transpose(-1, -2)).softmax(-1),
                    "no softmax here: scores before the softmax add up over components; patterns do not.",
                ),
            ],
            hint="keys = key_components @ W_K is (component, key, d_head); q @ keys.transpose(-1, -2) / sqrt(d_head).",
        )
    passed("score_by_key_source")
