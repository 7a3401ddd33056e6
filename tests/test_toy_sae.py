"""micourse.toys.toy_sae: the SAE variants, resampling, metrics and the SAELens folder format."""

import pytest
import torch

from micourse.toys import toy_sae as ts


def _h(batch=64, n_inst=3, d_in=4, seed=0):
    return torch.relu(torch.randn(batch, n_inst, d_in, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("arch", ts.ARCHITECTURES)
def test_forward_shapes_and_unit_decoder(arch):
    sae = ts.ToySAE(ts.SAEConfig(n_inst=3, d_in=4, d_sae=6, architecture=arch, k=2))
    out = sae(_h())
    assert out.acts.shape == (64, 3, 6) and out.h_hat.shape == (64, 3, 4)
    assert out.recon.shape == out.sparsity.shape == (64, 3) and out.loss.ndim == 0
    assert (out.acts >= 0).all()
    out.loss.backward()
    assert sae.W_enc.grad is not None
    norms = ts.normalize_decoder(sae.W_dec).norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms))


def test_instances_are_independent():
    """Each instance's gradient is that of its own loss: changing instance 1's input leaves instance 0's alone."""
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=3, d_sae=4))
    h = _h(n_inst=2, d_in=3)
    sae(h).loss.backward()
    g0 = sae.W_enc.grad[0].clone()
    sae.zero_grad()
    h2 = h.clone()
    h2[:, 1] += 5.0
    sae(h2).loss.backward()
    assert torch.allclose(sae.W_enc.grad[0], g0)


def test_topk_keeps_k_and_per_instance_k():
    pre = torch.randn(10, 2, 8, generator=torch.Generator().manual_seed(1))
    acts = ts.topk_activation(pre, 3)
    assert ((acts > 0).sum(-1) <= 3).all()
    per = ts.topk_activation(pre, torch.tensor([1, 4]))
    assert ((per[:, 0] > 0).sum(-1) <= 1).all() and ((per[:, 1] > 0).sum(-1) <= 4).all()
    with pytest.raises(ValueError, match="k must lie"):
        ts.topk_activation(pre, 9)


def test_jumprelu_threshold_gets_gradient():
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=4, d_sae=5, architecture="jumprelu", coeff=0.1, init_threshold=0.3))
    out = sae(_h(n_inst=2))
    assert ((out.acts == 0) | (out.acts > sae.threshold.detach())).all()
    out.loss.backward()
    assert sae.log_threshold.grad is not None and sae.log_threshold.grad.abs().sum() > 0


def test_bad_config_and_input_fail_clearly():
    with pytest.raises(ValueError, match="architecture"):
        ts.SAEConfig(n_inst=1, d_in=2, d_sae=3, architecture="gated")
    with pytest.raises(ValueError, match="values for"):
        ts.SAEConfig(n_inst=2, d_in=2, d_sae=3, coeff=[0.1, 0.2, 0.3])
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=3, d_sae=4))
    with pytest.raises(ValueError, match="n_inst=2"):
        sae(torch.zeros(5, 3))


def test_metrics():
    h = _h()
    assert torch.allclose(ts.fraction_variance_unexplained(h, h), torch.zeros(3))
    mean = h.mean(0, keepdim=True).expand_as(h)
    assert torch.allclose(ts.fraction_variance_unexplained(h, mean), torch.ones(3))
    acts = torch.zeros(4, 1, 3)
    acts[0, 0, 1] = 1.0
    assert ts.dead_latents(acts).tolist() == [[True, False, True]]
    assert ts.l0_norm(acts).tolist() == [0.25]
    W_true = torch.eye(2)[None]  # features along the axes
    W_dec = torch.tensor([[[2.0, 0.0], [0.0, -1.0]]])  # latent 1 points away from feature 1
    assert torch.allclose(ts.feature_cosines(W_dec, W_true), torch.tensor([[1.0, 0.0]]), atol=1e-6)


