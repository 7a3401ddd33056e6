"""Sparse autoencoders with an instance axis, for the toy models of superposition.

Every weight carries a leading `n_inst` axis, as the toy model's do, so that one optimiser step
trains a whole row of SAEs at once: one per toy-model instance, or one per sparsity
coefficient on the same data (a sweep in a single run, seconds on a CPU).

Three variants share one class, `ToySAE`, and differ only in how latents switch on:
- `"l1"`: ReLU, and an L1 penalty on the activations (Bricken et al. 2023, Sharkey et al. 2022);
- `"topk"`: keep the k largest pre-activations of each input, no penalty (Gao et al. 2024);
- `"jumprelu"`: a learned threshold per latent, trained through straight-through estimators of
  an L0 penalty (Rajamanoharan et al. 2024).

The decoder is always used with unit-norm latent directions (`normalize_decoder`): otherwise
the L1 penalty could be dodged by shrinking activations and growing decoder norms. Following
SAELens, `W_dec` has shape `[n_inst, d_sae, d_in]`, so a latent's direction is a row of `W_dec`
(a column of the decoder matrix that maps latents to inputs).

Dead latents (never active) are revived by `resample_dead`, which points them at inputs the
SAE reconstructs badly (the recipe of Bricken et al., simplified). `save_saelens` writes one
instance in SAELens's folder format (`cfg.json` + `sae_weights.safetensors`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from jaxtyping import Bool, Float
from torch import Tensor, nn

Architecture = Literal["l1", "topk", "jumprelu"]
ARCHITECTURES: tuple[str, ...] = ("l1", "topk", "jumprelu")


# --------------------------------------------------------------------------- the pieces


def normalize_decoder(
    W_dec: Float[Tensor, "n_inst d_sae d_in"], eps: float = 1e-8
) -> Float[Tensor, "n_inst d_sae d_in"]:
    """Each latent's decoder direction (a row of `W_dec`) scaled to unit norm."""
    return W_dec / (W_dec.norm(dim=-1, keepdim=True) + eps)


def encode_pre(
    h: Float[Tensor, "batch n_inst d_in"],
    W_enc: Float[Tensor, "n_inst d_in d_sae"],
    b_enc: Float[Tensor, "n_inst d_sae"],
    b_dec: Float[Tensor, "n_inst d_in"],
) -> Float[Tensor, "batch n_inst d_sae"]:
    """Pre-activations: the input minus the decoder bias, through the encoder, plus its bias.

    Subtracting `b_dec` first centres the input on the point the decoder adds back, so the
    encoder sees only what the latents have to explain (SAELens's `apply_b_dec_to_input`).
    """
    return torch.einsum("bid,ids->bis", h - b_dec, W_enc) + b_enc


def sae_encode(
    h: Float[Tensor, "batch n_inst d_in"],
    W_enc: Float[Tensor, "n_inst d_in d_sae"],
    b_enc: Float[Tensor, "n_inst d_sae"],
    b_dec: Float[Tensor, "n_inst d_in"],
) -> Float[Tensor, "batch n_inst d_sae"]:
    """The L1 SAE's latent activations: ReLU of the pre-activations."""
    return torch.relu(encode_pre(h, W_enc, b_enc, b_dec))


def sae_decode(
    acts: Float[Tensor, "batch n_inst d_sae"],
    W_dec: Float[Tensor, "n_inst d_sae d_in"],
    b_dec: Float[Tensor, "n_inst d_in"],
) -> Float[Tensor, "batch n_inst d_in"]:
    """The reconstruction: a sum of unit-norm latent directions weighted by the activations, plus b_dec."""
    return torch.einsum("bis,isd->bid", acts, normalize_decoder(W_dec)) + b_dec


def sae_losses(
    h: Float[Tensor, "batch n_inst d_in"],
    h_hat: Float[Tensor, "batch n_inst d_in"],
    acts: Float[Tensor, "batch n_inst d_sae"],
    l1_coeff: float | Float[Tensor, " n_inst"],
) -> tuple[Float[Tensor, "batch n_inst"], Float[Tensor, "batch n_inst"], Float[Tensor, ""]]:
    """(reconstruction, sparsity, total) for the L1 SAE.

    Reconstruction is the mean squared error over `d_in`, sparsity the L1 norm of the latents
    (a sum over `d_sae`), both per input and instance. The total averages over the batch and
    SUMS over instances: each instance's gradient is then that of its own loss, as if it were
    trained alone (a mean would divide every instance's learning rate by n_inst).
    """
    recon = (h_hat - h).pow(2).mean(-1)
    sparsity = acts.abs().sum(-1)
    total = (recon + l1_coeff * sparsity).mean(0).sum()
    return recon, sparsity, total


