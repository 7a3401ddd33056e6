"""The bracket classifier's architecture, and loading the course's trained weights.

ARENA's architecture (set 1.5.1): 3 layers, d_model 56, 2 heads of 28, d_mlp 56, ReLU,
LayerNorm, bidirectional attention, n_ctx 42, the five tokens of `data.VOCAB`, and two output
classes read at the `[start]` position (index 0 = unbalanced, 1 = balanced).

`[pad]` tokens are hidden from every head: a permanent hook sets the attention score of every
pad key to a large negative number (`add_pad_mask`). The model was trained with that mask, so
`load` always adds it; a model built from `CFG` without it gives wrong answers on padded strings.
"""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float, Int
from torch import Tensor

from micourse import registry
from micourse.toys.brackets.data import N_CTX, PAD, VOCAB

WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "weights" / "brackets.safetensors"
UNBALANCED, BALANCED = 0, 1
"""The two output classes, in the order of the logits."""

CFG: dict = registry.get("brackets").cfg
"""`HookedTransformerConfig` keyword arguments: declared once, in `micourse.registry` (tokens
`[start] [pad] [end] ( )`, `use_hook_tokens` for the pad mask; tests/test_brackets.py checks it
against the vocabulary and `N_CTX`)."""
if CFG["d_vocab"] != len(VOCAB) or CFG["n_ctx"] != N_CTX:
    raise ValueError("micourse.registry's brackets entry disagrees with micourse.toys.brackets.data's vocabulary")

PAD_SCORE = -1e5


def add_pad_mask(model) -> None:
    """Hide `[pad]` keys from every attention head, permanently (they survive `reset_hooks()`).

    The tokens hook records where the pads are; each layer's `hook_attn_scores` then masks those
    key positions. Idempotent: calling it twice adds nothing.
    """
    if getattr(model, "micourse_pad_mask", False):
        return

    def remember_pads(tokens: Int[Tensor, "batch pos"], hook) -> None:
        hook.ctx["pad_keys"] = (tokens == PAD)[:, None, None, :]

    def mask_pads(scores: Float[Tensor, "batch head q k"], hook) -> Float[Tensor, "batch head q k"]:
        pads = model.hook_dict["hook_tokens"].ctx.get("pad_keys")
        if pads is None or pads.shape[-1] != scores.shape[-1]:
            return scores  # run from embeddings (start_at_layer): nothing to mask against
        return scores.masked_fill(pads, PAD_SCORE)

    model.hook_dict["hook_tokens"].add_perma_hook(remember_pads)
    for block in model.blocks:
        block.attn.hook_attn_scores.add_perma_hook(mask_pads)
    model.micourse_pad_mask = True


def build(cfg: dict | None = None, device: str | torch.device | None = None):
    """A freshly initialised classifier with the pad mask in place."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = dict(CFG if cfg is None else cfg)
    if device is not None:
        cfg["device"] = str(device)
    model = HookedTransformer(HookedTransformerConfig(**cfg))
    add_pad_mask(model)
    return model


def load(path: str | Path | None = None, device: str | torch.device | None = None):
    """The trained classifier from a weights file written by `micourse.toys.brackets.train`.

    Weights are stored in float16 and come back as float32; `model.micourse_meta` holds the run's
    metadata (command, seed, steps, training time, scorecard).
    """
    from micourse.standins.weights import load_state, read_metadata

    path = Path(WEIGHTS_PATH if path is None else path)
    if not path.exists():
        raise FileNotFoundError(
            f"No bracket-classifier weights at {path}. Train them with `python -m micourse.toys.brackets.train`."
        )
    cfg, meta = read_metadata(path)
    model = build(cfg, device)
    missing, unexpected = model.load_state_dict(load_state(path, cfg["d_vocab"]), strict=False)
    real_missing = [k for k in missing if not k.endswith((".IGNORE", ".mask"))]
    if real_missing or unexpected:
        raise ValueError(f"{path} does not match the bracket config: missing {real_missing}, extra {unexpected}.")
    model.eval()
    model.micourse_meta = meta
    model.micourse_info = f"brackets classifier, trained by the course: {path.name}"
    return model


def p_balanced(model, toks: Int[Tensor, "batch n_ctx"]) -> Float[Tensor, " batch"]:
    """The model's probability that each string is balanced (read at the [start] position)."""
    return model(toks)[:, 0].softmax(-1)[:, BALANCED]
