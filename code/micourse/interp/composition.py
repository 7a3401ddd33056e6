"""How heads compose, read off the weights: effective circuits, top-1 copying, source maps.

The tools of section 4 of ARENA 1.2 and of "A Mathematical Framework for Transformer Circuits"
(Elhage et al., 2021), written for the course. Everything vocabulary-sized stays a
`FactoredMatrix` (two thin factors), and is multiplied out a block of rows at a time, because a
`vocab x vocab` matrix of the real attn-only-2l (48,262 tokens) would take 9 GB.
TransformerLens multiplies row vectors, so every product reads in the order the data flows.
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens import FactoredMatrix


def nonzero_eigenvalues(A: Float[Tensor, "n k"], B: Float[Tensor, "k n"]) -> Tensor:
    """The (at most k) nonzero eigenvalues of A @ B, from the small k x k matrix B @ A.

    If A B v = l v with l != 0, then B A (B v) = l (B v): AB and BA share their nonzero
    eigenvalues, and BA is k x k instead of n x n.
    """
    if A.shape[-1] != B.shape[-2] or A.shape[-2] != B.shape[-1]:
        raise ValueError(f"Need A (n, k) and B (k, n); got {tuple(A.shape)} and {tuple(B.shape)}.")
    return torch.linalg.eigvals(B @ A)


def sum_of_circuits(circuits: list[FactoredMatrix]) -> FactoredMatrix:
    """The sum of several factored matrices of one shape, still factored.

    A1 B1 + A2 B2 = [A1 A2] [B1; B2]: concatenate the left factors side by side and the right
    factors on top of each other; the inner dimension is the sum of theirs.
    """
    if not circuits:
        raise ValueError("Need at least one circuit to add up.")
    shapes = {tuple(c.shape) for c in circuits}
    if len(shapes) != 1:
        raise ValueError(f"Circuits to add must have one shape; got {sorted(shapes)}.")
    return FactoredMatrix(torch.cat([c.A for c in circuits], dim=-1), torch.cat([c.B for c in circuits], dim=-2))


def effective_ov_circuit(
    W_E: Float[Tensor, "vocab d_model"], W_OVs: list[FactoredMatrix], W_U: Float[Tensor, "d_model vocab"]
) -> FactoredMatrix:
    """W_E (sum of the heads' W_OV) W_U: what several heads attending to token s write, together."""
    total = sum_of_circuits(W_OVs)
    return FactoredMatrix(W_E @ total.A, total.B @ W_U)


def k_comp_circuit(
    W_E: Float[Tensor, "vocab d_model"], W_QK: FactoredMatrix, W_OV_prev: FactoredMatrix
) -> FactoredMatrix:
    """W_E W_QK (W_E W_OV_prev)^T: entry [q, k] is the score a query token q gives a key position
    whose *previous-token head* read token k (the key side goes through the earlier head's OV)."""
    keys_read = (W_E @ W_OV_prev.A) @ W_OV_prev.B  # vocab d_model: what the earlier head writes for token k
    return FactoredMatrix(W_E @ W_QK.A, W_QK.B @ keys_read.T)  # inner dimension d_head


def top1_on_rows(M: FactoredMatrix, rows: Int[Tensor, " n_rows"], batch_size: int = 512) -> float:
    """Fraction of the given rows of square M whose largest entry, over EVERY column, is the diagonal one.

    Rows may be a sample; columns may not: restricting the columns to the sample too would ask
    "is s the best among 2,000 tokens" instead of "among all of them", and inflate the answer.
    """
    n = M.shape[-2]
    if M.shape[-1] != n:
        raise ValueError(f"Need a square matrix, got shape {tuple(M.shape)}.")
    rows = torch.as_tensor(rows, dtype=torch.long)
    if rows.numel() == 0 or rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows must be non-empty ids in [0, {n}).")
    hits = 0
    for start in range(0, len(rows), batch_size):
        ids = rows[start : start + batch_size]
        block = M.A[ids] @ M.B  # batch n: every column
        hits += (block.argmax(dim=-1) == ids).sum().item()
    return hits / len(rows)


def restrict(M: FactoredMatrix, ids: Int[Tensor, " n"] | None) -> FactoredMatrix:
    """M with rows and columns restricted to the token ids `ids` (None: all of them, M itself).

    For a stand-in that has trained only some tokens: the others are not tokens it knows.
    """
    if ids is None:
        return M
    return FactoredMatrix(M.A[ids], M.B[:, ids])


def heads_like_best(scores: Float[Tensor, "layer head"], fraction: float = 0.5) -> list[tuple[int, int]]:
    """Every head whose score is at least `fraction` of the best one, best first.

    A rule relative to the best head works for a model whose heads all score high and for one
    where two heads stand out.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    best = scores.max()
    if best <= 0:
        raise ValueError("No head has a positive score: nothing to choose.")
    order = scores.flatten().argsort(descending=True)
    n_heads = scores.shape[-1]
    return [(int(i) // n_heads, int(i) % n_heads) for i in order if scores.flatten()[i] >= fraction * best]


def source_pair_scores(
    q_parts: Float[Tensor, "source query d_head"], k_parts: Float[Tensor, "source key d_head"], d_head: int
) -> Float[Tensor, "q_source k_source query key"]:
    """Attention scores split by where the query's AND the key's input came from.

    Scores are bilinear in (query, key), so the sum over both source axes is the head's score
    (without biases).
    """
    return torch.einsum("iqd,jkd->ijqk", q_parts, k_parts) / d_head**0.5


def pair_importance(scores: Float[Tensor, "... query key"]) -> Float[Tensor, "..."]:
    """How much each source pair can move the pattern: the spread of its scores across the keys a
    query may see, averaged over queries. A pair that adds the same to every key does nothing
    after the softmax, so spread (not size) is what matters."""
    n = scores.shape[-1]
    mask = torch.ones(n, n, dtype=torch.bool, device=scores.device).tril()
    count = mask.sum(-1)
    mean = (scores * mask).sum(-1, keepdim=True) / count[:, None]
    var = (((scores - mean) * mask) ** 2).sum(-1) / count
    return var.sqrt()[..., 1:].mean(-1)  # the first query sees one key: no spread


def frobenius(M: FactoredMatrix) -> Float[Tensor, "..."]:
    """||A B||_F from k x k matrices only: ||AB||_F^2 = tr(B^T A^T A B) = sum((A^T A) * (B B^T)).

    Same value as `M.norm()` (which takes the singular values), without any SVD: fast even when
    many processes share the CPU, where batched LAPACK calls slow to a crawl.
    """
    gram_a = M.A.transpose(-1, -2) @ M.A  # ... k k
    gram_b = M.B @ M.B.transpose(-1, -2)  # ... k k
    return (gram_a * gram_b).sum((-2, -1)).clamp_min(0).sqrt()


def batched_composition_scores(W_A: FactoredMatrix, W_B: FactoredMatrix) -> Float[Tensor, "n_a n_b"]:
    """Composition score of every writer in W_A (n_a, d, d) with every reader in W_B (n_b, d, d), at once.

    Broadcasting (n_a, 1) against (1, n_b) forms all n_a * n_b products, still factored; each
    Frobenius norm comes from the factors, never from a d x d product.
    """
    if len(W_A.shape) != 3 or len(W_B.shape) != 3:
        raise ValueError(f"Need batches of matrices (n, d, d); got shapes {tuple(W_A.shape)} and {tuple(W_B.shape)}.")
    product = W_A.unsqueeze(1) @ W_B.unsqueeze(0)  # n_a n_b d d
    return frobenius(product) / (frobenius(W_A).unsqueeze(1) * frobenius(W_B).unsqueeze(0))


def random_composition_baseline(
    d_model: int, d_head: int, n_samples: int = 200, generator: torch.Generator | None = None
) -> Float[Tensor, " n_samples"]:
    """Composition scores of random pairs shaped like two heads' circuits, (d_model, d_head) @ (d_head, d_model)
    each: the score two unrelated heads of this model would get by chance."""
    shapes = [(n_samples, d_model, d_head), (n_samples, d_head, d_model)]
    A1, B1, A2, B2 = (torch.randn(*s, generator=generator) for s in shapes * 2)
    return batched_pairs(FactoredMatrix(A1, B1), FactoredMatrix(A2, B2))


def batched_pairs(W_A: FactoredMatrix, W_B: FactoredMatrix) -> Float[Tensor, " n"]:
    """Composition score of W_A[i] with W_B[i] for each i (pairs, not all combinations)."""
    return frobenius(W_A @ W_B) / (frobenius(W_A) * frobenius(W_B))


def top1_through(
    W_in: Float[Tensor, "vocab d_in"],
    circuit: FactoredMatrix,
    W_out: Float[Tensor, "d_out vocab"],
    rows: Int[Tensor, " n_rows"],
    known: Int[Tensor, " n"] | None = None,
    batch_size: int = 512,
) -> float:
    """`top1_on_rows(restrict(W_in @ circuit @ W_out, known), rows)`, without the unused rows.

    The left factor is only needed for the sampled rows: W_in[rows] @ circuit.A costs
    n_rows x d_in x d_head instead of vocab x d_in x d_head, which at real size is most of the work.
    `rows` index the known tokens (all tokens when `known` is None), as in `restrict`.
    """
    rows = torch.as_tensor(rows, dtype=torch.long)
    right = circuit.B @ W_out  # d_head vocab
    if known is not None:
        right = right[:, known]
    ids = rows if known is None else known[rows]
    if rows.numel() == 0 or rows.min() < 0 or rows.max() >= right.shape[-1]:
        raise ValueError(f"rows must be non-empty indices in [0, {right.shape[-1]}).")
    hits = 0
    for start in range(0, len(rows), batch_size):
        block = (W_in[ids[start : start + batch_size]] @ circuit.A) @ right  # batch, every column
        hits += (block.argmax(dim=-1) == rows[start : start + batch_size]).sum().item()
    return hits / len(rows)
