"""The course's stand-ins in the Hugging Face hub's own formats.

Two users: the online rehearsal (a local stand-in for the hub serves these files under the real
repository names, so `HookedTransformer.from_pretrained` runs exactly as on Colab) and
`load_bridge` offline (TransformerBridge boots from a Hugging Face model folder).

Which repository and layout a stand-in gets is its registry entry's `hub` (`micourse.registry`);
`export` writes any entry's files, the stand-in's weights or random weights of the real shape.

- `gpt2-small` becomes the repository `gpt2`: a `GPT2LMHeadModel` saved with `save_pretrained`
  (config.json, model.safetensors, generation_config.json) plus GPT-2's tokenizer files.
- `attn-only-2l` becomes `NeelNanda/Attn_Only_2L512W_C4_Code` in TransformerLens's own format:
  a TL-style config.json and a `torch.save`d state dict named `model_final.pth`.

GPT-2's output layer has no bias, but a stand-in keeps a large negative output bias `b_U` on the
tokens it never saw. The bias is folded exactly into the unembedding: the final LayerNorm's
normalised output `n` sums to zero over `d_model`, so a column `c * (1/w)` (w the LayerNorm
scale) adds `c * (b . (1/w))` to a logit whatever the input. See `fold_output_bias`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor

from micourse import registry
from micourse.local_models import load_local


def fold_output_bias(
    W_U: Float[Tensor, "d_model d_vocab"],
    b_U: Float[Tensor, " d_vocab"],
    ln_w: Float[Tensor, " d_model"],
    ln_b: Float[Tensor, " d_model"],
) -> tuple[Float[Tensor, "d_model d_vocab"], Float[Tensor, " d_model"]]:
    """An unembedding and final-LayerNorm bias that give the same logits with no output bias.

    logit_t = (n * w + b) . W_U[:, t] + b_U[t], with sum(n) = 0. Shift b by g * w (so that
    beta = (b + g w) . (1/w) = d_model, comfortably far from zero), pay for the shift in each
    token's bias, then add (bias_t / beta) * (1/w) to column t: its product with n * w is
    bias_t / beta * sum(n) = 0, and with the new b it is exactly bias_t.
    """
    d_model = W_U.shape[0]
    u = 1.0 / ln_w
    gamma = (d_model - (ln_b * u).sum()) / d_model
    new_b = ln_b + gamma * ln_w
    beta = (new_b * u).sum()
    bias = b_U - gamma * (ln_w @ W_U)
    return W_U + torch.outer(u, bias / beta), new_b


def hf_gpt2_state(state: dict[str, Tensor], n_layers: int, n_heads: int) -> dict[str, Tensor]:
    """A raw TransformerLens GPT-2 state dict in `GPT2LMHeadModel`'s names and layouts (output bias folded)."""
    from micourse.transformer.loading import gpt2_state_to_hf

    W_U, ln_f_b = fold_output_bias(state["unembed.W_U"], state["unembed.b_U"], state["ln_final.w"], state["ln_final.b"])
    return gpt2_state_to_hf({**state, "unembed.W_U": W_U, "ln_final.b": ln_f_b}, n_layers)


def _gpt2_config(cfg) -> object:
    from transformers import GPT2Config

    if cfg.attn_only or cfg.normalization_type != "LN" or cfg.positional_embedding_type != "standard":
        raise ValueError(f"{cfg.model_name} is not a GPT-2-shaped model (attn_only, normalization, positions).")
    from micourse.transformer.config import hooked_to_hf_fields

    hf = GPT2Config(
        **hooked_to_hf_fields(cfg),
        bos_token_id=50256,
        eos_token_id=50256,
        tie_word_embeddings=False,  # the stand-in's unembedding is its own matrix
    )
    hf.n_ctx = cfg.n_ctx  # TransformerLens reads n_ctx, which the hub's gpt2/config.json carries
    return hf


def write_tokenizer_files(folder: Path) -> None:
    """GPT-2's tokenizer files as the hub's `gpt2` repository has them."""
    from micourse.tokenizer import _bpe_files, tokenizer_dir

    src = tokenizer_dir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(src / name, folder / name)
    encoder, merges = _bpe_files()
    shutil.copy(encoder, folder / "vocab.json")
    shutil.copy(merges, folder / "merges.txt")