def test_resample_revives_only_dead_latents():
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=3, d_sae=4), seed=3)
    h = _h(n_inst=2, d_in=3) + 0.1
    dead = torch.tensor([[True, False, False, True], [False, False, False, False]])
    before = sae.W_dec.detach().clone()
    n = ts.resample_dead(sae, h, dead, torch.Generator().manual_seed(0))
    assert n == 2
    assert torch.equal(sae.W_dec[1], before[1]) and torch.equal(sae.W_dec[0, 1:3], before[0, 1:3])
    assert torch.allclose(sae.W_dec[0, [0, 3]].norm(dim=-1), torch.ones(2))
    assert (sae.b_enc[0, [0, 3]] == 0).all()
    with pytest.raises(ValueError, match="dead must have shape"):
        ts.resample_dead(sae, h, dead[0], None)


@pytest.mark.slow
def test_training_with_resampling_reduces_dead_latents():
    """On a 5-in-2 toy (hand-made pentagon), an untied SAE loses latents; resampling brings them back."""
    import math

    angles = torch.arange(5) * 2 * math.pi / 5
    W = torch.stack([angles.cos(), angles.sin()])[None].expand(4, 2, 5).contiguous()

    class Pentagon(torch.nn.Module):
        def generate_batch(self, batch_size, generator=None):
            on = torch.rand(batch_size, 4, 5, generator=generator) < 0.025
            return torch.where(on, torch.rand(batch_size, 4, 5, generator=generator), 0.0)

        def hidden(self, x):
            return torch.einsum("ihf,bif->bih", W, x)

    sample = ts.hidden_sampler(Pentagon())
    torch.set_num_threads(1)
    cfg = ts.SAEConfig(n_inst=4, d_in=2, d_sae=5, coeff=0.2, tied_init=False)
    dead = []
    cos = None
    for every in (0, 100):
        sae = ts.ToySAE(cfg, seed=1)
        ts.train_sae(
            sae,
            sample,
            steps=1500,
            batch_size=256,
            lr=1e-2,
            log_every=100,
            resample_every=every,
            resample_until=0.8,
            verbose=False,
        )
        dead.append(int(ts.evaluate(sae, sample, batch_size=5000)["dead"].sum()))
        cos = ts.feature_cosines(sae.W_dec.detach(), W)
    assert dead[1] < dead[0], dead
    assert (cos >= 0.9).all(1).any()


def test_resample_instances_limits_resampling():
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=2, d_sae=3))
    with pytest.raises(ValueError, match="one bool per instance"):
        ts.train_sae(sae, lambda b, g: torch.zeros(b, 2, 2), steps=1, resample_instances=[True])


@pytest.mark.parametrize("arch", ts.ARCHITECTURES)
def test_saelens_folder_round_trip(tmp_path, arch):
    sae = ts.ToySAE(ts.SAEConfig(n_inst=2, d_in=3, d_sae=4, architecture=arch, k=[1, 2]), seed=2)
    folder = ts.save_saelens(sae, 1, tmp_path / "sae")
    cfg, weights = ts.load_saelens(folder)
    assert cfg["d_in"] == 3 and cfg["d_sae"] == 4 and cfg["apply_b_dec_to_input"] is True
    assert cfg["architecture"] == ts.SAELENS_ARCHITECTURE[arch]
    assert {k: tuple(v.shape) for k, v in weights.items() if k != "threshold"} == {
        "W_enc": (3, 4),
        "b_enc": (4,),
        "W_dec": (4, 3),
        "b_dec": (3,),
    }
    if arch == "topk":
        assert cfg["k"] == 2
    if arch == "jumprelu":
        assert weights["threshold"].shape == (4,)
    if arch == "l1":
        x = _h(n_inst=2, d_in=3)
        acts = torch.relu((x[:, 1] - weights["b_dec"]) @ weights["W_enc"] + weights["b_enc"])
        with torch.no_grad():
            assert torch.allclose(acts @ weights["W_dec"] + weights["b_dec"], sae(x).h_hat[:, 1], atol=1e-5)
    with pytest.raises(ValueError, match="instance"):
        ts.save_saelens(sae, 2, tmp_path / "bad")
    with pytest.raises(FileNotFoundError, match="cfg.json"):
        ts.load_saelens(tmp_path)
