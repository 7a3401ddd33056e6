"""The reference GPT-2 computes what TransformerLens and Hugging Face compute, on the same weights."""

from __future__ import annotations

import warnings

import pytest
import torch

from micourse import registry
from micourse.transformer import GPT2, Config
from micourse.transformer.loading import from_hf_gpt2, from_hooked_transformer

warnings.filterwarnings("ignore", message=".*deprecated.*")
TOL = 1e-4


def randomise(model: torch.nn.Module, seed: int = 0) -> None:
    """Random values in every parameter, LayerNorm weights and biases included (their init is 1 and 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if name.endswith(".w"):
                p.copy_(1 + 0.1 * noise)
            elif name.rsplit(".", 1)[-1].startswith("b"):
                p.copy_(0.05 * noise)
            else:
                p.copy_(0.05 * noise)


def hooked_pair(cfg: Config, seed: int = 0):
    """A HookedTransformer with random weights, and our GPT2 converted from it."""
    from transformer_lens import HookedTransformer

    hooked = HookedTransformer(cfg.to_hooked(), move_to_device=False).eval()
    randomise(hooked, seed)
    return hooked, from_hooked_transformer(hooked)


def max_logit_diff(a: GPT2, b, tokens: torch.Tensor) -> float:
    with torch.inference_mode():
        return (a(tokens) - b(tokens)).abs().max().item()


SMALL_WIDE = Config(n_layers=2, n_ctx=128)  # GPT-2 small's widths and vocabulary, two layers
ATTN_ONLY = Config(n_layers=2, d_model=128, n_heads=4, d_head=32, d_mlp=0, n_ctx=256, attn_only=True)


def test_matches_hooked_transformer_gpt2_widths():
    hooked, ours = hooked_pair(SMALL_WIDE)
    tokens = torch.randint(0, SMALL_WIDE.d_vocab, (2, 48), generator=torch.Generator().manual_seed(1))
    assert max_logit_diff(ours, hooked, tokens) <= TOL


def test_matches_hooked_transformer_attn_only():
    hooked, ours = hooked_pair(ATTN_ONLY)
    assert not hasattr(ours.blocks[0], "mlp") and not hasattr(ours.blocks[0], "ln2")
    tokens = torch.randint(0, ATTN_ONLY.d_vocab, (3, 100), generator=torch.Generator().manual_seed(2))
    assert max_logit_diff(ours, hooked, tokens) <= TOL


@pytest.mark.slow
def test_matches_hooked_transformer_full_gpt2_small_shape():
    cfg = Config.gpt2_small()
    hooked, ours = hooked_pair(cfg)
    tokens = torch.randint(0, cfg.d_vocab, (1, 64), generator=torch.Generator().manual_seed(3))
    assert max_logit_diff(ours, hooked, tokens) <= TOL


@pytest.mark.parametrize("name", registry.known_models("standin"))
def test_matches_course_standins(name):
    path = registry.get(name).weights_path
    if not path.exists():
        pytest.skip(f"stand-in weights {path.name} not built yet (python -m micourse.standins.train {name})")
    from micourse.models import load_standin

    hooked = load_standin(name, process_weights=False)
    ours = from_hooked_transformer(hooked)
    tokens = torch.randint(0, hooked.cfg.d_vocab, (2, 64), generator=torch.Generator().manual_seed(4))
    assert max_logit_diff(ours, hooked, tokens) <= TOL


def test_tl_state_dict_loads_directly():
    hooked, _ = hooked_pair(ATTN_ONLY)
    ours = GPT2(ATTN_ONLY)
    result = ours.load_state_dict(hooked.state_dict(), strict=True)  # TL's mask/IGNORE buffers are dropped
    assert not result.missing_keys and not result.unexpected_keys
    assert set(ours.state_dict()) == {k for k in hooked.state_dict() if not k.endswith((".mask", ".IGNORE"))}
    for k, v in ours.state_dict().items():
        assert v.shape == hooked.state_dict()[k].shape, k


def test_matches_hf_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    hf_cfg = GPT2Config(
        vocab_size=1000, n_positions=64, n_embd=96, n_layer=3, n_head=6, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0
    )
    torch.manual_seed(5)
    hf = GPT2LMHeadModel(hf_cfg).eval()
    randomise(hf, seed=5)  # HF ties lm_head to wte, so the tie survives
    ours = from_hf_gpt2(hf)
    assert ours.cfg.d_head == 16 and ours.cfg.d_mlp == 384
    tokens = torch.randint(0, 1000, (2, 40), generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        diff = (ours(tokens) - hf(tokens).logits).abs().max().item()
    assert diff <= TOL


def test_run_with_cache_matches_hooked_transformer():
    cfg = Config(n_layers=2, d_model=64, n_heads=4, d_head=16, d_mlp=256, d_vocab=300, n_ctx=32)
    hooked, ours = hooked_pair(cfg)
    tokens = torch.randint(0, cfg.d_vocab, (2, 11), generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        logits, cache = ours.run_with_cache(tokens)
        tl_logits, tl_cache = hooked.run_with_cache(tokens)
    assert (logits - tl_logits).abs().max() <= TOL
    shared = set(cache) & set(tl_cache.keys())
    required = {"hook_embed", "hook_pos_embed", "ln_final.hook_normalized", "ln_final.hook_scale"}
    for i in range(cfg.n_layers):
        required |= {
            f"blocks.{i}.{n}"
            for n in (
                "hook_resid_pre",
                "hook_resid_mid",
                "hook_resid_post",
                "hook_attn_out",
                "hook_mlp_out",
                "ln1.hook_normalized",
                "ln1.hook_scale",
                "ln2.hook_normalized",
                "attn.hook_q",
                "attn.hook_k",
                "attn.hook_v",
                "attn.hook_attn_scores",
                "attn.hook_pattern",
                "attn.hook_z",
                "mlp.hook_pre",
                "mlp.hook_post",
            )
        }
    assert required <= shared, required - shared
    assert set(cache) <= set(tl_cache.keys()), set(cache) - set(tl_cache.keys())
    for name in shared:
        ours_act, theirs = cache[name], tl_cache[name]
        assert ours_act.shape == theirs.shape, name
        assert torch.allclose(ours_act, theirs, atol=TOL, rtol=1e-4, equal_nan=True), name
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, cfg.n_heads, 11, 11)
    assert cache["blocks.0.attn.hook_q"].shape == (2, 11, cfg.n_heads, cfg.d_head)


def test_run_with_cache_filter_and_hooks():
    cfg = Config(n_layers=1, d_model=32, n_heads=2, d_head=16, d_mlp=64, d_vocab=50, n_ctx=16)
    model = GPT2(cfg).eval()
    tokens = torch.randint(0, 50, (1, 5))
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n.endswith("hook_pattern"))
    assert list(cache) == ["blocks.0.attn.hook_pattern"]

    def zero_attn(x, hook):
        return torch.zeros_like(x)

    with torch.no_grad():
        patched = model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_attn_out", zero_attn)])
        _, c = model.run_with_cache(tokens)
    assert not torch.allclose(patched, model(tokens))
    # Hooks are removed afterwards.
    assert all(not hp.fns for hp in model.hook_points().values())
    with pytest.raises(KeyError, match="No hook point"):
        model.run_with_hooks(tokens, fwd_hooks=[("blocks.0.hook_nope", zero_attn)])


@pytest.mark.parametrize(
    "tokens, error, match",
    [
        (torch.zeros(1, 4), TypeError, "integer dtype"),
        (torch.zeros(1, 4, dtype=torch.bool), TypeError, "integer dtype"),
        (torch.zeros(4, dtype=torch.long), ValueError, r"tokens\[None\]"),
        (torch.zeros(1, 2, 3, dtype=torch.long), ValueError, r"\[batch, pos\]"),
        (torch.zeros(1, 17, dtype=torch.long), ValueError, "n_ctx=16"),
        (torch.full((1, 3), 50), ValueError, r"\[0, 50\)"),
        (torch.full((1, 3), -1), ValueError, r"\[0, 50\)"),
        ([[1, 2, 3]], TypeError, "torch.Tensor"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "at least one token"),
    ],
)
def test_bad_input_is_refused(tokens, error, match):
    model = GPT2(Config(n_layers=1, d_model=32, n_heads=2, d_head=16, d_mlp=64, d_vocab=50, n_ctx=16))
    with pytest.raises(error, match=match):
        model(tokens)


def test_config_validation_and_roundtrip():
    with pytest.raises(ValueError, match="act_fn"):
        Config(act_fn="swish")
    with pytest.raises(ValueError, match="d_model"):
        Config(d_model=0)
    cfg = Config(n_layers=3, d_model=64, n_heads=4, d_head=16, d_mlp=256, d_vocab=100, n_ctx=32, layer_norm_eps=1e-6)
    assert Config.from_hooked(cfg.to_hooked()) == cfg
    with pytest.raises(ValueError, match="normalization_type"):
        Config.from_hooked(cfg.to_hooked(normalization_type="RMS"))
    with pytest.raises(ValueError, match="positional_embedding_type"):
        Config.from_hooked(cfg.to_hooked(positional_embedding_type="rotary", rotary_dim=16))


def test_from_hf_rejects_other_models():
    with pytest.raises(TypeError, match="GPT2LMHeadModel"):
        from_hf_gpt2(torch.nn.Linear(2, 2))


def test_run_with_cache_is_transformer_lens_activation_cache():
    """Pages index caches one way: `cache["pattern", 0]` works on the reference model too."""
    from transformer_lens import ActivationCache

    cfg = Config(n_layers=2, d_model=32, n_heads=2, d_head=16, d_mlp=64, d_vocab=50, n_ctx=16)
    model = GPT2(cfg).eval()
    with torch.no_grad():
        _, cache = model.run_with_cache(torch.randint(0, 50, (1, 5)))
    assert isinstance(cache, ActivationCache)
    assert torch.equal(cache["pattern", 1], cache["blocks.1.attn.hook_pattern"])
    assert cache["resid_post", 0].shape == (1, 5, 32)
