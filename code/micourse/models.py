"""Models by name: the one way pages load a model.

`load_model("gpt2-small")` returns TransformerLens's real GPT-2 when the Hugging Face hub is
reachable, and the course's own stand-in (same tokenizer, same hook names, much smaller)
when it is not. Either way it prints which model ran, so a page's output is honest about
where its numbers came from.
"""

from __future__ import annotations

from pathlib import Path

import warnings
from dataclasses import dataclass

import torch

from micourse.offline import is_offline
from micourse.standins.specs import ALIASES, STANDINS


@dataclass(frozen=True)
class ModelInfo:
    """Recorded on every loaded model as `model.micourse_info` (and in `model.cfg.model_name`)."""

    name: str  # the name the page asked for, e.g. "gpt2-small"
    standin: bool  # True: the course's offline stand-in; False: the real pretrained model
    description: str

    def __str__(self) -> str:
        return self.description


class UnknownModelError(ValueError):
    pass


def known_models() -> list[str]:
    return sorted(STANDINS)


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"load_model takes a model name (a string), not {type(name).__name__}.")
    if name not in ALIASES:
        raise UnknownModelError(
            f"Unknown model name {name!r}. The course knows: {', '.join(known_models())}. "
            "(Names follow TransformerLens, e.g. 'gpt2-small'.)"
        )
    return ALIASES[name]


def _quiet_transformer_lens():
    warnings.filterwarnings("ignore", message=".*HookedTransformer.*deprecated.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="transformer_lens")


def load_standin(name: str, device: str | torch.device = "cpu", path: Path | None = None):
    """The course's stand-in for `name`, whatever the network says (`path`: another weight file, e.g. a retrained one)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformers import AutoTokenizer

    from micourse.standins.weights import WEIGHTS_DIR, load_state
    from micourse.tokenizer import tokenizer_dir

    _quiet_transformer_lens()
    spec = STANDINS[_canonical(name)]
    path = Path(path) if path is not None else WEIGHTS_DIR / spec.weights_file
    if not path.exists():
        raise FileNotFoundError(
            f"The stand-in weights {path} are missing. Rebuild them with "
            f"`python -m micourse.standins.train {spec.name}`."
        )
    cfg = HookedTransformerConfig(**spec.cfg, model_name=f"micourse-standin-{spec.name}", device=str(device), seed=0)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    state = load_state(path, cfg.d_vocab)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith((".IGNORE", ".mask")) and "hook" not in k]
    if missing or unexpected:
        raise RuntimeError(f"Stand-in weights do not fit {spec.name}: missing {missing}, unexpected {unexpected}.")
    if str(device) != "cpu":  # (TransformerLens prints a line for every move, even a no-op)
        model.to(device)
    model.eval()
    n_params = sum(p.numel() for k, p in model.named_parameters() if not k.startswith(("embed.", "unembed.")))
    model.micourse_info = ModelInfo(
        name=spec.name,
        standin=True,
        description=(
            f"{spec.name}: the course's OFFLINE STAND-IN, {spec.summary} "
            f"({cfg.n_layers} layers, d_model {cfg.d_model}, {cfg.n_heads} heads, "
            f"{n_params / 1e6:.2f}M non-embedding parameters). Not the real {spec.name}: "
            "numbers on this page come from this small model."
        ),
    )
    return model


def load_pretrained(name: str, device: str | torch.device = "cpu"):
    """TransformerLens's real pretrained model for `name` (needs the Hugging Face hub)."""
    from transformer_lens import HookedTransformer

    _quiet_transformer_lens()
    canonical = _canonical(name)
    model = HookedTransformer.from_pretrained(canonical, device=str(device))
    model.eval()
    model.micourse_info = ModelInfo(
        name=canonical,
        standin=False,
        description=f"{canonical}: the real pretrained model, loaded by TransformerLens from the Hugging Face hub.",
    )
    return model


def load_model(name: str, device: str | torch.device = "cpu", *, verbose: bool = True):
    """A TransformerLens `HookedTransformer` for `name`: the real one online, the stand-in offline.

    Set `MICOURSE_OFFLINE=1` to force the stand-in, `MICOURSE_OFFLINE=0` to force the hub.
    """
    _canonical(name)  # a bad name fails before any network or disk access
    model = load_standin(name, device) if is_offline() else load_pretrained(name, device)
    if verbose:
        print(f"Loaded {model.micourse_info}")
    return model


def describe(model) -> str:
    """Which model this is, in a sentence; pages print it next to results."""
    info = getattr(model, "micourse_info", None)
    if info is None:
        return f"{getattr(model.cfg, 'model_name', type(model).__name__)} (not loaded through micourse.load_model)"
    return str(info)
