"""Chapter 2, page 4: each checker accepts the reference and rejects plausible mistakes."""

import math
from functools import partial

import pytest
import torch
from transformer_lens import FactoredMatrix

from micourse.checks import CheckFailure
from micourse.checks import induction_circuits as chk
from micourse.interp import circuits as ref
from micourse.interp import composition as comp


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


def test_nonzero_eigenvalues():
    chk.check_nonzero_eigenvalues(comp.nonzero_eigenvalues)
    chk.check_nonzero_eigenvalues(lambda A, B: torch.linalg.eigvals(B @ A).flip(0))  # any order
    rejects(chk.check_nonzero_eigenvalues, lambda A, B: torch.linalg.eigvals(A @ B), "n x n")
    rejects(chk.check_nonzero_eigenvalues, lambda A, B: torch.linalg.svdvals(B @ A), "singular values")
    chk.check_nonzero_eigenvalues(lambda A, B: torch.linalg.eigvals(A.T @ B.T))  # (BA)^T: same eigenvalues
    rejects(chk.check_nonzero_eigenvalues, lambda A, B: torch.linalg.eigvals(A.T @ A), "squared singular values")
    rejects(chk.check_nonzero_eigenvalues, lambda A, B: torch.linalg.eigvals(B @ A).real, "real parts")
    rejects(
        chk.check_nonzero_eigenvalues, lambda A, B: torch.linalg.eigvals(A[: B.shape[0]] @ B[:, : B.shape[0]]), "blocks"
    )


def _top1(M, rows, bs, *, sampled_cols=False, local=False, all_rows=False, count=False):
    ids_all = torch.arange(M.shape[0]) if all_rows else rows
    hits = 0
    for s in range(0, len(ids_all), bs):
        ids = ids_all[s : s + bs]
        block = M.A[ids] @ M.B
        if sampled_cols:
            block = block[:, rows]
            target = torch.nonzero(rows[None] == ids[:, None])[:, 1]
        else:
            target = torch.arange(len(ids)) if local else ids
        hits += (block.argmax(-1) == target).sum().item()
    return hits if count else hits / len(ids_all)


def test_top1_on_rows():
    chk.check_top1_on_rows(comp.top1_on_rows)
    chk.check_top1_on_rows(_top1)
    rejects(chk.check_top1_on_rows, lambda M, r, bs: (M.AB[r].argmax(-1) == r).float().mean(), "materialised")
    rejects(chk.check_top1_on_rows, partial(_top1, sampled_cols=True), "EVERY column")
    rejects(chk.check_top1_on_rows, partial(_top1, local=True), "row ids")
    rejects(chk.check_top1_on_rows, partial(_top1, all_rows=True), "sampled ones")
    rejects(chk.check_top1_on_rows, partial(_top1, count=True), "count")


def test_pick_heads():
    chk.check_pick_heads(comp.heads_like_best)
    chk.check_pick_heads(lambda s: [tuple(int(v) for v in i) for i in torch.nonzero(s >= 0.6 * s.max())])
    best = lambda s: [divmod(int(s.argmax()), s.shape[1])]
    rejects(chk.check_pick_heads, best, "only the best head")
    rejects(chk.check_pick_heads, lambda s: [(1, h) for h in range(s.shape[1])], "far below")
    rejects(
        chk.check_pick_heads, lambda s: [tuple(int(v) for v in i) for i in torch.nonzero(s > 0.75)], "fixed high cut"
    )
    rejects(chk.check_pick_heads, lambda s: None, "return")


def test_effective_ov_circuit():
    chk.check_effective_ov_circuit(comp.effective_ov_circuit)
    first = lambda E, OVs, U: FactoredMatrix(E @ OVs[0].A, OVs[0].B @ U)

    def mean(E, OVs, U):
        return FactoredMatrix(E @ torch.cat([o.A for o in OVs], -1) / len(OVs), torch.cat([o.B for o in OVs], -2) @ U)

    def product(E, OVs, U):
        M = FactoredMatrix(E @ OVs[0].A, OVs[0].B)
        for o in OVs[1:]:
            M = M @ o.A @ o.B
        return M @ U

    rejects(chk.check_effective_ov_circuit, first, "only the first head")
    rejects(chk.check_effective_ov_circuit, mean, "averaged")
    rejects(chk.check_effective_ov_circuit, product, "multiplied")
    rejects(chk.check_effective_ov_circuit, lambda E, OVs, U: E @ sum(o.A @ o.B for o in OVs) @ U, "plain tensor")