def topk_activation(pre: Float[Tensor, "batch n_inst d_sae"], k: int | Tensor) -> Float[Tensor, "batch n_inst d_sae"]:
    """Keep the k largest pre-activations of each input (ReLU'd), zero the others.

    `k` may be one int, or one per instance (shape `[n_inst]`) for a sweep in a single run.
    """
    d_sae = pre.shape[-1]
    k_t = torch.as_tensor(k, device=pre.device).long()
    if bool((k_t < 1).any()) or bool((k_t > d_sae).any()):
        raise ValueError(f"k must lie between 1 and d_sae={d_sae}, got {k_t.tolist()}")
    k_max = int(k_t.max())
    top = pre.topk(k_max, dim=-1)
    keep = torch.arange(k_max, device=pre.device) < k_t.reshape(-1, 1)  # [n_inst or 1, k_max]
    values = torch.relu(top.values) * keep
    return torch.zeros_like(pre).scatter(-1, top.indices, values)


def fraction_variance_unexplained(
    h: Float[Tensor, "batch n_inst d_in"], h_hat: Float[Tensor, "batch n_inst d_in"]
) -> Float[Tensor, " n_inst"]:
    """Squared error of the reconstruction over the squared distance of h from its mean, per instance.

    0 is perfect; 1 is no better than always answering the mean input.
    """
    err = (h - h_hat).pow(2).sum((0, 2))
    spread = (h - h.mean(0, keepdim=True)).pow(2).sum((0, 2))
    return err / spread.clamp_min(1e-12)


def l0_norm(acts: Float[Tensor, "batch n_inst d_sae"]) -> Float[Tensor, " n_inst"]:
    """Mean number of active latents per input, per instance."""
    return (acts > 0).float().sum(-1).mean(0)


def dead_latents(acts: Float[Tensor, "batch n_inst d_sae"]) -> Bool[Tensor, "n_inst d_sae"]:
    """Latents that are active on no input of the batch."""
    return ~(acts > 0).any(0)


def feature_cosines(
    W_dec: Float[Tensor, "n_inst d_sae d_in"], W_true: Float[Tensor, "n_inst d_in n_features"]
) -> Float[Tensor, "n_inst n_features"]:
    """For each true feature, the cosine similarity of the closest latent's decoder direction.

    `W_true` is the toy model's `W`: its column f is the direction feature f is written along in
    the hidden space. A value near 1 means some latent found that feature.
    """
    latents = normalize_decoder(W_dec)
    truths = W_true / (W_true.norm(dim=1, keepdim=True) + 1e-8)
    cos = torch.einsum("isd,idf->isf", latents, truths)
    return cos.max(dim=1).values


# --------------------------------------------------------------------------- JumpReLU's estimators


def _rectangle(x: Tensor) -> Tensor:
    return ((x > -0.5) & (x < 0.5)).to(x.dtype)


class _JumpReLU(torch.autograd.Function):
    """pre * (pre > threshold); the threshold's gradient through a rectangle kernel of width `bandwidth`."""

    @staticmethod
    def forward(ctx: Any, pre: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return pre * (pre > threshold)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, None]:
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_pre = (pre > threshold) * grad
        grad_threshold = (-(threshold / eps) * _rectangle((pre - threshold) / eps) * grad).sum(0)
        return grad_pre, grad_threshold, None


class _Step(torch.autograd.Function):
    """(pre > threshold) as a float; only the threshold gets a (pseudo-)gradient."""

    @staticmethod
    def forward(ctx: Any, pre: Tensor, threshold: Tensor, bandwidth: float) -> Tensor:
        ctx.save_for_backward(pre, threshold)
        ctx.bandwidth = bandwidth
        return (pre > threshold).to(pre.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor, None]:
        pre, threshold = ctx.saved_tensors
        eps = ctx.bandwidth
        grad_threshold = (-(1.0 / eps) * _rectangle((pre - threshold) / eps) * grad).sum(0)
        return None, grad_threshold, None


