"""How well a bracket classifier does on fresh strings of each kind, lengths 2-40.

Two tests: strings from the course's generator with a seed training never used, and an
independent check, random strings from a plain coin-flip process (a different distribution, so a
model that only learned the generator's habits is caught), sorted by kind.
"""

from __future__ import annotations

import numpy as np
import torch

from micourse.toys.brackets import data
from micourse.toys.brackets.model import BALANCED

SCORE_SEED = 10_000  # training uses seeds below this


@torch.no_grad()
def predict(model, toks: torch.Tensor, batch: int = 2000) -> torch.BoolTensor:
    """True where the model says "balanced"."""
    out = [model(toks[i : i + batch])[:, 0].argmax(-1) == BALANCED for i in range(0, len(toks), batch)]
    return torch.cat(out)


def accuracy_by_kind(model, d: data.BracketData) -> dict[str, float]:
    """Accuracy on each kind present in `d`."""
    right = predict(model, d.toks) == d.balanced
    kinds = np.array(d.kinds)
    return {k: float(right[torch.from_numpy(kinds == k)].float().mean()) for k in data.KINDS if (kinds == k).any()}


def coin_flip_strings(n_per_kind: int, seed: int) -> data.BracketData:
    """`n_per_kind` strings of each kind from fair coin flips of a uniform length (balanced: kept when they come up)."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[str]] = {k: [] for k in data.KINDS}
    while min(len(v) for v in found.values()) < n_per_kind:
        n = int(rng.integers(data.MIN_LEN, data.MAX_LEN + 1))
        if n % 2 and all(len(found[k]) >= n_per_kind for k in ("total", "both")):
            continue
        p_open = rng.uniform(0.3, 0.7)
        s = "".join(np.where(rng.random(n) < p_open, "(", ")"))
        k = data.kind_of(s)
        if len(found[k]) < n_per_kind:
            found[k].append(s)
    return data.from_strings([s for k in data.KINDS for s in found[k]])


def scorecard(model, n: int = 8000, seed: int = SCORE_SEED) -> dict[str, dict[str, float]]:
    """Accuracy per kind on `n` fresh generator strings and on coin-flip strings (n / 4 per kind)."""
    model.eval()
    return {
        "generator": accuracy_by_kind(model, data.generate(n, seed)),
        "coin_flips": accuracy_by_kind(model, coin_flip_strings(n // 4, seed + 1)),
    }


if __name__ == "__main__":
    from micourse.toys.brackets.model import load

    torch.set_num_threads(1)
    for test, acc in scorecard(load()).items():
        print(test, {k: round(v, 4) for k, v in acc.items()})
