"""Checkers for chapter 5's bracket-classifier pages (the task, moving backwards, elevation).

Each checker runs the learner's function on strings or tensors where the usual mistakes give a
different answer, recognises those mistakes and names them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from micourse.checks._interp_common import as_tensor, call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.toys.brackets import analysis, data

# strings on which the common mistakes differ from the truth
PROBE_STRINGS = ["", "()", "(()", ")(", "())", "())(", "(())()", "((", "))((", "()())(()", "(()))(", "((()))", ")"]


def _probe_set(seed: int = 0, n: int = 200) -> list[str]:
    return PROBE_STRINGS + data.generate(n, seed).strings


@one_thread
def check_elevation_profile(fn: Callable) -> None:
    """`fn(s)` -> list of elevations after each bracket."""
    for s in _probe_set():
        out = call(fn, "elevation_profile", s)
        expected = data.elevations(s)
        if isinstance(out, torch.Tensor):
            out = out.tolist()
        if not isinstance(out, (list, tuple)):
            raise CheckFailure(f"elevation_profile({s!r}) returned {type(out).__name__}; return a list of ints.")
        out = [int(x) for x in out]
        if out == expected:
            continue
        if len(out) == len(s) + 1 and out[1:] == expected:
            raise CheckFailure(
                f"elevation_profile({s!r}) = {out} starts with the elevation before the first bracket (0); "
                "return one entry per bracket."
            )
        if out == [-x for x in expected]:
            raise CheckFailure(f"elevation_profile({s!r}) = {out} has the signs swapped: '(' goes up (+1).")
        if out == [1 if c == "(" else -1 for c in s]:
            raise CheckFailure(
                f"elevation_profile({s!r}) = {out} lists the steps, not their running total: keep a counter."
            )
        raise CheckFailure(f"elevation_profile({s!r}) = {out}, expected {expected}.")
    passed("elevation_profile")


def _check_bool_classifier(fn: Callable, name: str) -> None:
    for s in _probe_set(1):
        out = call(fn, name, s)
        if not isinstance(out, (bool, np.bool_)) and not (isinstance(out, torch.Tensor) and out.numel() == 1):
            raise CheckFailure(f"{name}({s!r}) returned {type(out).__name__}; return True or False.")
        out, expected, kind = bool(out), data.is_balanced(s), data.kind_of(s)
        if out == expected:
            continue
        if kind == "negative":
            raise CheckFailure(
                f"{name}({s!r}) is {out}, but {s!r} ends at elevation 0 and dips below zero on the way "
                f"(elevations {data.elevations(s)}): check the running elevation, not only the total."
            )
        if kind == "total":
            raise CheckFailure(
                f"{name}({s!r}) is {out}, but {s!r} ends at elevation {data.elevations(s)[-1]}: the total must be exactly 0."
            )
        if kind == "both" and data.elevations(s)[-1] < 0:
            raise CheckFailure(f"{name}({s!r}) is {out}: {s!r} goes below zero (elevations {data.elevations(s)}).")
        raise CheckFailure(f"{name}({s!r}) is {out}, expected {expected} (it is {kind!r}).")


@one_thread
def check_is_balanced(fn: Callable) -> None:
    """`fn(s)` -> bool."""
    _check_bool_classifier(fn, "is_balanced")
    passed("is_balanced")


@one_thread
def check_failure_kind(fn: Callable) -> None:
    """`fn(s)` -> one of data.KINDS."""
    for s in _probe_set(2):
        out = call(fn, "failure_kind", s)
        expected = data.kind_of(s)
        if out == expected:
            continue
        if out not in data.KINDS:
            raise CheckFailure(f"failure_kind({s!r}) returned {out!r}; return one of {data.KINDS}.")
        elev = data.elevations(s)
        if expected == "both":
            raise CheckFailure(
                f"failure_kind({s!r}) is {out!r}, but {s!r} breaks both conditions (ends at {elev[-1]}, lowest "
                f"{min(elev)}): do not stop at the first failure you find."
            )
        if {out, expected} == {"total", "negative"}:
            raise CheckFailure(
                f"failure_kind({s!r}) is {out!r}, expected {expected!r}: 'total' means the final elevation is "
                "not 0, 'negative' means it dips below 0 (with a final elevation of 0). Are the two swapped?"
            )
        raise CheckFailure(f"failure_kind({s!r}) is {out!r}, expected {expected!r} (elevations {elev}).")
    passed("failure_kind")


@one_thread
def check_is_balanced_tokens(fn: Callable) -> None:
    """`fn(toks)` -> (batch,) bool."""
    strings = _probe_set(3, 300)
    toks = data.tokenize(strings)
    out = call(fn, "is_balanced_tokens", toks.clone())
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"is_balanced_tokens returned {type(out).__name__}; return a boolean tensor.")
    if out.shape != (len(strings),):
        raise CheckFailure(f"is_balanced_tokens returned shape {tuple(out.shape)}, expected ({len(strings)},): one per row.")
    expected = torch.tensor([data.is_balanced(s) for s in strings])
    wrong = (out.bool() != expected).nonzero().flatten().tolist()
    if not wrong:
        passed("is_balanced_tokens")
        return
    s = strings[wrong[0]]
    kinds = {data.kind_of(strings[i]) for i in wrong}
    if kinds == {"negative"} or kinds <= {"negative", "both"} and all(data.kind_of(strings[i]) == "negative" for i in wrong[:1]):
        raise CheckFailure(
            f"row {wrong[0]} ({s!r}) dips below zero but you call it balanced: also require the lowest elevation (min over positions) to be >= 0."
        )
    if all(not expected[i] for i in wrong) and "total" in kinds:
        raise CheckFailure(f"row {wrong[0]} ({s!r}) ends at elevation {data.elevations(s)[-1]}: require the last elevation to be 0.")
    if all(expected[i] for i in wrong):
        raise CheckFailure(
            f"row {wrong[0]} ({s!r}) is balanced but you reject it. Do [start], [end] or [pad] tokens count as brackets? "
            "Only data.OPEN and data.CLOSE tokens change the elevation."
        )
    raise CheckFailure(f"is_balanced_tokens is wrong on row {wrong[0]} ({s!r}, {data.kind_of(s)}).")


@one_thread
def check_model_says_balanced(fn: Callable, model) -> None:
    """`fn(model, toks)` -> (batch,) bool, read at position 0."""
    d = data.generate(200, seed=5)
    out = call(fn, "model_says_balanced", model, d.toks.clone())
    if not isinstance(out, torch.Tensor):
        raise CheckFailure(f"model_says_balanced returned {type(out).__name__}; return a boolean tensor.")
    if out.shape != (len(d),):
        raise CheckFailure(
            f"model_says_balanced returned shape {tuple(out.shape)}, expected ({len(d)},): one verdict per string, "
            "read at position 0 only."
        )
    logits = model(d.toks)
    expected = logits[:, 0, 1] > logits[:, 0, 0]
    out = out.bool()
    if torch.equal(out, expected):
        passed("model_says_balanced")
        return
    if torch.equal(out, ~expected):
        raise CheckFailure("Your verdicts are exactly reversed: BALANCED is index 1 and UNBALANCED index 0.")
    if torch.equal(out, logits[:, -1, 1] > logits[:, -1, 0]):
        raise CheckFailure("You read the last position (usually a [pad]); the answer is read at position 0, [start].")
    end = (d.toks == data.END).long().argmax(-1)
    at_end = logits[torch.arange(len(d)), end]
    if torch.equal(out, at_end[:, 1] > at_end[:, 0]):
        raise CheckFailure("You read the [end] position; the classifier's answer is at position 0, [start].")
    raise CheckFailure(f"model_says_balanced disagrees with the model's position-0 logits on {(out != expected).sum()} strings.")


@one_thread
def check_accuracy_per_kind(fn: Callable) -> None:
    """`fn(pred, truth, kinds)` -> {kind: accuracy}."""
    g = torch.Generator().manual_seed(0)
    d = data.generate(400, seed=6)
    pred = d.balanced.clone()
    flip = torch.rand(len(d), generator=g) < torch.tensor([{"balanced": 0.1, "total": 0.3, "negative": 0.5, "both": 0.2}[k] for k in d.kinds])
    pred[flip] = ~pred[flip]
    out = call(fn, "accuracy_per_kind", pred.clone(), d.balanced.clone(), list(d.kinds))
    expected = analysis.accuracy_by_kind(pred, d)
    if not isinstance(out, dict):
        raise CheckFailure(f"accuracy_per_kind returned {type(out).__name__}; return a dict {{kind: accuracy}}.")
    if set(out) != set(expected):
        raise CheckFailure(f"accuracy_per_kind has keys {sorted(out)}, expected the kinds present: {sorted(expected)}.")
    for k, v in expected.items():
        got = float(out[k])
        if abs(got - v) < 1e-6:
            continue
        mask = torch.tensor([x == k for x in d.kinds])
        if abs(got - float(pred[mask].float().mean())) < 1e-6:
            raise CheckFailure(f"for {k!r} you returned the share predicted balanced ({got:.3f}); accuracy is the share where pred == truth.")
        if abs(got - float((pred == d.balanced).float().mean())) < 1e-6:
            raise CheckFailure(f"for {k!r} you returned the overall accuracy ({got:.3f}); average over that kind's rows only.")
        if abs(got - float((pred == d.balanced)[mask].sum())) < 1e-6:
            raise CheckFailure(f"for {k!r} you returned a count ({got:.0f}); divide by the number of {k!r} strings.")
        raise CheckFailure(f"accuracy_per_kind[{k!r}] = {got:.4f}, expected {v:.4f}.")
    passed("accuracy_per_kind")
