"""Checkers for chapter 2, page 4 (reverse-engineering induction circuits)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from transformer_lens import FactoredMatrix

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.interp import circuits as ref
from micourse.interp import composition as comp_ref
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


def _sorted_complex(x: torch.Tensor) -> torch.Tensor:
    x = x.to(torch.complex128)
    order = torch.argsort(x.real * 1e6 + x.imag)
    return x[order]


@one_thread
def check_nonzero_eigenvalues(fn: Callable) -> None:
    """`fn(A, B)` -> the k nonzero eigenvalues of A @ B (n x n), from a k x k matrix."""
    g = torch.Generator().manual_seed(6)
    for n, k in [(40, 3), (25, 5)]:
        A, B = torch.randn(n, k, generator=g, dtype=torch.float64), torch.randn(k, n, generator=g, dtype=torch.float64)
        out = call(fn, "nonzero_eigenvalues", A.clone(), B.clone())
        if not isinstance(out, torch.Tensor):
            raise CheckFailure(f"nonzero_eigenvalues should return a tensor, got {type(out).__name__}.")
        if out.numel() == n:
            raise CheckFailure(
                f"nonzero_eigenvalues returned {n} values for an {n} x {n} product of rank {k}: you took the "
                f"eigenvalues of A @ B itself, an n x n matrix. Only {k} can be nonzero; get them from a {k} x {k} matrix."
            )
        if out.numel() != k:
            raise CheckFailure(
                f"nonzero_eigenvalues should return {k} values (the inner dimension), got shape {tuple(out.shape)}."
            )
        expected = _sorted_complex(comp_ref.nonzero_eigenvalues(A, B))
        got = _sorted_complex(out.reshape(-1).to(torch.complex128) if out.is_complex() else out.reshape(-1).double())
        wrongs = [
            (
                lambda: torch.linalg.svdvals(B @ A),
                "those are singular values (svdvals); eigenvalues come from torch.linalg.eigvals.",
            ),
            (
                lambda: torch.linalg.eigvals(A.T @ A),
                "A.T @ A is k x k, but its eigenvalues are A's squared singular values; AB shares its nonzero eigenvalues with B @ A.",
            ),
            (
                lambda: torch.linalg.eigvals(B @ A).real,
                "you kept only the real parts: a non-symmetric matrix has complex eigenvalues; return them as they are.",
            ),
            (
                lambda: torch.linalg.eigvals(A[:k] @ B[:, :k]),
                "you cut A and B down to k x k blocks; the small matrix with AB's eigenvalues is B @ A.",
            ),
        ]
        for wrong, message in wrongs:
            w = _sorted_complex(wrong().reshape(-1))
            if (
                w.shape == got.shape
                and torch.allclose(got, w, atol=1e-6)
                and not torch.allclose(got, expected, atol=1e-6)
            ):
                raise CheckFailure(f"nonzero_eigenvalues is not right. Likely mistake: {message}")
        if not torch.allclose(got, expected, atol=1e-6, rtol=1e-6):
            raise CheckFailure(
                f"nonzero_eigenvalues({n} x {k}, {k} x {n}) gives {got.tolist()}, expected {expected.tolist()} (in any order). "
                "If A B v = l v, then B A (B v) = l (B v)."
            )
    passed("nonzero_eigenvalues")


@one_thread
def check_top1_on_rows(fn: Callable) -> None:
    """`fn(M, rows, batch_size)` -> fraction of the sampled rows whose argmax over ALL columns is the diagonal."""
    for n, n_rows, batch_size, seed in [(60, 20, 7, 0), (45, 30, 10, 1)]:
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(n, generator=g)
        rows, others = perm[:n_rows], perm[n_rows:]
        A0, B0 = torch.randn(n, 6, generator=g), torch.randn(6, n, generator=g)
        big = (A0 @ B0).abs().max()
        bump = torch.zeros(n, n)
        hits, near = rows[: n_rows // 2], rows[n_rows // 2 : n_rows // 2 + n_rows // 4]
        bump[hits, hits] = 3 * big  # the diagonal beats every column
        bump[near, near] = 2 * big  # ... beats every SAMPLED column, but an unsampled one is larger
        bump[near, others[: len(near)]] = 3 * big
        A, B = torch.cat([A0, bump], dim=1), torch.cat([B0, torch.eye(n)], dim=0)
        full = A @ B
        sub = full[rows][:, rows]
        out = call(fn, "top1_on_rows", _NoFullProduct(A, B), rows.clone(), batch_size)
        out = as_tensor(out, "top1_on_rows's output").reshape(())
        expected = comp_ref.top1_on_rows(FactoredMatrix(A, B), rows, batch_size)
        local = sum(
            ((A[rows[s : s + batch_size]] @ B).argmax(-1) == torch.arange(len(rows[s : s + batch_size]))).sum().item()
            for s in range(0, n_rows, batch_size)
        )
        compare(
            out.float(),
            torch.tensor(expected),
            what=f"top1_on_rows ({n} x {n}, {n_rows} sampled rows, batch_size {batch_size})",
            mistakes=[
                (
                    lambda: (sub.argmax(-1) == torch.arange(n_rows)).float().mean(),
                    "you compared only the sampled columns: the diagonal must beat EVERY column (all of M.B), "
                    "or the test is easier than the question and inflates the answer.",
                ),
                (
                    lambda: (full.argmax(-1) == torch.arange(n)).float().mean(),
                    "you tested every row instead of the sampled ones (rows).",
                ),
                (
                    torch.tensor(local / n_rows),
                    "you compared the argmax with 0, 1, 2, ... within each block: the diagonal of row r is column r, "
                    "so compare with the block's row ids.",
                ),
                (
                    lambda: (full[:, rows].argmax(0) == rows).float().mean(),
                    "you took the argmax over each column; take it over each row (dim=-1).",
                ),
                (lambda: torch.tensor(float(expected * n_rows)), "you returned a count; divide by the number of rows."),
            ],
            hint="for each block of ids = rows[start:start + batch_size]: (M.A[ids] @ M.B).argmax(-1) == ids.",
        )
    passed("top1_on_rows")


def _as_set(out, what: str) -> set[tuple[int, int]]:
    if out is None:
        raise CheckFailure(f"{what} is None: did you forget to `return` the list?")
    try:
        pairs = {(int(layer), int(head)) for layer, head in out}
    except (TypeError, ValueError) as err:
        raise CheckFailure(f"{what} should be a list of (layer, head) pairs, got {out!r}.") from err
    return pairs


@one_thread
def check_pick_heads(fn: Callable) -> None:
    """`fn(scores)` -> the (layer, head) pairs that do the job, on tables where a sensible rule has one answer."""
    cases = [
        ("two clear heads", [[0.02, 0.03, 0.01, 0.02], [0.90, 0.05, 0.10, 0.80]], {(1, 0), (1, 3)}),
        ("all of layer 1 high", [[0.02, 0.01, 0.02, 0.01], [0.92, 0.91, 0.95, 0.88]], {(1, 0), (1, 1), (1, 2), (1, 3)}),
        ("one head, scoring only 0.7", [[0.01, 0.02, 0.03, 0.01], [0.05, 0.70, 0.10, 0.08]], {(1, 1)}),
        (
            "two heads of twelve, in different layers",
            [[0.05] * 7 + [0.6] + [0.05] * 4, [0.1] * 4 + [0.75] + [0.1] * 5 + [0.85, 0.1]],
            {(0, 7), (1, 4), (1, 10)},
        ),
    ]
    for name, table, expected in cases:
        scores = torch.tensor(table)
        got = _as_set(call(fn, "pick_heads", scores.clone()), "pick_heads's output")
        if got == expected:
            continue
        best = {tuple(int(i) for i in divmod(int(scores.argmax()), scores.shape[1]))}
        if got == best:
            raise CheckFailure(
                f"pick_heads on a table with {name} returned only the best head {best}; several heads can share the "
                f"job (expected {sorted(expected)}). Keep every head that scores close to the best."
            )
        if len(got) > len(expected) and expected <= got:
            raise CheckFailure(
                f"pick_heads on a table with {name} returned {sorted(got)}: it keeps heads whose scores are far below "
                f"the best (expected {sorted(expected)}). Is your threshold too low, or do you keep a whole layer?"
            )
        if got < expected:
            raise CheckFailure(
                f"pick_heads on a table with {name} returned {sorted(got)}, missing {sorted(expected - got)}: "
                "a fixed high cut (e.g. 0.9) misses heads when the best one scores lower. Make the threshold relative to the best."
            )
        raise CheckFailure(f"pick_heads on a table with {name} returned {sorted(got)}, expected {sorted(expected)}.")
    passed("pick_heads")


@one_thread
def check_effective_ov_circuit(fn: Callable) -> None:
    """`fn(W_E, W_OVs, W_U)` -> W_E (sum of OVs) W_U, factored, without multiplying out d_model x d_model."""
    g = torch.Generator().manual_seed(7)
    for vocab, d, e, n_heads in [(20, 10, 3, 2), (15, 8, 2, 3)]:
        W_E, W_U = torch.randn(vocab, d, generator=g), torch.randn(d, vocab, generator=g)
        factors = [(torch.randn(d, e, generator=g), torch.randn(e, d, generator=g)) for _ in range(n_heads)]
        out = call(fn, "effective_ov_circuit", W_E, [_NoFullProduct(a, b) for a, b in factors], W_U)
        if isinstance(out, torch.Tensor):
            raise CheckFailure(
                "effective_ov_circuit returned a plain tensor: keep it a FactoredMatrix (concatenate the heads' factors), "
                "a real vocabulary's vocab x vocab matrix does not fit in memory."
            )
        if not isinstance(out, FactoredMatrix):
            raise CheckFailure(f"effective_ov_circuit should return a FactoredMatrix, got {type(out).__name__}.")
        OVs = [a @ b for a, b in factors]
        expected = W_E @ sum(OVs) @ W_U
        product = OVs[0]
        for ov in OVs[1:]:
            product = product @ ov
        compare(
            out.A @ out.B,
            expected,
            what=f"effective_ov_circuit of {n_heads} heads",
            atol=1e-3,
            mistakes=[
                (
                    lambda: W_E @ OVs[0] @ W_U,
                    "you used only the first head; the heads' outputs add up, so sum all their OV circuits.",
                ),
                (
                    lambda: W_E @ (sum(OVs) / n_heads) @ W_U,
                    "you averaged the heads; the residual stream adds their outputs (sum, not mean).",
                ),
                (
                    lambda: W_E @ product @ W_U,
                    "you multiplied the heads' OV circuits; heads in one layer act in parallel, so their outputs add.",
                ),
                (lambda: expected.T, "your matrix is transposed: rows are the attended-to token, columns the logit."),
            ],
            hint="torch.cat the A factors along dim=-1 and the B factors along dim=-2: [A1 A2] [B1; B2] = A1 B1 + A2 B2.",
        )
    passed("effective_ov_circuit")


@one_thread
def check_k_comp_circuit(fn: Callable) -> None:
    """`fn(W_E, W_QK, W_OV_prev)` -> W_E W_QK (W_E W_OV_prev)^T as a FactoredMatrix of inner dimension d_head."""
    g = torch.Generator().manual_seed(8)
    for vocab, d, e in [(20, 10, 3), (16, 12, 4)]:
        W_E = torch.randn(vocab, d, generator=g)
        QK = FactoredMatrix(torch.randn(d, e, generator=g), torch.randn(e, d, generator=g))
        OV = FactoredMatrix(torch.randn(d, e, generator=g), torch.randn(e, d, generator=g))
        out = call(fn, "k_comp_circuit", W_E, QK, OV)
        if isinstance(out, torch.Tensor):
            raise CheckFailure(
                "k_comp_circuit returned a plain tensor: keep it a FactoredMatrix (vocab x vocab does not fit in memory)."
            )
        if not isinstance(out, FactoredMatrix):
            raise CheckFailure(f"k_comp_circuit should return a FactoredMatrix, got {type(out).__name__}.")
        qk, ov = QK.AB, OV.AB
        expected = W_E @ qk @ ov.T @ W_E.T
        compare(
            out.A @ out.B,
            expected,
            what="k_comp_circuit(...)",
            atol=1e-3,
            mistakes=[
                (
                    lambda: W_E @ ov @ qk @ W_E.T,
                    "you put the previous-token head on the QUERY side (that is Q-composition); it feeds the keys: W_E @ W_QK @ (W_E @ W_OV).T.",
                ),
                (
                    lambda: W_E @ qk @ ov @ W_E.T,
                    "you forgot to transpose the OV circuit: the key side is (W_E @ W_OV_prev).T = W_OV_prev.T @ W_E.T.",
                ),
                (
                    lambda: W_E @ qk.T @ ov.T @ W_E.T,
                    "you transposed the QK circuit: scores are x_q W_QK x_k^T, W_QK as is.",
                ),
                (
                    lambda: expected.T,
                    "your matrix is transposed: rows should be the query token, columns the key's previous token.",
                ),
                (
                    lambda: W_E @ qk @ W_E.T,
                    "you left out the previous-token head: the key side goes through its OV circuit first.",
                ),
            ],
            hint="FactoredMatrix(W_E @ W_QK.A, W_QK.B @ (W_E @ W_OV_prev.AB).T)",
        )
        if out.mdim > e:
            raise CheckFailure(
                f"k_comp_circuit has inner dimension {out.mdim}; keep the d_head-wide factor ({e}) as the inner one, "
                "so that the top-1 test multiplies out blocks cheaply."
            )
    passed("k_comp_circuit")


@one_thread
def check_source_pair_scores(fn: Callable) -> None:
    """`fn(q_parts, k_parts, d_head)` -> (q_source, k_source, query, key) scaled scores."""
    g = torch.Generator().manual_seed(9)
    for sq, n, e in [(3, 5, 4), (4, 6, 9)]:
        qp, kp = torch.randn(sq, n, e, generator=g), torch.randn(sq, n, e, generator=g)
        out = call(fn, "source_pair_scores", qp.clone(), kp.clone(), e)
        expected = comp_ref.source_pair_scores(qp, kp, e)
        raw = expected * math.sqrt(e)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (n, n):
            raise CheckFailure(
                "source_pair_scores returned (query, key): you summed over the sources. Keep one table per pair."
            )
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (sq, n, n):
            raise CheckFailure(
                "source_pair_scores returned (source, query, key): you paired each source only with itself. "
                "Every query source meets every key source: (q_source, k_source, query, key)."
            )
        compare(
            out,
            expected,
            what="source_pair_scores",
            mistakes=[
                (lambda: raw, "you did not divide by sqrt(d_head), as the model does before the softmax."),
                (lambda: expected.transpose(0, 1), "your source axes are swapped: the query source comes first."),
                (lambda: expected.transpose(-1, -2), "your last two axes are (key, query); make them (query, key)."),
                (
                    lambda: expected.softmax(-1),
                    "no softmax: scores before the softmax add up over sources; patterns do not.",
                ),
            ],
            hint='torch.einsum("iqd,jkd->ijqk", q_parts, k_parts) / sqrt(d_head)',
        )
    passed("source_pair_scores")


class _NoMultiplyOut(FactoredMatrix):
    """A batched FactoredMatrix that refuses .AB, and whose unsqueeze keeps that refusal."""

    @property
    def AB(self):
        raise CheckFailure(
            "You multiplied out .AB. The point of the exercise is one batched FactoredMatrix product: "
            "W_A.unsqueeze(1) @ W_B.unsqueeze(0), then .norm()."
        )

    def unsqueeze(self, k: int) -> FactoredMatrix:
        return _NoMultiplyOut(self.A.unsqueeze(k), self.B.unsqueeze(k))


@one_thread
def check_batched_composition_scores(fn: Callable) -> None:
    """`fn(W_A, W_B)` -> (n_a, n_b) composition scores, writer in the row, from batched FactoredMatrices."""
    g = torch.Generator().manual_seed(10)
    for n_a, n_b, d, e in [(3, 4, 10, 3), (4, 2, 8, 2)]:
        fa = (torch.randn(n_a, d, e, generator=g), torch.randn(n_a, e, d, generator=g))
        fb = (torch.randn(n_b, d, e, generator=g), torch.randn(n_b, e, d, generator=g))
        out = call(fn, "batched_composition_scores", _NoMultiplyOut(*fa), _NoMultiplyOut(*fb))
        if isinstance(out, FactoredMatrix):
            raise CheckFailure(
                "batched_composition_scores returned a FactoredMatrix: return the (n_a, n_b) tensor of scores (use .norm())."
            )
        WA, WB = fa[0] @ fa[1], fb[0] @ fb[1]
        fro = lambda m: m.pow(2).sum((-2, -1)).sqrt()
        expected = torch.stack(
            [torch.stack([fro(WA[i] @ WB[j]) / (fro(WA[i]) * fro(WB[j])) for j in range(n_b)]) for i in range(n_a)]
        )
        prod = fro(WA[:, None] @ WB[None])
        mistakes = [
            (lambda: prod, "you did not normalise: divide by the product of the writer's and the reader's norms."),
            (lambda: prod / (fro(WA)[:, None] + fro(WB)[None]), "divide by the PRODUCT of the norms, not their sum."),
            (
                lambda: fro(WB[None] @ WA[:, None]) / (fro(WA)[:, None] * fro(WB)[None]),
                "you multiplied reader @ writer: the writer comes first, W_A @ W_B.",
            ),
            (
                lambda: prod / (fro(WA) * fro(WB)).mean(),
                "broadcast the norms: writer norms as a column (unsqueeze(1)), reader norms as a row (unsqueeze(0)).",
            ),
        ]
        if n_a != n_b and isinstance(out, torch.Tensor) and tuple(out.shape) == (n_b, n_a):
            raise CheckFailure(
                f"batched_composition_scores returned shape {(n_b, n_a)}: rows are the writers (n_a = {n_a}), columns the readers."
            )
        compare(
            out,
            expected,
            what=f"batched_composition_scores ({n_a} writers, {n_b} readers)",
            mistakes=mistakes,
            atol=1e-4,
            hint="(W_A.unsqueeze(1) @ W_B.unsqueeze(0)).norm() / (W_A.norm().unsqueeze(1) * W_B.norm().unsqueeze(0))",
        )
    passed("batched_composition_scores")


@one_thread
def check_random_composition_baseline(fn: Callable) -> None:
    """`fn(d_model, d_head, n_samples, generator)` -> n_samples scores whose distribution matches low-rank Gaussian circuits."""
    d_model, d_head, n = 48, 6, 150
    out = call(fn, "random_composition_baseline", d_model, d_head, n, torch.Generator().manual_seed(11))
    out = as_tensor(out, "random_composition_baseline's output")
    if out.numel() == 1:
        raise CheckFailure(
            "random_composition_baseline returned one number: return all n_samples scores (their spread matters too)."
        )
    if tuple(out.shape) != (n,):
        raise CheckFailure(
            f"random_composition_baseline should return {n} scores, shape ({n},), got {tuple(out.shape)}."
        )
    again = as_tensor(
        call(fn, "random_composition_baseline", d_model, d_head, n, torch.Generator().manual_seed(11)), "output"
    )
    if not torch.allclose(out.double(), again.double()):
        raise CheckFailure(
            "Two calls with identically seeded generators gave different scores: draw every random number from `generator`."
        )
    if out.std() == 0:
        raise CheckFailure("All scores are equal: each sample needs fresh random matrices.")
    ref_scores = comp_ref.random_composition_baseline(d_model, d_head, 2000, torch.Generator().manual_seed(12))
    mean, spread = ref_scores.mean().item(), ref_scores.std().item()
    got, got_spread = out.double().mean().item(), out.double().std().item()
    tolerance = 4 * spread / math.sqrt(n) + 0.01 * mean
    if abs(got - mean) <= tolerance and 0.7 * spread <= got_spread <= 1.4 * spread:
        passed("random_composition_baseline")
        return
    if abs(got - mean) <= tolerance and got_spread < 0.7 * spread:
        raise CheckFailure(
            f"random_composition_baseline's scores average {got:.3f} (right: about 1/sqrt(d_model) for any rank) but spread "
            f"only {got_spread:.4f}, against about {spread:.4f}. Likely mistake: your random matrices are full rank "
            "(d_model x d_model). A head's circuit has rank d_head: make each a (d_model, d_head) @ (d_head, d_model) "
            "product. A too-narrow baseline makes every real score look many standard deviations above chance."
        )
    g = torch.Generator().manual_seed(13)
    uniform = (
        torch.tensor(
            [
                ref.composition_score(
                    torch.rand(d_model, d_head, generator=g) @ torch.rand(d_head, d_model, generator=g),
                    torch.rand(d_model, d_head, generator=g) @ torch.rand(d_head, d_model, generator=g),
                )
                for _ in range(200)
            ]
        )
        .mean()
        .item()
    )
    for value, message in [
        (
            uniform,
            "your entries are all positive (torch.rand): positive matrices overlap a lot by construction. Use Gaussian entries centred on zero (torch.randn).",
        ),
    ]:
        if abs(got - value) <= tolerance + 0.05 * value:
            raise CheckFailure(
                f"random_composition_baseline's mean score is {got:.3f}, expected about {mean:.3f}. Likely mistake: {message}"
            )
    if got > mean:
        raise CheckFailure(
            f"random_composition_baseline's mean score is {got:.3f}, expected about {mean:.3f}: your random pairs overlap "
            "more than two unrelated heads would. Are the two matrices of a pair drawn independently, both of rank d_head?"
        )
    raise CheckFailure(
        f"random_composition_baseline's scores have mean {got:.3f} and spread {got_spread:.4f}; rank-{d_head} Gaussian "
        f"circuits of size {d_model} give about {mean:.3f} and {spread:.4f}. Check the shapes and the distribution."
    )
