"""micourse.interp: the analyses chapter 2 relies on are exact on a tiny model, and the
attn-only-2l model shows the circuit the chapter finds (previous-token head in layer 0,
induction head in layer 1, K-composition between them far above a random baseline)."""

import pytest
import torch
from transformer_lens import FactoredMatrix, HookedTransformer, HookedTransformerConfig

from micourse.interp import attribution, basics, circuits, detectors
from micourse.interp import tokens as token_tools


@pytest.fixture(params=["standard", "shortformer"])
def processed_model(request):
    cfg = HookedTransformerConfig(
        n_layers=2,
        d_model=16,
        n_heads=2,
        d_head=8,
        n_ctx=20,
        d_vocab=30,
        attn_only=True,
        normalization_type="LN",
        positional_embedding_type=request.param,
        act_fn="gelu_new",
        seed=0,
    )
    model = HookedTransformer(cfg, move_to_device=False)
    model.process_weights_(fold_ln=True, center_writing_weights=True, center_unembed=True)
    return model


@torch.no_grad()
def test_pattern_and_components_add_up(processed_model):
    m = processed_model
    tokens = torch.randint(0, 30, (2, 10), generator=torch.Generator().manual_seed(0))
    logits, cache = m.run_with_cache(tokens)
    for layer in range(2):
        x, _ = basics.attention_inputs(m, cache, layer)
        pattern = basics.pattern_from_weights(x, m.W_Q[layer], m.b_Q[layer], m.W_K[layer], m.b_K[layer])
        assert torch.allclose(pattern, cache["pattern", layer], atol=1e-5)
    parts, labels = attribution.residual_components(cache, m, apply_ln=True)
    attr = attribution.logit_attribution(parts, m.W_U, tokens)
    true = logits[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
    assert torch.allclose(attr.sum(0) + m.b_U[tokens[:, 1:]], true, atol=1e-4)
    inputs, _ = attribution.attention_input_components(cache, m, 1)
    x, _ = basics.attention_inputs(m, cache, 1)
    assert torch.allclose(inputs.sum(0), x, atol=1e-4)


def test_detectors_on_handmade_patterns():
    n, seq_len = 9, 4
    prev = torch.zeros(1, 1, n, n)
    prev[0, 0, 0, 0] = 1
    prev[0, 0, torch.arange(1, n), torch.arange(n - 1)] = 1
    assert detectors.previous_token_score(prev).item() == 1.0
    assert detectors.current_token_score(prev).item() == pytest.approx(1 / n)
    ind = torch.zeros(1, 1, n, n)
    ind[..., 0] = 1  # everything on BOS...
    for q in range(seq_len + 1, n):  # ...except the repeat, which looks at the token after its earlier copy
        ind[0, 0, q] = 0
        ind[0, 0, q, q - seq_len + 1] = 1
    assert detectors.induction_score(ind, seq_len).item() == 1.0
    assert detectors.heads_above(torch.tensor([[0.1, 0.9], [0.5, 0.2]]), 0.3) == ["0.1", "1.0"]
    with pytest.raises(ValueError):
        detectors.induction_score(ind, seq_len + 1)


def test_top1_and_composition():
    M = FactoredMatrix(torch.eye(6)[:, :6], torch.eye(6))
    assert circuits.top1_diagonal_fraction(M, batch_size=4) == 1.0
    assert circuits.composition_score(torch.eye(4), torch.eye(4)) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        circuits.composition_score(torch.randn(3, 4), torch.randn(5, 2))


def test_repeated_tokens_rejects_bad_input():
    with pytest.raises(ValueError):
        token_tools.repeated_tokens(0, 0, 1, 0, 10)
    t = token_tools.repeated_tokens(7, 5, 2, 10, 20, torch.Generator().manual_seed(0))
    assert t.shape == (2, 11) and (t[:, 0] == 7).all() and torch.equal(t[:, 1:6], t[:, 6:])


@torch.no_grad()
def test_attn_only_2l_has_the_induction_circuit():
    from micourse.models import load_model

    model = load_model("attn-only-2l", verbose=False)
    seq_len = 30
    low, high = token_tools.vocab_range(model)
    tokens = token_tools.repeated_tokens(
        token_tools.bos_id(model), seq_len, 8, low, high, torch.Generator().manual_seed(0)
    )
    _, cache = model.run_with_cache(tokens)
    induction = torch.stack([detectors.induction_score(cache["pattern", l], seq_len) for l in range(2)])
    previous = detectors.scores_by_layer(cache, 2, detectors.previous_token_score)
    prev_layer, prev = detectors.best_head(previous)
    ind_layer, ind = detectors.best_head(induction)
    assert (prev_layer, ind_layer) == (0, 1)
    assert previous[0, prev] > 0.3 and induction[1, ind] > 0.5
    k = circuits.composition_scores(model, "K")[prev, ind].item()
    baseline = circuits.random_composition_baseline(model.cfg.d_model, model.cfg.d_head, 200)
    assert k > baseline.max() and (k - baseline.mean()) / baseline.std() > 5
