"""Models by name: the one way pages load a model.

`load_model("gpt2-small")` returns TransformerLens's real GPT-2 when the Hugging Face hub is
reachable, and the course's own stand-in (same tokenizer, same hook names, much smaller)
when it is not. Either way it prints which model ran, so a page's output is honest about
where its numbers came from.

Both worlds hand a page the same kind of model. `HookedTransformer.from_pretrained` processes
the weights (folds each LayerNorm's scale and bias into the next layer, centres the weights
that write to the residual stream and the unembedding), so the stand-in gets the same
processing offline. Pages that need the raw checkpoint, such as loading weights into a GPT-2
written from scratch, ask for `process_weights=False` (online:
`HookedTransformer.from_pretrained_no_processing`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from micourse.device import resolve
from micourse.offline import hub_endpoint, in_rehearsal, is_offline, require_hub
from micourse.standins.specs import ALIASES, STANDINS


@dataclass(frozen=True)
class ModelInfo:
    """Recorded on every loaded model as `model.micourse_info`."""

    name: str  # the name the page asked for, e.g. "gpt2-small"
    standin: bool  # True: the course's stand-in weights (offline, or served by the rehearsal hub)
    description: str
    processed: bool = True  # weights processed as `from_pretrained` does (fold_ln, centring)
    rehearsal: bool = False  # loaded through the course's local stand-in for the hub

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


@contextlib.contextmanager
def _no_progress_bars():
    """Hide transformers' "Loading weights" bars while booting (they fill a page's output), then restore them."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _processing_note(processed: bool) -> str:
    if processed:
        return "weights processed as from_pretrained does: LayerNorm folded, weights centred"
    return "raw weights, unprocessed: LayerNorm scales and biases kept"


def load_standin(
    name: str, device: str | torch.device | None = None, *, process_weights: bool = True, path: Path | None = None
):
    """The course's stand-in for `name`, whatever the network says (`path`: another weight file, e.g. a retrained one)."""
    from transformer_lens import HookedTransformer, HookedTransformerConfig
    from transformers import AutoTokenizer

    from micourse.standins.weights import WEIGHTS_DIR, load_state, read_metadata
    from micourse.tokenizer import tokenizer_dir

    _quiet_transformer_lens()
    device = resolve(device)
    spec = STANDINS[_canonical(name)]
    path = Path(path) if path is not None else WEIGHTS_DIR / spec.weights_file
    if not path.exists():
        raise FileNotFoundError(
            f"The stand-in weights {path} are missing. Rebuild them with "
            f"`python -m micourse.standins.train {spec.name}`."
        )
    trained_for = read_metadata(path)[0]
    if trained_for != spec.cfg:  # e.g. weights retrained with a wider MLP than `specs.STANDINS` describes
        diff = {k: (trained_for.get(k), spec.cfg.get(k)) for k in set(trained_for) | set(spec.cfg)}
        diff = {k: v for k, v in sorted(diff.items()) if v[0] != v[1]}
        raise ValueError(
            f"{path} was trained for another architecture than the {spec.name} stand-in's "
            f"(file vs micourse.standins.specs): {diff}. Retrain it, or update the spec."
        )
    cfg = HookedTransformerConfig(**spec.cfg, model_name=f"micourse-standin-{spec.name}", device=str(device), seed=0)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir()))
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    state = load_state(path, cfg.d_vocab)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith((".IGNORE", ".mask")) and "hook" not in k]
    if missing or unexpected:
        raise RuntimeError(f"Stand-in weights do not fit {spec.name}: missing {missing}, unexpected {unexpected}.")
    if process_weights:  # what from_pretrained does to the real model, with its defaults
        model.process_weights_(fold_ln=True, center_writing_weights=True, center_unembed=True)
    if device.type != "cpu":  # (TransformerLens prints a line for every move, even a no-op)
        model.to(device)
    model.eval()
    n_params = sum(p.numel() for k, p in model.named_parameters() if not k.startswith(("embed.", "unembed.")))
    model.micourse_info = ModelInfo(
        name=spec.name,
        standin=True,
        processed=process_weights,
        description=(
            f"{spec.name}: the course's OFFLINE STAND-IN, {spec.summary} "
            f"({cfg.n_layers} layers, d_model {cfg.d_model}, {cfg.n_heads} heads, "
            f"{n_params / 1e6:.2f}M non-embedding parameters; {_processing_note(process_weights)}). "
            f"Not the real {spec.name}: numbers on this page come from this small model."
        ),
    )
    return model


