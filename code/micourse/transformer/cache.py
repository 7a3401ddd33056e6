"""The KV cache: every layer's keys and values so far, so generation need not recompute the past.

In a causal model the keys and values at a position never change once that position exists
(later tokens cannot influence earlier ones). The model's own forward pass takes an optional
`KVCache` (as TransformerLens's `past_kv_cache`): each attention layer appends the new
positions' keys and values to its `LayerCache` and attends over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from jaxtyping import Float
from torch import Tensor


@dataclass
class LayerCache:
    """The keys and values one attention layer has computed so far ([batch pos head d_head])."""

    k: Float[Tensor, "batch pos head d_head"] | None = None
    v: Float[Tensor, "batch pos head d_head"] | None = None

    @property
    def n_pos(self) -> int:
        return 0 if self.k is None else self.k.shape[1]

    def append(self, k_new: Tensor, v_new: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions; return keys and values for ALL positions so far."""
        if self.k is not None and self.k.shape[0] != k_new.shape[0]:
            raise ValueError(f"The cache holds a batch of {self.k.shape[0]}, the new tokens {k_new.shape[0]}.")
        self.k = k_new if self.k is None else torch.cat([self.k, k_new], dim=1)
        self.v = v_new if self.v is None else torch.cat([self.v, v_new], dim=1)
        return self.k, self.v


@dataclass
class KVCache:
    layers: list[LayerCache] = field(default_factory=list)

    @classmethod
    def empty(cls, n_layers: int) -> KVCache:
        return cls([LayerCache() for _ in range(n_layers)])

    @property
    def n_pos(self) -> int:
        """How many positions are cached, i.e. the position of the next token."""
        return self.layers[0].n_pos if self.layers else 0

    def reorder_rows(self, origin: Tensor) -> None:
        """Row i of every layer's keys and values becomes row origin[i] (beam search: beams move,
        split or die; indexing also grows a one-row cache to len(origin) rows)."""
        for layer in self.layers:
            if layer.k is not None:
                layer.k, layer.v = layer.k[origin], layer.v[origin]
