"""Progress measures over training, and the rules the grokking pages use to name its phases.

Nanda et al. (2023) split grokking into memorisation, circuit formation and clean-up. The rules
here turn that into numbers: memorisation ends when the training loss first falls below
`MEMORISED_LOSS`; circuit formation ends when the excluded loss on the training pairs peaks (the
fit relies most on the key frequencies); clean-up ends when the held-out loss first falls below
`CLEAN_LOSS`. `GENERALISED_ACC` dates 99% held-out accuracy.
"""

from __future__ import annotations

import torch
from jaxtyping import Float

MEMORISED_LOSS = 1e-2
GENERALISED_ACC = 0.99
CLEAN_LOSS = 1e-2


def weight_norm_sq(state: dict[str, torch.Tensor]) -> float:
    """The sum of squares of every parameter (what weight decay pulls down); buffers are skipped."""
    return float(sum(v.double().pow(2).sum() for k, v in state.items() if not k.endswith((".IGNORE", ".mask"))))


def first_step_below(
    steps: list[int] | torch.Tensor, values: list[float] | torch.Tensor, threshold: float
) -> int | None:
    """The first step at which `values` is strictly below `threshold` (None if it never is)."""
    steps, values = torch.as_tensor(steps), torch.as_tensor(values, dtype=torch.float64)
    if steps.shape != values.shape:
        raise ValueError(
            f"steps and values must have the same length, got {tuple(steps.shape)} and {tuple(values.shape)}."
        )
    hits = (values < threshold).nonzero()
    return None if len(hits) == 0 else int(steps[hits[0, 0]])


def gini(x: Float[torch.Tensor, " n"]) -> float:
    """Gini coefficient of non-negative numbers: 0 when all are equal, near 1 when one holds everything."""
    x = torch.as_tensor(x, dtype=torch.float64).flatten()
    if len(x) == 0 or (x < 0).any():
        raise ValueError("gini needs a non-empty tensor of non-negative numbers.")
    n = len(x)
    xs = x.sort().values
    ranks = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * ranks - n - 1) * xs).sum() / (n * xs.sum()))


def phases(measures: dict[str, torch.Tensor]) -> dict[str, int | None]:
    """The step at which each phase ends, from a checkpoints file's `measure.*` tensors."""
    steps = measures["step"]
    return {
        "memorisation_ends": first_step_below(steps, measures["train_loss"], MEMORISED_LOSS),
        "circuit_formation_ends": int(steps[int(measures["excluded_loss_train"].argmax())]),
        "generalised": first_step_below(steps, 1 - measures["test_accuracy"], 1 - GENERALISED_ACC + 1e-9),
        "clean_up_ends": first_step_below(steps, measures["test_loss"], CLEAN_LOSS),
    }
