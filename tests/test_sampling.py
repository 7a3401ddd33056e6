"""Unit tests for the reference decoding methods in micourse.sampling."""

import itertools

import pytest
import torch

from micourse import sampling as S


class Bigram(torch.nn.Module):
    """A model whose next-token logits depend only on the last token: easy to reason about."""

    def __init__(self, d_vocab: int, seed: int = 0, scale: float = 2.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(d_vocab, d_vocab, generator=g) * scale

    def forward(self, tokens):
        return self.table[tokens]


def test_greedy_and_shapes():
    logits = torch.tensor([[0.1, 3.0, -1.0], [5.0, 0.0, 0.0]])
    assert S.greedy(logits).tolist() == [1, 0]
    assert S.sample_basic(torch.randn(4, 7, 11)).shape == (4, 7)


def test_temperature_and_errors():
    logits = torch.tensor([1.0, 2.0])
    assert torch.allclose(S.apply_temperature(logits, 0.5), torch.tensor([2.0, 4.0]))
    for bad in (0, -1.0):
        with pytest.raises(S.SamplingError, match="positive"):
            S.apply_temperature(logits, bad)
    with pytest.raises(S.SamplingError):
        S.greedy(torch.tensor([1, 2]))  # integer "logits"


def test_frequency_penalty_counts_every_occurrence_and_batches():
    logits = torch.zeros(2, 4)
    tokens = torch.tensor([[1, 1, 3], [0, 0, 0]])
    out = S.apply_frequency_penalty(tokens, logits, 0.5)
    assert out.tolist() == [[0.0, -1.0, 0.0, -0.5], [-1.5, 0.0, 0.0, 0.0]]


def test_top_k_filter():
    logits = torch.tensor([0.3, 2.0, -1.0, 1.0, 0.5])
    kept = torch.isfinite(S.top_k_filter(logits, 2))
    assert kept.tolist() == [False, True, False, True, False]
    assert torch.isfinite(S.top_k_filter(logits, 99)).all()
    with pytest.raises(S.SamplingError):
        S.top_k_filter(logits, 0)


def test_top_p_filter_keeps_the_crossing_token():
    probs = torch.tensor([0.1, 0.5, 0.3, 0.1])
    logits = probs.log()
    assert torch.isfinite(S.top_p_filter(logits, 0.6)).tolist() == [False, True, True, False]  # .5 < .6 <= .8
    assert torch.isfinite(S.top_p_filter(logits, 0.4)).tolist() == [False, True, False, False]
    assert torch.isfinite(S.top_p_filter(logits, 1.0)).all()
    with pytest.raises(S.SamplingError):
        S.top_p_filter(logits, 0.0)


def test_samplers_respect_their_support():
    logits = torch.randn(20).expand(5000, 20)
    top3 = set(logits[0].topk(3).indices.tolist())
    assert set(S.sample_top_k(logits, 3).tolist()) <= top3
    nucleus = set(torch.nonzero(torch.isfinite(S.top_p_filter(logits[0], 0.5))).flatten().tolist())
    assert set(S.sample_top_p(logits, 0.5).tolist()) <= nucleus


def test_banned_next_tokens():
    assert S.banned_next_tokens([5, 6, 7, 5, 6], 3) == {7}
    assert S.banned_next_tokens([1, 2, 3], 1) == {1, 2, 3}
    assert S.banned_next_tokens([1, 2], 4) == set()
    assert S.banned_next_tokens(torch.tensor([3, 4, 4]), 2) == {4}


def test_beam_search_with_enough_beams_is_exhaustive():
    model = Bigram(5)
    prompt = torch.tensor([2])
    length = 3
    logp = model.table.log_softmax(-1)
    best = max(
        itertools.product(range(5), repeat=length),
        key=lambda seq: sum(float(logp[a, b]) for a, b in zip((2,) + seq, seq)),
    )
    beams = S.beam_search(model, prompt, length, num_beams=5**length)
    assert tuple(beams[0][1][1:].tolist()) == best
    scores = [s for s, _ in beams]
    assert scores == sorted(scores, reverse=True)


def test_beam_search_no_repeat_ngrams():
    model = Bigram(6, seed=1, scale=4.0)  # sharp: greedy paths loop quickly
    for _, seq in S.beam_search(model, torch.tensor([0]), 12, num_beams=3, no_repeat_ngram_size=2):
        pairs = list(zip(seq.tolist(), seq.tolist()[1:]))
        assert len(pairs) == len(set(pairs))


def test_generate_with_a_tokenizer():
    from micourse.tokenizer import gpt2_tokenizer

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.emb = torch.randn(50257, 8, generator=g)
            self.out = torch.randn(8, 50257, generator=g) * 3

        def forward(self, tokens):
            return self.emb[tokens] @ self.out

    tok = gpt2_tokenizer()
    model = Tiny()
    a = S.generate(model, "In the beginning", 5, tokenizer=tok)
    assert a.startswith("In the beginning") and a == S.generate(model, "In the beginning", 5, tokenizer=tok)
    s1 = S.generate(
        model, "Hello", 8, method="sample", temperature=1.5, top_p=0.9, seed=3, tokenizer=tok, stop_at_eos=False
    )
    s2 = S.generate(
        model, "Hello", 8, method="sample", temperature=1.5, top_p=0.9, seed=3, tokenizer=tok, stop_at_eos=False
    )
    assert s1 == s2
    assert S.generate(model, "Hello", 4, method="beam", num_beams=2, no_repeat_ngram_size=2, tokenizer=tok).startswith(
        "Hello"
    )
    with pytest.raises(S.SamplingError, match="unknown method"):
        S.generate(model, "Hello", 3, method="nucleus", tokenizer=tok)
    with pytest.raises(S.SamplingError, match="top_k"):
        S.generate(model, "Hello", 3, method="top_k", tokenizer=tok)


def test_generate_with_transformer_lens_cache_matches_full_reruns(monkeypatch):
    """generate feeds a HookedTransformer only new tokens (KV cache): same text as rerunning everything."""
    from micourse.models import load_model

    model = load_model("gpt2-small", verbose=False)
    assert S._cached_logits_fn(model) is not None, "the TransformerLens cache was not found: generate reruns everything"
    fed = []
    handle = model.embed.register_forward_hook(lambda mod, args, out: fed.append(args[0].shape[-1]))
    cached = S.generate(model, "The king said unto", 12, method="sample", seed=3, stop_at_eos=False)
    beams = S.beam_search(model, model.to_tokens("The king said unto")[0], 8, num_beams=3, no_repeat_ngram_size=2)
    handle.remove()
    assert max(fed[1:12]) == 1 and max(fed[13:]) == 1, fed  # after each prompt, one position per call
    monkeypatch.setattr(S, "_cached_logits_fn", lambda m: None)
    full = S.generate(model, "The king said unto", 12, method="sample", seed=3, stop_at_eos=False)
    full_beams = S.beam_search(model, model.to_tokens("The king said unto")[0], 8, num_beams=3, no_repeat_ngram_size=2)
    assert cached == full
    assert [t.tolist() for _, t in beams] == [t.tolist() for _, t in full_beams]
    assert max(abs(a - b) for (a, _), (b, _) in zip(beams, full_beams)) < 1e-3


def test_incremental_runner_follows_reordered_beams():
    """Rows that extend earlier rows in another order (beams) give the logits of a full rerun."""
    from micourse.checks.clean_gpt2 import reference_model

    model = reference_model()
    run = S._cached_logits_fn(model)
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, model.cfg.d_vocab, (1, 5), generator=g)
    for _ in range(4):
        run(rows)
        origin = torch.randint(0, rows.shape[0], (3,), generator=g)
        rows = torch.cat([rows[origin], torch.randint(0, model.cfg.d_vocab, (3, 1), generator=g)], dim=1)
    with torch.no_grad():
        assert torch.allclose(run(rows), model(rows)[:, -1], atol=1e-5)
