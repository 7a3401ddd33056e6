"""The foundations and inputs-and-outputs checkers accept references and reject the usual mistakes."""

import math

import einops
import torch

from conftest import rejects
from micourse.checks import foundations as chk
from micourse.checks import inputs_outputs as inp
from micourse.sampling import greedy_generate, next_token_probs
from micourse.tensors import pairwise_distances
from micourse.transformer.attention import scaled_dot_product_attention


def test_pairwise_distances():
    chk.check_pairwise_distances(pairwise_distances)
    chk.check_pairwise_distances(torch.cdist)
    rejects(chk.check_pairwise_distances, lambda x, y: ((x[:, None] - y[None]) ** 2).sum(-1), "square root")
    rejects(chk.check_pairwise_distances, lambda x, y: (x[:, None] - y[None]).abs().sum(-1), "L1")
    rejects(chk.check_pairwise_distances, lambda x, y: ((x - y) ** 2).sum(-1).sqrt(), "raised")
    rejects(chk.check_pairwise_distances, lambda x, y: ((x[None] - y[:, None]) ** 2).sum(-1).sqrt(), "shape")


def test_split_heads():
    chk.check_split_heads(lambda x, h: einops.rearrange(x, "b p (h d) -> b p h d", h=h))
    chk.check_split_heads(lambda x, h: x.reshape(*x.shape[:2], h, -1))
    rejects(chk.check_split_heads, lambda x, h: einops.rearrange(x, "b p (d h) -> b p h d", h=h), "(head d_head)")
    rejects(
        chk.check_split_heads, lambda x, h: einops.rearrange(x, "b p (h d) -> b h p d", h=h), "head axis before pos"
    )
    rejects(chk.check_split_heads, lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1).transpose(1, 2), "differ")


def attn(q, k, v, causal=True, *, scale=None, dim=-1, diagonal=1, after=False):
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / (math.sqrt(q.shape[-1]) if scale is None else scale)
    n = q.shape[1]
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=diagonal)
    if causal and not after:
        scores = scores.masked_fill(mask, -1e9)
    pattern = scores.softmax(dim)
    if causal and after:
        pattern = pattern.masked_fill(mask, 0)
    return torch.einsum("bhqk,bkhd->bqhd", pattern, v), pattern


def test_attention():
    chk.check_attention(scaled_dot_product_attention)
    chk.check_attention(attn)
    rejects(chk.check_attention, lambda q, k, v, c: attn(q, k, v, c, scale=1.0), "sqrt(d_head)")
    rejects(chk.check_attention, lambda q, k, v, c: attn(q, k, v, c, dim=-2), "query axis")
    rejects(chk.check_attention, lambda q, k, v, c: attn(q, k, v, c, after=True), "before the softmax")
    rejects(chk.check_attention, lambda q, k, v, c: attn(q, k, v, False), "no causal mask")
    rejects(chk.check_attention, lambda q, k, v, c: attn(q, k, v, c, scale=q.shape[-1]), "square root")


# --- inputs and outputs -------------------------------------------------------------------------


def test_next_token_probs():
    inp.check_next_token_probs(next_token_probs)
    rejects(inp.check_next_token_probs, lambda l: l[:, 0].softmax(-1), "last position")
    rejects(inp.check_next_token_probs, lambda l: l[:, -1], "softmax")
    rejects(inp.check_next_token_probs, lambda l: l.softmax(1)[:, -1], "position axis")
    rejects(inp.check_next_token_probs, lambda l: l[:, -1].log_softmax(-1), "log-probabilities")


def test_greedy_generate():
    inp.check_greedy_generate(greedy_generate)

    def first_position(model, tokens, n):
        for _ in range(n):
            tokens = torch.cat([tokens, model(tokens)[:, 0].argmax(-1, keepdim=True)], 1)
        return tokens

    def only_new(model, tokens, n):
        return greedy_generate(model, tokens, n)[:, tokens.shape[1] :]

    def one_extra(model, tokens, n):
        return greedy_generate(model, tokens, n + 1)

    def no_feedback(model, tokens, n):
        nxt = model(tokens)[:, -1].argmax(-1, keepdim=True)
        return torch.cat([tokens] + [nxt] * n, 1)

    rejects(inp.check_greedy_generate, first_position, "first position")
    rejects(inp.check_greedy_generate, only_new, "only the new tokens")
    rejects(inp.check_greedy_generate, one_extra, "how many times your loop runs")
    rejects(inp.check_greedy_generate, no_feedback, "feed the extended sequence")
