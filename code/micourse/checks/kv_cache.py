"""Checkers of the page "KV caching".

The learner writes `attention_with_cache(attn, x_new, layer_cache)` and
`forward_with_cache(model, new_tokens, cache)`, with the cache classes of
`micourse.transformer.kv_cache`. Both are run on a sequence fed in three chunks (several tokens,
then one, then several again) and compared with the reference run on the whole sequence at once.
The bonus `beam_search_cached(model, tokens, max_new_tokens, num_beams)` is compared with the
uncached `sampling.beam_search`, and the positions it feeds the model are counted.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from micourse.checks.clean_gpt2 import CHECK_CFG, reference_model
from micourse.checks.core import CheckFailure, assert_close, call, like, passed
from micourse.sampling import beam_search
from micourse.transformer.attention import attention_scores, mix_values
from micourse.transformer.kv_cache import KVCache, LayerCache, reorder_cache

CHUNKS = (5, 1, 3)  # a prompt, one generated token, then several tokens at once
ATOL, RTOL = 1e-4, 1e-4


def _chunks(x: Tensor) -> list[tuple[int, Tensor]]:
    out, start = [], 0
    for n in CHUNKS:
        out.append((start, x[:, start : start + n]))
        start += n
    return out


def _attention_mistakes(attn, x: Tensor, start: int, x_new: Tensor) -> list:
    """What `attention_with_cache` returns for the new chunk under each classic mistake."""
    past = x[:, :start]
    full = x[:, : start + x_new.shape[1]]

    def scores_pattern_out(q, k, v, mask):
        scores = attention_scores(q, k)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.einsum("bqhe,hed->bqd", mix_values(scores.softmax(-1), v), attn.W_O) + attn.b_O

    with torch.no_grad():
        q, _, _ = attn.qkv(x_new)
        _, k_all, v_all = attn.qkv(full)
        _, k_new, v_new = attn.qkv(x_new)
    n_q, n_k = q.shape[1], k_all.shape[1]
    unshifted = torch.ones(n_q, n_k, dtype=torch.bool).triu(1)  # mask as if queries started at position 0
    no_past = lambda: attn(x_new)  # noqa: E731
    variants = [
        (
            lambda: scores_pattern_out(q, k_all, v_all, unshifted),
            "the new queries sit at the END of the keys: shift the causal mask by the number of cached positions "
            "(query i of the chunk is position n_cached + i).",
        ),
        (
            lambda: scores_pattern_out(q, k_all, v_all, None),
            "with several new tokens at once, each must still not see the ones after it: keep the causal mask.",
        ),
        (no_past, "attend over the cached keys and values too, not just the new ones: concatenate them first."),
    ]
    if past.shape[1] == 0:
        variants = variants[:2]
    return [like(f, hint, atol=ATOL) for f, hint in variants]


def check_attention_with_cache(fn: Callable) -> None:
    """`fn(attn, x_new, layer_cache)` must return attention's output for the new positions and extend the cache."""
    attn = reference_model().blocks[0].attn
    x = torch.randn(2, sum(CHUNKS), CHECK_CFG.d_model, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected_all = attn(x)
        _, k_all, v_all = attn.qkv(x)
    cache = LayerCache()
    for start, x_new in _chunks(x):
        end = start + x_new.shape[1]
        out = call(fn, attn, x_new, cache, what="attention_with_cache", no_grad=True)
        if cache.k is None or cache.v is None:
            raise CheckFailure(
                "layer_cache.k / layer_cache.v are still None after a call: store the keys and values "
                "(all of them, cached and new) back into layer_cache."
            )
        if cache.k.shape[1] != end:
            raise CheckFailure(
                f"After feeding {end} positions the cache holds keys for {cache.k.shape[1]}: "
                + (
                    "append the new keys to the old ones (torch.cat along the position axis), don't replace them."
                    if cache.k.shape[1] == x_new.shape[1]
                    else "add each position exactly once."
                )
            )
        for name, stored, reference in (("k", cache.k, k_all), ("v", cache.v, v_all)):
            hint = (
                f"cache {'keys' if name == 'k' else 'values'} of shape [batch, pos, head, d_head], the old ones first."
            )
            assert_close(stored, reference[:, :end], what=f"layer_cache.{name}", atol=ATOL, rtol=RTOL, hint=hint)
        hint = "queries for the new positions only; keys and values for every position so far."
        mistakes = _attention_mistakes(attn, x, start, x_new)
        what = f"the output for positions {start}..{end - 1}"
        assert_close(out, expected_all[:, start:end], what=what, atol=ATOL, rtol=RTOL, diagnoses=mistakes, hint=hint)
    passed("attention_with_cache")


def check_forward_with_cache(fn: Callable) -> None:
    """`fn(model, new_tokens, cache)` must return the logits of the new tokens, as the full forward would."""
    model = reference_model()
    tokens = torch.randint(0, CHECK_CFG.d_vocab, (2, sum(CHUNKS)), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected_all = model(tokens)
    cache = KVCache.empty(CHECK_CFG.n_layers)
    for start, new in _chunks(tokens):
        end = start + new.shape[1]
        out = call(fn, model, new, cache, what="forward_with_cache", no_grad=True)
        counts = [layer.n_pos for layer in cache.layers]
        if counts != [end] * len(counts):
            if not any(counts):
                why = "the cache is still empty: run each block's attention through attention_with_cache with its layer cache."
            else:
                why = "pass block i its own cache.layers[i], so that every layer stores its keys and values once."
            raise CheckFailure(
                f"After {end} tokens the layer caches hold {counts} positions, expected {end} each: {why}"
            )

        def restarted_positions(new=new, start=start) -> Tensor:
            scratch = KVCache.empty(CHECK_CFG.n_layers)
            if start:
                model(tokens[:, :start], past_kv_cache=scratch)
            resid = model.embed(new) + model.pos_embed(new)  # positions 0, 1, ... instead of start, ...
            for block, layer in zip(model.blocks, scratch.layers):
                resid = block(resid, layer)
            return model.unembed(model.ln_final(resid))

        diagnoses = [
            like(
                restarted_positions,
                "the new tokens' positions continue after the cached ones: pos_embed(new_tokens, offset=cache.n_pos), "
                "read n_pos BEFORE running the layers (they grow the cache).",
            ),
            like(
                lambda new=new: model(new),
                "use the cache: run each block with its layer cache, don't run the model on the new tokens alone.",
            ),
        ]
        # in the first chunk the mistakes above give the right answer: name them only after it
        what = f"the logits for positions {start}..{end - 1}"
        assert_close(
            out, expected_all[:, start:end], what=what, atol=ATOL, rtol=RTOL, diagnoses=diagnoses if start else ()
        )
    passed("forward_with_cache")


def _beams_without_reordering(model, tokens: Tensor, max_new_tokens: int, num_beams: int) -> Tensor:
    """The scores a cached beam search gets when it copies the cache to every beam once and never reorders it."""
    from micourse.sampling import beam_step

    cache = KVCache.empty(model.cfg.n_layers)
    scores = torch.zeros(1)
    logits = model(tokens[None, :], past_kv_cache=cache)
    for step in range(max_new_tokens):
        scores, origin, new = beam_step(scores, logits[:, -1].log_softmax(-1), num_beams)
        if step == 0:
            reorder_cache(cache, origin)
        if step < max_new_tokens - 1:
            logits = model(new[:, None], past_kv_cache=cache)
    return scores


def _cache_advice(err: Exception) -> str | None:
    if "cache holds a batch" in str(err):
        return (
            "after beam_step, the cache still has one row per OLD beam: index every layer's k and v with "
            "`origin` (new beam i continues old beam origin[i]) before feeding the new tokens."
        )
    if "context window" in str(err) or "n_ctx" in str(err):
        return "with a cache, feed only the new token of each beam, shape (beam, 1), not the whole beam."
    return None


def check_beam_search_cached(fn: Callable) -> None:
    """`fn(model, tokens, max_new_tokens, num_beams)` must find the same beams as uncached beam search, feeding one position per beam per step."""
    model = reference_model()
    prompt = torch.randint(0, CHECK_CFG.d_vocab, (5,), generator=torch.Generator().manual_seed(6))
    n_new, num_beams = 8, 3
    expected = beam_search(model, prompt, n_new, num_beams=num_beams, use_cache=False)
    fed = []
    handle = model.embed.register_forward_hook(lambda mod, args, out: fed.append(args[0].numel()))
    try:
        out = call(fn, model, prompt, n_new, num_beams, what="beam_search_cached", no_grad=True, advice=_cache_advice)
    finally:
        handle.remove()
    if not isinstance(out, list | tuple) or len(out) != num_beams:
        raise CheckFailure(
            f"Return a list of {num_beams} (score, tokens) pairs, best first, as sampling.beam_search does; "
            f"got {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, list | tuple) else "") + "."
        )
    try:
        scores = torch.tensor([float(s) for s, _ in out])
        seqs = [torch.as_tensor(t) for _, t in out]
    except (TypeError, ValueError) as err:
        raise CheckFailure(f"Each entry must be a (score, tokens) pair: {err}") from err
    diagnoses = [
        like(
            lambda: _beams_without_reordering(model, prompt, n_new, num_beams),
            "the cache must follow the beams: after every beam_step, index each layer's k and v with `origin`, "
            "not just once after the prefill.",
            atol=1e-4,
        )
    ]
    exp_scores = torch.tensor([s for s, _ in expected])
    assert_close(scores, exp_scores, what="the beam scores", atol=1e-4, rtol=1e-4, diagnoses=diagnoses)
    for i, (seq, (_, ref)) in enumerate(zip(seqs, expected)):
        if tuple(seq.shape) != tuple(ref.shape) or not torch.equal(seq.long(), ref.long()):
            raise CheckFailure(
                f"Beam {i} has the right score but tokens {seq.tolist()}, expected {ref.tolist()}: "
                "each beam's tokens are the prompt followed by every token chosen for it (beams[origin], then the new one)."
            )
    budget = len(prompt) + n_new * num_beams
    if sum(fed) > budget:
        raise CheckFailure(
            f"The beams are right, but the model was fed {sum(fed)} token positions in all; with a cache it needs "
            f"at most {budget} (the prompt once, then one new token per beam per step). Feed only the new tokens "
            "together with the cache."
        )
    passed("beam_search_cached")


__all__ = ["check_attention_with_cache", "check_beam_search_cached", "check_forward_with_cache"]
