"""Checkers of the page "Training": the next-token loss, n-gram baselines, the learning-rate schedule, the training step."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from micourse.checks.core import CheckFailure, assert_close, call, like, passed
from micourse.training import (
    TrainingConfig,
    full_vocab_loss,
    lambda_scheduler,
    lr_at,
    make_optimizer,
    next_token_loss,
    ngram_losses,
    training_step,
)


def check_next_token_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """`fn(logits, tokens)`: mean cross-entropy of predicting tokens[:, i + 1] from logits[:, i]."""
    g = torch.Generator().manual_seed(0)
    for b, n, v in [(2, 6, 11), (3, 4, 7), (1, 9, 30)]:
        logits = torch.randn(b, n, v, generator=g) * 2
        tokens = torch.randint(0, v, (b, n), generator=g)
        out = call(fn, logits.clone(), tokens.clone(), what="next_token_loss")
        where = f"next_token_loss for logits {(b, n, v)} and tokens {(b, n)}"
        if isinstance(out, Tensor) and out.ndim > 0:
            raise CheckFailure(
                f"{where} returned shape {tuple(out.shape)}; return one number, the mean loss (a 0-d tensor)."
            )
        if isinstance(out, float):
            raise CheckFailure(
                f"{where} returned a Python float; return the loss tensor itself, so that .backward() can run through it."
            )
        ce = lambda lg, tg: F.cross_entropy(lg.reshape(-1, v), tg.reshape(-1))
        diag = [
            like(
                lambda: ce(logits, tokens),
                "you did not shift: position i must predict token i + 1, so compare logits[:, :-1] with tokens[:, 1:].",
            ),
            like(
                lambda: ce(logits[:, 1:], tokens[:, :-1]),
                "you shifted the wrong way: logits[:, :-1] (every position but the last) predict tokens[:, 1:].",
            ),
            like(
                lambda: F.cross_entropy(logits[:, :-1].reshape(-1, v), tokens[:, 1:].reshape(-1), reduction="sum"),
                "you summed the losses; take the mean over all predicted tokens.",
            ),
            like(
                lambda: -ce(logits[:, :-1], tokens[:, 1:]),
                "wrong sign: the loss is the negative log-probability of the right token.",
            ),
            like(
                lambda: -(logits[:, :-1].gather(-1, tokens[:, 1:, None])).mean(),
                "you used the raw logits; take log_softmax first (or use F.cross_entropy).",
            ),
        ]
        assert_close(
            out,
            next_token_loss(logits, tokens),
            what=where,
            diagnoses=diag,
            hint="F.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten()).",
        )
    passed("next_token_loss")


def _cosine(
    step: int, cfg: TrainingConfig, *, floor: float | None = None, whole_run: bool = False, linear: bool = False
) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if whole_run:  # progress measured from step 0 instead of from the end of the warm-up
        progress = step / cfg.steps
    else:
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    shape = 1 - progress if linear else 0.5 * (1 + math.cos(math.pi * progress))
    floor = cfg.min_lr_ratio if floor is None else floor
    return cfg.lr * (floor + (1 - floor) * shape)


def _warm(step: int, cfg: TrainingConfig, from_zero: bool) -> float:
    """The warm-up line: (step + 1) / warmup_steps (the course's), or step / warmup_steps."""
    return cfg.lr * (step if from_zero else step + 1) / cfg.warmup_steps


def check_lr_schedule(fn: Callable[[int, TrainingConfig], float]) -> None:
    """`fn(step, cfg)`: linear warm-up to cfg.lr over cfg.warmup_steps, then cosine decay to cfg.lr * cfg.min_lr_ratio.

    Two warm-up conventions are in use and both pass: the course's `(step + 1) / warmup_steps`
    (the first step already moves the weights; the warm-up ends at lr) and `step / warmup_steps`
    (step 0 at lr 0, as several libraries' linear warm-ups are written). The checker recognises
    which one the learner wrote, says so, and checks the rest of the schedule with it.
    """
    configs = [
        TrainingConfig(steps=100, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1),
        TrainingConfig(steps=57, lr=3e-4, warmup_steps=5, min_lr_ratio=0.0),
        TrainingConfig(steps=40, lr=2e-3, warmup_steps=0, min_lr_ratio=0.25),
    ]
    from_zero_seen = False
    for cfg in configs:
        steps = list(range(cfg.steps))
        got = []
        for s in steps:
            value = call(fn, s, cfg, what="lr_schedule")
            if isinstance(value, Tensor):
                value = float(value)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise CheckFailure(f"lr_schedule(step={s}, cfg) returned {type(value).__name__}; return a float.")
            got.append(float(value))
        actual = torch.tensor(got, dtype=torch.float64)
        w = cfg.warmup_steps
        # which warm-up convention did the learner write? (step 0 at exactly 0 means step / warmup_steps)
        from_zero = bool(w) and abs(got[0]) <= 1e-12
        from_zero_seen |= from_zero

        def sched(s: int, **kw) -> float:
            return _warm(s, cfg, from_zero) if s < w else _cosine(s, cfg, **kw)

        # the course's reference, lr_at; with the other warm-up convention, its warm-up replaced
        expected = torch.tensor([sched(s) if from_zero else lr_at(s, cfg) for s in steps], dtype=torch.float64)
        variants = [
            (
                [sched(s, floor=0.0) for s in steps] if cfg.min_lr_ratio else None,
                "the cosine decays to 0; it should end at lr * min_lr_ratio: lr * (min_lr_ratio + (1 - min_lr_ratio) * cosine).",
            ),
            (
                [sched(s, whole_run=True) for s in steps] if w else None,
                "the decay runs over all cfg.steps; it should start after the warm-up: progress = (step - warmup_steps) / (steps - warmup_steps).",
            ),
            (
                [sched(s, linear=True) for s in steps],
                "that is a linear decay; use the cosine: 0.5 * (1 + cos(pi * progress)).",
            ),
            (
                [
                    cfg.lr
                    * (
                        cfg.min_lr_ratio
                        + (1 - cfg.min_lr_ratio) * math.cos(math.pi * min(1.0, (s - w) / max(1, cfg.steps - w)))
                    )
                    if s >= w
                    else _warm(s, cfg, from_zero)
                    for s in steps
                ],
                "cos(pi * progress) goes from 1 to -1; rescale it to go from 1 to 0: 0.5 * (1 + cos(pi * progress)).",
            ),
            (
                [cfg.lr * (s + 1) / (w + 1) if s < w else _cosine(s, cfg) for s in steps] if w else None,
                "your warm-up divides by warmup_steps + 1, so it never reaches lr before the decay starts; "
                "divide by warmup_steps.",
            ),
        ]
        diag = [
            like(torch.tensor(v, dtype=torch.float64), h, rtol=1e-6, atol=1e-12) for v, h in variants if v is not None
        ]
        assert_close(
            actual,
            expected,
            what=f"lr_schedule over steps 0..{cfg.steps - 1} with lr={cfg.lr}, warmup_steps={w}, min_lr_ratio={cfg.min_lr_ratio}",
            diagnoses=diag,
            atol=1e-10,
            rtol=1e-6,
            hint="for step < warmup_steps: lr * (step + 1) / warmup_steps (or lr * step / warmup_steps); after: "
            "progress = (step - warmup_steps) / (steps - warmup_steps), "
            "lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + cos(pi * progress))).",
        )
    if from_zero_seen:
        print(
            "Note: your warm-up is lr * step / warmup_steps (step 0 at lr 0). That is a common convention, "
            "not a mistake; this page uses lr * (step + 1) / warmup_steps, so that step 0 already trains "
            "and the warm-up's last step reaches lr."
        )
    passed("lr_schedule")


# --------------------------------------------------------------------------- the training step

_CLIP = 0.1  # small enough that clipping changes every step's gradients


def _three_steps(step: Callable, what: str, learner: bool = False) -> tuple[Tensor, list, object]:
    """Parameters (flattened) of a tiny seeded GPT-2 after three calls of `step`, its return values, the scheduler."""
    from micourse.transformer import GPT2, Config

    torch.manual_seed(0)
    model = GPT2(Config(d_vocab=40, n_ctx=16, d_model=16, n_heads=2, d_head=8, d_mlp=32, n_layers=1))
    cfg = TrainingConfig(steps=6, lr=1e-2, warmup_steps=2, weight_decay=0.1)
    optimizer = make_optimizer(model, cfg)
    scheduler = lambda_scheduler(optimizer, cfg)
    g = torch.Generator().manual_seed(1)
    returned = []
    for _ in range(3):  # under enable_grad: the diagnoses run this inside no_grad
        tokens = torch.randint(0, 40, (2, 12), generator=g)
        args = (model, tokens, optimizer, scheduler, full_vocab_loss, _CLIP)
        with torch.enable_grad():
            returned.append(call(step, *args, what=what) if learner else step(*args))
    return torch.cat([p.detach().flatten() for p in model.parameters()]), returned, scheduler


def _mistake(zero: str = "first", clip: str = "before", schedule: bool = True) -> Callable:
    """The training step with one thing out of place (`zero`: first/never/after_backward; `clip`: before/after/never)."""

    def step(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm):
        if zero == "first":
            optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model, tokens)
        loss.backward()
        if zero == "after_backward":
            optimizer.zero_grad(set_to_none=True)
        if clip == "before":
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if clip == "after":
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        if schedule:
            scheduler.step()
        return loss.item()

    return step


