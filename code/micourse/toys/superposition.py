"""The toy model of superposition (Elhage et al., "Toy Models of Superposition", 2022).

`n_features` sparse features are squeezed through `d_hidden < n_features` dimensions and read back
out by the same matrix: ``out = ReLU(W^T W x + b)``. With `relu_hidden=True` the hidden layer gets
its own ReLU (``out = ReLU(W^T ReLU(W x) + b)``), which makes the hidden basis *privileged*: each
hidden unit is then a neuron whose activation means something on its own.

Why an instance axis: a sweep over sparsity or importance is many small independent models. Putting
them side by side in one batched weight tensor (`W[inst]`) trains the whole sweep with one optimizer
in the time of one model, because the maths of each instance never touches the others (the loss is a
sum over instances, so each instance's gradient is its own). ARENA 1.5.4 uses the same layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn


@dataclass
class ToyConfig:
    """One batched model of `n_inst` independent instances.

    Features are laid out in order: first `n_correlated_pairs` pairs (0,1), (2,3), ... that are
    present together, then `n_anticorrelated_pairs` pairs that are never present together, then
    independent features.
    """

    n_inst: int
    n_features: int = 5
    d_hidden: int = 2
    n_correlated_pairs: int = 0
    n_anticorrelated_pairs: int = 0
    relu_hidden: bool = False  # the "privileged basis" neuron model

    def __post_init__(self) -> None:
        for name in ("n_inst", "n_features", "d_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"ToyConfig.{name} must be a positive int, got {v!r}")
        for name in ("n_correlated_pairs", "n_anticorrelated_pairs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"ToyConfig.{name} must be a non-negative int, got {v!r}")
        paired = 2 * (self.n_correlated_pairs + self.n_anticorrelated_pairs)
        if paired > self.n_features:
            raise ValueError(
                f"{self.n_correlated_pairs} correlated + {self.n_anticorrelated_pairs} anticorrelated pairs "
                f"need {paired} features, but n_features is {self.n_features}"
            )

    @property
    def n_paired_features(self) -> int:
        return 2 * (self.n_correlated_pairs + self.n_anticorrelated_pairs)


def _per_instance_feature(
    value: float | Tensor, cfg: ToyConfig, name: str, device: torch.device | str
) -> Float[Tensor, "n_inst n_features"]:
    """Broadcast a scalar, a per-feature [n_features], a per-instance [n_inst, 1] or a full
    [n_inst, n_features] value to [n_inst, n_features], with an error that names the shapes."""
    t = torch.as_tensor(value, dtype=torch.float32).to(device)
    target = (cfg.n_inst, cfg.n_features)
    try:
        out = torch.broadcast_to(t, target)
    except RuntimeError:
        raise ValueError(
            f"{name} of shape {tuple(t.shape)} does not broadcast to (n_inst, n_features) = {target}; "
            f"pass a scalar, a [n_features] vector, a [n_inst, 1] column or a full [n_inst, n_features] tensor"
        ) from None
    if not torch.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or inf")
    return out.clone()


class ToyModel(nn.Module):
    """`n_inst` toy models at once: ``out = ReLU(W^T h + b_final)`` with ``h = W x`` (or ReLU(W x)).

    W: [n_inst, d_hidden, n_features]; column `W[i, :, f]` is feature f's direction in instance i's
    hidden space. b_final: [n_inst, n_features].
    """

    W: Float[Tensor, "n_inst d_hidden n_features"]
    b_final: Float[Tensor, "n_inst n_features"]
    feature_probability: Float[Tensor, "n_inst n_features"]
    importance: Float[Tensor, "n_inst n_features"]

    def __init__(
        self,
        cfg: ToyConfig,
        feature_probability: float | Tensor = 0.01,
        importance: float | Tensor = 1.0,
        device: torch.device | str = "cpu",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        p = _per_instance_feature(feature_probability, cfg, "feature_probability", device)
        if ((p <= 0) | (p > 1)).any():
            raise ValueError(f"feature_probability must lie in (0, 1], got values in [{p.min():.3g}, {p.max():.3g}]")
        if cfg.n_anticorrelated_pairs:
            start = 2 * cfg.n_correlated_pairs
            anti = p[:, start : start + 2 * cfg.n_anticorrelated_pairs : 2]
            if (anti > 0.5).any():
                raise ValueError(
                    "an anticorrelated pair is present with probability 2p, so its feature_probability must be <= 0.5"
                )
        imp = _per_instance_feature(importance, cfg, "importance", device)
        if (imp < 0).any():
            raise ValueError("importance must be non-negative")
        self.register_buffer("feature_probability", p)
        self.register_buffer("importance", imp)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        w = torch.empty(cfg.n_inst, cfg.d_hidden, cfg.n_features)
        # Xavier-normal per instance: std sqrt(2 / (fan_in + fan_out)).
        w.normal_(0.0, (2.0 / (cfg.d_hidden + cfg.n_features)) ** 0.5, generator=g)
        self.W = nn.Parameter(w.to(device))
        self.b_final = nn.Parameter(torch.zeros(cfg.n_inst, cfg.n_features, device=device))

    # ---- checks -----------------------------------------------------------------------------
    def _check_features(self, features: Tensor, name: str = "features") -> None:
        want = (self.cfg.n_inst, self.cfg.n_features)
        if not isinstance(features, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
        if features.ndim != 3 or tuple(features.shape[1:]) != want:
            raise ValueError(
                f"{name} must have shape [batch, n_inst={want[0]}, n_features={want[1]}], got {tuple(features.shape)}"
                + (" (did you forget the instance axis?)" if features.ndim == 2 else "")
            )
        if not features.is_floating_point():
            raise TypeError(f"{name} must be a float tensor, got {features.dtype}")

    # ---- the model --------------------------------------------------------------------------
    def hidden(self, features: Float[Tensor, "batch n_inst n_features"]) -> Float[Tensor, "batch n_inst d_hidden"]:
        """The hidden vector W x (after a ReLU in the neuron model)."""
        self._check_features(features)
        h = torch.einsum("ihf,bif->bih", self.W, features)
        return torch.relu(h) if self.cfg.relu_hidden else h

    def out_from_hidden(self, h: Float[Tensor, "batch n_inst d_hidden"]) -> Float[Tensor, "batch n_inst n_features"]:
        """Read the features back out of the hidden vector: ReLU(W^T h + b_final)."""
        return torch.relu(torch.einsum("ihf,bih->bif", self.W, h) + self.b_final)

    def forward(self, features: Float[Tensor, "batch n_inst n_features"]) -> Float[Tensor, "batch n_inst n_features"]:
        return self.out_from_hidden(self.hidden(features))

    # ---- data -------------------------------------------------------------------------------
    def generate_batch(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Float[Tensor, "batch n_inst n_features"]:
        """Sparse features: each is present with its feature_probability and then uniform in [0, 1).

        Correlated pairs are present together (one coin per pair); anticorrelated pairs are never
        present together (the pair is present with probability 2p, then one of the two is chosen).
        Every feature's marginal probability of being present is its feature_probability.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        return generate_features(self.cfg, self.feature_probability, batch_size, generator)

    def loss(
        self, out: Float[Tensor, "batch n_inst n_features"], features: Float[Tensor, "batch n_inst n_features"]
    ) -> Float[Tensor, ""]:
        """Importance-weighted squared error, averaged over batch and features, summed over instances
        (a sum, so that each instance's gradient is exactly what it would be trained alone)."""
        self._check_features(features)
        self._check_features(out, "out")
        if out.shape != features.shape:
            raise ValueError(f"out {tuple(out.shape)} and features {tuple(features.shape)} differ in batch size")
        return weighted_mse(out, features, self.importance)

    def per_instance_loss(
        self, out: Float[Tensor, "batch n_inst n_features"], features: Float[Tensor, "batch n_inst n_features"]
    ) -> Float[Tensor, " n_inst"]:
        """The same loss, one value per instance (for comparing instances of a sweep)."""
        self._check_features(features)
        return (self.importance * (out - features) ** 2).mean(dim=(0, 2))


