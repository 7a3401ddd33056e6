"""The toy model of superposition: shapes, input checks, the data generator and a pentagon."""

import math

import pytest
import torch

from micourse.toys.superposition import ToyConfig, ToyModel, generate_features, train_toy


def test_shapes():
    cfg = ToyConfig(n_inst=3, n_features=5, d_hidden=2)
    m = ToyModel(cfg, feature_probability=torch.tensor([0.1, 0.2, 0.3])[:, None], importance=0.9 ** torch.arange(5))
    assert m.W.shape == (3, 2, 5) and m.b_final.shape == (3, 5)
    assert m.feature_probability.shape == (3, 5) and m.importance.shape == (3, 5)
    x = m.generate_batch(7)
    assert x.shape == (7, 3, 5)
    assert m.hidden(x).shape == (7, 3, 2)
    out = m(x)
    assert out.shape == (7, 3, 5) and (out >= 0).all()
    assert m.loss(out, x).shape == ()


def test_forward_is_relu_wtw_x_plus_b():
    cfg = ToyConfig(n_inst=2, n_features=4, d_hidden=3)
    m = ToyModel(cfg, seed=1)
    with torch.no_grad():
        m.b_final.normal_()
    x = torch.rand(5, 2, 4)
    for i in range(2):
        want = torch.relu(x[:, i] @ m.W[i].T @ m.W[i] + m.b_final[i])
        torch.testing.assert_close(m(x)[:, i], want)


def test_relu_hidden_is_nonnegative():
    m = ToyModel(ToyConfig(n_inst=2, n_features=4, d_hidden=3, relu_hidden=True), seed=0)
    with torch.no_grad():
        m.W.normal_()
    assert (m.hidden(torch.rand(6, 2, 4)) >= 0).all()


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(n_inst=0), "n_inst"),
        (dict(n_inst=2, d_hidden=0), "d_hidden"),
        (dict(n_inst=2, n_features=3, n_correlated_pairs=1, n_anticorrelated_pairs=1), "need 4 features"),
        (dict(n_inst=2, n_correlated_pairs=-1), "non-negative"),
    ],
)
def test_bad_config(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ToyConfig(**kwargs)


def test_bad_model_arguments():
    cfg = ToyConfig(n_inst=3)
    with pytest.raises(ValueError, match="does not broadcast"):
        ToyModel(cfg, feature_probability=torch.ones(4) * 0.1)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        ToyModel(cfg, feature_probability=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        ToyModel(cfg, importance=-1.0)
    with pytest.raises(ValueError, match="<= 0.5"):
        ToyModel(ToyConfig(n_inst=1, n_features=2, n_anticorrelated_pairs=1), feature_probability=0.6)


def test_bad_features():
    m = ToyModel(ToyConfig(n_inst=3))
    with pytest.raises(ValueError, match="instance axis"):
        m(torch.rand(4, 5))
    with pytest.raises(ValueError, match="n_features=5"):
        m(torch.rand(4, 3, 6))
    with pytest.raises(TypeError, match="float"):
        m(torch.ones(4, 3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size"):
        m.generate_batch(0)


def test_generator_probabilities_and_pairs():
    cfg = ToyConfig(n_inst=2, n_features=6, n_correlated_pairs=1, n_anticorrelated_pairs=1)
    p = torch.full((2, 6), 0.3)
    x = generate_features(cfg, p, 20000, torch.Generator().manual_seed(0))
    on = x > 0
    assert torch.allclose(on.float().mean((0, 1)), torch.full((6,), 0.3), atol=0.02)
    assert (on[..., 0] == on[..., 1]).all()  # correlated: together
    assert not (on[..., 2] & on[..., 3]).any()  # anticorrelated: never together
    assert x.max() < 1 and x.min() >= 0
    # seeded: reproducible
    y = generate_features(cfg, p, 5, torch.Generator().manual_seed(1))
    z = generate_features(cfg, p, 5, torch.Generator().manual_seed(1))
    assert torch.equal(y, z)


def test_train_rejects_bad_arguments():
    m = ToyModel(ToyConfig(n_inst=1))
    with pytest.raises(ValueError, match="steps"):
        train_toy(m, steps=0)
    with pytest.raises(TypeError, match="ToyModel"):
        train_toy(torch.nn.Linear(2, 2))


def test_pentagon_at_high_sparsity():
    """5 features in 2 dimensions at feature probability 0.02: all five kept, ~72 degrees apart."""
    torch.manual_seed(0)
    m = ToyModel(ToyConfig(n_inst=2), feature_probability=0.02, importance=1.0, seed=0)
    losses = train_toy(m, steps=1500, batch_size=256, lr=5e-3)
    assert losses[-1] < losses[0]
    for i in range(2):
        w = m.W[i].detach()
        assert (w.norm(dim=0) > 0.8).all(), w.norm(dim=0)
        ang = torch.atan2(w[1], w[0]).sort().values
        gaps = torch.diff(torch.cat([ang, ang[:1] + 2 * math.pi])) * 180 / math.pi
        assert ((gaps - 72).abs() < 8).all(), gaps
