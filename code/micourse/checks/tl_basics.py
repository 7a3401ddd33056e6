"""Checkers for chapter 2, page 1 (TransformerLens basics)."""

from __future__ import annotations

import math
from collections.abc import Callable

import einops
import torch

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.interp import basics as ref
from micourse.interp import findings as ref_findings
from micourse.interp.toy import tiny_model, tiny_tokens


def _logits_and_tokens(seed: int, batch: int = 3, pos: int = 9, vocab: int = 11):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, pos, vocab, generator=g) * 3
    tokens = torch.randint(0, vocab, (batch, pos), generator=g)
    # make the model right about a third of the time, so accuracy is neither 0 nor 1
    right = torch.rand(batch, pos - 1, generator=g) < 0.35
    logits[:, :-1].scatter_add_(-1, tokens[:, 1:, None], right[..., None].float() * 20)
    return logits, tokens


@one_thread
def check_token_accuracy(fn: Callable) -> None:
    """`fn(logits, tokens)`: the fraction of positions whose argmax is the next token."""
    for seed in range(3):
        logits, tokens = _logits_and_tokens(seed)
        out = as_tensor(call(fn, "token_accuracy", logits.clone(), tokens.clone()), "token_accuracy's output")
        same_pos = (logits.argmax(-1) == tokens).float().mean()
        no_shift_trim = (logits[:, :-1].argmax(-1) == tokens[:, :-1]).float().mean()
        count = (logits[:, :-1].argmax(-1) == tokens[:, 1:]).float().sum()
        compare(
            out.reshape(()),
            ref.token_accuracy(logits, tokens),
            what="token_accuracy",
            mistakes=[
                (
                    same_pos,
                    "you compared the prediction at position p with the token AT p; it predicts the token at p + 1.",
                ),
                (
                    no_shift_trim,
                    "you dropped the last position of the logits but compared with tokens[:, :-1]; compare with tokens[:, 1:].",
                ),
                (
                    count,
                    "you returned the number of correct positions; divide by how many there are (use .float().mean()).",
                ),
            ],
            hint="logits[:, :-1].argmax(-1) == tokens[:, 1:], then the mean of that as floats.",
        )
    passed("token_accuracy")


@one_thread
def check_next_token_log_probs(fn: Callable) -> None:
    """`fn(logits, tokens)` -> `(batch, pos - 1)` log-probs of the actual next tokens."""
    for seed in range(3):
        logits, tokens = _logits_and_tokens(seed)
        out = call(fn, "next_token_log_probs", logits.clone(), tokens.clone())
        lp = logits.log_softmax(-1)
        compare(
            out,
            ref.next_token_log_probs(logits, tokens),
            what="next_token_log_probs",
            mistakes=[
                (
                    lambda: lp[:, :-1].gather(-1, tokens[:, :-1, None])[..., 0],
                    "you looked up the token at the same position; position p predicts tokens[:, p + 1].",
                ),
                (
                    lambda: logits[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0],
                    "you gathered raw logits: apply log_softmax over the vocabulary first.",
                ),
                (
                    lambda: logits[:, :-1].softmax(-1).gather(-1, tokens[:, 1:, None])[..., 0],
                    "you returned probabilities; the exercise asks for log-probabilities (log_softmax).",
                ),
                (
                    lambda: logits[:, :-1].log_softmax(1).gather(-1, tokens[:, 1:, None])[..., 0],
                    "you took log_softmax over the position axis; it goes over the vocabulary (dim=-1).",
                ),
            ],
            hint="logits[:, :-1].log_softmax(-1), then .gather(-1, tokens[:, 1:, None]) and drop the last axis.",
        )
    passed("next_token_log_probs")


@one_thread
def check_pattern_from_weights(fn: Callable) -> None:
    """`fn(x, W_Q, b_Q, W_K, b_K)` -> the causal pattern `(batch, head, query, key)`."""
    g = torch.Generator().manual_seed(0)
    for b, p, d, h, e in [(2, 6, 12, 3, 4), (1, 9, 8, 2, 8)]:
        x = torch.randn(b, p, d, generator=g)
        W_Q, W_K = torch.randn(h, d, e, generator=g), torch.randn(h, d, e, generator=g)
        b_Q, b_K = torch.randn(h, e, generator=g), torch.randn(h, e, generator=g)
        future = torch.triu(torch.ones(p, p, dtype=torch.bool), 1)
        out = call(fn, "pattern_from_weights", x.clone(), W_Q, b_Q, W_K, b_K)
        if isinstance(out, torch.Tensor) and out.shape == (b, h, p, p) and out.masked_select(future).abs().max() > 1e-6:
            raise CheckFailure(
                "pattern_from_weights gives weight to future keys (above the diagonal): "
                "the causal mask is missing or applied the wrong way round (mask keys after the query)."
            )
        q = einops.einsum(x, W_Q, "b p d, h d e -> b p h e") + b_Q
        k = einops.einsum(x, W_K, "b p d, h d e -> b p h e") + b_K
        raw = einops.einsum(q, k, "b q h e, b k h e -> b h q k")

        def pat(s, dim=-1):
            return s.masked_fill(future, float("-inf")).softmax(dim)

        no_bias = lambda: pat(
            einops.einsum(
                einops.einsum(x, W_Q, "b p d, h d e -> b p h e"),
                einops.einsum(x, W_K, "b p d, h d e -> b p h e"),
                "b q h e, b k h e -> b h q k",
            )
            / math.sqrt(e)
        )
        compare(
            out,
            ref.pattern_from_weights(x, W_Q, b_Q, W_K, b_K),
            what=f"pattern_from_weights (batch {b}, pos {p}, {h} heads of {e})",
            mistakes=[
                (lambda: pat(raw), "you did not scale the scores: divide by sqrt(d_head) before the softmax."),
                (lambda: pat(raw / e), "you divided by d_head; divide by its square root."),
                (
                    lambda: (raw / math.sqrt(e)).softmax(-1),
                    "there is no causal mask: set scores of future keys (key > query) to -inf before the softmax.",
                ),
                (no_bias, "you left out the biases b_Q and b_K."),
                (
                    lambda: pat(raw / math.sqrt(e), dim=-2).nan_to_num(),
                    "you took the softmax over queries; each query's weights over keys should sum to one (dim=-1).",
                ),
            ],
            hint="q = x @ W_Q + b_Q per head (einsum 'b p d, h d e -> b p h e'), same for k; scores 'b q h e, b k h e -> b h q k' / sqrt(d_head); mask; softmax(-1).",
        )
    passed("pattern_from_weights")