def forward_from_weights(
    W: Float[Tensor, "n_inst d_hidden n_features"],
    b_final: Float[Tensor, "n_inst n_features"],
    features: Float[Tensor, "batch n_inst n_features"],
    relu_hidden: bool = False,
) -> Float[Tensor, "batch n_inst n_features"]:
    """The model as a plain function of its weights: ReLU(W^T W x + b), or ReLU(W^T ReLU(W x) + b)."""
    h = torch.einsum("ihf,bif->bih", W, features)
    if relu_hidden:
        h = torch.relu(h)
    return torch.relu(torch.einsum("ihf,bih->bif", W, h) + b_final)


def weighted_mse(
    out: Float[Tensor, "batch n_inst n_features"],
    features: Float[Tensor, "batch n_inst n_features"],
    importance: Float[Tensor, "n_inst n_features"],
) -> Float[Tensor, ""]:
    """Importance-weighted squared error: mean over batch and features, sum over instances."""
    return (importance * (out - features) ** 2).mean(dim=(0, 2)).sum()


def generate_features(
    cfg: ToyConfig,
    feature_probability: Float[Tensor, "n_inst n_features"],
    batch_size: int,
    generator: torch.Generator | None = None,
) -> Float[Tensor, "batch n_inst n_features"]:
    """Sample a batch of sparse features for a config (see ToyModel.generate_batch)."""
    device = feature_probability.device
    p = feature_probability.detach().cpu()
    shape = (batch_size, cfg.n_inst, cfg.n_features)
    magnitude = torch.rand(shape, generator=generator)
    coin = torch.rand(shape, generator=generator)
    present = coin < p
    nc, na = cfg.n_correlated_pairs, cfg.n_anticorrelated_pairs
    if nc:
        # one coin per correlated pair, read against the pair's first feature's probability
        pair_coin = coin[:, :, 0 : 2 * nc : 2]
        pair_present = pair_coin < p[:, 0 : 2 * nc : 2]
        present[:, :, 0 : 2 * nc : 2] = pair_present
        present[:, :, 1 : 2 * nc : 2] = pair_present
    if na:
        s = 2 * nc
        pair_coin = coin[:, :, s : s + 2 * na : 2]
        pair_present = pair_coin < 2 * p[:, s : s + 2 * na : 2]
        first = torch.rand(pair_coin.shape, generator=generator) < 0.5
        present[:, :, s : s + 2 * na : 2] = pair_present & first
        present[:, :, s + 1 : s + 2 * na : 2] = pair_present & ~first
    return torch.where(present, magnitude, torch.zeros(())).to(device)


def train_toy(
    model: ToyModel,
    steps: int = 5000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    seed: int = 0,
    log_every: int = 0,
) -> list[float]:
    """Train every instance at once with Adam at a constant learning rate; return the loss per step.

    The batch generator is seeded, so a run is reproducible. `log_every > 0` prints the loss
    (summed over instances) every that many steps. The total time is stored as
    `model.train_seconds` so a page can print it. Runs on one torch thread (restored after).
    """
    if not isinstance(model, ToyModel):
        raise TypeError(f"train_toy trains a ToyModel, got {type(model).__name__}")
    if not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these tensors are tiny: more threads only add overhead (20x on a busy machine)
    t0 = time.perf_counter()
    model.train()
    try:
        _train_loop(model, opt, steps, batch_size, g, log_every, losses)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.train_seconds = time.perf_counter() - t0
    return losses


def _train_loop(
    model: ToyModel,
    opt: torch.optim.Optimizer,
    steps: int,
    batch_size: int,
    g: torch.Generator,
    log_every: int,
    losses: list[float],
) -> None:
    for step in range(steps):
        x = model.generate_batch(batch_size, generator=g)
        loss = model.loss(model(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {losses[-1]:.5f}")