def save_gpt2_folder(folder: Path, name: str = "gpt2-small") -> Path:
    """Write `name`'s stand-in as a Hugging Face GPT-2 folder (weights, config, tokenizer)."""
    from transformers import GPT2LMHeadModel

    raw = load_local(name, "cpu", process_weights=False)
    hf_cfg = _gpt2_config(raw.cfg)
    with torch.device("meta"):
        model = GPT2LMHeadModel(hf_cfg)
    state = hf_gpt2_state(raw.state_dict(), raw.cfg.n_layers, raw.cfg.n_heads)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    missing = [k for k in missing if not k.endswith("attn.bias") and not k.endswith("masked_bias")]
    if missing or unexpected:
        raise RuntimeError(f"export of {name} does not fit GPT2LMHeadModel: missing {missing}, unexpected {unexpected}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    write_tokenizer_files(folder)
    return folder


def save_neel_folder(folder: Path, name: str = "attn-only-2l") -> Path:
    """Write `name`'s stand-in in the format of TransformerLens's NeelNanda repositories."""
    raw = load_local(name, "cpu", process_weights=False)
    cfg = raw.cfg
    tl_config = {
        "d_model": cfg.d_model,
        "n_layers": cfg.n_layers,
        "d_mlp": cfg.d_mlp,
        "d_head": cfg.d_head,
        "n_heads": cfg.n_heads,
        "n_ctx": cfg.n_ctx,
        "d_vocab": cfg.d_vocab,
        "tokenizer_name": "gpt2",
        "act_fn": cfg.act_fn,
        "attn_only": cfg.attn_only,
        "normalization": cfg.normalization_type,
        "shortformer_pos": False,
    }
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(tl_config, indent=2))
    state = {k: v.clone() for k, v in raw.state_dict().items() if not k.endswith((".IGNORE", ".mask"))}
    torch.save(state, folder / "model_final.pth")
    return folder


def standin_hf_folder(name: str = "gpt2-small") -> Path:
    """A cached Hugging Face folder of the stand-in, rebuilt when the shipped weights change.

    Keyed on a hash of the weights file's content (not its modification time, which a fresh
    clone or a checkout resets without changing the weights).
    """
    import hashlib

    from micourse.cache import cache_root, write_folder_once

    weights = registry.get(name).weights_path
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    folder = cache_root() / "hf" / f"{name}-{digest}"
    if not (folder / "config.json").exists():
        write_folder_once(folder, lambda tmp: save_gpt2_folder(tmp, name))
    return folder


def _random_gpt2_folder(folder: Path, real_cfg: dict) -> Path:
    """The real GPT-2 shape, random weights, with GPT-2's tokenizer files: for timing only."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=real_cfg["n_layers"],
        n_embd=real_cfg["d_model"],
        n_head=real_cfg["n_heads"],
        n_inner=real_cfg["d_mlp"],
        n_positions=real_cfg["n_ctx"],
        vocab_size=real_cfg["d_vocab"],
    )
    config.n_ctx = config.n_positions  # the hub's gpt2/config.json carries n_ctx; TransformerLens reads it
    GPT2LMHeadModel(config).save_pretrained(folder)
    write_tokenizer_files(Path(folder))
    return Path(folder)


def _random_neel_folder(folder: Path, real_cfg: dict) -> Path:
    """A NeelNanda-format repository of the real shape, random weights, GPT-2's vocabulary: for timing only."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    model = HookedTransformer(HookedTransformerConfig(**real_cfg, seed=0), move_to_device=False)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = ("d_model", "n_layers", "d_mlp", "d_head", "n_heads", "n_ctx", "d_vocab", "act_fn", "attn_only")
    tl = {k: real_cfg[k] for k in keys if k in real_cfg}
    tl.update(normalization=real_cfg.get("normalization_type", "LN"), tokenizer_name="gpt2", shortformer_pos=False)
    (folder / "config.json").write_text(json.dumps(tl))
    torch.save(
        {k: v for k, v in model.state_dict().items() if not k.endswith((".IGNORE", ".mask"))},
        folder / "model_final.pth",
    )
    return folder


# layout -> (write the stand-in's files, write random weights of the real shape)
_WRITERS = {
    "hf-gpt2": (save_gpt2_folder, _random_gpt2_folder),
    "tl-neelnanda": (save_neel_folder, _random_neel_folder),
}


def export(entry: registry.ModelEntry, folder: Path, real_size: bool = False) -> Path:
    """Write `entry`'s hub repository into `folder`: its stand-in weights, or (`real_size`) random real-shape ones."""
    if entry.hub is None:
        raise ValueError(f"{entry.name} is not a stand-in: it has no hub repository to write.")
    own, random_real = _WRITERS[entry.hub.layout]
    if real_size:
        return random_real(Path(folder), entry.hub.real_cfg)
    return own(Path(folder), entry.name)
