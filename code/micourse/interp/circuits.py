"""Circuits read off the weights: full OV and positional QK circuits, composition scores.

Following "A Mathematical Framework for Transformer Circuits" (Elhage et al., 2021): a head's
OV circuit W_V W_O says what it moves, its QK circuit W_Q W_K^T where it looks; products of
these across layers ("virtual weights") say how heads compose. TransformerLens uses row
vectors (x @ W), so every product below reads left to right in the order the data flows.
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import FactoredMatrix


def full_ov_circuit(
    W_E: Float[Tensor, "vocab d_model"], W_OV: FactoredMatrix, W_U: Float[Tensor, "d_model vocab_out"]
) -> FactoredMatrix:
    """W_E W_V W_O W_U, kept factored: entry [s, t] is how much attending to token s raises logit t."""
    return FactoredMatrix(W_E @ W_OV.A, W_OV.B @ W_U)


def top1_diagonal_fraction(M: FactoredMatrix, batch_size: int = 1000) -> float:
    """Fraction of rows of a square matrix whose largest entry is on the diagonal.

    Rows are materialised `batch_size` at a time: the full matrix may not fit in memory.
    """
    n = M.shape[0]
    if M.shape[-1] != n:
        raise ValueError(f"Need a square matrix, got shape {tuple(M.shape)}.")
    hits = 0
    for start in range(0, n, batch_size):
        rows = M.A[start : start + batch_size] @ M.B  # batch n
        hits += (rows.argmax(dim=-1) == torch.arange(start, start + rows.shape[0])).sum().item()
    return hits / n


def positional_pattern(
    W_pos: Float[Tensor, "n_ctx d_model"], W_Q: Float[Tensor, "d_model d_head"], W_K: Float[Tensor, "d_model d_head"]
) -> Float[Tensor, "query key"]:
    """The pattern a head would have if its queries and keys saw only positional embeddings."""
    scores = (W_pos @ W_Q) @ (W_pos @ W_K).T / math.sqrt(W_Q.shape[-1])
    n = W_pos.shape[0]
    future = torch.triu(torch.ones(n, n, dtype=torch.bool, device=W_pos.device), diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


def composition_score(W_A: Float[Tensor, "a b"], W_B: Float[Tensor, "b c"]) -> float:
    """||W_A W_B||_F / (||W_A||_F ||W_B||_F): 1 if W_B reads exactly what W_A writes, ~0 if unrelated."""
    if W_A.shape[-1] != W_B.shape[0]:
        raise ValueError(f"Cannot compose shapes {tuple(W_A.shape)} and {tuple(W_B.shape)}.")
    return ((W_A @ W_B).norm() / (W_A.norm() * W_B.norm())).item()


def composition_scores(model, kind: str, layers: tuple[int, int] = (0, 1)) -> Float[Tensor, "head_a head_b"]:
    """Q-, K- or V-composition of every head in layers[0] (writer) with every head in layers[1] (reader)."""
    if kind not in ("Q", "K", "V"):
        raise ValueError(f"kind must be 'Q', 'K' or 'V', got {kind!r}.")
    la, lb = layers
    n = model.cfg.n_heads
    out = torch.zeros(n, n)
    for i in range(n):
        W_OV = model.OV[la, i].AB
        for j in range(n):
            reader = {"Q": model.QK[lb, j].AB, "K": model.QK[lb, j].AB.T, "V": model.OV[lb, j].AB}[kind]
            out[i, j] = composition_score(W_OV, reader)
    return out


def random_composition_baseline(
    d_model: int, d_head: int, n_samples: int = 200, seed: int = 0
) -> Float[Tensor, " n_samples"]:
    """Composition scores of random low-rank matrices shaped like two heads' circuits: the score
    two unrelated heads would get by chance."""
    g = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(n_samples):
        a, b, c, d = (torch.randn(*s, generator=g) for s in [(d_model, d_head), (d_head, d_model)] * 2)
        scores.append(composition_score(a @ b, c @ d))
    return torch.tensor(scores)


def positional_attention_input(model, cache, layer: int, n: int) -> Float[Tensor, "n d_model"]:
    """The positional embeddings as a head in `layer` sees them, for the first `n` positions.

    With standard positional embeddings the head reads them through its LayerNorm, i.e. centred
    and divided by that position's scale (averaged over the cached batch); shortformer models add
    them after the LayerNorm, unscaled.
    """
    W_pos = model.W_pos[:n]
    if model.cfg.positional_embedding_type == "shortformer":
        return W_pos
    scale = cache[f"blocks.{layer}.ln1.hook_scale"].mean(0)[:n]  # n 1
    return (W_pos - W_pos.mean(-1, keepdim=True)) / scale


def score_by_key_source(
    q: Float[Tensor, "query d_head"],
    key_components: Float[Tensor, "component key d_model"],
    W_K: Float[Tensor, "d_model d_head"],
) -> Float[Tensor, "component query key"]:
    """Split one head's attention scores by where the key's input came from.

    `key_components` are the parts of the head's (LayerNorm-scaled) input; the key bias adds the
    same amount to every key of a query, so it cannot change the pattern and is left out.
    """
    keys = key_components @ W_K  # component key d_head
    return q @ keys.transpose(-1, -2) / math.sqrt(W_K.shape[-1])
