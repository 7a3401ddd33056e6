"""Checkers for chapter 2, page 2 (finding induction heads)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.interp import detectors as ref
from micourse.interp import findings as ref_findings


def random_pattern(batch: int, heads: int, n: int, seed: int) -> torch.Tensor:
    """A causal attention pattern with sharp, varied rows (a stand-in for a cache's pattern)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(batch, heads, n, n, generator=g) * 2.5
    future = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
    return scores.masked_fill(future, float("-inf")).softmax(-1)


def _score_check(fn: Callable, name: str, reference: Callable, mistakes: Callable, hint: str) -> None:
    for batch, heads, n, seed in [(2, 3, 7, 0), (1, 4, 10, 1), (3, 2, 5, 2)]:
        p = random_pattern(batch, heads, n, seed)
        out = call(fn, name, p.clone())
        expected = reference(p)
        if isinstance(out, torch.Tensor) and out.shape == (batch, heads):
            raise CheckFailure(
                f"{name} returned shape {tuple(out.shape)}: also average over the batch, so that each head gets one number."
            )
        if isinstance(out, torch.Tensor) and out.ndim == 0:
            raise CheckFailure(f"{name} returned a single number: return one score per head, shape ({heads},).")
        compare(out, expected, what=f"{name} on a pattern of shape {tuple(p.shape)}", mistakes=mistakes(p), hint=hint)
    passed(name)


@one_thread
def check_current_token_score(fn: Callable) -> None:
    """`fn(pattern)` -> `(head,)`: mean attention of each position to itself."""
    _score_check(
        fn,
        "current_token_score",
        ref.current_token_score,
        lambda p: [
            (
                lambda: p.diagonal(-1, dim1=-2, dim2=-1).mean((0, -1)),
                "you took the diagonal below the main one (offset -1): that is the previous token. The current token is the main diagonal.",
            ),
            (
                lambda: p.diagonal(dim1=-2, dim2=-1).sum(-1).mean(0),
                "you summed over positions; take the mean, so that the score lies between 0 and 1.",
            ),
            (
                lambda: p.diagonal(dim1=-2, dim2=-1)[..., 1:].mean((0, -1)),
                "you skipped the first position; the first token attends only to itself, and it counts here.",
            ),
        ],
        "pattern.diagonal(dim1=-2, dim2=-1) has shape (batch, head, pos); average over batch and pos.",
    )


@one_thread
def check_previous_token_score(fn: Callable) -> None:
    """`fn(pattern)` -> `(head,)`: mean attention from each position (but the first) to the one before."""
    _score_check(
        fn,
        "previous_token_score",
        ref.previous_token_score,
        lambda p: [
            (
                lambda: p.diagonal(1, dim1=-2, dim2=-1).mean((0, -1)),
                "offset=+1 is above the diagonal (the NEXT token, always 0 in a causal pattern); use offset=-1.",
            ),
            (
                lambda: p.diagonal(dim1=-2, dim2=-1).mean((0, -1)),
                "you took the main diagonal (the current token); the previous token is offset=-1.",
            ),
            (lambda: p.diagonal(-1, dim1=-2, dim2=-1).sum(-1).mean(0), "you summed over positions; take the mean."),
            (
                lambda: p.diagonal(-1, dim1=-1, dim2=-2).mean((0, -1)),
                "your diagonal is taken with the query and key axes swapped: with dim1=-1 (key), dim2=-2 (query) an offset of -1 means key = query + 1.",
            ),
        ],
        "pattern.diagonal(offset=-1, dim1=-2, dim2=-1) holds pattern[..., q, q - 1]; average over batch and positions.",
    )


@one_thread
def check_first_token_score(fn: Callable) -> None:
    """`fn(pattern)` -> `(head,)`: mean attention to position 0."""
    _score_check(
        fn,
        "first_token_score",
        ref.first_token_score,
        lambda p: [
            (
                lambda: p[..., 0, :].mean((0, -1)),
                "you took the first QUERY row (pattern[..., 0, :]); the first token as a KEY is the column pattern[..., 0].",
            ),
            (
                lambda: p[..., 1:, 0].mean((0, -1)),
                "you skipped the first query; every position counts, including position 0 itself.",
            ),
            (lambda: p[..., -1].mean((0, -1)), "you took the last key; the first token is key 0."),
        ],
        "pattern[..., 0] is (batch, head, query): attention from every query to key 0. Average over batch and query.",
    )


@one_thread
def check_heads_above(fn: Callable) -> None:
    """`fn(scores, threshold)` -> names "layer.head" above the threshold, best first."""
    cases = [
        (torch.tensor([[0.1, 0.7, 0.5, 0.0], [0.2, 0.05, 0.9, 0.4]]), 0.45),
        (torch.tensor([[0.3, 0.2], [0.1, 0.6], [0.8, 0.0]]), 0.25),
        (torch.tensor([[0.1, 0.2]]), 0.5),
    ]
    for scores, threshold in cases:
        out = call(fn, "heads_above", scores.clone(), threshold)
        expected = ref.heads_above(scores, threshold)
        if not isinstance(out, (list, tuple)) or not all(isinstance(x, str) for x in out):
            raise CheckFailure(f"heads_above should return a list of strings like '1.2', got {out!r}.")
        out = list(out)
        if out == expected:
            continue
        msg = f"heads_above(scores={scores.tolist()}, threshold={threshold}) returned {out}, expected {expected}."
        if sorted(out) == sorted(expected):
            msg += " Right heads, wrong order: sort them by score, highest first."
        elif any(n.count(".") != 1 for n in out):
            msg += " Name each head 'layer.head', e.g. '1.2'."
        elif len(out) == len(expected) and all(n.split(".")[::-1] == e.split(".") for n, e in zip(out, expected)):
            msg += " You swapped layer and head: the first axis of scores is the layer."
        elif len(out) > len(expected):
            msg += " You kept heads at or below the threshold: keep only scores strictly above it."
        raise CheckFailure(msg)
    passed("heads_above")


@one_thread
def check_repeated_tokens(fn: Callable) -> None:
    """`fn(bos, seq_len, batch, low, high, generator)` -> BOS + random half + the same half."""
    for bos, seq_len, batch, low, high in [(50256, 6, 3, 100, 200), (0, 10, 2, 5, 1000), (7, 1, 1, 10, 12)]:
        g = torch.Generator().manual_seed(seq_len)
        out = call(fn, "repeated_tokens", bos, seq_len, batch, low, high, g)
        shape = (batch, 1 + 2 * seq_len)
        if not isinstance(out, torch.Tensor):
            raise CheckFailure(f"repeated_tokens should return a tensor, got {type(out).__name__}.")
        if tuple(out.shape) == (batch, 2 * seq_len):
            raise CheckFailure(
                f"repeated_tokens returned shape {tuple(out.shape)}, expected {shape}: did you forget the BOS token in front?"
            )
        if tuple(out.shape) != shape:
            raise CheckFailure(
                f"repeated_tokens returned shape {tuple(out.shape)}, expected {shape} (BOS + seq_len + seq_len)."
            )
        if out.dtype not in (torch.long, torch.int64):
            raise CheckFailure(f"repeated_tokens returned dtype {out.dtype}; token ids are integers (torch.long).")
        if not bool((out[:, 0] == bos).all()):
            raise CheckFailure(f"Position 0 should be the BOS token {bos}, got {out[:, 0].tolist()}.")
        first, second = out[:, 1 : 1 + seq_len], out[:, 1 + seq_len :]
        if not torch.equal(first, second):
            raise CheckFailure(
                "The second half is not a copy of the first: draw the random half once and concatenate it twice."
            )
        if int(first.min()) < low or int(first.max()) >= high:
            raise CheckFailure(
                f"Tokens should lie in [low, high) = [{low}, {high}); yours range over [{int(first.min())}, {int(first.max())}]."
            )
        if batch > 1 and seq_len > 3 and torch.equal(first[0], first[1]):
            raise CheckFailure(
                "Every row of the batch holds the same sequence: draw a (batch, seq_len) tensor, not one row repeated."
            )
    g = torch.Generator().manual_seed(0)
    a = call(fn, "repeated_tokens", 1, 20, 1, 0, 1000, g)
    b = call(fn, "repeated_tokens", 1, 20, 1, 0, 1000, g)
    if torch.equal(a, b):
        raise CheckFailure(
            "Two calls with the same generator gave the same tokens: pass `generator=generator` to torch.randint."
        )
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    if not torch.equal(
        call(fn, "repeated_tokens", 1, 20, 1, 0, 1000, g1), call(fn, "repeated_tokens", 1, 20, 1, 0, 1000, g2)
    ):
        raise CheckFailure("Equal seeds gave different tokens: draw the random tokens with `generator=generator`.")
    passed("repeated_tokens")


def _half_reference(log_probs: torch.Tensor, seq_len: int) -> torch.Tensor:
    return torch.stack([-log_probs[:, :seq_len].mean(), -log_probs[:, seq_len:].mean()])


@one_thread
def check_loss_by_half(fn: Callable) -> None:
    """`fn(log_probs, seq_len)` -> tensor([loss on the first copy, loss on the repeat])."""
    g = torch.Generator().manual_seed(0)
    for batch, seq_len in [(2, 5), (3, 8), (1, 4)]:
        lp = -torch.rand(batch, 2 * seq_len, generator=g) * 5
        out = call(fn, "loss_by_half", lp.clone(), seq_len)
        if isinstance(out, (tuple, list)) and len(out) == 2:
            out = torch.stack([as_tensor(o, "loss_by_half's output").reshape(()) for o in out])
        compare(
            out,
            _half_reference(lp, seq_len),
            what=f"loss_by_half (log_probs {tuple(lp.shape)}, seq_len {seq_len})",
            mistakes=[
                (lambda: -_half_reference(lp, seq_len), "the loss is the NEGATIVE mean log-probability."),
                (
                    lambda: torch.stack([-lp[:, : seq_len - 1].mean(), -lp[:, seq_len - 1 :].mean()]),
                    "your halves are split one position early: log_probs[:, :seq_len] predicts the first copy (tokens 1..seq_len).",
                ),
                (
                    lambda: torch.stack([-lp[:, : seq_len + 1].mean(), -lp[:, seq_len + 1 :].mean()]),
                    "your halves are split one position late: log_probs[:, :seq_len] predicts the first copy (tokens 1..seq_len).",
                ),
                (lambda: torch.stack([-lp[:, :seq_len].sum(), -lp[:, seq_len:].sum()]), "you summed; take the mean."),
            ],
            hint="log_probs has 2 * seq_len columns: the first seq_len predict the first copy, the rest the repeat.",
        )
    passed("loss_by_half")


@one_thread
def check_induction_score(fn: Callable) -> None:
    """`fn(pattern, seq_len)` -> `(head,)`: attention from each repeated token to the token after its first copy."""
    for batch, heads, seq_len, seed in [(2, 3, 5, 0), (1, 2, 8, 1), (3, 4, 4, 2)]:
        n = 2 * seq_len + 1
        p = random_pattern(batch, heads, n, seed)
        out = call(fn, "induction_score", p.clone(), seq_len)
        diag = lambda off: p.diagonal(off, dim1=-2, dim2=-1)
        compare(
            out,
            ref.induction_score(p, seq_len),
            what=f"induction_score (pattern {tuple(p.shape)}, seq_len {seq_len})",
            mistakes=[
                (
                    lambda: diag(-seq_len)[..., 1:].mean((0, -1)),
                    "offset -seq_len is the earlier copy of the SAME token (a duplicate-token head); an induction head attends to the token after it: offset -(seq_len - 1).",
                ),
                (
                    lambda: diag(-seq_len)[..., :].mean((0, -1)),
                    "offset -seq_len is the earlier copy of the SAME token (a duplicate-token head); an induction head attends to the token after it: offset -(seq_len - 1).",
                ),
                (
                    lambda: diag(-(seq_len - 1)).mean((0, -1)),
                    "you kept queries of the first copy (the diagonal starts at query seq_len - 1): keep only the repeat's seq_len queries, [..., -seq_len:].",
                ),
                (
                    lambda: diag(-(seq_len - 1))[..., 1:].mean((0, -1)),
                    "you kept query seq_len, the last token of the first copy: it has no earlier copy. Keep only the repeat's seq_len queries, [..., -seq_len:].",
                ),
                (
                    lambda: diag(-(seq_len + 1))[..., 1:].mean((0, -1)),
                    "offset -(seq_len + 1) is the token BEFORE the earlier copy; use -(seq_len - 1).",
                ),
                (lambda: diag(-(seq_len - 1))[..., 1:].sum(-1).mean(0), "you summed over positions; take the mean."),
            ],
            hint="pattern.diagonal(offset=-(seq_len - 1), dim1=-2, dim2=-1) holds pattern[..., q, q - seq_len + 1] for q = seq_len - 1 .. 2 * seq_len; keep the last seq_len entries (the repeat) and average.",
        )
    passed("induction_score")


@one_thread
def check_duplicate_token_score(fn: Callable) -> None:
    """`fn(pattern, seq_len)` -> `(head,)`: attention from each repeated token to its own earlier copy."""
    for batch, heads, seq_len, seed in [(2, 3, 5, 3), (1, 2, 8, 4), (3, 4, 4, 5)]:
        p = random_pattern(batch, heads, 2 * seq_len + 1, seed)
        out = call(fn, "duplicate_token_score", p.clone(), seq_len)
        diag = lambda off: p.diagonal(off, dim1=-2, dim2=-1)
        if isinstance(out, torch.Tensor) and out.shape == (batch, heads):
            raise CheckFailure(
                f"duplicate_token_score returned shape {tuple(out.shape)}: also average over the batch, one number per head."
            )
        compare(
            out,
            ref_findings.duplicate_token_score(p, seq_len),
            what=f"duplicate_token_score (pattern {tuple(p.shape)}, seq_len {seq_len})",
            mistakes=[
                (
                    lambda: ref.induction_score(p, seq_len),
                    "that is the induction score: attention to the token AFTER the earlier copy. A duplicate-token head attends to the earlier copy itself, seq_len positions back.",
                ),
                (
                    lambda: diag(-seq_len).mean((0, -1)),
                    "you kept query seq_len, the last token of the first copy: it looks back seq_len positions to BOS, not to a copy of itself. Keep only the repeat's queries.",
                ),
                (
                    lambda: diag(-(seq_len + 1)).mean((0, -1)),
                    "offset -(seq_len + 1) lands one BEFORE the earlier copy; the copy of the token at q sits at q - seq_len.",
                ),
                (
                    lambda: diag(-seq_len)[..., -seq_len:].sum(-1).mean(0),
                    "you summed over positions; take the mean, so the score lies between 0 and 1.",
                ),
            ],
            hint="The token at q (in the repeat, q = seq_len + 1 .. 2 * seq_len) first appeared at q - seq_len: a diagonal with offset -seq_len, keeping the repeat's seq_len queries.",
        )
    passed("duplicate_token_score")


@one_thread
def check_uniform_induction_baseline(fn: Callable) -> None:
    """`fn(seq_len)` -> the induction score of a head attending evenly to every key it can see."""
    for seq_len in (1, 4, 10, 50):
        out = as_tensor(call(fn, "uniform_induction_baseline", seq_len), "uniform_induction_baseline's output")
        out = out.double().reshape(-1)
        if out.numel() != 1:
            raise CheckFailure(f"uniform_induction_baseline should return one number, got shape {tuple(out.shape)}.")
        q = torch.arange(seq_len + 1, 2 * seq_len + 1, dtype=torch.float64)
        compare(
            out[0],
            torch.tensor(ref_findings.uniform_induction_baseline(seq_len), dtype=torch.float64),
            what=f"uniform_induction_baseline({seq_len})",
            mistakes=[
                (
                    torch.tensor(1 / (2 * seq_len + 1), dtype=torch.float64),
                    "1 / (2 * seq_len + 1) spreads attention over the whole sequence; a causal head at query q sees only q + 1 keys (0 .. q).",
                ),
                (
                    (1.0 / q).mean(),
                    "off by one: at query q a causal head sees q + 1 keys (0 .. q, itself included), and the repeat's queries are q = seq_len + 1 .. 2 * seq_len (dividing by q, or starting at q = seq_len, gives this number).",
                ),
                (
                    (1.0 / (torch.arange(0, 2 * seq_len + 1, dtype=torch.float64) + 1)).mean(),
                    "you averaged over every query; the induction score counts only the repeat's queries.",
                ),
                (
                    torch.tensor(1 / seq_len, dtype=torch.float64),
                    "1 / seq_len is not what a causal head sees at any query of the repeat; average 1 / (q + 1) over the repeat's queries.",
                ),
            ],
            hint="At query q a uniform causal head gives 1 / (q + 1) to every key, the induction key included; average that over q = seq_len + 1 .. 2 * seq_len.",
            atol=1e-6,
        )
    passed("uniform_induction_baseline")
