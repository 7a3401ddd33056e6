"""The course's reference GPT-2: small readable modules, TransformerLens's names and shapes.

    from micourse.transformer import GPT2, Config
    model = micourse.models.load_reference("gpt2-small")  # raw (unprocessed) weights
    logits, cache = model.run_with_cache(tokens)
"""

from micourse.transformer.attention import Attention, apply_causal_mask
from micourse.transformer.block import TransformerBlock
from micourse.transformer.config import Config
from micourse.transformer.embed import Embed, PosEmbed
from micourse.transformer.hooks import HookPoint
from micourse.transformer.layernorm import LayerNorm
from micourse.transformer.mlp import MLP, gelu_new
from micourse.transformer.model import GPT2, validate_tokens
from micourse.transformer.unembed import Unembed

__all__ = [
    "GPT2", "Config", "LayerNorm", "Embed", "PosEmbed", "Unembed", "Attention", "apply_causal_mask",
    "MLP", "gelu_new", "TransformerBlock", "HookPoint", "validate_tokens",
]
