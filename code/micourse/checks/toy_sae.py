"""Checkers for chapter 5, page 3 (sparse autoencoders on the toy models of superposition)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from micourse.checks._interp_common import call, compare, one_thread
from micourse.checks.core import CheckFailure, passed
from micourse.toys import toy_sae as ref


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _weights(n_inst: int, d_in: int, d_sae: int, seed: int) -> dict[str, Tensor]:
    """Random SAE weights whose decoder rows are NOT unit norm (so a missing normalisation shows)."""
    g = _gen(seed)
    return {
        "W_enc": torch.randn(n_inst, d_in, d_sae, generator=g),
        "b_enc": torch.randn(n_inst, d_sae, generator=g) * 0.5,
        "W_dec": torch.randn(n_inst, d_sae, d_in, generator=g) * 1.7,
        "b_dec": torch.randn(n_inst, d_in, generator=g) * 0.5,
    }


CASES = [(4, 2, 3, 5, 0), (6, 3, 2, 7, 1), (3, 1, 4, 6, 2)]  # batch, n_inst, d_in, d_sae, seed


def _tensor_out(out: object, what: str) -> None:
    if out is None:
        raise CheckFailure(f"{what} returned None: did you forget to `return` the result?")
    if not isinstance(out, Tensor):
        raise CheckFailure(f"{what} should return a torch.Tensor, got {type(out).__name__}.")


@one_thread
def check_normalize_decoder(fn: Callable) -> None:
    """`fn(W_dec)` -> W_dec with each latent's row scaled to unit norm."""
    for _, n_inst, d_in, d_sae, seed in CASES:
        W = _weights(n_inst, d_in, d_sae, seed)["W_dec"]
        out = call(fn, "normalize_decoder", W.clone())
        _tensor_out(out, "normalize_decoder")
        compare(
            out,
            ref.normalize_decoder(W),
            what=f"normalize_decoder on W_dec of shape {tuple(W.shape)}",
            mistakes=[
                (
                    lambda W=W: W / W.norm(dim=-2, keepdim=True),
                    "you normalised along d_sae (dim=-2). A latent's direction is a ROW of W_dec "
                    "(its last axis, d_in): take the norm over dim=-1.",
                ),
                (
                    lambda W=W: W / W.norm(dim=-1, keepdim=True).pow(2),
                    "you divided by the squared norm; divide by the norm.",
                ),
                (
                    lambda W=W: W / W.norm(dim=(-2, -1), keepdim=True),
                    "you divided by the norm of the whole matrix; each latent's row gets its own norm.",
                ),
                (
                    lambda W=W: W / W.abs().sum(-1, keepdim=True),
                    "you divided by the L1 norm (sum of |entries|); use the L2 norm.",
                ),
            ],
            hint="W_dec / W_dec.norm(dim=-1, keepdim=True): every row of every instance then has length 1.",
        )
    passed("normalize_decoder")


@one_thread
def check_sae_encode(fn: Callable) -> None:
    """`fn(h, W_enc, b_enc, b_dec)` -> ReLU((h - b_dec) W_enc + b_enc), per instance."""
    for batch, n_inst, d_in, d_sae, seed in CASES:
        w = _weights(n_inst, d_in, d_sae, seed)
        h = torch.randn(batch, n_inst, d_in, generator=_gen(seed + 10))
        args = (h, w["W_enc"], w["b_enc"], w["b_dec"])
        out = call(fn, "sae_encode", *(a.clone() for a in args))
        _tensor_out(out, "sae_encode")
        pre = ref.encode_pre(*args)
        compare(
            out,
            torch.relu(pre),
            what=f"sae_encode on h of shape {tuple(h.shape)}",
            mistakes=[
                (pre, "you forgot the ReLU: latent activations are never negative."),
                (
                    lambda args=args: torch.relu(torch.einsum("bid,ids->bis", args[0], args[1]) + args[2]),
                    "you did not subtract b_dec from h before the encoder.",
                ),
                (
                    lambda args=args: torch.relu(torch.einsum("bid,ids->bis", args[0] + args[3], args[1]) + args[2]),
                    "you added b_dec; SUBTRACT it (the decoder adds it back).",
                ),
                (
                    lambda args=args: torch.relu(torch.einsum("bid,ids->bis", args[0] - args[3], args[1])),
                    "you left out the encoder bias b_enc.",
                ),
            ],
            hint="torch.einsum('bid,ids->bis', h - b_dec, W_enc) + b_enc, then ReLU. The instance axis i is kept, never summed.",
        )
    passed("sae_encode")


