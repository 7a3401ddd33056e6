"""The course's reference GPT-2: small readable modules, TransformerLens's names and shapes.

    from micourse.models import load_reference
    model = load_reference("gpt2-small")  # raw (unprocessed) weights
    logits, cache = model.run_with_cache(tokens)  # TransformerLens's ActivationCache: cache["pattern", 0]
    cache = KVCache.empty(model.cfg.n_layers)
    logits = model(tokens, past_kv_cache=cache)  # then model(next_tokens, past_kv_cache=cache)

This package imports nothing from the page layer (`micourse.models`); `loading` imports
`model`, never the reverse.
"""

from micourse.transformer.attention import Attention, apply_causal_mask
from micourse.transformer.block import TransformerBlock
from micourse.transformer.cache import KVCache, LayerCache
from micourse.transformer.config import Config
from micourse.transformer.embed import Embed, PosEmbed
from micourse.transformer.hooks import HookPoint
from micourse.transformer.layernorm import LayerNorm
from micourse.transformer.mlp import MLP, gelu_new
from micourse.transformer.model import GPT2, validate_tokens
from micourse.transformer.unembed import Unembed

__all__ = [
    "GPT2",
    "Config",
    "LayerNorm",
    "Embed",
    "PosEmbed",
    "Unembed",
    "Attention",
    "apply_causal_mask",
    "MLP",
    "gelu_new",
    "TransformerBlock",
    "HookPoint",
    "validate_tokens",
    "KVCache",
    "LayerCache",
]
