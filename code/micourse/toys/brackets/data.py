"""Bracket strings for the classifier: balanced ones and each way of failing, in stated proportions.

A string of `(` and `)` is balanced when its total elevation (opens minus closes) is zero and the
elevation never goes below zero on the way. So an unbalanced string fails in one of three ways:

- ``"total"``: the elevation never goes negative but ends above zero (e.g. ``"(()"``);
- ``"negative"``: it ends at zero but dips below zero somewhere (e.g. ``"())("``);
- ``"both"``: it ends away from zero and dips below zero (e.g. ``"())"``).

(A total below zero always dips, so "total" strings all end above zero.)

The generator mixes the four kinds in fixed proportions (`PROPORTIONS`) and makes each kind hard to
tell apart by a shortcut: lengths are uniform within each kind, half the "total" strings have even
length (so parity alone does not decide), and half the "negative" and "both" strings are near
misses of a balanced string (a single dip to -1, or one bracket too many), so the first bracket or
a rough count does not decide either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

KINDS: tuple[str, ...] = ("balanced", "total", "negative", "both")
"""The four kinds of string, in the order every table and scorecard uses."""

PROPORTIONS: dict[str, float] = {"balanced": 0.4, "total": 0.2, "negative": 0.3, "both": 0.1}
"""The share of each kind in a batch: 40% balanced, and most weight on the hardest failure, "negative"."""

MIN_LEN, MAX_LEN = 2, 40
VOCAB: dict[str, int] = {"[start]": 0, "[pad]": 1, "[end]": 2, "(": 3, ")": 4}
START, PAD, END, OPEN, CLOSE = (VOCAB[t] for t in ("[start]", "[pad]", "[end]", "(", ")"))
N_CTX = MAX_LEN + 2  # [start] + up to 40 brackets + [end]


def elevations(s: str) -> list[int]:
    """The elevation after each bracket: +1 for `(`, -1 for `)`, summed from the left."""
    out, h = [], 0
    for c in s:
        if c not in "()":
            raise ValueError(f"a bracket string holds only '(' and ')', got {c!r} in {s!r}")
        h += 1 if c == "(" else -1
        out.append(h)
    return out


def kind_of(s: str) -> str:
    """Which of `KINDS` a string is: the ground truth every label comes from."""
    if not s:
        return "balanced"
    elev = elevations(s)
    total_bad, negative_bad = elev[-1] != 0, min(elev) < 0
    if total_bad and negative_bad:
        return "both"
    if total_bad:
        return "total"
    if negative_bad:
        return "negative"
    return "balanced"


def is_balanced(s: str) -> bool:
    """True when total elevation is zero and the elevation never goes negative."""
    return kind_of(s) == "balanced"


# ---- one string of each kind, of a given length -------------------------------------------------


def random_dyck(n: int, rng: np.random.Generator) -> str:
    """A balanced string of even length `n`, uniform over all balanced strings of that length.

    The cycle lemma: every sequence of n/2 opens and n/2 + 1 closes has exactly one rotation whose
    every proper prefix stays >= 0; dropping that rotation's final `)` leaves a uniform Dyck word.
    """
    if n % 2:
        raise ValueError(f"a balanced string has even length, got {n}")
    k = n // 2
    steps = np.array([1] * k + [-1] * (k + 1))
    rng.shuffle(steps)
    heights = np.cumsum(steps)
    start = int(np.argmin(heights)) + 1  # the rotation starts just after the first lowest point
    rotated = np.roll(steps, -start)
    return "".join("(" if x == 1 else ")" for x in rotated[:-1])


def _insert(s: str, chars: str, rng: np.random.Generator) -> str:
    for c in chars:
        i = int(rng.integers(0, len(s) + 1))
        s = s[:i] + c + s[i:]
    return s


def _ground_positions(s: str) -> list[int]:
    """Cut points where the elevation is zero (before the first bracket counts)."""
    return [0] + [i + 1 for i, h in enumerate(elevations(s)) if h == 0]


def _total(n: int, rng: np.random.Generator) -> str:
    """Never negative, ends at h > 0: a balanced string with h extra `(` dropped in anywhere."""
    choices = [h for h in range(1, n + 1) if (n - h) % 2 == 0]
    # small h are the hard cases (one bracket too many); h = 1 and h = 2 come up about equally
    weights = np.array([1.0 / h for h in choices])
    h = int(rng.choice(choices, p=weights / weights.sum()))
    return _insert(random_dyck(n - h, rng), "(" * h, rng)


def _negative(n: int, rng: np.random.Generator) -> str:
    """Ends at zero, dips below: either a shuffle of n/2 of each, or a balanced string with `)(` at ground."""
    if rng.random() < 0.5:
        while True:
            steps = np.array(list("(" * (n // 2) + ")" * (n // 2)))
            rng.shuffle(steps)
            s = "".join(steps)
            if kind_of(s) == "negative":
                return s
    base = random_dyck(n - 2, rng)
    cut = int(rng.choice(_ground_positions(base)))
    return base[:cut] + ")(" + base[cut:]


def _both(n: int, rng: np.random.Generator) -> str:
    """Ends away from zero and dips: a random string, or a near miss (one `)` too many, or `)(` plus extras)."""
    while True:
        r = rng.random()
        if r < 0.5:
            s = "".join(rng.choice(["(", ")"], size=n))
        elif r < 0.75:
            k = 1 if n % 2 else 2
            s = _insert(random_dyck(n - k, rng), ")" * k, rng)
        else:
            m = n - 2 - (1 if n % 2 else 2)
            if m < 0:
                continue
            base = random_dyck(m, rng)
            cut = int(rng.choice(_ground_positions(base)))
            s = base[:cut] + ")(" + base[cut:]
            s = _insert(s, rng.choice(["(", ")"], size=n - len(s)), rng)
        if kind_of(s) == "both":
            return s


def _lengths(kind: str) -> list[int]:
    if kind in ("balanced", "negative"):
        return list(range(MIN_LEN, MAX_LEN + 1, 2))
    return list(range(MIN_LEN, MAX_LEN + 1))


def random_string(kind: str, rng: np.random.Generator, n: int | None = None) -> str:
    """One string of `kind` (one of `KINDS`), of length `n` or a length uniform over that kind's lengths."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    allowed = _lengths(kind)
    if n is None:
        n = int(rng.choice(allowed))
    elif n not in allowed:
        raise ValueError(f"no {kind!r} string has length {n}; allowed lengths: {allowed[0]}..{allowed[-1]}")
    s = {"balanced": random_dyck, "total": _total, "negative": _negative, "both": _both}[kind](n, rng)
    assert kind_of(s) == kind and len(s) == n, (kind, s)
    return s