@one_thread
def check_sae_decode(fn: Callable) -> None:
    """`fn(acts, W_dec, b_dec)` -> acts @ normalize(W_dec) + b_dec, per instance."""
    for batch, n_inst, d_in, d_sae, seed in CASES:
        w = _weights(n_inst, d_in, d_sae, seed)
        acts = torch.relu(torch.randn(batch, n_inst, d_sae, generator=_gen(seed + 20)))
        args = (acts, w["W_dec"], w["b_dec"])
        out = call(fn, "sae_decode", *(a.clone() for a in args))
        _tensor_out(out, "sae_decode")
        compare(
            out,
            ref.sae_decode(*args),
            what=f"sae_decode on acts of shape {tuple(acts.shape)}",
            mistakes=[
                (
                    lambda args=args: torch.einsum("bis,isd->bid", args[0], args[1]) + args[2],
                    "you used W_dec as it is; normalise its rows first (normalize_decoder), so every latent writes a unit vector.",
                ),
                (
                    lambda args=args: torch.einsum("bis,isd->bid", args[0], ref.normalize_decoder(args[1])),
                    "you forgot to add b_dec back.",
                ),
                (
                    lambda args=args: torch.einsum("bis,isd->bid", args[0], ref.normalize_decoder(args[1])) - args[2],
                    "you subtracted b_dec; the decoder ADDS it (the encoder subtracted it).",
                ),
            ],
            hint="torch.einsum('bis,isd->bid', acts, normalize_decoder(W_dec)) + b_dec.",
        )
    passed("sae_decode")


@one_thread
def check_sae_losses(fn: Callable) -> None:
    """`fn(h, h_hat, acts, l1_coeff)` -> (recon [batch, n_inst], sparsity [batch, n_inst], total scalar)."""
    for batch, n_inst, d_in, d_sae, seed in CASES:
        g = _gen(seed + 30)
        h, h_hat = torch.randn(batch, n_inst, d_in, generator=g), torch.randn(batch, n_inst, d_in, generator=g)
        acts = torch.relu(torch.randn(batch, n_inst, d_sae, generator=g))
        coeff = 0.3
        out = call(fn, "sae_losses", h.clone(), h_hat.clone(), acts.clone(), coeff)
        if not isinstance(out, tuple) or len(out) != 3:
            raise CheckFailure("sae_losses should return a tuple of three tensors: (recon, sparsity, total).")
        recon, sparsity, total = ref.sae_losses(h, h_hat, acts, coeff)
        what = f"on a batch of shape {tuple(h.shape)}"
        compare(
            out[0],
            recon,
            what=f"recon {what}",
            mistakes=[
                ((h_hat - h).pow(2).sum(-1), "you summed the squared error over d_in; take the mean."),
                (
                    (h_hat - h).pow(2).mean(),
                    "recon should keep one value per input and instance, shape (batch, n_inst).",
                ),
                (
                    (h_hat - h).abs().mean(-1),
                    "you took the absolute error; the reconstruction loss is the SQUARED error.",
                ),
            ],
            hint="(h_hat - h).pow(2).mean(-1)",
        )
        compare(
            out[1],
            sparsity,
            what=f"sparsity {what}",
            mistakes=[
                (acts.abs().mean(-1), "you averaged over latents; the L1 norm SUMS |acts| over d_sae."),
                (acts.pow(2).sum(-1), "you summed squares (an L2 penalty); the L1 penalty sums |acts|."),
                (
                    coeff * acts.abs().sum(-1),
                    "sparsity is the L1 norm itself; the coefficient belongs in the total only.",
                ),
            ],
            hint="acts.abs().sum(-1)",
        )
        compare(
            out[2],
            total,
            what=f"total {what}",
            mistakes=[
                (
                    (recon + coeff * sparsity).mean(),
                    "you averaged over instances too. SUM over instances (average over the batch only): then each "
                    "instance trains as if it were alone, at the full learning rate.",
                ),
                ((recon + sparsity).mean(0).sum(), "you forgot to multiply the sparsity by l1_coeff."),
                (
                    (recon + coeff * sparsity).sum(),
                    "you summed over the batch; average over it (sum over instances only).",
                ),
            ],
            hint="(recon + l1_coeff * sparsity).mean(0).sum()",
        )
    passed("sae_losses")


