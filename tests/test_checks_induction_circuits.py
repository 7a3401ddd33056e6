"""Chapter 2, page 4: each checker accepts the reference and rejects plausible mistakes."""

import math

import pytest
import torch
from transformer_lens import FactoredMatrix

from micourse.checks import CheckFailure
from micourse.checks import induction_circuits as chk
from micourse.interp import circuits as ref


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_full_ov_circuit():
    chk.check_full_ov_circuit(ref.full_ov_circuit)
    chk.check_full_ov_circuit(lambda E, OV, U: E @ OV @ U)
    rejects(chk.check_full_ov_circuit, lambda E, OV, U: E @ OV.AB @ U, "plain tensor")
    rejects(chk.check_full_ov_circuit, lambda E, OV, U: FactoredMatrix(E, U), "left out the OV")
    rejects(chk.check_full_ov_circuit, lambda E, OV, U: FactoredMatrix(E @ OV.B.T, OV.A.T @ U), "transposed the OV")
    rejects(chk.check_full_ov_circuit, lambda E, OV, U: FactoredMatrix(U.T @ OV.A, OV.B @ E.T), "right to left")


def test_top1_diagonal_fraction():
    chk.check_top1_diagonal_fraction(ref.top1_diagonal_fraction)

    def sliced(M, bs):  # uses FactoredMatrix slicing instead of the factors
        n, hits = M.shape[0], 0
        for s in range(0, n, bs):
            rows = M.A[s : s + bs] @ M.B
            hits += (rows.argmax(-1) == torch.arange(s, s + rows.shape[0])).sum().item()
        return torch.tensor(hits / n)

    chk.check_top1_diagonal_fraction(sliced)
    rejects(
        chk.check_top1_diagonal_fraction,
        lambda M, bs: (M.AB.argmax(-1) == torch.arange(M.shape[0])).float().mean(),
        "materialised",
    )

    def local_arange(M, bs):
        n, hits = M.shape[0], 0
        for s in range(0, n, bs):
            rows = M.A[s : s + bs] @ M.B
            hits += (rows.argmax(-1) == torch.arange(rows.shape[0])).sum().item()
        return hits / n

    def columns(M, bs):
        full = torch.cat([M.A[s : s + bs] @ M.B for s in range(0, M.shape[0], bs)])
        return (full.argmax(0) == torch.arange(M.shape[0])).float().mean()

    def count(M, bs):
        full = torch.cat([M.A[s : s + bs] @ M.B for s in range(0, M.shape[0], bs)])
        return (full.argmax(-1) == torch.arange(M.shape[0])).sum()

    rejects(chk.check_top1_diagonal_fraction, local_arange, "start + i")
    rejects(chk.check_top1_diagonal_fraction, columns, "column")
    rejects(chk.check_top1_diagonal_fraction, count, "count")


def _pos(pos, W_Q, W_K, *, scale=True, swap=False, dim=-1):
    q, k = pos @ W_Q, pos @ W_K
    if swap:
        q, k = k, q
    s = q @ k.T / (math.sqrt(W_Q.shape[-1]) if scale else 1)
    n = pos.shape[0]
    return s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -1e9).softmax(dim)


def test_positional_pattern():
    chk.check_positional_pattern(ref.positional_pattern)
    chk.check_positional_pattern(_pos)
    rejects(chk.check_positional_pattern, lambda *a: _pos(*a, scale=False), "sqrt(d_head)")
    rejects(chk.check_positional_pattern, lambda *a: _pos(*a, swap=True), "swapped")
    rejects(
        chk.check_positional_pattern,
        lambda p, Q, K: (p @ Q @ (p @ K).T / math.sqrt(Q.shape[-1])).softmax(-1),
        "future keys",
    )
    rejects(chk.check_positional_pattern, lambda *a: _pos(*a, dim=-2), "over queries")


def test_composition_score():
    chk.check_composition_score(ref.composition_score)
    chk.check_composition_score(lambda A, B: ((A @ B).norm() / (A.norm() * B.norm())).item())
    rejects(chk.check_composition_score, lambda A, B: (A @ B).norm(), "normalise")
    rejects(chk.check_composition_score, lambda A, B: (B @ A).norm() / (A.norm() * B.norm()), "wrong order")
    rejects(chk.check_composition_score, lambda A, B: (A @ B).norm() / (A.norm() + B.norm()), "PRODUCT")
    rejects(
        chk.check_composition_score, lambda A, B: (A @ B).pow(2).sum() / (A.pow(2).sum() * B.pow(2).sum()), "squared"
    )


def test_composition_scores():
    chk.check_composition_scores(ref.composition_scores)

    def k_without_transpose(model, kind):
        return ref.composition_scores(model, "Q" if kind == "K" else kind)

    def v_with_qk(model, kind):
        return ref.composition_scores(model, "Q" if kind == "V" else kind)

    rejects(chk.check_composition_scores, k_without_transpose, "Q-composition")
    rejects(chk.check_composition_scores, v_with_qk, "W_OV(writer) @ W_OV(reader)")
    rejects(chk.check_composition_scores, lambda m, k: ref.composition_scores(m, k).T, "transposed")


def test_score_by_key_source():
    chk.check_score_by_key_source(ref.score_by_key_source)
    rejects(chk.check_score_by_key_source, lambda q, c, W: q @ (c @ W).transpose(-1, -2), "sqrt(d_head)")
    rejects(
        chk.check_score_by_key_source, lambda q, c, W: (c @ W) @ q.T / math.sqrt(W.shape[-1]), "(component, key, query)"
    )
    rejects(
        chk.check_score_by_key_source,
        lambda q, c, W: (q @ (c @ W).transpose(-1, -2) / math.sqrt(W.shape[-1])).sum(0),
        "summed over the components",
    )
    rejects(chk.check_score_by_key_source, lambda q, c, W: (q @ (c @ W).transpose(-1, -2)).softmax(-1), "softmax")
