"""The course's training loop: the one chapter 1 teaches, and the one that trains the stand-ins.

It is deliberately small: AdamW, linear warm-up then cosine decay, gradient clipping, periodic
evaluation and a callback per step (for live plots). The model can be anything that maps
tokens to logits; for large vocabularies a restricted loss (`RestrictedVocabLoss`) scores only
the tokens that occur in the data, which on a CPU is the difference between 2 s and 0.5 s a step.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from jaxtyping import Float, Int
from torch import Tensor, nn


@dataclass
class TrainingConfig:
    steps: int
    lr: float = 1e-3
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    constant_until: int | None = None  # hold lr constant after warm-up until this step, then decay
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float | None = 1.0
    eval_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps <= 0:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps must be between 0 and steps ({self.steps}), got {self.warmup_steps}")


def lr_at(step: int, cfg: TrainingConfig) -> float:
    """Learning rate at `step` (0-based): linear warm-up to cfg.lr, optionally constant until
    cfg.constant_until (phase changes such as induction heads come sooner at a high rate), then
    cosine decay to lr * min_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    start = max(cfg.warmup_steps, cfg.constant_until or 0)
    if step < start:
        return cfg.lr
    progress = (step - start) / max(1, cfg.steps - start)
    progress = min(1.0, progress)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def next_token_loss(logits: Float[Tensor, "batch pos d_vocab"], tokens: Int[Tensor, "batch pos"]) -> Tensor:
    """Mean cross-entropy of predicting tokens[:, 1:] from logits[:, :-1] (position i predicts i + 1)."""
    if logits.shape[:2] != tokens.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and tokens {tuple(tokens.shape)} disagree on (batch, pos)")
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), tokens[:, 1:].flatten())


