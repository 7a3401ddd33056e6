"""The recipe that trained the course's bracket classifier. Run it with

    flock /tmp/micourse-train.lock python -m micourse.toys.brackets.train

It reads top to bottom: settings, data, one loop (run once per phase), a scorecard, the weights
file. Two phases: the first learns the task on the generator's default mix of an earlier version
(half balanced), the second, with a fresh optimiser and a lower learning rate, puts more weight on
the hardest failure (a single dip below zero). Between phases the weights are rounded to float16,
exactly as the weights file stores them, so `--first-phase FILE` (start from a saved first phase)
gives the same bytes as a run from scratch, and a run can be resumed without retraining phase 1.

One thread and `torch.use_deterministic_algorithms(True)`: running the command twice on the same
machine kind gives the same tensors and the same metadata, except `train_seconds` (a measurement).
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
from micourse.training import keeps_torch_switches

# ---- settings ----------------------------------------------------------------------------------
SEED = 0
THREADS = 1
N_TRAIN = 100_000  # strings per phase, generated once per phase
WEIGHT_DECAY = 0.01
WARMUP = 200  # steps of linear warm-up, then cosine decay to zero, in each phase
BUCKETS = (10, 20, 30, 40)  # each batch holds strings of one length band, cut to that band's width
LOG_EVERY = 500
PHASES: list[dict] = [
    {"steps": 4_000, "batch": 128, "lr": 2e-3, "data_seed": 0,
     "proportions": {"balanced": 0.5, "total": 0.2, "negative": 0.2, "both": 0.1}},
    {"steps": 16_000, "batch": 64, "lr": 1e-3, "data_seed": 1, "proportions": dict(data.PROPORTIONS)},
]  # fmt: skip
COMMAND = "python -m micourse.toys.brackets.train"


def lr_at(step: int, steps: int, lr: float) -> float:
    if step < WARMUP:
        return lr * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, steps - WARMUP)
    return lr * 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item())


def length_bands(strings: list[str]) -> tuple[list[tuple[torch.Tensor, int]], torch.Tensor]:
    """Indices of the strings in each length band, with the band's token width, and the bands' sizes.

    Trailing pads are masked keys, so cutting them off changes no real position's output; a batch
    of short strings then costs a fraction of a full-width one.
    """
    lengths = torch.tensor([len(s) for s in strings])
    bands, lo = [], 0
    for hi in BUCKETS:
        bands.append((torch.nonzero((lengths > lo) & (lengths <= hi)).flatten(), hi + 2))
        lo = hi
    return bands, torch.tensor([len(idx) for idx, _ in bands], dtype=torch.float)


def run_phase(model, phase: dict, n_train: int, quiet: bool, t0: float) -> None:
    """One phase: fresh data and optimiser, `phase["steps"]` steps of AdamW on the [start] logits."""
    train_set = data.generate(n_train, seed=phase["data_seed"], proportions=phase["proportions"])
    toks, labels = train_set.toks, train_set.balanced.long()
    bands, band_weights = length_bands(train_set.strings)
    opt = torch.optim.AdamW(model.parameters(), lr=phase["lr"], weight_decay=WEIGHT_DECAY)
    order = torch.Generator().manual_seed(SEED + phase["data_seed"])
    model.train()
    for step in range(phase["steps"]):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, phase["steps"], phase["lr"])
        members, width = bands[int(torch.multinomial(band_weights, 1, generator=order))]
        idx = members[torch.randint(0, len(members), (phase["batch"],), generator=order)]
        logits = model(toks[idx, :width])[:, 0]  # the [start] position
        loss = torch.nn.functional.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not quiet and (step % LOG_EVERY == 0 or step == phase["steps"] - 1):
            acc = (logits.argmax(-1) == labels[idx]).float().mean().item()
            print(
                f"step {step:5d}  loss {loss.item():.4f}  batch acc {acc:.3f}  {time.perf_counter() - t0:6.1f} s",
                flush=True,
            )
    model.eval()
    with torch.no_grad():  # round to what a weights file stores, so a saved phase resumes bit for bit
        for p in model.parameters():
            p.copy_(p.half().float())


@keeps_torch_switches
def train(
    phases: list[dict] | None = None,
    n_train: int = N_TRAIN,
    out: Path | None = WEIGHTS_PATH,
    quiet: bool = False,
    score_n: int = 8000,
    first_phase: Path | None = None,
):
    """Train (all phases, or the later ones from a saved first phase); write `out`. Returns (model, meta)."""
    phases = PHASES if phases is None else phases
    torch.set_num_threads(THREADS)
    torch.set_grad_enabled(True)  # a page or test may have switched gradients off
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    t0 = time.perf_counter()
    model = build({**CFG, "seed": SEED})
    todo = phases
    if first_phase is not None:
        from micourse.standins.weights import load_state, read_metadata

        _, saved = read_metadata(Path(first_phase))
        want = {k: phases[0][k] for k in ("steps", "batch", "lr", "proportions")}
        # a file written with --first-phase-only records its one phase; the older flat layout has the keys at the top
        record = saved["phases"][0] if len(saved.get("phases", [])) == 1 else saved
        got = {k: record.get(k) for k in want}
        if got != want or saved.get("seed") != SEED or saved.get("n_train") != n_train:
            raise ValueError(f"{first_phase} is not this recipe's first phase: it has {got}, the recipe says {want}.")
        model.load_state_dict(load_state(Path(first_phase), CFG["d_vocab"]), strict=False)
        todo = phases[1:]
    for phase in todo:
        if not quiet:
            print(f"phase {phases.index(phase) + 1}: {phase}", flush=True)
        run_phase(model, phase, n_train, quiet, t0)
    train_seconds = round(time.perf_counter() - t0, 1)

    meta = {
        "train_seconds": train_seconds,
        "seed": SEED,
        "threads": THREADS,
        "steps": sum(p["steps"] for p in phases),
        "phases": phases,
        "resumed_from_first_phase": first_phase is not None,
        "n_train": n_train,
        "weight_decay": WEIGHT_DECAY,
        "length_bands": list(BUCKETS),
        "command": COMMAND,
        "credit": "Task: Redwood Research's balanced-bracket classifier, as taught in ARENA 1.5.1; recipe: the course's.",
    }
    if out is not None:
        from micourse.standins.weights import save_standin
        from micourse.toys.brackets.model import load

        # the scorecard is of the model as stored (float16 weights): save, reload, score, save again
        save_standin(model.state_dict(), CFG, Path(out), seen=None, meta=meta)
        meta["scorecard"] = scorecard(load(out), n=score_n)
        save_standin(model.state_dict(), CFG, Path(out), seen=None, meta=meta)
        if not quiet:
            print(f"wrote {out} ({Path(out).stat().st_size / 1e3:.0f} kB) in {train_seconds} s of training")
            for test, acc in meta["scorecard"].items():
                print(f"  {test}: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
    return model, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--first-phase", type=Path, default=None, help="a saved first phase to resume from")
    parser.add_argument("--first-phase-only", action="store_true", help="train phase 1 only (to save it)")
    args = parser.parse_args(argv)
    train(PHASES[:1] if args.first_phase_only else None, out=args.out, first_phase=args.first_phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
