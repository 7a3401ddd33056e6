"""Checker for the pipeline-check page's one exercise: a numerically stable softmax.

The exercise is small on purpose: the page exists to prove that stubs, solutions, hints and
checkers all work end to end (site, Colab notebooks, CI), not to teach much.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from micourse.checks.core import Diagnosis, check_function
from micourse.tensors import softmax as reference_softmax


def _inputs() -> list[tuple[Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (torch.randn(3, 5, generator=g),),
        (torch.randn(2, 4, 6, generator=g) * 3,),
        # large logits: exp overflows to inf unless the maximum is subtracted first
        (torch.tensor([[1000.0, 999.0, 998.0], [-5.0, 0.0, 5.0]]),),
    ]


def _diagnoses(args: tuple[Tensor]) -> list[Diagnosis]:
    (x,) = args
    return [
        Diagnosis(
            matches=lambda out: bool(torch.isnan(out).any()) and bool((x.abs() > 80).any()),
            hint="exp() overflows for large inputs: subtract each row's maximum before exponentiating.",
        ),
        Diagnosis(
            matches=lambda out: (
                x.ndim >= 2 and torch.allclose(out.double(), torch.softmax(x.double(), dim=0), atol=1e-5)
            ),
            hint="you normalised over the first axis; softmax here runs over the last axis (dim=-1).",
        ),
        Diagnosis(
            matches=lambda out: torch.allclose(out.double(), (x - x.amax(-1, keepdim=True)).exp().double(), atol=1e-5),
            hint="the exponentials are right but not normalised: divide by their sum over the last axis.",
        ),
    ]


def check_softmax(softmax: Callable[[Tensor], Tensor]) -> None:
    """Compare the learner's `softmax` with the reference on ordinary and very large inputs."""
    check_function(
        softmax,
        reference_softmax,
        _inputs(),
        what="softmax",
        diagnoses_for=_diagnoses,
        hint="each row of the output should be positive and sum to 1.",
    )
