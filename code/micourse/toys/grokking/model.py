"""The grokking model: Nanda et al.'s one-layer transformer for (a + b) mod p.

`CFG` holds the `HookedTransformerConfig` keyword arguments (the course's model registry reads
it); `cfg_for(p)` is the same architecture for another modulus (the pages' live run uses a small p).
No LayerNorm, so the weights can be read directly; ReLU, so neurons are on or off.
"""

from __future__ import annotations

from pathlib import Path

import torch

from micourse import registry
from micourse.toys.grokking.data import P

WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "weights" / "grokking.safetensors"
CHECKPOINTS_PATH = WEIGHTS_PATH.with_name("grokking-checkpoints.safetensors")


def cfg_for(p: int, seed: int = 999) -> dict:
    """The architecture for modulus `p`: tokens 0..p-1 are numbers, token p is "="."""
    if not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, not {p!r}.")
    return {
        "n_layers": 1,
        "d_model": 128,
        "n_heads": 4,
        "d_head": 32,
        "d_mlp": 512,
        "act_fn": "relu",
        "normalization_type": None,
        "d_vocab": p + 1,
        "d_vocab_out": p,
        "n_ctx": 3,
        "attn_only": False,
        "seed": seed,
        "default_prepend_bos": False,
        "device": "cpu",
    }


CFG: dict = registry.get("grokking").cfg  # declared once, in micourse.registry
if CFG != cfg_for(P):
    raise ValueError(f"micourse.registry's grokking entry is not the architecture for p = {P}: {CFG}")


def build(cfg: dict | None = None, device: str | torch.device | None = None):
    """A freshly initialised `HookedTransformer` with config `cfg` (default `CFG`)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    cfg = dict(CFG if cfg is None else cfg)
    if device is not None:
        cfg["device"] = str(device)
    return HookedTransformer(HookedTransformerConfig(**cfg))


def load(path: str | Path | None = None, device: str | torch.device | None = None):
    """The trained model from a weights file written by `micourse.toys.grokking.train`.

    The config is read from the file (so a small-p run loads too); weights are stored in float16
    and come back as float32. `model.micourse_meta` holds the run's metadata (scorecard, curves).
    """
    from micourse.standins.weights import load_state, read_metadata

    path = Path(WEIGHTS_PATH if path is None else path)
    if not path.exists():
        raise FileNotFoundError(
            f"No grokking weights at {path}. Train them with `python -m micourse.toys.grokking.train`."
        )
    cfg, meta = read_metadata(path)
    model = build(cfg, device)
    state = load_state(path, cfg["d_vocab"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    real_missing = [k for k in missing if not k.endswith((".IGNORE", ".mask"))]
    if real_missing or unexpected:
        raise ValueError(f"{path} does not match the grokking config: missing {real_missing}, extra {unexpected}.")
    model.eval()
    model.micourse_meta = meta
    model.micourse_info = f"grokking (p = {cfg['d_vocab_out']}), trained by the course: {path.name}"
    return model


def load_checkpoints(path: str | Path | None = None) -> dict:
    """The training run's checkpoints file: progress measures, loss curves and float16 snapshots.

    Returns a dict with `cfg`, `meta` (snapshot steps, key frequencies, the command), `measures`
    (`step`, `train_loss`, `test_loss`, `test_accuracy`, `excluded_loss_train`,
    `restricted_loss_test`, `weight_norm_sq`, `embed_freq_norms`: one entry per measured step),
    `curves` (the training loss at every step, the held-out loss every `test_every` steps) and
    `snapshots` ({step: state dict}, float32).
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(CHECKPOINTS_PATH if path is None else path)
    if not path.exists():
        raise FileNotFoundError(
            f"No grokking checkpoints at {path}. Train them with `python -m micourse.toys.grokking.train`."
        )
    with safe_open(str(path), framework="pt") as f:
        md = f.metadata()
    raw = load_file(str(path))
    out: dict = {"cfg": json.loads(md["cfg"]), "meta": json.loads(md["meta"]), "measures": {}, "curves": {}}
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in raw.items():
        kind, _, rest = key.partition(".")
        if kind == "measure":
            out["measures"][rest] = value
        elif kind == "curve":
            out["curves"][rest] = value
        elif kind == "snapshot":
            step, _, name = rest.partition(".")
            snapshots.setdefault(int(step), {})[name] = value.float()
    out["snapshots"] = dict(sorted(snapshots.items()))
    return out


def model_at(checkpoints: dict, step: int, device: str | torch.device | None = None):
    """The model as it was at `step` (one of `checkpoints['snapshots']`)."""
    if step not in checkpoints["snapshots"]:
        raise KeyError(f"No snapshot at step {step}; the stored steps are {list(checkpoints['snapshots'])}.")
    model = build(checkpoints["cfg"], device)
    model.load_state_dict(checkpoints["snapshots"][step], strict=False)
    model.eval()
    return model