def test_k_comp_circuit():
    chk.check_k_comp_circuit(comp.k_comp_circuit)
    chk.check_k_comp_circuit(lambda E, QK, OV: FactoredMatrix(E @ QK.A, QK.B @ (E @ OV.A @ OV.B).T))
    rejects(
        chk.check_k_comp_circuit, lambda E, QK, OV: FactoredMatrix(E @ OV.A, OV.B @ QK.A @ QK.B @ E.T), "QUERY side"
    )
    rejects(
        chk.check_k_comp_circuit,
        lambda E, QK, OV: FactoredMatrix(E @ QK.A, QK.B @ OV.A @ OV.B @ E.T),
        "transpose the OV",
    )
    rejects(
        chk.check_k_comp_circuit,
        lambda E, QK, OV: FactoredMatrix(E @ QK.B.T, QK.A.T @ (E @ OV.A @ OV.B).T),
        "transposed the QK",
    )
    rejects(
        chk.check_k_comp_circuit, lambda E, QK, OV: FactoredMatrix(E @ QK.A, QK.B @ E.T), "left out the previous-token"
    )
    rejects(chk.check_k_comp_circuit, lambda E, QK, OV: (E @ QK.A) @ (QK.B @ (E @ OV.A @ OV.B).T), "plain tensor")


def test_source_pair_scores():
    chk.check_source_pair_scores(comp.source_pair_scores)
    rejects(chk.check_source_pair_scores, lambda q, k, d: torch.einsum("iqd,jkd->ijqk", q, k), "sqrt(d_head)")
    rejects(chk.check_source_pair_scores, lambda q, k, d: torch.einsum("iqd,jkd->jiqk", q, k) / d**0.5, "source axes")
    rejects(
        chk.check_source_pair_scores, lambda q, k, d: torch.einsum("iqd,ikd->iqk", q, k) / d**0.5, "only with itself"
    )
    rejects(
        chk.check_source_pair_scores, lambda q, k, d: torch.einsum("iqd,jkd->ijqk", q, k).sum((0, 1)) / d**0.5, "summed"
    )
    rejects(chk.check_source_pair_scores, lambda q, k, d: torch.einsum("iqd,jkd->ijkq", q, k) / d**0.5, "(key, query)")


def test_batched_composition_scores():
    chk.check_batched_composition_scores(comp.batched_composition_scores)
    tl_norm = lambda A, B: (A.unsqueeze(1) @ B.unsqueeze(0)).norm() / (A.norm().unsqueeze(1) * B.norm().unsqueeze(0))
    chk.check_batched_composition_scores(tl_norm)
    rejects(chk.check_batched_composition_scores, lambda A, B: (A.unsqueeze(1) @ B.unsqueeze(0)).norm(), "normalise")
    rejects(
        chk.check_batched_composition_scores,
        lambda A, B: (A.unsqueeze(1) @ B.unsqueeze(0)).norm() / (A.norm().unsqueeze(1) + B.norm().unsqueeze(0)),
        "PRODUCT",
    )
    rejects(
        chk.check_batched_composition_scores,
        lambda A, B: (B.unsqueeze(0) @ A.unsqueeze(1)).norm() / (A.norm().unsqueeze(1) * B.norm().unsqueeze(0)),
        "writer comes first",
    )
    rejects(chk.check_batched_composition_scores, lambda A, B: tl_norm(A, B).T, "rows are the writers")
    rejects(
        chk.check_batched_composition_scores,
        lambda A, B: (
            (A.AB[:, None] @ B.AB[None]).norm(dim=(-2, -1))
            / (A.AB.norm(dim=(-2, -1))[:, None] * B.AB.norm(dim=(-2, -1))[None])
        ),
        ".AB",
    )


def _baseline(d_model, d_head, n, g, *, full=False, uniform=False):
    draw = torch.rand if uniform else torch.randn
    out = []
    for _ in range(n):
        if full:
            a, b = draw(d_model, d_model, generator=g), draw(d_model, d_model, generator=g)
        else:
            a = draw(d_model, d_head, generator=g) @ draw(d_head, d_model, generator=g)
            b = draw(d_model, d_head, generator=g) @ draw(d_head, d_model, generator=g)
        out.append(ref.composition_score(a, b))
    return torch.tensor(out)


def test_random_composition_baseline():
    chk.check_random_composition_baseline(comp.random_composition_baseline)
    chk.check_random_composition_baseline(_baseline)
    rejects(chk.check_random_composition_baseline, partial(_baseline, full=True), "full rank")
    rejects(chk.check_random_composition_baseline, partial(_baseline, uniform=True), "torch.rand")
    rejects(chk.check_random_composition_baseline, lambda d, e, n, g: _baseline(d, e, n, g).mean(), "one number")
    rejects(chk.check_random_composition_baseline, lambda d, e, n, g: _baseline(d, e, n, None), "generator")