@one_thread
def check_feature_cosines(fn: Callable) -> None:
    """`fn(W_dec, W_true)` -> [n_inst, n_features]: best cosine of any latent with each true feature."""
    for _, n_inst, d_in, d_sae, seed in CASES:
        n_features = d_sae - 1  # never equal to d_sae, so the axes cannot be confused silently
        W_dec = _weights(n_inst, d_in, d_sae, seed)["W_dec"]
        W_true = torch.randn(n_inst, d_in, n_features, generator=_gen(seed + 40)) * 1.3
        out = call(fn, "feature_cosines", W_dec.clone(), W_true.clone())
        _tensor_out(out, "feature_cosines")
        if tuple(out.shape) == (n_inst, d_sae):
            raise CheckFailure(
                f"feature_cosines returned shape {tuple(out.shape)}, one value per LATENT. Return one per true feature, "
                f"shape (n_inst, n_features) = {(n_inst, n_features)}: take the max over latents (d_sae)."
            )
        lat = ref.normalize_decoder(W_dec)
        unit = W_true / W_true.norm(dim=1, keepdim=True)
        cos = torch.einsum("isd,idf->isf", lat, unit)
        compare(
            out,
            ref.feature_cosines(W_dec, W_true),
            what=f"feature_cosines for W_dec {tuple(W_dec.shape)}, W_true {tuple(W_true.shape)}",
            mistakes=[
                (
                    torch.einsum("isd,idf->isf", lat, W_true).max(1).values,
                    "you did not normalise the true feature directions (columns of W_true, dim=1).",
                ),
                (
                    torch.einsum("isd,idf->isf", W_dec, unit).max(1).values,
                    "you did not normalise the decoder rows (normalize_decoder).",
                ),
                (
                    cos.abs().max(1).values,
                    "you took |cos|: a latent pointing AWAY from a feature does not represent it.",
                ),
                (cos.mean(1), "you averaged over latents; the best latent is the max."),
            ],
            hint="Normalise both, cos = einsum('isd,idf->isf', latents, features), then .max(dim=1).values.",
        )
    passed("feature_cosines")


@one_thread
def check_dead_latents(fn: Callable) -> None:
    """`fn(acts)` -> bool [n_inst, d_sae]: True where a latent fired on no input."""
    for batch, n_inst, _, d_sae, seed in CASES:
        g = _gen(seed + 50)
        acts = torch.relu(torch.randn(batch, n_inst, d_sae, generator=g))
        acts[:, 0, 1] = 0.0  # a dead latent in every case
        acts[1:, -1, 0] = 0.0  # a latent that fires on one input only, weakly: alive
        acts[0, -1, 0] = 0.005
        out = call(fn, "dead_latents", acts.clone())
        _tensor_out(out, "dead_latents")
        expected = ref.dead_latents(acts)
        if out.dtype != torch.bool:
            raise CheckFailure(f"dead_latents should return booleans (dtype torch.bool), got {out.dtype}.")
        if tuple(out.shape) == (batch, n_inst):
            raise CheckFailure(
                "dead_latents returned shape (batch, n_inst): reduce over the batch (dim 0), not over latents."
            )
        compare(
            out,
            expected,
            what=f"dead_latents on acts of shape {tuple(acts.shape)}",
            mistakes=[
                ((acts > 0).any(0), "you returned the LIVE latents; dead ones are those that never fire (negate it)."),
                (
                    ~(acts > 0).all(0),
                    "you marked a latent dead as soon as it is silent on one input; it is dead only if silent on ALL inputs.",
                ),
                (
                    acts.mean(0) < 0.01,
                    "you marked latents that fire rarely or weakly as dead; dead means never above 0 on any input.",
                ),
            ],
            hint="A latent is alive if (acts > 0).any(dim=0); dead is the negation.",
        )
    passed("dead_latents")