@dataclass
class BracketData:
    """Strings with their kinds, labels and tokens, ready for the model."""

    strings: list[str]
    kinds: list[str]
    toks: Int[Tensor, "batch n_ctx"]
    balanced: torch.BoolTensor

    def __len__(self) -> int:
        return len(self.strings)

    def of_kind(self, kind: str) -> "BracketData":
        idx = [i for i, k in enumerate(self.kinds) if k == kind]
        return BracketData([self.strings[i] for i in idx], [kind] * len(idx), self.toks[idx], self.balanced[idx])


def from_strings(strings: list[str]) -> BracketData:
    """Wrap given strings (e.g. ones you wrote by hand) as a `BracketData`."""
    kinds = [kind_of(s) for s in strings]
    return BracketData(list(strings), kinds, tokenize(strings), torch.tensor([k == "balanced" for k in kinds]))


def generate(n: int, seed: int, proportions: dict[str, float] | None = None) -> BracketData:
    """`n` strings, each kind's count fixed by `proportions` (default `PROPORTIONS`), shuffled.

    Counts are exact (rounded, the remainder going to "balanced"), so a batch's mix is what the
    proportions say, not a random draw around it.
    """
    props = PROPORTIONS if proportions is None else proportions
    if set(props) - set(KINDS) or abs(sum(props.values()) - 1) > 1e-9:
        raise ValueError(f"proportions must be over {KINDS} and sum to 1, got {props}")
    rng = np.random.default_rng(seed)
    counts = {k: int(round(n * props.get(k, 0.0))) for k in KINDS}
    counts["balanced"] += n - sum(counts.values())
    kinds = [k for k in KINDS for _ in range(counts[k])]
    rng.shuffle(kinds)
    return from_strings([random_string(k, rng) for k in kinds])


def tokenize(strings: list[str], n_ctx: int = N_CTX) -> Int[Tensor, "batch n_ctx"]:
    """`[start]`, one token per bracket, `[end]`, then `[pad]` up to `n_ctx`."""
    out = torch.full((len(strings), n_ctx), PAD, dtype=torch.long)
    for i, s in enumerate(strings):
        if len(s) > n_ctx - 2:
            raise ValueError(f"string of length {len(s)} does not fit in n_ctx={n_ctx} (at most {n_ctx - 2} brackets)")
        elevations(s)  # validates the characters
        out[i, 0] = START
        out[i, 1 : len(s) + 1] = torch.tensor([OPEN if c == "(" else CLOSE for c in s], dtype=torch.long)
        out[i, len(s) + 1] = END
    return out


def detokenize(toks: Int[Tensor, " n_ctx"]) -> str:
    """The bracket string inside one row of tokens (drops [start], [end], [pad])."""
    return "".join("(" if t == OPEN else ")" for t in toks.tolist() if t in (OPEN, CLOSE))
