"""Direct logit attribution: how much each component of the residual stream pushes the next token."""

from __future__ import annotations

import einops
from jaxtyping import Float, Int
from torch import Tensor


def logit_attribution(
    components: Float[Tensor, "component batch pos d_model"],
    W_U: Float[Tensor, "d_model d_vocab"],
    tokens: Int[Tensor, "batch pos"],
) -> Float[Tensor, "component batch pos_minus_1"]:
    """Each component's direct contribution to the logit of the actual next token.

    `components` must already carry the final LayerNorm's scale (`cache.apply_ln_to_stack`):
    LayerNorm divides the whole stream by one number per position, so the logit splits into a
    sum over components only after that division. Position p is scored on token p + 1.
    """
    if components.ndim != 4:
        raise ValueError(f"components should be (component, batch, pos, d_model), got {tuple(components.shape)}.")
    directions = W_U[:, tokens[:, 1:]]  # d_model batch pos-1
    return einops.einsum(components[:, :, :-1], directions, "c b p d, d b p -> c b p")