@one_thread
def check_topk_activation(fn: Callable) -> None:
    """`fn(pre, k)` -> the k largest pre-activations of each input, ReLU'd; zeros elsewhere."""
    for batch, n_inst, _, d_sae, seed in CASES:
        pre = torch.randn(batch, n_inst, d_sae, generator=_gen(seed + 60))
        pre[0, 0] = -torch.rand(d_sae, generator=_gen(seed)) - 0.1  # a row with no positive entry
        k = 2
        out = call(fn, "topk_activation", pre.clone(), k)
        _tensor_out(out, "topk_activation")
        top = pre.topk(k, dim=-1)
        smallest = pre.topk(k, dim=-1, largest=False)
        compare(
            out,
            ref.topk_activation(pre, k),
            what=f"topk_activation on pre of shape {tuple(pre.shape)}, k={k}",
            mistakes=[
                (
                    torch.zeros_like(pre).scatter(-1, top.indices, top.values),
                    "you kept negative values: apply a ReLU to the kept ones (a latent's activation is never negative).",
                ),
                (
                    torch.zeros_like(pre).scatter(-1, smallest.indices, torch.relu(smallest.values)),
                    "you kept the k SMALLEST pre-activations; topk's default largest=True is what you want.",
                ),
                (
                    torch.relu(top.values),
                    "you returned only the k values; scatter them back into a tensor of pre's shape.",
                ),
                (torch.relu(pre), "you applied only a ReLU; keep just the k largest of each input and zero the rest."),
            ],
            hint="values, indices = pre.topk(k, dim=-1); zeros_like(pre).scatter(-1, indices, values.relu()).",
        )
    passed("topk_activation")


@one_thread
def check_fraction_variance_unexplained(fn: Callable) -> None:
    """`fn(h, h_hat)` -> [n_inst]: squared error over squared spread of h around its mean."""
    for batch, n_inst, d_in, _, seed in CASES:
        g = _gen(seed + 70)
        h = torch.randn(batch, n_inst, d_in, generator=g) + 2.0  # a mean far from 0, so centring matters
        h_hat = h + 0.4 * torch.randn(batch, n_inst, d_in, generator=g)
        out = call(fn, "fraction_variance_unexplained", h.clone(), h_hat.clone())
        _tensor_out(out, "fraction_variance_unexplained")
        expected = ref.fraction_variance_unexplained(h, h_hat)
        err = (h - h_hat).pow(2)
        centred = (h - h.mean(0, keepdim=True)).pow(2)
        compare(
            out,
            expected,
            what=f"fraction_variance_unexplained on h of shape {tuple(h.shape)}",
            mistakes=[
                (err.sum((0, 2)) / h.pow(2).sum((0, 2)), "you divided by the sum of h²; centre h on its mean first."),
                (1 - expected, "you returned the fraction EXPLAINED; unexplained is error / spread."),
                (
                    (err.sum(-1) / centred.sum(-1)).mean(0),
                    "you averaged per-input ratios; divide the total error by the total spread.",
                ),
                (err.sum() / centred.sum(), "return one value per instance, shape (n_inst,)."),
            ],
            hint="((h - h_hat)**2).sum((0, 2)) / ((h - h.mean(0, keepdim=True))**2).sum((0, 2)).",
        )
    passed("fraction_variance_unexplained")


# --------------------------------------------------------------------------- resampling


ENC_SCALE = 0.5  # resample_dead's default enc_scale


def _resample_case(seed: int) -> tuple[ref.ToySAE, Tensor, Tensor, Tensor]:
    """An SAE whose only live latent reconstructs the e1 axis exactly, and inputs on and off it.

    Inputs along e1 (plus b_dec) have zero loss: a resampler that weights by loss never picks
    them. The others lie in the (e2, e3) plane, which no live latent covers.
    """
    n_inst, d_in, d_sae = 2, 3, 4
    sae = ref.ToySAE(ref.SAEConfig(n_inst=n_inst, d_in=d_in, d_sae=d_sae), seed=seed)
    g = _gen(seed + 80)
    with torch.no_grad():
        sae.b_dec.copy_(torch.tensor([[0.3, -0.2, 0.5], [-0.4, 0.1, 0.2]]))
        sae.W_enc.zero_()
        sae.W_dec.copy_(torch.randn(n_inst, d_sae, d_in, generator=g))
        sae.b_enc.fill_(-5.0)  # latents other than 0 never fire
        sae.W_enc[:, 0, 0] = 1.0  # latent 0 reads e1 ...
        sae.W_dec[:, 0] = torch.tensor([1.0, 0.0, 0.0])  # ... and writes e1
        sae.b_enc[:, 0] = 0.0
        sae.W_enc[:, :, 1] = torch.randn(n_inst, d_in, generator=g)  # latent 1: alive (by the mask), silent here
    on_axis = torch.rand(40, n_inst, generator=g)[..., None] * torch.tensor([1.0, 0.0, 0.0])
    off_axis = torch.randn(40, n_inst, d_in, generator=g) * torch.tensor([0.0, 1.0, 1.0])
    h = torch.cat([on_axis, off_axis])[torch.randperm(80, generator=g)] + sae.b_dec.detach()
    dead = torch.tensor([[False, False, True, True], [False, False, False, True]])
    return sae, h, dead, off_axis


