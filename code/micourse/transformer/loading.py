"""Getting weights into the reference GPT-2 from TransformerLens, Hugging Face, or the course's models."""

from __future__ import annotations

import torch
from einops import rearrange

from micourse.transformer.config import Config
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
    return Config(
        d_model=d_model,
        n_layers=hf_config.n_layer,
        n_heads=n_heads,
        d_head=d_model // n_heads,
        d_mlp=hf_config.n_inner or 4 * d_model,
        d_vocab=hf_config.vocab_size,
        n_ctx=hf_config.n_positions,
        layer_norm_eps=hf_config.layer_norm_epsilon,
        act_fn=hf_config.activation_function,
        init_range=hf_config.initializer_range,
    )


def hf_gpt2_state_dict(hf_model, cfg: Config) -> dict[str, torch.Tensor]:
    """Rename and reshape a `GPT2LMHeadModel`'s weights into TransformerLens's layout.

    Hugging Face's GPT-2 uses `Conv1D` layers (weight stored [d_in, d_out], so y = x @ W + b)
    and fuses the Q, K, V projections of all heads into one `c_attn` matrix.
    """
    hf = {k: v.detach().float() for k, v in hf_model.state_dict().items()}
    h = cfg.n_heads
    state = {
        "embed.W_E": hf["transformer.wte.weight"],
        "pos_embed.W_pos": hf["transformer.wpe.weight"],
        "ln_final.w": hf["transformer.ln_f.weight"],
        "ln_final.b": hf["transformer.ln_f.bias"],
        "unembed.W_U": hf["lm_head.weight"].T,
        "unembed.b_U": hf.get("lm_head.bias", torch.zeros(cfg.d_vocab)),
    }
    for i in range(cfg.n_layers):
        p = f"transformer.h.{i}."
        W_Q, W_K, W_V = hf[p + "attn.c_attn.weight"].chunk(3, dim=1)  # each [d_model, head*d_head]
        b_Q, b_K, b_V = hf[p + "attn.c_attn.bias"].chunk(3, dim=0)
        for name, W, b in (("Q", W_Q, b_Q), ("K", W_K, b_K), ("V", W_V, b_V)):
            state[f"blocks.{i}.attn.W_{name}"] = rearrange(W, "d_model (head d_head) -> head d_model d_head", head=h)
            state[f"blocks.{i}.attn.b_{name}"] = rearrange(b, "(head d_head) -> head d_head", head=h)
        state[f"blocks.{i}.attn.W_O"] = rearrange(
            hf[p + "attn.c_proj.weight"], "(head d_head) d_model -> head d_head d_model", head=h
        )
        state[f"blocks.{i}.attn.b_O"] = hf[p + "attn.c_proj.bias"]
        state[f"blocks.{i}.ln1.w"], state[f"blocks.{i}.ln1.b"] = hf[p + "ln_1.weight"], hf[p + "ln_1.bias"]
        state[f"blocks.{i}.ln2.w"], state[f"blocks.{i}.ln2.b"] = hf[p + "ln_2.weight"], hf[p + "ln_2.bias"]
        state[f"blocks.{i}.mlp.W_in"] = hf[p + "mlp.c_fc.weight"]
        state[f"blocks.{i}.mlp.b_in"] = hf[p + "mlp.c_fc.bias"]
        state[f"blocks.{i}.mlp.W_out"] = hf[p + "mlp.c_proj.weight"]
        state[f"blocks.{i}.mlp.b_out"] = hf[p + "mlp.c_proj.bias"]
    return {k: v.contiguous().clone() for k, v in state.items()}  # clone: W_U is tied to W_E in HF


def from_hf_gpt2(hf_model) -> GPT2:
    """A `GPT2` with the weights of a Hugging Face `GPT2LMHeadModel`."""
    if not hasattr(hf_model, "lm_head") or not hasattr(hf_model, "transformer"):
        raise TypeError(f"Expected a transformers GPT2LMHeadModel, got {type(hf_model).__name__}.")
    cfg = config_from_hf(hf_model.config)
    return _with_weights(cfg, hf_gpt2_state_dict(hf_model, cfg))