def jumprelu(pre: Tensor, threshold: Tensor, bandwidth: float = 0.05) -> Tensor:
    """JumpReLU: a latent passes its pre-activation only above its threshold."""
    return _JumpReLU.apply(pre, threshold, bandwidth)


# --------------------------------------------------------------------------- the SAE


@dataclass
class SAEConfig:
    """One SAE per instance. `coeff` is the L1 coefficient (`l1`) or the L0 coefficient (`jumprelu`);
    `k` the number of active latents (`topk`). Each may be one number or one per instance."""

    n_inst: int
    d_in: int
    d_sae: int
    architecture: Architecture = "l1"
    coeff: float | Sequence[float] = 0.2
    k: int | Sequence[int] = 1
    bandwidth: float = 0.05
    init_threshold: float = 0.1
    tied_init: bool = True

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        for name in ("n_inst", "d_in", "d_sae"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("coeff", "k"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) and len(value) != self.n_inst:
                raise ValueError(f"{name} has {len(value)} values for {self.n_inst} instances")


@dataclass
class SAEOutput:
    acts: Float[Tensor, "batch n_inst d_sae"]
    h_hat: Float[Tensor, "batch n_inst d_in"]
    recon: Float[Tensor, "batch n_inst"]
    sparsity: Float[Tensor, "batch n_inst"]
    loss: Float[Tensor, ""]


class ToySAE(nn.Module):
    """An SAE with an instance axis: W_enc [n_inst, d_in, d_sae], W_dec [n_inst, d_sae, d_in]."""

    def __init__(self, cfg: SAEConfig, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(seed)
        W_dec = normalize_decoder(torch.randn(cfg.n_inst, cfg.d_sae, cfg.d_in, generator=g))
        self.W_dec = nn.Parameter(W_dec)
        # By default the encoder starts as the decoder's transpose (as SAELens does): each latent
        # first reads along the direction it writes. Untied, it starts as an independent draw.
        if cfg.tied_init:
            W_enc = W_dec.transpose(1, 2).clone()
        else:
            W_enc = normalize_decoder(torch.randn(cfg.n_inst, cfg.d_sae, cfg.d_in, generator=g)).transpose(1, 2).clone()
        self.W_enc = nn.Parameter(W_enc)
        self.b_enc = nn.Parameter(torch.zeros(cfg.n_inst, cfg.d_sae))
        self.b_dec = nn.Parameter(torch.zeros(cfg.n_inst, cfg.d_in))
        if cfg.architecture == "jumprelu":
            self.log_threshold = nn.Parameter(
                torch.full((cfg.n_inst, cfg.d_sae), float(torch.tensor(cfg.init_threshold).log()))
            )
        self.register_buffer("coeff", torch.as_tensor(cfg.coeff, dtype=torch.float32).expand(cfg.n_inst).clone())
        self.register_buffer("k", torch.as_tensor(cfg.k).long().expand(cfg.n_inst).clone())

    @property
    def threshold(self) -> Tensor:
        return self.log_threshold.exp()

    def encode_with_pre(self, h: Float[Tensor, "batch n_inst d_in"]) -> tuple[Tensor, Tensor]:
        pre = encode_pre(h, self.W_enc, self.b_enc, self.b_dec)
        arch = self.cfg.architecture
        if arch == "l1":
            return torch.relu(pre), pre
        if arch == "topk":
            return topk_activation(pre, self.k), pre
        return jumprelu(pre, self.threshold, self.cfg.bandwidth), pre

    def encode(self, h: Float[Tensor, "batch n_inst d_in"]) -> Float[Tensor, "batch n_inst d_sae"]:
        return self.encode_with_pre(h)[0]

    def decode(self, acts: Float[Tensor, "batch n_inst d_sae"]) -> Float[Tensor, "batch n_inst d_in"]:
        return sae_decode(acts, self.W_dec, self.b_dec)

    def forward(self, h: Float[Tensor, "batch n_inst d_in"]) -> SAEOutput:
        if h.ndim != 3 or h.shape[1:] != (self.cfg.n_inst, self.cfg.d_in):
            raise ValueError(
                f"the SAE reads inputs of shape (batch, n_inst={self.cfg.n_inst}, d_in={self.cfg.d_in}), got {tuple(h.shape)}"
            )
        acts, pre = self.encode_with_pre(h)
        h_hat = self.decode(acts)
        recon = (h_hat - h).pow(2).mean(-1)
        arch = self.cfg.architecture
        if arch == "l1":
            sparsity = acts.abs().sum(-1)
        elif arch == "topk":
            sparsity = (acts > 0).float().sum(-1)  # reported, not penalised: k fixes it
        else:
            sparsity = _Step.apply(pre, self.threshold, self.cfg.bandwidth).sum(-1)
        penalty = 0.0 if arch == "topk" else self.coeff * sparsity
        loss = (recon + penalty).mean(0).sum()
        return SAEOutput(acts, h_hat, recon, sparsity, loss)


# --------------------------------------------------------------------------- dead latents


@torch.no_grad()
def resample_dead(
    sae: ToySAE,
    h: Float[Tensor, "batch n_inst d_in"],
    dead: Bool[Tensor, "n_inst d_sae"],
    generator: torch.Generator | None = None,
    enc_scale: float = 0.5,
) -> int:
    """Point every dead latent at an input the SAE reconstructs badly; returns how many were resampled.

    Per instance: draw inputs with probability proportional to their squared reconstruction
    loss; a dead latent's decoder direction becomes that input minus `b_dec`, normalised; its
    encoder column the same direction, scaled to `enc_scale` (0.5) times the mean norm of the live latents'
    encoder columns (1 if none lives); its encoder bias 0. Live latents are left alone.
    """
    if dead.shape != (sae.cfg.n_inst, sae.cfg.d_sae):
        raise ValueError(
            f"dead must have shape (n_inst, d_sae) = {(sae.cfg.n_inst, sae.cfg.d_sae)}, got {tuple(dead.shape)}"
        )
    loss = (sae(h).h_hat - h).pow(2).sum(-1)  # [batch, n_inst]
    count = 0
    for i in range(sae.cfg.n_inst):
        idx = dead[i].nonzero().squeeze(-1)
        if len(idx) == 0:
            continue
        weights = loss[:, i].pow(2)
        if float(weights.sum()) <= 0:
            continue  # nothing is reconstructed badly: no input to point at
        picks = torch.multinomial(weights, len(idx), replacement=True, generator=generator)
        dirs = normalize_decoder((h[picks, i] - sae.b_dec[i])[None])[0]  # [n_dead, d_in]
        alive = ~dead[i]
        scale = enc_scale * sae.W_enc[i][:, alive].norm(dim=0).mean() if bool(alive.any()) else torch.tensor(1.0)
        sae.W_dec[i, idx] = dirs
        sae.W_enc[i][:, idx] = dirs.T * scale
        sae.b_enc[i, idx] = 0.0
        count += len(idx)
    return count


# --------------------------------------------------------------------------- training and metrics


Sampler = Callable[[int, torch.Generator], Float[Tensor, "batch n_inst d_in"]]


def hidden_sampler(model: nn.Module, instances: Sequence[int] | None = None) -> Sampler:
    """Batches of a toy model's hidden states, detached.

    With `instances`, the SAE's instance j reads the toy model's instance `instances[j]`:
    `[0] * 6` gives six SAEs the same data (a sweep over coefficients), `[0, 1, 0, 1]` two
    SAEs per toy instance.
    """
    index = None if instances is None else torch.as_tensor(list(instances), dtype=torch.long)

    def sample(batch_size: int, generator: torch.Generator) -> Tensor:
        with torch.no_grad():
            h = model.hidden(model.generate_batch(batch_size, generator=generator))
        return h if index is None else h[:, index]

    return sample


@dataclass
class SAETrainLog:
    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    dead: list[list[int]] = field(default_factory=list)  # dead latents per instance, at each log step
    resampled: list[tuple[int, int]] = field(default_factory=list)  # (step, latents resampled)
    seconds: float = 0.0


def train_sae(
    sae: ToySAE,
    sample: Sampler,
    *,
    steps: int = 10_000,
    batch_size: int = 1024,
    lr: float = 1e-3,
    resample_every: int = 0,
    resample_until: float = 0.5,
    enc_scale: float = 0.5,
    resample_instances: Sequence[bool] | Tensor | None = None,
    dead_window: int = 0,
    log_every: int = 250,
    seed: int = 0,
    verbose: bool = True,
) -> SAETrainLog:
    """Adam on `sae`'s loss over fresh batches from `sample`; returns what happened.

    A latent counts as dead when it fired on no input of the last `dead_window` steps (default
    `log_every`). With `resample_every`, dead latents are resampled every that many steps, until
    `resample_until` of the run (so the last stretch trains undisturbed); `resample_instances`
    (one bool per instance) limits it to some instances, so one run can compare with and without.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be positive")
    window = dead_window or log_every or 250
    allowed = torch.ones(sae.cfg.n_inst, dtype=torch.bool)
    if resample_instances is not None:
        allowed = torch.as_tensor(resample_instances, dtype=torch.bool)
        if allowed.shape != (sae.cfg.n_inst,):
            raise ValueError(
                f"resample_instances needs one bool per instance ({sae.cfg.n_inst}), got {tuple(allowed.shape)}"
            )
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    fired = torch.zeros(sae.cfg.n_inst, sae.cfg.d_sae, dtype=torch.bool)
    log = SAETrainLog()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        h = sample(batch_size, g)
        out = sae(h)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        fired |= (out.acts > 0).any(0).detach()
        if step % window == 0:
            dead = ~fired
            if resample_every and step % resample_every == 0 and step <= resample_until * steps:
                n = resample_dead(sae, h, dead & allowed[:, None], generator=g, enc_scale=enc_scale)
                log.resampled.append((step, n))

            if log_every and step % log_every == 0:
                log.steps.append(step)
                log.loss.append(out.loss.item())
                log.dead.append(dead.sum(1).tolist())
            fired = torch.zeros_like(fired)
    log.seconds = time.perf_counter() - start
    if verbose:
        print(f"trained {sae.cfg.architecture} SAE x{sae.cfg.n_inst} for {steps} steps in {log.seconds:.1f} s")
    return log


@torch.no_grad()
def evaluate(sae: ToySAE, sample: Sampler, batch_size: int = 20_000, seed: int = 123) -> dict[str, Tensor]:
    """L0, fraction of variance unexplained and dead latents per instance, on one fresh batch."""
    h = sample(batch_size, torch.Generator().manual_seed(seed))
    out = sae(h)
    return {
        "l0": l0_norm(out.acts),
        "fvu": fraction_variance_unexplained(h, out.h_hat),
        "dead": dead_latents(out.acts).sum(1),
    }


# --------------------------------------------------------------------------- SAELens's folder format

SAELENS_ARCHITECTURE = {"l1": "standard", "topk": "topk", "jumprelu": "jumprelu"}


def saelens_state(sae: ToySAE, instance: int) -> dict[str, Tensor]:
    """One instance's weights under SAELens's names and shapes (decoder rows already unit norm)."""
    if not 0 <= instance < sae.cfg.n_inst:
        raise ValueError(f"instance must lie in [0, {sae.cfg.n_inst}), got {instance}")
    state = {
        "W_enc": sae.W_enc[instance],  # [d_in, d_sae]
        "b_enc": sae.b_enc[instance],  # [d_sae]
        "W_dec": normalize_decoder(sae.W_dec)[instance],  # [d_sae, d_in]
        "b_dec": sae.b_dec[instance],  # [d_in]
    }
    if sae.cfg.architecture == "jumprelu":
        state["threshold"] = sae.threshold[instance]
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


def saelens_config(sae: ToySAE, instance: int, hook_name: str, model_name: str) -> dict[str, Any]:
    """The `cfg.json` SAELens 6 writes for an SAE of this architecture."""
    cfg: dict[str, Any] = {
        "architecture": SAELENS_ARCHITECTURE[sae.cfg.architecture],
        "d_in": sae.cfg.d_in,
        "d_sae": sae.cfg.d_sae,
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {"model_name": model_name, "hook_name": hook_name},
    }
    if sae.cfg.architecture == "topk":
        cfg["k"] = int(sae.k[instance])
    return cfg


def save_saelens(
    sae: ToySAE, instance: int, folder: str | Path, *, hook_name: str = "hidden", model_name: str = "toy-5-in-2"
) -> Path:
    """Write one instance as an SAELens folder: `cfg.json` and `sae_weights.safetensors`."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file(saelens_state(sae, instance), str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps(saelens_config(sae, instance, hook_name, model_name), indent=2) + "\n")
    return folder


def load_saelens(folder: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """Read an SAELens folder back: (config, weights)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    for name in ("cfg.json", "sae_weights.safetensors"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder} is not an SAELens folder: {name} is missing")
    return json.loads((folder / "cfg.json").read_text()), load_file(str(folder / "sae_weights.safetensors"))
