"""Saving and loading stand-in weights as small safetensors files.

A stand-in only ever sees a few thousand of GPT-2's 50,257 tokens. Storing the embedding and
unembedding rows of just those tokens (in float16) keeps each file a few MB; on loading, the
other tokens get a zero embedding and a large negative output bias, so the model never
predicts a token it has never seen.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

UNSEEN_LOGIT_BIAS = -30.0
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


def save_standin(
    state: dict[str, torch.Tensor], cfg: dict, path: Path, seen: torch.Tensor | None, meta: dict, tied: bool = False
) -> None:
    """Write `state` (a HookedTransformer state dict) keeping only the rows of `seen` tokens.

    `tied`: the unembedding is the embedding transposed, so only the embedding is stored.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith((".IGNORE", ".mask")) or "hook" in key:
            continue  # buffers rebuilt by TransformerLens
        if tied and key.startswith("unembed."):
            continue
        value = value.detach().cpu()
        if seen is not None and key == "embed.W_E":
            value = value[seen]
        elif seen is not None and key == "unembed.W_U":
            value = value[:, seen]
        elif seen is not None and key == "unembed.b_U":
            value = value[seen]
        out[key] = value.to(torch.float16).contiguous()
    if seen is not None:
        out["micourse.seen_tokens"] = seen.to(torch.int32).contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path), metadata={"cfg": json.dumps(cfg), "meta": json.dumps(meta)})


def read_metadata(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    return json.loads(md["cfg"]), json.loads(md["meta"])


def update_meta(path: Path, **entries) -> None:
    """Add entries to a weight file's training metadata (the tensors are rewritten unchanged)."""
    cfg, meta = read_metadata(path)
    meta.update(entries)
    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"cfg": json.dumps(cfg), "meta": json.dumps(meta)})


def load_state(path: Path, d_vocab: int) -> dict[str, torch.Tensor]:
    """The full-size float32 state dict, with unseen tokens filled in as described above."""
    raw = load_file(str(path))
    seen = raw.pop("micourse.seen_tokens", None)
    state = {k: v.float() for k, v in raw.items()}
    if "unembed.W_U" not in state:  # a tied model: W_U = W_E^T, no output bias
        state["unembed.W_U"] = state["embed.W_E"].T.contiguous()
        state["unembed.b_U"] = torch.zeros(state["embed.W_E"].shape[0])
    if seen is None:
        return state
    seen = seen.long()
    if "embed.W_E" in state:
        rows = state["embed.W_E"]
        full = torch.zeros(d_vocab, rows.shape[1])
        full[seen] = rows
        state["embed.W_E"] = full
    if "unembed.W_U" in state:
        cols = state["unembed.W_U"]
        full = torch.zeros(cols.shape[0], d_vocab)
        full[:, seen] = cols
        state["unembed.W_U"] = full
        bias = torch.full((d_vocab,), UNSEEN_LOGIT_BIAS)
        bias[seen] = state.get("unembed.b_U", torch.zeros(len(seen)))
        state["unembed.b_U"] = bias
    return state
