"""Train the grokking model: `python -m micourse.toys.grokking.train` (the course's one recipe).

Nanda et al. (2023)'s setup: (a + b) mod p, 30% of the p^2 pairs for training, full-batch AdamW
(lr 1e-3, weight decay 1.0, betas 0.9/0.98, 10 warm-up steps), loss in float64 at the last
position. Deterministic: `torch.use_deterministic_algorithms(True)` and a fixed thread count, so
the same command on the same kind of machine writes the same tensors bit for bit.

Why a hand-written forward (`last_logits`)? Only the last position's output is trained, and with
one layer the first two positions matter only as attention keys and values; their keys, values
and the query at "=" depend on the token alone, so they are tables of p rows. Computing just that
is the same function as `model(tokens)[:, -1]` (checked at start-up) at about a fifth of the cost,
which is what makes the run fit a 2-core CPU.

Why p = 71 and half the pairs (data.P, data.TRAIN_FRACTION), not Nanda et al.'s p = 113 and 30%:
measured on the shared 2-core machine with about 6-12 other busy processes, one thread, this
forward: 0.21-0.45 s a step at p = 113 (TransformerLens's own forward: 1.27 s on one thread, 2.18 s
on two). p = 113 with 30% generalises near step 10-12k (a 25-minute run on the idle machine,
STACK-NOTES.md), i.e. 40-80 minutes here, over the time the session that trained the shipped
model had left. p = 71 with 50% costs about 0.15-0.35 s a step and generalised by step 1,000.

Writes `weights/grokking.safetensors` (the final model, float16, with the run's metadata: time,
seed, threads, steps, command, scorecard, downsampled loss curves) and
`weights/grokking-checkpoints.safetensors` (a few float16 snapshots for the "during training"
page, and progress measures computed from a snapshot every SNAPSHOT_EVERY steps).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from jaxtyping import Float, Int
from safetensors.torch import save_file

from micourse.toys.grokking import fourier
from micourse.toys.grokking.data import SPLIT_SEED, TRAIN_FRACTION, P, dataset
from micourse.toys.grokking.model import CHECKPOINTS_PATH, WEIGHTS_PATH, build, cfg_for
from micourse.training import keeps_torch_switches

# ---- settings -------------------------------------------------------------------------------
STEPS = 6_000
LR = 1e-3
WEIGHT_DECAY = 1.0
BETAS = (0.9, 0.98)
WARMUP_STEPS = 10
MODEL_SEED = 999
THREADS = 1
TEST_EVERY = 50  # held-out loss every this many steps (the training loss is logged every step)
SNAPSHOT_EVERY = 100  # progress measures are computed from a snapshot this often
STORED_SNAPSHOTS = 14  # float16 snapshots kept in the checkpoints file (about 0.45 MB each)
CURVE_POINTS = 200  # loss-curve points kept in the weights file's metadata


def last_logits(model, tokens: Int[torch.Tensor, "batch 3"]) -> Float[torch.Tensor, "batch d_vocab_out"]:
    """`model(tokens)[:, -1]` for inputs `a b =`, computed from per-token tables (see the module doc)."""
    W_E, W_pos = model.embed.W_E, model.pos_embed.W_pos
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    p = model.cfg.d_vocab_out
    e0, e1 = W_E[:p] + W_pos[0], W_E[:p] + W_pos[1]  # a at position 0, b at position 1
    e2 = W_E[p] + W_pos[2]  # "=" at position 2
    q = torch.einsum("d,hde->he", e2, attn.W_Q) + attn.b_Q  # the one query
    k0, k1 = (torch.einsum("td,hde->the", e, attn.W_K) + attn.b_K for e in (e0, e1))
    k2 = torch.einsum("d,hde->he", e2, attn.W_K) + attn.b_K
    scale = math.sqrt(model.cfg.d_head)
    s0 = torch.einsum("he,the->th", q, k0) / scale
    s1 = torch.einsum("he,the->th", q, k1) / scale
    s2 = (q * k2).sum(-1) / scale
    a, b = tokens[:, 0], tokens[:, 1]
    scores = torch.stack([s0[a], s1[b], s2.expand(len(a), -1)], dim=-1)  # batch head key
    pattern = scores.softmax(dim=-1)
    vo0, vo1 = (torch.einsum("td,hde,hef->thf", e, attn.W_V, attn.W_O) for e in (e0, e1))
    vo2 = torch.einsum("d,hde,hef->hf", e2, attn.W_V, attn.W_O)
    bias_vo = torch.einsum("he,hef->hf", attn.b_V, attn.W_O)  # b_V through W_O; pattern sums to 1
    attn_out = (
        torch.einsum("bh,bhf->bf", pattern[..., 0], vo0[a])
        + torch.einsum("bh,bhf->bf", pattern[..., 1], vo1[b])
        + pattern[..., 2] @ vo2
        + bias_vo.sum(0)
        + attn.b_O
    )
    resid = e2 + attn_out
    hidden = torch.relu(resid @ mlp.W_in + mlp.b_in)
    resid = resid + hidden @ mlp.W_out + mlp.b_out
    return resid @ model.unembed.W_U + model.unembed.b_U


def loss_fn(logits: Float[torch.Tensor, "batch p"], labels: Int[torch.Tensor, " batch"]) -> torch.Tensor:
    """Mean cross-entropy in float64 (with float32 a memorised training loss rounds to zero)."""
    return torch.nn.functional.cross_entropy(logits.double(), labels)


def progress_measures(model, data: dict, key_freqs: list[int]) -> dict[str, object]:
    """Nanda et al.'s progress measures for one snapshot, plus the embedding's frequency norms."""
    p = model.cfg.d_vocab_out
    with torch.no_grad():
        logits = last_logits(model, data["tokens"])
        y, tr, te = data["labels"], data["train_idx"], data["test_idx"]
        excluded = fourier.project_logits(logits, key_freqs, keep=False)
        restricted = fourier.project_logits(logits, key_freqs, keep=True)
        emb = fourier.frequency_norms(fourier.fft1d(model.embed.W_E[:p].double()))
        sq_norm = sum(v.double().pow(2).sum() for v in model.parameters())
        return {
            "train_loss": loss_fn(logits[tr], y[tr]).item(),
            "test_loss": loss_fn(logits[te], y[te]).item(),
            "test_accuracy": (logits[te].argmax(-1) == y[te]).double().mean().item(),
            "excluded_loss_train": loss_fn(excluded[tr], y[tr]).item(),
            "restricted_loss_test": loss_fn(restricted[te], y[te]).item(),
            "weight_norm_sq": sq_norm.item(),
            "embed_freq_norms": emb,
        }


def final_key_frequencies(model, data: dict) -> list[int]:
    """The key frequencies of a model: neuron clusters in its MLP activations (see `fourier.key_frequencies`)."""
    p = model.cfg.d_vocab_out
    with torch.no_grad():
        _, cache = model.run_with_cache(data["tokens"], names_filter="blocks.0.mlp.hook_post")
    acts = cache["blocks.0.mlp.hook_post"][:, -1].reshape(p, p, -1)
    return fourier.key_frequencies(acts)


def fp16_round(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to(torch.float16).float() for k, v in state.items()}


@keeps_torch_switches
def train(
    p: int = P,
    steps: int = STEPS,
    threads: int = THREADS,
    seed: int = MODEL_SEED,
    verbose: bool = True,
    fraction: float = TRAIN_FRACTION,
) -> dict[str, object]:
    """The whole run; returns the final model, the logged curves and the kept snapshots.

    `fraction` (of the p^2 pairs used for training) is only changed by the pages' live run:
    with a small p, 30% is too few pairs to generalise from.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, not {steps!r}.")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    cfg = cfg_for(p, seed)
    model = build(cfg)
    data = dataset(p, fraction, SPLIT_SEED)
    x_train, y_train = data["tokens"][data["train_idx"]], data["labels"][data["train_idx"]]
    x_test, y_test = data["tokens"][data["test_idx"]], data["labels"][data["test_idx"]]
    with torch.no_grad():  # the shortcut forward must be the model's forward
        gap = (last_logits(model, x_train[:64]) - model(x_train[:64])[:, -1]).abs().max().item()
    if gap > 1e-4:
        raise RuntimeError(f"last_logits disagrees with the model's forward by {gap:.2e}.")

    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, betas=BETAS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / WARMUP_STEPS, 1.0))
    train_losses, test_losses, test_steps, snapshots = [], [], [], {}
    start = time.perf_counter()
    for step in range(steps + 1):
        if step % TEST_EVERY == 0 or step == steps:
            with torch.no_grad():
                test_losses.append(loss_fn(last_logits(model, x_test), y_test).item())
            test_steps.append(step)
        if step % SNAPSHOT_EVERY == 0 or step == steps:
            snapshots[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if step == steps:
            break
        loss = loss_fn(last_logits(model, x_train), y_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        train_losses.append(loss.item())
        if verbose and (step % 500 == 0 or step == steps - 1):
            el = time.perf_counter() - start
            print(
                f"step {step:6d}  train {loss.item():.3e}  test {test_losses[-1]:.3e}  "
                f"{el:7.0f} s ({el / (step + 1):.3f} s/step)",
                flush=True,
            )
    seconds = time.perf_counter() - start
    return {
        "model": model,
        "cfg": cfg,
        "fraction": fraction,
        "data": data,
        "train_losses": train_losses,
        "test_losses": test_losses,
        "test_steps": test_steps,
        "snapshots": snapshots,
        "seconds": seconds,
    }


def analyse(run: dict) -> dict[str, object]:
    """Progress measures for every snapshot (with the final model's key frequencies) and a scorecard."""
    model, data = run["model"], run["data"]
    model.load_state_dict(fp16_round(model.state_dict()))  # score the weights as they are shipped
    key_freqs = final_key_frequencies(model, data)
    final = progress_measures(model, data, key_freqs)
    with torch.no_grad():
        logits = last_logits(model, data["tokens"])
    all_acc = (logits.argmax(-1) == data["labels"]).double().mean().item()
    probe = build(run["cfg"])
    measures = {}
    for step, state in run["snapshots"].items():
        probe.load_state_dict(state)
        measures[step] = progress_measures(probe, data, key_freqs)
    test_acc = {s: m["test_accuracy"] for s, m in measures.items()}
    first_99 = next((s for s in sorted(test_acc) if test_acc[s] >= 0.99), None)
    scorecard = {
        "train_loss": final["train_loss"],
        "test_loss": final["test_loss"],
        "test_accuracy": final["test_accuracy"],
        "all_pairs_accuracy": all_acc,
        "key_frequencies": key_freqs,
        "restricted_loss_test": final["restricted_loss_test"],
        "excluded_loss_train": final["excluded_loss_train"],
        "first_step_test_accuracy_99": first_99,
        "weights": "float16 (scored as stored)",
    }
    return {"key_freqs": key_freqs, "measures": measures, "scorecard": scorecard}


def _downsample(values: list[float], steps: list[int], n: int) -> dict[str, list]:
    idx = sorted({round(i * (len(values) - 1) / max(n - 1, 1)) for i in range(n)})
    return {"step": [steps[i] for i in idx], "loss": [float(f"{values[i]:.4e}") for i in idx]}


def save(run: dict, result: dict, out: Path, checkpoints_out: Path, command: str, threads: int, seed: int) -> None:
    """Write the weights file and the checkpoints file (see the module doc)."""
    from micourse.standins.weights import save_standin

    n_train = len(run["train_losses"])
    meta = {
        "what": "grokking: 1-layer transformer on (a + b) mod p, trained by micourse.toys.grokking.train",
        "p": run["cfg"]["d_vocab_out"],
        "train_fraction": run["fraction"],
        "split_seed": SPLIT_SEED,
        "seed": seed,
        "threads": threads,
        "steps": n_train,
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "betas": list(BETAS),
        "warmup_steps": WARMUP_STEPS,
        "train_seconds": round(run["seconds"], 1),
        "seconds_per_step": round(run["seconds"] / max(n_train, 1), 4),
        "torch": torch.__version__,
        "command": command,
        "scorecard": result["scorecard"],
        "train_loss_curve": _downsample(run["train_losses"], list(range(n_train)), CURVE_POINTS),
        "test_loss_curve": _downsample(run["test_losses"], run["test_steps"], CURVE_POINTS),
        "sources": "Nanda et al. 2023 (Progress measures for grokking); Power et al. 2022 (Grokking)",
    }
    state = {k: v for k, v in run["model"].state_dict().items()}
    save_standin(state, run["cfg"], out, seen=None, meta=meta)

    measures = result["measures"]
    steps = sorted(measures)
    tensors: dict[str, torch.Tensor] = {
        "curve.train_loss": torch.tensor(run["train_losses"], dtype=torch.float32),
        "curve.test_loss": torch.tensor(run["test_losses"], dtype=torch.float32),
        "curve.test_step": torch.tensor(run["test_steps"], dtype=torch.int32),
        "measure.step": torch.tensor(steps, dtype=torch.int32),
        "measure.embed_freq_norms": torch.stack([measures[s]["embed_freq_norms"] for s in steps]).float(),
    }
    for name in (
        "train_loss",
        "test_loss",
        "test_accuracy",
        "excluded_loss_train",
        "restricted_loss_test",
        "weight_norm_sq",
    ):
        tensors[f"measure.{name}"] = torch.tensor([measures[s][name] for s in steps], dtype=torch.float64)
    kept = sorted({steps[round(i * (len(steps) - 1) / (STORED_SNAPSHOTS - 1))] for i in range(STORED_SNAPSHOTS)})
    for s in kept:
        for k, v in run["snapshots"][s].items():
            if k.endswith((".IGNORE", ".mask")):
                continue
            tensors[f"snapshot.{s}.{k}"] = v.to(torch.float16).contiguous()
    ck_meta = {
        "cfg": json.dumps(run["cfg"]),
        "meta": json.dumps(
            {
                "snapshot_steps": kept,
                "train_fraction": run["fraction"],
                "key_frequencies": result["key_freqs"],
                "snapshot_every": SNAPSHOT_EVERY,
                "test_every": TEST_EVERY,
                "command": command,
            }
        ),
    }
    checkpoints_out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(checkpoints_out), metadata=ck_meta)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=P)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--seed", type=int, default=MODEL_SEED)
    parser.add_argument("--fraction", type=float, default=TRAIN_FRACTION)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--checkpoints-out", type=Path, default=CHECKPOINTS_PATH)
    args = parser.parse_args(argv)
    command = "python -m micourse.toys.grokking.train " + " ".join(sys.argv[1:] if argv is None else argv)
    run = train(args.p, args.steps, args.threads, args.seed, fraction=args.fraction)
    result = analyse(run)
    save(run, result, args.out, args.checkpoints_out, command.strip(), args.threads, args.seed)
    print(json.dumps(result["scorecard"], indent=1))
    print(f"trained {args.steps} steps in {run['seconds']:.0f} s; wrote {args.out} and {args.checkpoints_out}")


if __name__ == "__main__":
    main()