def check_training_step(fn: Callable) -> None:
    """`fn(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm)`: one full step; returns the loss as a float.

    Runs three seeded steps on a tiny model with the learner's function and with the reference,
    and compares every parameter afterwards.
    """
    what = "training_step(model, tokens, optimizer, scheduler, loss_fn, max_grad_norm)"
    actual, returned, scheduler = _three_steps(fn, what, learner=True)
    expected, ref_returned, _ = _three_steps(training_step, what)
    for i, (r, e) in enumerate(zip(returned, ref_returned)):
        if isinstance(r, Tensor) and r.numel() == 1:
            raise CheckFailure(
                f"{what} returned a tensor at step {i}; return loss.item(), a float (keeping the tensor keeps its whole graph alive)."
            )
        if not isinstance(r, float):
            raise CheckFailure(
                f"{what} returned {type(r).__name__} at step {i}; return the loss as a float (loss.item())."
            )
        if i == 0 and not math.isclose(r, e, rel_tol=1e-4, abs_tol=1e-5):  # later losses depend on the earlier steps
            raise CheckFailure(
                f"{what} returned {r:.6g} at the first step, the loss of that batch is {e:.6g}: "
                "return the loss computed before the update."
            )
    if scheduler.last_epoch != 3:
        raise CheckFailure(
            f"after three steps the scheduler has been stepped {scheduler.last_epoch} times, expected 3: "
            "call scheduler.step() exactly once per step, after optimizer.step()."
        )
    diag = [
        like(
            lambda: _three_steps(_mistake(zero="never"), what)[0],
            "the gradients accumulate across steps: call optimizer.zero_grad() before backward().",
        ),
        like(
            lambda: _three_steps(_mistake(clip="never"), what)[0],
            "the parameters are what an unclipped step gives: clip the gradients after backward() and before optimizer.step() "
            "(clipping after the step changes nothing, the next step starts from fresh gradients).",
        ),
        like(
            lambda: _three_steps(_mistake(zero="after_backward"), what)[0],
            "you zeroed the gradients after backward(), so the optimizer stepped with none: zero them before the forward pass.",
        ),
    ]
    assert_close(
        actual,
        expected,
        what="all parameters (flattened) after three steps",
        diagnoses=diag,
        hint="the order is zero_grad, forward + loss, backward, clip_grad_norm_, optimizer.step(), scheduler.step().",
    )
    passed("training_step")


