"""The comparison machinery every chapter's checkers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch


class CheckFailure(AssertionError):
    """An exercise answer that does not match the reference; the message says how."""


@dataclass(frozen=True)
class Diagnosis:
    """A known mistake: if `matches(actual)` is true, `hint` explains it.

    `matches` gets the learner's output (already known to be wrong) and returns True when the
    output looks like what this mistake would produce, e.g. "equals the reference computed
    with epsilon outside the square root".
    """

    matches: Callable[[torch.Tensor], bool]
    hint: str


def passed(what: str) -> None:
    print(f"\u2714 {what}: all checks passed.")


def _fmt_index(idx: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def check_close(
    actual: Any,
    expected: torch.Tensor,
    *,
    what: str = "your output",
    atol: float = 1e-5,
    rtol: float = 1e-4,
    diagnoses: Sequence[Diagnosis] = (),
    hint: str | None = None,
) -> None:
    """Raise `CheckFailure` unless `actual` is a tensor of `expected`'s shape and close to it."""
    if actual is None:
        raise CheckFailure(f"{what} is None: did you forget to `return` the result?")
    if not isinstance(actual, torch.Tensor):
        raise CheckFailure(f"{what} should be a torch.Tensor, got {type(actual).__name__}.")
    if tuple(actual.shape) != tuple(expected.shape):
        raise CheckFailure(
            f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}."
            + (f"\nHint: {hint}" if hint else "")
        )
    if actual.is_floating_point() != expected.is_floating_point():
        raise CheckFailure(f"{what} has dtype {actual.dtype}, expected {expected.dtype}.")
    a = actual.detach().to("cpu")
    e = expected.detach().to("cpu")
    if a.is_floating_point():
        a, e = a.double(), e.double()
        bad = ~torch.isclose(a, e, atol=atol, rtol=rtol, equal_nan=False)
    else:
        bad = a != e
    if not bool(bad.any()):
        return
    idx = torch.nonzero(bad)[0].tolist()
    n_bad, n_all = int(bad.sum()), bad.numel()
    msg = (
        f"{what} has the right shape {tuple(expected.shape)} but {n_bad} of {n_all} entries differ. "
        f"First: at index {_fmt_index(idx)} you have {a[tuple(idx)].item():.6g}, expected {e[tuple(idx)].item():.6g}."
    )
    if a.is_floating_point() and torch.isnan(a).any():
        msg += "\nYour output contains NaN: look for 0/0, log(0) or inf - inf."
    for d in diagnoses:
        try:
            hit = d.matches(actual.detach())
        except Exception:  # a diagnosis must never hide the real message
            hit = False
        if hit:
            msg += f"\nLikely mistake: {d.hint}"
            break
    else:
        if hint:
            msg += f"\nHint: {hint}"
    raise CheckFailure(msg)


def check_function(
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    inputs: Sequence[tuple],
    *,
    what: str,
    diagnoses_for: Callable[[tuple], Sequence[Diagnosis]] | None = None,
    hint: str | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> None:
    """Call `fn` and `reference` on each argument tuple and compare their outputs."""
    if not callable(fn):
        raise CheckFailure(f"Pass the function itself (e.g. `{what}`), not {type(fn).__name__}.")
    for args in inputs:
        try:
            actual = fn(*args)
        except NotImplementedError:
            raise
        except Exception as err:  # show the learner's own error, framed
            raise CheckFailure(f"{what} raised {type(err).__name__}: {err}") from err
        expected = reference(*args)
        diagnoses = diagnoses_for(args) if diagnoses_for else ()
        check_close(actual, expected, what=f"{what}'s output", atol=atol, rtol=rtol, diagnoses=diagnoses, hint=hint)
    passed(what)
