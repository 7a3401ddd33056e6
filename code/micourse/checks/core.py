"""The toolkit every checker is built from.

- `call`: run the learner's code; their own error comes back framed ("split_heads raised ..."),
  `NotImplementedError` (a stub) and `CheckFailure` pass through untouched.
- `assert_close`: compare a tensor with the reference: type, shape, dtype, the first differing
  entry, within a tolerance; on a mismatch, name the known mistake that reproduces the output.
- `like`, `same`, `Diagnosis`: describe known mistakes ("equals the reference computed with
  epsilon outside the square root").
- `build_module`, `copy_weights`, `check_module_against`: check a learner's `nn.Module` class
  against the reference module on the same weights.
- `check_function`: all of it for a plain function compared with its reference on a few inputs.

Reference implementations live in the package modules they belong to (`micourse.transformer`,
`micourse.sampling`, ...); checkers only compare with them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

ATOL, RTOL = 1e-5, 1e-4


class CheckFailure(AssertionError):
    """An exercise answer that does not match the reference; the message says how."""


@dataclass(frozen=True)
class Diagnosis:
    """A known mistake: if `matches(actual)` is true, `hint` explains it.

    `matches` gets the learner's output (already known to be wrong) and returns True when the
    output looks like what this mistake would produce.
    """

    matches: Callable[[Any], bool]
    hint: str


def passed(what: str) -> None:
    print(f"\u2714 {what}: all checks passed.")


# --------------------------------------------------------------------------- calling the learner


def call(
    fn: Any,
    *args: Any,
    what: str,
    no_grad: bool = False,
    advice: Callable[[Exception], str | None] | None = None,
) -> Any:
    """`fn(*args)`, with any error of the learner's code turned into a `CheckFailure` naming `what`.

    `advice(err)` may add a hint for an error with a known cause (e.g. a shape mismatch).
    """
    if not callable(fn):
        name = what.split("(")[0].split()[0]
        raise CheckFailure(f"Pass the function itself (e.g. `{name}`), not {type(fn).__name__}.")
    try:
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            return fn(*args)
    except (NotImplementedError, CheckFailure):
        raise
    except Exception as err:  # show the learner's own error, framed
        extra = advice(err) if advice else None
        raise CheckFailure(
            f"{what} raised {type(err).__name__}: {err}" + (f"\nHint: {extra}" if extra else "")
        ) from err


# --------------------------------------------------------------------------- comparing tensors


def same(actual: Any, expected: Tensor, *, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Whether `actual` is a tensor of `expected`'s shape, close to it (NaNs equal)."""
    if not isinstance(actual, Tensor) or tuple(actual.shape) != tuple(expected.shape):
        return False
    if not actual.is_floating_point() and not expected.is_floating_point():
        return bool(torch.equal(actual.cpu().long(), expected.cpu().long()))
    return bool(
        torch.allclose(actual.detach().double(), expected.detach().double(), atol=atol, rtol=rtol, equal_nan=True)
    )


def like(variant: Tensor | Callable[[], Tensor], hint: str, *, atol: float = ATOL, rtol: float = 1e-3) -> Diagnosis:
    """A diagnosis that fires when the learner's output equals `variant` (a known mistake's output).

    `variant` may be a function computing it, run only when needed (under no_grad).
    """

    def matches(actual: Any) -> bool:
        with torch.no_grad():
            expected = variant() if callable(variant) else variant
        return same(actual, expected, atol=atol, rtol=rtol)

    return Diagnosis(matches, hint)


def diagnose(actual: Any, diagnoses: Sequence[Diagnosis]) -> str | None:
    """The hint of the first known mistake that reproduces `actual` (None if none does)."""
    for d in diagnoses:
        try:
            hit = d.matches(actual.detach() if isinstance(actual, Tensor) else actual)
        except Exception:  # a diagnosis must never hide the real message
            hit = False
        if hit:
            return d.hint
    return None


