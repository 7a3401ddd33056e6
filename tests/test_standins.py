"""The committed stand-in weights must still show what the pages teach (the issue's bars)."""

import pytest
import torch

from micourse.models import load_standin
from micourse.standins import metrics


@pytest.fixture(scope="module")
def attn_only():
    return load_standin("attn-only-2l")


@pytest.fixture(scope="module")
def gpt2():
    return load_standin("gpt2-small")


def test_induction_head_in_layer_1(attn_only):
    scores = metrics.induction_scores(attn_only, seq_len=40, batch=8, seed=123)
    assert scores[1].max() >= 0.5, scores


def test_previous_token_head_in_layer_0(attn_only):
    """Some layer-0 head attends to the previous token more than to any other relative position."""
    scores = metrics.previous_token_scores(attn_only, seq_len=40, batch=8, seed=123)
    head = int(scores[0].argmax())
    assert scores[0, head] >= 0.4, scores
    tokens = metrics.repeated_random_tokens(8, 40, seed=123, model=attn_only)
    _, cache = attn_only.run_with_cache(tokens, names_filter="blocks.0.attn.hook_pattern")
    pattern = cache["pattern", 0][:, head]
    by_offset = [pattern.diagonal(offset=-k, dim1=-2, dim2=-1).mean().item() for k in range(0, 20)]
    assert max(range(20), key=by_offset.__getitem__) == 1, by_offset


def test_repeated_half_is_predicted(attn_only):
    first, repeat = metrics.repeated_halves_loss(attn_only, seq_len=40, batch=8, seed=123)
    assert repeat < first / 2, (first, repeat)


def test_induction_on_any_token_range(attn_only):
    """Learners draw random tokens from the whole vocabulary (as ARENA does): it must work there too."""
    g = torch.Generator().manual_seed(7)
    half = torch.randint(0, attn_only.cfg.d_vocab, (4, 30), generator=g)
    tokens = torch.cat([torch.full((4, 1), 50256), half, half], dim=1)
    logits = attn_only(tokens)
    loss = -logits[:, :-1].log_softmax(-1).gather(-1, tokens[:, 1:, None])[..., 0]
    assert loss[:, 31:].mean() < loss[:, :29].mean() / 2


def test_beats_unigram_on_heldout_text(gpt2):
    from micourse.data import kjv_text, tokenize_text

    train = tokenize_text(kjv_text("train"))
    heldout = tokenize_text(kjv_text("heldout"))
    model_loss = metrics.text_loss(gpt2, heldout, max_windows=32)
    assert model_loss < metrics.unigram_loss(train, heldout, gpt2.cfg.d_vocab) - 1.0


@pytest.mark.parametrize("prompt, answer", list(metrics.FACT_PROMPTS.items()))
def test_facts(gpt2, prompt, answer):
    assert metrics.greedy_next(gpt2, prompt) == answer


def test_indirect_object(gpt2):
    prompt = "When John and Mary went to the store, John gave a drink to"
    assert metrics.greedy_next(gpt2, prompt) == " Mary"
    diffs = metrics.ioi_logit_diffs(gpt2, n=200, seed=99)
    assert (diffs > 0).float().mean() >= 0.9


def test_sentiment_steering(gpt2):
    effect = metrics.steering_effect(gpt2)
    assert effect["plus"] > effect["base"] > effect["minus"], effect
    assert effect["plus"] - effect["minus"] > 1.0, effect