# --------------------------------------------------------------------------- n-gram baselines


def _ngram_variant(ids: Tensor, mistake: str) -> tuple[float, float]:
    """`ngram_losses` with one known mistake (to name the learner's)."""
    uni, bi = ngram_losses(ids)
    ids = ids.long()
    n = int(ids.max()) + 1
    pairs, pair_counts = torch.unique(ids[:-1] * n + ids[1:], return_counts=True)
    if mistake == "bits":
        return uni / math.log(2), bi / math.log(2)
    if mistake == "swapped":
        return bi, uni
    if mistake == "joint":  # log P(prev, next) instead of log P(next | prev)
        p = pair_counts / pair_counts.sum()
        return uni, -(pair_counts * p.log()).sum().item() / (len(ids) - 1)
    if mistake == "all_prev":  # previous-token counts over the whole stream, last token included
        prev = torch.bincount(ids, minlength=n)
        return uni, -(pair_counts * (pair_counts / prev[pairs // n]).log()).sum().item() / (len(ids) - 1)
    raise ValueError(mistake)


def check_ngram_losses(fn: Callable[[Tensor], tuple[float, float]]) -> None:
    """`fn(ids)` -> (unigram loss, bigram loss) in nats per token, both fitted and measured on `ids`."""
    g = torch.Generator().manual_seed(0)
    streams = [
        torch.tensor([1, 2, 1, 2, 1, 3]),
        torch.randint(0, 12, (300,), generator=g),
        torch.randint(5, 40, (57,), generator=g),
    ]
    for ids in streams:
        out = call(fn, ids.clone(), what="ngram_losses")
        where = f"ngram_losses on a stream of {len(ids)} tokens"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise CheckFailure(f"{where}: return a pair (unigram, bigram), got {type(out).__name__}.")
        try:
            got = tuple(float(v) for v in out)
        except (TypeError, ValueError) as err:
            raise CheckFailure(f"{where}: return two numbers; {err}") from err
        expected = ngram_losses(ids)
        if all(math.isclose(a, e, rel_tol=1e-4, abs_tol=1e-5) for a, e in zip(got, expected)):
            continue
        if any(math.isnan(v) for v in got):
            raise CheckFailure(
                f"{where}: you returned NaN: a token with count 0 gives 0 * log 0. Count only tokens that occur (torch.unique(..., return_counts=True))."
            )
        hints = {
            "bits": "your numbers are in bits: use the natural log (nats), as the model's loss does.",
            "swapped": "you returned (bigram, unigram); return (unigram, bigram).",
            "joint": "your bigram uses P(previous, next) = count(pair) / number of pairs; the model needs P(next | previous) = count(pair) / count(previous).",
            "all_prev": "count the previous tokens over ids[:-1]: the last token is never followed by anything.",
        }
        for mistake, hint in hints.items():
            if all(math.isclose(a, e, rel_tol=1e-4, abs_tol=1e-5) for a, e in zip(got, _ngram_variant(ids, mistake))):
                raise CheckFailure(f"{where}: {hint}")
        which = "unigram" if not math.isclose(got[0], expected[0], rel_tol=1e-4, abs_tol=1e-5) else "bigram"
        raise CheckFailure(
            f"{where}: you returned ({got[0]:.5g}, {got[1]:.5g}), expected ({expected[0]:.5g}, {expected[1]:.5g}); the {which} loss differs.\n"
            "Hint: unigram = -sum p log p over the token frequencies; bigram = -mean over the pairs (prev, next) of log(count(pair) / count(prev))."
        )
    passed("ngram_losses")