def final_residual(model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos d_model"]:
    """The residual stream after the final LayerNorm, i.e. what the unembedding reads."""
    if hasattr(model, "final_residual"):
        return model.final_residual(tokens)
    if hasattr(model, "blocks") and hasattr(model, "ln_final") and hasattr(model, "cfg"):  # TransformerLens
        resid = model(tokens, stop_at_layer=model.cfg.n_layers)
        return model.ln_final(resid)
    raise TypeError(f"{type(model).__name__} has no way to give its final residual stream")


class RestrictedVocabLoss:
    """Next-token loss over a subset of the vocabulary (all targets must be in it).

    With `tied=True` the logits use the embedding matrix transposed (W_U = W_E^T), as GPT-2 does.
    """

    def __init__(self, vocab_ids: Int[Tensor, " n"], d_vocab: int, tied: bool = False):
        self.vocab_ids = torch.unique(vocab_ids.long())
        self.index = torch.full((d_vocab,), -1, dtype=torch.long)
        self.index[self.vocab_ids] = torch.arange(len(self.vocab_ids))
        self.tied = tied

    def logits(self, model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> Float[Tensor, "batch pos n"]:
        resid = final_residual(model, tokens)
        ids = self.vocab_ids.to(resid.device)
        if self.tied:
            return resid @ model.embed.W_E[ids].T
        return resid @ model.unembed.W_U[:, ids] + model.unembed.b_U[ids]

    def __call__(self, model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> Tensor:
        targets = self.index.to(tokens.device)[tokens[:, 1:]]
        if bool((targets < 0).any()):
            bad = tokens[:, 1:][targets < 0][:5].tolist()
            raise ValueError(f"targets outside the restricted vocabulary, e.g. token ids {bad}")
        logits = self.logits(model, tokens)[:, :-1]
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def full_vocab_loss(model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> Tensor:
    return next_token_loss(model(tokens), tokens)


@dataclass
class TrainingHistory:
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def make_optimizer(model: nn.Module, cfg: TrainingConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, LayerNorm gains or embeddings' biases)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one kernel for all parameters, ~9x faster than the default on a CPU (matters for 50k-row embeddings)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=True)


def _to_device(batch, device: torch.device):
    """A batch is a tensor or a tuple of tensors (tokens and per-token weights, say)."""
    if isinstance(batch, tuple | list):
        return type(batch)(t.to(device) for t in batch)
    return batch.to(device)


def train(
    model: nn.Module,
    batches: Iterator[Int[Tensor, "batch pos"]],
    cfg: TrainingConfig,
    loss_fn: Callable[[nn.Module, Tensor], Tensor] = full_vocab_loss,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    on_step: Callable[[int, float, TrainingHistory], None] | None = None,
    time_limit: float | None = None,
) -> TrainingHistory:
    """Train `model` for cfg.steps steps on `batches`; returns the loss history.

    `evaluate(model)` runs every cfg.eval_every steps and at the end (under no_grad, in eval
    mode); `on_step(step, loss, history)` after every step, e.g. to update a live plot.
    `time_limit` (seconds) stops early, after a final evaluation, once the run has taken that
    long: a page on a shared machine stays within its time even when the machine slows down.
    """
    torch.manual_seed(cfg.seed)
    opt = make_optimizer(model, cfg)
    history = TrainingHistory()
    start = time.perf_counter()
    model.train()
    device = next(model.parameters()).device  # batches come from the CPU; the model may sit on a GPU
    for step in range(cfg.steps):
        tokens = _to_device(next(batches), device)
        lr = lr_at(step, cfg)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_fn(model, tokens)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}: lower the learning rate")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        history.steps.append(step)
        history.losses.append(loss.item())
        history.lrs.append(lr)
        last = step == cfg.steps - 1
        if evaluate is not None and ((step + 1) % cfg.eval_every == 0 or last):
            model.eval()
            with torch.no_grad():
                history.evals.append(evaluate(model))
            history.eval_steps.append(step)
            model.train()
        if on_step is not None:
            on_step(step, loss.item(), history)
        if time_limit is not None and not last and time.perf_counter() - start > time_limit:
            if evaluate is not None and history.eval_steps[-1:] != [step]:
                model.eval()
                with torch.no_grad():
                    history.evals.append(evaluate(model))
                history.eval_steps.append(step)
            break
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


def training_step(
    model: nn.Module,
    tokens: Int[Tensor, "batch pos"],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_fn: Callable[[nn.Module, Tensor], Tensor],
    max_grad_norm: float,
) -> float:
    """One step, in the order that matters: fresh gradients, clipped before the update, then the schedule.

    The reference for the page's exercise (`train` above does the same with the schedule set by hand).
    """
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model, tokens)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item()


def lambda_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainingConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """`lr_at` as a torch scheduler: `scheduler.step()` moves the optimizer to the next step's rate."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step, cfg) / cfg.lr)


def ngram_losses(ids: Int[Tensor, " n_tokens"]) -> tuple[float, float]:
    """Cross-entropy (nats/token) of the unigram and bigram models fitted on `ids`, measured on `ids`.

    The baselines a language model must beat to show it learned more than word frequencies
    (unigram) and pairs of neighbouring words (bigram). Counting with `torch.unique` keeps it
    sparse: a dense 50k x 50k bigram table would not fit in memory.
    """
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError(f"need a 1-D stream of at least two token ids, got shape {tuple(ids.shape)}")
    ids = ids.long()
    _, counts = torch.unique(ids, return_counts=True)
    p = counts / counts.sum()
    unigram = -(p * p.log()).sum().item()
    n = int(ids.max()) + 1
    pairs, pair_counts = torch.unique(ids[:-1] * n + ids[1:], return_counts=True)
    prev_counts = torch.bincount(ids[:-1], minlength=n)
    bigram = -(pair_counts * (pair_counts / prev_counts[pairs // n]).log()).sum().item() / (len(ids) - 1)
    return unigram, bigram


def keeps_torch_switches(fn):
    """Decorate a training recipe that sets torch's global switches (threads, deterministic
    algorithms, gradients) for its run: they are put back as they were when it returns, so that a
    page or a test that trains a model does not change how everything after it runs."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        saved = torch.is_grad_enabled(), torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_grad_enabled(saved[0])
            torch.use_deterministic_algorithms(saved[1])
            torch.set_num_threads(saved[2])

    return wrapper
