"""The KV cache gives the same logits and the same greedy tokens as the plain forward pass."""

from __future__ import annotations

import math

import pytest
import torch

from conftest import rejects
from micourse.checks.clean_gpt2 import reference_model
from micourse.checks.kv_cache import check_attention_with_cache, check_beam_search_cached, check_forward_with_cache
from micourse.sampling import beam_search, beam_step
from micourse.transformer import GPT2, Config
from micourse.transformer.kv_cache import (
    KVCache,
    LayerCache,
    attention_with_cache,
    beam_search_cached,
    forward_with_cache,
    generate_greedy,
    reorder_cache,
)

CFG = Config(d_model=64, n_layers=2, n_heads=4, d_head=16, d_mlp=128, d_vocab=211, n_ctx=64, init_range=0.1)


@pytest.fixture(scope="module")
def model() -> GPT2:
    return reference_model(CFG, seed=3)


def test_chunked_forward_matches_full(model):
    tokens = torch.randint(0, CFG.d_vocab, (3, 20), generator=torch.Generator().manual_seed(0))
    cache = KVCache.empty(CFG.n_layers)
    with torch.no_grad():
        full = model(tokens)
        parts = [forward_with_cache(model, tokens[:, a:b], cache) for a, b in ((0, 7), (7, 8), (8, 20))]
    assert cache.n_pos == 20
    assert (torch.cat(parts, dim=1) - full).abs().max() <= 1e-5


@pytest.mark.parametrize(
    "cfg", [CFG, Config(d_model=32, n_layers=1, n_heads=2, d_head=16, d_mlp=0, d_vocab=50, n_ctx=40, attn_only=True)]
)
def test_greedy_identical_with_and_without_cache(cfg):
    model = reference_model(cfg, seed=1)
    prompt = torch.randint(0, cfg.d_vocab, (2, 5), generator=torch.Generator().manual_seed(1))
    with_cache = generate_greedy(model, prompt, 30, use_cache=True)
    without = generate_greedy(model, prompt, 30, use_cache=False)
    assert with_cache.shape == (2, 35)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache[:, :5], prompt)


def test_generation_errors(model):
    prompt = torch.zeros(1, 60, dtype=torch.long)
    with pytest.raises(ValueError, match="exceeds n_ctx"):
        generate_greedy(model, prompt, 10)
    cache = KVCache.empty(CFG.n_layers)
    forward_with_cache(model, prompt, cache)
    with pytest.raises(ValueError, match="context window"):
        forward_with_cache(model, torch.zeros(1, 5, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="layers"):
        forward_with_cache(model, prompt, KVCache.empty(1))
    with pytest.raises(ValueError, match="batch"):
        forward_with_cache(model, torch.zeros(2, 1, dtype=torch.long), _filled(model, batch=1))


def _filled(model, batch):
    cache = KVCache.empty(CFG.n_layers)
    forward_with_cache(model, torch.zeros(batch, 3, dtype=torch.long), cache)
    return cache


# ------------------------------------------------------------------ checkers


def test_checkers_accept_reference():
    check_attention_with_cache(attention_with_cache)
    check_forward_with_cache(forward_with_cache)
    check_beam_search_cached(beam_search_cached)


def attn_unshifted_mask(attn, x_new, cache):
    q, k_new, v_new = attn.qkv(x_new)
    k, v = cache.append(k_new, v_new)
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(attn.cfg.d_head)
    mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).triu(1)
    z = torch.einsum("bhqk,bkhe->bqhe", scores.masked_fill(mask, float("-inf")).softmax(-1), v)
    return torch.einsum("bqhe,hed->bqd", z, attn.W_O) + attn.b_O


def attn_no_mask(attn, x_new, cache):
    q, k_new, v_new = attn.qkv(x_new)
    k, v = cache.append(k_new, v_new)
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(attn.cfg.d_head)
    z = torch.einsum("bhqk,bkhe->bqhe", scores.softmax(-1), v)
    return torch.einsum("bqhe,hed->bqd", z, attn.W_O) + attn.b_O


def attn_replaces_cache(attn, x_new, cache):
    q, k, v = attn.qkv(x_new)
    cache.k, cache.v = k, v
    return attn.attend(q, k, v)


def attn_ignores_cache_in_output(attn, x_new, cache):
    _, k_new, v_new = attn.qkv(x_new)
    cache.append(k_new, v_new)
    return attn(x_new)


def attn_forgets_to_store(attn, x_new, cache):
    return attn(x_new)


def test_attention_checkerrejects():
    rejects(check_attention_with_cache, attn_unshifted_mask, "shift the causal mask")
    rejects(check_attention_with_cache, attn_no_mask, "keep the causal mask")
    rejects(check_attention_with_cache, attn_replaces_cache, "append the new keys")
    rejects(check_attention_with_cache, attn_ignores_cache_in_output, "cached keys and values too")
    rejects(check_attention_with_cache, attn_forgets_to_store, "still None")