@one_thread
def check_head_outputs(fn: Callable) -> None:
    """`fn(z, W_O)` -> `(batch, pos, head, d_model)`: each head's write to the residual stream."""
    g = torch.Generator().manual_seed(1)
    for b, p, h, e, d in [(2, 5, 3, 4, 10), (1, 3, 4, 2, 6)]:
        z, W_O = torch.randn(b, p, h, e, generator=g), torch.randn(h, e, d, generator=g)
        out = call(fn, "head_outputs", z.clone(), W_O.clone())
        expected = ref.head_outputs(z, W_O)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (b, p, d):
            raise CheckFailure(
                f"head_outputs returned shape {tuple(out.shape)}: you summed over heads. Keep the head axis: (batch, pos, head, d_model)."
            )
        compare(
            out,
            expected,
            what="head_outputs",
            mistakes=[
                (
                    lambda: einops.einsum(z, W_O, "b p h e, g e d -> b p g d"),
                    "you summed over all heads' z for each W_O: match head h's z with W_O[h] only (use the same letter for the head axis in both inputs).",
                ),
                (
                    lambda: expected.transpose(1, 2),
                    "your axes are (batch, head, pos, d_model); the exercise wants (batch, pos, head, d_model).",
                ),
            ],
            hint="einops.einsum(z, W_O, 'batch pos head d_head, head d_head d_model -> batch pos head d_model').",
        )
    passed("head_outputs")


@one_thread
def check_logit_lens(fn: Callable) -> None:
    """`fn(resid_stack, model)` -> `(component, batch, pos)` top predictions through ln_final + unembed."""
    model = tiny_model(seed=3)
    tokens = tiny_tokens(batch=2, pos=7, d_vocab=model.cfg.d_vocab)
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens)
        stack = cache.accumulated_resid(incl_mid=False)
        out = call(fn, "logit_lens", stack.clone(), model)
        expected = ref.logit_lens(stack, model)
        if isinstance(out, torch.Tensor) and out.is_floating_point():
            raise CheckFailure(
                f"logit_lens returned floats of shape {tuple(out.shape)}: return the predicted token ids (argmax over the vocabulary), not logits."
            )
        compare(
            out,
            expected,
            what="logit_lens",
            mistakes=[
                (
                    lambda: model.unembed(stack).argmax(-1),
                    "you skipped the final LayerNorm: apply model.ln_final before the unembedding, as the model itself does.",
                ),
                (
                    lambda: (model.ln_final(stack) @ model.W_U).argmax(-1),
                    "you left out the unembedding bias b_U (model.unembed adds it).",
                ),
                (
                    lambda: model.unembed(model.ln_final(stack)).argmax(-2),
                    "you took the argmax over positions; take it over the vocabulary (dim=-1).",
                ),
            ],
            hint="model.unembed(model.ln_final(resid_stack)).argmax(dim=-1).",
        )
    passed("logit_lens")


@one_thread
def check_z_from_pattern(fn: Callable) -> None:
    """`fn(pattern, v)` -> `z`, `(batch, query, head, d_head)`: each query's pattern-weighted sum of values."""
    g = torch.Generator().manual_seed(4)
    for batch, heads, n, d_head in [(2, 3, 5, 4), (1, 2, 7, 3)]:
        scores = torch.randn(batch, heads, n, n, generator=g) * 2
        future = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
        pattern = scores.masked_fill(future, float("-inf")).softmax(-1)
        v = torch.randn(batch, n, heads, d_head, generator=g)
        out = call(fn, "z_from_pattern", pattern.clone(), v.clone())
        expected = ref_findings.z_from_pattern(pattern, v)
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, heads, n, d_head):
            raise CheckFailure(
                f"z_from_pattern returned shape {tuple(out.shape)} = (batch, head, pos, d_head); TransformerLens keeps z as (batch, pos, head, d_head), like q, k and v."
            )
        if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, n, d_head):
            raise CheckFailure(
                "z_from_pattern summed the heads together: keep the head axis, each head has its own z (W_O mixes them later)."
            )
        compare(
            out,
            expected,
            what=f"z_from_pattern (pattern {tuple(pattern.shape)}, v {tuple(v.shape)})",
            mistakes=[
                (
                    lambda: einops.einsum(pattern, v, "b h q k, b q h d -> b k h d"),
                    "you contracted the QUERY axis (or used the transposed pattern): a query's output sums over the KEYS it attends to (pattern[..., q, k] * v[:, k]).",
                ),
                (
                    lambda: einops.einsum(
                        torch.ones_like(pattern).tril() / (torch.arange(n) + 1)[:, None],
                        v,
                        "b h q k, b k h d -> b q h d",
                    ),
                    "you averaged the values evenly; weight each value by the pattern.",
                ),
            ],
            hint="einsum(pattern, v, 'batch head query key, batch key head d_head -> batch query head d_head').",
        )
    passed("z_from_pattern")
