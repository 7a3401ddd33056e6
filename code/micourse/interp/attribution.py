"""Direct logit attribution: how much each component of the residual stream pushes the next token."""

from __future__ import annotations

import logging

import einops
import torch
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


def residual_components(
    cache, model, layer: int = -1, apply_ln: bool = False
) -> tuple[Float[Tensor, "component batch pos d_model"], list[str]]:
    """The residual stream before `layer` (-1: the final stream) split into heads, embeddings and biases.

    TransformerLens's `get_full_resid_decomposition`, minus its `pos_embed` row for shortformer
    models (there the positional embedding never enters the residual stream), so that the
    components always add up to the stream.
    """
    previous = logging.root.manager.disable
    logging.disable(
        logging.WARNING
    )  # TransformerLens logs "Tried to compute head results when they were already cached"
    try:
        parts, labels = cache.get_full_resid_decomposition(
            layer=layer, expand_neurons=False, apply_ln=apply_ln, return_labels=True
        )
    finally:
        logging.disable(previous)
    if model.cfg.positional_embedding_type == "shortformer" and "pos_embed" in labels:
        keep = [i for i, name in enumerate(labels) if name != "pos_embed"]
        parts, labels = parts[keep], [labels[i] for i in keep]
    return parts, labels


def attention_input_components(
    cache, model, layer: int
) -> tuple[Float[Tensor, "component batch pos d_model"], list[str]]:
    """What `layer`'s queries and keys read, split into components that add up to it.

    The residual stream's components pass through the layer's LayerNorm (its scale taken from the
    cache); shortformer models then add the positional embedding, unscaled, as its own component.
    """
    parts, labels = residual_components(cache, model, layer=layer, apply_ln=True)
    if model.cfg.positional_embedding_type == "shortformer":
        pos = cache["hook_pos_embed"]
        parts = torch.cat([parts, pos[None].expand(1, *parts.shape[1:])])
        labels = labels + ["pos_embed"]
    return parts, labels
