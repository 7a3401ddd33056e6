"""Chapter 2, page 1: each checker accepts the reference and rejects plausible mistakes."""

import math

import einops
import pytest
import torch

from micourse.checks import CheckFailure
from micourse.checks import tl_basics as chk
from micourse.interp import basics as ref


def rejects(check, fn, *fragments):
    with pytest.raises(CheckFailure) as info:
        check(fn)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_token_accuracy():
    chk.check_token_accuracy(ref.token_accuracy)
    chk.check_token_accuracy(lambda l, t: (l.argmax(-1)[:, :-1] == t[:, 1:]).float().mean().item())
    rejects(chk.check_token_accuracy, lambda l, t: (l.argmax(-1) == t).float().mean(), "AT p")
    rejects(chk.check_token_accuracy, lambda l, t: (l[:, :-1].argmax(-1) == t[:, :-1]).float().mean(), "tokens[:, 1:]")
    rejects(chk.check_token_accuracy, lambda l, t: (l[:, :-1].argmax(-1) == t[:, 1:]).sum(), "divide")
    rejects(chk.check_token_accuracy, lambda l, t: None, "return")


def test_next_token_log_probs():
    chk.check_next_token_log_probs(ref.next_token_log_probs)
    rejects(
        chk.check_next_token_log_probs,
        lambda l, t: l.log_softmax(-1)[:, :-1].gather(-1, t[:, :-1, None])[..., 0],
        "same position",
    )
    rejects(chk.check_next_token_log_probs, lambda l, t: l[:, :-1].gather(-1, t[:, 1:, None])[..., 0], "log_softmax")
    rejects(
        chk.check_next_token_log_probs,
        lambda l, t: l[:, :-1].softmax(-1).gather(-1, t[:, 1:, None])[..., 0],
        "probabilities",
    )
    rejects(chk.check_next_token_log_probs, lambda l, t: l.log_softmax(-1).gather(-1, t[..., None])[..., 0], "shape")


def _pat(x, W_Q, b_Q, W_K, b_K, *, scale=True, mask=True, bias=True):
    q = einops.einsum(x, W_Q, "b p d, h d e -> b p h e") + (b_Q if bias else 0)
    k = einops.einsum(x, W_K, "b p d, h d e -> b p h e") + (b_K if bias else 0)
    s = einops.einsum(q, k, "b q h e, b k h e -> b h q k") / (math.sqrt(W_Q.shape[-1]) if scale else 1)
    if mask:
        n = x.shape[1]
        s = s.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -1e9)
    return s.softmax(-1)


def test_pattern_from_weights():
    chk.check_pattern_from_weights(ref.pattern_from_weights)
    chk.check_pattern_from_weights(_pat)
    rejects(chk.check_pattern_from_weights, lambda *a: _pat(*a, scale=False), "sqrt(d_head)")
    rejects(chk.check_pattern_from_weights, lambda *a: _pat(*a, mask=False), "causal mask")
    rejects(chk.check_pattern_from_weights, lambda *a: _pat(*a, bias=False), "biases")
    rejects(chk.check_pattern_from_weights, lambda *a: _pat(*a).transpose(-1, -2), "future keys")
    rejects(chk.check_pattern_from_weights, lambda *a: _pat(*a)[..., :-1, :-1], "shape")


def test_head_outputs():
    chk.check_head_outputs(ref.head_outputs)
    rejects(chk.check_head_outputs, lambda z, W: einops.einsum(z, W, "b p h e, h e d -> b p d"), "summed over heads")
    rejects(chk.check_head_outputs, lambda z, W: einops.einsum(z, W, "b p h e, g e d -> b p g d"), "same letter")
    rejects(
        chk.check_head_outputs,
        lambda z, W: einops.einsum(z, W, "b p h e, h e d -> b h p d"),
        "(batch, pos, head, d_model)",
    )


def test_logit_lens():
    chk.check_logit_lens(ref.logit_lens)
    rejects(chk.check_logit_lens, lambda s, m: m.unembed(s).argmax(-1), "final LayerNorm")
    rejects(chk.check_logit_lens, lambda s, m: (m.ln_final(s) @ m.W_U).argmax(-1), "b_U")
    rejects(chk.check_logit_lens, lambda s, m: m.unembed(m.ln_final(s)), "token ids")
    rejects(chk.check_logit_lens, lambda s, m: m.unembed(m.ln_final(s)).argmax(-2), "positions")


def test_z_from_pattern():
    from micourse.interp.findings import z_from_pattern

    chk.check_z_from_pattern(z_from_pattern)
    rejects(chk.check_z_from_pattern, lambda p, v: einops.einsum(p, v, "b h q k, b q h d -> b k h d"), "QUERY axis")
    rejects(
        chk.check_z_from_pattern, lambda p, v: einops.einsum(p, v, "b h q k, b k h d -> b h q d"), "(batch, pos, head"
    )
    rejects(chk.check_z_from_pattern, lambda p, v: einops.einsum(p, v, "b h q k, b k h d -> b q d"), "summed the heads")
    rejects(
        chk.check_z_from_pattern,
        lambda p, v: einops.einsum((p > 0).float() / (p > 0).sum(-1, keepdim=True), v, "b h q k, b k h d -> b q h d"),
        "evenly",
    )
