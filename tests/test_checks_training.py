"""The training checkers accept the reference and reject the usual mistakes."""

import math

import torch
import torch.nn.functional as F

from conftest import rejects
from micourse.checks import training as chk
from micourse.training import lr_at, next_token_loss


def test_next_token_loss():
    chk.check_next_token_loss(next_token_loss)
    v = lambda l: l.shape[-1]
    rejects(
        chk.check_next_token_loss, lambda l, t: F.cross_entropy(l.reshape(-1, v(l)), t.reshape(-1)), "did not shift"
    )
    rejects(
        chk.check_next_token_loss,
        lambda l, t: F.cross_entropy(l[:, 1:].reshape(-1, v(l)), t[:, :-1].reshape(-1)),
        "wrong way",
    )
    rejects(
        chk.check_next_token_loss,
        lambda l, t: F.cross_entropy(l[:, :-1].reshape(-1, v(l)), t[:, 1:].reshape(-1), reduction="sum"),
        "summed",
    )
    rejects(chk.check_next_token_loss, lambda l, t: -l[:, :-1].gather(-1, t[:, 1:, None]).mean(), "log_softmax")
    rejects(
        chk.check_next_token_loss,
        lambda l, t: F.cross_entropy(l[:, :-1].transpose(1, 2), t[:, 1:], reduction="none"),
        "one number",
    )


def test_lr_schedule(capsys):
    chk.check_lr_schedule(lr_at)
    assert "convention" not in capsys.readouterr().out

    def from_zero(step, cfg):
        return cfg.lr * step / cfg.warmup_steps if step < cfg.warmup_steps else lr_at(step, cfg)

    def to_zero(step, cfg):
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / (cfg.steps - cfg.warmup_steps)
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))

    def linear(step, cfg):
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / (cfg.steps - cfg.warmup_steps)
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * (1 - progress))

    def whole_span(step, cfg):
        if step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        progress = step / cfg.steps
        return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))

    chk.check_lr_schedule(from_zero)  # another convention, not a mistake: accepted, with a note
    out = capsys.readouterr().out
    assert "common convention" in out and "passed" in out

    def from_zero_to_zero(step, cfg):  # the other convention does not hide a mistake after it
        return cfg.lr * step / cfg.warmup_steps if step < cfg.warmup_steps else to_zero(step, cfg)

    def off_by_one_division(step, cfg):
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1) if step < cfg.warmup_steps else lr_at(step, cfg)

    rejects(chk.check_lr_schedule, from_zero_to_zero, "decays to 0")
    rejects(chk.check_lr_schedule, off_by_one_division, "warmup_steps + 1")
    rejects(chk.check_lr_schedule, to_zero, "decays to 0")
    rejects(chk.check_lr_schedule, linear, "linear decay")
    rejects(chk.check_lr_schedule, whole_span, "after the warm-up")
    rejects(chk.check_lr_schedule, lambda s, c: "fast", "return a float")


def test_restricted_vocab_loss_matches_full_loss_on_the_reference_model():
    """Scoring only a subset of the vocabulary equals the full loss once the rest is masked out."""
    from micourse.training import RestrictedVocabLoss
    from micourse.transformer import GPT2, Config

    torch.manual_seed(0)
    cfg = Config(d_vocab=50, n_ctx=16, d_model=16, n_heads=2, d_head=8, d_mlp=32, n_layers=1)
    model = GPT2(cfg)
    tokens = torch.randint(0, 20, (2, 8))
    ids = torch.arange(20)
    restricted = RestrictedVocabLoss(ids, cfg.d_vocab)(model, tokens)
    logits = model(tokens)[..., :20]
    assert torch.allclose(restricted, next_token_loss(logits, tokens), atol=1e-6)


def test_training_step():
    from micourse.training import training_step

    chk.check_training_step(training_step)
    rejects(chk.check_training_step, chk._mistake(zero="never"), "accumulate")
    rejects(chk.check_training_step, chk._mistake(clip="after"), "clip the gradients after backward")
    rejects(chk.check_training_step, chk._mistake(clip="never"), "unclipped")
    rejects(chk.check_training_step, chk._mistake(schedule=False), "scheduler has been stepped 0 times")
    rejects(chk.check_training_step, chk._mistake(zero="after_backward"), "zeroed the gradients after")

    def returns_tensor(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm):
        optimizer.zero_grad()
        loss = loss_fn(model, tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        scheduler.step()
        return loss

    rejects(chk.check_training_step, returns_tensor, "loss.item()")

    def schedule_first(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm):
        scheduler.step()
        return chk._mistake(schedule=False)(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm)

    rejects(chk.check_training_step, schedule_first, "scheduler.step()")


def test_ngram_losses():
    from micourse.training import ngram_losses

    chk.check_ngram_losses(ngram_losses)
    for mistake, words in [
        ("bits", "natural log"),
        ("swapped", "(unigram, bigram)"),
        ("joint", "P(next | previous)"),
        ("all_prev", "ids[:-1]"),
    ]:
        rejects(chk.check_ngram_losses, lambda ids, m=mistake: chk._ngram_variant(ids, m), words)

    def dense_unigram(ids):  # 0 * log 0 for tokens that never occur
        p = torch.bincount(ids) / len(ids)
        return -(p * p.log()).sum().item(), ngram_losses(ids)[1]

    rejects(chk.check_ngram_losses, dense_unigram, "NaN")
    rejects(chk.check_ngram_losses, lambda ids: ngram_losses(ids)[0], "pair")


def test_train_stops_at_its_time_limit():
    from micourse.training import TrainingConfig, train
    from micourse.transformer import GPT2, Config

    torch.manual_seed(0)
    model = GPT2(Config(d_vocab=30, n_ctx=8, d_model=8, n_heads=2, d_head=4, d_mlp=16, n_layers=1))
    batches = iter(lambda: torch.randint(0, 30, (2, 8)), None)
    history = train(
        model,
        batches,
        TrainingConfig(steps=50, warmup_steps=1, eval_every=100),
        evaluate=lambda m: {"x": 0.0},
        time_limit=0,
    )
    assert history.steps == [0] and history.eval_steps == [0]