def load_pretrained(name: str, device: str | torch.device | None = None, *, process_weights: bool = True):
    """TransformerLens's pretrained model for `name`, from the Hugging Face hub (or `HF_ENDPOINT`)."""
    from transformer_lens import HookedTransformer

    _quiet_transformer_lens()
    canonical = _canonical(name)
    device = resolve(device)
    require_hub()  # a dead endpoint: a clear error now, not 23 s of retries
    loader = HookedTransformer.from_pretrained if process_weights else HookedTransformer.from_pretrained_no_processing
    model = loader(canonical, device=str(device))
    model.eval()
    rehearsal = in_rehearsal()
    if rehearsal:
        description = (
            f"{canonical}: a REHEARSAL COPY, loaded by TransformerLens's from_pretrained from the course's "
            f"local stand-in for the hub ({hub_endpoint()}), which serves "
            f"{os.environ.get('MICOURSE_REHEARSAL_WEIGHTS') or 'the course stand-in weights'} "
            f"under the real repository names ({_processing_note(process_weights)}). Not the real model."
        )
    else:
        description = (
            f"{canonical}: the real pretrained model, loaded by TransformerLens from the Hugging Face hub "
            f"({_processing_note(process_weights)})."
        )
    model.micourse_info = ModelInfo(
        name=canonical, standin=rehearsal, processed=process_weights, rehearsal=rehearsal, description=description
    )
    return model


def load_model(
    name: str, device: str | torch.device | None = None, *, process_weights: bool = True, verbose: bool = True
):
    """A TransformerLens `HookedTransformer` for `name`: the real one online, the stand-in offline.

    `process_weights=False` gives the raw checkpoint (LayerNorm weights kept, nothing centred),
    which is what a from-scratch GPT-2 needs to load; the default matches
    `HookedTransformer.from_pretrained`. `device`: default `micourse.device.default_device()`.
    Set `MICOURSE_OFFLINE=1` to force the stand-in, `MICOURSE_OFFLINE=0` to force the hub.
    """
    _canonical(name)  # a bad name fails before any network or disk access
    if not isinstance(process_weights, bool):
        raise TypeError(f"process_weights must be True or False, not {process_weights!r}.")
    if is_offline():
        model = load_standin(name, device, process_weights=process_weights)
    else:
        model = load_pretrained(name, device, process_weights=process_weights)
    if verbose:
        print(f"Loaded {model.micourse_info}")
    return model


def load_reference(name: str = "gpt2-small", device: str | torch.device | None = None, *, verbose: bool = True):
    """The course's reference `GPT2` (`micourse.transformer`) holding model `name`'s raw weights.

    It is loaded unprocessed: the reference GPT-2 has real LayerNorms with scales and biases,
    which `from_pretrained`'s processing would have folded away.
    """
    from micourse.transformer.loading import from_hooked_transformer

    hooked = load_model(name, device, process_weights=False, verbose=verbose)
    model = from_hooked_transformer(hooked)
    model.micourse_info = hooked.micourse_info
    return model


def load_bridge(name: str = "gpt2-small", device: str | torch.device | None = None, *, verbose: bool = True):
    """TransformerLens's newer `TransformerBridge` around the Hugging Face model for `name`.

    The bridge wraps the Hugging Face implementation itself instead of re-implementing it (the
    line TransformerLens 4.x keeps). Online it boots the real checkpoint; offline it boots the
    stand-in saved in the Hugging Face format (`micourse.hf_export`), so the same code runs in both.
    Only models with a Hugging Face architecture have a bridge: `attn-only-2l` has none.
    """
    from transformer_lens.model_bridge import TransformerBridge

    from micourse.hf_export import HF_REPOS, standin_hf_folder

    canonical = _canonical(name)
    if canonical != "gpt2-small":
        raise ValueError(
            f"{canonical} is a TransformerLens-native model with no Hugging Face architecture, so it has no "
            "TransformerBridge; load it with load_model."
        )
    device = resolve(device)
    _quiet_transformer_lens()
    if is_offline():
        with _no_progress_bars():
            bridge = TransformerBridge.boot_transformers(str(standin_hf_folder(canonical)), device=str(device))
        info = ModelInfo(
            name=canonical,
            standin=True,
            processed=False,
            description=(
                f"{canonical} as a TransformerBridge: the course's OFFLINE STAND-IN ({STANDINS[canonical].summary}) "
                "saved in the Hugging Face GPT-2 format. Not the real model."
            ),
        )
    else:
        require_hub()
        with _no_progress_bars():
            bridge = TransformerBridge.boot_transformers(HF_REPOS[canonical], device=str(device))
        rehearsal = in_rehearsal()
        info = ModelInfo(
            name=canonical,
            standin=rehearsal,
            processed=False,
            rehearsal=rehearsal,
            description=(
                f"{canonical} as a TransformerBridge, booted from "
                + (
                    f"the course's local stand-in for the hub ({hub_endpoint()}): a REHEARSAL COPY holding the stand-in's weights."
                    if rehearsal
                    else "the Hugging Face hub: the real pretrained model."
                )
            ),
        )
    bridge.eval()
    bridge.micourse_info = info
    if verbose:
        print(f"Loaded {info}")
    return bridge


def describe(model) -> str:
    """Which model this is, in a sentence; pages print it next to results."""
    info = getattr(model, "micourse_info", None)
    if info is None:
        return f"{getattr(model.cfg, 'model_name', type(model).__name__)} (not loaded through micourse.load_model)"
    return str(info)
