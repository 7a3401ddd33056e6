"""The handful of numbers that fix a GPT-2's shape.

Field names follow TransformerLens's `HookedTransformerConfig` (with `layer_norm_eps` for its
`eps` and `init_range` for its `initializer_range`), so a page can move between the two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

ACT_FNS = ("gelu_new", "gelu", "relu")

# What each `Config` field is called in TransformerLens's `HookedTransformerConfig` and in Hugging
# Face's `GPT2Config`: the one table every conversion between the three reads.
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "d_model": ("d_model", "n_embd"),
    "n_layers": ("n_layers", "n_layer"),
    "n_heads": ("n_heads", "n_head"),
    "d_mlp": ("d_mlp", "n_inner"),
    "d_vocab": ("d_vocab", "vocab_size"),
    "n_ctx": ("n_ctx", "n_positions"),
    "layer_norm_eps": ("eps", "layer_norm_epsilon"),
    "act_fn": ("act_fn", "activation_function"),
    "init_range": ("initializer_range", "initializer_range"),
}


def hooked_to_hf_fields(cfg: Any) -> dict[str, Any]:
    """A `HookedTransformerConfig`'s shape as `GPT2Config` keyword arguments."""
    return {hf: getattr(cfg, tl) for tl, hf in FIELD_NAMES.values()}


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
        values = {field: getattr(cfg, tl) for field, (tl, _) in FIELD_NAMES.items()}
        values["d_mlp"] = values["d_mlp"] or 0 if cfg.attn_only else values["d_mlp"]
        values["layer_norm_eps"], values["init_range"] = float(values["layer_norm_eps"]), float(values["init_range"])
        return cls(**values, d_head=cfg.d_head, attn_only=cfg.attn_only)

    def to_hooked(self, **overrides: Any):
        """The matching `HookedTransformerConfig` (handy for comparing with TransformerLens)."""
        from transformer_lens import HookedTransformerConfig

        kwargs: dict[str, Any] = {tl: getattr(self, field) for field, (tl, _) in FIELD_NAMES.items()}
        kwargs.update(d_head=self.d_head, attn_only=self.attn_only, normalization_type="LN")
        kwargs["positional_embedding_type"] = "standard"
        if self.attn_only:
            del kwargs["d_mlp"]
        kwargs.update(overrides)
        return HookedTransformerConfig(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
