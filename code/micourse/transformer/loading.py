"""Getting weights into the reference GPT-2 from TransformerLens, Hugging Face, or the course's models."""

from __future__ import annotations

import torch
from einops import rearrange

from micourse.transformer.config import FIELD_NAMES, Config
from micourse.transformer.model import GPT2


def from_hooked_transformer(hooked) -> GPT2:
    """A `GPT2` with the same weights as a TransformerLens `HookedTransformer`."""
    cfg = Config.from_hooked(hooked.cfg)
    state = {
        k: v.detach().float().clone() for k, v in hooked.state_dict().items() if not k.endswith((".mask", ".IGNORE"))
    }
    return _with_weights(cfg, state)


def _with_weights(cfg: Config, state: dict[str, torch.Tensor]) -> GPT2:
    """Build a GPT2 straight from `state`, skipping the random initialisation it would overwrite."""
    with torch.device("meta"):
        model = GPT2(cfg)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def config_from_hf(hf_config) -> Config:
    if getattr(hf_config, "model_type", "gpt2") != "gpt2":
        raise ValueError(f"Expected a GPT-2 config, got model_type={hf_config.model_type!r}.")
    if getattr(hf_config, "scale_attn_by_inverse_layer_idx", False) or not getattr(
        hf_config, "scale_attn_weights", True
    ):
        raise ValueError("Only GPT-2's standard attention scaling (1/sqrt(d_head)) is supported.")
    d_model, n_heads = hf_config.n_embd, hf_config.n_head
    if d_model % n_heads:
        raise ValueError(f"n_embd={d_model} is not divisible by n_head={n_heads}.")
    values = {field: getattr(hf_config, hf) for field, (_, hf) in FIELD_NAMES.items()}
    values["d_mlp"] = values["d_mlp"] or 4 * d_model  # GPT2Config leaves n_inner None for 4 * n_embd
    return Config(**values, d_head=d_model // n_heads)


def _gpt2_same_tensors(n_layers: int) -> list[tuple[str, str]]:
    """(`GPT2LMHeadModel` name, TransformerLens name) of every weight stored alike in both.

    The one table both directions use (`hf_gpt2_state_dict`, `gpt2_state_to_hf`). `Conv1D`
    stores its weight [d_in, d_out] (y = x @ W + b), which is TransformerLens's layout too.
    """
    pairs = [
        ("transformer.wte.weight", "embed.W_E"),
        ("transformer.wpe.weight", "pos_embed.W_pos"),
        ("transformer.ln_f.weight", "ln_final.w"),
        ("transformer.ln_f.bias", "ln_final.b"),
    ]
    per_layer = (
        ("ln_1.weight", "ln1.w"),
        ("ln_1.bias", "ln1.b"),
        ("ln_2.weight", "ln2.w"),
        ("ln_2.bias", "ln2.b"),
        ("mlp.c_fc.weight", "mlp.W_in"),
        ("mlp.c_fc.bias", "mlp.b_in"),
        ("mlp.c_proj.weight", "mlp.W_out"),
        ("mlp.c_proj.bias", "mlp.b_out"),
        ("attn.c_proj.bias", "attn.b_O"),
    )
    for i in range(n_layers):
        pairs += [(f"transformer.h.{i}.{hf}", f"blocks.{i}.{tl}") for hf, tl in per_layer]
    return pairs


def hf_gpt2_state_dict(hf_model, cfg: Config) -> dict[str, torch.Tensor]:
    """Rename and reshape a `GPT2LMHeadModel`'s weights into TransformerLens's layout.

    Beyond renaming, Hugging Face fuses the Q, K, V projections of all heads into one `c_attn`
    matrix, and stores the unembedding transposed (tied to the embedding).
    """
    hf = {k: v.detach().float() for k, v in hf_model.state_dict().items()}
    h = cfg.n_heads
    state = {tl: hf[name] for name, tl in _gpt2_same_tensors(cfg.n_layers)}
    state["unembed.W_U"] = hf["lm_head.weight"].T
    state["unembed.b_U"] = hf.get("lm_head.bias", torch.zeros(cfg.d_vocab))
    for i in range(cfg.n_layers):
        p = f"transformer.h.{i}."
        W_Q, W_K, W_V = hf[p + "attn.c_attn.weight"].chunk(3, dim=1)  # each [d_model, head*d_head]
        b_Q, b_K, b_V = hf[p + "attn.c_attn.bias"].chunk(3, dim=0)
        for name, W, b in (("Q", W_Q, b_Q), ("K", W_K, b_K), ("V", W_V, b_V)):
            state[f"blocks.{i}.attn.W_{name}"] = rearrange(W, "d_model (head d_head) -> head d_model d_head", head=h)
            state[f"blocks.{i}.attn.b_{name}"] = rearrange(b, "(head d_head) -> head d_head", head=h)
        W_O = hf[p + "attn.c_proj.weight"]
        state[f"blocks.{i}.attn.W_O"] = rearrange(W_O, "(head d_head) d_model -> head d_head d_model", head=h)
    return {k: v.contiguous().clone() for k, v in state.items()}  # clone: W_U is tied to W_E in HF


def gpt2_state_to_hf(state: dict[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """The reverse of `hf_gpt2_state_dict`: a TransformerLens GPT-2 state dict in `GPT2LMHeadModel`'s
    names and layouts. `GPT2LMHeadModel` has no output bias: `unembed.b_U` must be folded first."""
    out = {name: state[tl] for name, tl in _gpt2_same_tensors(n_layers)}
    out["lm_head.weight"] = state["unembed.W_U"].T
    for i in range(n_layers):
        p, b = f"transformer.h.{i}.", f"blocks.{i}."
        qkv = [rearrange(state[b + f"attn.W_{x}"], "head d_model d_head -> d_model (head d_head)") for x in "QKV"]
        out[p + "attn.c_attn.weight"] = torch.cat(qkv, dim=1)
        out[p + "attn.c_attn.bias"] = torch.cat([state[b + f"attn.b_{x}"].flatten() for x in "QKV"])
        out[p + "attn.c_proj.weight"] = rearrange(state[b + "attn.W_O"], "head d_head d_model -> (head d_head) d_model")
    return {k: v.detach().float().contiguous().clone() for k, v in out.items()}


def from_hf_gpt2(hf_model) -> GPT2:
    """A `GPT2` with the weights of a Hugging Face `GPT2LMHeadModel`."""
    if not hasattr(hf_model, "lm_head") or not hasattr(hf_model, "transformer"):
        raise TypeError(f"Expected a transformers GPT2LMHeadModel, got {type(hf_model).__name__}.")
    cfg = config_from_hf(hf_model.config)
    return _with_weights(cfg, hf_gpt2_state_dict(hf_model, cfg))
