"""Small tensor operations the first pages teach, as reference implementations.

The pipeline-check page's stable softmax and the Foundations page's broadcasting example live
here (not inside their checkers), so that a page, a checker and a test all use the same one.
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor


def softmax(x: Float[Tensor, "... n"]) -> Float[Tensor, "... n"]:
    """Softmax over the last axis, stable for large inputs: the row maximum is subtracted first."""
    e = (x - x.amax(dim=-1, keepdim=True)).exp()
    return e / e.sum(dim=-1, keepdim=True)


def pairwise_distances(x: Float[Tensor, "n d"], y: Float[Tensor, "m d"]) -> Float[Tensor, "n m"]:
    """Euclidean distance between every row of x and every row of y, by broadcasting (no loop)."""
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).sqrt()