@one_thread
def check_resample_dead(fn: Callable) -> None:
    """`fn(sae, h, dead, generator)` resamples the dead latents in place, as `ref.resample_dead` does."""
    for seed in (0, 1, 2):
        sae, h, dead, _ = _resample_case(seed)
        before = {k: v.detach().clone() for k, v in sae.named_parameters()}
        call(fn, "resample_dead", sae, h.clone(), dead.clone(), _gen(seed))
        W_enc, b_enc, W_dec = sae.W_enc.detach(), sae.b_enc.detach(), sae.W_dec.detach()
        if not torch.equal(sae.b_dec.detach(), before["b_dec"]):
            raise CheckFailure("resample_dead changed b_dec; only the dead latents' weights should change.")
        for i in range(dead.shape[0]):
            alive = ~dead[i]
            if not (
                torch.equal(W_dec[i, alive], before["W_dec"][i, alive])
                and torch.equal(W_enc[i][:, alive], before["W_enc"][i][:, alive])
                and torch.equal(b_enc[i, alive], before["b_enc"][i, alive])
            ):
                raise CheckFailure(
                    f"resample_dead changed a live latent (instance {i}): leave every latent with dead[i, j] False untouched."
                )
            idx = dead[i].nonzero().squeeze(-1)
            rows = W_dec[i, idx]
            norms = rows.norm(dim=-1)
            if torch.isnan(rows).any():
                raise CheckFailure(
                    "a resampled decoder row is NaN: you normalised an input equal to b_dec (zero after centring). "
                    "Sample inputs with probability proportional to their squared loss, so such inputs are never picked."
                )
            if not torch.allclose(norms, torch.ones_like(norms), atol=1e-4):
                raise CheckFailure(
                    f"resampled decoder rows of instance {i} have norms {norms.tolist()}; normalise them to 1."
                )
            raw = h[:, i] - before["b_dec"][i]
            unit = raw / raw.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            sims = rows @ unit.T  # [n_dead, batch]
            if not bool((sims.max(-1).values > 1 - 1e-4).all()):
                plain = h[:, i] / h[:, i].norm(dim=-1, keepdim=True)
                if bool(((rows @ plain.T).max(-1).values > 1 - 1e-4).all()):
                    raise CheckFailure(
                        "the new decoder rows are inputs h, normalised; subtract b_dec first (h - b_dec)."
                    )
                raise CheckFailure(
                    "each resampled decoder row should be an input of the batch, minus b_dec, normalised."
                )
            if bool((rows[:, 0].abs() > 1 - 1e-4).any()):
                raise CheckFailure(
                    "you resampled a latent towards an input the SAE already reconstructs perfectly (loss 0). "
                    "Draw inputs with probability proportional to their squared reconstruction loss (torch.multinomial)."
                )
            live_norm = before["W_enc"][i][:, alive].norm(dim=0).mean()
            cols = W_enc[i][:, idx].T  # [n_dead, d_in]
            if not torch.allclose(cols, rows * ENC_SCALE * live_norm, atol=1e-4):
                if torch.allclose(cols, rows, atol=1e-4):
                    raise CheckFailure(
                        f"the new encoder columns equal the decoder rows; scale them to {ENC_SCALE} x the mean norm of the live "
                        "latents' encoder columns."
                    )
                if torch.allclose(cols, rows * live_norm, atol=1e-4):
                    raise CheckFailure(
                        f"the new encoder columns are scaled by the live mean norm; use {ENC_SCALE} times it."
                    )
                raise CheckFailure(
                    f"the new encoder columns of instance {i} should be the new decoder rows times {ENC_SCALE} x the mean norm of "
                    f"the live latents' encoder columns ({ENC_SCALE * live_norm:.4f}), written into W_enc[i][:, dead]."
                )
            if not torch.all(b_enc[i, idx] == 0):
                raise CheckFailure(
                    "set the resampled latents' encoder bias b_enc to 0 (theirs was pushed down while they died)."
                )
    passed("resample_dead")