def _fmt_index(idx: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _explain(msg: str, actual: Any, diagnoses: Sequence[Diagnosis], hint: str | None) -> str:
    mistake = diagnose(actual, diagnoses)
    if mistake:
        return f"{msg}\nLikely mistake: {mistake}"
    return f"{msg}\nHint: {hint}" if hint else msg


def assert_close(
    actual: Any,
    expected: Tensor,
    *,
    what: str = "your output",
    atol: float = ATOL,
    rtol: float = RTOL,
    diagnoses: Sequence[Diagnosis] = (),
    hint: str | None = None,
) -> None:
    """Raise `CheckFailure` unless `actual` is a tensor of `expected`'s shape and kind, close to it."""
    if actual is None:
        raise CheckFailure(f"{what} is None: did you forget to `return` the result?")
    if not isinstance(actual, Tensor):
        raise CheckFailure(f"{what} should be a torch.Tensor, got {type(actual).__name__}.")
    if tuple(actual.shape) != tuple(expected.shape):
        raise CheckFailure(
            _explain(
                f"{what} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}.", actual, diagnoses, hint
            )
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
    idx = tuple(torch.nonzero(bad)[0].tolist())
    msg = (
        f"{what} has the right shape {tuple(expected.shape)} but {int(bad.sum())} of {bad.numel()} entries differ. "
        f"First: at index {_fmt_index(idx)} you have {a[idx].item():.6g}, expected {e[idx].item():.6g}."
    )
    if a.is_floating_point() and torch.isnan(a).any():
        msg += "\nYour output contains NaN: look for 0/0, log(0) or inf - inf."
    raise CheckFailure(_explain(msg, actual, diagnoses, hint))


check_close = assert_close  # the name the first checkers used


def check_function(
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    inputs: Sequence[tuple],
    *,
    what: str,
    diagnoses_for: Callable[[tuple], Sequence[Diagnosis]] | None = None,
    hint: str | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> None:
    """Call `fn` and `reference` on each argument tuple and compare their outputs."""
    for args in inputs:
        actual = call(fn, *args, what=what)
        expected = reference(*args)
        diagnoses = diagnoses_for(args) if diagnoses_for else ()
        assert_close(actual, expected, what=f"{what}'s output", atol=atol, rtol=rtol, diagnoses=diagnoses, hint=hint)
    passed(what)


# --------------------------------------------------------------------------- modules


def build_module(learner_cls: Any, what: str, *args: Any) -> nn.Module:
    """Instantiate the learner's `nn.Module` class with `args` (e.g. the config), clearly."""
    if isinstance(learner_cls, nn.Module):
        raise CheckFailure(f"Pass the class {what} itself, not an instance: check_...({what}), not {what}(cfg).")
    if not isinstance(learner_cls, type):
        raise CheckFailure(f"Pass your class {what} (a subclass of nn.Module), got {type(learner_cls).__name__}.")
    module = call(learner_cls, *args, what=f"{what}(cfg)")
    if not isinstance(module, nn.Module):
        raise CheckFailure(f"{what} should subclass nn.Module (did you forget `super().__init__()`?).")
    return module


def copy_weights(learner: nn.Module, reference: nn.Module, what: str) -> None:
    """Give the learner's module the reference's weights, matching parameters by name."""
    ours = dict(reference.named_parameters())
    theirs = dict(learner.named_parameters())
    missing = [k for k in ours if k not in theirs]
    if missing:
        shapes = ", ".join(f"{k} {tuple(ours[k].shape)}" for k in missing[:6])
        raise CheckFailure(
            f"{what} has no parameter named {missing[0]!r}. The checker copies weights by name, using "
            f"TransformerLens's names; missing: {shapes}. Create them as nn.Parameter attributes "
            "with exactly these names (sub-modules too: ln1, attn, ln2, mlp, ...)."
        )
    extra = [k for k in theirs if k not in ours]
    if extra:
        raise CheckFailure(
            f"{what} has parameters the reference does not: {extra[:6]}. The reference has exactly "
            f"{sorted(ours)[:8]}{' ...' if len(ours) > 8 else ''}; remove or rename the others."
        )
    with torch.no_grad():
        for name, p in ours.items():
            q = theirs[name]
            if tuple(q.shape) != tuple(p.shape):
                raise CheckFailure(f"{what}.{name} has shape {tuple(q.shape)}, expected {tuple(p.shape)}.")
            q.copy_(p)


def first_wrong_part(
    learner: nn.Module, reference: nn.Module, inputs: Mapping[str, Tensor], *, atol: float = ATOL, rtol: float = RTOL
) -> str | None:
    """The name of the first sub-module (of `inputs`' keys) whose output alone is already wrong."""
    for name, x in inputs.items():
        try:  # dotted names reach into containers: "blocks.0"
            mine, ref = learner.get_submodule(name), reference.get_submodule(name)
        except AttributeError:
            continue
        try:
            with torch.no_grad():
                out, expected = mine(x), ref(x)
        except NotImplementedError:
            raise
        except Exception:
            continue
        if not same(out, expected, atol=atol, rtol=rtol):
            return name
    return None


def check_module_against(
    learner_cls: Any,
    reference: nn.Module,
    *args: Tensor,
    what: str,
    cfg: Any,
    mistakes: Sequence[tuple[Callable[[], Tensor], str]] = (),
    parts: Callable[[], Mapping[str, Tensor]] | None = None,
    hint: str | None = None,
    atol: float = ATOL,
    rtol: float = RTOL,
) -> nn.Module:
    """Build the learner's class, give it `reference`'s weights, run both on `args`, compare.

    `mistakes` are (function computing a classic mistake's output, its hint); `parts()` gives
    the input of each sub-module, so that a wrong sub-module is named before the whole.
    """
    mine = build_module(learner_cls, what, cfg)
    copy_weights(mine, reference, what)
    mine.eval()
    actual = call(mine, *args, what=f"{what}.forward", no_grad=True)
    with torch.no_grad():
        expected = reference(*args)
    if not same(actual, expected, atol=atol, rtol=rtol) and parts is not None:
        wrong = first_wrong_part(mine, reference, parts(), atol=atol, rtol=rtol)
        if wrong:
            wrong = re.sub(r"\.(\d+)", r"[\1]", wrong)  # blocks.0 -> blocks[0], as the learner indexes it
            raise CheckFailure(
                f"{what}.{wrong} alone already gives a wrong output: fix it first (run its own checker), "
                f"then check {what} again."
            )
    assert_close(
        actual,
        expected,
        what=f"{what}'s output",
        atol=atol,
        rtol=rtol,
        diagnoses=[like(f, h, atol=atol) for f, h in mistakes],
        hint=hint,
    )
    return mine
