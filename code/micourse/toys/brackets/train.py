"""The recipe that trained the course's bracket classifier. Run it with

    flock /tmp/micourse-train.lock python -m micourse.toys.brackets.train

It reads top to bottom: settings, data, one loop, a scorecard, the weights file. One thread and
`torch.use_deterministic_algorithms(True)`, so running it twice on the same machine kind writes
the same bytes (training time is kept out of the file's bytes only by being measured: it is the
one entry of the metadata that differs, so `--check-same` compares everything else).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from micourse.toys.brackets import data
from micourse.toys.brackets.model import CFG, WEIGHTS_PATH, build
from micourse.toys.brackets.scorecard import scorecard

# ---- settings ----------------------------------------------------------------------------------
SEED = 0
THREADS = 1
N_TRAIN = 100_000  # strings, generated once (data.PROPORTIONS of each kind)
BATCH = 64
STEPS = 12_000
LR = 1.5e-3
WEIGHT_DECAY = 0.01
WARMUP = 200  # steps of linear warm-up, then cosine decay to zero
LOG_EVERY = 500
BUCKETS = (10, 20, 30, 40)  # each batch holds strings of one length band, cut to that band's width
COMMAND = "python -m micourse.toys.brackets.train"


def lr_at(step: int, steps: int) -> float:
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, steps - WARMUP)
    return LR * 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())


def train(
    steps: int = STEPS,
    n_train: int = N_TRAIN,
    out: Path | None = WEIGHTS_PATH,
    quiet: bool = False,
    score_n: int = 8000,
):
    """Train from scratch; write the weights to `out` (None: don't write). Returns (model, meta)."""
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()

    train_set = data.generate(n_train, seed=SEED)
    toks, labels = train_set.toks, train_set.balanced.long()
    model = build({**CFG, "seed": SEED})
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    order = torch.Generator().manual_seed(SEED)
    # Length bands: trailing pads are masked keys, so cutting them off changes no real position's
    # output; a batch of short strings then costs a fraction of a full-width one.
    lengths = torch.tensor([len(s) for s in train_set.strings])
    bands, lo = [], 0
    for hi in BUCKETS:
        bands.append((torch.nonzero((lengths > lo) & (lengths <= hi)).flatten(), hi + 2))
        lo = hi
    band_weights = torch.tensor([len(idx) for idx, _ in bands], dtype=torch.float)

    model.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps)
        members, width = bands[int(torch.multinomial(band_weights, 1, generator=order))]
        idx = members[torch.randint(0, len(members), (BATCH,), generator=order)]
        logits = model(toks[idx, :width])[:, 0]  # the [start] position
        loss = torch.nn.functional.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not quiet and (step % LOG_EVERY == 0 or step == steps - 1):
            acc = (logits.argmax(-1) == labels[idx]).float().mean().item()
            print(flush=True, end="")
            print(f"step {step:5d}  loss {loss.item():.4f}  batch acc {acc:.3f}  {time.perf_counter() - t0:6.1f} s")
    train_seconds = round(time.perf_counter() - t0, 1)

    model.eval()
    meta = {
        "train_seconds": train_seconds,
        "seed": SEED,
        "threads": THREADS,
        "steps": steps,
        "n_train": n_train,
        "batch": BATCH,
        "length_bands": list(BUCKETS),
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "proportions": data.PROPORTIONS,
        "command": COMMAND,
        "credit": "Task: Redwood Research's balanced-bracket classifier, as taught in ARENA 1.5.1; recipe: the course's.",
    }
    if out is not None:
        from micourse.standins.weights import save_standin

        # the scorecard is of the model as stored (float16 weights), so save, reload, score, save again
        save_standin(model.state_dict(), CFG, Path(out), seen=None, meta=meta)
        from micourse.toys.brackets.model import load

        meta["scorecard"] = scorecard(load(out), n=score_n)
        save_standin(model.state_dict(), CFG, Path(out), seen=None, meta=meta)
        if not quiet:
            print(f"wrote {out} ({Path(out).stat().st_size / 1e3:.0f} kB) in {train_seconds} s of training")
            for test, acc in meta["scorecard"].items():
                print(f"  {test}: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
    return model, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args(argv)
    train(args.steps, out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
