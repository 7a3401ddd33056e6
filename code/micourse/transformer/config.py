"""The handful of numbers that fix a GPT-2's shape.

Field names follow TransformerLens's `HookedTransformerConfig` (with `layer_norm_eps` for its
`eps` and `init_range` for its `initializer_range`), so a page can move between the two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ACT_FNS = ("gelu_new", "gelu", "relu")


@dataclass
class Config:
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_head: int = 64
    d_mlp: int = 3072
    d_vocab: int = 50257
    n_ctx: int = 1024
    layer_norm_eps: float = 1e-5
    act_fn: str = "gelu_new"
    attn_only: bool = False
    init_range: float = 0.02

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layers", "n_heads", "d_head", "d_vocab", "n_ctx"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Config.{name} must be a positive integer, got {value!r}.")
        if not self.attn_only and (not isinstance(self.d_mlp, int) or self.d_mlp <= 0):
            raise ValueError(f"Config.d_mlp must be a positive integer (or set attn_only=True), got {self.d_mlp!r}.")
        if self.act_fn not in ACT_FNS:
            raise ValueError(f"Config.act_fn must be one of {ACT_FNS}, got {self.act_fn!r}.")

    @classmethod
    def gpt2_small(cls) -> Config:
        """The shape of OpenAI's 124M-parameter GPT-2 (the defaults)."""
        return cls()

    @classmethod
    def from_hooked(cls, cfg: Any) -> Config:
        """A `Config` for a TransformerLens `HookedTransformerConfig`, or a clear error.

        Only the GPT-2 family fits this implementation: LayerNorm, learned absolute positions,
        standard attention scaling, attention then MLP in sequence.
        """
        problems = []
        if getattr(cfg, "normalization_type", "LN") != "LN":
            problems.append(f"normalization_type={cfg.normalization_type!r} (only 'LN')")
        if getattr(cfg, "positional_embedding_type", "standard") != "standard":
            problems.append(f"positional_embedding_type={cfg.positional_embedding_type!r} (only 'standard')")
        if getattr(cfg, "parallel_attn_mlp", False):
            problems.append("parallel_attn_mlp=True")
        if not getattr(cfg, "use_attn_scale", True) or not math.isclose(
            getattr(cfg, "attn_scale", math.sqrt(cfg.d_head)), math.sqrt(cfg.d_head)
        ):
            problems.append("an attention scale other than sqrt(d_head)")
        if getattr(cfg, "attention_dir", "causal") != "causal":
            problems.append("bidirectional attention")
        if getattr(cfg, "n_key_value_heads", None) not in (None, cfg.n_heads):
            problems.append("grouped-query attention")
        d_vocab_out = getattr(cfg, "d_vocab_out", cfg.d_vocab)
        if d_vocab_out not in (-1, cfg.d_vocab):
            problems.append(f"d_vocab_out={d_vocab_out} different from d_vocab={cfg.d_vocab}")
        if problems:
            raise ValueError("This GPT-2 implementation cannot represent a model with " + "; ".join(problems) + ".")
        return cls(
            d_model=cfg.d_model,
            n_layers=cfg.n_layers,
            n_heads=cfg.n_heads,
            d_head=cfg.d_head,
            d_mlp=cfg.d_mlp if not cfg.attn_only else (cfg.d_mlp or 0),
            d_vocab=cfg.d_vocab,
            n_ctx=cfg.n_ctx,
            layer_norm_eps=float(cfg.eps),
            act_fn=cfg.act_fn,
            attn_only=cfg.attn_only,
            init_range=float(cfg.initializer_range),
        )

    def to_hooked(self, **overrides: Any):
        """The matching `HookedTransformerConfig` (handy for comparing with TransformerLens)."""
        from transformer_lens import HookedTransformerConfig

        kwargs: dict[str, Any] = dict(
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            d_head=self.d_head,
            d_vocab=self.d_vocab,
            n_ctx=self.n_ctx,
            eps=self.layer_norm_eps,
            act_fn=self.act_fn,
            attn_only=self.attn_only,
            initializer_range=self.init_range,
            normalization_type="LN",
            positional_embedding_type="standard",
        )
        if not self.attn_only:
            kwargs["d_mlp"] = self.d_mlp
        kwargs.update(overrides)
        return HookedTransformerConfig(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
