"""What each stand-in is: its architecture, and what it was trained to show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StandInSpec:
    name: str  # the TransformerLens name it stands in for
    summary: str  # one line, printed whenever it loads
    cfg: dict[str, Any] = field(default_factory=dict)  # HookedTransformerConfig keyword arguments

    @property
    def weights_file(self) -> str:
        return f"{self.name}.safetensors"


_GPT2_VOCAB = dict(d_vocab=50257, d_vocab_out=50257, tokenizer_prepends_bos=False, default_prepend_bos=True)

STANDINS: dict[str, StandInSpec] = {
    "gpt2-small": StandInSpec(
        name="gpt2-small",
        summary=(
            "a 4-layer GPT-2-style model trained by this course on two public-domain Bibles (King James, World English) plus "
            "synthetic facts, indirect-object and sentiment sentences"
        ),
        cfg=dict(
            n_layers=4,
            d_model=128,
            n_heads=4,
            d_head=32,
            d_mlp=512,
            n_ctx=256,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            original_architecture="GPT2LMHeadModel",
            **_GPT2_VOCAB,
        ),
    ),
    "attn-only-2l": StandInSpec(
        name="attn-only-2l",
        summary=(
            "a 2-layer attention-only model trained by this course on sequences of repeated "
            "random tokens, where only an induction circuit lowers the loss"
        ),
        cfg=dict(
            n_layers=2,
            d_model=128,
            n_heads=4,
            d_head=32,
            n_ctx=256,
            attn_only=True,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            **_GPT2_VOCAB,
        ),
    ),
}

ALIASES = {"gpt2": "gpt2-small", "gpt2-small": "gpt2-small", "attn-only-2l": "attn-only-2l"}