def forward_positions_restart(model, new_tokens, cache):
    resid = model.embed(new_tokens) + model.pos_embed(new_tokens)
    for block, layer in zip(model.blocks, cache.layers):
        resid = block(resid, layer)
    return model.unembed(model.ln_final(resid))


def forward_no_cache(model, new_tokens, cache):
    return model(new_tokens)


def forward_one_layer_cache(model, new_tokens, cache):
    offset = cache.n_pos
    resid = model.embed_tokens(new_tokens, offset)
    for block in model.blocks:
        resid = block(resid, cache.layers[0])
    return model.unembed(model.ln_final(resid))


def test_forward_checkerrejects():
    rejects(check_forward_with_cache, forward_positions_restart, "positions continue")
    rejects(check_forward_with_cache, forward_no_cache, "still empty")
    rejects(check_forward_with_cache, forward_one_layer_cache, "cache.layers[i]")


def test_layer_cache_append():
    cache = LayerCache()
    k = torch.randn(1, 2, 3, 4)
    cache.append(k, k)
    cache.append(k, k)
    assert cache.n_pos == 4


def test_cached_forward_is_the_models_own_forward_so_hooks_fire(model):
    """The KV-cache path runs through the same modules: hook points see the new positions."""
    tokens = torch.randint(0, CFG.d_vocab, (1, 9), generator=torch.Generator().manual_seed(1))
    cache = KVCache.empty(CFG.n_layers)
    with torch.no_grad():
        model(tokens[:, :6], past_kv_cache=cache)
        _, step = model.run_with_cache(tokens[:, 6:], past_kv_cache=cache)
        _, full = model.run_with_cache(tokens)
    assert step["pattern", 1].shape == (1, CFG.n_heads, 3, 9)  # 3 new queries over all 9 keys
    assert (step["pattern", 1] - full["pattern", 1][:, :, 6:]).abs().max() <= 1e-5
    assert (step["resid_post", 1] - full["resid_post", 1][:, 6:]).abs().max() <= 1e-4


def test_cached_beam_search_equals_uncached(model):
    prompt = torch.randint(0, CFG.d_vocab, (6,), generator=torch.Generator().manual_seed(2))
    cached = beam_search_cached(model, prompt, 12, num_beams=4)
    plain = beam_search(model, prompt, 12, num_beams=4)
    assert [t.tolist() for _, t in cached] == [t.tolist() for _, t in plain]
    assert max(abs(a - b) for (a, _), (b, _) in zip(cached, plain)) < 1e-4


def _beam_loop(model, tokens, max_new_tokens, num_beams, reorder_every_step=True, reorder=True):
    cache = KVCache.empty(model.cfg.n_layers)
    beams, scores = tokens[None, :], torch.zeros(1)
    logits = model(beams, past_kv_cache=cache)
    for step in range(max_new_tokens):
        scores, origin, new = beam_step(scores, logits[:, -1].log_softmax(-1), num_beams)
        beams = torch.cat([beams[origin], new[:, None]], dim=1)
        if step < max_new_tokens - 1:
            if reorder and (reorder_every_step or step == 0):
                reorder_cache(cache, origin)
            logits = model(new[:, None], past_kv_cache=cache)
    return [(float(s), beams[i]) for i, s in enumerate(scores)]


def beam_never_reordered(model, tokens, n, k):
    return _beam_loop(model, tokens, n, k, reorder=False)


def beam_reordered_once(model, tokens, n, k):
    return _beam_loop(model, tokens, n, k, reorder_every_step=False)


def beam_uncached(model, tokens, n, k):
    beams, scores = tokens[None, :], torch.zeros(1)
    for _ in range(n):
        scores, origin, new = beam_step(scores, model(beams)[:, -1].log_softmax(-1), k)
        beams = torch.cat([beams[origin], new[:, None]], dim=1)
    return [(float(s), beams[i]) for i, s in enumerate(scores)]


def beam_feeds_whole_beams(model, tokens, n, k):
    cache = KVCache.empty(model.cfg.n_layers)
    beams, scores = tokens[None, :], torch.zeros(1)
    for _ in range(n):
        logits = model(beams, past_kv_cache=cache)
        scores, origin, new = beam_step(scores, logits[:, -1].log_softmax(-1), k)
        beams = torch.cat([beams[origin], new[:, None]], dim=1)
        reorder_cache(cache, origin)
    return [(float(s), beams[i]) for i, s in enumerate(scores)]


def beam_returns_tokens_only(model, tokens, n, k):
    return [t for _, t in beam_search_cached(model, tokens, n, k)]


def test_beam_cache_checker_rejects():
    rejects(check_beam_search_cached, beam_never_reordered, "index every layer's k and v with `origin`")
    rejects(check_beam_search_cached, beam_reordered_once, "not just once after the prefill")
    rejects(check_beam_search_cached, beam_uncached, "token positions in all")
    rejects(check_beam_search_cached, beam_feeds_whole_beams, "feed only the new token")
    rejects(check_beam_search_cached, beam_returns_tokens_only, "(score, tokens) pair")
