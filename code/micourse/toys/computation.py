"""Computation in superposition (Elhage et al. 2022, section 7): a toy model that computes |x|.

Unlike `superposition.ToyModel`, whose only job is to pass features through a bottleneck, this
model must compute something: ``out = ReLU(W2 ReLU(W1 x) + b)`` with the target ``|x|`` for
features that are sparse and uniform in [-1, 1). The hidden ReLUs are neurons (a privileged
basis), and the weights are untied because reading in and reading out now do different jobs.
ReLU(x) + ReLU(-x) = |x|, so two neurons per feature compute it exactly; with sparse features
the model computes more features than it has neuron pairs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn

from micourse.toys.superposition import _per_instance_feature


@dataclass
class AbsConfig:
    n_inst: int
    n_features: int = 10
    d_hidden: int = 5

    def __post_init__(self) -> None:
        for name in ("n_inst", "n_features", "d_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"AbsConfig.{name} must be a positive int, got {v!r}")


def signed_features(
    batch_size: int, feature_probability: Float[Tensor, "n_inst n_features"], generator: torch.Generator | None = None
) -> Float[Tensor, "batch n_inst n_features"]:
    """Each feature present with its probability, then uniform in [-1, 1)."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    p = feature_probability.detach().cpu()
    shape = (batch_size, *p.shape)
    value = 2 * torch.rand(shape, generator=generator) - 1
    present = torch.rand(shape, generator=generator) < p
    return torch.where(present, value, torch.zeros(())).to(feature_probability.device)


def abs_loss(
    out: Float[Tensor, "batch n_inst n_features"],
    features: Float[Tensor, "batch n_inst n_features"],
    importance: Float[Tensor, "n_inst n_features"],
) -> Float[Tensor, ""]:
    """Importance-weighted squared error against |x|: mean over batch and features, sum over instances."""
    return (importance * (out - features.abs()) ** 2).mean(dim=(0, 2)).sum()


class AbsModel(nn.Module):
    """`n_inst` models ``ReLU(W2 ReLU(W1 x) + b)`` at once, trained to output |x|.

    W1: [n_inst, d_hidden, n_features] (row n = neuron n's input weights);
    W2: [n_inst, n_features, d_hidden]; b_final: [n_inst, n_features].
    """

    def __init__(
        self,
        cfg: AbsConfig,
        feature_probability: float | Tensor = 0.1,
        importance: float | Tensor = 1.0,
        device: torch.device | str = "cpu",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        p = _per_instance_feature(feature_probability, cfg, "feature_probability", device)
        if ((p <= 0) | (p > 1)).any():
            raise ValueError("feature_probability must lie in (0, 1]")
        imp = _per_instance_feature(importance, cfg, "importance", device)
        if (imp < 0).any():
            raise ValueError("importance must be non-negative")
        self.register_buffer("feature_probability", p)
        self.register_buffer("importance", imp)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        std = (2.0 / (cfg.d_hidden + cfg.n_features)) ** 0.5
        self.W1 = nn.Parameter(torch.randn(cfg.n_inst, cfg.d_hidden, cfg.n_features, generator=g).mul(std).to(device))
        self.W2 = nn.Parameter(torch.randn(cfg.n_inst, cfg.n_features, cfg.d_hidden, generator=g).mul(std).to(device))
        self.b_final = nn.Parameter(torch.zeros(cfg.n_inst, cfg.n_features, device=device))

    def hidden(self, features: Float[Tensor, "batch n_inst n_features"]) -> Float[Tensor, "batch n_inst d_hidden"]:
        want = (self.cfg.n_inst, self.cfg.n_features)
        if not isinstance(features, Tensor) or features.ndim != 3 or tuple(features.shape[1:]) != want:
            raise ValueError(
                f"features must have shape [batch, n_inst={want[0]}, n_features={want[1]}], got "
                f"{tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__}"
            )
        return torch.relu(torch.einsum("ihf,bif->bih", self.W1, features))

    def forward(self, features: Float[Tensor, "batch n_inst n_features"]) -> Float[Tensor, "batch n_inst n_features"]:
        return torch.relu(torch.einsum("ifh,bih->bif", self.W2, self.hidden(features)) + self.b_final)

    def generate_batch(self, batch_size: int, generator: torch.Generator | None = None) -> Tensor:
        return signed_features(batch_size, self.feature_probability, generator)

    def loss(self, out: Tensor, features: Tensor) -> Tensor:
        return abs_loss(out, features, self.importance)


def train_abs(
    model: AbsModel, steps: int = 3000, batch_size: int = 512, lr: float = 5e-3, seed: int = 0
) -> list[float]:
    """Adam at a constant learning rate on freshly sampled batches; the loss per step.
    Stores the wall-clock time as `model.train_seconds`."""
    if not isinstance(model, AbsModel):
        raise TypeError(f"train_abs trains an AbsModel, got {type(model).__name__}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest
    t0 = time.perf_counter()
    try:
        for _ in range(steps):
            x = model.generate_batch(batch_size, g)
            loss = model.loss(model(x), x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    model.train_seconds = time.perf_counter() - t0
    return losses


def fraction_explained(
    out: Float[Tensor, "batch n_inst n_features"], features: Float[Tensor, "batch n_inst n_features"]
) -> Float[Tensor, "n_inst n_features"]:
    """1 - MSE(out, |x|) / Var(|x|) per instance and feature, over the batch.

    1 = the model computes |x_f| exactly; 0 = no better than a constant (the best constant is the
    mean of |x_f|, whose error is exactly the variance). A feature counts as computed above 1/2.
    """
    target = features.abs()
    mse = ((out - target) ** 2).mean(0)
    return 1 - mse / target.var(0, unbiased=False).clamp_min(1e-12)
